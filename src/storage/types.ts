// The storage contract: one format-neutral save transaction, the shape of
// Dovecot's lib-storage (begin → write → commit | rollback). Nothing is visible
// in the mailbox before commit(); rollback() leaves no trace. Every failure is
// a MailboxError (src/storage/errors.ts).

import type { MessageSource } from '../message/types.js';
import type { SmtpAddress } from '../message/smtp-address.js';
import type { NamespaceConfig, MailFsync } from '../config/types.js';

/** The user whose mail is stored; the process already runs with their uid/gid. */
export interface StorageUser {
  username: string;
  /** home directory; "" when the user has none */
  home: string;
  uid: number;
  gid: number;
}

/** How mbox files are locked (the mbox_* and dotlock settings, mail_privileged_group). */
export interface MboxOptions {
  writeLocks: string;
  readLocks: string;
  lockTimeoutSeconds: number;
  dotlockChangeTimeoutSeconds: number;
  /** 0 = no cap */
  maxLockTimeoutSeconds: number;
  dotlockUseExcl: boolean;
  /** runs a few synchronous syscalls with mail_privileged_group as effective gid; undefined = no such group */
  withPrivilegedGroup?: <T>(fn: () => T) => T;
}

export interface StorageOptions {
  /** the user's mail_location after %-variable expansion ("" = autodetect); `~` is still unexpanded */
  mailLocation: string;
  user: StorageUser;
  namespaces: NamespaceConfig[];
  mailFsync: MailFsync;
  /** hostname for Maildir file names and dotlocks (gethostname, or $DOVECOT_HOSTNAME) */
  hostname: string;
  mbox: MboxOptions;
  /** aborted when the delivery is being killed: a save in progress stops and rolls back */
  signal?: AbortSignal;
}

export interface OpenMailboxOptions {
  /** create the mailbox when missing (lda_mailbox_autocreate); INBOX is always created */
  autocreate: boolean;
  /** subscribe to it when this open created it (lda_mailbox_autosubscribe) */
  autosubscribe: boolean;
}

export interface SavedMail {
  /** the mailbox name as the user sees it, e.g. "INBOX" or "INBOX/work" */
  mailbox: string;
  /** where the message landed on disk */
  path: string;
  size: number;
  vsize: number;
}

export interface SaveTransaction {
  /** writes the whole message; may be called once */
  write(message: MessageSource): Promise<void>;
  /** makes the message visible (Maildir: fsync, rename tmp/ → new/) */
  commit(): Promise<SavedMail>;
  /** throws away whatever was written; never throws */
  rollback(): Promise<void>;
}

export interface BeginSaveOptions {
  /** the From_ line's date (Maildir: the file's mtime; mbox: the From_ line); default now */
  receivedDate?: Date;
  /** for the mbox From_ line: undefined = none known, null = the null sender */
  envelopeSender?: SmtpAddress | null;
  /**
   * IMAP flags to store with the message: system flags ("\\Seen", "\\Answered", "\\Flagged", "\\Deleted",
   * "\\Draft") and keywords ("$Label1", "Junk"). Invalid names, unknown backslash flags and "\\Recent" are
   * dropped, as Dovecot drops them (src/storage/flags.ts).
   */
  flags?: readonly string[];
}

export interface Mailbox {
  /** the name as the user sees it (namespace prefix included) */
  readonly name: string;
  beginSave(options: BeginSaveOptions): Promise<SaveTransaction>;
}

export interface MailStorage {
  /** resolves a mailbox name (namespace prefix, separator, INBOX in any case) and opens it */
  openMailbox(name: string, options: OpenMailboxOptions): Promise<Mailbox>;
  /** whether the named mailbox exists and can take mail, without creating anything; false for an invalid name */
  mailboxExists(name: string): boolean;
}
