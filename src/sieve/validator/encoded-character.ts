// RFC 5228 2.4.2.4 encoded-character: `${hex:41 42}` and `${unicode:263a}`
// in a string, decoded at compile time, with Pigeonhole's reading of the
// grammar: the encoding name may be any prefix of "hex" or "unicode" in any
// case (even an empty one means hex), hex items are one or two digits,
// whitespace (SP, HTAB, LF, CRLF) may surround items, and a sequence that
// does not parse is left as it is. Hex items are bytes, read as UTF-8 with the
// rest of the string (a byte sequence that is not UTF-8 becomes U+FFFD).
// Pure. Failure: a well-formed `${unicode:...}` naming a surrogate or a value
// past U+10FFFF is an error, returned as the offending value.

const DOLLAR = 0x24;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const COLON = 0x3a;
const SPACE = 0x20;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;

export type DecodeResult = { text: string } | { invalidCodePoint: number };

function hexValue(byte: number | undefined): number {
  if (byte === undefined) return -1;
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x61 + 10;
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x41 + 10;
  return -1;
}

function isAsciiAlpha(byte: number | undefined): boolean {
  return byte !== undefined && ((byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a));
}

function isValidCodePoint(value: number): boolean {
  return value <= 0x10ffff && !(value >= 0xd800 && value <= 0xdfff);
}

/** Decodes the encoded characters in `text`; text without "${" comes back as it is. */
export function decodeEncodedCharacters(text: string): DecodeResult {
  if (!text.includes('${')) return { text };
  const bytes = Buffer.from(text, 'utf8');
  const parts: Buffer[] = [];
  let copiedUpTo = 0;
  let index = 0;
  while (index < bytes.length) {
    if (bytes[index] !== DOLLAR) {
      index++;
      continue;
    }
    const start = index++;
    if (bytes[index] !== OPEN_BRACE) continue;
    index++;
    const nameStart = index;
    while (isAsciiAlpha(bytes[index])) index++;
    if (bytes[index] !== COLON) continue;
    const name = bytes.toString('latin1', nameStart, index).toLowerCase();
    index++;
    const hex = 'hex'.startsWith(name);
    if (!hex && !'unicode'.startsWith(name)) continue;
    const item = hex ? readHexItems(bytes, index) : readUnicodeItems(bytes, index);
    index = item.end;
    if (item.count === 0 || bytes[index] !== CLOSE_BRACE) continue;
    if (item.invalidCodePoint !== undefined) return { invalidCodePoint: item.invalidCodePoint };
    parts.push(bytes.subarray(copiedUpTo, start), item.decoded);
    index++;
    copiedUpTo = index;
  }
  if (parts.length === 0) return { text };
  parts.push(bytes.subarray(copiedUpTo));
  return { text: Buffer.concat(parts).toString('utf8') };
}

interface Items {
  decoded: Buffer;
  /** how many items were read */
  count: number;
  /** where reading stopped */
  end: number;
  invalidCodePoint?: number;
}

/** Skips SP, HTAB, LF and CRLF; -1 when a CR is not followed by LF. */
function skipWhitespace(bytes: Buffer, index: number): number {
  for (;;) {
    const byte = bytes[index];
    if (byte === SPACE || byte === TAB || byte === LF) index++;
    else if (byte === CR) {
      if (bytes[index + 1] !== LF) return -1;
      index += 2;
    } else return index;
  }
}

function readHexItems(bytes: Buffer, index: number): Items {
  const decoded: number[] = [];
  for (;;) {
    const next = skipWhitespace(bytes, index);
    if (next < 0) return { decoded: Buffer.alloc(0), count: 0, end: index };
    index = next;
    const high = hexValue(bytes[index]);
    if (high < 0) break;
    const low = hexValue(bytes[index + 1]);
    if (low < 0) {
      decoded.push(high);
      index++;
      continue;
    }
    index += 2;
    // an item has at most two digits: a third one spoils the whole sequence
    if (hexValue(bytes[index]) >= 0) break;
    decoded.push(high * 16 + low);
  }
  return { decoded: Buffer.from(decoded), count: decoded.length, end: index };
}

function readUnicodeItems(bytes: Buffer, index: number): Items {
  let decoded = '';
  let count = 0;
  let invalidCodePoint: number | undefined;
  for (;;) {
    const next = skipWhitespace(bytes, index);
    if (next < 0) return { decoded: Buffer.alloc(0), count: 0, end: index };
    index = next;
    if (hexValue(bytes[index]) < 0) break;
    let value = 0;
    while (hexValue(bytes[index]) >= 0) {
      value = value * 16 + hexValue(bytes[index]);
      index++;
    }
    count++;
    if (isValidCodePoint(value)) decoded += String.fromCodePoint(value);
    else invalidCodePoint ??= value;
  }
  const items: Items = { decoded: Buffer.from(decoded, 'utf8'), count, end: index };
  if (invalidCodePoint !== undefined) items.invalidCodePoint = invalidCodePoint;
  return items;
}
