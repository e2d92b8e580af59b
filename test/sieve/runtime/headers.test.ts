// Header fields and values as Pigeonhole's header/exists tests see them. The
// expected values were checked against Pigeonhole 0.5 (sieve-test).

import { describe, expect, it } from 'vitest';
import { decodeBase64, decodeCharset, headerValues, parseHeaderFields } from '../../../src/sieve/runtime/headers.js';

const fields = (text: string) => parseHeaderFields(Buffer.from(text));
const values = (text: string, name: string, decode = true) => headerValues(fields(text), name, decode);

describe('parseHeaderFields', () => {
  it.each([
    ['one field', 'Subject: hello\n', [{ name: 'Subject', value: 'hello' }]],
    ['order kept, repeats kept', 'A: 1\nB: 2\nA: 3\n', [
      { name: 'A', value: '1' },
      { name: 'B', value: '2' },
      { name: 'A', value: '3' },
    ]],
    ['folded with a tab: the tab becomes a space', 'Subject: a\n\tb\n c\n', [{ name: 'Subject', value: 'a b c' }]],
    ['only the first blank of a continuation becomes a space', 'Subject: a\n\t\tb\n', [{ name: 'Subject', value: 'a \tb' }]],
    ['CRLF line ends', 'Subject: a\r\n b\r\nX: y\r\n', [
      { name: 'Subject', value: 'a b' },
      { name: 'X', value: 'y' },
    ]],
    ['blanks before the colon are not in the name', 'Subject : x\nX-Y\t : v\n', [
      { name: 'Subject', value: 'x' },
      { name: 'X-Y', value: 'v' },
    ]],
    ['no blank after the colon; an empty value', 'X-A:nospace\nX-B:\n', [
      { name: 'X-A', value: 'nospace' },
      { name: 'X-B', value: '' },
    ]],
    ['a value starting on the next line keeps the folded blank', 'Subject:\n x\n', [{ name: 'Subject', value: ' x' }]],
    ['blanks after the colon are skipped, trailing ones kept', 'X:  \t v \t\n', [{ name: 'X', value: 'v \t' }]],
    ['lines without a colon and stray continuations are skipped', ' cont\nno colon line\n more\nX: 1\n', [{ name: 'X', value: '1' }]],
    ['a name with a space and an empty name', 'X Y: v\n: e\n', [
      { name: 'X Y', value: 'v' },
      { name: '', value: 'e' },
    ]],
    ['stops at a blank line', 'A: 1\n\nB: 2\n', [{ name: 'A', value: '1' }]],
  ])('%s', (_name, header, expected) => {
    expect(fields(header)).toEqual(expected);
  });
});

describe('headerValues', () => {
  it('matches names case-insensitively, in header order', () => {
    expect(values('X-B: 1\nx-b: 2\nX-C: 3\n', 'X-b', false)).toEqual(['1', '2']);
    expect(values('X-B: 1\n', 'x-none', false)).toEqual([]);
  });

  it('trims trailing blanks, raw or decoded', () => {
    expect(values('X: a \t\n', 'x', false)).toEqual(['a']);
    expect(values('X: a \n\t\n', 'x', true)).toEqual(['a']);
  });

  it('leaves encoded words alone without decode', () => {
    expect(values('Subject: =?utf-8?q?caf=C3=A9?=\n', 'subject', false)).toEqual(['=?utf-8?q?caf=C3=A9?=']);
  });

  // RFC 2047, the way Dovecot decodes it
  it.each([
    ['adjacent words join, text keeps its blanks', '=?utf-8?q?a?= =?utf-8?q?b?=  =?utf-8?q?c?= d =?utf-8?q?e?=', 'abc d e'],
    ['words inside other text', 'abc=?utf-8?q?d?= x=?utf-8?q?e?=f', 'abcd xef'],
    ['malformed word left, unknown charset read as UTF-8', '=?utf-8?x?abc?= =?x-unknown?q?caf=E9?= =?utf-8?q?a_b?=', '=?utf-8?x?abc?= caf\uFFFDa b'],
    ['base64 with and without padding, language, Latin-1', '=?utf-8?b?Y2Fmw6k=?= =?utf-8?b?Y2Fmw6k?= =?utf-8*en?q?lang?= =?iso-8859-1?q?caf=E9?=', 'cafécafélangcafé'],
    ['a character split over two words is lost', '=?utf-8?q?caf=C3?= =?utf-8?q?=A9?=', 'caf\uFFFD'],
    ['invalid UTF-8', '=?utf-8?q?bad=E9?=', 'bad\uFFFD'],
    ['a fold between words', '=?utf-8?q?a?=\n =?utf-8?q?b?=', 'ab'],
    ['words in quotes and comments', '"=?utf-8?q?quoted?=" (=?utf-8?q?comment?=)', '"quoted" (comment)'],
    ['blanks inside the text, empty text, empty charset, upper-case Q', '=?utf-8?q?a b?= | =?utf-8?q??=x | =??q?a?= | =?utf-8?Q?a?=', 'a b | x | a | a'],
    ['words with no blank between', '=?utf-8?q?a?==?utf-8?q?b?= =?utf-8?B?YQ==?=\t =?utf-8?q?c?=', 'abac'],
    ['bad Q and B content', '=?utf-8?q?a?=?= =?utf-8?q?=4?= =?utf-8?q?=4g?= =?utf-8?b?Y*Q==?= =?utf-8?b?YQ?= =?utf-8?q?a?', 'a?= =4=4ga=?utf-8?q?a?'],
    ['blanks before a false word go', '=?utf-8?q?x?= =?bogus', 'x=?bogus'],
    ['blanks after a false word stay', '=?utf-8?q?x?= =?utf-8?x?y?= =?utf-8?q?z?=', 'x=?utf-8?x?y?= z'],
    ['windows-1252, us-ascii as UTF-8, latin1', '=?windows-1252?q?=80=81?= =?us-ascii?q?=E9?= =?latin1?q?=E9=80?=', '€\uFFFDé\u0080'],
    ['UTF-16 (little-endian without BOM), ISO-2022-JP', '=?utf-16?b?AGEAYg==?= =?iso-2022-jp?b?GyRCJCIbKEI=?=', '愀戀あ'],
    ['base64 stops at a bad character or "="', '=?utf-8?b?YW*Jj?= | =?utf-8?b?YWJj!ZGVm?= | =?utf-8?b?YWJjZA=ZGVm?= | =?utf-8?b?YW Jj?= | =?utf-8?b?Y?=', 'a | abc | abcd | abc |'],
    ['a "?" ends the text: no word', '=?utf-8?q?a=20b=3?= | =?utf-8?q?a= =?utf-8?q?=C3=A9=c3=a9?=', 'a b=3 | =?utf-8?q?a= éé'],
    ['only the first letter of the encoding counts', '=?utf-8?qq?x?= =?utf-8??x?=', 'x=?utf-8??x?='],
    ['trailing blanks trimmed after decoding, leading kept', '=?utf-8?q?_b_?=', ' b'],
    ['KOI8-R', '=?koi8-r?b?0NLJ18XU?=', 'привет'],
  ])('%s', (_name, value, expected) => {
    expect(values(`Subject: ${value}\n`, 'subject')).toEqual([expected]);
  });
});

describe('decodeBase64', () => {
  it.each([
    ['aGVsbG8gd29y\r\nbGQ=', 'hello world'],
    ['aGVs!!bG8g', 'hel'],
    ['aGVsbG8=aGVsbG8=', 'hello'],
    ['aGVsbG8', 'hello'],
    ['Y', ''],
  ])('%s', (encoded, expected) => {
    expect(decodeBase64(Buffer.from(encoded)).toString()).toBe(expected);
  });
});

describe('decodeCharset', () => {
  it.each([
    ['utf-8, runs of invalid bytes become one U+FFFD', [0x61, 0xe9, 0xe9, 0x63], 'utf-8', false, 'a\uFFFDc'],
    ['an unknown charset is UTF-8', [0x61, 0xc3, 0xa9], 'x-unknown', false, 'aé'],
    ['a cut-off character is replaced', [0x61, 0xe2, 0x82], 'utf-8', false, 'a\uFFFD'],
    ['or dropped with dropIncompleteTail', [0x61, 0xe2, 0x82], 'utf-8', true, 'a'],
    ['a lead byte with too few bytes after it drops them all', [0x62, 0xe9, 0x63], undefined, true, 'b'],
    ['ISO-8859-1 keeps C1 controls', [0x80, 0xe9], 'ISO-8859-1', false, '\u0080é'],
    ['windows-1252 maps them', [0x80, 0x9f, 0xe9], 'windows-1252', false, '€Ÿé'],
    ['other charsets through TextDecoder', [0xd0, 0xd2], 'koi8-r', false, 'пр'],
  ])('%s', (_name, bytes, charset, dropTail, expected) => {
    expect(decodeCharset(Uint8Array.from(bytes), charset, dropTail)).toBe(expected);
  });
});
