// Dovetail beside Debian's dovecot-lda, case by case: same config, arguments,
// input and user; the exit codes and what lands on disk must be identical,
// unless the case names an intentional difference from docs/compatibility.md.

import { describe, it, expect, afterAll } from 'vitest';
import { mkdirSync, chownSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CompatSuite, CompatTally, compatUnavailable, type CompatCase } from './harness.js';
import { MBOX_CASES } from './mbox-cases.js';
import { mailUid, mailGid, MAIL_USER } from '../e2e/harness.js';

const USER = `${MAIL_USER}@example.org`;
const SIMPLE = 'From: a@example.org\nSubject: hello\nMessage-ID: <m1@example.org>\n\nbody\n';

/** Creates home/Maildir/NAME/{cur,new,tmp}, every directory owned by the mail user, mode 0700. */
function maildirFolder(home: string, name: string): void {
  for (const path of [join(home, 'Maildir'), join(home, 'Maildir', name)]) {
    mkdirSync(path, { recursive: true, mode: 0o700 });
    chownSync(path, mailUid!, mailGid!);
  }
  for (const sub of ['cur', 'new', 'tmp']) {
    mkdirSync(join(home, 'Maildir', name, sub), { mode: 0o700 });
    chownSync(join(home, 'Maildir', name, sub), mailUid!, mailGid!);
  }
}

const CASES: CompatCase[] = [
  // command line
  { name: 'plain delivery as the user', as: 'user', args: [], input: SIMPLE },
  { name: 'plain delivery as root with -d', as: 'root', args: ['-d', USER], input: SIMPLE },
  { name: '-d with upper-case user', as: 'root', args: ['-d', USER.toUpperCase()], input: SIMPLE },
  { name: '-d unknown user', as: 'root', args: ['-d', 'nobody@example.org'], input: SIMPLE },
  { name: 'root without -d', as: 'root', args: [], input: SIMPLE },
  { name: 'unknown option', as: 'user', args: ['-Z'], input: SIMPLE },
  { name: 'extra argument', as: 'user', args: ['extra'], input: SIMPLE },
  { name: '-f address', as: 'user', args: ['-f', 'sender@example.org'], input: SIMPLE },
  { name: '-f glued to the letter', as: 'user', args: ['-fsender@example.org'], input: SIMPLE },
  { name: '-f <>', as: 'user', args: ['-f', '<>'], input: SIMPLE },
  { name: '-f empty', as: 'user', args: ['-f', ''], input: SIMPLE },
  { name: '-f unparseable', as: 'user', args: ['-f', 'a b c@'], input: SIMPLE },
  { name: '-a address', as: 'user', args: ['-a', 'rcpt@example.org'], input: SIMPLE },
  { name: '-a local part only', as: 'user', args: ['-a', 'rcpt'], input: SIMPLE },
  { name: '-a bracketed', as: 'user', args: ['-a', '<rcpt@example.org>'], input: SIMPLE },
  { name: '-a with a space', as: 'user', args: ['-a', 'a b@example.org'], input: SIMPLE },
  { name: '-a empty', as: 'user', args: ['-a', ''], input: SIMPLE },
  { name: '-r address', as: 'user', args: ['-r', 'final@example.org'], input: SIMPLE },
  { name: '-r broken', as: 'user', args: ['-r', '@@'], input: SIMPLE },
  { name: '-e -k grouped', as: 'user', args: ['-ek'], input: SIMPLE },
  { name: '-o override of mail_location', as: 'user', args: ['-o', 'mail_location=maildir:~/Other'], input: SIMPLE },
  { name: '-o without =', as: 'user', args: ['-o', 'mail_location'], input: SIMPLE },
  { name: '-o unknown setting', as: 'user', args: ['-o', 'no_such_setting=1'], input: SIMPLE },
  { name: '-p file', as: 'user', args: ['-p', '{DIR}/msg.eml'], input: '', setup: (_h, dir) => writeFileSync(join(dir, 'msg.eml'), SIMPLE) },
  { name: '-p missing file', as: 'user', args: ['-p', '{DIR}/missing.eml'], input: '' },

  // mailboxes
  { name: '-m missing folder falls back to INBOX', as: 'user', args: ['-m', 'work'], input: SIMPLE },
  { name: '-m "" is ignored', as: 'user', args: ['-m', ''], input: SIMPLE },
  { name: '-m inbox in lower case', as: 'user', args: ['-m', 'inbox'], input: SIMPLE },
  { name: '-m existing folder', as: 'user', args: ['-m', 'work'], input: SIMPLE, setup: (home) => maildirFolder(home, '.work') },
  { name: '-m autocreate', as: 'user', config: ['lda_mailbox_autocreate = yes'], args: ['-m', 'work'], input: SIMPLE },
  {
    name: '-m autocreate and autosubscribe',
    as: 'user',
    config: ['lda_mailbox_autocreate = yes', 'lda_mailbox_autosubscribe = yes'],
    args: ['-m', 'work'],
    input: SIMPLE,
  },
  { name: '-m nested, autocreate', as: 'user', config: ['lda_mailbox_autocreate = yes'], args: ['-m', 'a.b'], input: SIMPLE },
  {
    name: '-m nested with / separator',
    as: 'user',
    config: ['lda_mailbox_autocreate = yes', 'namespace inbox {', 'inbox = yes', 'separator = /', '}'],
    args: ['-m', 'a/b/c'],
    input: SIMPLE,
  },
  {
    name: 'namespace prefix INBOX/',
    as: 'user',
    config: ['lda_mailbox_autocreate = yes', 'namespace inbox {', 'inbox = yes', 'prefix = INBOX/', 'separator = /', '}'],
    args: ['-m', 'INBOX/work/2026'],
    input: SIMPLE,
  },
  {
    name: 'namespace prefix alone ends in INBOX',
    as: 'user',
    config: ['namespace inbox {', 'inbox = yes', 'prefix = INBOX/', 'separator = /', '}'],
    args: ['-m', 'INBOX/'],
    input: SIMPLE,
  },
  { name: 'LAYOUT=fs autocreate', as: 'user', config: ['mail_location = maildir:~/Maildir:LAYOUT=fs', 'lda_mailbox_autocreate = yes'], args: ['-m', 'a/b'], input: SIMPLE },
  { name: '-m with ..', as: 'user', config: ['lda_mailbox_autocreate = yes'], args: ['-m', '../escape'], input: SIMPLE },
  { name: '-m UTF-8 name', as: 'user', config: ['lda_mailbox_autocreate = yes'], args: ['-m', 'Entwürfe'], input: SIMPLE },
  {
    name: '-m UTF-8 name, autosubscribe',
    as: 'user',
    config: ['lda_mailbox_autocreate = yes', 'lda_mailbox_autosubscribe = yes', 'namespace inbox {', 'inbox = yes', 'separator = /', '}'],
    args: ['-m', 'Ärger/ü'],
    input: SIMPLE,
  },

  { name: '-e with a temporary failure', as: 'user', config: ['mail_location = maildir:/nonexistent/Maildir'], args: ['-e'], input: SIMPLE },
  { name: '-d with -m and autocreate', as: 'root', config: ['lda_mailbox_autocreate = yes'], args: ['-d', USER, '-m', 'lists'], input: SIMPLE },
  { name: '-a and -r together', as: 'user', args: ['-a', 'orig@example.org', '-r', 'final@example.org'], input: SIMPLE },
  {
    name: 'INBOX= elsewhere',
    as: 'user',
    config: ['mail_location = maildir:~/Maildir:INBOX=~/Inbox'],
    args: [],
    input: SIMPLE,
    intentional: "Dovecot's index files are not written",
  },
  {
    name: 'CONTROL= for subscriptions',
    as: 'user',
    config: ['mail_location = maildir:~/Maildir:CONTROL=~/control', 'lda_mailbox_autocreate = yes', 'lda_mailbox_autosubscribe = yes'],
    args: ['-m', 'work'],
    input: SIMPLE,
    intentional: "Dovecot's index files are not written",
  },
  { name: 'protocol lda {} overrides', as: 'user', config: ['protocol lda {', 'mail_location = maildir:~/ViaProtocol', '}'], args: [], input: SIMPLE },
  { name: '!include of a missing file', as: 'user', config: ['!include {DIR}/missing.conf'], args: [], input: SIMPLE },
  { name: '!include_try of a missing file', as: 'user', config: ['!include_try {DIR}/missing.conf'], args: [], input: SIMPLE },

  // users
  { name: 'userdb_mail extra field', as: 'root', args: ['-d', USER], input: SIMPLE, users: [`${USER}::${mailUid}:${mailGid}::{HOME}::userdb_mail=maildir:~/Extra`] },
  { name: 'uid below first_valid_uid', as: 'root', args: ['-d', USER], input: SIMPLE, users: [`${USER}::100:100::{HOME}::`] },
  { name: 'mail_location with %n and %d', as: 'root', config: ['mail_location = maildir:{HOME}/%d/%n'], args: ['-d', USER], input: SIMPLE },

  // messages
  { name: 'From_ line dropped', as: 'user', args: [], input: 'From someone@example.org  Mon Nov 23 09:00:00 2026\nSubject: x\n\nbody\n' },
  { name: 'CRLF line endings', as: 'user', args: [], input: 'Subject: crlf\r\n\r\nline 1\r\nline 2\r\n' },
  { name: 'no final newline', as: 'user', args: [], input: 'Subject: x\n\nno newline' },
  { name: 'NUL and 8-bit bytes', as: 'user', args: [], input: Buffer.from('Subject: bin\n\n\u0000\u00ff\u00e9 b\n', 'latin1') },
  { name: 'no headers', as: 'user', args: [], input: 'just a body line\n' },
  { name: 'empty message', as: 'user', args: [], input: '' },
  { name: 'only a From_ line', as: 'user', args: [], input: 'From x@example.org  Mon Nov 23 09:00:00 2026\n' },
  { name: 'long lines', as: 'user', args: [], input: `Subject: long\n\n${'y'.repeat(100_000)}\n` },
  { name: 'several MB', as: 'user', args: [], input: `Subject: big\n\n${`${'z'.repeat(79)}\n`.repeat(40_000)}` },
  { name: 'body line starting with From', as: 'user', args: [], input: 'Subject: f\n\nFrom here on\n>From there\n' },
  { name: 'lone CR', as: 'user', args: [], input: 'Subject: cr\n\na\rb\r\r\n' },

  // failures
  {
    name: 'unwritable Maildir',
    as: 'user',
    args: [],
    input: SIMPLE,
    setup: (home) => {
      mkdirSync(join(home, 'Maildir'), { mode: 0o555 });
    },
  },
  { name: 'mail_location under a missing, unwritable parent', as: 'user', config: ['mail_location = maildir:/nonexistent/Maildir'], args: [], input: SIMPLE },
  { name: 'config syntax error', as: 'user', config: ['namespace inbox {'], args: [], input: SIMPLE },

  // documented differences: the test fails if one of them disappears
  { name: '--help', as: 'user', noConfig: true, args: ['--help'], input: SIMPLE, intentional: '--help and --version' },
  {
    name: 'passwd-file with a uid that names no account',
    as: 'root',
    args: ['-d', USER],
    input: SIMPLE,
    users: [`${USER}::no-such-account:${mailGid}::{HOME}::`],
    intentional: 'Unreadable userdb data defers instead of bouncing',
  },

  ...MBOX_CASES,
];

const summary = new CompatTally();

describe.skipIf(compatUnavailable !== undefined)(`dovetail beside dovecot-lda${compatUnavailable ? ` (skipped: ${compatUnavailable})` : ''}`, () => {
  const suite = new CompatSuite();
  afterAll(() => {
    suite.stop();
    console.log(summary.line('cases', 'dovecot-lda'));
  });

  CASES.forEach((testCase, index) => {
    it(testCase.name, () => {
      const dovecot = suite.run(testCase, 'dovecot', index);
      const dovetail = suite.run(testCase, 'dovetail', index);
      const same = dovecot.status === dovetail.status && JSON.stringify(dovecot.tree) === JSON.stringify(dovetail.tree);
      if (!summary.record(testCase, same)) return;
      expect({ status: dovetail.status, tree: dovetail.tree, stderr: dovetail.stderr }).toEqual({
        status: dovecot.status,
        tree: dovecot.tree,
        stderr: expect.any(String),
      });
    });
  });
});
