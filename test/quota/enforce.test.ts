import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  openQuotaGuard,
  isOverQuota,
  warningCrossed,
  warningArgv,
  folderMailboxName,
  quotaMaildir,
  MAX_MAIL_SIZE_MESSAGE,
  type QuotaGuardOptions,
} from '../../src/quota/enforce.js';
import { parseQuotaSettings } from '../../src/quota/settings.js';
import { DEFAULT_PERMISSIONS } from '../../src/storage/permissions.js';
import { MailboxError } from '../../src/storage/errors.js';
import { lockMaildirRoot } from '../../src/quota/maildirsize.js';
import type { QuotaWarning } from '../../src/quota/types.js';
import type { StorageOptions } from '../../src/storage/types.js';

describe('isOverQuota (quota_transaction_is_over for one message)', () => {
  const cases: [string, { bytes: number; messages: number }, number, { storageBytes?: number; messages?: number }, number, boolean][] = [
    ['no limits', { bytes: 10_000, messages: 99 }, 500, {}, 0, false],
    ['fits', { bytes: 100, messages: 1 }, 900, { storageBytes: 1000 }, 0, false],
    ['one byte too many', { bytes: 100, messages: 1 }, 901, { storageBytes: 1000 }, 0, true],
    ['grace lets the last one past', { bytes: 100, messages: 1 }, 950, { storageBytes: 1000 }, 100, false],
    ['grace has an end', { bytes: 100, messages: 1 }, 1001, { storageBytes: 1000 }, 100, true],
    ['at the limit: no grace', { bytes: 1000, messages: 1 }, 1, { storageBytes: 1000 }, 100, true],
    ['past the limit', { bytes: 1200, messages: 1 }, 1, { storageBytes: 1000 }, 100, true],
    ['bigger than the whole quota', { bytes: 0, messages: 0 }, 5000, { storageBytes: 1000 }, 100, true],
    ['count room left', { bytes: 0, messages: 2 }, 1, { messages: 3 }, 0, false],
    ['count full', { bytes: 0, messages: 3 }, 1, { messages: 3 }, 0, true],
    ['size 0 at the limit is not over (RCPT check)', { bytes: 1000, messages: 1 }, 0, { storageBytes: 1000 }, 0, false],
    ['size 0 past the limit is over (RCPT check)', { bytes: 1001, messages: 1 }, 0, { storageBytes: 1000 }, 0, true],
    ['size 0, count full', { bytes: 0, messages: 3 }, 0, { messages: 3 }, 0, true],
  ];
  it.each(cases)('%s', (_name, usage, size, limits, grace, over) => {
    expect(isOverQuota(usage, size, limits, grace)).toBe(over);
  });
});

describe('warningCrossed (quota_warning_match)', () => {
  const warning = (resource: 'storage' | 'messages', percent: number, whenBelow = false): QuotaWarning => ({
    resource,
    percent,
    whenBelow,
    command: ['quota-warning', String(percent), 'u'],
  });
  const cases: [string, QuotaWarning, number, number, boolean][] = [
    ['crossing up', warning('storage', 50), 400, 600, true],
    ['reaching exactly', warning('storage', 50), 499, 500, true],
    ['already above', warning('storage', 50), 500, 700, false],
    ['still below', warning('storage', 50), 100, 499, false],
    ['a below-warning does not fire on a delivery', warning('storage', 50, true), 400, 600, false],
    ['a below-warning fires going down', warning('storage', 50, true), 600, 400, true],
  ];
  it.each(cases)('%s', (_name, rule, before, after, crossed) => {
    expect(warningCrossed(rule, { storageBytes: 1000 }, { bytes: before, messages: 0 }, { bytes: after, messages: 0 })).toBe(crossed);
  });
  it('counts messages against the message limit, rounding the threshold down', () => {
    // 3 * 90 / 100 = 2.7 → 2
    expect(warningCrossed(warning('messages', 90), { messages: 3 }, { bytes: 0, messages: 1 }, { bytes: 0, messages: 2 })).toBe(true);
    expect(warningCrossed(warning('messages', 90), { storageBytes: 1000 }, { bytes: 0, messages: 1 }, { bytes: 0, messages: 2 })).toBe(false);
  });
});

describe('warningArgv', () => {
  const rule: QuotaWarning = { resource: 'storage', percent: 95, whenBelow: false, command: ['quota-warning', '95', 'jane@example.org'] };
  it('runs the script the service names, with its own and the warning arguments', () => {
    expect(warningArgv(rule, new Map([['quota-warning', 'script /usr/local/bin/warn.sh -x']]))).toEqual([
      '/usr/local/bin/warn.sh',
      '-x',
      '95',
      'jane@example.org',
    ]);
  });
  it.each([
    ['no such service', new Map<string, string>(), /no service quota-warning/],
    ['not a script', new Map([['quota-warning', 'quota-status -p postfix']]), /is not "script PATH"/],
  ])('%s: a reason instead', (_name, executables, reason) => {
    expect(warningArgv(rule, executables)).toMatch(reason);
  });
});

describe('folderMailboxName', () => {
  it.each([
    ['INBOX', 'maildir++', { prefix: '', separator: '' }, 'INBOX'],
    ['.Spam', 'maildir++', { prefix: '', separator: '' }, 'Spam'],
    ['.A.B', 'maildir++', { prefix: 'INBOX/', separator: '/' }, 'INBOX/A/B'],
    ['A/B', 'fs', { prefix: '', separator: '' }, 'A/B'],
    ['A/B', 'fs', { prefix: '', separator: '.' }, 'A.B'],
  ] as const)('%s (%s, %o) → %s', (folder, layout, namespace, name) => {
    expect(folderMailboxName(folder, layout, namespace)).toBe(name);
  });
});

describe('quotaMaildir', () => {
  const storage = (mailLocation: string): StorageOptions =>
    ({ mailLocation, user: { username: 'u', home: '/home/u', uid: 1, gid: 1 } }) as unknown as StorageOptions;
  it('is the Maildir root for a Maildir user', () => {
    expect(quotaMaildir(storage('maildir:~/Maildir:LAYOUT=fs'))).toMatchObject({ root: '/home/u/Maildir', layout: 'fs' });
  });
  it('is undefined for an mbox user: quota does not apply', () => {
    expect(quotaMaildir(storage('mbox:~/mail:INBOX=/var/mail/u'))).toBeUndefined();
  });
});

describe('openQuotaGuard on a Maildir', () => {
  let root: string;
  let errors: string[];
  let ran: string[][];

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'dovetail-quota-'));
    for (const dir of ['cur', 'new', 'tmp', '.Trash/cur', '.Trash/new', '.Trash/tmp', '.Spam/cur', '.Spam/new', '.Spam/tmp']) {
      mkdirSync(join(root, dir), { recursive: true });
    }
    errors = [];
    ran = [];
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  /** a guard over `root` with plugin {} settings `plugin` */
  function guard(plugin: Record<string, string>, executables = new Map<string, string>(), runProgram?: QuotaGuardOptions['runProgram']) {
    const quota = parseQuotaSettings((key) => plugin[key], 'quota', undefined);
    const options: QuotaGuardOptions = {
      quota,
      maildirRoot: root,
      maildirsize: {
        isIgnored: (folder) => folder === '.Spam' && plugin.quota_rule2 === 'Spam:ignore',
        permissions: DEFAULT_PERMISSIONS,
        hostname: 'test.example',
        layout: 'maildir++',
      },
      serviceExecutables: executables,
      logError: (text) => errors.push(text),
      runProgram:
        runProgram ??
        (async (argv) => {
          ran.push([...argv]);
        }),
    };
    return openQuotaGuard(options);
  }

  /** stores a message file of `size` bytes in `folder` (as a delivery would have) */
  function store(folder: string, size: number, n: number) {
    writeFileSync(join(root, folder, 'new', `170000000${n}.M1P1.test,S=${size},W=${size}`), 'x'.repeat(size));
  }

  const maildirsize = () => readFileSync(join(root, 'maildirsize'), 'latin1');

  /** what check() threw, or undefined */
  async function refusal(promise: Promise<void>): Promise<MailboxError | undefined> {
    try {
      await promise;
      return undefined;
    } catch (error) {
      return error as MailboxError;
    }
  }

  it('lets mail in under the limit and counts it after the commit', async () => {
    const quota = guard({ quota: 'maildir:User quota', quota_rule: '*:bytes=1000' });
    await quota.check('INBOX', 400);
    store('', 400, 1);
    await quota.record('INBOX', 400);
    await quota.check('INBOX', 400);
    expect(maildirsize().split('\n')[0]).toBe('1000S');
    const totals = maildirsize()
      .trim()
      .split('\n')
      .slice(1)
      .map((line) => line.split(' ').map(Number))
      .reduce(([bytes, count], [b, c]) => [bytes! + b!, count! + c!], [0, 0]);
    expect(totals).toEqual([400, 1]);
  });

  it('refuses with quota_exceeded_message once the storage limit leaves no room', async () => {
    const quota = guard({ quota: 'maildir', quota_rule: '*:bytes=1000', quota_grace: '0', quota_exceeded_message: 'Full, sorry' });
    store('', 900, 1);
    const error = await refusal(quota.check('INBOX', 200));
    expect(error).toBeInstanceOf(MailboxError);
    expect(error).toMatchObject({ kind: 'over-quota', message: 'Full, sorry' });
  });

  it('applies the default quota_grace of 10% to the last message', async () => {
    const quota = guard({ quota: 'maildir', quota_rule: '*:bytes=1000' });
    store('', 900, 1);
    await quota.check('INBOX', 200); // 1100 ≤ 1000 + 100
    expect(await refusal(quota.check('INBOX', 201))).toMatchObject({ kind: 'over-quota' });
  });

  it('refuses by message count', async () => {
    const quota = guard({ quota: 'maildir', quota_rule: '*:messages=2' });
    store('', 10, 1);
    await quota.check('INBOX', 10);
    store('', 10, 2);
    await quota.record('INBOX', 10);
    expect(await refusal(quota.check('INBOX', 10))).toMatchObject({ kind: 'over-quota' });
  });

  it('gives a folder its own rule and leaves an ignored folder alone', async () => {
    const quota = guard({ quota: 'maildir', quota_rule: '*:bytes=1000', quota_rule2: 'Spam:ignore', quota_rule3: 'Trash:storage=+50%', quota_grace: '0' });
    store('', 1000, 1);
    expect(await refusal(quota.check('INBOX', 100))).toMatchObject({ kind: 'over-quota' });
    await quota.check('Trash', 400);
    await quota.check('Spam', 100_000);
    await quota.record('Spam', 100_000);
    expect(maildirsize()).not.toContain('100000');
  });

  it('refuses a message bigger than quota_max_mail_size as a limit, not over quota, even in an ignored folder', async () => {
    const quota = guard({ quota: 'maildir', quota_rule: '*:storage=1G', quota_rule2: 'Spam:ignore', quota_max_mail_size: '100B' });
    for (const mailbox of ['INBOX', 'Spam']) {
      const error = await refusal(quota.check(mailbox, 101));
      expect(error).toBeInstanceOf(MailboxError);
      expect(error!.kind).not.toBe('over-quota');
      expect(error!.message).toBe(MAX_MAIL_SIZE_MESSAGE);
    }
    await quota.check('INBOX', 100);
  });

  it('does not enforce with noenforcing, but still counts', async () => {
    const quota = guard({ quota: 'maildir:User quota:noenforcing', quota_rule: '*:bytes=100' });
    store('', 1000, 1);
    await quota.check('INBOX', 1000);
    store('', 1000, 2);
    await quota.record('INBOX', 1000);
    expect(maildirsize()).toMatch(/^100S\n/);
  });

  it('with ignoreunlimited and no limits, neither checks nor writes maildirsize', async () => {
    const quota = guard({ quota: 'maildir:User quota:ignoreunlimited' });
    await quota.check('INBOX', 10_000_000);
    await quota.record('INBOX', 10_000_000);
    expect(() => maildirsize()).toThrow();
  });

  it('runs the warning the delivery crossed, once, after counting it', async () => {
    const quota = guard(
      {
        quota: 'maildir',
        quota_rule: '*:bytes=1000',
        quota_warning: 'storage=90%% quota-warning 90 jane',
        quota_warning2: 'storage=50%% quota-warning 50 jane',
      },
      new Map([['quota-warning', 'script /bin/warn']]),
    );
    store('', 400, 1);
    await quota.record('INBOX', 400); // maildirsize created by a scan: 400
    expect(ran).toEqual([]);
    store('', 200, 2);
    await quota.record('INBOX', 200); // 400 → 600: 50% crossed
    expect(ran).toEqual([['/bin/warn', '50', 'jane']]);
    store('', 350, 3);
    await quota.record('INBOX', 350); // 600 → 950: 90% crossed, the first matching only
    expect(ran).toEqual([
      ['/bin/warn', '50', 'jane'],
      ['/bin/warn', '90', 'jane'],
    ]);
    expect(errors).toEqual([]);
  });

  it('logs a warning that cannot run, and the delivery stands', async () => {
    const quota = guard({ quota: 'maildir', quota_rule: '*:bytes=1000', quota_warning: 'storage=10%% quota-warning 10 jane' });
    store('', 10, 1);
    await quota.record('INBOX', 10);
    store('', 200, 2);
    await expect(quota.record('INBOX', 200)).resolves.toBeUndefined();
    expect(errors).toEqual(['quota: no service quota-warning { executable } for the quota warning']);
  });

  /** whether someone else holds the root's lock: a 20 ms try fails */
  async function rootLocked(): Promise<boolean> {
    const tries: string[] = [];
    await (await lockMaildirRoot(root, 20, (text) => tries.push(text)))();
    return tries.length > 0;
  }

  it('holds the Maildir root lock from beforeCommit until record has appended, then runs the warning without it', async () => {
    let lockedDuringWarning: boolean | undefined;
    const withProgram = guard(
      { quota: 'maildir', quota_rule: '*:bytes=1000', quota_warning: 'storage=50%% quota-warning 50' },
      new Map([['quota-warning', 'script /bin/warn']]),
      async () => void (lockedDuringWarning = await rootLocked()),
    );
    store('', 100, 1);
    await withProgram.check('INBOX', 500);
    expect(await rootLocked()).toBe(false);
    await withProgram.beforeCommit();
    expect(await rootLocked()).toBe(true);
    store('', 500, 2);
    await withProgram.record('INBOX', 500);
    expect(await rootLocked()).toBe(false);
    expect(lockedDuringWarning).toBe(false);
    expect(maildirsize()).toBe('1000S\n100 1\n500 1\n');
  });

  it.each([
    ['a failed commit (release)', async (quota: ReturnType<typeof guard>) => quota.release()],
    ['an ignored mailbox (record counts nothing)', async (quota: ReturnType<typeof guard>) => quota.record('Spam', 10)],
  ])('releases the lock after %s', async (_, end) => {
    const quota = guard({ quota: 'maildir', quota_rule: '*:bytes=1000', quota_rule2: 'Spam:ignore' });
    await quota.beforeCommit();
    expect(await rootLocked()).toBe(true);
    await end(quota);
    expect(await rootLocked()).toBe(false);
    expect(errors).toEqual([]);
  });

  it('takes one lock at a time: a second beforeCommit and a recalculation while it is held do not wait for it', async () => {
    const quota = guard({ quota: 'maildir', quota_rule: '*:bytes=1000', quota_warning: 'storage=10%% quota-warning 10' }, new Map([['quota-warning', 'script /bin/warn']]));
    await quota.beforeCommit();
    await quota.beforeCommit();
    store('', 300, 1);
    const started = Date.now();
    await quota.record('INBOX', 300); // no maildirsize yet: recalculated under the held lock, then read for the warning
    expect(Date.now() - started).toBeLessThan(1000);
    expect(maildirsize()).toBe('1000S\n300 1\n');
    expect(ran).toEqual([['/bin/warn', '10']]);
    expect(await rootLocked()).toBe(false);
    expect(errors).toEqual([]);
  });

  it('takes no lock for a user without limits under ignoreunlimited (not tracked)', async () => {
    const quota = guard({ quota: 'maildir:User quota:ignoreunlimited' });
    await quota.beforeCommit();
    expect(await rootLocked()).toBe(false);
    await quota.release();
  });

  it('saves anyway when maildirsize cannot be read, as Dovecot does, and logs why', async () => {
    const quota = guard({ quota: 'maildir', quota_rule: '*:bytes=1000' });
    mkdirSync(join(root, 'maildirsize')); // a directory: unreadable as a file
    await quota.check('INBOX', 10);
    expect(errors.join('\n')).toMatch(/^quota: Failed to check if user is under quota: .* - saving mail anyway$/);
  });
});
