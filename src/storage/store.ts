// The seam between format-neutral name handling (src/storage/index.ts) and a
// storage format (maildir/, later mbox/): a store opens an already resolved
// and checked mailbox name of one namespace. Types only.

import type { NamespaceView, ResolvedMailboxName } from './mailbox-name.js';
import type { Mailbox, OpenMailboxOptions } from './types.js';

export interface MailboxStore {
  /**
   * Opens (and when allowed creates) the mailbox; `requestedName` is the name
   * as the caller gave it, which becomes Mailbox.name. Throws MailboxError.
   */
  openMailbox(target: ResolvedMailboxName<NamespaceView>, requestedName: string, options: OpenMailboxOptions): Promise<Mailbox>;
  /** whether the mailbox exists and can take mail (Sieve's mailboxexists); INBOX always can */
  mailboxExists(target: ResolvedMailboxName<NamespaceView>): boolean;
}
