// The mbox rows of the side-by-side table (./lda.test.ts runs them): INBOX
// files in a home or a spool directory, autodetection, -m folders, senders,
// awkward messages, appending to existing mboxes, and failures that must
// leave the mbox as it was. Setup helpers run as root and chown what they make.

import { spawnSync } from 'node:child_process';
import { mkdirSync, chownSync, writeFileSync, symlinkSync, linkSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import type { CompatCase } from './harness.js';
import { mailUid, mailGid, MAIL_USER } from '../e2e/harness.js';

const USER = `${MAIL_USER}@example.org`;
const SIMPLE = 'From: a@example.org\nSubject: hello\nMessage-ID: <m1@example.org>\n\nbody\n';
const MBOX = 'mail_location = mbox:~/mail:INBOX=~/inbox';
const SPOOL_MBOX = 'mail_location = mbox:~/mail:INBOX=~/spool/%n';
/** The "mail" group, owner of Debian's /var/mail (root:mail 2775). */
const MAIL_GROUP_ID = Number(spawnSync('getent', ['group', 'mail'], { encoding: 'utf8' }).stdout.split(':')[2]);

/** One message as an mbox writer leaves it, with its separator line. */
function mboxMessage(body: string): string {
  return `From old@example.org  Mon Nov 23 09:00:00 2026\nSubject: old\nContent-Length: ${Buffer.byteLength(body)}\n\n${body}\n`;
}

const OLD_MESSAGE = mboxMessage('old body\n');
const lines = (count: number) => `${'z'.repeat(79)}\n`.repeat(count);

/** A spool file for the autodetection case: unique to this run, in the system spool directory. */
const SPOOL_USER = `dovetail-compat-${process.pid}`;

function ownedDirectory(path: string, mode = 0o700): void {
  mkdirSync(path, { mode });
  chmodSync(path, mode);
  chownSync(path, mailUid!, mailGid!);
}

function ownedFile(path: string, content: string | Buffer, mode = 0o600): void {
  writeFileSync(path, content, { mode });
  chmodSync(path, mode);
  chownSync(path, mailUid!, mailGid!);
}

/** home/spool owned by root with `mode` and group `gid`, optionally holding the user's INBOX file. */
function spoolDirectory(home: string, mode: number, gid: number, inbox?: string): void {
  const spool = join(home, 'spool');
  mkdirSync(spool);
  chownSync(spool, 0, gid);
  chmodSync(spool, mode);
  if (inbox !== undefined) ownedFile(join(spool, MAIL_USER), inbox);
}

/** home/mail (the mbox root) with an empty mbox NAME in it. */
function mboxFolder(home: string, name: string): void {
  ownedDirectory(join(home, 'mail'));
  ownedFile(join(home, 'mail', name), '');
}

/** A case delivering to the default mbox location (INBOX ~/inbox, root ~/mail) as the user. */
function mbox(name: string, input: string | Buffer, extra: Partial<CompatCase> = {}): CompatCase {
  return { name: `mbox: ${name}`, as: 'user', args: [], input, ...extra, config: [MBOX, ...(extra.config ?? [])] };
}

/**
 * A case delivering to INBOX=~/spool/USER as the user, the spool directory
 * owned by root with `mode` and group `gid`, holding `inbox` when given.
 */
function spool(name: string, mode: number, gid: number, inbox?: string, extra: Partial<CompatCase> = {}): CompatCase {
  return {
    name: `mbox: ${name}`,
    as: 'user',
    args: [],
    input: SIMPLE,
    ...extra,
    config: [SPOOL_MBOX, ...(extra.config ?? [])],
    setup: (home) => spoolDirectory(home, mode, gid, inbox),
  };
}

const AS_ROOT_WITH_PRIVILEGED_GROUP: Partial<CompatCase> = { as: 'root', args: ['-d', USER], config: ['mail_privileged_group = mail'] };

const SETTINGS = 'Settings';
const FROM_QUOTING = 'mbox From_ quoting';

export const MBOX_CASES: CompatCase[] = [
  // where INBOX is
  mbox('INBOX= file created', SIMPLE),
  mbox('-d as root', SIMPLE, { as: 'root', args: ['-d', USER] }),
  mbox('INBOX= in directories not made yet', SIMPLE, { config: ['mail_location = mbox:~/mail:INBOX=~/other/deep/inbox'] }),
  spool('INBOX= in a world-writable sticky spool directory', 0o1777, 0),
  spool('root:mail 2775 spool, existing INBOX, mail_privileged_group, -d', 0o2775, MAIL_GROUP_ID, '', AS_ROOT_WITH_PRIVILEGED_GROUP),
  spool('root:mail 2775 spool, missing INBOX, mail_privileged_group, -d', 0o2775, MAIL_GROUP_ID, undefined, AS_ROOT_WITH_PRIVILEGED_GROUP),
  spool('root:mail 2775 spool without mail_privileged_group', 0o2775, MAIL_GROUP_ID, ''),
  spool('root:mail 2775 spool without a dotlock in mbox_write_locks', 0o2775, MAIL_GROUP_ID, '', { config: ['mbox_write_locks = fcntl'] }),
  spool('unwritable spool directory, INBOX missing', 0o755, 0),
  mbox('read-only INBOX file', SIMPLE, { setup: (home) => ownedFile(join(home, 'inbox'), OLD_MESSAGE, 0o400) }),
  {
    name: 'mbox: autodetected ~/mail, INBOX inside it',
    as: 'user',
    config: ['mail_location ='],
    args: [],
    input: SIMPLE,
    setup: (home) => mboxFolder(home, 'inbox'),
  },
  {
    name: 'mbox: autodetected ~/mail, INBOX in /var/mail, -d',
    as: 'root',
    config: ['mail_location =', 'mail_privileged_group = mail'],
    users: [`${SPOOL_USER}::${mailUid}:${mailGid}::{HOME}::`],
    args: ['-d', SPOOL_USER],
    input: SIMPLE,
    spoolFile: `/var/mail/${SPOOL_USER}`,
    setup: (home) => {
      mboxFolder(home, 'mbox');
      ownedFile(`/var/mail/${SPOOL_USER}`, '');
    },
  },

  // -m folders
  mbox('-m existing folder', SIMPLE, { args: ['-m', 'work'], setup: (home) => mboxFolder(home, 'work') }),
  mbox('-m missing folder falls back to INBOX', SIMPLE, { args: ['-m', 'work'] }),
  mbox('-m autocreate', SIMPLE, { args: ['-m', 'work'], config: ['lda_mailbox_autocreate = yes'] }),
  mbox('-m autocreate and autosubscribe', SIMPLE, {
    args: ['-m', 'work'],
    config: ['lda_mailbox_autocreate = yes', 'lda_mailbox_autosubscribe = yes'],
  }),
  mbox('-m nested, autocreate', SIMPLE, { args: ['-m', 'a/b/c'], config: ['lda_mailbox_autocreate = yes'] }),
  mbox('-m nested, autocreate and autosubscribe, as root', SIMPLE, {
    as: 'root',
    args: ['-d', USER, '-m', 'lists/dev'],
    config: ['lda_mailbox_autocreate = yes', 'lda_mailbox_autosubscribe = yes'],
  }),
  mbox('-m INBOX', SIMPLE, { args: ['-m', 'INBOX'] }),
  mbox('-m a directory that only holds folders', SIMPLE, {
    args: ['-m', 'lists'],
    setup: (home) => {
      ownedDirectory(join(home, 'mail'));
      ownedDirectory(join(home, 'mail', 'lists'));
      ownedFile(join(home, 'mail', 'lists', 'dev'), '');
    },
  }),
  mbox('-m a folder under an mbox file, autocreate', SIMPLE, {
    args: ['-m', 'work/sub'],
    config: ['lda_mailbox_autocreate = yes'],
    setup: (home) => mboxFolder(home, 'work'),
  }),

  // locks
  mbox('flock only', SIMPLE, { config: ['mbox_read_locks = flock', 'mbox_write_locks = flock'] }),
  mbox('dotlock_try and fcntl', SIMPLE, { config: ['mbox_write_locks = dotlock_try fcntl'] }),
  mbox('write locks without the read lock', SIMPLE, { config: ['mbox_write_locks = dotlock'], intentional: SETTINGS }),
  mbox('unknown lock method', SIMPLE, { config: ['mbox_write_locks = dotlock fcntl bogus'], intentional: SETTINGS }),
  mbox('stale dotlock of a dead process', SIMPLE, {
    config: ['mbox_dotlock_change_timeout = 1s'],
    setup: (home) => ownedFile(join(home, 'inbox.lock'), '999999:nosuchhost', 0o644),
  }),

  // senders
  mbox('-f address', SIMPLE, { args: ['-f', 'sender@example.org'] }),
  mbox('-f <>', SIMPLE, { args: ['-f', '<>'] }),
  mbox('sender from the From_ line', `From line@example.org  Mon Nov 23 09:00:00 2026\n${SIMPLE}`),
  mbox('-f beats the From_ line', `From line@example.org  Mon Nov 23 09:00:00 2026\n${SIMPLE}`, { args: ['-f', 'flag@example.org'] }),

  // messages
  mbox('CRLF line endings', 'Subject: crlf\r\n\r\nline 1\r\nline 2\r\n'),
  mbox('no final newline', 'Subject: x\n\nno newline'),
  mbox('empty message', ''),
  mbox('headers only, no empty line', 'Subject: only a header\n'),
  mbox('headers and an empty line, no body', 'Subject: no body\n\n'),
  mbox('no headers', 'just a body line\n'),
  mbox('body ends with empty lines', 'Subject: x\n\nbody\n\n\n'),
  mbox('NUL and 8-bit bytes', Buffer.from('Subject: bin\n\n\u0000\u00ff\u00e9 b\n', 'latin1')),
  mbox('several MB', `Subject: big\n\n${lines(40_000)}`),
  mbox('incoming bookkeeping headers are dropped', [
    'From: a@example.org',
    'Status: RO',
    'X-Status: AF',
    'X-Keywords: $Label1',
    '  junk',
    'X-UID: 77',
    'X-IMAPbase: 1234567890 0000000099',
    'X-IMAP: 1234567890 0000000099',
    'content-length: 99999',
    'X-Delivery-ID: abc',
    'Subject: kept',
    '',
    'body',
    '',
  ].join('\n')),
  mbox('a From_ line inside the header', 'Subject: a\nFrom other@example.org  Mon Nov 23 09:00:00 2026\nTo: b@example.org\n\nbody\n'),
  mbox('body line starting with From', 'Subject: f\n\nFrom here on\n', { intentional: FROM_QUOTING }),
  mbox('body line starting with >From', 'Subject: f\n\n>From there\n', { intentional: FROM_QUOTING }),
  mbox('body holding an mbox', `Subject: f\n\nforwarded:\n\n${OLD_MESSAGE}`, { intentional: FROM_QUOTING }),

  // existing mboxes
  mbox('appending after a separator line', SIMPLE, { setup: (home) => ownedFile(join(home, 'inbox'), OLD_MESSAGE) }),
  mbox('appending after a final newline without a separator line', SIMPLE, {
    setup: (home) => ownedFile(join(home, 'inbox'), OLD_MESSAGE.slice(0, -1)),
  }),
  mbox('appending after no final newline', SIMPLE, {
    setup: (home) => ownedFile(join(home, 'inbox'), mboxMessage('old body').slice(0, -1)),
  }),
  mbox('appending to an empty file', SIMPLE, { setup: (home) => ownedFile(join(home, 'inbox'), '') }),
  mbox('appending to a file that is not an mbox', SIMPLE, { setup: (home) => ownedFile(join(home, 'inbox'), 'not an mbox\n') }),
  mbox('INBOX is a symlink', SIMPLE, {
    setup: (home) => {
      ownedFile(join(home, 'real-inbox'), OLD_MESSAGE);
      symlinkSync('real-inbox', join(home, 'inbox'));
    },
  }),
  mbox('INBOX has a second hard link', SIMPLE, {
    setup: (home) => {
      ownedFile(join(home, 'inbox'), OLD_MESSAGE);
      linkSync(join(home, 'inbox'), join(home, 'inbox-link'));
    },
  }),
  mbox('INBOX is a directory', SIMPLE, { setup: (home) => ownedDirectory(join(home, 'inbox')) }),
  mbox('file-size limit reached while appending', `Subject: big\n\n${lines(4_000)}`, {
    fileSizeLimitBlocks: 1536, // 768 KiB: room for the message in a temp file, not in the mbox
    setup: (home) => ownedFile(join(home, 'inbox'), mboxMessage(lines(7_000))),
  }),
];
