// The rejection MDN byte for byte against what dovecot-lda 2.3.19 + Pigeonhole
// 0.5.19 sent (test/fixtures/sieve/outgoing/), plus the parts Dovecot varies:
// postmaster quoting, %s from the raw Subject, skip rules.

import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { composeRejection, rejectionSkipReason, type Postmaster, type RejectionOptions } from '../../../src/sieve/outgoing/reject.js';

const FIXTURES = resolve(__dirname, '../../fixtures/sieve/outgoing');

interface RejectCase {
  name: string;
  input: string;
  argv: string[];
  reason: string;
  returnPath: string;
  recipient: string;
  postmaster: Postmaster;
  messageId: string;
  date: string;
  pid: number;
  hostname: string;
  subjectTemplate?: string;
  reasonTemplate?: string;
}

const cases = (JSON.parse(readFileSync(join(FIXTURES, 'cases.json'), 'utf8')) as RejectCase[]).filter((c) => c.name.startsWith('reject-'));

/** The header section as MessageSource.header holds it: LF line ends, up to and excluding the blank line. */
function storedHeader(message: Buffer): Buffer {
  const stored = Buffer.from(message.toString('latin1').replace(/\r\n/g, '\n'), 'latin1');
  const blank = stored.indexOf('\n\n');
  return blank < 0 ? stored : stored.subarray(0, blank + 1);
}

function options(header: string, overrides: Partial<RejectionOptions> = {}): RejectionOptions {
  return {
    header: Buffer.from(header, 'utf8'),
    returnPath: 'sender@example.com',
    recipient: 'user@example.org',
    reason: 'No.',
    postmaster: { localpart: 'postmaster', domain: 'example.org' },
    hostname: 'mx.example.org',
    pid: 4242,
    messageId: '<dovecot-1-2-0@host>',
    date: 'Mon, 02 Dec 2024 09:05:01 +0000',
    ...overrides,
  };
}

function lineOf(message: Buffer, name: string): string | undefined {
  return message
    .toString('utf8')
    .split('\r\n')
    .find((line) => line.startsWith(`${name}: `));
}

describe('composeRejection', () => {
  it.each(cases)('matches what Dovecot sent: $name', (testCase) => {
    const input = readFileSync(join(FIXTURES, testCase.input));
    const rejection = composeRejection({
      header: storedHeader(input),
      returnPath: testCase.returnPath,
      recipient: testCase.recipient,
      reason: testCase.reason,
      postmaster: testCase.postmaster,
      hostname: testCase.hostname,
      pid: testCase.pid,
      messageId: testCase.messageId,
      date: testCase.date,
      ...(testCase.subjectTemplate === undefined ? {} : { subjectTemplate: testCase.subjectTemplate }),
      ...(testCase.reasonTemplate === undefined ? {} : { reasonTemplate: testCase.reasonTemplate }),
    });
    expect(rejection.message.toString('latin1')).toBe(readFileSync(join(FIXTURES, `${testCase.name}.sent`)).toString('latin1'));
    expect(rejection.sender).toBe('');
    expect(['-i', '-f', '<>', '--', rejection.recipient]).toEqual(testCase.argv);
    expect(rejection.expansionError).toBeUndefined();
  });

  it.each<[string, Postmaster, string]>([
    ['no name: Postmaster', { localpart: 'pm', domain: 'example.org' }, 'From: Postmaster <pm@example.org>'],
    ['a plain word', { name: 'Admin', localpart: 'pm', domain: 'example.org' }, 'From: Admin <pm@example.org>'],
    ['a blank: quoted', { name: 'Mail Admin', localpart: 'pm', domain: 'example.org' }, 'From: "Mail Admin" <pm@example.org>'],
    ['a dot: quoted', { name: 'Mail.Admin', localpart: 'pm', domain: 'example.org' }, 'From: "Mail.Admin" <pm@example.org>'],
    ['8-bit: raw', { name: 'Pöstmaster', localpart: 'pm', domain: 'example.org' }, 'From: Pöstmaster <pm@example.org>'],
    ['quoted: quotes and apostrophes escaped (measured)', { name: 'Bob "B" O\'Neil', localpart: 'pm', domain: 'example.org' }, 'From: "Bob \\"B\\" O\\\'Neil" <pm@example.org>'],
    ['an encoded word: raw', { name: '=?utf-8?q?P=C3=B6st?= Master', localpart: 'pm', domain: 'example.org' }, 'From: =?utf-8?q?P=C3=B6st?= Master <pm@example.org>'],
    ['a dotted local part stays', { name: 'PM', localpart: 'post.master', domain: 'example.org' }, 'From: PM <post.master@example.org>'],
    ['a local part with a blank is quoted', { name: 'PM', localpart: 'post master', domain: 'example.org' }, 'From: PM <"post master"@example.org>'],
    ['an empty name: the address alone', { name: '', localpart: 'pm', domain: 'example.org' }, 'From: <pm@example.org>'],
  ])('writes the postmaster as Dovecot does: %s', (_name, postmaster, line) => {
    expect(lineOf(composeRejection(options('Subject: x\n', { postmaster })).message, 'From')).toBe(line);
  });

  it.each([
    ['no Subject field', 'From: a@b\n', 'Subject: Rejected: '],
    ['an empty Subject', 'Subject:\n', 'Subject: Rejected: '],
    ['the first Subject only', 'Subject: one\nSubject: two\n', 'Subject: Rejected: one'],
    ['trailing blanks kept, leading dropped', 'Subject: \t spaced  \n', 'Subject: Rejected: spaced  '],
    ['a folded Subject: its line break becomes ?', 'Subject: a\n b\n', 'Subject: Rejected: a? b'],
    ['valid UTF-8 stays', 'Subject: caf\u00e9 ok\n', 'Subject: Rejected: café ok'],
  ])('fills %%s from the raw Subject: %s', (_name, header, line) => {
    expect(lineOf(composeRejection(options(header)).message, 'Subject')).toBe(line);
  });

  it('replaces bytes that are not UTF-8 with ? in %s', () => {
    const header = Buffer.concat([Buffer.from('Subject: caf'), Buffer.from([0xe9]), Buffer.from(' x\n')]);
    const message = composeRejection({ ...options(''), header }).message.toString('latin1');
    expect(message).toContain('\r\nSubject: Rejected: caf? x\r\n');
  });

  it('keeps raw header bytes that are not UTF-8 in the quoted header', () => {
    const header = Buffer.concat([Buffer.from('X-Latin: caf'), Buffer.from([0xe9]), Buffer.from('\nSubject: s\n')]);
    const message = composeRejection({ ...options(''), header }).message;
    expect(message.includes(header)).toBe(true);
  });

  it('drops every Content-Type field with its continuation lines from the quoted header, in any case and spelling', () => {
    const header = 'From: a@b\nContent-Type: multipart/mixed;\n\tboundary="x"\nSubject: s\ncontent-type : text/plain\nX-After: 1\n';
    const message = composeRejection(options(header)).message.toString('utf8');
    expect(message).toContain('Content-Type: message/rfc822\r\n\r\nFrom: a@b\nSubject: s\nX-After: 1\n\n\r\n\r\n--4242/mx.example.org--\r\n');
  });

  it('names the Original-Recipient field and the Message-ID as the message has them, and leaves out the lines it lacks', () => {
    const withBoth = composeRejection(options('Original-Recipient: rfc822;a@b\nMessage-ID: <m@x>\n')).message.toString('utf8');
    expect(withBoth).toContain('\r\nOriginal-Recipient: rfc822; rfc822;a@b\r\nFinal-Recipient: rfc822; user@example.org\r\nOriginal-Message-ID: <m@x>\r\n');
    const withNeither = composeRejection(options('Subject: s\n')).message.toString('utf8');
    expect(withNeither).not.toContain('Original-Recipient');
    expect(withNeither).not.toContain('Original-Message-ID');
  });

  it('reports a template it could not expand, as Dovecot logs it, and still composes', () => {
    const rejection = composeRejection(options('Subject: s\n', { subjectTemplate: 'Bounced %z' }));
    expect(rejection.expansionError).toMatch(/^Failed to expand rejection_subject=Bounced %z: /);
    expect(lineOf(rejection.message, 'Subject')).toMatch(/^Subject: Bounced /);
  });

  it('sends to the return path, from the null sender', () => {
    const rejection = composeRejection(options('Subject: s\n', { returnPath: '"a b"@example.com' }));
    expect(rejection).toMatchObject({ sender: '', recipient: '"a b"@example.com' });
    expect(lineOf(rejection.message, 'To')).toBe('To: <"a b"@example.com>');
  });
});

describe('rejectionSkipReason', () => {
  it.each<[string, string, string, 'null-sender' | 'auto-submitted' | undefined]>([
    ['a normal message', 'Subject: s\n', 'sender@example.com', undefined],
    ['the null sender', 'Subject: s\n', '', 'null-sender'],
    ['Auto-Submitted: no', 'Auto-Submitted: no\n', 'sender@example.com', undefined],
    ['Auto-Submitted: No', 'Auto-Submitted: No\n', 'sender@example.com', undefined],
    ['Auto-Submitted:   NO (leading blanks skipped)', 'Auto-Submitted:   NO\n', 'sender@example.com', undefined],
    ['Auto-Submitted: "no " (trailing blank kept)', 'Auto-Submitted: no \n', 'sender@example.com', 'auto-submitted'],
    ['Auto-Submitted: no (x)', 'Auto-Submitted: no (x)\n', 'sender@example.com', 'auto-submitted'],
    ['an empty Auto-Submitted', 'Auto-Submitted:\n', 'sender@example.com', 'auto-submitted'],
    ['Auto-Submitted: auto-generated', 'Auto-Submitted: auto-generated\n', 'sender@example.com', 'auto-submitted'],
    ['only the first Auto-Submitted counts', 'Auto-Submitted: no\nAuto-Submitted: auto-replied\n', 'sender@example.com', undefined],
    ['the null sender wins over Auto-Submitted', 'Auto-Submitted: auto-replied\n', '', 'null-sender'],
  ])('%s', (_name, header, returnPath, expected) => {
    expect(rejectionSkipReason(Buffer.from(header), returnPath)).toBe(expected);
  });
});
