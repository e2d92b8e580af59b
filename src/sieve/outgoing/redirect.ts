// The Sieve redirect action's outgoing message (RFC 5228 4.2), as Pigeonhole
// 0.5.19 sends it from dovecot-lda 2.3.19 (measured with a recording
// sendmail; fixtures in test/fixtures/sieve/outgoing/). Pure: the host
// (src/deliver/sieve-delivery.ts) sends the bytes with src/deliver/sendmail.ts.
//
// What Pigeonhole sends:
// - envelope: `-f SENDER -- TARGET`; SENDER per sieve_redirect_envelope_from
//   (redirectEnvelopeSender); a null sender stays `<>` whatever the setting.
//   The target address has its domain lower-cased (the interpreter's job).
// - bytes: `X-Sieve: Pigeonhole Sieve 0.5.19 (4eae2f79)` LF,
//   `X-Sieve-Redirected-From: <sieve_user_email, else the final recipient>` LF,
//   then, only when the message has no valid Message-ID (none, empty, or
//   "not an id"), `Message-ID: <dovecot-sieve-SEC-USEC-N@HOST>` CRLF (sic: the
//   one CRLF line; HOST is the system host name, not the hostname setting).
//   Added lines longer than 80 characters are folded at the last blank before
//   column 80, the blanks there replaced by LF TAB. Then the original message
//   with every Return-Path field removed and CRLF turned into LF in the header
//   section; X-Sieve and older X-Sieve-Redirected-From fields stay. No
//   Received field is added.
// - not sent (implicit keep stays, exit 0, logged "not forwarding message to
//   <T>: the `x-sieve-redirected-from' header indicates a mail loop") when an
//   X-Sieve-Redirected-From field holds the final recipient or
//   sieve_user_email (redirectLoopDetected).
// - duplicate suppression: id redirectDuplicateId(), kept 12 h
//   (sieve_redirect_duplicate_period), recorded only after a successful send.
// - sendmail failure (any exit status, missing program, timeout): "failed to
//   redirect message to <T>: Sendmail program returned error (temporary
//   failure)", the script's result is a temporary failure: exit 75 and
//   nothing stored, even for redirect :copy and with `keep` in the script —
//   unless a fileinto had already stored the message before the redirect ran:
//   then "failed, but implicit keep was successful", the message also goes to
//   INBOX, exit 0.
//
// Deviation: Dovecot sends the raw input, whose body keeps CRLF line ends;
// here the body is the stored message (LF). sendmail accepts both.

import { getFirstHeader, getHeaderValues } from '../../message/header.js';
import { formatAddress, parseSenderPath } from '../../message/smtp-address.js';
import { fieldNameOf, headerField } from './mail-format.js';
import { asciiLowerCase } from '../../message/ascii.js';

/** the X-Sieve value Pigeonhole writes, kept for byte compatibility */
export const SIEVE_IMPLEMENTATION = 'Pigeonhole Sieve 0.5.19 (4eae2f79)';
/** sieve_redirect_duplicate_period default: how long a sent redirect is remembered */
export const REDIRECT_DUPLICATE_PERIOD_SECONDS = 12 * 60 * 60;

const LF = 0x0a;
const CR = 0x0d;
/** a header line longer than this is passed on (or dropped) in pieces instead of being held whole */
const MAX_HELD_LINE = 64 * 1024;

/** sieve_redirect_envelope_from, parsed as Pigeonhole does (sieve-address-source.c). */
export type RedirectEnvelopeSource =
  | { type: 'sender' | 'recipient' | 'orig_recipient' | 'user_email' | 'postmaster' }
  /** `<address>`; address "" is `<>`, the null sender */
  | { type: 'explicit'; address: string };

export interface RedirectEnvelopeContext {
  /** the envelope sender Sieve sees (the return path); "" = null sender */
  sender: string;
  /** the final recipient (-r, default -a) */
  recipient: string;
  /** the original recipient (-a) */
  originalRecipient: string;
  /** sieve_user_email, when set */
  userEmail?: string;
  /** postmaster_address */
  postmaster: string;
}

/**
 * The setting trimmed of blanks and lower-cased (an explicit address too);
 * "", "default" and "sender" mean the original sender. undefined: invalid —
 * Pigeonhole logs "Invalid value for setting 'sieve_redirect_envelope_from':
 * '<value>'" as a warning and uses the original sender.
 */
export function parseRedirectEnvelopeFrom(setting: string): RedirectEnvelopeSource | undefined {
  const value = asciiLowerCase(setting.replace(/^[ \t]+|[ \t]+$/g, ''));
  switch (value) {
    case '':
    case 'default':
    case 'sender':
      return { type: 'sender' };
    case 'recipient':
    case 'orig_recipient':
    case 'user_email':
    case 'postmaster':
      return { type: value };
  }
  if (value.length < 2 || !value.startsWith('<') || !value.endsWith('>')) return undefined;
  const address = explicitEnvelopePath(value.slice(1, -1));
  return address === undefined ? undefined : { type: 'explicit', address };
}

/** The redirect's envelope sender ("" = <>); user_email without sieve_user_email is the final recipient. */
export function redirectEnvelopeSender(setting: string, context: RedirectEnvelopeContext): string {
  if (context.sender === '') return '';
  const source = parseRedirectEnvelopeFrom(setting) ?? { type: 'sender' };
  switch (source.type) {
    case 'sender':
      return context.sender;
    case 'recipient':
      return context.recipient;
    case 'orig_recipient':
      return context.originalRecipient;
    case 'user_email':
      return context.userEmail ?? context.recipient;
    case 'postmaster':
      return context.postmaster;
    case 'explicit':
      return source.address;
  }
}

export interface RedirectHeaderOptions {
  /** X-Sieve-Redirected-From: sieve_user_email when set, else the final recipient; undefined = no such line */
  redirectedFrom: string | undefined;
  /** for a message without a valid Message-ID (messageIdOf() is undefined): `<dovecot-sieve-...>` */
  newMessageId?: string;
}

/** The lines Pigeonhole puts in front of the redirected message. */
export function redirectHeader(options: RedirectHeaderOptions): Buffer {
  let text = headerField('X-Sieve', SIEVE_IMPLEMENTATION, '\n');
  if (options.redirectedFrom !== undefined) text += headerField('X-Sieve-Redirected-From', options.redirectedFrom, '\n');
  if (options.newMessageId !== undefined) text += headerField('Message-ID', options.newMessageId, '\r\n');
  return Buffer.from(text, 'utf8');
}

/**
 * The redirected message: redirectHeader() and then the original message
 * (MessageSource.chunks()) without its Return-Path fields. Streams: only an
 * unfinished header line is held between chunks, at most 64 KiB of it.
 */
export async function* redirectedMessage(message: AsyncIterable<Buffer>, options: RedirectHeaderOptions): AsyncGenerator<Buffer> {
  yield redirectHeader(options);
  const filter = new ReturnPathFilter();
  for await (const chunk of message) {
    const out = filter.push(chunk);
    if (out.length > 0) yield out;
  }
  const rest = filter.end();
  if (rest.length > 0) yield rest;
}

/**
 * The message's id as Dovecot's mail_get_message_id() finds it in the first
 * Message-ID field: the first `<left@right>` (blanks inside dropped), with
 * its brackets; undefined when there is none.
 */
export function messageIdOf(header: Buffer): string | undefined {
  const value = getFirstHeader(header, 'Message-ID');
  return value === undefined ? undefined : firstMessageId(value);
}

/** True when an X-Sieve-Redirected-From field names one of the user's own addresses (final recipient, sieve_user_email). */
export function redirectLoopDetected(header: Buffer, ownAddresses: readonly (string | undefined)[]): boolean {
  const own = ownAddresses.filter((address): address is string => address !== undefined);
  return getHeaderValues(header, 'X-Sieve-Redirected-From').some((value) => own.includes(value.replace(/[ \t\r\n]+$/, '')));
}

/**
 * Pigeonhole's duplicate id of one redirect: message id (messageIdOf, else
 * the new one), original recipient, target, Resent-Message-ID (else
 * Resent-From), List-Id, joined with "-".
 */
export function redirectDuplicateId(header: Buffer, messageId: string, originalRecipient: string, target: string): string {
  const resent = getFirstHeader(header, 'Resent-Message-ID') ?? getFirstHeader(header, 'Resent-From') ?? '';
  const listId = getFirstHeader(header, 'List-Id') ?? '';
  return `${messageId}-${originalRecipient}-${target}-${resent}-${listId}`;
}

/** "" (the null path) or the address as SMTP writes it; undefined when Pigeonhole refuses it. */
function explicitEnvelopePath(text: string): string | undefined {
  if (text === '') return '';
  if (text.startsWith('<')) return undefined;
  try {
    const path = parseSenderPath(text);
    if (path.broken || path.address === null || path.address.domain === undefined) return undefined;
    return formatAddress(path.address);
  } catch {
    return undefined;
  }
}

/**
 * Drops every Return-Path field (with its continuation lines) from the header
 * section and turns CRLF into LF there; the body passes untouched.
 */
class ReturnPathFilter {
  private inBody = false;
  /** bytes of a header line not yet decided on */
  private held: Buffer = Buffer.alloc(0);
  /** inside a long line whose start was already passed on or dropped */
  private inLine = false;
  /** the current field (for its continuation lines) is a Return-Path */
  private dropping = false;

  push(chunk: Buffer): Buffer {
    if (this.inBody) return chunk;
    const data = this.held.length > 0 ? Buffer.concat([this.held, chunk]) : chunk;
    this.held = Buffer.alloc(0);
    const out: Buffer[] = [];
    let pos = 0;
    while (pos < data.length && !this.inBody) {
      const lf = data.indexOf(LF, pos);
      const end = lf < 0 ? data.length : lf + 1;
      if (!this.inLine) {
        if (lf < 0 && end - pos < MAX_HELD_LINE) {
          this.held = Buffer.from(data.subarray(pos));
          break;
        }
        const line = data.subarray(pos, end);
        if (isBlankLine(line)) {
          out.push(Buffer.from('\n'), data.subarray(end));
          this.inBody = true;
          break;
        }
        if (line[0] !== 0x20 && line[0] !== 0x09) this.dropping = isReturnPathField(line);
      }
      const keep = !this.dropping;
      let piece = data.subarray(pos, end);
      if (lf < 0 && piece[piece.length - 1] === CR) {
        // a CR at the end of a chunk may be half of a CRLF
        this.held = Buffer.from(piece.subarray(piece.length - 1));
        piece = piece.subarray(0, piece.length - 1);
      }
      if (keep) out.push(withoutCr(piece));
      this.inLine = lf < 0;
      pos = end;
    }
    return Buffer.concat(out);
  }

  /** What was held at the end of a message without a body. */
  end(): Buffer {
    const rest = this.held;
    this.held = Buffer.alloc(0);
    if (this.inBody || rest.length === 0) return rest;
    if (!this.inLine && rest[0] !== 0x20 && rest[0] !== 0x09) this.dropping = isReturnPathField(rest);
    return this.dropping ? Buffer.alloc(0) : rest;
  }
}

function isBlankLine(line: Buffer): boolean {
  return (line.length === 1 && line[0] === LF) || (line.length === 2 && line[0] === CR && line[1] === LF);
}

/** The field name (before the colon, trailing blanks ignored) is Return-Path, in any case. */
function isReturnPathField(line: Buffer): boolean {
  return fieldNameOf(line.toString('latin1')) === 'return-path';
}

function withoutCr(piece: Buffer): Buffer {
  const length = piece.length;
  if (length >= 2 && piece[length - 1] === LF && piece[length - 2] === CR) {
    return Buffer.concat([piece.subarray(0, length - 2), Buffer.from('\n')]);
  }
  return piece;
}

/** message_id_get_next(): the first valid id among the `<...>` in the text. */
function firstMessageId(text: string): string | undefined {
  let pos = 0;
  for (;;) {
    const open = text.indexOf('<', pos);
    if (open < 0) return undefined;
    const start = open + 1;
    // the quick look: everything from 'A' up is fine, a '"' or '(' needs the parser
    let end = start;
    let foundAt = false;
    for (; end < text.length; end++) {
      const code = text.charCodeAt(end);
      if (code >= 0x41) continue;
      if (code === 0x40) foundAt = true;
      if (code === 0x3e || code === 0x22 || code === 0x28) break;
    }
    if (end >= text.length) return undefined;
    if (text[end] === '>') {
      if (foundAt) return `<${text.slice(start, end).replace(/[ \t\r\n]/g, '')}>`;
      pos = end + 1;
      continue;
    }
    const parsed = parseMessageId(text, start);
    if (parsed !== undefined) return `<${parsed}>`;
    pos = start;
  }
}

/** id-left "@" id-right ">" with comments and blanks around the parts (quoted id-left unquoted). */
function parseMessageId(text: string, start: number): string | undefined {
  let pos = skipBlanksAndComments(text, start);
  let left: string;
  if (text[pos] === '"') {
    const close = /^"((?:[^"\\]|\\.)*)"/s.exec(text.slice(pos));
    if (close === null) return undefined;
    left = close[1]!.replace(/\\(.)/gs, '$1');
    pos += close[0].length;
  } else {
    const atom = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.]+/.exec(text.slice(pos));
    if (atom === null) return undefined;
    left = atom[0];
    pos += atom[0].length;
  }
  pos = skipBlanksAndComments(text, pos);
  if (text[pos] !== '@') return undefined;
  pos = skipBlanksAndComments(text, pos + 1);
  const right = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.]+/.exec(text.slice(pos));
  if (right === null) return undefined;
  pos = skipBlanksAndComments(text, pos + right[0].length);
  return text[pos] === '>' ? `${left}@${right[0]}` : undefined;
}

function skipBlanksAndComments(text: string, start: number): number {
  let pos = start;
  for (;;) {
    while (pos < text.length && ' \t\r\n'.includes(text[pos]!)) pos++;
    if (text[pos] !== '(') return pos;
    let depth = 0;
    for (; pos < text.length; pos++) {
      if (text[pos] === '\\') pos++;
      else if (text[pos] === '(') depth++;
      else if (text[pos] === ')' && --depth === 0) break;
    }
    if (pos >= text.length) return pos;
    pos++;
  }
}
