// Adds a mailbox to Dovecot's subscriptions file (list/subscription-file.c):
// a new file starts with the header "V\t2\n\n" and lists one mailbox per line,
// hierarchy levels separated by TAB and tab-escaped; an existing file without
// the header (version 1, also an empty one) stays version 1 with plain storage
// names. The file is rewritten under the dotlock `<file>.lock` (O_EXCL; a
// lock untouched for 30 s is stale and overridden) which is then renamed over
// it, so readers see the old or the new file, never half of one. Unlike
// Dovecot 2.3.19 a last line without a newline is kept, not dropped. Failures
// are MailboxError (a lock timeout is 'temporary').

import { open, readFile, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { constants } from 'node:fs';
import { dirname } from 'node:path';
import { MailboxError } from './errors.js';
import { errorCode, fsCall } from './fs-errors.js';
import { applyGroup, makeDirectories, permissionsOf, type Permissions } from './permissions.js';
import { pause } from '../lock/pause.js';
import type { MailLocation } from './mail-location.js';

const VERSION2_HEADER = 'V\t2\n\n';

export interface SubscriptionTarget {
  /** the subscriptions file, e.g. ~/Maildir/subscriptions */
  file: string;
  /** the storage name to subscribe, e.g. "a.b" or "INBOX" */
  storageName: string;
  /** the storage hierarchy separator, splitting the name into levels */
  storageSeparator: string;
  /** for a new file, and for its directory when missing */
  permissions: Permissions;
  /** fsync the new file before renaming it (mail_fsync != never) */
  fsync: boolean;
}

export interface LockTiming {
  /** give up waiting for the lock after this long (Dovecot: 120 s) */
  timeoutMs: number;
  /** a lock file unchanged this long is stale and removed (Dovecot: 30 s) */
  staleMs: number;
  /** pause between attempts */
  retryMs: number;
}

export const SUBSCRIPTION_LOCK_TIMING: LockTiming = { timeoutMs: 120_000, staleMs: 30_000, retryMs: 100 };

/** Dovecot's str_append_tabescaped: \001 → \0011, TAB → \001t, CR → \001r, LF → \001n. */
export function tabEscape(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x01\t\r\n]/g, (char) => `\x01${{ '\x01': '1', '\t': 't', '\r': 'r', '\n': 'n' }[char]}`);
}

/**
 * Pure: the file's new bytes with the mailbox added, or undefined when it is
 * already listed. `current` is the file's bytes, undefined when it does not
 * exist; names are compared and written byte for byte.
 */
export function withSubscription(current: Buffer | undefined, storageName: string, storageSeparator: string): Buffer | undefined {
  const name = storageName.toUpperCase() === 'INBOX' ? 'INBOX' : storageName;
  const text = current?.toString('latin1');
  const version2 = text === undefined || text.startsWith(VERSION2_HEADER);
  const nameBytes = Buffer.from(name, 'utf8').toString('latin1');
  const entry = version2 && name !== '' ? nameBytes.split(storageSeparator).map(tabEscape).join('\t') : nameBytes;
  const body = text === undefined ? '' : version2 ? text.slice(VERSION2_HEADER.length) : text;
  const lines = body === '' ? [] : body.replace(/\n$/, '').split('\n');
  if (lines.includes(entry)) return undefined;
  const header = version2 ? VERSION2_HEADER : '';
  return Buffer.from(header + [...lines, entry].map((line) => `${line}\n`).join(''), 'latin1');
}

async function removeIfStale(lockPath: string, staleMs: number): Promise<boolean> {
  try {
    const lock = await stat(lockPath);
    if (Date.now() - lock.mtimeMs < staleMs) return false;
    await unlink(lockPath);
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') throw error;
  }
  return true;
}

async function acquireLock(lockPath: string, permissions: Permissions, timing: LockTiming): Promise<FileHandle> {
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  const deadline = Date.now() + timing.timeoutMs;
  let createdDirectory = false;
  for (;;) {
    try {
      return await open(lockPath, flags, permissions.fileMode);
    } catch (error) {
      const code = errorCode(error);
      if (code === 'ENOENT' && !createdDirectory) {
        await makeDirectories(dirname(lockPath), permissions);
        createdDirectory = true;
        continue;
      }
      if (code !== 'EEXIST') throw error;
    }
    if (await removeIfStale(lockPath, timing.staleMs)) continue;
    if (Date.now() >= deadline) throw new MailboxError('temporary', `Timeout waiting for subscription file lock ${lockPath}`);
    await pause(timing.retryMs);
  }
}

async function readIfExists(file: string): Promise<Buffer | undefined> {
  try {
    return await readFile(file);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw error;
  }
}

async function writeLockedFile(lock: FileHandle, content: Buffer, target: SubscriptionTarget): Promise<void> {
  await lock.chmod(target.permissions.fileMode);
  await applyGroup((gid) => lock.chown(-1, gid), target.permissions);
  await lock.writeFile(content);
  if (target.fsync) await lock.sync();
}

/** Subscribes to the mailbox; returns false when it already was. */
export async function subscribe(target: SubscriptionTarget, timing: LockTiming = SUBSCRIPTION_LOCK_TIMING): Promise<boolean> {
  const lockPath = `${target.file}.lock`;
  const lock = await fsCall('open', lockPath, () => acquireLock(lockPath, target.permissions, timing));
  let renamed = false;
  try {
    const current = await fsCall('read', target.file, () => readIfExists(target.file));
    const content = withSubscription(current, target.storageName, target.storageSeparator);
    if (content === undefined) return false;
    await fsCall('write', lockPath, () => writeLockedFile(lock, content, target));
    await fsCall('close', lockPath, () => lock.close());
    await fsCall('rename', lockPath, () => rename(lockPath, target.file));
    renamed = true;
    return true;
  } finally {
    await lock.close().catch(() => undefined);
    if (!renamed) await unlink(lockPath).catch(() => undefined);
  }
}

/**
 * Subscribes a mailbox of a mail_location: the file is under CONTROL= (else
 * the root), named SUBSCRIPTIONS= (else the format's `defaultName`), new
 * files taking the root's permissions.
 */
export async function subscribeInLocation(
  location: Pick<MailLocation, 'root' | 'control' | 'subscriptionsFile'>,
  defaultName: string,
  mailbox: { storageName: string; namespace: { storageSeparator: string } },
  options: { gid: number; fsync: boolean },
): Promise<boolean> {
  return subscribe({
    file: `${location.control ?? location.root}/${location.subscriptionsFile ?? defaultName}`,
    storageName: mailbox.storageName,
    storageSeparator: mailbox.namespace.storageSeparator,
    permissions: await permissionsOf([location.root], options.gid),
    fsync: options.fsync,
  });
}
