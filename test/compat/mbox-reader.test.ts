// The careful mbox splitter the side-by-side snapshot uses: Content-Length
// when it lands on the next From_ line, From_ lines with a date otherwise.

import { describe, it, expect } from 'vitest';
import { splitMbox, unquoteMboxrd, isMbox } from './mbox-reader.js';

const FROM_A = 'From a@example.org  Mon Nov 23 09:00:00 2026';
const FROM_B = 'From MAILER-DAEMON  Tue Dec 01 23:59:59 2026';

/** [sender, body] of every record, the shape most cases check. */
function sendersAndBodies(text: string): [string | undefined, string][] {
  return splitMbox(Buffer.from(text, 'latin1')).map((r) => [r.sender, r.body.toString('latin1')]);
}

describe('splitMbox', () => {
  it('follows a Content-Length that ends at the next From_ line, past an unquoted body From_ line', () => {
    const text = `${FROM_A}\nSubject: one\nContent-Length: ${FROM_B.length + 1}\n\n${FROM_B}\n\n${FROM_B}\nSubject: two\nContent-Length: 4\n\ntwo\n\n`;
    const records = splitMbox(Buffer.from(text));
    expect(records.map((r) => [r.sender, r.contentLength, r.fields, r.body.toString()])).toEqual([
      ['a@example.org', 'used', ['Subject: one', `Content-Length: ${FROM_B.length + 1}`], `${FROM_B}\n`],
      ['MAILER-DAEMON', 'used', ['Subject: two', 'Content-Length: 4'], 'two\n'],
    ]);
  });

  it('ignores a Content-Length that does not end at a From_ line, and splits at the From_ line instead', () => {
    const text = `${FROM_A}\nContent-Length: 2\n\none\nFrom here on\n\n${FROM_B}\nContent-Length: 999\n\ntwo\n\n`;
    const records = splitMbox(Buffer.from(text));
    expect(records.map((r) => [r.contentLength, r.body.toString()])).toEqual([
      ['ignored', 'one\nFrom here on\n'],
      ['ignored', 'two\n'],
    ]);
  });

  it('without Content-Length, splits at From_ lines with or without an empty line before them', () => {
    expect(sendersAndBodies(`${FROM_A}\nS: 1\n\none\n${FROM_B}\nS: 2\n\ntwo\n\n${FROM_A}\n\n`)).toEqual([
      ['a@example.org', 'one'],
      ['MAILER-DAEMON', 'two\n'],
      ['a@example.org', ''],
    ]);
  });

  it('reads an empty body before the separator line, and a last body without one', () => {
    expect(sendersAndBodies(`${FROM_A}\nContent-Length: 0\n\n\n${FROM_B}\n\nlast`)).toEqual([
      ['a@example.org', ''],
      ['MAILER-DAEMON', 'last'],
    ]);
  });

  it('keeps continuation lines with their field and gives no sender for a From_ line of another shape', () => {
    const text = 'From x Mon Nov 23 09:00:00 2026\nX-A: 1\n  2\nX-B: 3\n\n\nFrom y  Mon Nov 23 9:00:00 2026\n\n';
    expect(splitMbox(Buffer.from(text)).map((r) => [r.fromLine, r.sender, r.fields])).toEqual([
      ['From x Mon Nov 23 09:00:00 2026', undefined, ['X-A: 1\n  2', 'X-B: 3']],
      ['From y  Mon Nov 23 9:00:00 2026', undefined, []],
    ]);
  });

  it('finds no messages in a file that does not start with "From "', () => {
    expect(isMbox(Buffer.from('hello\nFrom x\n'))).toBe(false);
    expect(splitMbox(Buffer.from(`\n${FROM_A}\n\nbody\n`))).toEqual([]);
  });
});

describe('unquoteMboxrd', () => {
  it('takes one ">" off lines that match >+From and leaves others alone', () => {
    expect(unquoteMboxrd(Buffer.from('>From a\n>>From b\nFrom c\n> From d\n>Fromage\n')).toString()).toBe(
      'From a\n>From b\nFrom c\n> From d\n>Fromage\n',
    );
  });
});
