// The Maildir++ `maildirsize` file in the Maildir root, read and written as
// Dovecot 2.3's quota-maildir.c does: line 1 the limits (`<bytes>S,<count>C`,
// `0S` when there are none), then `<bytes> <count>` lines whose sum is the
// usage. A delivery appends one line with a single O_APPEND write; a
// recalculation scans new/ and cur/ of the root and of every folder that
// counts (sizes from `,S=` in the names, else stat; tmp/ never counts) and
// replaces the file (temp file + rename) with the limits and the totals.
// The file is recalculated when it is missing, 5120 bytes or larger, broken
// (NUL bytes, a bad line, negative totals), its limits differ from the
// configured ones, or it is over quota and has more than one delta line or
// was last written more than 15 minutes ago.
// Fails with a temporary DeliveryFailure when the file or a mail directory
// cannot be read or the file cannot be written: never a silent "no quota".
//
// Dovetail's own writers are exact under an exclusive flock on the Maildir
// root directory (lockMaildirRoot): a recalculation holds it from before its
// scan until after its rename, and a delivery (enforce.ts) from before its
// commit until its line is appended, so no line can be appended to a file a
// rename is about to replace for a message the scan did not see. The lock
// only orders Dovetail's processes: Dovecot and Courier do not take it (nor
// any other lock on maildirsize), so their writes may still race ours, as
// they race each other. A lock that cannot be had within LOCK_WAIT_MS (or at
// all: no addon, an error) is logged and done without, as Dovecot always
// does: the totals may then drift by a message until the next recalculation.

import { open, readdir, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { constants } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { temporary, type DeliveryFailure } from '../deliver/failure.js';
import { acquireKernelLock, releaseKernelLock } from '../lock/kernel-lock.js';
import { errorCode, mailboxErrorFromFs } from '../storage/fs-errors.js';
import { writeAll } from '../storage/file-io.js';
import { applyGroup, makeDirectories, type Permissions } from '../storage/permissions.js';
import type { QuotaLimits, QuotaUsage } from './types.js';

export interface MaildirsizeOptions {
  /**
   * folders that do not count (quota rules with `ignore`), by storage name:
   * `INBOX` for the root; Maildir++: the directory name as on disk, leading dot
   * included (`.Spam`, `.A.B`); fs layout: the path below the root (`A/B`)
   */
  isIgnored(folderName: string): boolean;
  /** mode/group new files get (src/storage/permissions.ts Permissions of the Maildir root) */
  permissions: Permissions;
  /** for the temp file of a rewrite */
  hostname: string;
  /** the layout of the Maildir's folders: 'maildir++' (default: .Folder) or 'fs' */
  layout: 'maildir++' | 'fs';
  /**
   * takes the Maildir root's lock around a recalculation and returns its
   * release; default: lockMaildirRoot, logging to stderr (the guard passes
   * its own, which knows when its delivery already holds the lock)
   */
  lockRoot?(): Promise<ReleaseLock>;
}

/** Releases a lock; never throws. */
export type ReleaseLock = () => Promise<void>;

export interface MaildirsizeState {
  limits: QuotaLimits;
  usage: QuotaUsage;
}

export const MAILDIRSIZE_NAME = 'maildirsize';
/** a file this big (or bigger) is recalculated */
const MAX_SIZE = 5120;
/** an over-quota file older than this is not trusted */
const STALE_SECONDS = 15 * 60;
/** how long a writer waits for the Maildir root's lock before going on without it */
export const LOCK_WAIT_MS = 5_000;
/** limits and %lld values stop at the signed 64-bit maximum */
const LIMIT_MAX = (1n << 63n) - 1n;

/** What the file says. `limits` is undefined when line 1 cannot be used (NUL bytes, empty file); `usage` when the deltas are broken. */
export interface ParsedMaildirsize {
  /** 0 = no limit */
  limits?: { bytes: number; count: number };
  usage?: QuotaUsage;
  /** lines after the limits line */
  deltaLines: number;
  /** the file reached MAX_SIZE: only its head was read */
  tooBig: boolean;
}

/** Pure: line 1, `1000S,10C`; bad parts are skipped, 0 and missing parts mean no limit. */
export function parseLimitsLine(line: string): { bytes: number; count: number } {
  const limits = { bytes: 0, count: 0 };
  for (const part of line.split(',')) {
    const match = /^(\d+)([SC])$/.exec(part);
    if (match === null) continue;
    const value = BigInt(match[1]);
    if (value >= 1n << 64n) continue;
    const clamped = Number(value > LIMIT_MAX ? LIMIT_MAX : value);
    if (clamped === 0) continue;
    if (match[2] === 'S') limits.bytes = clamped;
    else limits.count = clamped;
  }
  return limits;
}

const C_SPACE = '[ \\t\\n\\v\\f\\r]*';
/** sscanf("%lld %d"): leading blanks, a signed number taken whole, blanks (or none), a signed number; the rest ignored */
const DELTA_LINE = new RegExp(`^${C_SPACE}([+-]?\\d+)(?!\\d)${C_SPACE}([+-]?\\d+)`);

/** Pure: one `<bytes> <count>` line as sscanf("%lld %d") reads it; undefined when it does not. */
export function parseDeltaLine(line: string): QuotaUsage | undefined {
  const match = DELTA_LINE.exec(line);
  if (match === null) return undefined;
  return { bytes: Number(clampToLong(BigInt(match[1]))), messages: Number(BigInt.asIntN(32, clampToLong(BigInt(match[2])))) };
}

/** strtoll/strtol saturate at the 64-bit range */
function clampToLong(value: bigint): bigint {
  return value > LIMIT_MAX ? LIMIT_MAX : value < -LIMIT_MAX - 1n ? -LIMIT_MAX - 1n : value;
}

/** Pure: the head of the file (at most MAX_SIZE + 1 bytes) → what it says. */
export function parseMaildirsize(head: Buffer): ParsedMaildirsize {
  const tooBig = head.length >= MAX_SIZE;
  // a last line without LF is being written by someone: skip it
  const end = head.lastIndexOf(0x0a);
  const text = end <= 0 ? '' : head.subarray(0, end).toString('latin1');
  if (text.includes('\0') || text === '') return { deltaLines: 0, tooBig };
  const [limitsLine, ...deltaLines] = text.split('\n');
  const parsed: ParsedMaildirsize = { limits: parseLimitsLine(limitsLine), deltaLines: deltaLines.length, tooBig };
  const usage: QuotaUsage = { bytes: 0, messages: 0 };
  for (const line of deltaLines) {
    const delta = parseDeltaLine(line);
    if (delta === undefined) return parsed;
    usage.bytes += delta.bytes;
    usage.messages += delta.messages;
  }
  if (usage.bytes >= 0 && usage.messages >= 0) parsed.usage = usage;
  return parsed;
}

/** `*` rule configured (even `*:storage=0`): its limits win over the file's. */
const isForced = (configured: QuotaLimits) => configured.storageBytes !== undefined || configured.messages !== undefined;

const hasLimits = (limits: QuotaLimits) => (limits.storageBytes ?? 0) > 0 || (limits.messages ?? 0) > 0;

function limitsFromFile(limits: { bytes: number; count: number } | undefined): QuotaLimits {
  const result: QuotaLimits = {};
  if (limits !== undefined && limits.bytes !== 0) result.storageBytes = limits.bytes;
  if (limits !== undefined && limits.count !== 0) result.messages = limits.count;
  return result;
}

const sameLimits = (a: QuotaLimits, b: QuotaLimits) => (a.storageBytes ?? 0) === (b.storageBytes ?? 0) && (a.messages ?? 0) === (b.messages ?? 0);

/** Pure: the usage the file can be trusted for, or undefined when it must be recalculated. */
export function trustedUsage(parsed: ParsedMaildirsize, limits: QuotaLimits, forced: boolean, mtimeSeconds: number, nowSeconds: number): QuotaUsage | undefined {
  const { usage } = parsed;
  if (parsed.tooBig || parsed.limits === undefined || usage === undefined) return undefined;
  if (forced && !sameLimits(limitsFromFile(parsed.limits), limits)) return undefined;
  const storageLimit = limits.storageBytes ?? 0;
  const messageLimit = limits.messages ?? 0;
  const overQuota = (storageLimit !== 0 && usage.bytes > storageLimit) || (messageLimit !== 0 && usage.messages > messageLimit);
  if (overQuota && (parsed.deltaLines > 1 || mtimeSeconds < nowSeconds - STALE_SECONDS)) return undefined;
  return usage;
}

/** Pure: the file Dovecot writes: limits line (`0S` when none) and the totals. */
export function formatMaildirsize(limits: QuotaLimits, usage: QuotaUsage): string {
  const bytes = limits.storageBytes ?? 0;
  const count = limits.messages ?? 0;
  const parts: string[] = [];
  if (bytes !== 0 || count === 0) parts.push(`${bytes}S`);
  if (count !== 0) parts.push(`${count}C`);
  return `${parts.join(',')}\n${usage.bytes} ${usage.messages}\n`;
}

function failure(error: unknown, operation: string, path: string): DeliveryFailure {
  return temporary(`quota: ${mailboxErrorFromFs(error, operation, path).message}`);
}

/** The file's head and mtime; undefined when it does not exist. */
async function readHead(path: string): Promise<{ head: Buffer; mtimeSeconds: number } | undefined> {
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw failure(error, 'open', path);
  }
  try {
    const buffer = Buffer.alloc(MAX_SIZE + 1);
    let size = 0;
    while (size < MAX_SIZE) {
      const { bytesRead } = await handle.read(buffer, size, buffer.length - size, null);
      if (bytesRead === 0) break;
      size += bytesRead;
    }
    const { mtimeMs } = await handle.stat();
    return { head: buffer.subarray(0, size), mtimeSeconds: Math.floor(mtimeMs / 1000) };
  } catch (error) {
    throw failure(error, 'read', path);
  } finally {
    await handle.close();
  }
}

export async function readMaildirsize(root: string, configured: QuotaLimits, options: MaildirsizeOptions): Promise<MaildirsizeState> {
  const file = await readHead(join(root, MAILDIRSIZE_NAME));
  const parsed = file === undefined ? undefined : parseMaildirsize(file.head);
  const forced = isForced(configured);
  const limits = forced ? configured : limitsFromFile(parsed?.limits);
  if (parsed !== undefined) {
    const usage = trustedUsage(parsed, limits, forced, file!.mtimeSeconds, Math.floor(Date.now() / 1000));
    if (usage !== undefined) return { limits, usage };
  }
  // no limits anywhere: no quota, and (as Dovecot's check) nothing is scanned or written
  if (!forced && !hasLimits(limits)) return { limits, usage: { bytes: 0, messages: 0 } };
  return rewrite(root, limits, forced, options);
}

export async function recalculateMaildirsize(root: string, configured: QuotaLimits, options: MaildirsizeOptions): Promise<MaildirsizeState> {
  const forced = isForced(configured);
  let limits = configured;
  if (!forced) {
    const file = await readHead(join(root, MAILDIRSIZE_NAME));
    limits = limitsFromFile(file === undefined ? undefined : parseMaildirsize(file.head).limits);
  }
  return rewrite(root, limits, forced, options);
}

/**
 * Appends `<bytes> <count>\n` with one O_APPEND write (nothing for a zero
 * delta). Returns false, writing nothing, when the file is missing or has
 * reached 5120 bytes: the caller then recalculates, as Dovecot's update does
 * (the scan already counts the new mail).
 */
export async function appendMaildirsize(root: string, delta: QuotaUsage, _options: MaildirsizeOptions): Promise<boolean> {
  if (delta.bytes === 0 && delta.messages === 0) return true;
  const path = join(root, MAILDIRSIZE_NAME);
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_WRONLY | constants.O_APPEND);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return false;
    throw failure(error, 'open', path);
  }
  try {
    if ((await handle.stat()).size >= MAX_SIZE) return false;
    await writeAll(handle, Buffer.from(`${delta.bytes} ${delta.messages}\n`, 'latin1'));
    return true;
  } catch (error) {
    throw failure(error, 'write', path);
  } finally {
    await handle.close();
  }
}

/**
 * An exclusive flock on the Maildir root directory, waited for until
 * `waitMs` has passed; resolves to its release. Never rejects: when the lock
 * cannot be had (taken by others all that time, no root yet, no addon, an
 * error) it says why through `logError` (not for a missing root: nobody has
 * written there yet) and resolves to a release that does nothing.
 */
export async function lockMaildirRoot(root: string, waitMs: number, logError: (text: string) => void): Promise<ReleaseLock> {
  const unlocked: ReleaseLock = async () => undefined;
  let handle: FileHandle;
  try {
    handle = await open(root, constants.O_RDONLY | constants.O_DIRECTORY);
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') logError(`quota: Can't lock ${root}, going on without the lock: ${(error as Error).message}`);
    return unlocked;
  }
  let locked = false;
  try {
    locked = await acquireKernelLock(handle.fd, 'flock', Date.now() + waitMs);
    if (!locked) logError(`quota: Timed out after ${waitMs / 1000} seconds waiting for the lock on ${root}, going on without it`);
  } catch (error) {
    logError(`quota: Can't lock ${root}, going on without the lock: ${(error as Error).message}`);
  }
  if (!locked) {
    await handle.close().catch(() => undefined);
    return unlocked;
  }
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    try {
      releaseKernelLock(handle.fd, 'flock');
    } catch {
      // closing the directory drops the lock anyway
    }
    await handle.close().catch(() => undefined);
  };
}

const lockForRecalculation = (root: string, options: MaildirsizeOptions) =>
  options.lockRoot?.() ?? lockMaildirRoot(root, LOCK_WAIT_MS, (text) => process.stderr.write(`${text}\n`));

/**
 * Under the root's lock: scans, then writes the file unless a mail directory
 * changed during the scan (then a forced file is removed, to be rebuilt later).
 */
async function rewrite(root: string, limits: QuotaLimits, forced: boolean, options: MaildirsizeOptions): Promise<MaildirsizeState> {
  const release = await lockForRecalculation(root, options);
  try {
    const { usage, latestMtime } = await scan(root, options);
    const path = join(root, MAILDIRSIZE_NAME);
    if (await changedSince(root, options, latestMtime)) {
      if (forced) await unlinkIfExists(path);
    } else {
      await replaceFile(path, root, formatMaildirsize(limits, usage), options);
    }
    return { limits, usage };
  } finally {
    await release();
  }
}

/** The new/ and cur/ directories that count, with their mtimes (seconds). Missing ones (or ones that are not directories) are skipped. */
async function countedDirectories(root: string, options: MaildirsizeOptions): Promise<{ path: string; mtimeSeconds: number }[]> {
  const mailboxes = [...(options.isIgnored('INBOX') ? [] : [root])];
  const folders = options.layout === 'fs' ? await fsFolders(root, '') : await maildirPlusPlusFolders(root);
  for (const folder of folders) if (!options.isIgnored(folder)) mailboxes.push(join(root, folder));
  const directories: { path: string; mtimeSeconds: number }[] = [];
  for (const mailbox of mailboxes) {
    for (const sub of ['new', 'cur']) {
      const path = join(mailbox, sub);
      try {
        directories.push({ path, mtimeSeconds: Math.floor((await stat(path)).mtimeMs / 1000) });
      } catch (error) {
        // a folder whose new/ or cur/ is gone (or is no directory) is left out; any other
        // error fails, where Dovecot logs it and leaves the folder out
        if (!['ENOENT', 'ENOTDIR', 'ESTALE'].includes(errorCode(error) ?? '')) throw failure(error, 'stat', path);
      }
    }
  }
  return directories;
}

async function listDirectory(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch (error) {
    if (errorCode(error) === 'ENOENT' || errorCode(error) === 'ESTALE') return [];
    throw failure(error, 'opendir', path);
  }
}

/** Maildir++: every `.Name` entry of the root; non-directories drop out when their new/ and cur/ are looked up. */
async function maildirPlusPlusFolders(root: string): Promise<string[]> {
  return (await listDirectory(root)).filter((name) => name.startsWith('.') && name !== '.' && name !== '..');
}

const MAILDIR_SUBDIRECTORIES = new Set(['new', 'cur', 'tmp']);

/** fs layout: every directory below the root but a Maildir's own new/cur/tmp and dot-names, as relative paths. */
async function fsFolders(root: string, below: string): Promise<string[]> {
  const folders: string[] = [];
  let entries;
  try {
    entries = await readdir(join(root, below), { withFileTypes: true });
  } catch (error) {
    if (['ENOENT', 'ENOTDIR', 'ESTALE'].includes(errorCode(error) ?? '')) return [];
    throw failure(error, 'opendir', join(root, below));
  }
  for (const entry of entries) {
    if (entry.name.startsWith('.') || MAILDIR_SUBDIRECTORIES.has(entry.name)) continue;
    if (!entry.isDirectory() && !entry.isSymbolicLink()) continue;
    const folder = below === '' ? entry.name : `${below}/${entry.name}`;
    folders.push(folder, ...(await fsFolders(root, folder)));
  }
  return folders;
}

/** Pure: the size in `,S=<digits>` followed by `:`, `,` or the end; undefined otherwise (then stat decides). */
export function sizeFromName(name: string): number | undefined {
  const at = name.indexOf(',S=');
  if (at < 0) return undefined;
  const match = /^(\d*)(?=[:,]|$)/.exec(name.slice(at + 3));
  return match === null ? undefined : Number(match[1] || '0');
}

async function scan(root: string, options: MaildirsizeOptions): Promise<{ usage: QuotaUsage; latestMtime: number }> {
  const usage: QuotaUsage = { bytes: 0, messages: 0 };
  let latestMtime = 0;
  for (const directory of await countedDirectories(root, options)) {
    latestMtime = Math.max(latestMtime, directory.mtimeSeconds);
    for (const name of await listDirectory(directory.path)) {
      // ".", ".." and any "..name"
      if (name.startsWith('..')) continue;
      let size = sizeFromName(name);
      if (size === undefined) {
        const path = join(directory.path, name);
        try {
          size = (await stat(path)).size;
        } catch (error) {
          if (errorCode(error) === 'ENOENT' || errorCode(error) === 'ESTALE') continue;
          throw failure(error, 'stat', path);
        }
      }
      usage.bytes += size;
      usage.messages += 1;
    }
  }
  return { usage, latestMtime };
}

/** A counted directory changed after the newest one the scan saw: the totals may be off. */
async function changedSince(root: string, options: MaildirsizeOptions, latestMtime: number): Promise<boolean> {
  return (await countedDirectories(root, options)).some((directory) => directory.mtimeSeconds > latestMtime);
}

async function unlinkIfExists(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') throw failure(error, 'unlink', path);
  }
}

/** Dovecot's safe_mkstemp_hostpid name: `maildirsize<host>.<pid>.<random hex>`, created O_EXCL with the exact mode. */
async function createTemp(path: string, root: string, options: MaildirsizeOptions): Promise<{ handle: FileHandle; tempPath: string }> {
  for (let attempt = 0; ; attempt++) {
    const tempPath = `${path}${options.hostname}.${process.pid}.${randomBytes(8).toString('hex')}`;
    try {
      const handle = await open(tempPath, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, options.permissions.fileMode);
      return { handle, tempPath };
    } catch (error) {
      const code = errorCode(error);
      if (code === 'ENOENT' && attempt === 0) await makeDirectories(root, options.permissions);
      else if (code !== 'EEXIST' || attempt > 10) throw failure(error, 'open', tempPath);
    }
  }
}

async function replaceFile(path: string, root: string, content: string, options: MaildirsizeOptions): Promise<void> {
  const { handle, tempPath } = await createTemp(path, root, options);
  let operation = 'write';
  try {
    try {
      await handle.chmod(options.permissions.fileMode);
      await applyGroup((gid) => handle.chown(-1, gid), options.permissions);
      await writeAll(handle, Buffer.from(content, 'latin1'));
    } finally {
      await handle.close();
    }
    operation = 'rename';
    await rename(tempPath, path);
  } catch (error) {
    await unlink(tempPath).catch(() => undefined);
    throw failure(error, operation, tempPath);
  }
}
