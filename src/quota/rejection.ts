// What dovecot-lda does instead of storing when a message is over quota
// without -e or quota_full_tempfail (lda/main.c, lib-lda/mail-send.c),
// measured against 2.3.19: it logs "rejected: REASON", then mails Dovecot's
// rejection (src/sieve/outgoing/reject.ts, as a delivery status with
// Status: 5.2.2) from <> to the return path through sendmail_path; a null
// return path or an Auto-Submitted message gets none ("Return-Path missing,
// rejection reason: REASON" / "Auto-submitted message discarded: REASON")
// and the message is dropped all the same. A rejection that cannot be sent
// throws a temporary DeliveryFailure (exit 75): Postfix retries.
// Loaded only when a rejection is due; it shares the rejection composer with
// Sieve's reject, so it belongs with the Sieve code in the build.

import { hostname as systemHostname } from 'node:os';
import type { Settings } from '../config/types.js';
import { composeRejection, rejectionSkipReason } from '../sieve/outgoing/reject.js';
import { formatDovecotMessageId } from '../sieve/outgoing/mail-format.js';
import { formatMessageDate } from '../message/dates.js';
import { formatAddress } from '../message/smtp-address.js';
import { returnPathOf, type Envelope } from '../deliver/envelope.js';
import { postmasterAddress } from '../deliver/sieve-messages.js';
import { sendMail } from '../deliver/sendmail.js';
import { temporary } from '../deliver/failure.js';

export interface QuotaRejection {
  settings: Settings;
  username: string;
  home: string;
  hostname: string;
  header: Buffer;
  envelope: Envelope;
  /** the over-quota failure's text (quota_exceeded_message) */
  reason: string;
  sendmailPath: string;
  now: Date;
  /** the delivery log (deliver_log_format) */
  log(text: string): void;
}

/** Mails the over-quota rejection (or logs why none goes out); throws a temporary DeliveryFailure when it cannot be sent. */
export async function mailQuotaRejection(rejection: QuotaRejection): Promise<void> {
  const { header, reason, log } = rejection;
  log(`rejected: ${reason}`);
  const returnPath = returnPathOf(rejection.envelope.sender, header);
  const skip = rejectionSkipReason(header, returnPath);
  if (skip === 'null-sender') return log(`Return-Path missing, rejection reason: ${reason}`);
  if (skip === 'auto-submitted') return log(`Auto-submitted message discarded: ${reason}`);
  const subjectTemplate = rejection.settings.raw.get('rejection_subject');
  const reasonTemplate = rejection.settings.raw.get('rejection_reason');
  const mail = composeRejection({
    header,
    returnPath,
    recipient: formatAddress(rejection.envelope.originalRecipient),
    reason,
    postmaster: postmasterAddress({
      postmasterAddress: rejection.settings.postmaster_address,
      username: rejection.username,
      home: rejection.home,
      hostname: rejection.hostname,
    }),
    hostname: rejection.hostname,
    pid: process.pid,
    messageId: formatDovecotMessageId('dovecot', rejection.now.getTime() * 1000, 0, systemHostname()),
    date: formatMessageDate(rejection.now),
    deliveryStatus: { status: '5.2.2' },
    ...(subjectTemplate !== undefined && { subjectTemplate }),
    ...(reasonTemplate !== undefined && { reasonTemplate }),
  });
  try {
    await sendMail({ sendmailPath: rejection.sendmailPath, sender: '', recipients: [mail.recipient], message: mail.message });
  } catch (error) {
    throw temporary(`Failed to send rejection to <${returnPath}>: ${(error as Error).message}`);
  }
}
