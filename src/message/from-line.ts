// mbox From_ lines: parsing the one that may lead a message on stdin (the
// grammar of Dovecot's mbox_from_parse) and formatting the date of the one an
// mbox delivery writes. Pure; a line that does not parse gives undefined.
//
// Grammar, after "From ": a sender token (up to the first space; it may start
// with a "quoted part" that contains spaces), spaces, then a date in one of
//   Www Mmm [ ]D HH:MM[:SS] [TZNAME ] YYYY [ ±HHMM]
//   Www, D Mmm YYYY HH:MM[:SS]
// Only a numeric zone after the year is honoured (one before the year is
// skipped like a name, as Dovecot does); without one the date is local time.
// Sender and date succeed or fail together: a broken date drops the sender
// too (verified with dovecot-lda 2.3.19). Dovecot counts the minutes of a
// numeric zone as seconds; here they are minutes.

import { MONTHS, WEEKDAYS } from './dates.js';

/** shortest date part Dovecot looks at: "Thu Nov  9 22:33 2002" */
const MIN_DATE_LENGTH = 21;

const FROM_PREFIX = 'From ';

export interface FromLine {
  /** the sender token exactly as written (may be "", "<>", "MAILER-DAEMON", ...) */
  sender: string;
  date: Date;
}

/**
 * Parses a whole From_ line ("From sender date", without its LF; a trailing
 * CR is tolerated). Returns undefined when the line does not parse.
 */
export function parseFromLine(line: string): FromLine | undefined {
  if (!line.startsWith(FROM_PREFIX)) return undefined;
  const text = line.slice(FROM_PREFIX.length);
  const senderEnd = findSenderEnd(text);
  if (senderEnd === undefined) return undefined;
  let pos = senderEnd;
  while (text[pos] === ' ') pos++;
  const date = parseFromLineDate(text, pos);
  return date === undefined ? undefined : { sender: text.slice(0, senderEnd), date };
}

/** End of the sender token; undefined when it runs into a line end or an unterminated quote. */
function findSenderEnd(line: string): number | undefined {
  let pos = 0;
  if (line[0] === '"') {
    let escaped = false;
    pos = 1;
    while (pos < line.length && (line[pos] !== '"' || escaped)) {
      if (line[pos] === '\r' || line[pos] === '\n') return undefined;
      escaped = line[pos] === '\\';
      pos++;
    }
    if (pos >= line.length) return undefined;
    pos++;
  }
  while (pos < line.length && line[pos] !== ' ') {
    if (line[pos] === '\r' || line[pos] === '\n') return undefined;
    pos++;
  }
  return pos;
}

interface DateFields {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

function parseFromLineDate(line: string, start: number): Date | undefined {
  if (line.length - start < MIN_DATE_LENGTH) return undefined;
  const fields: DateFields = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0 };
  let pos = start + 4; // weekday, not checked
  const month = parseMonth(line, pos);
  const alternate = month === undefined;
  if (month === undefined) {
    // "Thu, 9 Nov 2002 22:33:52": the weekday had a comma
    pos++;
    const day = parseDayDigits(line, pos);
    if (day === undefined || line[day.end] !== ' ') return undefined;
    fields.day = day.value;
    pos = day.end + 1;
    const altMonth = parseMonth(line, pos);
    if (altMonth === undefined) return undefined;
    fields.month = altMonth;
    pos += 4;
    const year = parseDigits(line, pos, 4);
    if (year === undefined) return undefined;
    fields.year = year;
    pos += 5;
  } else {
    fields.month = month;
    pos += 4;
    if (line[pos] === ' ') pos++; // a single-digit day is usually padded
    if (line[pos + 1] === ' ') {
      const day = parseDigits(line, pos, 1);
      if (day === undefined) return undefined;
      fields.day = day;
      pos += 2;
    } else {
      const day = parseDigits(line, pos, 2);
      if (day === undefined || line[pos + 2] !== ' ') return undefined;
      fields.day = day;
      pos += 3;
    }
  }
  if (fields.day === 0) fields.day = 1;

  const hour = parseDigits(line, pos, 2);
  if (hour === undefined || line[pos + 2] !== ':') return undefined;
  fields.hour = hour;
  pos += 3;
  const minute = parseDigits(line, pos, 2);
  if (minute === undefined) return undefined;
  fields.minute = minute;
  pos += 2;
  if (line[pos] === ':') {
    const second = parseDigits(line, pos + 1, 2);
    if (second === undefined) return undefined;
    fields.second = second;
    pos += 3;
  }
  if (!alternate) {
    if (line[pos] !== ' ') return undefined;
    pos++;
    if (parseDigits(line, pos, 4) === undefined) {
      // a zone before the year (named or numeric): skipped
      while (pos < line.length && line[pos] !== ' ') {
        if (line[pos] === '\r' || line[pos] === '\n') return undefined;
        pos++;
      }
      if (pos + 5 > line.length) return undefined;
      pos++;
    }
    const year = parseDigits(line, pos, 4);
    if (year === undefined) return undefined;
    fields.year = year;
    pos += 4;
  }
  const offsetMinutes = line[pos] === ' ' ? parseNumericZone(line, pos + 1) : undefined;
  return offsetMinutes === undefined ? localDate(fields) : zonedDate(fields, offsetMinutes);
}

/** Month at pos ("Nov ", any case; "??? " counts as January); undefined when there is none. */
function parseMonth(line: string, pos: number): number | undefined {
  if (line[pos + 3] !== ' ') return undefined;
  const name = line.slice(pos, pos + 3).toLowerCase();
  if (name === '???') return 0;
  const index = MONTHS.findIndex((month) => month.toLowerCase() === name);
  return index < 0 ? undefined : index;
}

function parseDayDigits(line: string, pos: number): { value: number; end: number } | undefined {
  const first = parseDigits(line, pos, 1);
  if (first === undefined) return undefined;
  const second = parseDigits(line, pos + 1, 1);
  return second === undefined ? { value: first, end: pos + 1 } : { value: first * 10 + second, end: pos + 2 };
}

/** Exactly `count` ASCII digits at pos, as a number. */
function parseDigits(line: string, pos: number, count: number): number | undefined {
  let value = 0;
  for (let i = pos; i < pos + count; i++) {
    const code = line.charCodeAt(i);
    if (!(code >= 0x30 && code <= 0x39)) return undefined;
    value = value * 10 + (code - 0x30);
  }
  return value;
}

/** "+HHMM" / "-HHMM" at pos, as minutes east of UTC. */
function parseNumericZone(line: string, pos: number): number | undefined {
  const sign = line[pos];
  if (sign !== '+' && sign !== '-') return undefined;
  const hours = parseDigits(line, pos + 1, 2);
  const minutes = parseDigits(line, pos + 3, 2);
  if (hours === undefined || minutes === undefined) return undefined;
  return (sign === '-' ? -1 : 1) * (hours * 60 + minutes);
}

function localDate(f: DateFields): Date {
  const date = new Date(f.year, f.month, f.day, f.hour, f.minute, f.second);
  // new Date() maps years 0-99 to 1900-1999; a From_ line's year is literal
  if (f.year < 100) date.setFullYear(f.year, f.month, f.day);
  return date;
}

function zonedDate(f: DateFields, offsetMinutes: number): Date {
  const date = new Date(0);
  date.setUTCFullYear(f.year, f.month, f.day);
  date.setUTCHours(f.hour, f.minute - offsetMinutes, f.second, 0);
  return date;
}

/** Date of an mbox From_ line as Dovecot writes it: "Thu Nov 09 22:33:52 2002", local time. */
export function formatFromLineDate(date: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return (
    `${WEEKDAYS[date.getDay()]} ${MONTHS[date.getMonth()]} ${two(date.getDate())} ` +
    `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())} ` +
    String(date.getFullYear()).padStart(4, '0')
  );
}
