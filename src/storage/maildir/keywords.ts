// Maildir keywords as Dovecot keeps them (maildir-keywords.c): a message's
// keywords are the letters a..z in its file name's info (`:2,Sab`), and the
// mailbox's control directory holds `dovecot-keywords`, one "<index> <name>\n"
// line per letter (0 = a). Names are matched case-insensitively; a new one
// takes the first free index; past 26 there is no letter and the keyword is
// left out. The file is read the way Dovecot reads it: lines without a space,
// with an index that is not a number below 26 or with an empty name are
// skipped, a CR before the LF is dropped, an unterminated last line ignored;
// a rewrite writes back only what was understood.
//
// A new keyword is added under Dovecot's own lock for this file, the
// dotlock `dovecot-uidlist.lock` beside it, so Dovecot and other deliveries
// never hand out one letter twice: the file is re-read, the new lines written
// to `dovecot-keywords.lock` (mode and group of the mailbox's files) and that
// renamed over the file, whose mtime must grow (Dovecot notices changes by
// the mtime's seconds). Known keywords need no lock. Failures are
// MailboxError ('temporary' for a lock timeout).

import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { constants } from 'node:fs';
import { acquireDotlock } from '../../lock/dotlock.js';
import { MailboxError } from '../errors.js';
import { asciiLowerCase } from '../../message/ascii.js';
import { errorCode, fsCall } from '../fs-errors.js';
import { writeAll } from '../file-io.js';
import { applyGroup, makeDirectories, type Permissions } from '../permissions.js';

export const KEYWORDS_FILE = 'dovecot-keywords';
/** Dovecot's lock for the uidlist, which also guards dovecot-keywords. */
const UIDLIST_FILE = 'dovecot-uidlist';
/** Letters a..z. */
export const MAX_MAILDIR_KEYWORDS = 26;
/** Dovecot's MAILDIR_UIDLIST_LOCK_STALE_TIMEOUT, and its wait: two seconds more. */
const UIDLIST_LOCK_STALE_MS = 120_000;
const UIDLIST_LOCK_TIMEOUT_MS = 122_000;

const LOCK_FILE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** The names by index (undefined = a free index); at most MAX_MAILDIR_KEYWORDS entries. */
export type KeywordSlots = (string | undefined)[];

/** Pure: the slots a dovecot-keywords file names. */
export function parseDovecotKeywords(content: Buffer): KeywordSlots {
  const slots: KeywordSlots = [];
  const lines = content.toString('latin1').split('\n');
  lines.pop(); // the part after the last newline: empty, or a line still being written
  for (const rawLine of lines) {
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    const space = line.indexOf(' ');
    if (space < 0) continue;
    const digits = line.slice(0, space);
    const name = line.slice(space + 1);
    if (!/^\d+$/.test(digits) || name === '') continue;
    const index = Number(digits);
    if (index >= MAX_MAILDIR_KEYWORDS) continue;
    slots[index] = name;
  }
  return slots;
}

/** Pure: the file's bytes for these slots. */
export function formatDovecotKeywords(slots: KeywordSlots): Buffer {
  return Buffer.from(
    slots.map((name, index) => (name === undefined ? '' : `${index} ${name}\n`)).join(''),
    'latin1',
  );
}

export interface KeywordAssignment {
  /** the index of each keyword that has one, in the order given */
  indexes: number[];
  /** the slots with the new keywords added; undefined when nothing was added */
  added?: KeywordSlots;
}

/**
 * Pure: the index of each keyword in `slots` (case-insensitive; when two lines
 * spell one name, the first counts), new ones in the first free index, those
 * that find none left out.
 */
export function assignKeywords(slots: KeywordSlots, keywords: readonly string[]): KeywordAssignment {
  const byKey = new Map<string, number>();
  slots.forEach((name, index) => {
    if (name !== undefined && !byKey.has(asciiLowerCase(name))) byKey.set(asciiLowerCase(name), index);
  });
  const next = [...slots];
  let changed = false;
  const indexes: number[] = [];
  for (const keyword of keywords) {
    let index = byKey.get(asciiLowerCase(keyword));
    if (index === undefined) {
      const free = Array.from({ length: MAX_MAILDIR_KEYWORDS }, (_, at) => at).find((at) => next[at] === undefined);
      if (free === undefined) continue;
      next[free] = keyword;
      byKey.set(asciiLowerCase(keyword), free);
      changed = true;
      index = free;
    }
    indexes.push(index);
  }
  return changed ? { indexes, added: next } : { indexes };
}

/** Pure: the letters for these indexes, in ASCII order without repeats ([3, 0] → "ad"). */
export function keywordLetters(indexes: readonly number[]): string {
  return [...new Set(indexes)]
    .sort((a, b) => a - b)
    .map((index) => String.fromCharCode(0x61 + index))
    .join('');
}

interface KeywordsFile {
  slots: KeywordSlots;
  /** the file's mtime in whole seconds; undefined when there is no file */
  mtimeSeconds?: number;
}

async function readKeywordsFile(path: string): Promise<KeywordsFile> {
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return { slots: [] };
    throw error;
  }
  try {
    const stats = await handle.stat();
    return { slots: parseDovecotKeywords(await handle.readFile()), mtimeSeconds: Math.floor(stats.mtimeMs / 1000) };
  } finally {
    await handle.close();
  }
}

export interface KeywordsTarget {
  /** the mailbox's control directory: where dovecot-keywords and dovecot-uidlist live */
  directory: string;
  /** mode and group of the mailbox's files (and of the directory, when it must be made) */
  permissions: Permissions;
  fsync: boolean;
  /** for the dotlock's "pid:host" */
  hostname: string;
  signal?: AbortSignal;
}

/** Writes the slots to dovecot-keywords.lock and renames it over dovecot-keywords; the uidlist lock is held. */
async function writeKeywordsFile(path: string, slots: KeywordSlots, previous: KeywordsFile, target: KeywordsTarget): Promise<void> {
  const lockPath = `${path}.lock`;
  await unlink(lockPath).catch(() => undefined); // a leftover: only the uidlist lock's holder writes it
  const handle = await open(lockPath, LOCK_FILE_FLAGS, target.permissions.fileMode);
  let renamed = false;
  try {
    await handle.chmod(target.permissions.fileMode);
    await applyGroup((gid) => handle.chown(-1, gid), target.permissions);
    await writeAll(handle, formatDovecotKeywords(slots));
    const written = await handle.stat();
    if (previous.mtimeSeconds !== undefined && Math.floor(written.mtimeMs / 1000) <= previous.mtimeSeconds) {
      await handle.utimes(new Date(), new Date((previous.mtimeSeconds + 1) * 1000));
    }
    if (target.fsync) await handle.sync();
    await handle.close();
    await rename(lockPath, path);
    renamed = true;
  } finally {
    await handle.close().catch(() => undefined);
    if (!renamed) await unlink(lockPath).catch(() => undefined);
  }
}

/** Adds the missing keywords under the uidlist lock; returns the indexes of all that have one. */
async function addKeywords(path: string, keywords: readonly string[], target: KeywordsTarget): Promise<number[]> {
  await makeDirectories(target.directory, target.permissions);
  const uidlist = `${target.directory}/${UIDLIST_FILE}`;
  const lock = await fsCall('file_dotlock_create', `${uidlist}.lock`, () =>
    acquireDotlock(uidlist, {
      useExcl: true,
      staleTimeoutMs: UIDLIST_LOCK_STALE_MS,
      deadline: Date.now() + UIDLIST_LOCK_TIMEOUT_MS,
      hostname: target.hostname,
      signal: target.signal,
    }),
  );
  if (lock === undefined) throw new MailboxError('temporary', `Timeout while waiting for lock ${uidlist}.lock`);
  try {
    const current = await fsCall('open', path, () => readKeywordsFile(path));
    const assignment = assignKeywords(current.slots, keywords);
    const added = assignment.added;
    if (added !== undefined) await fsCall('write', `${path}.lock`, () => writeKeywordsFile(path, added, current, target));
    return assignment.indexes;
  } finally {
    lock.release();
  }
}

/**
 * The file-name letters for the keywords in the mailbox whose control
 * directory `target` names, adding the ones dovecot-keywords lacks.
 */
export async function maildirKeywordLetters(keywords: readonly string[], target: KeywordsTarget): Promise<string> {
  if (keywords.length === 0) return '';
  const path = `${target.directory}/${KEYWORDS_FILE}`;
  const known = assignKeywords((await fsCall('open', path, () => readKeywordsFile(path))).slots, keywords);
  const indexes = known.added === undefined ? known.indexes : await addKeywords(path, keywords, target);
  return keywordLetters(indexes);
}
