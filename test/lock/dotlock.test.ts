// Dotlocks on real files: our content and release, both creation methods
// without leftovers, liblockfile's dotlockfile waiting on us and we on it,
// owners that are dead, alive or unknown, staleness by age with mayOverride,
// missing directories, and EACCES with and without the privileged-group
// wrapper. The tests run as root, for whom no directory refuses, so the
// EACCES cases run in a child process that gives up root (privileged-child.cjs).

import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import {
  appendFileSync,
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { acquireDotlock, lockOwnerPid, type DotlockOptions } from '../../src/lock/dotlock.js';
import { useTempDirs } from '../storage/helpers/fixtures.js';

const HOST = 'testhost';
const METHODS = [
  { name: 'O_EXCL', useExcl: true },
  { name: 'link', useExcl: false },
];

const tempDir = useTempDirs();
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

function options(overrides: Partial<DotlockOptions> = {}): DotlockOptions {
  return { useExcl: true, staleTimeoutMs: 60_000, deadline: Date.now() + 5_000, hostname: HOST, ...overrides };
}

/** acquireDotlock giving up `ms` from now. */
function acquireWithin(mailbox: string, ms: number, overrides: Partial<DotlockOptions> = {}) {
  return acquireDotlock(mailbox, options({ deadline: Date.now() + ms, ...overrides }));
}

/** An empty mailbox alone in a fresh directory. */
function newMailbox(): string {
  const mailbox = join(tempDir(), 'mbox');
  writeFileSync(mailbox, '');
  return mailbox;
}

/** A process that lives until the test ends. */
function liveProcess(): ChildProcess {
  const child = spawn('sleep', ['60']);
  children.push(child);
  return child;
}

/** The pid of a process that has ended. */
function deadPid(): number {
  return spawnSync('true').pid;
}

/** `dotlockfile -l -p <lockPath>` run by a shell that then stays alive as `sleep`: the lock names the shell's pid. */
async function dotlockfileHolder(lockPath: string): Promise<ChildProcess> {
  const holder = spawn('sh', ['-c', 'dotlockfile -l -p "$1" && exec sleep 60', 'sh', lockPath]);
  children.push(holder);
  while (!existsSync(lockPath)) await sleep(10);
  expect(readFileSync(lockPath, 'utf8')).toBe(`${holder.pid}\n`);
  return holder;
}

/** The lock in the way is taken over within a second, without asking mayOverride. */
async function expectOverriddenAtOnce(mailbox: string): Promise<void> {
  const mayOverride = vi.fn(() => false);
  const lock = await acquireWithin(mailbox, 1_000, { mayOverride });
  expect(lock).toBeDefined();
  expect(readFileSync(lock!.path, 'utf8')).toBe(`${process.pid}:${HOST}`);
  expect(mayOverride).not.toHaveBeenCalled();
  lock!.release();
}

function dotlockfile(...args: string[]): number | null {
  return spawnSync('dotlockfile', args).status;
}

describe('lockOwnerPid', () => {
  it.each([
    ['1234:testhost', 1234],
    ['1234:testhost\n', 1234],
    ['1234\n', 1234],
    ['1234:otherhost', undefined],
    ['1234:testhost.example', undefined],
    ['1234:test', undefined],
    ['1234:', undefined],
    ['1234', undefined],
    ['0\n', undefined],
    ['0:testhost', undefined],
    ['', undefined],
    ['\n', undefined],
    [' 1234\n', undefined],
    ['pid:testhost', undefined],
    ['99999999999:testhost', undefined],
  ])('%j names %s', (content, pid) => {
    expect(lockOwnerPid(content, HOST)).toBe(pid);
  });
});

describe.each(METHODS)('$name method', ({ useExcl }) => {
  it('creates <mbox>.lock holding "pid:host" with mode 0666 less the umask; release removes it', async () => {
    const mailbox = newMailbox();
    const reference = join(tempDir(), 'reference');
    writeFileSync(reference, '');

    const lock = await acquireDotlock(mailbox, options({ useExcl }));
    expect(lock?.path).toBe(`${mailbox}.lock`);
    const stats = lstatSync(lock!.path);
    expect(stats.isFile()).toBe(true);
    expect(stats.mode & 0o777).toBe(lstatSync(reference).mode & 0o777);
    expect(readFileSync(lock!.path, 'utf8')).toBe(`${process.pid}:${HOST}`);
    expect(readdirSync(dirname(mailbox)).sort()).toEqual(['mbox', 'mbox.lock']);

    lock!.release();
    expect(readdirSync(dirname(mailbox))).toEqual(['mbox']);
  });

  it('release leaves a lock that replaced ours', async () => {
    const mailbox = newMailbox();
    const lock = await acquireDotlock(mailbox, options({ useExcl }));
    unlinkSync(lock!.path);
    writeFileSync(lock!.path, 'theirs');

    lock!.release();
    expect(readFileSync(lock!.path, 'utf8')).toBe('theirs');
  });

  it('waits while a lock is there, takes it once removed, and leaves no temp file', async () => {
    const mailbox = newMailbox();
    writeFileSync(`${mailbox}.lock`, '');
    let removed = false;
    setTimeout(() => {
      unlinkSync(`${mailbox}.lock`);
      removed = true;
    }, 300);

    const lock = await acquireDotlock(mailbox, options({ useExcl }));
    expect(removed).toBe(true);
    expect(readFileSync(lock!.path, 'utf8')).toBe(`${process.pid}:${HOST}`);
    expect(readdirSync(dirname(mailbox)).sort()).toEqual(['mbox', 'mbox.lock']);
    lock!.release();
  });

  it('rejects with ENOENT when the directory is missing', async () => {
    const mailbox = join(tempDir(), 'missing', 'mbox');
    await expect(acquireDotlock(mailbox, options({ useExcl }))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe("liblockfile's dotlockfile", () => {
  it('holds us off with -p until dotlockfile -u removes its lock', async () => {
    const mailbox = newMailbox();
    await dotlockfileHolder(`${mailbox}.lock`);
    let unlocked = false;
    setTimeout(() => {
      expect(dotlockfile('-u', `${mailbox}.lock`)).toBe(0);
      unlocked = true;
    }, 300);

    const lock = await acquireDotlock(mailbox, options({ staleTimeoutMs: 100 }));
    expect(unlocked).toBe(true);
    expect(readFileSync(lock!.path, 'utf8')).toBe(`${process.pid}:${HOST}`);
    lock!.release();
  });

  it('leaves a lock behind when its holder dies, which we override at once without asking mayOverride', async () => {
    const mailbox = newMailbox();
    const holder = await dotlockfileHolder(`${mailbox}.lock`);
    holder.kill('SIGKILL');
    await once(holder, 'exit');
    await expectOverriddenAtOnce(mailbox);
  });

  it.each([[['-l']], [['-p', '-l']]])('dotlockfile %j fails while we hold the lock, succeeds after release', async (flags) => {
    const mailbox = newMailbox();
    const lock = await acquireDotlock(mailbox, options());
    expect(dotlockfile('-r', '0', ...flags, lock!.path)).not.toBe(0);
    expect(readFileSync(lock!.path, 'utf8')).toBe(`${process.pid}:${HOST}`);

    lock!.release();
    expect(dotlockfile('-r', '0', ...flags, lock!.path)).toBe(0);
    expect(dotlockfile('-u', lock!.path)).toBe(0);
  });
});

describe('owners', () => {
  it.each([
    ['Dovecot', (pid: number) => `${pid}:${HOST}`],
    ['liblockfile', (pid: number) => `${pid}\n`],
  ])('a %s lock naming a dead process on this host is overridden at once, mayOverride unasked', async (_, content) => {
    const mailbox = newMailbox();
    writeFileSync(`${mailbox}.lock`, content(deadPid()));
    await expectOverriddenAtOnce(mailbox);
  });

  it('a dead process on another host is not checked: its lock stays until the deadline', async () => {
    const mailbox = newMailbox();
    const theirs = `${deadPid()}:otherhost`;
    writeFileSync(`${mailbox}.lock`, theirs);

    expect(await acquireWithin(mailbox, 700)).toBeUndefined();
    expect(readFileSync(`${mailbox}.lock`, 'utf8')).toBe(theirs);
  });

  it('a live owner keeps its lock: undefined at the deadline, not before', async () => {
    const mailbox = newMailbox();
    const theirs = `${liveProcess().pid}:${HOST}`;
    writeFileSync(`${mailbox}.lock`, theirs);
    const deadline = Date.now() + 1_500;

    expect(await acquireDotlock(mailbox, options({ deadline }))).toBeUndefined();
    expect(Date.now()).toBeGreaterThanOrEqual(deadline);
    expect(readFileSync(`${mailbox}.lock`, 'utf8')).toBe(theirs);
  });

  it('a live owner keeps its lock however long nothing changes (as Dovecot and liblockfile)', async () => {
    const mailbox = newMailbox();
    const theirs = `${liveProcess().pid}\n`;
    writeFileSync(`${mailbox}.lock`, theirs);
    const mayOverride = vi.fn(() => true);

    expect(await acquireWithin(mailbox, 1_000, { staleTimeoutMs: 200, mayOverride })).toBeUndefined();
    expect(mayOverride).not.toHaveBeenCalled();
    expect(readFileSync(`${mailbox}.lock`, 'utf8')).toBe(theirs);
  });
});

describe('staleness by age', () => {
  it.each([[''], ['0\n'], [`${process.pid}:${HOST}`]])(
    'a lock holding %j is overridden once nothing changed for staleTimeoutMs and mayOverride agrees',
    async (content) => {
      const mailbox = newMailbox();
      writeFileSync(`${mailbox}.lock`, content);
      const created = Date.now();
      const mayOverride = vi.fn(() => true);

      const lock = await acquireDotlock(mailbox, options({ staleTimeoutMs: 500, mayOverride }));
      expect(lock).toBeDefined();
      expect(Date.now() - created).toBeGreaterThanOrEqual(450);
      expect(mayOverride).toHaveBeenCalled();
      expect(readFileSync(lock!.path, 'utf8')).toBe(`${process.pid}:${HOST}`);
      lock!.release();
    },
  );

  it('is never overridden while mayOverride refuses', async () => {
    const mailbox = newMailbox();
    writeFileSync(`${mailbox}.lock`, '');
    const mayOverride = vi.fn(() => false);

    expect(await acquireWithin(mailbox, 1_500, { staleTimeoutMs: 500, mayOverride })).toBeUndefined();
    expect(mayOverride).toHaveBeenCalled();
    expect(readFileSync(`${mailbox}.lock`, 'utf8')).toBe('');
  });

  it('does not remove a lock that replaced the stale one while mayOverride was asked', async () => {
    const mailbox = newMailbox();
    const lockPath = `${mailbox}.lock`;
    writeFileSync(lockPath, '');
    const theirs = `${liveProcess().pid}:${HOST}`;
    const mayOverride = vi.fn(() => {
      unlinkSync(lockPath);
      writeFileSync(lockPath, theirs); // on ext4, usually in the inode just freed
      return true;
    });

    expect(await acquireWithin(mailbox, 1_000, { staleTimeoutMs: 300, mayOverride })).toBeUndefined();
    expect(mayOverride).toHaveBeenCalledTimes(1);
    expect(readFileSync(lockPath, 'utf8')).toBe(theirs);
  });

  it.each([
    ['a mailbox that keeps changing keeps the lock from going stale', (mailbox: string) => mailbox],
    ['a lock that keeps being touched does not go stale', (mailbox: string) => `${mailbox}.lock`],
  ])('%s', async (_name, changing) => {
    const mailbox = newMailbox();
    writeFileSync(`${mailbox}.lock`, '');
    const writer = setInterval(() => appendFileSync(changing(mailbox), 'x'), 50);
    const mayOverride = vi.fn(() => true);

    try {
      expect(await acquireWithin(mailbox, 2_000, { staleTimeoutMs: 500, mayOverride })).toBeUndefined();
    } finally {
      clearInterval(writer);
    }
    expect(mayOverride).not.toHaveBeenCalled();
  });
});

describe('EACCES and mail_privileged_group (as vmail, in a child process)', () => {
  const VMAIL = 5000;
  const MAIL_GID = 8;
  let bundleDir: string;

  beforeAll(async () => {
    const { build } = await import('esbuild');
    bundleDir = mkdtempSync(join(tmpdir(), 'dovetail-dotlock-bundle-'));
    await build({
      entryPoints: [join(__dirname, '..', '..', 'src', 'lock', 'dotlock.ts')],
      outfile: join(bundleDir, 'dotlock.js'),
      bundle: true,
      platform: 'node',
      format: 'cjs',
      logLevel: 'error',
    });
  });
  afterAll(() => rmSync(bundleDir, { recursive: true, force: true }));

  /** A mail spool as Debian sets it up: root:mail 0775, so only the privileged group may create files in it. */
  function newSpoolMailbox(): string {
    const root = tempDir();
    chmodSync(root, 0o755);
    const spool = join(root, 'spool');
    mkdirSync(spool);
    chownSync(spool, 0, MAIL_GID);
    chmodSync(spool, 0o775);
    const mailbox = join(spool, 'vmail');
    writeFileSync(mailbox, '');
    chownSync(mailbox, VMAIL, MAIL_GID);
    return mailbox;
  }

  function runChild(mailbox: string, useExcl: boolean, wrapped: boolean): unknown {
    const child = spawnSync(
      process.execPath,
      [
        join(__dirname, 'privileged-child.cjs'),
        join(bundleDir, 'dotlock.js'),
        mailbox,
        useExcl ? 'excl' : 'link',
        wrapped ? 'wrapped' : 'bare',
        String(MAIL_GID),
      ],
      { encoding: 'utf8' },
    );
    expect(child.stderr).toBe('');
    return JSON.parse(child.stdout);
  }

  it.each(METHODS)('$name method: EACCES without the wrapper, nothing left behind', ({ useExcl }) => {
    const mailbox = newSpoolMailbox();
    expect(runChild(mailbox, useExcl, false)).toEqual({ code: 'EACCES' });
    expect(readdirSync(dirname(mailbox))).toEqual(['vmail']);
  });

  it.each(METHODS)('$name method: made and removed through the wrapper, with the privileged group', ({ useExcl }) => {
    const mailbox = newSpoolMailbox();
    expect(runChild(mailbox, useExcl, true)).toEqual({ gid: MAIL_GID, removed: true, files: ['vmail'] });
  });
});
