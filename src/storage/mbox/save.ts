// One mbox save (Dovecot's mbox-save.c, Postfix's mbox_open + mail_copy): the
// file is opened (created with the mailbox's mode when missing; symlinks are
// followed as Dovecot follows them, but it must be a regular file), locked
// (lock.ts), and checked again: a file replaced while we waited is reopened.
// Its size is remembered, a missing final newline is added, and the record
// (format.ts) is appended. commit() fsyncs (unless mail_fsync=never) and only
// then releases the locks.
//
// A message with keywords needs them declared in the file's first message
// (imapbase.ts): a message with flags written into an empty file brings its
// own X-IMAPbase, as Dovecot's first message always does; otherwise missing
// keywords are added to the first message's X-IMAPbase in place, as Dovecot
// does, through a second descriptor that stays open until the locks are
// gone (closing any descriptor of the file would drop our fcntl lock). That
// declaration stays when the save is rolled back; a failed write of it is
// undone.
//
// All or nothing: any failure — EFBIG from a file-size limit, ENOSPC, EDQUOT,
// EIO, an abort (SIGTERM) — truncates the file back to its original size
// before the locks are released, so no reader ever sees half a message.
// Failures are MailboxError: EDQUOT 'over-quota', the rest 'temporary' (a
// refused open is 'no-permission', which falls back to INBOX like Dovecot).

import { open, type FileHandle } from 'node:fs/promises';
import { closeSync, constants, fchmodSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { MessageSource } from '../../message/types.js';
import type { SavedMail, SaveTransaction } from '../types.js';
import { MailboxError } from '../errors.js';
import { errorCode, fsCall } from '../fs-errors.js';
import { syncDirectory, writeAll } from '../file-io.js';
import { createFile, type Permissions } from '../permissions.js';
import { hasAnyFlag, type MessageFlags } from '../flags.js';
import { encodeMboxRecord, type MboxFlagHeaders } from './format.js';
import { declareKeywords, MBOX_HEAD_BYTES } from './imapbase.js';
import { lockMbox, type HeldMboxLocks, type MboxLockSettings } from './lock.js';

export interface MboxSaveTarget {
  /** the mailbox name for SavedMail, as the user asked for it */
  mailboxName: string;
  /** the mbox file */
  path: string;
  /** mode and group for the file when this save creates it */
  permissions: Permissions;
  locking: MboxLockSettings;
  /** false for mail_fsync=never */
  fsync: boolean;
  /** the From_ line, newline included */
  fromLine: string;
  flags: MessageFlags;
  /** set when the delivery is being killed: stop, roll back */
  signal?: AbortSignal;
}

/** A file that changes under us more often than this while we wait for its lock is left alone. */
const MAX_REOPENS = 5;
const OPEN_FLAGS = constants.O_RDWR | constants.O_APPEND | constants.O_NONBLOCK;

interface OpenMbox {
  handle: FileHandle;
  locks: HeldMboxLocks;
  /** the size before this save: where a rollback truncates to */
  originalSize: number;
  created: boolean;
  /** the descriptor an in-place edit of the first message went through; closed after the locks are released */
  editHandle?: FileHandle;
}

/** Closes the file's descriptors once its locks are released; never throws. */
async function closeMbox(file: OpenMbox): Promise<void> {
  await file.handle.close().catch(() => undefined);
  await file.editHandle?.close().catch(() => undefined);
}

async function writeAllAt(handle: FileHandle, bytes: Buffer, position: number): Promise<void> {
  for (let offset = 0; offset < bytes.length; ) {
    const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset, position + offset);
    offset += bytesWritten;
  }
}

/**
 * Replaces `bytes.length` bytes at `position` (the write handle appends, so
 * this takes a descriptor of its own, checked to be the same file); on a
 * failure the old bytes are put back as far as possible.
 */
async function editInPlace(file: OpenMbox, path: string, position: number, bytes: Buffer, old: Buffer): Promise<void> {
  const handle = await open(path, constants.O_WRONLY | constants.O_NONBLOCK);
  file.editHandle = handle;
  const [opened, locked] = [await handle.stat(), await file.handle.stat()];
  if (opened.ino !== locked.ino || opened.dev !== locked.dev) throw new MailboxError('temporary', `${path} was replaced while locked`);
  try {
    await writeAllAt(handle, bytes, position);
  } catch (error) {
    await writeAllAt(handle, old, position).catch(() => undefined);
    throw error;
  }
}

/**
 * Creates a missing mbox, empty, with the mailbox's mode; false when someone
 * else just did. A spool directory that refuses the user (Debian's /var/mail,
 * root:mail 2775) gets the file through mail_privileged_group, as Dovecot and
 * Postfix's local(8) create it: owned by the user, mode 0600.
 */
async function createMbox(target: MboxSaveTarget): Promise<boolean> {
  const { path, permissions } = target;
  const privileged = target.locking.withPrivilegedGroup;
  try {
    return await createFile(path, permissions);
  } catch (error) {
    if (!(error instanceof MailboxError && error.kind === 'no-permission') || privileged === undefined) throw error;
  }
  return fsCall('open', path, async () =>
    privileged(() => {
      let fd: number;
      try {
        fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, permissions.fileMode);
      } catch (error) {
        if (errorCode(error) === 'EEXIST') return false;
        throw error;
      }
      try {
        fchmodSync(fd, permissions.fileMode);
      } finally {
        closeSync(fd);
      }
      return true;
    }),
  );
}

/** Opens the mbox read-write for appending, creating it when missing; `created` when this call made it. */
async function openOrCreate(target: MboxSaveTarget): Promise<{ handle: FileHandle; created: boolean }> {
  try {
    return { handle: await open(target.path, OPEN_FLAGS), created: false };
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') throw error;
  }
  const created = await createMbox(target);
  return { handle: await open(target.path, OPEN_FLAGS), created };
}

/** True when `path` still names the file open as `handle` (it was not renamed over or removed while we waited). */
async function stillThere(path: string, handle: FileHandle): Promise<boolean> {
  const opened = await handle.stat();
  try {
    const named = statSync(path);
    return named.ino === opened.ino && named.dev === opened.dev;
  } catch {
    return false;
  }
}

async function openLocked(target: MboxSaveTarget): Promise<OpenMbox> {
  for (let attempt = 0; attempt < MAX_REOPENS; attempt++) {
    target.signal?.throwIfAborted();
    const { handle, created } = await fsCall('open', target.path, () => openOrCreate(target));
    let locks: HeldMboxLocks | undefined;
    try {
      const stats = await fsCall('fstat', target.path, () => handle.stat());
      if (!stats.isFile()) throw new MailboxError('temporary', `${target.path} is not a regular file`);
      locks = await lockMbox(target.path, handle.fd, target.locking);
      if (await fsCall('stat', target.path, () => stillThere(target.path, handle))) {
        const { size } = await fsCall('fstat', target.path, () => handle.stat());
        return { handle, locks, originalSize: size, created };
      }
    } catch (error) {
      locks?.release();
      await handle.close().catch(() => undefined);
      throw error;
    }
    locks.release();
    await handle.close().catch(() => undefined);
  }
  throw new MailboxError('temporary', `${target.path} keeps being replaced while we wait for its lock`);
}

const FROM_SPACE = Buffer.from('From ');

/** An mbox is empty or starts with a From_ line; appending to anything else would hide the mail (Dovecot refuses too). */
async function isMboxFile(handle: FileHandle, size: number): Promise<boolean> {
  if (size === 0) return true;
  const start = Buffer.alloc(FROM_SPACE.length);
  const { bytesRead } = await handle.read(start, 0, start.length, 0);
  return bytesRead === start.length && start.equals(FROM_SPACE);
}

/** "\n" when the file does not end with one (a previous writer died, or another program appends that way). */
async function separatorNeeded(handle: FileHandle, size: number): Promise<Buffer | undefined> {
  if (size === 0) return undefined;
  const last = Buffer.alloc(1);
  await handle.read(last, 0, 1, size - 1);
  return last[0] === 0x0a ? undefined : Buffer.from('\n');
}

type SaveState = 'ready' | 'writing' | 'written' | 'finished';

export class MboxSaveTransaction implements SaveTransaction {
  private state: SaveState = 'ready';
  private file: OpenMbox | undefined;
  private size = 0;
  private vsize = 0;

  constructor(private readonly target: MboxSaveTarget) {}

  async write(message: MessageSource): Promise<void> {
    if (this.state !== 'ready') throw new MailboxError('temporary', 'An mbox save takes exactly one write()');
    this.state = 'writing';
    const { path, signal } = this.target;
    try {
      const file = await openLocked(this.target);
      this.file = file;
      if (!(await fsCall('read', path, () => isMboxFile(file.handle, file.originalSize)))) {
        throw new MailboxError('temporary', `Mailbox isn't a valid mbox file: ${path}`);
      }
      const flagHeaders = await fsCall('write', path, () => this.flagHeaders(file));
      await fsCall('write', path, async () => {
        const separator = await separatorNeeded(file.handle, file.originalSize);
        if (separator !== undefined) await writeAll(file.handle, separator);
        for await (const chunk of encodeMboxRecord(this.target.fromLine, message, flagHeaders)) {
          signal?.throwIfAborted();
          await writeAll(file.handle, chunk);
        }
      });
      this.size = message.size;
      this.vsize = message.vsize;
      this.state = 'written';
    } catch (error) {
      await this.undo();
      throw abortReason(error, signal);
    }
  }

  /**
   * The flag headers for the record; declares new keywords in the first
   * message on the way. Undefined for a message without flags.
   */
  private async flagHeaders(file: OpenMbox): Promise<MboxFlagHeaders | undefined> {
    const { flags, path } = this.target;
    if (!hasAnyFlag(flags)) return undefined;
    const { system, keywords } = flags;
    if (file.originalSize === 0) return { system, keywords, imapBaseUidValidity: Math.floor(Date.now() / 1000) };
    if (keywords.length === 0) return { system, keywords };
    const head = Buffer.alloc(Math.min(file.originalSize, MBOX_HEAD_BYTES));
    const { bytesRead } = await file.handle.read(head, 0, head.length, 0);
    const declaration = declareKeywords(head.subarray(0, bytesRead), keywords);
    if (declaration === undefined) return { system, keywords };
    const { edit } = declaration;
    if (edit !== undefined) {
      await editInPlace(file, path, edit.offset, edit.bytes, head.subarray(edit.offset, edit.offset + edit.bytes.length));
    }
    return { system, keywords: declaration.keywords };
  }

  async commit(): Promise<SavedMail> {
    const file = this.file;
    const { path, signal } = this.target;
    if (this.state !== 'written' || file === undefined) {
      throw new MailboxError('temporary', 'mbox commit() without a complete write()');
    }
    try {
      signal?.throwIfAborted();
      if (this.target.fsync) {
        await fsCall('fsync', path, () => file.handle.sync());
        if (file.created) await fsCall('fsync', dirname(path), () => syncDirectory(dirname(path)));
      }
    } catch (error) {
      await this.undo();
      throw abortReason(error, signal);
    }
    this.state = 'finished';
    this.file = undefined;
    file.locks.release();
    await closeMbox(file); // the data is on disk; a close error changes nothing
    return { mailbox: this.target.mailboxName, path, size: this.size, vsize: this.vsize };
  }

  async rollback(): Promise<void> {
    await this.undo();
  }

  /** Truncates back to the original size, then releases the locks and closes; never throws. */
  private async undo(): Promise<void> {
    this.state = 'finished';
    const file = this.file;
    this.file = undefined;
    if (file === undefined) return;
    await file.handle.truncate(file.originalSize).catch(() => undefined);
    file.locks.release();
    await closeMbox(file);
  }
}

/** An abort becomes a temporary failure that says why; anything else stays as it is. */
function abortReason(error: unknown, signal: AbortSignal | undefined): unknown {
  if (signal?.aborted && !(error instanceof MailboxError)) {
    return new MailboxError('temporary', `Delivery aborted: ${(signal.reason as Error)?.message ?? String(signal.reason)}`);
  }
  return error;
}
