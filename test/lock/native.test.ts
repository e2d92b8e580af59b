// The native addon against real lock holders in other processes: python's
// fcntl.lockf (fcntl locks on Linux) and util-linux flock(1). setresgid runs
// in a child node as root, never in the test worker.

import { describe, it, expect, afterEach } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, copyFileSync, openSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { loadNative } from '../../src/lock/native.js';
import { thrown } from '../helpers/thrown.js';
import { useTempDirs } from '../storage/helpers/fixtures.js';

const ADDON = join(__dirname, '..', '..', 'build', 'Release', 'dovetail_native.node');
const tempDir = useTempDirs();
const holders: ChildProcess[] = [];
const openFds: number[] = [];

afterEach(() => {
  for (const holder of holders.splice(0)) {
    holder.stdin!.end();
    holder.kill('SIGKILL');
  }
  for (const fd of openFds.splice(0)) closeSync(fd);
});

function tempMailbox(): string {
  const path = join(tempDir(), 'mbox');
  writeFileSync(path, 'From a@b  Thu Jan  1 00:00:00 2025\n\nbody\n\n');
  return path;
}

function openForLocking(path: string): number {
  const fd = openSync(path, 'r+');
  openFds.push(fd);
  return fd;
}

const HOLD_WITH_LOCKF = `import fcntl, sys
f = open(sys.argv[1], 'r+')
fcntl.lockf(f, fcntl.LOCK_EX)
print('locked', flush=True)
sys.stdin.read()`;

const TRY_LOCKF = `import fcntl, sys
f = open(sys.argv[1], 'r+')
try:
    fcntl.lockf(f, getattr(fcntl, sys.argv[2]) | fcntl.LOCK_NB)
    print('locked')
except OSError:
    print('busy')`;

/** Another process holding the lock until its stdin closes; resolves once it holds it. */
async function startHolder(method: 'fcntl' | 'flock', path: string): Promise<ChildProcess> {
  const holder =
    method === 'fcntl'
      ? spawn('python3', ['-c', HOLD_WITH_LOCKF, path])
      : spawn('flock', ['--exclusive', path, 'sh', '-c', 'echo locked; cat >/dev/null']);
  holders.push(holder);
  const firstLine = await Promise.race([
    once(createInterface({ input: holder.stdout! }), 'line').then(([line]) => line as string),
    once(holder, 'exit').then(() => 'the holder exited'),
  ]);
  expect(firstLine).toBe('locked');
  return holder;
}

async function stopHolder(holder: ChildProcess): Promise<void> {
  holder.stdin!.end();
  if (holder.exitCode === null) await once(holder, 'exit');
}

/** What another process sees when it tries an exclusive or a shared lock on `path` without waiting. */
function otherProcessTries(method: 'fcntl' | 'flock', path: string, mode: 'exclusive' | 'shared'): 'locked' | 'busy' {
  if (method === 'fcntl') {
    const flag = mode === 'exclusive' ? 'LOCK_EX' : 'LOCK_SH';
    return spawnSync('python3', ['-c', TRY_LOCKF, path, flag], { encoding: 'utf8' }).stdout.trim() as 'locked' | 'busy';
  }
  return spawnSync('flock', [`--${mode}`, '--nonblock', path, 'true']).status === 0 ? 'locked' : 'busy';
}

describe.each(['fcntl', 'flock'] as const)('%s locks', (method) => {
  it('takes an exclusive lock that another process sees, and releases it', () => {
    const path = tempMailbox();
    const fd = openForLocking(path);
    expect(loadNative().tryLock(fd, method)).toBe(true);
    expect(otherProcessTries(method, path, 'exclusive')).toBe('busy');
    expect(otherProcessTries(method, path, 'shared')).toBe('busy');
    loadNative().unlock(fd, method);
    expect(otherProcessTries(method, path, 'exclusive')).toBe('locked');
  });

  it('returns false while another process holds the lock, true after it exits', async () => {
    const path = tempMailbox();
    const fd = openForLocking(path);
    const holder = await startHolder(method, path);
    expect(loadNative().tryLock(fd, method)).toBe(false);
    expect(loadNative().tryLock(fd, method)).toBe(false);
    await stopHolder(holder);
    expect(loadNative().tryLock(fd, method)).toBe(true);
  });

  it("throws a Node-style EBADF for a closed descriptor", () => {
    const fd = openSync(tempMailbox(), 'r');
    closeSync(fd);
    for (const call of [() => loadNative().tryLock(fd, method), () => loadNative().unlock(fd, method)]) {
      const error = thrown(Error, call) as NodeJS.ErrnoException;
      expect(error).toMatchObject({ code: 'EBADF', errno: -constants.errno.EBADF, syscall: method });
      expect(error.message).toBe(`EBADF: bad file descriptor, ${method}`);
    }
  });
});

describe('argument checks', () => {
  it('rejects an unknown method and descriptors that are not whole numbers', () => {
    const addon = loadNative();
    expect(thrown(TypeError, () => addon.tryLock(0, 'lockf' as 'fcntl')).message).toBe('method must be "fcntl" or "flock"');
    for (const fd of [NaN, -1, 1.5]) expect(() => addon.tryLock(fd, 'fcntl')).toThrow(TypeError);
  });

  it('rejects gids that are not whole numbers in 0..2^32-2 (NaN must never mean root)', () => {
    for (const gid of [NaN, -1, 2 ** 32 - 1, 0.5]) expect(() => loadNative().setresgid(gid, gid, gid)).toThrow(TypeError);
  });
});

const AS_MAIL_USER = `
const addon = require(process.argv[1]);
process.setgroups([5000]);
addon.setresgid(5000, 5000, 8);
const gids = addon.getresgid();
process.setuid(5000);
process.setegid(8);
const privileged = process.getegid();
let backToRoot = 'allowed';
try { process.setegid(0); } catch (error) { backToRoot = error.code; }
let again = 'allowed';
try { addon.setresgid(0, 0, 0); } catch (error) { again = [error.code, error.syscall, error.message].join(' | '); }
console.log(JSON.stringify({ gids, privileged, backToRoot, again }));
`;

describe('setresgid and getresgid', () => {
  it('reads the three gids of this process', () => {
    expect(loadNative().getresgid()).toEqual([process.getgid!(), process.getegid!(), process.getgid!()]);
  });

  it.skipIf(process.getuid!() !== 0)('keeps the privileged group as the saved gid, and nothing more', () => {
    const child = spawnSync(process.execPath, ['-e', AS_MAIL_USER, ADDON], { encoding: 'utf8' });
    expect(child.stderr).toBe('');
    expect(JSON.parse(child.stdout)).toEqual({
      gids: [5000, 5000, 8],
      privileged: 8,
      backToRoot: 'EPERM',
      again: 'EPERM | setresgid | EPERM: operation not permitted, setresgid',
    });
  });
});

describe('bundled by esbuild', () => {
  it('loads the addon beside the bundle, and names the paths it tried when it is missing', async () => {
    const { build } = await import('esbuild');
    const dir = tempDir();
    await build({
      entryPoints: [join(__dirname, '..', '..', 'src', 'lock', 'native.ts')],
      outfile: join(dir, 'bundle.js'),
      bundle: true,
      platform: 'node',
      format: 'cjs',
      logLevel: 'error',
    });
    const load = `try { console.log(JSON.stringify(require(process.argv[1]).loadNative().getresgid())); } catch (error) { console.log(error.message); }`;
    const run = () => spawnSync(process.execPath, ['-e', load, join(dir, 'bundle.js')], { encoding: 'utf8' }).stdout.trim();

    const missing = run();
    expect(missing).toMatch(/^Cannot load the native addon/);
    expect(missing).toContain(`${join(dir, 'dovetail_native.node')}: Cannot find module`);
    expect(missing).toContain(`${join(dir, '..', '..', 'build', 'Release', 'dovetail_native.node')}: Cannot find module`);
    copyFileSync(ADDON, join(dir, 'dovetail_native.node'));
    expect(JSON.parse(run())).toEqual(loadNative().getresgid());
  });
});
