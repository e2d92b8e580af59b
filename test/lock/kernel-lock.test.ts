// Waiting for a kernel lock: the real addon with a holder in this process
// (flock locks of two separate opens conflict even within one process), and
// the retry schedule with a scripted addon under fake timers.

import { describe, it, expect, afterEach, vi } from 'vitest';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { acquireKernelLock, releaseKernelLock } from '../../src/lock/kernel-lock.js';
import { loadNative, type NativeAddon } from '../../src/lock/native.js';
import { useTempDirs } from '../storage/helpers/fixtures.js';

const tempDir = useTempDirs();
const openFds: number[] = [];

afterEach(() => {
  vi.useRealTimers();
  for (const fd of openFds.splice(0)) closeSync(fd);
});

/** Two separate opens of one mailbox: the holder's and ours. */
function twoOpens(): [holder: number, ours: number] {
  const path = join(tempDir(), 'mbox');
  writeFileSync(path, '');
  const fds: [number, number] = [openSync(path, 'r+'), openSync(path, 'r+')];
  openFds.push(...fds);
  return fds;
}

describe('acquireKernelLock with the real addon', () => {
  it('waits for a holder that releases after 300 ms', async () => {
    const [holder, ours] = twoOpens();
    expect(loadNative().tryLock(holder, 'flock')).toBe(true);
    expect(loadNative().tryLock(ours, 'flock')).toBe(false);
    let released = false;
    setTimeout(() => {
      releaseKernelLock(holder, 'flock');
      released = true;
    }, 300);

    expect(await acquireKernelLock(ours, 'flock', Date.now() + 20_000)).toBe(true);
    expect(released).toBe(true);
    expect(loadNative().tryLock(holder, 'flock')).toBe(false);
    releaseKernelLock(ours, 'flock');
    expect(loadNative().tryLock(holder, 'flock')).toBe(true);
  });

  it('gives up at the deadline, not before, when the holder never releases', async () => {
    const [holder, ours] = twoOpens();
    expect(loadNative().tryLock(holder, 'flock')).toBe(true);
    const deadline = Date.now() + 400;

    expect(await acquireKernelLock(ours, 'flock', deadline)).toBe(false);
    expect(Date.now()).toBeGreaterThanOrEqual(deadline);
  });

  it('passes on errors other than "held by someone else"', async () => {
    const closed = openSync(tempDir(), 'r');
    closeSync(closed);
    await expect(acquireKernelLock(closed, 'fcntl', Date.now() + 1000)).rejects.toMatchObject({ code: 'EBADF', syscall: 'fcntl' });
  });
});

/** An addon whose lock is free from `freeAt` on (never when undefined), recording when it was tried. */
function scriptedAddon(freeAt?: number): NativeAddon & { tries: number[] } {
  const tries: number[] = [];
  return {
    tries,
    tryLock: () => {
      tries.push(Date.now());
      return freeAt !== undefined && Date.now() >= freeAt;
    },
    unlock: () => {},
    setresgid: () => {},
    getresgid: () => [0, 0, 0],
  };
}

describe('the retry schedule', () => {
  it('pauses 10 ms, then 1.5 times longer each time up to 500 ms, and tries once more exactly at the deadline', async () => {
    vi.useFakeTimers({ now: 0 });
    const addon = scriptedAddon();
    const result = acquireKernelLock(3, 'fcntl', 3000, addon);
    await vi.runAllTimersAsync();

    expect(await result).toBe(false);
    // pauses 10, 15, 23, 35, 53, 80, 120, 180, 270, 405, 500, 500, 500, then 309 to the deadline
    expect(addon.tries).toEqual([0, 10, 25, 48, 83, 136, 216, 336, 516, 786, 1191, 1691, 2191, 2691, 3000]);
  });

  it('returns true on the first try that finds the lock free', async () => {
    vi.useFakeTimers({ now: 0 });
    const addon = scriptedAddon(100);
    const result = acquireKernelLock(3, 'flock', 3000, addon);
    await vi.runAllTimersAsync();

    expect(await result).toBe(true);
    expect(addon.tries.filter((time) => time >= 100)).toHaveLength(1);
  });
});
