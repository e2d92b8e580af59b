// The pieces of the mail Sieve sends (./redirect.ts, ./reject.ts,
// ./vacation.ts), written as Dovecot 2.3.19 and Pigeonhole 0.5.19 write them:
// the Message-ID they make (the Date: ../../message/dates.ts), mailboxes (message_address_write), header
// fields folded at column 80 (Pigeonhole's rfc2822_header_append, CRLF or LF
// line ends), RFC 2047 encoded words (message_header_encode), and raw reads of
// the original header (field names, mail_get_first_header).
//
// Text is handled as "binary strings" (one char per byte, bytesOf) where byte
// counts matter, so lengths are counted in bytes as Dovecot counts them and
// header bytes that are not UTF-8 come out as they went in. Pure; nothing
// here throws on odd input.

import { isAtext, type ParsedAddress } from '../runtime/address.js';

/** rfc2822_header_append folds past this many columns */
const FOLD_COLUMN = 80;
/** message_header_encode's longest encoded line */
const MAX_ENCODED_LINE = 76;
const WRAPPER_LENGTH = '=?utf-8?q?'.length + '?='.length;

/**
 * A Message-ID as Dovecot makes them: `<dovecot-SEC-USEC-N@HOST>` for the
 * LDA's rejection, `<dovecot-sieve-SEC-USEC-N@HOST>` for Pigeonhole's mail
 * (redirect of a message without one, vacation). N counts the ids the
 * process made; HOST is the system host name.
 */
export function formatDovecotMessageId(prefix: 'dovecot' | 'dovecot-sieve', epochMicroseconds: number, counter: number, host: string): string {
  const seconds = Math.floor(epochMicroseconds / 1_000_000);
  return `<${prefix}-${seconds}-${epochMicroseconds - seconds * 1_000_000}-${counter}@${host}>`;
}

/** A JS string as one char per byte of its UTF-8 encoding, to sit beside raw header bytes. */
export function bytesOf(text: string): string {
  return Buffer.from(text, 'utf8').toString('latin1');
}

// --- Mailboxes as Dovecot's message_address_write() -----------------------

/**
 * A display name or local part as message_address_write puts it: as is when it is all atext (8-bit counts as
 * atext; dots too, unless `dotNeedsQuotes`), else quoted, with `"`, `\` and `'` escaped.
 */
export function quoteIfNeeded(word: string, dotNeedsQuotes: boolean): string {
  let plain = true;
  for (let index = 0; index < word.length && plain; index++) {
    const code = word.charCodeAt(index);
    plain = isAtext(code) || (code === 0x2e && !dotNeedsQuotes);
  }
  if (plain) return word;
  return `"${word.replace(/["\\']/g, '\\$&')}"`;
}

/** A mailbox as message_address_write puts one: [name ]<local@domain>; a name with "=?" as it is; no "@" without a domain. */
export function formatMailbox(address: ParsedAddress): string {
  const name = address.name ?? '';
  const phrase = name === '' ? '' : `${name.includes('=?') ? name : quoteIfNeeded(name, true)} `;
  const localpart = address.localpart === '' ? '""' : quoteIfNeeded(address.localpart, false);
  return `${phrase}<${localpart}${address.domain === '' ? '' : `@${address.domain}`}>`;
}

// --- Reading the original header (one char per byte) ----------------------

function trimEndBlanks(text: string): string {
  return text.replace(/[ \t]+$/, '');
}

/** The lower-cased name of the field a header line starts (blanks before the colon dropped); undefined without a colon. */
export function fieldNameOf(line: string): string | undefined {
  const colon = line.indexOf(':');
  return colon < 0 ? undefined : trimEndBlanks(line.slice(0, colon)).toLowerCase();
}

/**
 * The first field's value as Dovecot's mail_get_first_header() gives it:
 * blanks after the colon skipped, folded lines joined by LF (CR dropped),
 * trailing blanks kept. Header given one char per byte.
 */
export function firstRawValue(header: string, name: string): string | undefined {
  const wanted = name.toLowerCase();
  let value: string | undefined;
  for (const rawLine of header.split('\n')) {
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    if (line.startsWith(' ') || line.startsWith('\t')) {
      if (value !== undefined) value += `\n${line}`;
      continue;
    }
    if (value !== undefined) return value;
    if (fieldNameOf(line) === wanted) value = line.slice(line.indexOf(':') + 1).replace(/^[ \t]+/, '');
  }
  return value;
}

// --- Header fields as Pigeonhole's rfc2822_header_append() ----------------

function skipBlanks(text: string, from: number, alsoLineEnds: boolean): number {
  let index = from;
  const skipped = alsoLineEnds ? ' \t\r\n' : ' \t';
  while (index < text.length && skipped.includes(text[index])) index++;
  return index;
}

/**
 * "Name: body" and `lineEnd` (Pigeonhole writes CRLF, LF for the lines redirect adds in front of a message). A
 * line that reaches 80 columns is broken at its last blank; a line end in the body is kept. Either way the blanks
 * around the break go and the next line starts with a tab. Columns are counted in chars: give `body` as bytes
 * (bytesOf) to count as Pigeonhole does.
 */
export function headerField(name: string, body: string, lineEnd: '\r\n' | '\n' = '\r\n'): string {
  let out = `${name}: `;
  let column = name.length + 2;
  let start = 0;
  let index = 0;
  let blank = -1;
  while (index < body.length) {
    let lineEndAt = -1;
    while (index < body.length && (blank < 0 || column < FOLD_COLUMN)) {
      const char = body[index];
      if (char === '\r' || char === '\n') {
        lineEndAt = index;
        break;
      }
      if (char === ' ' || char === '\t') blank = index;
      index++;
      column++;
    }
    if (index >= body.length) break;
    if (lineEndAt >= 0) {
      out += `${trimEndBlanks(body.slice(start, lineEndAt))}${lineEnd}\t`;
      index = start = skipBlanks(body, lineEndAt, true);
    } else {
      out += `${trimEndBlanks(body.slice(start, blank))}${lineEnd}\t`;
      start = skipBlanks(body, blank + 1, false);
      index = Math.max(index, start);
    }
    column = index - start;
    blank = -1;
  }
  return `${out}${body.slice(start)}${lineEnd}`;
}

// --- RFC 2047 encoding as Dovecot's message_header_encode() ---------------

function isBlank(char: string | undefined): boolean {
  return char === ' ' || char === '\t' || char === '\n';
}

/** Must the byte at `index` (of the first `length` bytes) be encoded: 8-bit, control, "=?" starting a word, a bad line end. */
function needsEncoding(bytes: string, index: number, length: number): boolean {
  const char = bytes[index];
  if (char === '\r' || char === '\n') {
    let lineFeed = index;
    if (char === '\r') {
      if (index + 1 === length || bytes[index + 1] !== '\n') return true;
      lineFeed++;
    }
    // a line end is kept only as a fold: followed by a blank, and not last
    return lineFeed + 1 === length || (bytes[lineFeed + 1] !== '\t' && bytes[lineFeed + 1] !== ' ');
  }
  if (char === '\t') return false;
  if (char === '=') return (index === 0 || isBlank(bytes[index - 1])) && index + 1 < length && bytes[index + 1] === '?';
  const code = bytes.charCodeAt(index);
  return code >= 0x80 || code < 0x20;
}

function hex(code: number): string {
  return `=${code.toString(16).toUpperCase().padStart(2, '0')}`;
}

function utf8Length(lead: number): number {
  if (lead < 0xc0) return 1;
  if (lead < 0xe0) return 2;
  return lead < 0xf0 ? 3 : 4;
}

/** "Q" words of at most 76 columns, never splitting a character; the first line already holds `firstLineLength`. */
function encodeQ(bytes: string, firstLineLength: number): string {
  let left = MAX_ENCODED_LINE - WRAPPER_LENGTH;
  let out = '';
  if (firstLineLength >= left - 3) {
    out += '\n\t';
    left--;
  } else {
    left -= firstLineLength;
  }
  out += '=?utf-8?q?';
  for (let index = 0; index < bytes.length; ) {
    const char = bytes[index];
    const code = bytes.charCodeAt(index);
    const length = char === ' ' || '=?_'.includes(char) ? 1 : utf8Length(code);
    const plain = char === ' ' || (length === 1 && code >= 0x20 && code <= 0x7e && !'=?_'.includes(char));
    const width = plain ? 1 : length * 3;
    if (left < width) {
      out += '?=\n\t=?utf-8?q?';
      left = MAX_ENCODED_LINE - WRAPPER_LENGTH - 1;
    }
    if (char === ' ') out += '_';
    else if (plain) out += char;
    else for (let byte = 0; byte < length; byte++) out += hex(bytes.charCodeAt(index + byte));
    left -= width;
    index += length;
  }
  return `${out}?=`;
}

/** "B" words of at most 76 columns, split between characters; the first line already holds `firstLineLength`. */
function encodeB(bytes: string, firstLineLength: number): string {
  const maxDecoded = (size: number) => Math.floor((size + 3) / 4) * 3;
  const maxEncoded = (size: number) => Math.floor((size + 2) / 3) * 4;
  let out = '';
  let lineLength = firstLineLength;
  if (lineLength >= MAX_ENCODED_LINE - WRAPPER_LENGTH) {
    out += '\n\t';
    lineLength = 1;
  }
  let rest = bytes;
  for (;;) {
    const left = MAX_ENCODED_LINE - WRAPPER_LENGTH - lineLength;
    let take = maxDecoded(left);
    do {
      take--;
      if (take > rest.length) take = rest.length;
      else while (take > 0 && (rest.charCodeAt(take) & 0xc0) === 0x80) take--;
    } while (maxEncoded(take) > left && take > 0);
    if (take > 0) out += `=?utf-8?b?${Buffer.from(rest.slice(0, take), 'latin1').toString('base64')}?=`;
    rest = rest.slice(take);
    if (rest === '') return out;
    out += '\n\t';
    lineLength = 1;
  }
}

/**
 * Encodes the words of `bytes` (UTF-8, as a binary string) that need it, from the first such word to the end of
 * the last one on each line, in "Q" unless "B" is clearly shorter. Line ends are kept as folds; the folds it adds
 * are LF TAB (headerField turns them into its line end).
 */
export function encodeWords(bytes: string): string {
  let start = 0;
  while (start < bytes.length && !needsEncoding(bytes, start, bytes.length)) start++;
  if (start === bytes.length) return bytes;
  if (bytes[start] !== '\r' && bytes[start] !== '\n') while (start > 0 && !isBlank(bytes[start - 1])) start--;
  // Dovecot counts the first line as everything before the word unless a line end precedes it: then as the
  // offset of that line's start
  const lineStart = start === 0 ? 0 : bytes.lastIndexOf('\n', start - 1) + 1;
  const firstLineLength = lineStart === 0 ? start : lineStart;
  let out = bytes.slice(0, start);
  let line = bytes.slice(start);
  let next: string | undefined;
  const lineFeed = line.indexOf('\n');
  if (lineFeed >= 0) {
    const end = lineFeed > 0 && line[lineFeed - 1] === '\r' ? lineFeed - 1 : lineFeed;
    next = line.slice(end);
    line = line.slice(0, end);
  }
  let last = 0;
  let count = 0;
  for (let index = 0; index < line.length; index++) {
    if (needsEncoding(line, index, line.length)) {
      last = index + 1;
      count++;
    }
  }
  while (last < line.length && !isBlank(line[last])) last++;
  if (last > 0) {
    const base64Length = Math.floor((last + 2) / 3) * 4;
    const useQ = Math.floor(((last + count * 3) * 2) / 3) <= base64Length;
    out += useQ ? encodeQ(line.slice(0, last), firstLineLength) : encodeB(line.slice(0, last), firstLineLength);
  }
  out += line.slice(last);
  if (next === undefined) return out;
  const crlf = next[0] === '\r';
  let index = crlf ? 2 : 1;
  if (index === next.length) return out; // a trailing line end is dropped
  out += crlf ? '\r\n' : '\n';
  if (next[index] === ' ' || next[index] === '\t') out += next[index++];
  else out += '\t';
  return out + encodeWords(next.slice(index));
}
