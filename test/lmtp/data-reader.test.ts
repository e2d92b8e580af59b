// DotDecoder undoes dot-stuffing as Dovecot 2.3's istream-dot does (its
// results were checked against Dovecot's lmtp: "\n.\n", "\r\n.\n" and
// "\n.\r\n" all end the data; ". x" loses its dot; line endings are kept as
// sent); BodyStream hands bytes to the backend with backpressure.
import { describe, expect, it } from 'vitest';
import { BodyStream, DotDecoder } from '../../src/lmtp/data-reader.js';

/** Decodes the pieces in turn: the body, and the bytes after the "." line (undefined if there was none). */
function decode(pieces: Buffer[]): { body: string; rest: string | undefined } {
  const decoder = new DotDecoder();
  const body: Buffer[] = [];
  for (const [index, piece] of pieces.entries()) {
    const { data, rest } = decoder.decode(piece);
    body.push(...data);
    if (rest !== undefined) {
      return { body: Buffer.concat(body).toString('latin1'), rest: Buffer.concat([rest, ...pieces.slice(index + 1)]).toString('latin1') };
    }
  }
  return { body: Buffer.concat(body).toString('latin1'), rest: undefined };
}

const cases: [string, string, string][] = [
  // input, body, rest
  ['.\r\n', '', ''],
  ['.\n', '', ''],
  ['.\r\nNOOP\r\n', '', 'NOOP\r\n'],
  ['a\r\n.\r\n', 'a\r\n', ''],
  ['a\n.\n', 'a\n', ''],
  ['a\r\n.\n', 'a\r\n', ''],
  ['a\n.\r\n', 'a\n', ''],
  ['S: x\n\nline1\nline2\r\n.\r\n', 'S: x\n\nline1\nline2\r\n', ''],
  ['..a\r\n.b\r\n...\r\n..\r\n.\r\n', '.a\r\nb\r\n..\r\n.\r\n', ''],
  ['. \r\n.\r\n', ' \r\n', ''],
  ['..\r\n.\r\n', '.\r\n', ''],
  ['a\rb\r\n.\r\n', 'a\rb\r\n', ''],
  ['a\r.\r\r\n.\r\n', 'a\r.\r\r\n', ''],
  ['a\x00b\r\n.\r\n', 'a\x00b\r\n', ''],
  ['x.\r\n.\r\n', 'x.\r\n', ''],
  ['\r\n.\r\nrest', '\r\n', 'rest'],
  ['.\rx\r\n.\r\n', '\rx\r\n', ''],
  ['.\r\r\n.\r\n', '\r\r\n', ''],
  ['a\r\n\xff\xfe.\r\n.\r\n', 'a\r\n\xff\xfe.\r\n', ''],
];

describe('DotDecoder', () => {
  it.each(cases)('%j in one piece', (input, body, rest) => {
    expect(decode([Buffer.from(input, 'latin1')])).toEqual({ body, rest });
  });

  it.each(cases)('%j cut at every position', (input, body, rest) => {
    const bytes = Buffer.from(input, 'latin1');
    for (let cut = 0; cut <= bytes.length; cut++) {
      expect(decode([bytes.subarray(0, cut), bytes.subarray(cut)]), `cut at ${cut}`).toEqual({ body, rest });
    }
  });

  it.each(cases)('%j one byte at a time', (input, body, rest) => {
    const bytes = Buffer.from(input, 'latin1');
    const pieces = [...bytes].map((byte) => Buffer.from([byte]));
    expect(decode(pieces)).toEqual({ body, rest });
  });

  it('without a "." line there is no end', () => {
    expect(decode([Buffer.from('a\r\n.b\r\n..\r\n')])).toEqual({ body: 'a\r\nb\r\n.\r\n', rest: undefined });
  });

  it('hands out slices of the input, not copies, between dots', () => {
    const input = Buffer.from('abc\r\ndef\r\n');
    const { data } = new DotDecoder().decode(input);
    expect(data).toHaveLength(1);
    expect(data[0]!.buffer).toBe(input.buffer);
  });
});

describe('BodyStream', () => {
  it('write() waits while the reader is behind, and resumes when it reads', async () => {
    const body = new BodyStream();
    const piece = Buffer.alloc(64 * 1024, 0x61);
    let written = 0;
    const writing = (async () => {
      for (let index = 0; index < 4; index++) {
        await body.write(piece);
        written++;
      }
      body.end();
    })();
    await new Promise((resolve) => setImmediate(resolve));
    expect(written).toBeLessThan(4);
    const chunks: Buffer[] = [];
    for await (const chunk of body.readable) chunks.push(chunk as Buffer);
    await writing;
    expect(Buffer.concat(chunks).length).toBe(4 * piece.length);
  });

  it('fail() gives the reader an error, never a clean end', async () => {
    const body = new BodyStream();
    await body.write(Buffer.from('partial'));
    body.fail(new Error('client gone'));
    const reading = (async () => {
      for await (const chunk of body.readable) void chunk;
    })();
    await expect(reading).rejects.toThrow('client gone');
  });

  it('abandon() lets a waiting write() go on and drops what follows', async () => {
    const body = new BodyStream();
    const big = Buffer.alloc(256 * 1024);
    const waiting = body.write(big);
    body.abandon();
    await waiting;
    await body.write(big);
    expect(body.readable.readableLength).toBe(big.length);
  });
});
