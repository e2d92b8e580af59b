// The helpers the outgoing Sieve mail shares. Folding and encoding are checked
// against lines Pigeonhole 0.5.19 wrote (the vacation replies in
// test/fixtures/sieve/vacation/replies/ and redirects through dovecot-lda);
// the composers' own byte-for-byte tests cover them in context.

import { describe, expect, it } from 'vitest';
import type { ParsedAddress } from '../../../src/sieve/runtime/address.js';
import {
  bytesOf,
  encodeWords,
  fieldNameOf,
  firstRawValue,
  formatDovecotMessageId,
  formatMailbox,
  headerField,
  quoteIfNeeded,
} from '../../../src/sieve/outgoing/mail-format.js';

describe('formatDovecotMessageId', () => {
  it.each<['dovecot' | 'dovecot-sieve', number, number, string, string]>([
    ['dovecot', 1796076329_080789, 0, 'vm', '<dovecot-1796076329-80789-0@vm>'],
    ['dovecot-sieve', 1796076307_096714, 3, 'mx.example.org', '<dovecot-sieve-1796076307-96714-3@mx.example.org>'],
  ])('%s', (prefix, micros, counter, host, expected) => {
    expect(formatDovecotMessageId(prefix, micros, counter, host)).toBe(expected);
  });
});

describe('bytesOf', () => {
  it.each([
    ['plain ASCII', 'abc', 'abc'],
    ['two-byte UTF-8', 'é', '\xc3\xa9'],
    ['four-byte UTF-8', '\u{1f600}', '\xf0\x9f\x98\x80'],
  ])('%s', (_name, text, expected) => {
    expect(bytesOf(text)).toBe(expected);
  });
});

describe('quoteIfNeeded', () => {
  it.each<[string, boolean, string]>([
    ['Admin', true, 'Admin'],
    ["a!#$%&'*+-/=?^_`{|}~z", false, "a!#$%&'*+-/=?^_`{|}~z"],
    ['Mail.Admin', true, '"Mail.Admin"'],
    ['post.master', false, 'post.master'],
    ['Mail Admin', true, '"Mail Admin"'],
    ['Bob "B" O\'Neil', true, '"Bob \\"B\\" O\\\'Neil"'],
    ['back\\slash', false, '"back\\\\slash"'],
    ['Pöstmaster', true, 'Pöstmaster'],
    ['a@b', false, '"a@b"'],
    ['', true, ''],
  ])('%j (dot needs quotes: %s)', (word, dotNeedsQuotes, expected) => {
    expect(quoteIfNeeded(word, dotNeedsQuotes)).toBe(expected);
  });
});

describe('formatMailbox', () => {
  it.each<[string, ParsedAddress, string]>([
    // the rest (names and local parts quoted, encoded words kept) through the postmaster in reject.test.ts
    ['no name', { localpart: 'pm', domain: 'example.org' }, '<pm@example.org>'],
    ['a name to quote', { name: 'Sender Name', localpart: 'a.b', domain: 'example.org' }, '"Sender Name" <a.b@example.org>'],
    ['an empty local part', { localpart: '', domain: 'example.org' }, '<""@example.org>'],
    ['no domain: no "@"', { localpart: 'postmaster', domain: '' }, '<postmaster>'],
  ])('%s', (_name, address, expected) => {
    expect(formatMailbox(address)).toBe(expected);
  });
});

describe('fieldNameOf', () => {
  it.each<[string, string | undefined]>([
    ['Subject: x', 'subject'],
    ['Content-Type \t: text/plain', 'content-type'],
    ['RETURN-PATH:<a@b>', 'return-path'],
    ['X-Empty:', 'x-empty'],
    ['no colon here', undefined],
  ])('%j', (line, expected) => {
    expect(fieldNameOf(line)).toBe(expected);
  });
});

describe('firstRawValue', () => {
  it.each<[string, string, string, string | undefined]>([
    ['the first field only', 'Subject: one\nSubject: two\n', 'Subject', 'one'],
    ['any case, blanks before the colon', 'subject \t:  x\n', 'SUBJECT', 'x'],
    ['leading blanks skipped, trailing kept', 'Subject: \t spaced  \n', 'Subject', 'spaced  '],
    ['folds kept as LF, CR dropped', 'Subject: a\r\n b\r\n\tc\r\nTo: t\r\n', 'Subject', 'a\n b\n\tc'],
    ['the last field, no line end', 'To: t\nSubject: last', 'Subject', 'last'],
    ['an empty value', 'Subject:\n', 'Subject', ''],
    ['a continuation of another field does not count', 'To: t\n Subject: x\n', 'Subject', undefined],
    ['missing', 'To: t\n', 'Subject', undefined],
  ])('%s', (_name, header, name, expected) => {
    expect(firstRawValue(header, name)).toBe(expected);
  });
});

describe('headerField', () => {
  const w = (count: number) => 'w'.repeat(count);

  it.each<[string, string, string, '\r\n' | '\n' | undefined, string]>([
    ['short, CRLF by default', 'Precedence', 'bulk', undefined, 'Precedence: bulk\r\n'],
    ['short, LF', 'X-Sieve', 'Pigeonhole Sieve 0.5.19 (4eae2f79)', '\n', 'X-Sieve: Pigeonhole Sieve 0.5.19 (4eae2f79)\n'],
    // subject-blanks-at-fold and subject-blanks-before-fold
    ['blanks around a fold go, inside a line stay', 'Subject', `Auto: ${w(59)} ab  cd  ef gh ij kl mn`, undefined, `Subject: Auto: ${w(59)} ab\r\n\tcd  ef gh ij kl mn\r\n`],
    ['the same one column earlier', 'Subject', `Auto: ${w(58)} ab  cd  ef gh ij kl mn`, undefined, `Subject: Auto: ${w(58)} ab\r\n\tcd  ef gh ij kl mn\r\n`],
    // measured with redirect: the blanks after the break go too
    ['blanks after the break, LF', 'X-Sieve-Redirected-From', `"${'x'.repeat(53)}   y"@example.org`, '\n', `X-Sieve-Redirected-From: "${'x'.repeat(53)}\n\ty"@example.org\n`],
    ['no blank to break at: one long line', 'X-Long', 'x'.repeat(120), undefined, `X-Long: ${'x'.repeat(120)}\r\n`],
    ['a line end in the value is kept as a fold', 'Subject', 'one  \n  two\r\nthree', undefined, 'Subject: one\r\n\ttwo\r\n\tthree\r\n'],
    ['the same with LF', 'Subject', 'one\r\ntwo', '\n', 'Subject: one\n\ttwo\n'],
  ])('%s', (_name, name, body, lineEnd, expected) => {
    expect(headerField(name, body, lineEnd)).toBe(expected);
  });
});

describe('encodeWords, folded by headerField: as Pigeonhole wrote the vacation replies', () => {
  const field = (name: string, value: string) => headerField(name, encodeWords(bytesOf(value)));

  it.each<[string, string, string, string]>([
    ['ASCII stays as it is', 'Subject', 'Auto: hello', 'Subject: Auto: hello\r\n'],
    ['from-utf8: the span of 8-bit words in Q', 'From', 'Jörg Über <joerg@example.org>', 'From: =?utf-8?q?J=C3=B6rg_=C3=9Cber?= <joerg@example.org>\r\n'],
    ['subject-cjk: one B word', 'Subject', 'Auto: 日本語の件名です', 'Subject: Auto: =?utf-8?b?5pel5pys6Kqe44Gu5Lu25ZCN44Gn44GZ?=\r\n'],
    [
      'subject-q-late-start: a Q word past column 61 starts a new line',
      'Subject',
      `${'b'.repeat(62)} Grüße aus Köln`,
      `Subject: ${'b'.repeat(62)}\r\n\t=?utf-8?q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?=\r\n`,
    ],
    [
      'subject-long-utf8-b: B words over several lines, split between characters',
      'Subject',
      `Auto: Ünïcödé everywhere: ${'ÄÖÜ äöü ß '.repeat(7).trimEnd()}`,
      'Subject: Auto:\r\n' +
        '\t=?utf-8?b?w5xuw69jw7Zkw6kgZXZlcnl3aGVyZTogw4TDlsOcIMOkw7bDvCDDnyA=?=\r\n' +
        '\t=?utf-8?b?w4TDlsOcIMOkw7bDvCDDnyDDhMOWw5wgw6TDtsO8IMOfIMOEw5bDnCDDpMO2?=\r\n' +
        '\t=?utf-8?b?w7wgw58gw4TDlsOcIMOkw7bDvCDDnyDDhMOWw5wgw6TDtsO8IMOfIMOEw5Y=?=\r\n' +
        '\t=?utf-8?b?w5wgw6TDtsO8IMOf?=\r\n',
    ],
  ])('%s', (_name, name, value, expected) => {
    expect(field(name, value)).toBe(expected);
  });

  it.each<[string, string, string]>([
    ['ASCII as it is', 'plain text', 'plain text'],
    ['"=?" starting a word is encoded', 'a =?x', 'a =?utf-8?q?=3D=3Fx?='],
    ['"=?" inside a word is not', 'a b=?x', 'a b=?x'],
    ['a control character is encoded', 'a\x01b c', '=?utf-8?q?a=01b?= c'],
    ['a fold is kept, a trailing line end dropped', 'a\n\tb\n', 'a\n\tb'],
  ])('on its own: %s', (_name, bytes, expected) => {
    expect(encodeWords(bytes)).toBe(expected);
  });
});
