// Dates for the Sieve date and currentdate tests (RFC 5260), as Pigeonhole
// 0.5 reads and writes them with Dovecot 2.3's message-date parser. Pure;
// nothing throws: what does not parse comes back as undefined.
//
// parseRfc2822Date accepts RFC 5322 dates with the obsolete forms:
//   [day-name ","] day month year hour ":" minute [":" second] [zone]
// with comments and blanks anywhere between tokens, "." also as a time
// separator, month names read by their first three letters, a two-digit year
// meaning 19xx from 70 on and 20xx below (Dovecot's rule, not RFC 5322's 50),
// second 60 read as 59, and any zone Dovecot reads: +hhmm/-hhmm, UT, GMT,
// EST/EDT/CST/CDT/MST/MDT/PST/PDT, military letters (A = +0100 … Z = +0000,
// the RFC 1123 way round); a missing or unknown zone is +0000. Text after
// the zone is ignored. Impossible dates (31 Feb, 24:00, years before 1900)
// do not parse.

import { Rfc822Scanner, END, MORE } from './address.js';

export interface ParsedDate {
  /** ms since the epoch */
  time: number;
  /** the zone written in the date, minutes east of UTC */
  zoneOffsetMinutes: number;
}

const MONTH_NAMES = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const WEEKDAY_NAMES = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MS_PER_DAY = 86_400_000;
/** the Modified Julian Day of 1970-01-01 */
const MJD_OF_EPOCH = 40_587;

export function parseRfc2822Date(value: string): ParsedDate | undefined {
  const scanner = new Rfc822Scanner(value);
  scanner.skipCfws();
  let token = nextToken(scanner);
  if (!token) return undefined;
  if (token.length === 3) {
    // a day name: any three letters, followed by a comma
    if (scanner.peek() !== ',') return undefined;
    scanner.pos++;
    scanner.skipCfws();
    token = nextToken(scanner);
    if (!token) return undefined;
  }
  const day = digits(token, 1, 2);

  token = nextToken(scanner);
  const month = token && token.length >= 3 ? monthIndex(token) : -1;

  token = nextToken(scanner);
  let year = token ? digits(token, 2, 2) : undefined;
  if (year !== undefined) year += year < 70 ? 2000 : 1900;
  else if (token) year = digits(token, 4, 4);

  token = nextToken(scanner);
  const hour = token ? digits(token, 1, 2) : undefined;
  if (day === undefined || month < 0 || year === undefined || year < 1900 || hour === undefined) return undefined;

  if (!isTimeSeparator(scanner.peek())) return undefined;
  scanner.pos++;
  scanner.skipCfws();
  token = nextToken(scanner);
  const minute = token ? digits(token, 2, 2) : undefined;
  if (minute === undefined) return undefined;

  let second = 0;
  if (isTimeSeparator(scanner.peek())) {
    scanner.pos++;
    scanner.skipCfws();
    token = nextToken(scanner);
    const parsed = token ? digits(token, 2, 2) : undefined;
    if (parsed === undefined) return undefined;
    second = parsed === 60 ? 59 : parsed;
  }

  const zone = nextToken(scanner);
  if (zone === null) return undefined;
  const zoneOffsetMinutes = zone === '' ? 0 : zoneOffset(zone);

  const local = Date.UTC(year, month, day, hour, minute, second);
  const check = new Date(local);
  if (check.getUTCDate() !== day || check.getUTCHours() !== hour || check.getUTCMinutes() !== minute) return undefined;
  if (check.getUTCSeconds() !== second) return undefined;
  return { time: local - zoneOffsetMinutes * 60_000, zoneOffsetMinutes };
}

/**
 * One RFC 5260 date part of `time` seen in the zone `zoneOffsetMinutes`
 * (part names are case-insensitive); undefined for an unknown part.
 */
export function datePart(time: number, zoneOffsetMinutes: number, part: string): string | undefined {
  const local = new Date(time + zoneOffsetMinutes * 60_000);
  const year = pad(local.getUTCFullYear(), 4);
  const month = pad(local.getUTCMonth() + 1, 2);
  const day = pad(local.getUTCDate(), 2);
  const clock = `${pad(local.getUTCHours(), 2)}:${pad(local.getUTCMinutes(), 2)}:${pad(local.getUTCSeconds(), 2)}`;
  const zone = formatZone(zoneOffsetMinutes, '');
  switch (part.toLowerCase()) {
    case 'year':
      return year;
    case 'month':
      return month;
    case 'day':
      return day;
    case 'date':
      return `${year}-${month}-${day}`;
    case 'julian':
      return String(Math.floor(local.getTime() / MS_PER_DAY) + MJD_OF_EPOCH);
    case 'hour':
      return clock.slice(0, 2);
    case 'minute':
      return clock.slice(3, 5);
    case 'second':
      return clock.slice(6, 8);
    case 'time':
      return clock;
    case 'iso8601':
      return `${year}-${month}-${day}T${clock}${zoneOffsetMinutes === 0 ? 'Z' : formatZone(zoneOffsetMinutes, ':')}`;
    case 'std11':
      return `${WEEKDAY_NAMES[local.getUTCDay()]}, ${day} ${MONTH_NAMES[local.getUTCMonth()]} ${year} ${clock} ${zone}`;
    case 'zone':
      return zone;
    case 'weekday':
      return String(local.getUTCDay());
    default:
      return undefined;
  }
}

/** A :zone argument, "+hhmm" or "-hhmm", in minutes east of UTC ("+0100" → 60). */
export function parseZone(text: string): number | undefined {
  const match = /^([+-])(\d\d)(\d\d)$/.exec(text);
  if (!match) return undefined;
  const minutes = Number(match[2]) * 60 + Number(match[3]);
  return match[1] === '+' || minutes === 0 ? minutes : -minutes;
}

/** "+0100", or "+01:00" with a separator; zero is "+0000" */
function formatZone(offsetMinutes: number, separator: string): string {
  const magnitude = Math.abs(offsetMinutes);
  return `${offsetMinutes < 0 ? '-' : '+'}${pad(Math.floor(magnitude / 60), 2)}${separator}${pad(magnitude % 60, 2)}`;
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}

/** The next atom: null when the text there is not one, '' at the end. */
function nextToken(scanner: Rfc822Scanner): string | null {
  if (scanner.atEnd()) return '';
  const atom = scanner.atom();
  return atom.status === MORE || atom.status === END ? atom.text : null;
}

/** the number written with minLength..maxLength ASCII digits, else undefined */
function digits(token: string, minLength: number, maxLength: number): number | undefined {
  if (token.length < minLength || token.length > maxLength || !/^[0-9]+$/.test(token)) return undefined;
  return Number(token);
}

function monthIndex(token: string): number {
  const prefix = token.slice(0, 3).toLowerCase();
  return MONTH_NAMES.findIndex((name) => name.toLowerCase() === prefix);
}

function isTimeSeparator(char: string | undefined): boolean {
  return char === ':' || char === '.';
}

/** Dovecot's reading of a zone token; what it does not know is +0000 */
function zoneOffset(zone: string): number {
  if (zone.length === 5 && (zone[0] === '+' || zone[0] === '-')) {
    return parseZone(zone) ?? 0;
  }
  const upper = zone.toUpperCase();
  if (zone.length === 1) {
    // military zones: A..I = +1..+9, K..M = +10..+12, N..Y = -1..-12, J and Z = 0;
    // the arithmetic uses the letter as written, as Dovecot does
    const code = zone.charCodeAt(0);
    if (upper < 'J') return (code - 0x41 + 1) * 60;
    if (upper === 'J') return 0;
    if (upper <= 'M') return (code - 0x41) * 60;
    if (upper < 'Z') return (0x4d - code) * 60;
    return 0;
  }
  if (zone.length === 3 && zone[2] === 'T') {
    const base = { E: -300, C: -360, M: -420, P: -480 }[upper[0]!];
    if (base !== undefined && upper[1] === 'D') return base + 60;
    if (base !== undefined && upper[1] === 'S') return base;
  }
  return 0;
}
