// Date parsing and RFC 5260 date parts. Expected values checked against
// Pigeonhole 0.5 (sieve-test, date :originalzone "iso8601").

import { describe, expect, it } from 'vitest';
import { datePart, parseRfc2822Date, parseZone } from '../../../src/sieve/runtime/date.js';

/** the parsed date in its own zone, as `date :originalzone ... "iso8601"` shows it */
function iso(value: string): string | undefined {
  const date = parseRfc2822Date(value);
  return date && datePart(date.time, date.zoneOffsetMinutes, 'iso8601');
}

describe('parseRfc2822Date', () => {
  it.each([
    ['Sun, 29 Nov 2026 10:00:00 +0100', '2026-11-29T10:00:00+01:00'],
    ['29 Nov 2026 10:00:00 +0100', '2026-11-29T10:00:00+01:00'],
    ['29 Nov 2026 10:00 +0100', '2026-11-29T10:00:00+01:00'],
    ['9 Nov 2026 1:05 +0000', '2026-11-09T01:05:00Z'],
    ['  Sun ,  29  Nov  2026  10 : 00 : 00  +0100 (CET)', '2026-11-29T10:00:00+01:00'],
    ['29 Nov 2026 10:00 (c) +0200', '2026-11-29T10:00:00+02:00'],
    ['29 Nov 2026 10:00:00 +0100 junk', '2026-11-29T10:00:00+01:00'],
    ['Xyz, 29 Nov 2026 10:00 +0000', '2026-11-29T10:00:00Z'],
    ['29 November 2026 10:00 +0100', '2026-11-29T10:00:00+01:00'],
    ['29 nov 2026 10:00 +0000', '2026-11-29T10:00:00Z'],
    ['29 Nov 2026 1.05.07 +0000', '2026-11-29T01:05:07Z'],
    // two-digit years: Dovecot's 1970 pivot
    ['29 Nov 55 10:00 +0100', '2055-11-29T10:00:00+01:00'],
    ['29 Nov 69 10:00 +0100', '2069-11-29T10:00:00+01:00'],
    ['29 Nov 70 10:00 +0100', '1970-11-29T10:00:00+01:00'],
    ['29 Nov 99 10:00 +0100', '1999-11-29T10:00:00+01:00'],
    // zones
    ['29 Nov 2026 10:00 -0530', '2026-11-29T10:00:00-05:30'],
    ['29 Nov 2026 10:00 -0000', '2026-11-29T10:00:00Z'],
    ['29 Nov 2026 10:00 +0199', '2026-11-29T10:00:00+02:39'],
    ['29 Nov 2026 10:00 +9959', '2026-11-29T10:00:00+99:59'],
    ['29 Nov 2026 10:00 EST', '2026-11-29T10:00:00-05:00'],
    ['29 Nov 2026 10:00 EDT', '2026-11-29T10:00:00-04:00'],
    ['29 Nov 2026 10:00 CDT', '2026-11-29T10:00:00-05:00'],
    ['29 Nov 2026 10:00 MST', '2026-11-29T10:00:00-07:00'],
    ['29 Nov 2026 10:00 PST', '2026-11-29T10:00:00-08:00'],
    ['29 Nov 2026 10:00 GMT', '2026-11-29T10:00:00Z'],
    ['29 Nov 2026 10:00 UT', '2026-11-29T10:00:00Z'],
    ['29 Nov 2026 10:00 A', '2026-11-29T10:00:00+01:00'],
    ['29 Nov 2026 10:00 I', '2026-11-29T10:00:00+09:00'],
    ['29 Nov 2026 10:00 J', '2026-11-29T10:00:00Z'],
    ['29 Nov 2026 10:00 K', '2026-11-29T10:00:00+10:00'],
    ['29 Nov 2026 10:00 M', '2026-11-29T10:00:00+12:00'],
    ['29 Nov 2026 10:00 N', '2026-11-29T10:00:00-01:00'],
    ['29 Nov 2026 10:00 Y', '2026-11-29T10:00:00-12:00'],
    ['29 Nov 2026 10:00 Z', '2026-11-29T10:00:00Z'],
    ['29 Nov 2026 10:00 a', '2026-11-29T10:00:00+33:00'],
    ['29 Nov 2026 10:00', '2026-11-29T10:00:00Z'],
    ['29 Nov 2026 10:00 xyz', '2026-11-29T10:00:00Z'],
    ['29 Nov 2026 10:00 CEST', '2026-11-29T10:00:00Z'],
    ['29 Nov 2026 10:00 est', '2026-11-29T10:00:00Z'],
    ['29 Nov 2026 10:00 +02:00', '2026-11-29T10:00:00Z'],
    ['29 Nov 2026 10:00 +01000', '2026-11-29T10:00:00Z'],
    // a leap second is read as :59
    ['31 Dec 2026 23:59:60 +0000', '2026-12-31T23:59:59Z'],
    ['29 Feb 2024 10:00 +0000', '2024-02-29T10:00:00Z'],
    ['31 Dec 1969 23:00 -0100', '1969-12-31T23:00:00-01:00'],
    ['29 Nov 9999 23:59 -1200', '9999-11-29T23:59:00-12:00'],
    // not dates
    ['29 Nov 126 10:00 +0100', undefined],
    ['29 Nov 1899 10:00 +0000', undefined],
    ['31 Feb 2020 10:00 +0000', undefined],
    ['29 Feb 2023 10:00 +0000', undefined],
    ['0 Nov 2026 10:00 +0000', undefined],
    ['29 Nov 2026 24:00 +0000', undefined],
    ['29 Nov 2026 10:60 +0000', undefined],
    ['29 Nov 2026 10:00:61 +0000', undefined],
    ['29 Nov 2026 10:5 +0000', undefined],
    ['29 Nov 2026 10 +0000', undefined],
    ['29 Nov 2026 10:00:0 +0000', undefined],
    ['Sunday, 29 Nov 2026 10:00 +0000', undefined],
    ['Sun 29 Nov 2026 10:00 +0000', undefined],
    ['29Nov 2026 10:00', undefined],
    ['29-Nov-2026 10:00 +0200', undefined],
    ['29 Nov 2026 10:00:00+0200', undefined],
    ['29 Nov 2026 10:00 , +0100', undefined],
    ['29 Nov 2026 10:00 +0100 (unterminated', undefined],
    ['', undefined],
  ])('%j', (value, expected) => {
    expect(iso(value)).toBe(expected);
  });

  it('gives the instant and the written zone', () => {
    expect(parseRfc2822Date('Sun, 29 Nov 2026 10:00:00 +0100')).toEqual({
      time: Date.UTC(2026, 10, 29, 9, 0, 0),
      zoneOffsetMinutes: 60,
    });
  });
});

describe('datePart', () => {
  // RFC 5260 section 4's parts of one instant, in its own zone and two others
  const time = Date.UTC(2026, 10, 29, 9, 0, 0);
  it.each([
    [60, 'year', '2026'],
    [60, 'month', '11'],
    [60, 'day', '29'],
    [60, 'date', '2026-11-29'],
    [60, 'julian', '61373'],
    [60, 'hour', '10'],
    [60, 'minute', '00'],
    [60, 'second', '00'],
    [60, 'time', '10:00:00'],
    [60, 'iso8601', '2026-11-29T10:00:00+01:00'],
    [60, 'std11', 'Sun, 29 Nov 2026 10:00:00 +0100'],
    [60, 'zone', '+0100'],
    [60, 'weekday', '0'],
    [60, 'ISO8601', '2026-11-29T10:00:00+01:00'],
    [60, 'unknown', undefined],
    [-570, 'julian', '61372'],
    [-570, 'std11', 'Sat, 28 Nov 2026 23:30:00 -0930'],
    [-570, 'iso8601', '2026-11-28T23:30:00-09:30'],
    [-570, 'weekday', '6'],
    [-570, 'date', '2026-11-28'],
    [0, 'iso8601', '2026-11-29T09:00:00Z'],
    [0, 'zone', '+0000'],
    [840, 'std11', 'Sun, 29 Nov 2026 23:00:00 +1400'],
  ])('zone %i: %s', (zone, part, expected) => {
    expect(datePart(time, zone, part)).toBe(expected);
  });

  it.each([
    // RFC 5260 appendix A: the Modified Julian Day counts from 1858-11-17
    [Date.UTC(1858, 10, 17), '0'],
    [Date.UTC(1970, 0, 1), '40587'],
    [Date.UTC(1969, 11, 31, 23, 59), '40586'],
  ])('julian of %i', (instant, expected) => {
    expect(datePart(instant, 0, 'julian')).toBe(expected);
  });

  it('pads a day below 10 in std11', () => {
    expect(datePart(Date.UTC(1970, 0, 1), -1, 'std11')).toBe('Wed, 31 Dec 1969 23:59:00 -0001');
  });
});

describe('parseZone', () => {
  it.each([
    ['+0100', 60],
    ['-0930', -570],
    ['+0000', 0],
    ['-0000', 0],
    ['+9959', 5999],
    ['+01:00', undefined],
    ['0100', undefined],
    ['+100', undefined],
    ['UTC', undefined],
  ])('%j', (text, expected) => {
    expect(parseZone(text)).toBe(expected);
  });
});
