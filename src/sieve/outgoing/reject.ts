// The rejection that Sieve's reject (RFC 5429) sends from dovecot-lda: in
// the LDA, Pigeonhole 0.5.19 hands the reject to Dovecot 2.3.19's own
// mail_send_rejection() (lib-lda/mail-send.c), so this is Dovecot's MDN, byte
// for byte (fixtures captured from it in test/fixtures/sieve/outgoing/). Pure:
// the host sends it with src/deliver/sendmail.ts.
//
// What dovecot-lda 2.3.19 + Pigeonhole 0.5.19 do, measured:
// - envelope `-f <> -- RETURN-PATH`; the return path is the envelope sender,
//   else the message's Return-Path field (so -f "<>" with a Return-Path field
//   still rejects to it).
// - not sent, and the message is discarded (nothing stored, exit 0):
//   null return path → "reject action: not sending reject message to <>";
//   an Auto-Submitted field (the first) whose value is not "no" (any case;
//   "no " with a trailing blank, "" and "no (x)" count as auto-submitted) →
//   "Auto-submitted message discarded: <reason>" (rejectionSkipReason).
// - `-e` changes nothing: the rejection is still mailed, exit 0.
// - the message, CRLF line ends except the quoted original header (LF):
//     Message-ID: <dovecot-SEC-USEC-N@SYSTEM-HOST>
//     Date: Mon, 30 Nov 2026 22:05:29 +0000          (local time)
//     From: Postmaster <postmaster@example.org>      (postmaster_address;
//           display name "Postmaster" when it has none, a comment as name,
//           quoted when not all atext: "Mail Admin", "Mail.Admin"; 8-bit raw)
//     To: <RETURN-PATH>
//     MIME-Version: 1.0
//     Content-Type: multipart/report; report-type=disposition-notification;
//     <TAB>boundary="PID/HOSTNAME"                    (hostname setting)
//     Subject: rejection_subject ("Rejected: %s")     (%s = first Subject,
//           raw, cut to 80 bytes as str_sanitize does: control characters,
//           folding line breaks and invalid UTF-8 become '?', "..." at the cut)
//     Auto-Submitted: auto-replied (rejected)
//     Precedence: bulk
//   then "This is a MIME-encapsulated message"; part 1 text/plain utf-8 8bit,
//   inline: rejection_reason ("Your message to <%t> was automatically
//   rejected:%n%r") — %t is the ORIGINAL recipient (-a), the reason bytes
//   verbatim; part 2 message/disposition-notification:
//     Reporting-UA: HOSTNAME; Dovecot Mail Delivery Agent
//     Original-Recipient: rfc822; <the message's Original-Recipient field,
//           raw, so "rfc822; rfc822;x@y" when it has one; else no line>
//     Final-Recipient: rfc822; <the original recipient again>
//     Original-Message-ID: <first Message-ID field, raw; no line without one>
//     Disposition: automatic-action/MDN-sent-automatically; deleted
//   part 3 message/rfc822: the original header only, Content-Type fields
//   removed, LF line ends, ending in its blank line; no body.
// - sendmail failing (any exit status, missing program): "Temporarily failed
//   to send rejection: Sendmail program returned error", the script fails
//   and the implicit keep stores the message in INBOX, exit 0.
// - ereject: not available in this Pigeonhole build at all ("unknown Sieve
//   capability `ereject'", even with sieve_extensions = +ereject), so a
//   script requiring it fails to compile and the message is kept. Where it
//   exists, the LDA sends the same rejection for it.
//
// dovecot-lda's own rejection of a message over quota (quota_full_tempfail=no,
// no -e) is the same mail with `deliveryStatus`: report-type=delivery-status,
// and part 2 message/delivery-status instead of the MDN, measured:
//     Reporting-MTA: dns; HOSTNAME
//     Original-Recipient: rfc822; <as above; else no line>
//     Final-Recipient: rfc822; <the original recipient>
//     Action: failed
//     Status: 5.2.2
//
// Strings are handled as bytes (one char per byte) so header bytes that are
// not UTF-8 come out as they went in.

import { expandTemplate } from '../../config/var-expand.js';
import { bytesOf, fieldNameOf, firstRawValue, formatMailbox } from './mail-format.js';

/** rejection_subject default */
export const DEFAULT_REJECTION_SUBJECT = 'Rejected: %s';
/** rejection_reason default */
export const DEFAULT_REJECTION_REASON = 'Your message to <%t> was automatically rejected:%n%r';

const SUBJECT_BYTES = 80;

/** postmaster_address, parsed: RFC 5322 display name (or comment) and address */
export interface Postmaster {
  /** default "Postmaster", as Dovecot names an address given without one */
  name?: string;
  /** unquoted local part */
  localpart: string;
  domain: string;
}

export interface RejectionOptions {
  /** the message's header section (MessageSource.header) */
  header: Buffer;
  /** where the rejection goes, as SMTP writes it: the envelope sender, else the Return-Path field */
  returnPath: string;
  /** the original recipient (-a), as SMTP writes it */
  recipient: string;
  /** the reject action's reason */
  reason: string;
  postmaster: Postmaster;
  /** the hostname setting: Reporting-UA and the boundary */
  hostname: string;
  /** the process id, for the boundary "PID/HOSTNAME" */
  pid: number;
  /** formatDovecotMessageId('dovecot', ...) of ./mail-format.ts */
  messageId: string;
  /** formatMessageDate(now) of src/message/dates.ts */
  date: string;
  /** rejection_subject; default DEFAULT_REJECTION_SUBJECT */
  subjectTemplate?: string;
  /** rejection_reason; default DEFAULT_REJECTION_REASON */
  reasonTemplate?: string;
  /** a delivery status notification (the LDA over quota: status "5.2.2") instead of Sieve's MDN */
  deliveryStatus?: { status: string };
}

export interface Rejection {
  /** always the null sender */
  sender: '';
  recipient: string;
  message: Buffer;
  /** a rejection_subject/_reason problem Dovecot logs ("Failed to expand rejection_subject=...: ...") and goes on */
  expansionError?: string;
}

/** Why no rejection is sent (the message is then discarded), or undefined to send it. */
export function rejectionSkipReason(header: Buffer, returnPath: string): 'null-sender' | 'auto-submitted' | undefined {
  if (returnPath === '') return 'null-sender';
  const autoSubmitted = firstRawValue(header.toString('latin1'), 'Auto-Submitted');
  if (autoSubmitted !== undefined && autoSubmitted.toLowerCase() !== 'no') return 'auto-submitted';
  return undefined;
}

export function composeRejection(options: RejectionOptions): Rejection {
  const header = options.header.toString('latin1');
  const subject = sanitize(firstRawValue(header, 'Subject') ?? '', SUBJECT_BYTES);
  const recipient = bytesOf(options.recipient);
  const variables = {
    n: '\r\n',
    crlf: '\r\n',
    r: bytesOf(options.reason),
    reason: bytesOf(options.reason),
    s: subject,
    subject,
    t: recipient,
    to: recipient,
  };
  const subjectTemplate = options.subjectTemplate ?? DEFAULT_REJECTION_SUBJECT;
  const reasonTemplate = options.reasonTemplate ?? DEFAULT_REJECTION_REASON;
  const subjectLine = expandTemplate(bytesOf(subjectTemplate), variables);
  const reasonText = expandTemplate(bytesOf(reasonTemplate), variables);
  const boundary = `${options.pid}/${bytesOf(options.hostname)}`;
  const originalRecipient = firstRawValue(header, 'Original-Recipient');
  const originalMessageId = firstRawValue(header, 'Message-ID');
  const text =
    `Message-ID: ${bytesOf(options.messageId)}\r\n` +
    `Date: ${options.date}\r\n` +
    `From: ${bytesOf(formatPostmaster(options.postmaster))}\r\n` +
    `To: <${bytesOf(options.returnPath)}>\r\n` +
    'MIME-Version: 1.0\r\n' +
    `Content-Type: multipart/report; report-type=${options.deliveryStatus ? 'delivery-status' : 'disposition-notification'};\r\n` +
    `\tboundary="${boundary}"\r\n` +
    `Subject: ${subjectLine.text}\r\n` +
    'Auto-Submitted: auto-replied (rejected)\r\n' +
    'Precedence: bulk\r\n' +
    '\r\nThis is a MIME-encapsulated message\r\n\r\n' +
    `--${boundary}\r\n` +
    'Content-Type: text/plain; charset=utf-8\r\n' +
    'Content-Disposition: inline\r\n' +
    'Content-Transfer-Encoding: 8bit\r\n\r\n' +
    `${reasonText.text}\r\n` +
    `--${boundary}\r\n` +
    (options.deliveryStatus
      ? 'Content-Type: message/delivery-status\r\n\r\n' +
        `Reporting-MTA: dns; ${bytesOf(options.hostname)}\r\n` +
        (originalRecipient === undefined ? '' : `Original-Recipient: rfc822; ${originalRecipient}\r\n`) +
        `Final-Recipient: rfc822; ${recipient}\r\n` +
        'Action: failed\r\n' +
        `Status: ${options.deliveryStatus.status}\r\n`
      : 'Content-Type: message/disposition-notification\r\n\r\n' +
        `Reporting-UA: ${bytesOf(options.hostname)}; Dovecot Mail Delivery Agent\r\n` +
        (originalRecipient === undefined ? '' : `Original-Recipient: rfc822; ${originalRecipient}\r\n`) +
        `Final-Recipient: rfc822; ${recipient}\r\n` +
        (originalMessageId === undefined ? '' : `Original-Message-ID: ${originalMessageId}\r\n`) +
        'Disposition: automatic-action/MDN-sent-automatically; deleted\r\n') +
    '\r\n' +
    `--${boundary}\r\nContent-Type: message/rfc822\r\n\r\n` +
    `${headerWithoutContentType(header)}\n` +
    `\r\n\r\n--${boundary}--\r\n`;
  const expansionError = subjectLine.error ?? reasonText.error;
  const failedSetting = subjectLine.error !== undefined ? `rejection_subject=${subjectTemplate}` : `rejection_reason=${reasonTemplate}`;
  return {
    sender: '',
    recipient: options.returnPath,
    message: Buffer.from(text, 'latin1'),
    ...(expansionError === undefined ? {} : { expansionError: `Failed to expand ${failedSetting}: ${expansionError}` }),
  };
}

/** The header section without its Content-Type fields, LF line ends (Dovecot's header filter with HEADER_FILTER_NO_CR). */
function headerWithoutContentType(header: string): string {
  const lines = header.split('\n');
  let dropping = false;
  let kept = '';
  lines.forEach((rawLine, index) => {
    const lineEnd = index < lines.length - 1 ? '\n' : '';
    const line = lineEnd !== '' && rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    if (!line.startsWith(' ') && !line.startsWith('\t')) dropping = fieldNameOf(line) === 'content-type';
    if (!dropping) kept += line + lineEnd;
  });
  return kept;
}

/** postmaster_address as Dovecot writes it, named "Postmaster" when it has no name. */
function formatPostmaster(postmaster: Postmaster): string {
  return formatMailbox({ ...postmaster, name: postmaster.name ?? 'Postmaster' });
}

/**
 * Dovecot's str_sanitize() on bytes (one char per byte): stops at a NUL,
 * control characters and invalid UTF-8 become '?', and text longer than
 * maxBytes is cut on a character boundary to maxBytes - 3 bytes plus "...".
 */
function sanitize(text: string, maxBytes: number): string {
  const nul = text.indexOf('\0');
  const source = nul >= 0 ? text.slice(0, nul) : text;
  let out = '';
  let pos = 0;
  while (pos < maxBytes && pos < source.length) {
    const length = utf8CharLength(source, pos, maxBytes - pos);
    if (length === 0) break;
    if (length < 0) {
      out += '?';
      pos++;
      continue;
    }
    out += source.charCodeAt(pos) < 0x20 ? '?' : source.slice(pos, pos + length);
    pos += length;
  }
  if (pos >= source.length) return out;
  while (out.length > maxBytes - 3) out = withoutLastChar(out);
  return `${out}...`;
}

/** uni_utf8_get_char_n(): the sequence length at pos, 0 when it runs past maxLength, -1 when invalid (overlong too). */
function utf8CharLength(text: string, pos: number, maxLength: number): number {
  const first = text.charCodeAt(pos);
  if (first < 0x80) return 1;
  const length = first < 0xc2 ? 1 : first < 0xe0 ? 2 : first < 0xf0 ? 3 : first < 0xf8 ? 4 : first < 0xfc ? 5 : first < 0xfe ? 6 : 1;
  if (length === 1) return -1;
  let value = first & (0xff >> (length + 1));
  const available = Math.min(length, maxLength);
  for (let index = 1; index < available; index++) {
    const next = text.charCodeAt(pos + index);
    if (Number.isNaN(next)) return 0;
    if ((next & 0xc0) !== 0x80) return -1;
    value = value * 64 + (next & 0x3f);
  }
  if (available < length) return 0;
  const lowest = [0, 0, 0x80, 0x800, 0x10000, 0x200000, 0x4000000][length]!;
  return value < lowest ? -1 : length;
}

/** str_sanitize's truncation: drops the last byte, or the whole UTF-8 sequence it ends. */
function withoutLastChar(text: string): string {
  let end = text.length;
  if ((text.charCodeAt(end - 1) & 0x80) === 0) return text.slice(0, end - 1);
  while (end > 0 && (text.charCodeAt(end - 1) & 0xc0) === 0x80) end--;
  if (end > 0 && (text.charCodeAt(end - 1) & 0xc0) === 0xc0) end--;
  return text.slice(0, end);
}
