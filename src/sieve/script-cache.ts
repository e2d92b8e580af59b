// Compiled scripts on disk, as Pigeonhole keeps NAME.svbin beside NAME.sieve:
// a script is compiled once and read back as JSON until it (or a script it
// includes, or the settings that shaped its compilation) changes. The cache is
// NAME.dvbin beside the script (never Pigeonhole's .svbin: the formats differ,
// and an administrator switching back must not be handed ours). Where the
// script's directory is not writable (a global script, a read-only home) it
// goes to /var/tmp/dovetail-sieve-UID/, a directory of the delivering user's
// own that is refused if anyone else owns it. A long-running server also
// keeps the scripts it loaded in memory (CompiledScriptMemory), checked
// against the same file stats before each use, so that a delivery reads
// and parses nothing when no script changed.
//
// Failure: a missing script is `undefined`; a script that does not compile
// throws SieveCompileError; a script that cannot be read throws
// SieveScriptReadError (a temporary condition). The cache never fails a
// delivery: an unreadable, corrupt or unwritable cache only costs a compile.

import { readFileSync, statSync, writeFileSync, renameSync, mkdirSync, lstatSync, realpathSync, unlinkSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import type { CompiledScript } from './compiled.js';
import { compileSieve, type CompileOptions } from './compile.js';

const CACHE_FORMAT = 1;

export class SieveScriptReadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SieveScriptReadError';
  }
}

export interface ScriptCompileSettings extends Omit<CompileOptions, 'loadInclude' | 'scriptName'> {
  /** `include :personal` directory */
  personalDirectory?: string;
  /** `include :global` directory */
  globalDirectory?: string;
}

/** A file the compiled script depends on, as it was when compiled (missing: mtimeMs -1). */
interface Dependency {
  path: string;
  mtimeMs: number;
  size: number;
  ino: number;
}

/** A compiled script and what it was made from, as kept in memory. */
interface RememberedScript {
  /** what besides the sources shaped the result (extensions, limits) */
  settingsKey: string;
  dependencies: Dependency[];
  script: CompiledScript;
}

/** A cache file: the same, with its format number. */
interface CacheFile extends RememberedScript {
  format: number;
}

/** How many compiled scripts a server keeps in memory (the least recently used go first). */
const DEFAULT_MEMORY_CAPACITY = 1000;

/**
 * Compiled scripts kept by a long-running process between deliveries, by
 * real path; each use checks that no file the script was made from changed.
 * Only for a process whose deliveries all run as one uid (see DESIGN.md).
 */
export class CompiledScriptMemory {
  private readonly entries = new Map<string, RememberedScript>();

  constructor(private readonly capacity = DEFAULT_MEMORY_CAPACITY) {}

  get(realPath: string, settingsKey: string): CompiledScript | undefined {
    const entry = this.entries.get(realPath);
    if (entry === undefined) return undefined;
    this.entries.delete(realPath);
    if (entry.settingsKey !== settingsKey || !entry.dependencies.every(isUnchanged)) return undefined;
    this.entries.set(realPath, entry); // now the most recently used
    return entry.script;
  }

  remember(realPath: string, entry: RememberedScript): void {
    this.entries.delete(realPath);
    this.entries.set(realPath, entry);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
  }
}

/** The script's name as Pigeonhole logs it: the file name without `.sieve`. */
export function scriptNameOf(path: string): string {
  return basename(path).replace(/\.sieve$/, '');
}

/** Loads (from memory, the cache file or by compiling) the script at `path`; undefined when there is no such file. */
export function loadSieveScript(path: string, settings: ScriptCompileSettings, memory?: CompiledScriptMemory): CompiledScript | undefined {
  let realPath: string;
  try {
    realPath = realpathSync(path);
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw new SieveScriptReadError(`Failed to open sieve script ${path}: ${(error as Error).message}`);
  }
  const settingsKey = JSON.stringify([
    [...settings.enabledExtensions].sort(),
    [...(settings.globalExtensions ?? [])].sort(),
    settings.maxScriptSize,
    settings.personalDirectory ?? '',
    settings.globalDirectory ?? '',
  ]);
  const remembered = memory?.get(realPath, settingsKey);
  if (remembered !== undefined) return remembered;
  const places = cachePlaces(realPath);
  for (const place of places) {
    const cached = readCache(place, realPath, settingsKey);
    if (cached !== undefined) {
      memory?.remember(realPath, cached);
      return cached.script;
    }
  }
  const dependencies: Dependency[] = [];
  const source = readScript(realPath, dependencies);
  if (source === undefined) return undefined; // removed since realpath()
  const script = compileSieve(source, {
    ...settings,
    scriptName: scriptNameOf(path),
    loadInclude: (location, name) => {
      const directory = location === 'personal' ? settings.personalDirectory : settings.globalDirectory;
      if (directory === undefined) return undefined;
      return readScript(join(directory, `${name}.sieve`), dependencies);
    },
  });
  const cache: CacheFile = { format: CACHE_FORMAT, settingsKey, dependencies, script };
  for (const place of places) if (writeCache(place, cache)) break;
  memory?.remember(realPath, cache);
  return script;
}

/** Reads a script and notes it as a dependency; a missing file is noted too and gives undefined. */
function readScript(path: string, dependencies: Dependency[]): string | undefined {
  try {
    const stat = statSync(path);
    const source = readFileSync(path, 'utf8');
    dependencies.push({ path, mtimeMs: stat.mtimeMs, size: stat.size, ino: stat.ino });
    return source;
  } catch (error) {
    if (isMissing(error)) {
      dependencies.push({ path, mtimeMs: -1, size: 0, ino: 0 });
      return undefined;
    }
    throw new SieveScriptReadError(`Failed to open sieve script ${path}: ${(error as Error).message}`);
  }
}

/** Beside the script first, then the user's own cache directory. */
function cachePlaces(realPath: string): string[] {
  const name = `${basename(realPath).replace(/\.sieve$/, '')}.dvbin`;
  const fallback = join(fallbackDirectory(), encodeURIComponent(realPath).replaceAll('%2F', '%') + '.dvbin');
  return [join(dirname(realPath), name), fallback];
}

function fallbackDirectory(): string {
  return `/var/tmp/dovetail-sieve-${process.geteuid?.() ?? 0}`;
}

/** The cached script when the cache is of `scriptPath` (`foo` and `foo.sieve` share foo.dvbin) and nothing it depends on changed. */
function readCache(path: string, scriptPath: string, settingsKey: string): CacheFile | undefined {
  let cache: CacheFile;
  try {
    cache = JSON.parse(readFileSync(path, 'utf8')) as CacheFile;
  } catch {
    return undefined;
  }
  if (cache?.format !== CACHE_FORMAT || cache.settingsKey !== settingsKey || !Array.isArray(cache.dependencies)) return undefined;
  if (cache.dependencies[0]?.path !== scriptPath) return undefined;
  for (const dependency of cache.dependencies) if (!isUnchanged(dependency)) return undefined;
  return cache;
}

function isUnchanged(dependency: Dependency): boolean {
  try {
    const stat = statSync(dependency.path);
    return stat.mtimeMs === dependency.mtimeMs && stat.size === dependency.size && stat.ino === dependency.ino;
  } catch (error) {
    return isMissing(error) && dependency.mtimeMs === -1;
  }
}

/** Writes through a temp file and rename, so a concurrent reader sees the old or the new cache; false when it could not. */
function writeCache(path: string, cache: CacheFile): boolean {
  const directory = dirname(path);
  if (directory === fallbackDirectory() && !ensureOwnDirectory(directory)) return false;
  const temp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(temp, JSON.stringify(cache), { mode: 0o600 });
    renameSync(temp, path);
    return true;
  } catch {
    try {
      unlinkSync(temp);
    } catch {
      // nothing was written
    }
    return false;
  }
}

/** The fallback directory exists, is a directory (not a link) and belongs to us. */
function ensureOwnDirectory(directory: string): boolean {
  try {
    mkdirSync(directory, { mode: 0o700 });
  } catch {
    // exists already, or cannot be made: checked below
  }
  try {
    const stat = lstatSync(directory);
    return stat.isDirectory() && stat.uid === process.geteuid?.() && (stat.mode & 0o077) === 0;
  } catch {
    return false;
  }
}

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
