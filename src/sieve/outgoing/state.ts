// The per-user Sieve state file (`~/.dovetail.sieve-state`): the ids that
// vacation (sender + handle), duplicate (RFC 7352) and redirect loop
// suppression have seen, each until an expiry time. Pigeonhole keeps the same
// in Dovecot's binary `~/.dovecot.lda-dupes`; ours is text, one entry a line:
//
//   <expiry, Unix seconds> <sha256 hex of the key>
//
// An entry counts while its expiry is not in the past (as Dovecot's duplicate
// db: expiry >= now). Keys are hashed, so the file names no correspondents.
//
// Concurrency: deliveries to the same user append without a lock, each
// flush() being one write() on an O_APPEND descriptor, which the kernel puts
// whole at the end of the file. Only compact() rewrites the file (expired and
// repeated entries dropped, through `<path>.tmp` and rename()), under the
// dotlock `<path>.lock`, and only when the file has grown large and is mostly
// dead. An append that races a compaction is not lost: the compactor copies
// whatever was appended to the old file before its rename() onto the new one,
// and an appender that finds its file renamed away appends again.
//
// Failure: a missing, unreadable or garbled file (or garbled lines) reads as
// no entries, and has() never throws — at worst a reply goes out twice.
// flush() throws the fs error (the host logs it; the delivery goes on);
// compact() never rejects.

import { closeSync, constants, fstatSync, fsyncSync, lstatSync, openSync, readSync, renameSync, unlinkSync, writeSync, type Stats } from 'node:fs';
import { hostname } from 'node:os';
import { acquireDotlock } from '../../lock/dotlock.js';

export interface SieveState {
  /** true while `key` has an entry that expires at or after `nowSeconds` (Unix seconds); never throws */
  has(key: string, nowSeconds: number): boolean;
  /** records `key` until `expiresAtSeconds` (Unix seconds); kept in memory until flush() */
  add(key: string, expiresAtSeconds: number): void;
  /** appends the entries added since the last flush in one write; throws the fs error */
  flush(): void;
  /**
   * Rewrites the file without expired and repeated entries when it is large and mostly dead; skipped while
   * another process holds the lock. Call after flush(), when nothing waits on the delivery any more. Never rejects.
   */
  compact(nowSeconds: number): Promise<void>;
}

/** A file smaller than this is never rewritten: reading it costs less than rewriting it. */
const COMPACT_MIN_BYTES = 64 * 1024;
/** A file larger than this is not read (garbage, or an attack): it counts as empty, and compact() replaces it. */
const MAX_READ_BYTES = 16 * 1024 * 1024;
const ENTRY_LINE = /^(\d{1,15}) ([0-9a-f]{64})$/;
const FILE_MODE = 0o600;
const READ_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
const APPEND_FLAGS = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW;
const TEMP_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW;
/** An appender re-appends this often at most when compactions keep renaming the file away under it. */
const MAX_APPEND_ATTEMPTS = 3;
/** A compaction lock unchanged this long is stale (a dead holder on this host is overridden at once). */
const LOCK_STALE_MS = 60_000;

interface Entries {
  /** sha256 hex → latest expiry */
  expiries: Map<string, number>;
  /** how many entry lines the file had (repeats and expired ones included) */
  lines: number;
}

function keyHash(key: string): string {
  return process.getBuiltinModule('node:crypto').createHash('sha256').update(key, 'utf8').digest('hex');
}

/** The entries in `text`; lines that are not entries are skipped. */
function parseEntries(text: string, into: Entries): void {
  for (const line of text.split('\n')) {
    const match = ENTRY_LINE.exec(line);
    if (match === null) continue;
    into.lines++;
    const expiry = Number(match[1]);
    const previous = into.expiries.get(match[2]);
    if (previous === undefined || expiry > previous) into.expiries.set(match[2], expiry);
  }
}

function entryLines(entries: Iterable<[string, number]>): string {
  let text = '';
  for (const [hash, expiry] of entries) text += `${expiry} ${hash}\n`;
  return text;
}

/** Reads from `position` to the end of `fd` (at most `limit` bytes). */
function readFrom(fd: number, position: number, limit: number): Buffer {
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const chunk = Buffer.alloc(Math.min(64 * 1024, limit - total + 1));
    const length = readSync(fd, chunk, 0, chunk.length, position + total);
    if (length === 0) break;
    chunks.push(chunk.subarray(0, length));
    total += length;
    if (total > limit) break;
  }
  return Buffer.concat(chunks, total);
}

/** What a reader found: the entries, the size read, and whether the file ends a line (or is empty). */
interface FileContent {
  entries: Entries;
  size: number;
  terminated: boolean;
}

/** The last byte of `fd` is a newline, or there is none. */
function endsWithNewline(fd: number, size: number): boolean {
  if (size === 0) return true;
  const last = Buffer.alloc(1);
  return readSync(fd, last, 0, 1, size - 1) === 1 && last[0] === 0x0a;
}

/** The file's entries; a missing, unreadable or oversized file has none. */
function readEntries(path: string): FileContent {
  const empty = (): FileContent => ({ entries: { expiries: new Map(), lines: 0 }, size: 0, terminated: true });
  let fd: number;
  try {
    fd = openSync(path, READ_FLAGS);
  } catch {
    return empty();
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) return empty();
    const result = empty();
    const content = readFrom(fd, 0, MAX_READ_BYTES);
    if (content.length <= MAX_READ_BYTES) parseEntries(content.toString('latin1'), result.entries);
    result.size = content.length;
    result.terminated = endsWithNewline(fd, Math.max(stat.size, content.length));
    return result;
  } catch {
    return empty();
  } finally {
    closeSync(fd);
  }
}

function sameFile(a: Stats, b: Stats): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

/**
 * Appends `text` in one write. When the file was renamed away meanwhile (a compaction replaced it), the lines may
 * have gone into the replaced file after the compactor copied its tail, so they are appended again to the new one.
 */
function appendLines(path: string, text: string): void {
  const data = Buffer.from(text, 'latin1');
  for (let attempt = 1; ; attempt++) {
    const fd = openSync(path, APPEND_FLAGS, FILE_MODE);
    let written: Stats;
    try {
      writeSync(fd, data);
      written = fstatSync(fd);
    } finally {
      closeSync(fd);
    }
    const current = lstatOrUndefined(path);
    if ((current !== undefined && sameFile(current, written)) || attempt === MAX_APPEND_ATTEMPTS) return;
  }
}

/** Worth rewriting: large, and at least half of its lines expired or repeated. */
function worthCompacting(size: number, lines: number, live: number): boolean {
  return size > MAX_READ_BYTES || (size >= COMPACT_MIN_BYTES && live * 2 <= lines);
}

/** The rewrite itself, with the lock held: live entries into `<path>.tmp`, renamed over; then the tail copied. */
function rewrite(path: string, nowSeconds: number): void {
  let fd: number;
  try {
    fd = openSync(path, READ_FLAGS);
  } catch {
    return; // nothing to compact
  }
  try {
    const content = readFrom(fd, 0, MAX_READ_BYTES);
    const entries: Entries = { expiries: new Map(), lines: 0 };
    if (content.length <= MAX_READ_BYTES) parseEntries(content.toString('latin1'), entries);
    const live = [...entries.expiries].filter(([, expiry]) => expiry >= nowSeconds);
    if (!worthCompacting(content.length, entries.lines, live.length)) return;
    const tempPath = `${path}.tmp`;
    const temp = openSync(tempPath, TEMP_FLAGS, FILE_MODE);
    try {
      writeSync(temp, Buffer.from(entryLines(live), 'latin1'));
      fsyncSync(temp);
    } catch (error) {
      closeSync(temp);
      try {
        unlinkSync(tempPath);
      } catch {
        // the write's error is the one that counts; the next compaction truncates the file
      }
      throw error;
    }
    closeSync(temp);
    renameSync(tempPath, path);
    // Entries appended to the old file after we read it.
    const tail = readFrom(fd, content.length, MAX_READ_BYTES).toString('latin1');
    const appended = tail.split('\n').filter((line) => ENTRY_LINE.test(line));
    if (appended.length > 0) appendLines(path, `${appended.join('\n')}\n`);
  } finally {
    closeSync(fd);
  }
}

class SieveStateFile implements SieveState {
  private loaded: Entries | undefined;
  private size = 0;
  /** the file as read ends a line: else our first line must start a new one, not complete a torn one */
  private terminated = true;
  private readonly pending = new Map<string, number>();

  constructor(private readonly path: string) {}

  has(key: string, nowSeconds: number): boolean {
    try {
      const hash = keyHash(key);
      const expiry = Math.max(this.entries().expiries.get(hash) ?? -Infinity, this.pending.get(hash) ?? -Infinity);
      return expiry >= nowSeconds;
    } catch {
      return false;
    }
  }

  add(key: string, expiresAtSeconds: number): void {
    const hash = keyHash(key);
    const expiry = Math.floor(expiresAtSeconds);
    this.pending.set(hash, Math.max(expiry, this.pending.get(hash) ?? expiry));
  }

  flush(): void {
    if (this.pending.size === 0) return;
    const entries = this.entries(); // read before our lines are in the file
    const text = entryLines(this.pending);
    appendLines(this.path, this.terminated ? text : `\n${text}`);
    parseEntries(text, entries);
    this.size += text.length;
    this.terminated = true;
    this.pending.clear();
  }

  async compact(nowSeconds: number): Promise<void> {
    try {
      const entries = this.entries();
      let live = 0;
      for (const expiry of entries.expiries.values()) if (expiry >= nowSeconds) live++;
      if (!worthCompacting(this.size, entries.lines, live)) return;
      // one try (deadline now): a held lock means another delivery is compacting
      const lock = await acquireDotlock(this.path, {
        useExcl: true,
        staleTimeoutMs: LOCK_STALE_MS,
        deadline: Date.now(),
        hostname: hostname(),
      });
      if (lock === undefined) return;
      try {
        rewrite(this.path, nowSeconds);
      } finally {
        lock.release();
      }
      this.loaded = undefined;
    } catch {
      // the file stays as it was, only larger than it need be
    }
  }

  /** The file's entries, read once. */
  private entries(): Entries {
    if (this.loaded === undefined) {
      const { entries, size, terminated } = readEntries(this.path);
      this.loaded = entries;
      this.size = size;
      this.terminated = terminated;
    }
    return this.loaded;
  }
}

/** The state stored at `path` (read when first asked); nothing is read or written here. */
export function openSieveState(path: string): SieveState {
  return new SieveStateFile(path);
}
