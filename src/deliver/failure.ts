// Failure kinds of a delivery. Every stage throws a DeliveryFailure (or lets an
// unexpected error escape, which counts as temporary); only src/cli/ and src/lmtp/ turn a
// kind into an exit code or an LMTP reply, in one table (src/deliver/outcomes.ts).

/** Why a delivery did not happen. */
export type FailureKind =
  /** bad command line or an unusable address on it: EX_USAGE, bounces */
  | 'usage'
  /** the userdb answered that the user does not exist: EX_NOUSER, bounces */
  | 'no-such-user'
  /** the mailbox is over quota (EDQUOT or, later, Maildir++ quota) */
  | 'over-quota'
  /** refused at protocol level (Sieve ereject in LMTP): 550 5.7.1, bounces */
  | 'rejected'
  /** anything that may work later; Postfix defers and retries */
  | 'temporary';

export class DeliveryFailure extends Error {
  constructor(
    readonly kind: FailureKind,
    message: string,
  ) {
    super(message);
    this.name = 'DeliveryFailure';
  }
}

/** Shorthand for the most common failure: `throw temporary('...')`. */
export function temporary(message: string): DeliveryFailure {
  return new DeliveryFailure('temporary', message);
}
