// Stored bytes, S= and W= were observed by delivering each input with the real
// dovecot-lda 2.3.19 into a Maildir.
import { describe, it, expect } from 'vitest';
import { LineEndingConverter } from '../../src/message/line-endings.js';

const cases: [string, string, number, number][] = [
  // input, stored, S=, W=
  ['Subject: x\r\n\r\nbody\r\nlone\rcr\r\n', 'Subject: x\n\nbody\nlone\rcr\n', 25, 29],
  ['Subject: x\r\r\n\r\nb\r\r\n', 'Subject: x\r\n\nb\r\n', 16, 17],
  ['Subject: x\n\nb\r', 'Subject: x\n\nb', 13, 15],
  ['Subject: x\n\nb\r\r', 'Subject: x\n\nb\r', 14, 16],
  ['Subject: x\n\nb\rx', 'Subject: x\n\nb\rx', 15, 17],
  ['Subject: x\n\nb', 'Subject: x\n\nb', 13, 15],
  ['a\r\r\r\nb\n', 'a\r\r\nb\n', 6, 7],
  ['\r', '', 0, 0],
  ['\r\n\r\n', '\n\n', 2, 4],
  ['\n', '\n', 1, 2],
  ['x\0y\xff\n', 'x\0y\xff\n', 5, 6],
  ['', '', 0, 0],
];

function convert(chunks: Buffer[]): { stored: Buffer; size: number; vsize: number } {
  const converter = new LineEndingConverter();
  const stored = Buffer.concat(chunks.map((chunk) => converter.push(chunk)));
  converter.end();
  return { stored, size: converter.size, vsize: converter.vsize };
}

describe('LineEndingConverter', () => {
  it.each(cases)('%j in one chunk', (input, stored, size, vsize) => {
    expect(convert([Buffer.from(input, 'latin1')])).toEqual({ stored: Buffer.from(stored, 'latin1'), size, vsize });
  });

  it.each(cases)('%j split at every position, and byte by byte', (input, stored, size, vsize) => {
    const bytes = Buffer.from(input, 'latin1');
    const expected = { stored: Buffer.from(stored, 'latin1'), size, vsize };
    for (let cut = 0; cut <= bytes.length; cut++) {
      expect(convert([bytes.subarray(0, cut), bytes.subarray(cut)])).toEqual(expected);
    }
    expect(convert([...bytes].map((byte) => Buffer.from([byte])))).toEqual(expected);
  });

  it('returns the chunk itself when there is no CR', () => {
    const chunk = Buffer.from('no carriage returns\n');
    expect(new LineEndingConverter().push(chunk)).toBe(chunk);
  });
});
