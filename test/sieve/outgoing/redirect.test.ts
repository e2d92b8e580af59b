// Redirect composition against what Pigeonhole 0.5.19 sent through a recording
// sendmail (test/fixtures/sieve/outgoing/), the sieve_redirect_envelope_from
// table measured against it, and the header filter's streaming edge cases.

import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  messageIdOf,
  parseRedirectEnvelopeFrom,
  redirectDuplicateId,
  redirectEnvelopeSender,
  redirectHeader,
  redirectLoopDetected,
  redirectedMessage,
  type RedirectEnvelopeContext,
  type RedirectHeaderOptions,
} from '../../../src/sieve/outgoing/redirect.js';

const FIXTURES = resolve(__dirname, '../../fixtures/sieve/outgoing');

interface RedirectCase {
  name: string;
  input: string;
  argv: string[];
  redirectedFrom: string;
  newMessageId?: string;
}

const cases = (JSON.parse(readFileSync(join(FIXTURES, 'cases.json'), 'utf8')) as RedirectCase[]).filter((c) => c.name.startsWith('redirect-'));

async function* inChunks(data: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let pos = 0; pos < data.length; pos += size) yield data.subarray(pos, pos + size);
}

async function collect(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part);
  return Buffer.concat(parts);
}

async function redirected(message: string | Buffer, chunkSize: number, options: RedirectHeaderOptions = { redirectedFrom: undefined }): Promise<string> {
  const data = typeof message === 'string' ? Buffer.from(message, 'latin1') : message;
  return (await collect(redirectedMessage(inChunks(data, chunkSize), options))).toString('latin1');
}

const X_SIEVE = 'X-Sieve: Pigeonhole Sieve 0.5.19 (4eae2f79)\n';

const CONTEXT: RedirectEnvelopeContext = {
  sender: 'sender@example.com',
  recipient: 'final@example.org',
  originalRecipient: 'orig@example.org',
  postmaster: 'postmaster@example.org',
};

describe('redirectEnvelopeSender (sieve_redirect_envelope_from, measured against Pigeonhole)', () => {
  it.each<[string, Partial<RedirectEnvelopeContext>, string]>([
    ['sender', {}, 'sender@example.com'],
    ['', {}, 'sender@example.com'],
    ['default', {}, 'sender@example.com'],
    ['DEFAULT', {}, 'sender@example.com'],
    [' Sender', {}, 'sender@example.com'],
    ['recipient', {}, 'final@example.org'],
    ['orig_recipient', {}, 'orig@example.org'],
    ['user_email', {}, 'final@example.org'],
    ['User_Email', { userEmail: 'me@example.org' }, 'me@example.org'],
    ['postmaster', {}, 'postmaster@example.org'],
    ['POSTMASTER', {}, 'postmaster@example.org'],
    ['<fwd@example.com>', {}, 'fwd@example.com'],
    ['  <Fwd@Example.COM>  ', {}, 'fwd@example.com'],
    ['<"a b"@example.com>', {}, '"a b"@example.com'],
    ['<>', {}, ''],
    ['<fwd>', {}, 'sender@example.com'],
    ['<<fwd@example.com>>', {}, 'sender@example.com'],
    ['<bad address>', {}, 'sender@example.com'],
    ['fwd@example.com', {}, 'sender@example.com'],
    ['bogus', {}, 'sender@example.com'],
  ])('%j', (setting, context, expected) => {
    expect(redirectEnvelopeSender(setting, { ...CONTEXT, ...context })).toBe(expected);
  });

  it.each(['sender', 'recipient', 'orig_recipient', 'user_email', 'postmaster', '<fwd@example.com>', 'bogus'])(
    'keeps the null sender null whatever the setting: %j',
    (setting) => {
      expect(redirectEnvelopeSender(setting, { ...CONTEXT, sender: '', userEmail: 'me@example.org' })).toBe('');
    },
  );

  it.each(['bogus', '<fwd>', '<<fwd@example.com>>', '<bad address>', 'fwd@example.com', '<'])('calls %j invalid, for the warning Pigeonhole logs', (setting) => {
    expect(parseRedirectEnvelopeFrom(setting)).toBeUndefined();
  });

  it.each<[string, ReturnType<typeof parseRedirectEnvelopeFrom>]>([
    ['orig_recipient', { type: 'orig_recipient' }],
    ['<>', { type: 'explicit', address: '' }],
    ['<Fwd@Example.com>', { type: 'explicit', address: 'fwd@example.com' }],
  ])('parses %j', (setting, expected) => {
    expect(parseRedirectEnvelopeFrom(setting)).toEqual(expected);
  });
});

describe('redirectedMessage', () => {
  it.each(cases.flatMap((testCase) => [1, 7, 65536].map((chunkSize) => ({ ...testCase, chunkSize }))))(
    'matches what Pigeonhole sent: $name in chunks of $chunkSize',
    async (testCase) => {
      const input = readFileSync(join(FIXTURES, testCase.input));
      const options = { redirectedFrom: testCase.redirectedFrom, ...(testCase.newMessageId === undefined ? {} : { newMessageId: testCase.newMessageId }) };
      const sent = readFileSync(join(FIXTURES, `${testCase.name}.sent`)).toString('latin1');
      expect(await redirected(input, testCase.chunkSize, options)).toBe(sent);
    },
  );

  it.each([1, 3, 1000])('drops Return-Path fields with their continuation lines and turns CRLF into LF in the header only (chunks of %d)', async (chunkSize) => {
    const message =
      'Return-Path: <a@b>\r\n' +
      'X-Keep: 1\r\n' +
      'RETURN-PATH :\r\n <c@d>\r\n' +
      '\tmore\r\n' +
      'X-Folded: a\r\n b\r\n' +
      'return-path: <e@f>\r\n' +
      '\r\n' +
      'Return-Path: in the body\r\n';
    expect(await redirected(message, chunkSize)).toBe(
      `${X_SIEVE}X-Keep: 1\nX-Folded: a\n b\n\nReturn-Path: in the body\r\n`,
    );
  });

  it.each([1, 5, 100])('handles a message without a body, ending in a field without a line end (chunks of %d)', async (chunkSize) => {
    expect(await redirected('Subject: s\nReturn-Path: <a@b>', chunkSize)).toBe(`${X_SIEVE}Subject: s\n`);
    expect(await redirected('Return-Path: <a@b>\nSubject: s', chunkSize)).toBe(`${X_SIEVE}Subject: s`);
  });

  it('passes on or drops header lines longer than it holds, in pieces', async () => {
    const long = 'x'.repeat(200_000);
    const message = `X-Long: ${long}\r\nReturn-Path: <${long}>\r\n continued ${long}\r\nSubject: s\r\n\r\nbody\n`;
    expect(await redirected(message, 4096)).toBe(`${X_SIEVE}X-Long: ${long}\nSubject: s\n\nbody\n`);
  });

  it('adds the new Message-ID with CRLF, as Pigeonhole does', () => {
    expect(redirectHeader({ redirectedFrom: 'u@example.org', newMessageId: '<dovecot-sieve-1-2-0@vm>' }).toString()).toBe(
      `${X_SIEVE}X-Sieve-Redirected-From: u@example.org\nMessage-ID: <dovecot-sieve-1-2-0@vm>\r\n`,
    );
    expect(redirectHeader({ redirectedFrom: undefined }).toString()).toBe(X_SIEVE);
  });

  // measured: "X-Sieve-Redirected-From: " is 25 characters; a line reaching 80 with more to come folds
  it.each<[string, string]>([
    [`"${'x'.repeat(37)} y"@example.org`, `X-Sieve-Redirected-From: "${'x'.repeat(37)} y"@example.org\n`],
    [`"${'x'.repeat(39)} y"@example.org`, `X-Sieve-Redirected-From: "${'x'.repeat(39)} y"@example.org\n`],
    [`"${'x'.repeat(40)} y"@example.org`, `X-Sieve-Redirected-From: "${'x'.repeat(40)}\n\ty"@example.org\n`],
    [`"a  b ${'c'.repeat(94)}"@example.org`, `X-Sieve-Redirected-From: "a  b\n\t${'c'.repeat(94)}"@example.org\n`],
    [`"${'x'.repeat(120)}"@example.org`, `X-Sieve-Redirected-From: "${'x'.repeat(120)}"@example.org\n`],
    // blanks around the fold go, before it and after it
    [`"${'x'.repeat(53)}  y"@example.org`, `X-Sieve-Redirected-From: "${'x'.repeat(53)}\n\ty"@example.org\n`],
    [`"${'x'.repeat(53)}   y"@example.org`, `X-Sieve-Redirected-From: "${'x'.repeat(53)}\n\ty"@example.org\n`],
    [
      `"aaaaaaaaaa ${'b'.repeat(56)}   cccccccccc  dddd"@example.org`,
      `X-Sieve-Redirected-From: "aaaaaaaaaa\n\t${'b'.repeat(56)}   cccccccccc\n\tdddd"@example.org\n`,
    ],
  ])('folds X-Sieve-Redirected-From as Pigeonhole does: %s', (address, line) => {
    expect(redirectHeader({ redirectedFrom: address }).toString()).toBe(X_SIEVE + line);
  });
});

describe('messageIdOf', () => {
  it.each<[string, string | undefined]>([
    ['Message-ID: <orig-123@example.com>\n', '<orig-123@example.com>'],
    ['Subject: none\n', undefined],
    ['Message-ID:\n', undefined],
    ['Message-ID: not an id\n', undefined],
    ['Message-ID: <no-at-sign>\n', undefined],
    ['Message-ID: <no-at-sign> <second@example.com>\n', '<second@example.com>'],
    ['Message-ID:\n  <folded@example.com>\n', '<folded@example.com>'],
    ['Message-ID: < a @ b >\n', '<a@b>'],
    ['Message-ID: (comment) <a@b>\n', '<a@b>'],
    ['Message-ID: <"quoted left"@example.com>\n', '<quoted left@example.com>'],
    ['Message-ID: <a(comment)@b>\n', '<a@b>'],
    ['Message-ID: <"unterminated@b>\n', undefined],
    ['Message-ID: <first@a>\nMessage-ID: <second@b>\n', '<first@a>'],
    ['Message-ID: <no-at>\nMessage-ID: <second@b>\n', undefined],
  ])('%j', (header, expected) => {
    expect(messageIdOf(Buffer.from(header))).toBe(expected);
  });
});

describe('redirectLoopDetected', () => {
  it.each<[string, (string | undefined)[], boolean]>([
    ['X-Sieve-Redirected-From: user@example.org\n', ['user@example.org', undefined], true],
    ['X-Sieve-Redirected-From: other@example.org\nX-Sieve-Redirected-From:  user@example.org \n', ['user@example.org'], true],
    ['X-Sieve-Redirected-From: me@example.org\n', ['user@example.org', 'me@example.org'], true],
    ['X-Sieve-Redirected-From: someone@else\n', ['user@example.org', 'me@example.org'], false],
    ['X-Sieve-Redirected-From: User@example.org\n', ['user@example.org'], false],
    ['Subject: s\n', ['user@example.org'], false],
    ['X-Sieve-Redirected-From: user@example.org\n', [undefined], false],
  ])('%j against %j', (header, own, expected) => {
    expect(redirectLoopDetected(Buffer.from(header), own)).toBe(expected);
  });
});

describe('redirectDuplicateId', () => {
  it('joins the parts as Pigeonhole does (as found in a .dovecot.lda-dupes it wrote)', () => {
    const header = Buffer.from('Message-ID: <orig-123@example.com>\nList-Id: <list.example.com>\nResent-Message-ID: <resent@x>\nResent-From: r@x\n');
    expect(redirectDuplicateId(header, '<orig-123@example.com>', 'Orig@Example.org', 'X@example.net')).toBe(
      '<orig-123@example.com>-Orig@Example.org-X@example.net-<resent@x>-<list.example.com>',
    );
  });

  it.each<[string, string]>([
    ['Resent-From: r@x\n', '<m@x>-o@x-t@x-r@x-'],
    ['Subject: s\n', '<m@x>-o@x-t@x--'],
  ])('falls back to Resent-From, then to nothing: %j', (header, expected) => {
    expect(redirectDuplicateId(Buffer.from(header), '<m@x>', 'o@x', 't@x')).toBe(expected);
  });
});
