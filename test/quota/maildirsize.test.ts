// maildirsize: the pure parsers and formatter (tables, with the cases checked
// against Dovecot 2.3.19), then real temp Maildirs for the scan, the
// recalculation triggers, appends (40 at once) and, as root with Dovecot
// installed, files written by dovecot-lda read here and ours read by doveadm.

import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  appendMaildirsize,
  formatMaildirsize,
  lockMaildirRoot,
  parseDeltaLine,
  parseLimitsLine,
  parseMaildirsize,
  readMaildirsize,
  recalculateMaildirsize,
  sizeFromName,
  trustedUsage,
  type MaildirsizeOptions,
} from '../../src/quota/maildirsize.js';
import { DeliveryFailure } from '../../src/deliver/failure.js';
import { useTempDirs } from '../storage/helpers/fixtures.js';
import { startDovecotMaster } from '../helpers/dovecot-master.js';

const tempDir = useTempDirs();

const OPTIONS: MaildirsizeOptions = {
  isIgnored: (name) => name === '.Spam',
  permissions: { fileMode: 0o600, dirMode: 0o700 },
  hostname: 'testhost',
  layout: 'maildir++',
};

const MB = 1048576;

/** A Maildir root with cur/new/tmp. */
function maildir(): string {
  const root = join(tempDir(), 'Maildir');
  for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(root, sub), { recursive: true });
  return root;
}

function put(root: string, relativePath: string, content = 'x'): void {
  mkdirSync(join(root, relativePath, '..'), { recursive: true });
  writeFileSync(join(root, relativePath), content);
}

const fileOf = (root: string) => readFileSync(join(root, 'maildirsize'), 'latin1');

describe('parseLimitsLine', () => {
  it.each([
    ['1048576S', { bytes: MB, count: 0 }],
    ['10C', { bytes: 0, count: 10 }],
    ['1048576S,10C', { bytes: MB, count: 10 }],
    ['10C,1048576S', { bytes: MB, count: 10 }],
    ['0S', { bytes: 0, count: 0 }],
    ['', { bytes: 0, count: 0 }],
    ['100S,junk,5C', { bytes: 100, count: 5 }],
    ['100s', { bytes: 0, count: 0 }],
    ['100SS', { bytes: 0, count: 0 }],
    ['-5S', { bytes: 0, count: 0 }],
    [' 5S', { bytes: 0, count: 0 }],
    ['99999999999999999999S', { bytes: 0, count: 0 }],
    ['18446744073709551615S', { bytes: 2 ** 63, count: 0 }],
  ])('%j', (line, expected) => {
    expect(parseLimitsLine(line)).toEqual(expected);
  });
});

describe('parseDeltaLine (sscanf "%lld %d")', () => {
  it.each([
    ['28 1', { bytes: 28, messages: 1 }],
    ['-28 -1', { bytes: -28, messages: -1 }],
    ['  +28\t1 trailing junk', { bytes: 28, messages: 1 }],
    ['28-1', { bytes: 28, messages: -1 }],
    ['28 1\r', { bytes: 28, messages: 1 }],
    ['4294967297 4294967297', { bytes: 4294967297, messages: 1 }],
    ['123', undefined],
    ['', undefined],
    ['x 1', undefined],
    ['1 x', undefined],
  ])('%j', (line, expected) => {
    expect(parseDeltaLine(line)).toEqual(expected);
  });
});

describe('parseMaildirsize', () => {
  it.each([
    ['1048576S\n0 0\n28 1\n', { limits: { bytes: MB, count: 0 }, usage: { bytes: 28, messages: 1 }, deltaLines: 2, tooBig: false }],
    ['1048576S\n', { limits: { bytes: MB, count: 0 }, usage: { bytes: 0, messages: 0 }, deltaLines: 0, tooBig: false }],
    // a last line without LF is being appended: not read
    ['100S\n10 1\n5', { limits: { bytes: 100, count: 0 }, usage: { bytes: 10, messages: 1 }, deltaLines: 1, tooBig: false }],
    ['100S\n10 1\n\n', { limits: { bytes: 100, count: 0 }, deltaLines: 2, tooBig: false }],
    ['100S\n10 1\n-20 0\n', { limits: { bytes: 100, count: 0 }, deltaLines: 2, tooBig: false }],
    ['100S\n10 1\nabc\n', { limits: { bytes: 100, count: 0 }, deltaLines: 2, tooBig: false }],
    ['100S\n1\0 1\n', { deltaLines: 0, tooBig: false }],
    ['', { deltaLines: 0, tooBig: false }],
    ['100S', { deltaLines: 0, tooBig: false }],
  ])('%j', (text, expected) => {
    expect(parseMaildirsize(Buffer.from(text, 'latin1'))).toEqual(expected);
  });

  it('marks a head of 5120 bytes as too big', () => {
    const head = Buffer.from(`0S\n${'1 1\n'.repeat(1280)}`);
    expect(parseMaildirsize(head.subarray(0, 5120)).tooBig).toBe(true);
    expect(parseMaildirsize(head.subarray(0, 5119)).tooBig).toBe(false);
  });
});

describe('formatMaildirsize (the limits lines dovecot-lda 2.3.19 wrote for these quota_rule values)', () => {
  it.each([
    ['*:storage=1M', { storageBytes: MB }, '1048576S\n9398 12\n'],
    ['*:messages=10', { messages: 10 }, '10C\n9398 12\n'],
    ['*:storage=1M:messages=10', { storageBytes: MB, messages: 10 }, '1048576S,10C\n9398 12\n'],
    ['*:storage=0', { storageBytes: 0 }, '0S\n9398 12\n'],
    ['*:storage=100k:messages=0', { storageBytes: 102400, messages: 0 }, '102400S\n9398 12\n'],
    ['no rule', {}, '0S\n9398 12\n'],
  ])('%s', (_rule, limits, expected) => {
    expect(formatMaildirsize(limits, { bytes: 9398, messages: 12 })).toBe(expected);
  });
});

describe('trustedUsage', () => {
  const NOW = 1_800_000_000;
  const parsed = (text: string) => parseMaildirsize(Buffer.from(text));
  it.each([
    ['under quota, many lines', '100S\n10 1\n10 1\n10 1\n', { storageBytes: 100 }, true, NOW - 3600, { bytes: 30, messages: 3 }],
    ['limits differ from the configured ones', '100S\n10 1\n', { storageBytes: 200 }, true, NOW, undefined],
    ['file limits used when none are configured', '100S\n10 1\n', { storageBytes: 100 }, false, NOW, { bytes: 10, messages: 1 }],
    ['over quota, two delta lines', '100S\n90 1\n20 1\n', { storageBytes: 100 }, true, NOW, undefined],
    ['over quota, one line, fresh', '100S\n120 2\n', { storageBytes: 100 }, true, NOW - 900, { bytes: 120, messages: 2 }],
    ['over quota, one line, older than 15 minutes', '100S\n120 2\n', { storageBytes: 100 }, true, NOW - 901, undefined],
    ['exactly at the limit is not over', '100S,2C\n90 1\n10 1\n', { storageBytes: 100, messages: 2 }, true, NOW, { bytes: 100, messages: 2 }],
    ['over the message limit', '2C\n0 2\n0 1\n', { messages: 2 }, true, NOW, undefined],
    ['broken', '100S\nxx\n', { storageBytes: 100 }, true, NOW, undefined],
  ])('%s', (_name, text, limits, forced, mtime, expected) => {
    expect(trustedUsage(parsed(text), limits, forced, mtime, NOW)).toEqual(expected);
  });
});

describe('sizeFromName (cases counted by doveadm quota recalc)', () => {
  it.each([
    ['1.M1P1.h,S=28,W=32', 28],
    ['1.M1P1.h,S=7:2,S', 7],
    ['1.M1P1.h,S=,W=3', 0],
    ['1.M1P1.h,S=28', 28],
    ['1.M1P1.h,S=12a', undefined],
    ['noS', undefined],
  ])('%s', (name, expected) => {
    expect(sizeFromName(name)).toBe(expected);
  });
});

/** The tree doveadm quota recalc counted as 9398 bytes, 12 messages (with three 28-byte deliveries). */
function dovecotCheckedTree(root: string): void {
  put(root, 'new/1.M1P1.h,S=28,W=32', 'x'.repeat(28));
  put(root, 'new/.hidden', 'abcdefgh');
  put(root, 'new/..dd', 'q');
  mkdirSync(join(root, 'new/.x'));
  mkdirSync(join(root, 'cur/subdir'));
  put(root, 'tmp/tmpfile,S=999', '12345');
  put(root, 'cur/noS', '123');
  put(root, 'cur/x,S=12a', '1234');
  put(root, 'cur/y,S=7:2,S', '1');
  put(root, 'cur/z,S=,W=3', '1');
  put(root, '.Foo/new/2.M1P1.h,S=28,W=32', 'x');
  put(root, '.Foo.Bar/cur/3.M1P1.h,S=28,W=32:2,S', 'x');
  put(root, '.Spam/new/4.M1P1.h,S=28,W=32', 'x');
  put(root, '.NoNew/cur/a,S=100', 'abc');
  put(root, '.Junk2/new/b,S=1000', 'abc');
  put(root, '.plainfile', 'x');
}

describe('recalculateMaildirsize', () => {
  it('counts new/ and cur/ of the root and the folders as doveadm quota recalc did, ignored folders and tmp/ left out', async () => {
    const root = maildir();
    dovecotCheckedTree(root);
    const directorySize = statSync(join(root, 'cur/subdir')).size;
    const expected = { bytes: 9398 - 2 * 4096 + 2 * directorySize, messages: 12 };
    expect(await recalculateMaildirsize(root, { storageBytes: MB }, OPTIONS)).toEqual({ limits: { storageBytes: MB }, usage: expected });
    expect(fileOf(root)).toBe(`1048576S\n${expected.bytes} ${expected.messages}\n`);
    expect(readdirSync(root).filter((name) => name.startsWith('maildirsize'))).toEqual(['maildirsize']);
  });

  it('counts .Spam when it is not ignored, and leaves INBOX out when it is', async () => {
    const root = maildir();
    put(root, 'new/1,S=10', 'x');
    put(root, '.Spam/cur/2,S=20:2,', 'x');
    expect((await recalculateMaildirsize(root, {}, { ...OPTIONS, isIgnored: () => false })).usage).toEqual({ bytes: 30, messages: 2 });
    expect((await recalculateMaildirsize(root, {}, { ...OPTIONS, isIgnored: (name) => name === 'INBOX' })).usage).toEqual({ bytes: 20, messages: 1 });
  });

  it('walks nested folders in the fs layout, skipping new/cur/tmp and dot-names', async () => {
    const root = maildir();
    put(root, 'new/1,S=10', 'x');
    put(root, 'A/new/2,S=20', 'x');
    put(root, 'A/B/cur/3,S=40:2,', 'x');
    put(root, 'A/tmp/4,S=80', 'x');
    put(root, '.hidden/new/5,S=160', 'x');
    const seen = new Set<string>();
    const state = await recalculateMaildirsize(root, { messages: 10 }, { ...OPTIONS, layout: 'fs', isIgnored: (name) => (seen.add(name), false) });
    expect(state.usage).toEqual({ bytes: 70, messages: 3 });
    expect([...seen].sort()).toEqual(['A', 'A/B', 'INBOX']);
    expect(fileOf(root)).toBe('10C\n70 3\n');
  });

  it('keeps the limits of the file when none are configured (doveadm quota recalc without quota_rule)', async () => {
    const root = maildir();
    writeFileSync(join(root, 'maildirsize'), '102400S\n1 1\n');
    put(root, 'new/1,S=10', 'x');
    expect(await recalculateMaildirsize(root, {}, OPTIONS)).toEqual({ limits: { storageBytes: 102400 }, usage: { bytes: 10, messages: 1 } });
    expect(fileOf(root)).toBe('102400S\n10 1\n');
  });

  it('creates the file with the exact mode given, whatever the umask', async () => {
    const root = maildir();
    const oldUmask = process.umask(0o077);
    try {
      await recalculateMaildirsize(root, { storageBytes: MB }, { ...OPTIONS, permissions: { fileMode: 0o640, dirMode: 0o750 } });
    } finally {
      process.umask(oldUmask);
    }
    expect(statSync(join(root, 'maildirsize')).mode & 0o777).toBe(0o640);
  });

  it('leaves out a folder that is a file, and fails temporarily (as Dovecot) when new/ is not a directory', async () => {
    const root = maildir();
    put(root, '.NotAFolder', 'x');
    expect((await recalculateMaildirsize(root, { storageBytes: MB }, OPTIONS)).usage).toEqual({ bytes: 0, messages: 0 });
    const brokenRoot = join(tempDir(), 'Maildir');
    mkdirSync(join(brokenRoot, 'cur'), { recursive: true });
    writeFileSync(join(brokenRoot, 'new'), 'not a directory');
    const error = await recalculateMaildirsize(brokenRoot, { storageBytes: MB }, OPTIONS).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(DeliveryFailure);
    expect((error as DeliveryFailure).kind).toBe('temporary');
    expect(existsSync(join(brokenRoot, 'maildirsize'))).toBe(false);
  });
});

describe('readMaildirsize', () => {
  const LIMITS = { storageBytes: 100 };

  it('creates a missing file by scanning (as dovecot-lda does before its first delivery)', async () => {
    const root = maildir();
    put(root, 'new/1,S=10', 'x');
    expect(await readMaildirsize(root, LIMITS, OPTIONS)).toEqual({ limits: LIMITS, usage: { bytes: 10, messages: 1 } });
    expect(fileOf(root)).toBe('100S\n10 1\n');
  });

  it('neither scans nor writes when there are no limits anywhere', async () => {
    const root = maildir();
    put(root, 'new/1,S=10', 'x');
    expect(await readMaildirsize(root, {}, OPTIONS)).toEqual({ limits: {}, usage: { bytes: 0, messages: 0 } });
    expect(existsSync(join(root, 'maildirsize'))).toBe(false);
  });

  it.each([
    ['a trusted file is used as it is', '100S\n5 1\n7 1\n', 0, { bytes: 12, messages: 2 }, '100S\n5 1\n7 1\n'],
    ['limits that differ are rewritten', '200S\n5 1\n', 0, { bytes: 10, messages: 1 }, '100S\n10 1\n'],
    ['broken lines are recalculated', '100S\n5 1\nxx\n', 0, { bytes: 10, messages: 1 }, '100S\n10 1\n'],
    ['NUL bytes are recalculated', '100S\n5\0 1\n', 0, { bytes: 10, messages: 1 }, '100S\n10 1\n'],
    ['negative totals are recalculated', '100S\n5 1\n-50 -1\n', 0, { bytes: 10, messages: 1 }, '100S\n10 1\n'],
    ['5120 bytes and more are recalculated', `100S\n${'0 0\n'.repeat(1280)}`, 0, { bytes: 10, messages: 1 }, '100S\n10 1\n'],
    ['over quota with two delta lines is recalculated', '100S\n100 1\n50 1\n', 0, { bytes: 10, messages: 1 }, '100S\n10 1\n'],
    ['over quota with one line, fresh, is trusted', '100S\n150 2\n', 0, { bytes: 150, messages: 2 }, '100S\n150 2\n'],
    ['over quota with one line, 16 minutes old, is recalculated', '100S\n150 2\n', 16 * 60, { bytes: 10, messages: 1 }, '100S\n10 1\n'],
  ])('%s', async (_name, content, ageSeconds, usage, after) => {
    const root = maildir();
    put(root, 'new/1,S=10', 'x');
    writeFileSync(join(root, 'maildirsize'), content);
    const old = Date.now() / 1000 - ageSeconds;
    utimesSync(join(root, 'maildirsize'), old, old);
    expect(await readMaildirsize(root, LIMITS, OPTIONS)).toEqual({ limits: LIMITS, usage });
    expect(fileOf(root)).toBe(after);
  });

  it('takes the limits from the file when none are configured', async () => {
    const root = maildir();
    writeFileSync(join(root, 'maildirsize'), '1000S,5C\n20 2\n');
    expect(await readMaildirsize(root, {}, OPTIONS)).toEqual({ limits: { storageBytes: 1000, messages: 5 }, usage: { bytes: 20, messages: 2 } });
  });

  it('fails temporarily when the file cannot be read', async () => {
    const root = maildir();
    mkdirSync(join(root, 'maildirsize'));
    const error = await readMaildirsize(root, LIMITS, OPTIONS).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(DeliveryFailure);
    expect((error as DeliveryFailure).kind).toBe('temporary');
    expect((error as Error).message).toContain('maildirsize');
  });
});

describe('appendMaildirsize', () => {
  it('appends one `bytes count` line, and nothing for a zero delta', async () => {
    const root = maildir();
    writeFileSync(join(root, 'maildirsize'), '100S\n0 0\n');
    expect(await appendMaildirsize(root, { bytes: 28, messages: 1 }, OPTIONS)).toBe(true);
    expect(await appendMaildirsize(root, { bytes: -28, messages: -1 }, OPTIONS)).toBe(true);
    expect(await appendMaildirsize(root, { bytes: 0, messages: 0 }, OPTIONS)).toBe(true);
    expect(fileOf(root)).toBe('100S\n0 0\n28 1\n-28 -1\n');
  });

  it('writes nothing and answers false when the file is missing or has reached 5120 bytes', async () => {
    const root = maildir();
    expect(await appendMaildirsize(root, { bytes: 28, messages: 1 }, OPTIONS)).toBe(false);
    expect(existsSync(join(root, 'maildirsize'))).toBe(false);
    const big = `0S\n${'0 0\n'.repeat(1280)}`;
    writeFileSync(join(root, 'maildirsize'), big);
    expect(await appendMaildirsize(root, { bytes: 28, messages: 1 }, OPTIONS)).toBe(false);
    expect(fileOf(root)).toBe(big);
  });

  it('40 deliveries at once leave 40 whole lines whose totals equal a fresh recalculation', async () => {
    const root = maildir();
    put(root, 'new/0,S=500', 'x');
    const limits = { storageBytes: 1_000_000 };
    await readMaildirsize(root, limits, OPTIONS);
    await Promise.all(
      Array.from({ length: 40 }, async (_, index) => {
        const size = 1000 + index;
        put(root, `new/${index + 1}.M1P${index}.h,S=${size},W=${size + 10}`, 'x');
        expect(await appendMaildirsize(root, { bytes: size, messages: 1 }, OPTIONS)).toBe(true);
      }),
    );
    const lines = fileOf(root).split('\n');
    expect(lines).toHaveLength(2 + 40 + 1);
    const read = await readMaildirsize(root, limits, OPTIONS);
    const fresh = await recalculateMaildirsize(root, limits, OPTIONS);
    expect(read.usage).toEqual(fresh.usage);
    expect(fresh.usage).toEqual({ bytes: 500 + 40 * 1000 + (39 * 40) / 2, messages: 41 });
  });
});

describe('lockMaildirRoot (an exclusive flock on the Maildir root)', () => {
  it('excludes a second taker until released; one that waits in vain logs and goes on without', async () => {
    const root = maildir();
    const errors: string[] = [];
    const first = await lockMaildirRoot(root, 1000, (text) => errors.push(text));
    const started = Date.now();
    const second = await lockMaildirRoot(root, 100, (text) => errors.push(text));
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
    expect(errors).toEqual([`quota: Timed out after 0.1 seconds waiting for the lock on ${root}, going on without it`]);
    await second(); // releases nothing
    const waiting = lockMaildirRoot(root, 2000, (text) => errors.push(text));
    await new Promise((resolve) => setTimeout(resolve, 50));
    await first();
    await first(); // twice is harmless
    const third = await waiting;
    expect(errors).toHaveLength(1);
    await third();
  });

  it('goes on silently without a lock when the root does not exist yet, and logs other errors', async () => {
    const errors: string[] = [];
    await (await lockMaildirRoot(join(tempDir(), 'none'), 100, (text) => errors.push(text)))();
    expect(errors).toEqual([]);
    const file = join(tempDir(), 'file');
    writeFileSync(file, '');
    await (await lockMaildirRoot(file, 100, (text) => errors.push(text)))();
    expect(errors).toEqual([expect.stringMatching(/^quota: Can't lock .*file, going on without the lock: ENOTDIR/)]);
  });

  it('is held by a recalculation from before its scan until after its rename', async () => {
    const root = maildir();
    put(root, 'new/1,S=100', 'x');
    const events: string[] = [];
    const options: MaildirsizeOptions = {
      ...OPTIONS,
      async lockRoot() {
        events.push(`lock, file ${existsSync(join(root, 'maildirsize')) ? fileOf(root) : 'missing'}`);
        return async () => {
          events.push(`release, file ${fileOf(root)}`);
        };
      },
    };
    await recalculateMaildirsize(root, { storageBytes: 1000 }, options);
    expect(events).toEqual(['lock, file missing', 'release, file 1000S\n100 1\n']);
  });

  it("closes the race: a delivery holding the lock commits and appends before a recalculation's scan, never between scan and rename", async () => {
    const root = maildir();
    put(root, 'new/1,S=100', 'x');
    const limits = { storageBytes: 1000 };
    await recalculateMaildirsize(root, limits, OPTIONS);
    const delivery = await lockMaildirRoot(root, 1000, () => undefined);
    // the recalculation starts while the delivery holds the lock: it waits before scanning
    const recalculation = recalculateMaildirsize(root, limits, OPTIONS);
    await new Promise((resolve) => setTimeout(resolve, 50));
    put(root, 'new/2,S=200', 'x');
    expect(await appendMaildirsize(root, { bytes: 200, messages: 1 }, OPTIONS)).toBe(true);
    await delivery();
    expect((await recalculation).usage).toEqual({ bytes: 300, messages: 2 });
    expect(fileOf(root)).toBe('1000S\n300 2\n');
  });
});

const dovecotUnavailable =
  process.geteuid?.() !== 0 ? 'needs root' : !existsSync('/usr/lib/dovecot/dovecot-lda') ? 'dovecot-lda is not installed' : undefined;

describe.skipIf(dovecotUnavailable !== undefined)('beside Dovecot 2.3.19 (quota = maildir, *:storage=1M)', () => {
  const VMAIL = 5000;

  function setUp() {
    const dir = tempDir();
    chmodSync(dir, 0o755);
    const home = join(dir, 'home');
    mkdirSync(home);
    chownSync(home, VMAIL, VMAIL);
    writeFileSync(join(dir, 'users'), `u1:{plain}x:${VMAIL}:${VMAIL}::${home}\n`);
    const master = startDovecotMaster({ runDir: join(dir, 'run'), usersFile: join(dir, 'users') });
    const config = join(dir, 'dovecot.conf');
    writeFileSync(
      config,
      [
        `base_dir = ${master.baseDir}`,
        `log_path = ${join(dir, 'lda.log')}`,
        'ssl = no',
        'mail_location = maildir:~/Maildir',
        'mail_plugins = quota',
        'namespace inbox {',
        '  inbox = yes',
        '  separator = /',
        '}',
        'plugin {',
        '  quota = maildir:User quota',
        '  quota_rule = *:storage=1M',
        '}',
        '',
      ].join('\n'),
    );
    const run = (program: string, args: string[], input = '') => {
      const result = spawnSync(program, ['-c', config, ...args], { input, encoding: 'utf8' });
      expect(result.status, result.stderr).toBe(0);
      return result.stdout;
    };
    return { root: join(home, 'Maildir'), master, run };
  }

  it('reads what dovecot-lda wrote, and doveadm quota get reads what we wrote', async () => {
    const { root, master, run } = setUp();
    try {
      for (const folder of ['INBOX', 'INBOX', 'Foo']) {
        run('/usr/lib/dovecot/dovecot-lda', ['-d', 'u1', '-m', folder, '-o', 'lda_mailbox_autocreate=yes'], 'From: a@b\nSubject: x\n\nhello\n');
      }
      const written = fileOf(root);
      expect(written).toMatch(/^1048576S\n0 0\n28 1\n28 1\n28 1\n$/);
      const limits = { storageBytes: MB };
      expect(await readMaildirsize(root, limits, OPTIONS)).toEqual({ limits, usage: { bytes: 84, messages: 3 } });
      expect(fileOf(root)).toBe(written);

      // ours, with a delta Dovecot can only know from the file
      await recalculateMaildirsize(root, limits, OPTIONS);
      await appendMaildirsize(root, { bytes: 3 * 1024, messages: 5 }, OPTIONS);
      chownSync(join(root, 'maildirsize'), VMAIL, VMAIL);
      expect(fileOf(root)).toBe('1048576S\n84 3\n3072 5\n');
      const report = run('doveadm', ['quota', 'get', '-u', 'u1']);
      expect(report).toMatch(/User quota STORAGE\s+4\s+1024\s/);
      expect(report).toMatch(/User quota MESSAGE\s+8\s+-\s/);
      expect(fileOf(root)).toBe('1048576S\n84 3\n3072 5\n');
    } finally {
      master.stop();
    }
  });
});
