// Header fields as the Sieve header, address, exists and date tests see them
// (Pigeonhole 0.5 over Dovecot 2.3's lib-mail). Pure; never throws.
//
// - parseHeaderFields: the fields in order. A field is "Name:" (blanks before
//   the colon are not part of the name) up to the next line that does not
//   start with a space or tab; lines without a colon are skipped. Unfolding
//   drops each line end and turns the blank that begins the continuation line
//   into a space; the blanks right after the colon are skipped.
// - headerValues: the values of one field, trailing blanks trimmed; with
//   decode, RFC 2047 encoded words are decoded first as Dovecot does: words
//   found anywhere (not only between blanks), blanks between two words
//   dropped, a malformed word left as it is, an unknown charset read as UTF-8.
//
// Also the byte decoders ./body.ts shares: lenient base64 and charset → UTF-8
// (invalid sequences become one U+FFFD, as Dovecot writes them).

export interface HeaderField {
  name: string;
  /** unfolded, not decoded; blanks after the colon skipped, trailing blanks kept */
  value: string;
}

/** The header section's fields in order (LF or CRLF line ends; stops at a blank line). */
export function parseHeaderFields(header: Buffer): HeaderField[] {
  const fields: HeaderField[] = [];
  let current: HeaderField | undefined;
  for (const rawLine of header.toString('utf8').split('\n')) {
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    if (line === '') break;
    if (line[0] === ' ' || line[0] === '\t') {
      if (current) current.value += ' ' + line.slice(1);
      continue;
    }
    const colon = line.indexOf(':');
    if (colon < 0) {
      current = undefined;
      continue;
    }
    current = { name: trimEndBlanks(line.slice(0, colon)), value: line.slice(colon + 1).replace(/^[ \t]+/, '') };
    fields.push(current);
  }
  return fields;
}

/**
 * The values of the named field (case-insensitive), in header order, trailing
 * blanks trimmed — after decoding, so a decoded trailing space goes too, while
 * blanks that begin the value after a fold or a decoded word stay.
 */
export function headerValues(fields: readonly HeaderField[], name: string, decode: boolean): string[] {
  const wanted = name.toLowerCase();
  const values: string[] = [];
  for (const field of fields) {
    if (field.name.toLowerCase() !== wanted) continue;
    values.push(trimEndBlanks(decode ? decodeEncodedWords(field.value) : field.value));
  }
  return values;
}

function trimEndBlanks(text: string): string {
  let end = text.length;
  while (end > 0 && (text[end - 1] === ' ' || text[end - 1] === '\t')) end--;
  return text.slice(0, end);
}

function isLinearWhitespace(text: string): boolean {
  return /^[ \t\r\n]*$/.test(text);
}

/** RFC 2047 decoding of a whole header value, with Dovecot's tolerance. */
function decodeEncodedWords(text: string): string {
  if (!text.includes('=?')) return text;
  let decoded = '';
  let plainStart = 0;
  let searchFrom = 0;
  for (;;) {
    const start = text.indexOf('=?', searchFrom);
    if (start < 0) break;
    // text between two encoded words is dropped when it is only blanks,
    // even when the second turns out not to be an encoded word
    const plain = text.slice(plainStart, start);
    if (!isLinearWhitespace(plain)) decoded += plain;
    plainStart = start;
    const word = readEncodedWord(text, start);
    if (!word) {
      searchFrom = start + 1;
      continue;
    }
    decoded += word.text;
    plainStart = searchFrom = word.end;
  }
  return collapseReplacements(decoded + text.slice(plainStart));
}

/**
 * "=?" charset "?" encoding "?" text "?=" at `start` (the first letter of the
 * encoding counts; the text may hold blanks but no "?").
 */
function readEncodedWord(text: string, start: number): { text: string; end: number } | undefined {
  const charsetEnd = text.indexOf('?', start + 2);
  const encodingEnd = charsetEnd < 0 ? -1 : text.indexOf('?', charsetEnd + 1);
  const payloadEnd = encodingEnd < 0 ? -1 : text.indexOf('?', encodingEnd + 1);
  if (payloadEnd < 0 || text[payloadEnd + 1] !== '=') return undefined;
  const encoding = text[charsetEnd + 1]!.toUpperCase();
  if (encoding !== 'Q' && encoding !== 'B') return undefined;
  const payload = Buffer.from(text.slice(encodingEnd + 1, payloadEnd), 'utf8');
  const bytes = encoding === 'B' ? decodeBase64(payload) : decodeQEncoding(payload);
  // RFC 2231 allows a language after the charset: "utf-8*en"
  const charset = text.slice(start + 2, charsetEnd).replace(/\*.*$/, '');
  return { text: decodeCharset(bytes, charset, false), end: payloadEnd + 2 };
}

/** Q encoding: "_" is a space, "=XX" a byte; a "=" without two hex digits stays */
function decodeQEncoding(payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(payload.length);
  let length = 0;
  for (let index = 0; index < payload.length; index++) {
    const byte = payload[index]!;
    if (byte === 0x5f) {
      out[length++] = 0x20;
    } else if (byte === 0x3d && isHexDigit(payload[index + 1]) && isHexDigit(payload[index + 2])) {
      out[length++] = parseInt(String.fromCharCode(payload[index + 1]!, payload[index + 2]!), 16);
      index += 2;
    } else {
      out[length++] = byte;
    }
  }
  return out.subarray(0, length);
}

export function isHexDigit(byte: number | undefined): boolean {
  return (
    byte !== undefined &&
    ((byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x46) || (byte >= 0x61 && byte <= 0x66))
  );
}

/**
 * Base64 as Dovecot decodes it: blanks and line ends skipped, decoding stops
 * at "=" or at the first character outside the alphabet; a final partial
 * group still yields its whole bytes.
 */
export function decodeBase64(encoded: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(Math.ceil((encoded.length * 3) / 4));
  let length = 0;
  let bits = 0;
  let bitCount = 0;
  for (const byte of encoded) {
    if (byte === 0x20 || byte === 0x09 || byte === 0x0d || byte === 0x0a) continue;
    const value = base64Value(byte);
    if (value < 0) break;
    bits = ((bits << 6) | value) & 0xffffff;
    bitCount += 6;
    if (bitCount >= 8) {
      bitCount -= 8;
      out[length++] = (bits >> bitCount) & 0xff;
    }
  }
  return out.subarray(0, length);
}

function base64Value(byte: number): number {
  if (byte >= 0x41 && byte <= 0x5a) return byte - 0x41;
  if (byte >= 0x61 && byte <= 0x7a) return byte - 0x61 + 26;
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30 + 52;
  if (byte === 0x2b) return 62;
  if (byte === 0x2f) return 63;
  return -1;
}

const UTF8_NAMES = new Set(['', 'utf-8', 'utf8', 'us-ascii', 'ascii']);
// The WHATWG decoder reads these labels as windows-1252; iconv (Dovecot) as true Latin-1.
const LATIN1_NAMES = new Set(['iso-8859-1', 'iso8859-1', 'iso_8859-1', 'latin1', 'l1', 'cp819', 'ibm819']);
// Node 20's decoder reads windows-1252 as Latin-1 too, so its upper C1 range is mapped here (iconv's table).
const WINDOWS_1252_NAMES = new Set(['windows-1252', 'cp1252', 'x-cp1252']);
const WINDOWS_1252_80_TO_9F =
  '\u20AC\uFFFD\u201A\u0192\u201E\u2026\u2020\u2021\u02C6\u2030\u0160\u2039\u0152\uFFFD\u017D\uFFFD' +
  '\uFFFD\u2018\u2019\u201C\u201D\u2022\u2013\u2014\u02DC\u2122\u0161\u203A\u0153\uFFFD\u017E\u0178';

/**
 * Text in `charset`, as UTF-8 (a JS string). An unknown charset is read as
 * UTF-8. Invalid sequences become U+FFFD, a run of them one U+FFFD.
 * dropIncompleteTail: a character cut off at the end is dropped, not
 * replaced (Dovecot's streaming body decoder never sees its end).
 */
export function decodeCharset(bytes: Uint8Array, charset: string | undefined, dropIncompleteTail: boolean): string {
  const name = (charset ?? '').trim().toLowerCase();
  if (LATIN1_NAMES.has(name)) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  if (WINDOWS_1252_NAMES.has(name)) {
    const latin1 = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
    const mapped = latin1.replace(/[\x80-\x9f]/g, (char) => WINDOWS_1252_80_TO_9F[char.charCodeAt(0) - 0x80]!);
    return collapseReplacements(mapped);
  }
  let decoder: TextDecoder | undefined;
  if (!UTF8_NAMES.has(name)) {
    try {
      decoder = new TextDecoder(name);
    } catch {
      // unknown charset: UTF-8 below, which may still find usable ASCII
    }
  }
  if (decoder) return collapseReplacements(decoder.decode(bytes, { stream: dropIncompleteTail }));
  const end = dropIncompleteTail ? completeUtf8Length(bytes) : bytes.length;
  return collapseReplacements(new TextDecoder('utf-8').decode(bytes.subarray(0, end)));
}

/** The length up to a final character whose lead byte announces more bytes than remain. */
function completeUtf8Length(bytes: Uint8Array): number {
  let index = 0;
  while (index < bytes.length) {
    const lead = bytes[index]!;
    // the length a lead byte announces (Dovecot counts the old 5- and 6-byte forms too)
    const length =
      lead < 0xc0 ? 1 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : lead < 0xf8 ? 4 : lead < 0xfc ? 5 : lead < 0xfe ? 6 : 1;
    if (index + length > bytes.length) break;
    index += length;
  }
  return index;
}

function collapseReplacements(text: string): string {
  return text.includes('\uFFFD\uFFFD') ? text.replace(/\uFFFD{2,}/g, '\uFFFD') : text;
}
