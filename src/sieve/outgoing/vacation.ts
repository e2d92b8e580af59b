// Sieve vacation (RFC 5230, RFC 6131 :seconds) as Pigeonhole 0.5.19 carries
// it out: whether to answer at all, and the reply itself. Pure; the host
// looks up the state file (./state.ts, key vacationStateKey) for
// `alreadyAnswered`, sends the reply through sendmail_path, and only once it
// went out records the key until now + periodSeconds (nothing when that is 0),
// as Pigeonhole marks only replies it sent.
//
// Whether (vacationSkipReason), in Pigeonhole's order; the reason is the text
// Pigeonhole logs after "vacation action: ":
//   envelope recipient <>; null return path; return path = the recipient or
//   one of :addresses (case-insensitive); answered within the period (state);
//   any List-Id/-Owner/-Subscribe/-Post/-Unsubscribe/-Help/-Archive header;
//   Auto-Submitted other than "no"; Precedence junk/bulk/list;
//   X-Auto-Response-Suppress naming All or OOF; a system sender (local part
//   MAILER-DAEMON, LISTSERV, majordomo — any case —, containing "-request" or
//   starting with "owner-"); and none of the user's addresses (final
//   recipient, original recipient with sieve_vacation_use_original_recipient,
//   :addresses, sieve_user_email) in To/Cc/Bcc/Resent-To/-Cc/-Bcc, unless
//   sieve_vacation_dont_check_recipient.
//
// The reply (composeVacationReply), CRLF line ends, headers in this order:
//   X-Sieve (Pigeonhole's own, as redirect writes it), Message-ID, Date
//   (both injected), From (:from, UTF-8 words
//   encoded; else <the address found in the headers>), To (the sender's
//   mailbox from Sender/Resent-From/From, display name included, else
//   <return path>), Subject (:subject, else "Auto: " + the decoded original
//   subject, else "Automated reply"; control characters → U+FFFD, at most
//   256 characters, RFC 2047 words where 8-bit), In-Reply-To and References
//   (from the original Message-ID and References), Auto-Submitted:
//   auto-replied (vacation), Precedence: bulk, X-Auto-Response-Suppress: All,
//   MIME-Version: 1.0, and — unless :mime, whose reason brings its own MIME
//   headers — Content-Type: text/plain; charset=utf-8,
//   Content-Transfer-Encoding: 8bit and a blank line; then the reason and CRLF.
//   Every field folded at whitespace past 80 columns, as Pigeonhole does.
//   Envelope: MAIL FROM <> (the matched recipient address with
//   sieve_vacation_send_from_recipient), RCPT TO the return path.
//
// Known differences: header values come unfolded from ../runtime/headers.ts,
// so a References field folded in the original is refolded at column 80 only
// (Pigeonhole keeps its line breaks too), and the original subject loses its
// trailing blanks. The To field's display name needs ParsedAddress.name from
// ../runtime/address.ts; without it To is <address> alone. Nothing here
// throws on odd input.

import type { SieveAction } from '../run-types.js';
import { headerValues, parseHeaderFields, type HeaderField } from '../runtime/headers.js';
import { parseAddressHeader, parseEnvelopeAddress, type ParsedAddress } from '../runtime/address.js';
import { expandTemplate } from '../../config/var-expand.js';
import { messageIdOf, SIEVE_IMPLEMENTATION } from './redirect.js';
import { bytesOf, encodeWords, formatMailbox, headerField } from './mail-format.js';

export type VacationAction = Extract<SieveAction, { type: 'vacation' }>;

/** Pigeonhole's vacation settings (plugin {}), and sieve_user_email. */
export interface VacationSettings {
  /** sieve_vacation_use_original_recipient: the original recipient also counts as the user's address */
  useOriginalRecipient: boolean;
  /** sieve_vacation_dont_check_recipient: answer even when no address of the user is in the headers */
  dontCheckRecipient: boolean;
  /** sieve_vacation_send_from_recipient: MAIL FROM the user's address instead of <> */
  sendFromRecipient: boolean;
  /** sieve_vacation_to_header_ignore_envelope: To = the first address of Sender/Resent-From/From, whatever it is */
  toHeaderIgnoreEnvelope: boolean;
  /** sieve_vacation_default_subject: the subject when the message has none ("" = "Automated reply") */
  defaultSubject: string;
  /** sieve_vacation_default_subject_template: with %{subject} ("" = "Auto: %{subject}") */
  defaultSubjectTemplate: string;
  /** sieve_user_email, when set */
  userEmail: string | undefined;
}

export interface VacationContext {
  action: VacationAction;
  /** the original message's header (MessageView.header) */
  header: Buffer;
  /** the return path without <>; "" = the null sender */
  returnPath: string;
  /** the final recipient (-r, else -a); "" = none */
  finalRecipient: string;
  /** the original recipient (-a / ORCPT), when known */
  originalRecipient: string | undefined;
  settings: VacationSettings;
  /** the state file has vacationStateKey(returnPath, action.handle) unexpired */
  alreadyAnswered: boolean;
}

export interface VacationReplyContext extends VacationContext {
  /** the reply's Message-ID, with <>: formatDovecotMessageId('dovecot-sieve', ...) of ./mail-format.ts */
  messageId: string;
  /** the reply's Date value: formatMessageDate(now) of src/message/dates.ts ("Mon, 30 Nov 2026 22:04:42 +0000") */
  date: string;
  /** postmaster_address: From when no address of the user is known */
  postmaster: string;
  /** the user's address when sieve_user_email is unset (username if it is an address, else username@domain) */
  implicitUserEmail: string | undefined;
}

export interface VacationReply {
  /** MAIL FROM; "" = <> */
  sender: string;
  /** RCPT TO: the return path */
  recipient: string;
  message: Buffer;
}

/** The state-file key for "answered this sender for this handle" (Pigeonhole: MD5 of lower-case sender + handle). */
export function vacationStateKey(returnPath: string, handle: string): string {
  return `vacation\u0000${returnPath.toLowerCase()}\u0000${handle}`;
}

const LIST_HEADERS = ['list-id', 'list-owner', 'list-subscribe', 'list-post', 'list-unsubscribe', 'list-help', 'list-archive'];
const MY_ADDRESS_HEADERS = ['to', 'cc', 'bcc', 'resent-to', 'resent-cc', 'resent-bcc'];
const SENDER_HEADERS = ['sender', 'resent-from', 'from'];
const BULK_PRECEDENCES = ['junk', 'bulk', 'list'];
const SUPPRESSING_FLAGS = ['all', 'oof'];
const SYSTEM_LOCALPARTS = ['mailer-daemon', 'listserv', 'majordomo'];
/** Pigeonhole's SIEVE_MAX_SUBJECT_HEADER_CODEPOINTS */
const MAX_SUBJECT_CODEPOINTS = 256;

/** The address `text` names (an SMTP path, or failing that an RFC 5322 mailbox). */
function addressOf(text: string): ParsedAddress | undefined {
  return parseEnvelopeAddress(text) ?? parseAddressHeader(text)?.[0];
}

function sameAddress(a: ParsedAddress, b: ParsedAddress): boolean {
  return a.localpart.toLowerCase() === b.localpart.toLowerCase() && a.domain.toLowerCase() === b.domain.toLowerCase();
}

/** smtp_address_equals_icase over the texts; unparsable ones compare as text. */
function sameAddressText(a: string, b: string): boolean {
  const parsedA = addressOf(a);
  const parsedB = addressOf(b);
  if (parsedA === undefined || parsedB === undefined) return a.toLowerCase() === b.toLowerCase();
  return sameAddress(parsedA, parsedB);
}

function isSystemAddress(returnPath: string): boolean {
  const at = returnPath.lastIndexOf('@');
  const localpart = parseEnvelopeAddress(returnPath)?.localpart ?? (at > 0 ? returnPath.slice(0, at) : returnPath);
  return SYSTEM_LOCALPARTS.includes(localpart.toLowerCase()) || localpart.includes('-request') || localpart.startsWith('owner-');
}

/** The values of a field as Dovecot's mail_get_headers() gives them: trailing blanks kept ("no " is not "no"). */
function fieldValues(fields: readonly HeaderField[], name: string): string[] {
  return fields.filter((field) => field.name.toLowerCase() === name).map((field) => field.value);
}

/** Which of the user's addresses the message names in its recipient headers, and the envelope sender that goes with it. */
interface UserAddressMatch {
  /** the address the reply comes From */
  replyFrom: string | undefined;
  /** MAIL FROM with sieve_vacation_send_from_recipient */
  smtpFrom: string;
}

/** Some address in `values` (header fields) is `address`. */
function headersName(values: readonly string[], address: string): boolean {
  const wanted = addressOf(address);
  if (wanted === undefined) return false;
  return values.some((value) => (parseAddressHeader(value) ?? []).some((found) => sameAddress(found, wanted)));
}

/** Pigeonhole's search: header by header, the final recipient, the original one, :addresses, sieve_user_email. */
function findUserAddress(ctx: VacationContext, fields: readonly HeaderField[]): UserAddressMatch | undefined {
  const original = ctx.settings.useOriginalRecipient && ctx.originalRecipient ? ctx.originalRecipient : undefined;
  const userEmail = ctx.settings.userEmail;
  for (const name of MY_ADDRESS_HEADERS) {
    const values = fieldValues(fields, name);
    if (values.length === 0) continue;
    if (headersName(values, ctx.finalRecipient)) return { replyFrom: ctx.finalRecipient, smtpFrom: ctx.finalRecipient };
    if (original !== undefined && headersName(values, original)) return { replyFrom: original, smtpFrom: original };
    // an :addresses entry goes into From only: the envelope stays one of the user's real addresses
    const alias = ctx.action.addresses.find((address) => headersName(values, address));
    if (alias !== undefined) return { replyFrom: alias, smtpFrom: original ?? ctx.finalRecipient };
    if (userEmail !== undefined && headersName(values, userEmail)) return { replyFrom: userEmail, smtpFrom: userEmail };
  }
  return undefined;
}

function notAddressedReason(ctx: VacationContext): string {
  const original = ctx.settings.useOriginalRecipient ? `original-recipient=<${ctx.originalRecipient || 'UNAVAILABLE'}>, ` : '';
  const userEmail = ctx.settings.userEmail !== undefined ? `user-email=<${ctx.settings.userEmail}>, ` : '';
  const addresses = ctx.action.addresses.length === 0 ? ' no' : '';
  return (
    'discarding vacation response for implicitly delivered message; no known (envelope) recipient address found in message headers ' +
    `(recipient=<${ctx.finalRecipient}>, ${original}${userEmail}and${addresses} additional \`:addresses' are specified)`
  );
}

/** The first flag of X-Auto-Response-Suppress that forbids an out-of-office reply, as written. */
function suppressingFlag(fields: readonly HeaderField[]): string | undefined {
  for (const value of fieldValues(fields, 'x-auto-response-suppress')) {
    for (const flag of value.split(',')) {
      const trimmed = flag.replace(/^[ \t]+|[ \t]+$/g, '');
      if (SUPPRESSING_FLAGS.includes(trimmed.toLowerCase())) return trimmed;
    }
  }
  return undefined;
}

/** undefined: answer. Otherwise why not, as Pigeonhole logs it after "vacation action: ". */
export function vacationSkipReason(ctx: VacationContext): string | undefined {
  const sender = ctx.returnPath;
  if (ctx.finalRecipient === '') return 'vacation action aborted: envelope recipient is <>';
  if (sender === '') return 'discarded vacation reply to <>';
  if (sameAddressText(sender, ctx.finalRecipient)) return `discarded vacation reply to own address <${sender}>`;
  if (ctx.action.addresses.some((address) => sameAddressText(sender, address))) {
    return `discarded vacation reply to own address <${sender}> (as specified using :addresses argument)`;
  }
  if (ctx.alreadyAnswered) return `discarded duplicate vacation response to <${sender}>`;
  const fields = parseHeaderFields(ctx.header);
  if (LIST_HEADERS.some((name) => fieldValues(fields, name).length > 0)) return `discarding vacation response to mailinglist recipient <${sender}>`;
  if (fieldValues(fields, 'auto-submitted').some((value) => value.toLowerCase() !== 'no')) {
    return `discarding vacation response to auto-submitted message from <${sender}>`;
  }
  const precedence = fieldValues(fields, 'precedence').find((value) => BULK_PRECEDENCES.includes(value.toLowerCase()));
  if (precedence !== undefined) return `discarding vacation response to precedence=${precedence} message from <${sender}>`;
  const flag = suppressingFlag(fields);
  if (flag !== undefined) return `discarding vacation response to message from <${sender}> (\`${flag}' flag found in x-auto-response-suppress header)`;
  if (isSystemAddress(sender)) return `not sending vacation response to system address <${sender}>`;
  if (findUserAddress(ctx, fields) === undefined && !ctx.settings.dontCheckRecipient) return notAddressedReason(ctx);
  return undefined;
}

// ---------------------------------------------------------------------------
// Composition. Text is handled as "binary strings" (one char per byte of the
// UTF-8 encoding, ./mail-format.ts) so that lengths are counted in bytes, as
// Pigeonhole counts.

/** <address> for an envelope or script address (smtp address → message address), or the text when it does not parse. */
function bracketed(address: string): string {
  const parsed = addressOf(address);
  return parsed === undefined ? `<${address}>` : formatMailbox({ localpart: parsed.localpart, domain: parsed.domain });
}

/** The reply's To: the sender's mailbox as Sender, Resent-From or From names it, else <return path>. */
function replyTo(ctx: VacationContext, fields: readonly HeaderField[]): string {
  const sender = addressOf(ctx.returnPath);
  for (const name of SENDER_HEADERS) {
    const value = fieldValues(fields, name)[0];
    if (value === undefined) continue;
    const mailboxes = (parseAddressHeader(value) ?? []).filter((address) => address.domain !== '');
    const match = ctx.settings.toHeaderIgnoreEnvelope ? mailboxes[0] : mailboxes.find((address) => sender !== undefined && sameAddress(address, sender));
    if (match !== undefined) return formatMailbox(match);
  }
  return bracketed(ctx.returnPath);
}

/** Pigeonhole's str_sanitize_utf8(): control characters → U+FFFD; past `max` code points cut to max-1 and "…". */
function sanitizeUtf8(text: string, max: number): string {
  const characters = Array.from(text, (character) => (character.charCodeAt(0) < 0x20 ? '\ufffd' : character));
  return characters.length <= max ? characters.join('') : `${characters.slice(0, max - 1).join('')}\u2026`;
}

/** The subject when the script gave none: the template (default "Auto: ") around the decoded original subject. */
function defaultSubject(settings: VacationSettings, fields: readonly HeaderField[]): string {
  const original = headerValues(fields, 'subject', true)[0];
  if (original === undefined) return settings.defaultSubject || 'Automated reply';
  if (settings.defaultSubjectTemplate === '') return `Auto: ${original}`;
  const { text, error } = expandTemplate(settings.defaultSubjectTemplate, { subject: original }, {});
  return error === undefined ? text : `Auto: ${original}`;
}

/** A header field whose value may hold UTF-8: encoded words where needed (rfc2822_header_utf8_printf). */
function textField(name: string, value: string): string {
  const bytes = bytesOf(value);
  return headerField(name, /[^\x00-\x7f]/.test(value) ? encodeWords(bytes) : bytes);
}

// --- The reply ------------------------------------------------------------

/** The reply to send when vacationSkipReason() found none (composed all the same otherwise). */
export function composeVacationReply(ctx: VacationReplyContext): VacationReply {
  const fields = parseHeaderFields(ctx.header);
  const { action, settings } = ctx;
  const match = findUserAddress(ctx, fields);
  const checked: UserAddressMatch = match ?? {
    replyFrom: settings.userEmail ?? ctx.implicitUserEmail,
    smtpFrom: (settings.useOriginalRecipient && ctx.originalRecipient) || ctx.finalRecipient,
  };
  const subject = sanitizeUtf8(action.subject ? action.subject.replace(/\r?\n/g, '\r\n') : defaultSubject(settings, fields), MAX_SUBJECT_CODEPOINTS);
  const messageId = messageIdOf(ctx.header);
  const references = fieldValues(fields, 'references')[0];

  let header = headerField('X-Sieve', SIEVE_IMPLEMENTATION);
  header += headerField('Message-ID', ctx.messageId);
  header += headerField('Date', ctx.date);
  header += action.from ? textField('From', action.from) : headerField('From', bracketed(checked.replyFrom || ctx.postmaster));
  header += headerField('To', bytesOf(replyTo(ctx, fields)));
  header += textField('Subject', subject);
  if (messageId !== undefined) {
    header += headerField('In-Reply-To', bytesOf(messageId));
    header += headerField('References', bytesOf(references === undefined ? messageId : `${references} ${messageId}`));
  } else if (references !== undefined) {
    header += headerField('References', bytesOf(references));
  }
  header += headerField('Auto-Submitted', 'auto-replied (vacation)');
  header += headerField('Precedence', 'bulk');
  header += headerField('X-Auto-Response-Suppress', 'All');
  header += headerField('MIME-Version', '1.0');
  if (!action.mime) {
    header += headerField('Content-Type', 'text/plain; charset=utf-8');
    header += headerField('Content-Transfer-Encoding', '8bit');
    header += '\r\n';
  }
  const body = `${bytesOf(action.reason.replace(/\r?\n/g, '\r\n'))}\r\n`;
  return {
    sender: settings.sendFromRecipient ? checked.smtpFrom : '',
    recipient: ctx.returnPath,
    message: Buffer.from(header + body, 'latin1'),
  };
}
