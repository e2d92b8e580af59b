// Errors from the storage layer. The delivery pipeline decides from the kind
// whether to fall back to INBOX (any kind but 'temporary') and what failure
// kind the delivery gets ('over-quota' stays over-quota, the rest temporary).

export type MailboxErrorKind =
  /** the mailbox does not exist and may not be created */
  | 'not-found'
  /** the name is not valid for this namespace/layout (.., bad separator, not UTF-8, ...) */
  | 'invalid-name'
  /** the user may not write there (EACCES, EPERM) */
  | 'no-permission'
  /** EDQUOT or a quota limit */
  | 'over-quota'
  /** anything else: I/O error, ENOSPC, lock timeout, ... never falls back */
  | 'temporary';

export class MailboxError extends Error {
  constructor(
    readonly kind: MailboxErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'MailboxError';
  }
}
