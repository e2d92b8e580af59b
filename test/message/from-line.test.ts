// Whether a line parses was checked against dovecot-lda 2.3.19: it uses the
// From_ line's sender (seen in the mbox From_ line it writes) only when the
// whole line parses. Dates are local time unless a numeric zone follows the year.
import { describe, it, expect } from 'vitest';
import { formatFromLineDate, parseFromLine } from '../../src/message/from-line.js';

const local = (y: number, mo: number, d: number, h: number, mi: number, s: number) => new Date(y, mo, d, h, mi, s);
const utc = (y: number, mo: number, d: number, h: number, mi: number, s: number) => new Date(Date.UTC(y, mo, d, h, mi, s));

describe('parseFromLine', () => {
  const parsed: [string, string, Date][] = [
    ['From a@b Thu Nov  9 22:33:52 2002', 'a@b', local(2002, 10, 9, 22, 33, 52)],
    ['From a@b Thu Nov 9 22:33:52 2002', 'a@b', local(2002, 10, 9, 22, 33, 52)],
    ['From a@b Thu Nov 09 22:33:52 2002', 'a@b', local(2002, 10, 9, 22, 33, 52)],
    ['From a@b Thu Nov 10 22:33:52 2002', 'a@b', local(2002, 10, 10, 22, 33, 52)],
    ['From a@b Thu Nov  9 22:33 2002', 'a@b', local(2002, 10, 9, 22, 33, 0)],
    ['From a@b Thu Nov  9 22:33:52 EST 2002', 'a@b', local(2002, 10, 9, 22, 33, 52)],
    ['From a@b Thu Nov  9 22:33:52 E 2002', 'a@b', local(2002, 10, 9, 22, 33, 52)],
    // a numeric zone before the year is skipped like a name
    ['From a@b Thu Nov  9 22:33:52 +0200 2002', 'a@b', local(2002, 10, 9, 22, 33, 52)],
    ['From a@b Thu Nov  9 22:33:52 2002 +0200', 'a@b', utc(2002, 10, 9, 20, 33, 52)],
    ['From a@b Thu Nov  9 22:33:52 2002 -0130', 'a@b', utc(2002, 10, 10, 0, 3, 52)],
    ['From a@b Mon Jan  1 00:00:00 2001 -0000', 'a@b', utc(2001, 0, 1, 0, 0, 0)],
    ['From a@b Thu Nov  9 22:33:52 2002 EST', 'a@b', local(2002, 10, 9, 22, 33, 52)],
    ['From a@b Thu Nov  9 22:33:52 2002 trailing junk', 'a@b', local(2002, 10, 9, 22, 33, 52)],
    ['From a@b Thu Nov  9 22:33:52 20021', 'a@b', local(2002, 10, 9, 22, 33, 52)],
    ['From a@b Thu Nov  9 22:33:52  2002', 'a@b', local(2002, 10, 9, 22, 33, 52)],
    ['From a@b Thu Nov  9 22:33:52 2002\r', 'a@b', local(2002, 10, 9, 22, 33, 52)],
    ['From a@b    Thu Nov  9 22:33:52 2002', 'a@b', local(2002, 10, 9, 22, 33, 52)],
    ['From a@b Thu nov  9 22:33:52 2002', 'a@b', local(2002, 10, 9, 22, 33, 52)],
    ['From a@b XXX Nov  9 22:33:52 2002', 'a@b', local(2002, 10, 9, 22, 33, 52)],
    ['From a@b Thu ??? 9 22:33:52 2002', 'a@b', local(2002, 0, 9, 22, 33, 52)],
    ['From a@b Thu Nov  0 22:33:52 2002', 'a@b', local(2002, 10, 1, 22, 33, 52)],
    ['From a@b Thu, 9 Nov 2002 22:33:52', 'a@b', local(2002, 10, 9, 22, 33, 52)],
    ['From a@b Thu, 09 Nov 2002 22:33', 'a@b', local(2002, 10, 9, 22, 33, 0)],
    ['From a@b Thu, 9 Nov 2002 22:33:52 +0100', 'a@b', utc(2002, 10, 9, 21, 33, 52)],
    ['From a@b Thu, 9 Nov 2002 22:33:52 EST', 'a@b', local(2002, 10, 9, 22, 33, 52)],
    ['From "a b"@c Thu Nov  9 22:33:52 2002', '"a b"@c', local(2002, 10, 9, 22, 33, 52)],
    ['From <> Thu Nov  9 22:33:52 2002', '<>', local(2002, 10, 9, 22, 33, 52)],
    ['From  Thu Nov  9 22:33:52 2002', '', local(2002, 10, 9, 22, 33, 52)],
    ['From a@b Thu Nov  9 22:33:52 0099', 'a@b', (() => { const d = local(2000, 10, 9, 22, 33, 52); d.setFullYear(99); return d; })()],
  ];
  it.each(parsed)('%j', (line, sender, date) => {
    const result = parseFromLine(line);
    expect(result?.sender).toBe(sender);
    expect(result?.date.getTime()).toBe(date.getTime());
  });

  const unparsable = [
    'From a@b Thu Nov  9 22:33:52',
    'From a@b\tThu Nov  9 22:33:52 2002',
    'From a@b Thu Nov  9 22:33:5 2002',
    'From a@b',
    'From a@b Thu Nov  9 22:33:52 02',
    'From "a b@c Thu Nov  9 22:33:52 2002',
    'From a@b Thu Nov  9 22:33:52 EST\r2002',
    'From a@b Thu Nov 9 22:33 2002',
    'From a@b ThuNov  9 22:33:52 2002',
    'From a@b Thu  Nov  9 22:33:52 2002',
    'From a@b Thu, 9 Nov 02 22:33:52',
    'From a@b Thu Nov 1x 22:33:52 2002',
    'From someone@x garbage',
    'from a@b Thu Nov  9 22:33:52 2002',
    'Thu Nov  9 22:33:52 2002',
  ];
  it.each(unparsable)('%j does not parse', (line) => {
    expect(parseFromLine(line)).toBeUndefined();
  });
});

describe('formatFromLineDate', () => {
  const cases: [Date, string][] = [
    [local(2002, 10, 9, 22, 33, 52), 'Sat Nov 09 22:33:52 2002'],
    [local(2026, 0, 1, 0, 0, 0), 'Thu Jan 01 00:00:00 2026'],
    [local(1999, 11, 31, 23, 59, 59), 'Fri Dec 31 23:59:59 1999'],
  ];
  it.each(cases)('%s → %s', (date, text) => {
    expect(formatFromLineDate(date)).toBe(text);
  });

  it('round-trips through parseFromLine', () => {
    const date = local(2024, 1, 29, 7, 5, 3);
    expect(parseFromLine(`From x@y  ${formatFromLineDate(date)}`)?.date.getTime()).toBe(date.getTime());
  });
});
