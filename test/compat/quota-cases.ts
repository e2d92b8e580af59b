// The quota rows of the side-by-side table (./quota.test.ts runs them):
// Maildir++ quota as dovecot-lda's quota plugin enforces it at delivery:
// storage and message limits, under and over, -e, quota_full_tempfail, the
// rejection mail, quota_exceeded_message, quota_max_mail_size, grace,
// noenforcing, recalculation of a missing or stale maildirsize, folders (-m,
// per-mailbox rules, ignore), Sieve, userdb overrides (-d) and warnings.
// Each case says what dovecot-lda does with it (`dovecot`), checked before
// Dovetail is compared. The test message is 96 bytes on disk (S=96), so a
// limit of 200B takes two of them. Setup helpers run as root and chown what
// they make.

import { mkdirSync, chownSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { CompatCase } from './harness.js';
import { mailUid, mailGid, MAIL_USER } from '../e2e/harness.js';

export interface QuotaOutcome {
  /** exit status of each delivery; default 0 for each */
  statuses?: number[];
  /** where the messages landed (harness landedMessages), the seeded ones included */
  landed: string[];
  /** how many messages went to sendmail; default 0 */
  sent?: number;
  /** lines that must be among the description of what was sent (harness describeSentMessage) */
  sentLines?: string[];
  /** the last delivery's stderr; default "" */
  stderr?: string;
  /** Maildir/maildirsize as quota.test.ts summarises it: "LIMITS totals BYTES COUNT", or undefined when there is none */
  maildirsize?: string;
  /** the lines the quota-warning script recorded (its arguments after the file); default none */
  warnings?: string[];
}

export interface QuotaCase extends CompatCase {
  /** what dovecot-lda and its quota plugin do: the case's name must say the same */
  dovecot: QuotaOutcome;
}

const USER = `${MAIL_USER}@example.org`;
const SENDER = 'alice@example.org';
const ENVELOPE = ['-f', SENDER, '-a', USER];

/** 96 bytes as Dovecot stores it. */
export const MESSAGE = 'From: alice@example.org\nTo: vmail@example.org\nSubject: hello\nMessage-ID: <m1@example.org>\n\nbody\n';
/** MESSAGE with N bytes of body more. */
const bigger = (extra: number) => MESSAGE + 'x'.repeat(extra - 1) + '\n';

const WARNING_SCRIPT = resolve(__dirname, '../fixtures/quota/quota-warning');
/** Where the quota-warning script records, in the home (so that the snapshot lists it too). */
export const WARNINGS_FILE = 'warnings.log';

/**
 * The quota plugin for the LDA (in protocol lda {}, so that it adds to a
 * Sieve case's mail_plugins) and a plugin {} block: `quota = maildir:User
 * quota` and LINES.
 */
function quotaConfig(lines: string[], quota = 'maildir:User quota'): string[] {
  return ['protocol lda {', '  mail_plugins = $mail_plugins quota', '}', 'plugin {', `  quota = ${quota}`, ...lines.map((line) => `  ${line}`), '}'];
}

/** Dovecot's script service for quota_warning (in the master's config and the case's: Dovetail reads it from there). */
const WARNING_SERVICE = ['service quota-warning {', `  executable = script ${WARNING_SCRIPT}`, `  user = ${MAIL_USER}`, '  unix_listener quota-warning {', `    user = ${MAIL_USER}`, '  }', '}'];

/** Makes DIR (and its parents under the home) owned by the mail user, mode 0700. */
function userDir(path: string): void {
  mkdirSync(path, { recursive: true, mode: 0o700 });
  chownSync(path, mailUid!, mailGid!);
}

/** Creates Maildir/NAME/{cur,new,tmp} ("" for INBOX), owned by the mail user. */
function maildirFolder(home: string, name: string): void {
  userDir(join(home, 'Maildir'));
  for (const sub of ['', 'cur', 'new', 'tmp']) userDir(join(home, 'Maildir', name, sub));
}

/** Puts messages of the given sizes into Maildir/NAME/cur ("" for INBOX), named with their S= size as Dovecot would. */
function seedMessages(home: string, name: string, sizes: number[]): void {
  maildirFolder(home, name);
  sizes.forEach((size, i) => {
    const path = join(home, 'Maildir', name, 'cur', `1700000000.M${i}P1.seed,S=${size}:2,S`);
    writeFileSync(path, `Subject: seeded ${i}\n\n${'x'.repeat(Math.max(0, size - 22))}\n`.slice(0, size).padEnd(size, 'x'), { mode: 0o600 });
    chownSync(path, mailUid!, mailGid!);
  });
}

/** Writes Maildir/maildirsize with CONTENT, owned by the mail user. */
function seedMaildirsize(home: string, content: string): void {
  userDir(join(home, 'Maildir'));
  const path = join(home, 'Maildir', 'maildirsize');
  writeFileSync(path, content, { mode: 0o600 });
  chownSync(path, mailUid!, mailGid!);
}

/** A case: MESSAGE from Alice to the user, as the user, with the quota plugin and LINES in plugin {}; rejections recorded. */
function quota(name: string, lines: string[], dovecot: QuotaOutcome, extra: Partial<QuotaCase> = {}): QuotaCase {
  return { name, as: 'user', args: ENVELOPE, input: MESSAGE, recordSent: true, ...extra, config: [...quotaConfig(lines), ...(extra.config ?? [])], dovecot };
}

const QUOTA_EXCEEDED = 'Quota exceeded (mailbox for user is full)';
const REJECTION_LINES = [
  `sent 1 argv ["-i","-f","<>","--","${SENDER}"]`,
  'sent 1 auto-submitted: auto-replied (rejected)',
  `sent 1 to: <${SENDER}>`,
  'sent 1 subject: Rejected: hello',
  'sent 1 content-type: multipart/report; report-type=delivery-status',
  `sent 1 body| ${QUOTA_EXCEEDED}`,
  'sent 1 body| Status: 5.2.2',
];
const inbox = (count: number) => Array<string>(count).fill('Maildir/new');
const seededInbox = (count: number) => Array<string>(count).fill('Maildir/cur S');

const LIMITS: QuotaCase[] = [
  quota('under the storage limit: stored, maildirsize created', ['quota_rule = *:storage=1K'], { landed: inbox(1), maildirsize: '1024S totals 96 1' }),
  quota('a bare number is kilobytes', ['quota_rule = *:storage=1'], { landed: inbox(1), maildirsize: '1024S totals 96 1' }),
  quota('over the storage limit: rejection sent, exit 0', ['quota_rule = *:storage=200B'], {
    statuses: [0, 0, 0],
    landed: inbox(2),
    sent: 1,
    sentLines: REJECTION_LINES,
    maildirsize: '200S totals 192 2',
  }, { repeat: 3 }),
  quota('over the storage limit with -e: exit 77 and the reason', ['quota_rule = *:storage=100B'], {
    statuses: [0, 77],
    landed: inbox(1),
    stderr: QUOTA_EXCEEDED,
    maildirsize: '100S totals 96 1',
  }, { repeat: 2, args: [...ENVELOPE, '-e'] }),
  quota('over the storage limit with quota_full_tempfail: exit 75', ['quota_rule = *:storage=100B'], {
    statuses: [0, 75],
    landed: inbox(1),
    maildirsize: '100S totals 96 1',
  }, { repeat: 2, config: ['quota_full_tempfail = yes'] }),
  quota('under the message limit: stored', ['quota_rule = *:messages=5'], { landed: inbox(1), maildirsize: '5C totals 96 1' }),
  quota('over the message limit: rejection sent', ['quota_rule = *:messages=2'], {
    statuses: [0, 0, 0],
    landed: inbox(2),
    sent: 1,
    sentLines: REJECTION_LINES,
    maildirsize: '2C totals 192 2',
  }, { repeat: 3 }),
  quota('over the message limit with -e', ['quota_rule = *:messages=1'], {
    statuses: [0, 77],
    landed: inbox(1),
    stderr: QUOTA_EXCEEDED,
    maildirsize: '1C totals 96 1',
  }, { repeat: 2, args: [...ENVELOPE, '-e'] }),
  quota('storage and message limits together', ['quota_rule = *:storage=10K:messages=1'], {
    statuses: [0, 77],
    landed: inbox(1),
    stderr: QUOTA_EXCEEDED,
    maildirsize: '10240S,1C totals 96 1',
  }, { repeat: 2, args: [...ENVELOPE, '-e'] }),
  quota('a message bigger than the whole quota: rejected on an empty box', ['quota_rule = *:storage=50B'], {
    landed: [],
    sent: 1,
    sentLines: REJECTION_LINES,
    maildirsize: '50S totals 0 0',
  }),
  quota('quota_exceeded_message text with -e', ['quota_rule = *:storage=50B', 'quota_exceeded_message = Mailbox full, try again next week'], {
    statuses: [77],
    landed: [],
    stderr: 'Mailbox full, try again next week',
    maildirsize: '50S totals 0 0',
  }, { args: [...ENVELOPE, '-e'] }),
  quota('quota_exceeded_message from a file, in the rejection', ['quota_rule = *:storage=50B', 'quota_exceeded_message = <{DIR}/quota-message.txt'], {
    landed: [],
    sent: 1,
    sentLines: ['sent 1 body| Your mailbox is full (from a file).'],
    maildirsize: '50S totals 0 0',
  }, { setup: (_home, dir) => writeFileSync(join(dir, 'quota-message.txt'), 'Your mailbox is full (from a file).\n', { mode: 0o644 }) }),
  // not a quota error in Dovecot 2.3: a temporary failure, no rejection, -e or not
  quota('quota_max_mail_size: a bigger message is a temporary failure (75)', ['quota_max_mail_size = 150B'], {
    statuses: [75],
    landed: [],
    stderr: 'Mail size is larger than the maximum size allowed by server configuration',
  }, { input: bigger(200), args: [...ENVELOPE, '-e'] }),
  quota('quota_max_mail_size without -e: 75, nothing sent', ['quota_rule = *:storage=1M', 'quota_max_mail_size = 150B'], {
    statuses: [75],
    landed: [],
    maildirsize: '1048576S totals 0 0',
  }, { input: bigger(200) }),
  quota('quota_max_mail_size lets a small message through', ['quota_rule = *:storage=1M', 'quota_max_mail_size = 150B'], { landed: inbox(1), maildirsize: '1048576S totals 96 1' }),
  quota('a null sender over quota gets no rejection', ['quota_rule = *:storage=50B'], { landed: [], maildirsize: '50S totals 0 0' }, { args: ['-f', '<>', '-a', USER] }),
  quota('an auto-submitted message over quota gets no rejection', ['quota_rule = *:storage=50B'], { landed: [], maildirsize: '50S totals 0 0' }, {
    input: `Auto-Submitted: auto-replied\n${MESSAGE}`,
  }),
  quota('the rejection with sendmail failing: exit 75', ['quota_rule = *:storage=50B'], { statuses: [75], landed: [], sent: 1, maildirsize: '50S totals 0 0' }, { sendmailExit: 75 }),
];

const GRACE_AND_ENFORCING: QuotaCase[] = [
  quota('the default grace (10%) does not let 288 bytes into 250', ['quota_rule = *:storage=250B'], {
    statuses: [0, 0, 77],
    landed: inbox(2),
    stderr: QUOTA_EXCEEDED,
    maildirsize: '250S totals 192 2',
  }, { repeat: 3, args: [...ENVELOPE, '-e'] }),
  quota('quota_grace lets the last message over the limit, then refuses', ['quota_rule = *:storage=250B', 'quota_grace = 50B'], {
    statuses: [0, 0, 0, 77],
    landed: inbox(3),
    stderr: QUOTA_EXCEEDED,
    maildirsize: '250S totals 288 3',
  }, { repeat: 4, args: [...ENVELOPE, '-e'] }),
  quota('quota_grace = 0 is exact', ['quota_rule = *:storage=192B', 'quota_grace = 0'], {
    statuses: [0, 0, 77],
    landed: inbox(2),
    stderr: QUOTA_EXCEEDED,
    maildirsize: '192S totals 192 2',
  }, { repeat: 3, args: [...ENVELOPE, '-e'] }),
  quota('noenforcing counts but does not refuse', ['quota_rule = *:storage=100B'], { statuses: [0, 0], landed: inbox(2), maildirsize: '100S totals 192 2' }, {
    repeat: 2,
    config: quotaConfig([], 'maildir:User quota:noenforcing'),
  }),
  {
    name: 'the quota plugin not loaded: plugin settings do nothing',
    as: 'user',
    args: ENVELOPE,
    input: MESSAGE,
    repeat: 2,
    config: ['plugin {', '  quota = maildir:User quota', '  quota_rule = *:storage=100B', '}'],
    dovecot: { statuses: [0, 0], landed: inbox(2) },
  },
];

const MAILDIRSIZE: QuotaCase[] = [
  quota('a missing maildirsize is recalculated from the messages there', ['quota_rule = *:storage=1K'], {
    landed: [...inbox(1), ...seededInbox(2)],
    maildirsize: '1024S totals 396 3',
  }, { setup: (home) => seedMessages(home, '', [100, 200]) }),
  quota('messages already over the limit: refused on recalculation', ['quota_rule = *:storage=250B'], {
    statuses: [77],
    landed: seededInbox(2),
    stderr: QUOTA_EXCEEDED,
    maildirsize: '250S totals 300 2',
  }, { args: [...ENVELOPE, '-e'], setup: (home) => seedMessages(home, '', [100, 200]) }),
  quota('a maildirsize with other limits is recalculated', ['quota_rule = *:storage=1K'], {
    landed: [...inbox(1), ...seededInbox(1)],
    maildirsize: '1024S totals 196 2',
  }, {
    setup: (home) => {
      seedMessages(home, '', [100]);
      seedMaildirsize(home, '5000S\n9999 99\n');
    },
  }),
  quota('a fresh maildirsize over quota with one total line is trusted', ['quota_rule = *:storage=1K'], {
    statuses: [77],
    landed: seededInbox(1),
    stderr: QUOTA_EXCEEDED,
    maildirsize: '1024S totals 1030 1',
  }, {
    args: [...ENVELOPE, '-e'],
    setup: (home) => {
      seedMessages(home, '', [100]);
      seedMaildirsize(home, '1024S\n1030 1\n');
    },
  }),
  quota('a maildirsize over quota with more lines is recalculated', ['quota_rule = *:storage=1K'], {
    landed: [...inbox(1), ...seededInbox(1)],
    maildirsize: '1024S totals 196 2',
  }, {
    setup: (home) => {
      seedMessages(home, '', [100]);
      seedMaildirsize(home, '1024S\n1000 1\n30 1\n');
    },
  }),
  quota('under quota, a maildirsize is trusted: grace lets the message in', ['quota_rule = *:storage=1K'], {
    landed: [...inbox(1), ...seededInbox(1)],
    maildirsize: '1024S totals 1096 2',
  }, {
    setup: (home) => {
      seedMessages(home, '', [100]);
      seedMaildirsize(home, '1024S\n1000 1\n');
    },
  }),
  quota('folders count toward the quota', ['quota_rule = *:storage=250B'], {
    statuses: [77],
    landed: ['Maildir/.work/cur S', 'Maildir/.work/cur S'],
    stderr: QUOTA_EXCEEDED,
    maildirsize: '250S totals 300 2',
  }, { args: [...ENVELOPE, '-e'], setup: (home) => seedMessages(home, '.work', [100, 200]) }),
];

const FOLDERS: QuotaCase[] = [
  quota('-m folder over quota: rejection, nothing stored', ['quota_rule = *:storage=150B'], {
    statuses: [0, 0],
    landed: ['Maildir/.work/new'],
    sent: 1,
    sentLines: REJECTION_LINES,
    maildirsize: '150S totals 96 1',
  }, { repeat: 2, args: [...ENVELOPE, '-m', 'work'], setup: (home) => maildirFolder(home, '.work') }),
  quota('-m folder with a +100B rule: more room there, within its own limit', ['quota_rule = *:storage=200B', 'quota_rule2 = Trash:storage=+100B'], {
    statuses: [0, 77],
    landed: ['Maildir/.Trash/new', ...seededInbox(1)],
    stderr: QUOTA_EXCEEDED,
    maildirsize: '200S totals 246 2',
  }, { repeat: 2, args: [...ENVELOPE, '-e', '-m', 'Trash'], setup: (home) => { seedMessages(home, '', [150]); maildirFolder(home, '.Trash'); } }),
  quota('an ignored folder takes mail over quota, maildirsize untouched', ['quota_rule = *:storage=200B', 'quota_rule2 = Spam:ignore'], {
    statuses: [0, 0],
    landed: ['Maildir/.Spam/new', 'Maildir/.Spam/new', ...seededInbox(1)],
  }, { repeat: 2, args: [...ENVELOPE, '-e', '-m', 'Spam'], setup: (home) => { seedMessages(home, '', [250]); maildirFolder(home, '.Spam'); } }),
];

/** A Sieve case: SCRIPT, 150 bytes in INBOX already, a folder "work", the storage LIMIT. */
function sieveCase(name: string, limit: string, script: string, dovecot: QuotaOutcome, extra: Partial<QuotaCase> = {}): QuotaCase {
  return quota(name, [`quota_rule = *:storage=${limit}`], dovecot, {
    sieve: script,
    ...extra,
    setup: (home) => {
      seedMessages(home, '', [150]);
      maildirFolder(home, '.work');
    },
  });
}

const SIEVE: QuotaCase[] = [
  sieveCase('Sieve fileinto over quota: rejection', '200B', 'require "fileinto";\nfileinto "work";\n', {
    landed: seededInbox(1),
    sent: 1,
    sentLines: REJECTION_LINES,
    maildirsize: '200S totals 150 1',
  }),
  sieveCase('Sieve keep over quota with -e: 77', '200B', 'keep;\n', {
    statuses: [77],
    landed: seededInbox(1),
    stderr: QUOTA_EXCEEDED,
    maildirsize: '200S totals 150 1',
  }, { args: [...ENVELOPE, '-e'] }),
  sieveCase('Sieve discard over quota: nothing stored, exit 0, no maildirsize', '200B', 'discard;\n', { landed: seededInbox(1) }),
  sieveCase('Sieve fileinto under quota', '1K', 'require "fileinto";\nfileinto "work";\n', {
    landed: ['Maildir/.work/new', ...seededInbox(1)],
    maildirsize: '1024S totals 246 2',
  }),
];

/** A -d case: the passwd-file line carries EXTRA fields; the config's rule is 1M. */
function userdbCase(name: string, fields: string, dovecot: QuotaOutcome, extra: Partial<QuotaCase> = {}): QuotaCase {
  return quota(name, ['quota_rule = *:storage=1M'], dovecot, {
    as: 'root',
    args: ['-d', USER, '-f', SENDER, '-e'],
    users: [`${USER}::${mailUid}:${mailGid}::{HOME}::${fields}`],
    ...extra,
  });
}

const USERDB: QuotaCase[] = [
  userdbCase('-d: userdb_quota_rule overrides the configured rule', 'userdb_quota_rule=*:storage=100B', {
    statuses: [0, 77],
    landed: inbox(1),
    stderr: QUOTA_EXCEEDED,
    maildirsize: '100S totals 96 1',
  }, { repeat: 2 }),
  userdbCase('-d: userdb_quota_rule2 adds a message limit', 'userdb_quota_rule2=*:messages=1', {
    statuses: [0, 77],
    landed: inbox(1),
    stderr: QUOTA_EXCEEDED,
    maildirsize: '1048576S,1C totals 96 1',
  }, { repeat: 2 }),
  userdbCase('-d: the configured rule applies without an override', '', { statuses: [0, 0], landed: inbox(2), maildirsize: '1048576S totals 192 2' }, { repeat: 2 }),
];

/** A -d case with Dovecot's quota-warning script service, recording into ~/warnings.log. */
function warningCase(name: string, lines: string[], dovecot: QuotaOutcome, extra: Partial<QuotaCase> = {}): QuotaCase {
  return quota(name, lines.map((line) => line.replaceAll('WARN', `quota-warning {HOME}/${WARNINGS_FILE}`)), dovecot, {
    as: 'root',
    args: ['-d', USER, '-f', SENDER],
    authSettings: WARNING_SERVICE,
    ...extra,
  });
}

const WARNINGS: QuotaCase[] = [
  warningCase('a storage warning runs once, after the delivery that crosses it', ['quota_rule = *:storage=400B', 'quota_warning = storage=50%% WARN 50 %u'], {
    statuses: [0, 0, 0],
    landed: inbox(3),
    maildirsize: '400S totals 288 3',
    warnings: [`50 ${USER}`],
  }, { repeat: 3 }),
  warningCase('each warning runs at the delivery that crosses it', ['quota_rule = *:messages=4', 'quota_warning = messages=75%% WARN 75 %u', 'quota_warning2 = messages=50%% WARN 50 %u'], {
    statuses: [0, 0, 0],
    landed: inbox(3),
    maildirsize: '4C totals 288 3',
    warnings: [`50 ${USER}`, `75 ${USER}`],
  }, { repeat: 3 }),
  warningCase('no warning below the threshold', ['quota_rule = *:storage=10K', 'quota_warning = storage=90%% WARN 90 %u'], {
    landed: inbox(1),
    maildirsize: '10240S totals 96 1',
  }),
];

export const QUOTA_CASES: QuotaCase[] = [...LIMITS, ...GRACE_AND_ENFORCING, ...MAILDIRSIZE, ...FOLDERS, ...SIEVE, ...USERDB, ...WARNINGS];
