// The delivery core shared by the LDA and (later) LMTP: save one message into
// the default mailbox, falling back to INBOX as dovecot-lda does
// (lib-lda/mail-deliver.c): any failure except a temporary one, when the
// default mailbox is not INBOX, is retried once with INBOX; a temporary
// failure stops at once, so it never turns into a delivery elsewhere.
// With a quota guard, every save (the default mailbox, INBOX, Sieve's
// fileinto and keep) is checked before it is written and counted once it is
// committed; its commit holds the guard's lock on the Maildir root until it
// is counted (or has failed), so Sieve's saves, committed one after another,
// each take and release it in turn.

import type { MessageSource } from '../message/types.js';
import type { SmtpAddress } from '../message/smtp-address.js';
import type { MailStorage, SavedMail } from '../storage/types.js';
import { MailboxError } from '../storage/errors.js';
import type { QuotaGuard } from '../quota/enforce.js';
import { DeliveryFailure } from './failure.js';
import { sanitizeForLog } from '../log/sanitize.js';

export interface DeliveryRequest {
  storage: MailStorage;
  message: MessageSource;
  /** the envelope sender, for an mbox From_ line (undefined: none known; null: <>) */
  envelopeSender: SmtpAddress | null | undefined;
  /** the -m mailbox, "INBOX" by default */
  mailbox: string;
  /** lda_mailbox_autocreate */
  autocreate: boolean;
  /** lda_mailbox_autosubscribe */
  autosubscribe: boolean;
  /** called with each deliver_log_format %$ text: "saved mail to INBOX", "save failed to X: reason" */
  log: (text: string) => void;
  /** the user's Maildir++ quota; undefined when they have none */
  quota?: QuotaGuard;
}

const LOGGED_NAME_LENGTH = 80;

/** A message written into a mailbox but not yet visible there: commit() shows it, rollback() removes it. */
export interface StagedSave {
  /** the mailbox name as opened */
  readonly mailbox: string;
  commit(): Promise<SavedMail>;
  rollback(): Promise<void>;
}

/**
 * Opens the mailbox and writes the message into it without making it
 * visible; a failure is logged ("save failed to X: reason") and thrown.
 */
export async function stageSave(request: DeliveryRequest, name: string, flags?: readonly string[]): Promise<StagedSave> {
  const shownName = sanitizeForLog(name, LOGGED_NAME_LENGTH);
  let mailbox;
  try {
    mailbox = await request.storage.openMailbox(name, {
      autocreate: request.autocreate,
      autosubscribe: request.autosubscribe,
    });
  } catch (error) {
    if (error instanceof MailboxError) request.log(`save failed to open mailbox ${shownName}: ${error.message}`);
    throw error;
  }
  try {
    await request.quota?.check(name, request.message.size);
  } catch (error) {
    if (error instanceof MailboxError) request.log(`save failed to ${shownName}: ${error.message}`);
    throw error;
  }
  const transaction = await mailbox.beginSave({
    receivedDate: request.message.receivedDate,
    envelopeSender: request.envelopeSender,
    ...(flags !== undefined && flags.length > 0 && { flags }),
  });
  const failed = async (error: unknown) => {
    await transaction.rollback();
    if (error instanceof MailboxError) request.log(`save failed to ${shownName}: ${error.message}`);
    return error;
  };
  try {
    await transaction.write(request.message);
  } catch (error) {
    throw await failed(error);
  }
  return {
    mailbox: name,
    commit: async () => {
      // the Maildir root's lock, from just before the message shows until its maildirsize line is written
      await request.quota?.beforeCommit();
      try {
        let saved: SavedMail;
        try {
          saved = await transaction.commit();
        } catch (error) {
          throw await failed(error);
        }
        await request.quota?.record(name, saved.size);
        return saved;
      } finally {
        // record() has released it already; a failed commit has not
        await request.quota?.release();
      }
    },
    rollback: () => transaction.rollback(),
  };
}

async function saveToMailbox(request: DeliveryRequest, name: string): Promise<SavedMail> {
  const saved = await (await stageSave(request, name)).commit();
  request.log(`saved mail to ${sanitizeForLog(saved.mailbox, LOGGED_NAME_LENGTH)}`);
  return saved;
}

export function isInbox(name: string): boolean {
  return name.toUpperCase() === 'INBOX';
}

/** Saves the message; throws DeliveryFailure ('over-quota' or 'temporary'). */
export async function deliverMessage(request: DeliveryRequest): Promise<SavedMail> {
  try {
    return await saveToMailbox(request, request.mailbox);
  } catch (error) {
    if (!(error instanceof MailboxError) || error.kind === 'temporary' || isInbox(request.mailbox)) {
      throw asDeliveryFailure(error);
    }
  }
  try {
    return await saveToMailbox(request, 'INBOX');
  } catch (error) {
    throw asDeliveryFailure(error);
  }
}

/** A storage error keeps its reason (over quota stays over quota); anything unexpected is temporary. */
export function asDeliveryFailure(error: unknown): DeliveryFailure {
  if (error instanceof DeliveryFailure) return error;
  if (error instanceof MailboxError) {
    return new DeliveryFailure(error.kind === 'over-quota' ? 'over-quota' : 'temporary', error.message);
  }
  return new DeliveryFailure('temporary', `Internal error: ${(error as Error)?.message ?? String(error)}`);
}
