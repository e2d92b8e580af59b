import { describe, expect, it } from 'vitest';
import {
  encodeMboxRecord,
  formatMboxFlagHeaders,
  mboxFromLine,
  MboxRecordEncoder,
  needsFromQuote,
  type MboxFlagHeaders,
} from '../../../src/storage/mbox/format.js';
import { parseMessageFlags } from '../../../src/storage/flags.js';

/** The record minus its From_ line, fed in pieces of `pieceSize` bytes. */
function encode(input: string | Buffer, pieceSize = Infinity): string {
  const bytes = Buffer.isBuffer(input) ? input : Buffer.from(input, 'latin1');
  const run = (contentLength: number | undefined) => {
    const encoder = new MboxRecordEncoder(contentLength);
    const out: Buffer[] = [];
    for (let at = 0; at < bytes.length; at += Math.min(pieceSize, bytes.length)) {
      out.push(...encoder.push(bytes.subarray(at, at + Math.min(pieceSize, bytes.length))));
    }
    out.push(...encoder.end());
    return { text: Buffer.concat(out).toString('latin1'), bodyLength: encoder.bodyLength };
  };
  return run(run(undefined).bodyLength).text;
}

describe('mbox record encoding', () => {
  // expected bytes: what dovecot-lda 2.3.19 wrote for the same input, minus its
  // X-IMAPbase/X-UID/Status/X-Keywords lines
  it.each([
    ['headers and body', 'Subject: hi\n\nline1\n', 'Subject: hi\nContent-Length: 6\n\nline1\n\n'],
    ['empty input', '', 'Content-Length: 0\n\n\n'],
    ['header only', 'Subject: a\n', 'Subject: a\nContent-Length: 1\n\n\n\n'],
    ['header and empty body', 'Subject: b\n\n', 'Subject: b\nContent-Length: 1\n\n\n\n'],
    ['header without a newline', 'Subject: c', 'Subject: c\nContent-Length: 1\n\n\n\n'],
    ['body without a final newline', 'Subject: d\n\nlast', 'Subject: d\nContent-Length: 5\n\nlast\n\n'],
    ['body of one empty line', 'Subject: e\n\n\n', 'Subject: e\nContent-Length: 1\n\n\n\n'],
    ['no header at all', '\nbody only\n', 'Content-Length: 10\n\nbody only\n\n'],
    ['a line that is no header field', 'no header line\n', 'no header line\nContent-Length: 1\n\n\n\n'],
    [
      'bookkeeping headers dropped with their continuations, in any case',
      'Subject: d\nX-Status: A\n  folded\nx-imap: 3\nStatus: RO\nX-UID: 7\nContent-Length: 3\nX-Keywords: foo\nX-IMAPbase: 1 2\nX-Delivery-ID: 1\nTo: t\n\nbody\n',
      'Subject: d\nTo: t\nContent-Length: 5\n\nbody\n\n',
    ],
    ['a field name with blanks before its colon', 'Status : RO\nA: b\n\nx\n', 'A: b\nContent-Length: 2\n\nx\n\n'],
    ['X-UIDL is not X-UID', 'X-UIDL: 5\n\nx\n', 'X-UIDL: 5\nContent-Length: 2\n\nx\n\n'],
  ])('%s', (_name, input, expected) => {
    expect(encode(input)).toBe(expected);
    expect(encode(input, 1)).toBe(expected);
  });

  it('drops From_ lines in the header (as Dovecot), quotes them mboxrd-style elsewhere, and counts the quotes', () => {
    const input = 'Subject: q\nFrom x y\n  cont\n>From z\n\nFrom me\n>From you\n>>From them\nFromage\n From indented\n';
    const expected =
      'Subject: q\n>>From z\nContent-Length: 56\n\n>From me\n>>From you\n>>>From them\nFromage\n From indented\n\n';
    expect(encode(input)).toBe(expected);
    expect(encode(input, 1)).toBe(expected);
    expect(encode(input, 3)).toBe(expected);
    const body = expected.slice(expected.indexOf('\n\n') + 2, -1);
    expect(Buffer.byteLength(body)).toBe(56);
  });

  it('quotes a From_ line that is the last line, without a newline', () => {
    expect(encode('A: b\n\nFrom end')).toBe('A: b\nContent-Length: 10\n\n>From end\n\n');
  });

  it('keeps 8-bit bytes, NULs and long lines exactly', () => {
    const long = 'x'.repeat(100_000);
    const input = Buffer.concat([Buffer.from('A: \xe9\n\n', 'latin1'), Buffer.from([0, 0xff, 0x0a]), Buffer.from(`${long}\nFrom z\n`)]);
    const out = encode(input, 4096);
    expect(out).toBe(`A: \xe9\nContent-Length: ${3 + long.length + 1 + 8}\n\n\x00\xff\n${long}\n>From z\n\n`);
  });

  it('needsFromQuote looks at a line start only', () => {
    expect(needsFromQuote(Buffer.from('From '))).toBe(true);
    expect(needsFromQuote(Buffer.from('>>>From x'))).toBe(true);
    expect(needsFromQuote(Buffer.from('From'))).toBe(false);
    expect(needsFromQuote(Buffer.from('from x'))).toBe(false);
    expect(needsFromQuote(Buffer.from('> From x'))).toBe(false);
  });
});

describe('mboxFromLine', () => {
  const date = new Date(2026, 10, 3, 9, 5, 7); // local time, as Dovecot writes it
  it.each([
    [{ localpart: 'a', domain: 'b.c' }, 'From a@b.c  Tue Nov 03 09:05:07 2026\n'],
    [null, 'From MAILER-DAEMON  Tue Nov 03 09:05:07 2026\n'],
    [undefined, 'From MAILER-DAEMON  Tue Nov 03 09:05:07 2026\n'],
    [{ localpart: 'a b', domain: 'c' }, 'From "a b"@c  Tue Nov 03 09:05:07 2026\n'],
  ])('%j', (sender, expected) => {
    expect(mboxFromLine(sender, date)).toBe(expected);
  });
});

describe('encodeMboxRecord', () => {
  it('measures first, then writes the From_ line and the record', async () => {
    let reads = 0;
    const message = {
      async *chunks() {
        reads++;
        yield Buffer.from('Subject: x\n\nFrom ');
        yield Buffer.from('a\nb');
      },
    };
    const out: Buffer[] = [];
    for await (const piece of encodeMboxRecord('From MAILER-DAEMON  Tue Nov 03 09:05:07 2026\n', message)) out.push(piece);
    expect(reads).toBe(2);
    expect(Buffer.concat(out).toString()).toBe(
      'From MAILER-DAEMON  Tue Nov 03 09:05:07 2026\nSubject: x\nContent-Length: 10\n\n>From a\nb\n\n',
    );
  });
});

describe('formatMboxFlagHeaders', () => {
  const spaces = (count: number) => ' '.repeat(count);
  function headers(flags: string[], imapBaseUidValidity?: number): MboxFlagHeaders {
    const { system, keywords } = parseMessageFlags(flags);
    return { system, keywords, ...(imapBaseUidValidity !== undefined && { imapBaseUidValidity }) };
  }

  // expected: what dovecot-lda 2.3.19 wrote (its X-UID line left out)
  it.each<[string, MboxFlagHeaders, number, string]>([
    [
      'first message: X-IMAPbase declares the keywords, whose room comes out of the padding',
      headers(['\\Seen', '\\Flagged', '$Label1', 'Junk'], 1796076733),
      6,
      `X-IMAPbase: 1796076733 0000000001 $Label1 Junk\nStatus: R\nX-Status: F\nX-Keywords: $Label1 Junk${spaces(60)}\n`,
    ],
    ['first message without keywords', headers(['\\Seen'], 1796076733), 6, `X-IMAPbase: 1796076733 0000000001\nStatus: R\nX-Keywords:${spaces(73)}\n`],
    ['a later message', headers(['Junk', 'Work']), 6, `Status: \nX-Keywords: Junk Work${spaces(73)}\n`],
    ['X-Status letters in Dovecot order', headers(['\\Draft', '\\Deleted', '\\Answered']), 6, `Status: \nX-Status: ATD\nX-Keywords:${spaces(73)}\n`],
    ['a five-digit Content-Length takes four more bytes of padding', headers(['\\Seen', 'Junk', 'Work']), 12305, `Status: R\nX-Keywords: Junk Work${spaces(69)}\n`],
    [
      'both together',
      headers(['\\Seen', 'Junk', 'Work'], 1796076743),
      12305,
      `X-IMAPbase: 1796076743 0000000001 Junk Work\nStatus: R\nX-Keywords: Junk Work${spaces(59)}\n`,
    ],
  ])('%s', (_name, flagHeaders, contentLength, expected) => {
    expect(formatMboxFlagHeaders(flagHeaders, contentLength)).toBe(expected);
  });

  it('go between the headers and Content-Length; the record is otherwise unchanged', async () => {
    const out: Buffer[] = [];
    const flagHeaders = headers(['\\Seen', 'Junk']);
    for await (const piece of encodeMboxRecord('From x  Tue Nov 03 09:05:07 2026\n', { async *chunks() { yield Buffer.from('Subject: x\nStatus: RO\n\nbody\n'); } }, flagHeaders)) {
      out.push(piece);
    }
    expect(Buffer.concat(out).toString()).toBe(
      `From x  Tue Nov 03 09:05:07 2026\nSubject: x\nStatus: R\nX-Keywords: Junk${spaces(73)}\nContent-Length: 5\n\nbody\n\n`,
    );
  });
});
