// Mailbox dotlocks: `<mbox>.lock`, a plain file holding "<pid>:<hostname>"
// (no newline) as Dovecot's file-dotlock.c writes it, so that Dovecot, mutt,
// Postfix's local(8) and liblockfile's dotlockfile see our lock and we see
// theirs. It is made either with open(O_WRONLY|O_CREAT|O_EXCL), which never
// follows a symlink, or NFS-safely: a temp file `.temp.<host>.<pid>.<random>`
// beside it, written and link()ed into place — a link that reports failure
// while the temp file now has two links did succeed — and then always
// removed. Mode 0666 less the umask, as Dovecot.
//
// While another lock is there we sleep 50-100 ms, growing ×1.5 to at most
// 1 s (Dovecot: 100-200 ms, up to 3 s; but deliveries wait on each other and
// should see a released lock quickly), starting over whenever the lock file
// changes, never past the deadline, with one last try at it. The lock is
// overridden (unlinked, then created anew):
// - at once when it names a process on this host that is gone (kill(pid, 0)
//   says ESRCH): "pid:<our hostname>", or liblockfile's "pid\n", which names
//   no host. Dovecot first waits until such a lock is 2 s old; we need not,
//   because a half-written lock cannot be misread as a dead pid — "pid:host"
//   counts only with our whole hostname after the colon, a bare pid only
//   with its newline.
// - when neither it nor the mailbox has changed (inode, size, mtime, ctime)
//   for staleTimeoutMs, and mayOverride() agrees — asked
//   at every look while it refuses. This holds for locks whose owner we
//   cannot check: empty (Postfix), pid 0, another host, unreadable; and for
//   our own pid, which is a lock left by an earlier process that had our pid
//   or one held by another delivery in this process (which keeps changing
//   the mailbox). A live process other than ours keeps its lock however old,
//   as in Dovecot and liblockfile.
// Right before unlinking, the lock is lstat()ed again and must be untouched
// (inode, size, times: ext4 gives a freed inode number to the next new file
// at once), so a lock someone made since we judged is never removed.
// release() removes only the inode we created, which we keep open while we
// hold the lock so that its number cannot pass to someone else's.
//
// Fails: resolves undefined when the deadline passes; rejects with the fs
// error, code kept (ENOENT for a missing directory, EACCES, EROFS, ENOSPC when
// the content cannot be written, ...). EACCES on creating or removing a lock
// is retried inside withPrivilegedGroup when there is one (Dovecot's
// mail_privileged_group). An abort of options.signal while waiting rejects
// with its reason. All file calls are synchronous, only the sleeps yield;
// there is no module state.

import {
  closeSync,
  constants,
  fstatSync,
  linkSync,
  lstatSync,
  openSync,
  readSync,
  statSync,
  unlinkSync,
  writeFileSync,
  type Stats,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { errorCode } from '../storage/fs-errors.js';
import { pause } from './pause.js';

export interface DotlockOptions {
  /** dotlock_use_excl=yes: create <path>.lock with open(O_WRONLY|O_CREAT|O_EXCL); no: NFS-safe hard-link method */
  useExcl: boolean;
  /** mbox_dotlock_change_timeout in ms: a lock that (with the protected file) has not changed this long is stale */
  staleTimeoutMs: number;
  /** Date.now()-scale time at which acquireDotlock gives up */
  deadline: number;
  /** this host's name, written into the lock as "<pid>:<hostname>" and compared when reading others' locks */
  hostname: string;
  /** asked before overriding a lock that is stale by age only: false = the file is still really locked (e.g. its
   *  fcntl lock is held), so keep waiting. Not asked when the owner pid is dead on this host. */
  mayOverride?: () => boolean;
  /** when creating or removing the lock fails with EACCES, the same synchronous syscalls are retried inside this
   *  wrapper, which runs them with mail_privileged_group as effective gid (Dovecot's privileged dotlocking);
   *  undefined = EACCES is final */
  withPrivilegedGroup?: <T>(fn: () => T) => T;
  /** aborted when the delivery is being killed: stop waiting, reject with its reason */
  signal?: AbortSignal;
}

export interface Dotlock {
  /** the lock file, `${protectedPath}.lock` */
  readonly path: string;
  /** removes the lock if it is still ours (same inode); never throws */
  release(): void;
}

type PrivilegedGroup = DotlockOptions['withPrivilegedGroup'];

const FIRST_PAUSE_MIN_MS = 50;
const FIRST_PAUSE_SPREAD_MS = 50;
const PAUSE_GROWTH = 1.5;
const MAX_PAUSE_MS = 1000;

const LOCK_MODE = 0o666;
const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
/** O_NONBLOCK: a FIFO put where the lock belongs must not hang the open. */
const READ_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
/** As much of a lock as Dovecot reads; "pid:host" is far shorter. */
const MAX_LOCK_CONTENT = 512;
/** kill() takes a 32-bit pid; larger numbers are not pids. */
const MAX_PID = 2 ** 31 - 1;

/** Dovecot's "pid:host", with the newline it tolerates. */
const DOVECOT_CONTENT = /^(\d+):([^\n]*)\n?$/;
/** liblockfile's "pid\n" (its pid is 0 unless asked for one). */
const LIBLOCKFILE_CONTENT = /^(\d+)\n$/;

/** Which file a path names: device and inode. */
interface FileIdentity {
  dev: number;
  ino: number;
}

/** A lock file we created, still open. */
interface OpenLock {
  fd: number;
  identity: FileIdentity;
}

function sameFile(a: FileIdentity, b: FileIdentity): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

/**
 * The same file, not changed in between. A freed inode number is soon given to a new file, so the inode alone
 * cannot tell a lock someone just made from the one it replaced; its times and size can.
 */
function untouched(a: Stats, b: Stats): boolean {
  return sameFile(a, b) && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs;
}

/**
 * The process a lock's content names on this host, or undefined when it names
 * none we could check: empty, pid 0, another host, half-written, unknown format.
 */
export function lockOwnerPid(content: string, hostname: string): number | undefined {
  const dovecot = DOVECOT_CONTENT.exec(content);
  const digits = dovecot ? (dovecot[2] === hostname ? dovecot[1] : undefined) : LIBLOCKFILE_CONTENT.exec(content)?.[1];
  if (digits === undefined) return undefined;
  const pid = Number(digits);
  return pid > 0 && pid <= MAX_PID ? pid : undefined;
}

/** kill(pid, 0): only ESRCH means gone; EPERM is a live process of another user. */
function processIsGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return errorCode(error) === 'ESRCH';
  }
}

function lstatIfExists(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw error;
  }
}

function statIfExists(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw error;
  }
}

function unlinkIfExists(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') throw error;
  }
}

/** Runs a synchronous file call; when it fails with EACCES, runs it again inside the privileged-group wrapper. */
function withPrivilegeOnEacces<T>(privilegedGroup: PrivilegedGroup, call: () => T): T {
  try {
    return call();
  } catch (error) {
    if (errorCode(error) !== 'EACCES' || privilegedGroup === undefined) throw error;
    return privilegedGroup(call);
  }
}

/** Unlinks `lockPath` if the file there now is still the one we mean; leaves any other. */
function unlinkIfStill(lockPath: string, isStill: (current: Stats) => boolean, privilegedGroup: PrivilegedGroup): void {
  const current = lstatIfExists(lockPath);
  if (current === undefined || !isStill(current)) return;
  withPrivilegeOnEacces(privilegedGroup, () => unlinkIfExists(lockPath));
}

/** Creates `path` (O_EXCL, no symlinks) holding `content`, left open; when that fails half-way, removes it again. */
function writeNewFile(path: string, content: string): OpenLock {
  const fd = openSync(path, CREATE_FLAGS, LOCK_MODE);
  try {
    writeFileSync(fd, content);
    return { fd, identity: fstatSync(fd) };
  } catch (error) {
    closeSync(fd);
    try {
      unlinkSync(path);
    } catch {
      // the write's error is the one to report
    }
    throw error;
  }
}

/** dotlock_use_excl=yes: our new lock, or undefined when a lock is there. */
function createExclusive(lockPath: string, content: string): OpenLock | undefined {
  try {
    return writeNewFile(lockPath, content);
  } catch (error) {
    if (errorCode(error) === 'EEXIST') return undefined;
    throw error;
  }
}

/** link(); a failure after which the temp file has two links was a success whose reply NFS lost. */
function linkedIntoPlace(tempPath: string, lockPath: string): boolean {
  try {
    linkSync(tempPath, lockPath);
    return true;
  } catch (error) {
    if (lstatSync(tempPath).nlink === 2) return true;
    if (errorCode(error) === 'EEXIST') return false;
    throw error;
  }
}

/** The NFS-safe method: our new lock (the temp file's inode), or undefined when a lock is there. */
function createByLink(lockPath: string, content: string, hostname: string): OpenLock | undefined {
  const tempPath = join(dirname(lockPath), `.temp.${hostname}.${process.pid}.${process.getBuiltinModule('node:crypto').randomBytes(8).toString('hex')}`);
  const temp = writeNewFile(tempPath, content);
  let linked = false;
  try {
    linked = linkedIntoPlace(tempPath, lockPath);
  } finally {
    try {
      unlinkSync(tempPath);
    } catch {
      // a temp file left over does not change who holds the lock
    }
    if (!linked) closeSync(temp.fd);
  }
  return linked ? temp : undefined;
}

/** The owner named in the lock file `lock` (as lstat()ed), or undefined when it cannot be read or names none. */
function readLockOwner(lockPath: string, lock: Stats, hostname: string): number | undefined {
  if (!lock.isFile()) return undefined;
  let fd: number;
  try {
    fd = openSync(lockPath, READ_FLAGS);
  } catch {
    return undefined; // gone since, or unreadable (Postfix creates its locks with mode 0): an owner we cannot check
  }
  try {
    if (!untouched(fstatSync(fd), lock)) return undefined;
    const buffer = Buffer.alloc(MAX_LOCK_CONTENT);
    const length = readSync(fd, buffer, 0, buffer.length, 0);
    return lockOwnerPid(buffer.toString('utf8', 0, length), hostname);
  } finally {
    closeSync(fd);
  }
}

/** When a file last changed as far as we can tell: its ctime when first seen, now when it differs from before. */
function changeTime(previous: Stats | undefined, current: Stats, now: number): number | undefined {
  if (previous === undefined) return Math.min(current.ctimeMs, now);
  return untouched(previous, current) ? undefined : now;
}

/** What one look at the lock in our way found: gone (or overridden), changed since the last look, or not. */
type Look = 'gone' | 'changed' | 'unchanged';

/** One acquireDotlock call: creating the lock, and watching someone else's lock and the mailbox for changes. */
class LockAttempt {
  readonly lockPath: string;
  private readonly content: string;
  private seenLock: Stats | undefined;
  private seenMailbox: Stats | undefined;
  private lastChange = 0;

  constructor(
    private readonly protectedPath: string,
    private readonly options: DotlockOptions,
  ) {
    this.lockPath = `${protectedPath}.lock`;
    this.content = `${process.pid}:${options.hostname}`;
  }

  /** Our new lock, or undefined while another is there. */
  create(): OpenLock | undefined {
    const { useExcl, hostname, withPrivilegedGroup } = this.options;
    return withPrivilegeOnEacces(withPrivilegedGroup, () =>
      useExcl ? createExclusive(this.lockPath, this.content) : createByLink(this.lockPath, this.content, hostname),
    );
  }

  /** Looks at the lock that stopped us, overriding it when its owner is gone or it is stale. */
  look(now: number): Look {
    const lock = lstatIfExists(this.lockPath);
    if (lock === undefined) return 'gone';
    const changedAt = changeTime(this.seenLock, lock, now);
    this.seenLock = lock;
    if (changedAt !== undefined) this.lastChange = Math.max(this.lastChange, changedAt);
    if (this.mayBeOverridden(lock, now)) {
      unlinkIfStill(this.lockPath, (current) => untouched(current, lock), this.options.withPrivilegedGroup);
      return 'gone';
    }
    return changedAt === undefined ? 'unchanged' : 'changed';
  }

  private mayBeOverridden(lock: Stats, now: number): boolean {
    const owner = readLockOwner(this.lockPath, lock, this.options.hostname);
    if (owner !== undefined && owner !== process.pid) return processIsGone(owner);
    return this.isStale(now) && (this.options.mayOverride?.() ?? true);
  }

  /** Nothing changed for staleTimeoutMs; the mailbox is looked at only once the lock alone seems stale. */
  private isStale(now: number): boolean {
    if (now - this.lastChange <= this.options.staleTimeoutMs) return false;
    const mailbox = statIfExists(this.protectedPath); // a missing mailbox counts as unchanged, as in Dovecot
    if (mailbox !== undefined) {
      const changedAt = changeTime(this.seenMailbox, mailbox, now);
      this.seenMailbox = mailbox;
      if (changedAt !== undefined) this.lastChange = Math.max(this.lastChange, changedAt);
    }
    return now - this.lastChange > this.options.staleTimeoutMs;
  }
}

/**
 * Our lock. It stays open until release(): while its inode is open, the inode's number cannot go to a lock made
 * after someone removed ours, so comparing inodes tells ours from theirs.
 */
class HeldDotlock implements Dotlock {
  constructor(
    readonly path: string,
    private held: OpenLock | undefined,
    private readonly privilegedGroup: PrivilegedGroup,
  ) {}

  release(): void {
    const held = this.held;
    if (held === undefined) return;
    this.held = undefined;
    try {
      unlinkIfStill(this.path, (current) => sameFile(current, held.identity), this.privilegedGroup);
    } catch {
      // a lock we cannot remove names our pid: once this process has ended, the next taker overrides it at once
    }
    try {
      closeSync(held.fd);
    } catch {
      // nothing was written through it since the lock was made
    }
  }
}

function firstPauseMs(): number {
  return FIRST_PAUSE_MIN_MS + Math.random() * FIRST_PAUSE_SPREAD_MS;
}

/**
 * Creates `${protectedPath}.lock`. Resolves with the lock, or undefined when `deadline` passed; rejects with the
 * fs error (code EACCES, ENOENT, EROFS, ...) for anything else.
 */
export async function acquireDotlock(protectedPath: string, options: DotlockOptions): Promise<Dotlock | undefined> {
  const attempt = new LockAttempt(protectedPath, options);
  let pauseMs = 0;
  for (;;) {
    const created = attempt.create();
    if (created !== undefined) return new HeldDotlock(attempt.lockPath, created, options.withPrivilegedGroup);
    const now = Date.now();
    const look = attempt.look(now);
    if (look === 'gone') continue;
    if (now >= options.deadline) return undefined;
    pauseMs = look === 'changed' ? firstPauseMs() : Math.min(pauseMs * PAUSE_GROWTH, MAX_PAUSE_MS);
    await pause(Math.min(pauseMs, options.deadline - now), options.signal);
  }
}
