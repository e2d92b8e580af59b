// Write-locking one mbox file the way every other program on the host does
// (Dovecot's mbox-lock.c): the methods of mbox_write_locks in their order —
// dotlock (a <mbox>.lock file), dotlock_try (the same, but going on without
// it when the directory refuses: EACCES, ENOSPC), fcntl (lockf is the same
// lock on Linux) and flock — all within one deadline (mbox_lock_timeout,
// capped by mail_max_lock_timeout). Before a dotlock that is stale by age is
// overridden, the kernel locks that follow it are tried without waiting: if
// one is held, the mbox is really in use and the dotlock stays.
//
// Failures are MailboxError('temporary'), so the mail is deferred (75) with
// the mailbox untouched: a lock not had in time ("Timeout while waiting for
// lock"), a dotlock the spool directory refuses (with the hint to set
// mail_privileged_group, as Dovecot gives it), an addon that cannot load.

import { dirname } from 'node:path';
import { acquireDotlock, type Dotlock } from '../../lock/dotlock.js';
import { acquireKernelLock, releaseKernelLock, type KernelLockMethod } from '../../lock/kernel-lock.js';
import { loadNative } from '../../lock/native.js';
import { MailboxError } from '../errors.js';
import { errorCode, mailboxErrorFromFs } from '../fs-errors.js';

export type MboxLockMethod = 'dotlock' | 'dotlock_try' | 'fcntl' | 'flock' | 'lockf';

const LOCK_METHODS: readonly MboxLockMethod[] = ['dotlock', 'dotlock_try', 'fcntl', 'flock', 'lockf'];

export const LOCK_TIMEOUT_MESSAGE = 'Timeout while waiting for lock';

function parseMethodList(setting: string, text: string): MboxLockMethod[] {
  return text
    .split(/[ ,]+/)
    .filter((word) => word !== '')
    .map((word) => {
      if (!(LOCK_METHODS as readonly string[]).includes(word)) {
        throw new MailboxError('temporary', `${setting}: Invalid value ${word}`);
      }
      return word as MboxLockMethod;
    });
}

/**
 * mbox_write_locks, checked as Dovecot checks it: known methods only, and
 * mbox_read_locks a subsequence of it in the same order (a reader and a
 * writer must take shared locks in one order, or they deadlock).
 */
export function parseMboxWriteLocks(writeLocks: string, readLocks: string): MboxLockMethod[] {
  const write = parseMethodList('mbox_write_locks', writeLocks);
  const read = parseMethodList('mbox_read_locks', readLocks);
  let next = 0;
  for (const method of read) {
    const found = write.indexOf(method, next);
    if (found < 0) {
      throw new MailboxError(
        'temporary',
        'mbox read/write lock list settings are invalid. Lock ordering must be the same with both, and write locks must contain all read locks (and possibly more)',
      );
    }
    next = found + 1;
  }
  return write;
}

export interface MboxLockSettings {
  methods: readonly MboxLockMethod[];
  /** how long all locks together may take, in ms */
  timeoutMs: number;
  /** mbox_dotlock_change_timeout in ms */
  dotlockStaleMs: number;
  /** dotlock_use_excl */
  dotlockUseExcl: boolean;
  hostname: string;
  /** runs dotlock syscalls with mail_privileged_group (spool INBOX only); undefined when there is none */
  withPrivilegedGroup?: <T>(fn: () => T) => T;
  /** aborted when the delivery is being killed: stop waiting */
  signal?: AbortSignal;
}

/** Locks taken on one mbox; release() drops them in reverse order and never throws. */
export interface HeldMboxLocks {
  release(): void;
}

function kernelMethod(method: MboxLockMethod): KernelLockMethod | undefined {
  if (method === 'fcntl' || method === 'lockf') return 'fcntl';
  if (method === 'flock') return 'flock';
  return undefined;
}

/** Non-blocking test of the kernel locks after a dotlock: true when none of them is held by someone else. */
function kernelLocksFree(fd: number, methods: readonly MboxLockMethod[]): boolean {
  try {
    const addon = loadNative();
    for (const method of methods) {
      const kernel = kernelMethod(method);
      if (kernel === undefined) continue;
      if (!addon.tryLock(fd, kernel)) return false;
      addon.unlock(fd, kernel);
    }
    return true;
  } catch {
    return false; // cannot tell: keep the dotlock, which ends in a timeout rather than a broken lock
  }
}

function dotlockFailure(error: unknown, path: string, settings: MboxLockSettings): MailboxError {
  const lockPath = `${path}.lock`;
  if (errorCode(error) === 'EACCES') {
    const directory = dirname(path);
    const hint = settings.withPrivilegedGroup === undefined ? ` (set mail_privileged_group to the group that may write ${directory})` : '';
    return new MailboxError('temporary', `Can't create dotlock ${lockPath}: no permission to write ${directory}${hint}`);
  }
  const failure = mailboxErrorFromFs(error, 'file_dotlock_create', lockPath);
  return new MailboxError('temporary', failure.message);
}

/**
 * Takes every lock of `settings.methods` on the mbox at `path`, open as `fd`
 * (read-write), before `Date.now() + settings.timeoutMs`. Throws
 * MailboxError('temporary') with nothing held when that fails.
 */
export async function lockMbox(path: string, fd: number, settings: MboxLockSettings): Promise<HeldMboxLocks> {
  const deadline = Date.now() + settings.timeoutMs;
  const undo: (() => void)[] = [];
  const release = () => {
    for (const step of undo.reverse()) {
      try {
        step();
      } catch {
        // closing the file drops kernel locks anyway; a dotlock left behind names a dead pid
      }
    }
    undo.length = 0;
  };
  try {
    for (const [index, method] of settings.methods.entries()) {
      const kernel = kernelMethod(method);
      if (kernel !== undefined) {
        await takeKernelLock(path, fd, kernel, deadline, settings.signal);
        undo.push(() => releaseKernelLock(fd, kernel));
        continue;
      }
      const dotlock = await takeDotlock(path, fd, method === 'dotlock_try', settings.methods.slice(index + 1), deadline, settings);
      if (dotlock !== undefined) undo.push(() => dotlock.release());
    }
  } catch (error) {
    release();
    throw error;
  }
  return { release };
}

async function takeKernelLock(path: string, fd: number, method: KernelLockMethod, deadline: number, signal?: AbortSignal): Promise<void> {
  let locked: boolean;
  try {
    locked = await acquireKernelLock(fd, method, deadline, undefined, signal);
  } catch (error) {
    throw new MailboxError('temporary', `${method}(${path}) failed: ${(error as Error).message}`);
  }
  if (!locked) throw new MailboxError('temporary', `${LOCK_TIMEOUT_MESSAGE} (${method} lock on ${path})`);
}

async function takeDotlock(
  path: string,
  fd: number,
  tryOnly: boolean,
  laterMethods: readonly MboxLockMethod[],
  deadline: number,
  settings: MboxLockSettings,
): Promise<Dotlock | undefined> {
  let dotlock: Dotlock | undefined;
  try {
    dotlock = await acquireDotlock(path, {
      useExcl: settings.dotlockUseExcl,
      staleTimeoutMs: settings.dotlockStaleMs,
      deadline,
      hostname: settings.hostname,
      mayOverride: () => kernelLocksFree(fd, laterMethods),
      signal: settings.signal,
      ...(settings.withPrivilegedGroup && { withPrivilegedGroup: settings.withPrivilegedGroup }),
    });
  } catch (error) {
    const code = errorCode(error);
    if (tryOnly && (code === 'EACCES' || code === 'ENOSPC')) return undefined;
    throw dotlockFailure(error, path, settings);
  }
  if (dotlock === undefined) throw new MailboxError('temporary', `${LOCK_TIMEOUT_MESSAGE} (dotlock ${path}.lock)`);
  return dotlock;
}
