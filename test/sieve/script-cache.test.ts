// loadSieveScript: a script is compiled once and its result kept as
// NAME.dvbin beside it (or, where that directory is not writable, in the
// user's own /var/tmp/dovetail-sieve-UID/), read back until the script, a
// script it includes (or one it :optional-ly includes that appears) or the
// compile settings change. A cached result is recognised by a marker put into
// the cached JSON: it comes back only when the cache was used.
//
// The tests of the per-uid fallback run the module in a child process (an
// esbuild bundle) as a uid of their own, so they can create, chown and chmod
// its /var/tmp/dovetail-sieve-UID without touching another user's; they need
// root (and setpriv with ambient capabilities for the one that checks that
// the ownership test, not a permission error, keeps the cache out).

import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest';
import {
  chmodSync,
  chownSync,
  existsSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CompiledScriptMemory, loadSieveScript, scriptNameOf, SieveScriptReadError, type ScriptCompileSettings } from '../../src/sieve/script-cache.js';
import type { CompiledScript } from '../../src/sieve/compiled.js';
import { SieveCompileError } from '../../src/sieve/errors.js';
import { DEFAULT_ENABLED_EXTENSIONS } from '../../src/sieve/extensions.js';
import { thrown } from '../helpers/thrown.js';

const MARKER = 'read-from-the-cache';
const IS_ROOT = process.getuid?.() === 0;

const base = realpathSync(mkdtempSync(join(tmpdir(), 'dovetail-script-cache-')));
chmodSync(base, 0o755);
afterAll(() => rmSync(base, { recursive: true, force: true }));
let counter = 0;
/** A fresh directory, 0755 so that the child's uid can reach it. */
function newDirectory(): string {
  const directory = join(base, String(++counter));
  mkdirSync(directory, { mode: 0o755 });
  return directory;
}

function writeScript(path: string, source: string): string {
  writeFileSync(path, source, { mode: 0o644 });
  return path;
}

function settingsFor(personalDirectory: string, extra: Partial<ScriptCompileSettings> = {}): ScriptCompileSettings {
  return { enabledExtensions: new Set(DEFAULT_ENABLED_EXTENSIONS), maxScriptSize: 1 << 20, personalDirectory, ...extra };
}

interface CacheFile {
  format: number;
  settingsKey: string;
  dependencies: { path: string; mtimeMs: number; size: number; ino: number }[];
  script: CompiledScript;
}

function readCacheFile(path: string): CacheFile {
  return JSON.parse(readFileSync(path, 'utf8')) as CacheFile;
}

/** Puts MARKER into the cached script, as its name. */
function markCache(path: string, change: (cache: CacheFile) => void = () => {}): void {
  const cache = readCacheFile(path);
  cache.script.name = MARKER;
  change(cache);
  writeFileSync(path, JSON.stringify(cache));
}

/** The mailboxes the script's (and its includes') fileinto commands name, to see which source was compiled. */
function fileintos(script: CompiledScript): string[] {
  const own = script.commands.filter((node) => node.name === 'fileinto').map((node) => node.positional[0] as string);
  return [...own, ...Object.values(script.includes).flatMap(fileintos)];
}

const FILEINTO = (mailbox: string) => `require "fileinto";\nfileinto "${mailbox}";\n`;

describe('scriptNameOf', () => {
  it.each([
    ['/home/ann/sieve/main.sieve', 'main'],
    ['/home/ann/.dovecot.sieve', '.dovecot'],
    ['/etc/sieve/spam', 'spam'],
    ['/etc/sieve/a.b.sieve', 'a.b'],
    ['/etc/sieve/x.sieve.txt', 'x.sieve.txt'],
  ])('%s → %s', (path, name) => {
    expect(scriptNameOf(path)).toBe(name);
  });
});

describe('the cache beside the script', () => {
  it.each([
    ['main.sieve', 'main.dvbin', 'main'],
    ['.dovecot.sieve', '.dovecot.dvbin', '.dovecot'],
    ['spam', 'spam.dvbin', 'spam'],
    ['a.b.sieve', 'a.b.dvbin', 'a.b'],
  ])('the first load of %s compiles it and writes %s', (file, cacheName, name) => {
    const directory = newDirectory();
    const path = writeScript(join(directory, file), FILEINTO('Lists'));
    const script = loadSieveScript(path, settingsFor(directory))!;
    expect(script.name).toBe(name);
    expect(fileintos(script)).toEqual(['Lists']);
    expect(readdirSync(directory).sort()).toEqual([file, cacheName].sort());
    const cache = readCacheFile(join(directory, cacheName));
    expect(cache.format).toBe(1);
    expect(cache.script).toEqual(script);
    expect(cache.dependencies.map((dependency) => dependency.path)).toEqual([path]);
    expect(statSync(join(directory, cacheName)).mode & 0o777).toBe(0o600);
  });

  it('the second load reads it', () => {
    const directory = newDirectory();
    const path = writeScript(join(directory, 'main.sieve'), FILEINTO('Lists'));
    loadSieveScript(path, settingsFor(directory));
    markCache(join(directory, 'main.dvbin'));
    expect(loadSieveScript(path, settingsFor(directory))!.name).toBe(MARKER);
  });

  it('for a symlinked active script, beside the link\'s target', () => {
    const home = newDirectory();
    mkdirSync(join(home, 'sieve'));
    writeScript(join(home, 'sieve', 'main.sieve'), FILEINTO('Lists'));
    symlinkSync('sieve/main.sieve', join(home, '.dovecot.sieve'));
    const script = loadSieveScript(join(home, '.dovecot.sieve'), settingsFor(join(home, 'sieve')))!;
    expect(fileintos(script)).toEqual(['Lists']);
    expect(readdirSync(join(home, 'sieve')).sort()).toEqual(['main.dvbin', 'main.sieve']);
    expect(readdirSync(home).sort()).toEqual(['.dovecot.sieve', 'sieve']);
    markCache(join(home, 'sieve', 'main.dvbin'));
    expect(loadSieveScript(join(home, '.dovecot.sieve'), settingsFor(join(home, 'sieve')))!.name).toBe(MARKER);
  });

  it('follows the active link when it is moved to another script', () => {
    const home = newDirectory();
    const scripts = join(home, 'sieve');
    mkdirSync(scripts);
    writeScript(join(scripts, 'one.sieve'), FILEINTO('One'));
    writeScript(join(scripts, 'two.sieve'), FILEINTO('Two'));
    const link = join(home, '.dovecot.sieve');
    symlinkSync('sieve/one.sieve', link);
    expect(fileintos(loadSieveScript(link, settingsFor(scripts))!)).toEqual(['One']);
    rmSync(link);
    symlinkSync('sieve/two.sieve', link);
    expect(fileintos(loadSieveScript(link, settingsFor(scripts))!)).toEqual(['Two']);
    expect(readdirSync(scripts).sort()).toEqual(['one.dvbin', 'one.sieve', 'two.dvbin', 'two.sieve']);
  });

  it('keeps apart a script and its namesake with .sieve, which share NAME.dvbin', () => {
    const directory = newDirectory();
    const withSuffix = writeScript(join(directory, 'spam.sieve'), FILEINTO('WithSuffix'));
    const without = writeScript(join(directory, 'spam'), FILEINTO('Without'));
    expect(fileintos(loadSieveScript(withSuffix, settingsFor(directory))!)).toEqual(['WithSuffix']);
    expect(fileintos(loadSieveScript(without, settingsFor(directory))!)).toEqual(['Without']);
    expect(fileintos(loadSieveScript(withSuffix, settingsFor(directory))!)).toEqual(['WithSuffix']);
  });

  it('is not written for a script that does not compile, and the fixed script compiles', () => {
    const directory = newDirectory();
    const path = writeScript(join(directory, 'main.sieve'), 'keepp;\n');
    const error = thrown(SieveCompileError, () => loadSieveScript(path, settingsFor(directory)));
    expect(error.scriptName).toBe('main');
    expect(readdirSync(directory)).toEqual(['main.sieve']);
    writeScript(path, 'keep;\n');
    expect(loadSieveScript(path, settingsFor(directory))!.commands.map((node) => node.name)).toEqual(['keep']);
  });
});

describe('recompiling when something changed', () => {
  /** Whole seconds, so that a file given the same time has exactly the same mtimeMs. */
  const EARLIER = 1_700_000_000;
  const LATER = EARLIER + 60;

  /** main.sieve including inc.sieve and, optionally, later.sieve (missing at first), all with mtime EARLIER, loaded once and marked. */
  function cachedWithIncludes(extra: Partial<ScriptCompileSettings> = {}) {
    const directory = newDirectory();
    const main = writeScript(
      join(directory, 'main.sieve'),
      'require ["include", "fileinto"];\ninclude :personal "inc";\ninclude :optional :personal "later";\nfileinto "Main";\n',
    );
    const inc = writeScript(join(directory, 'inc.sieve'), FILEINTO('Inc1'));
    for (const path of [main, inc]) utimesSync(path, EARLIER, EARLIER);
    const settings = settingsFor(directory, extra);
    expect(fileintos(loadSieveScript(main, settings)!)).toEqual(['Main', 'Inc1']);
    markCache(join(directory, 'main.dvbin'));
    expect(loadSieveScript(main, settings)!.name).toBe(MARKER);
    return { directory, main, inc, settings };
  }

  /** Rewrites `path` in place with `source` and gives it mtime `time`. */
  function rewrite(path: string, source: string, time: number): void {
    writeFileSync(path, source);
    utimesSync(path, time, time);
  }

  /** Replaces `path` by a new file (another inode) of the same size and mtime. */
  function replace(path: string, source: string): void {
    expect(Buffer.byteLength(source)).toBe(statSync(path).size);
    writeFileSync(`${path}.new`, source);
    utimesSync(`${path}.new`, EARLIER, EARLIER);
    renameSync(`${path}.new`, path);
  }

  it.each([
    ['the script: other size, same mtime', ({ main }) => rewrite(main, readFileSync(main, 'utf8').replace('"Main"', '"Main2"'), EARLIER), ['Main2', 'Inc1']],
    ['the script: same content, other mtime', ({ main }) => utimesSync(main, LATER, LATER), ['Main', 'Inc1']],
    ['the script: replaced, same size and mtime', ({ main }) => replace(main, readFileSync(main, 'utf8').replace('"Main"', '"Niam"')), ['Niam', 'Inc1']],
    ['the include: other size', ({ inc }) => rewrite(inc, FILEINTO('Inc22'), EARLIER), ['Main', 'Inc22']],
    ['the include: other mtime', ({ inc }) => utimesSync(inc, LATER, LATER), ['Main', 'Inc1']],
    ['the include: replaced, same size and mtime', ({ inc }) => replace(inc, FILEINTO('Inc2')), ['Main', 'Inc2']],
    ['the :optional include appears', ({ directory }) => writeScript(join(directory, 'later.sieve'), FILEINTO('Later')), ['Main', 'Inc1', 'Later']],
  ] satisfies [string, (files: { directory: string; main: string; inc: string }) => void, string[]][])('%s', (_name, change, mailboxes) => {
    const files = cachedWithIncludes();
    change(files);
    const script = loadSieveScript(files.main, files.settings)!;
    expect(script.name).toBe('main');
    expect(fileintos(script)).toEqual(mailboxes);
    // and the new result is cached in turn
    markCache(join(files.directory, 'main.dvbin'));
    expect(loadSieveScript(files.main, files.settings)!.name).toBe(MARKER);
  });

  it('an include that disappeared is an error, not the old result', () => {
    const { main, inc, settings } = cachedWithIncludes();
    rmSync(inc);
    expect(thrown(SieveCompileError, () => loadSieveScript(main, settings)).message).toBe("main: line 2: included personal script 'inc' does not exist");
  });

  it('an :optional include that disappeared is dropped', () => {
    const { directory, main, settings } = cachedWithIncludes();
    writeScript(join(directory, 'later.sieve'), FILEINTO('Later'));
    expect(fileintos(loadSieveScript(main, settings)!)).toEqual(['Main', 'Inc1', 'Later']);
    rmSync(join(directory, 'later.sieve'));
    expect(fileintos(loadSieveScript(main, settings)!)).toEqual(['Main', 'Inc1']);
  });

  it.each([
    ['enabledExtensions', (settings: ScriptCompileSettings) => ({ ...settings, enabledExtensions: new Set([...settings.enabledExtensions, 'vacation-seconds']) })],
    ['enabledExtensions, one less', (settings: ScriptCompileSettings) => ({ ...settings, enabledExtensions: new Set([...settings.enabledExtensions].filter((name) => name !== 'regex')) })],
    ['globalExtensions', (settings: ScriptCompileSettings) => ({ ...settings, globalExtensions: new Set(['vacation-seconds']) })],
    ['maxScriptSize', (settings: ScriptCompileSettings) => ({ ...settings, maxScriptSize: 4096 })],
    ['globalDirectory', (settings: ScriptCompileSettings) => ({ ...settings, globalDirectory: '/var/lib/dovecot/sieve/global' })],
    ['personalDirectory', (settings: ScriptCompileSettings) => ({ ...settings, personalDirectory: `${settings.personalDirectory}/` })],
  ])('a change of %s', (_name, change) => {
    const { main, settings } = cachedWithIncludes();
    const script = loadSieveScript(main, change(settings))!;
    expect(script.name).toBe('main');
    // the settings of the cache are those of its last compile
    expect(loadSieveScript(main, settings)!.name).toBe('main');
  });

  it('not the order the extensions are given in', () => {
    const { main, settings } = cachedWithIncludes({ globalExtensions: new Set(['vacation-seconds', 'reject']) });
    const reordered = { ...settings, enabledExtensions: new Set([...settings.enabledExtensions].reverse()), globalExtensions: new Set(['reject', 'vacation-seconds']) };
    expect(loadSieveScript(main, reordered)!.name).toBe(MARKER);
  });

  it('a script over a smaller size limit is refused, not served from the cache', () => {
    const { main, settings } = cachedWithIncludes();
    expect(() => loadSieveScript(main, { ...settings, maxScriptSize: 10 })).toThrow(SieveCompileError);
  });
});

describe("a server's scripts in memory (CompiledScriptMemory)", () => {
  it('the second load in the same process reads neither the script nor the cache file', () => {
    const directory = newDirectory();
    const path = writeScript(join(directory, 'main.sieve'), FILEINTO('Lists'));
    const memory = new CompiledScriptMemory();
    const first = loadSieveScript(path, settingsFor(directory), memory)!;
    markCache(join(directory, 'main.dvbin'));
    expect(loadSieveScript(path, settingsFor(directory), memory)).toBe(first);
    expect(loadSieveScript(path, settingsFor(directory))!.name).toBe(MARKER);
  });

  it('a script loaded from its cache file is remembered too', () => {
    const directory = newDirectory();
    const path = writeScript(join(directory, 'main.sieve'), FILEINTO('Lists'));
    loadSieveScript(path, settingsFor(directory));
    markCache(join(directory, 'main.dvbin'));
    const memory = new CompiledScriptMemory();
    expect(loadSieveScript(path, settingsFor(directory), memory)!.name).toBe(MARKER);
    rmSync(join(directory, 'main.dvbin'));
    expect(loadSieveScript(path, settingsFor(directory), memory)!.name).toBe(MARKER);
  });

  it.each([
    ['the script changes', (directory: string) => writeScript(join(directory, 'main.sieve'), `${FILEINTO('Changed')}# longer now\n`)],
    ['an included script changes', (directory: string) => writeScript(join(directory, 'inc.sieve'), `${FILEINTO('Changed')}# longer now\n`)],
  ])('is not used once %s', (_what, change) => {
    const directory = newDirectory();
    const path = writeScript(join(directory, 'main.sieve'), 'require "include";\ninclude :personal "inc";\n');
    writeScript(join(directory, 'inc.sieve'), FILEINTO('Lists'));
    const memory = new CompiledScriptMemory();
    expect(fileintos(loadSieveScript(path, settingsFor(directory), memory)!)).toEqual(['Lists']);
    change(directory);
    const reloaded = fileintos(loadSieveScript(path, settingsFor(directory), memory)!);
    expect(reloaded).toEqual(['Changed']);
  });

  it('is not used with other compile settings', () => {
    const directory = newDirectory();
    const path = writeScript(join(directory, 'main.sieve'), FILEINTO('Lists'));
    const memory = new CompiledScriptMemory();
    loadSieveScript(path, settingsFor(directory), memory);
    thrown(SieveCompileError, () => loadSieveScript(path, settingsFor(directory, { enabledExtensions: new Set(['envelope']) }), memory));
  });

  it('keeps at most its capacity, forgetting the least recently used first', () => {
    const directory = newDirectory();
    const paths = ['a', 'b', 'c'].map((name) => writeScript(join(directory, `${name}.sieve`), FILEINTO(name)));
    const memory = new CompiledScriptMemory(2);
    const [a, b, c] = paths.map((path) => loadSieveScript(path, settingsFor(directory), memory)!);
    expect(loadSieveScript(paths[2]!, settingsFor(directory), memory)).toBe(c);
    expect(loadSieveScript(paths[1]!, settingsFor(directory), memory)).toBe(b);
    expect(loadSieveScript(paths[0]!, settingsFor(directory), memory)).not.toBe(a);
  });
});

describe('a corrupt cache is ignored and replaced', () => {
  it.each([
    ['not JSON', () => 'garbage'],
    ['empty', () => ''],
    ['truncated', (valid: string) => valid.slice(0, valid.length >> 1)],
    ['null', () => 'null'],
    ['a number', () => '42'],
    ['an array', () => '[]'],
    ['another format', (valid: string) => JSON.stringify({ ...JSON.parse(valid), format: 2 })],
    ['dependencies not a list', (valid: string) => JSON.stringify({ ...JSON.parse(valid), dependencies: {} })],
    ['no dependencies', (valid: string) => JSON.stringify({ ...JSON.parse(valid), dependencies: [] })],
    ['a dependency without a path', (valid: string) => JSON.stringify({ ...JSON.parse(valid), dependencies: [{}] })],
    ['another script\'s cache', (valid: string) => JSON.stringify({ ...JSON.parse(valid), dependencies: [{ path: '/nonexistent.sieve', mtimeMs: -1, size: 0, ino: 0 }] })],
    ['other settings', (valid: string) => JSON.stringify({ ...JSON.parse(valid), settingsKey: '[]' })],
  ])('%s', (_name, corrupt) => {
    const directory = newDirectory();
    const path = writeScript(join(directory, 'main.sieve'), FILEINTO('Lists'));
    const cachePath = join(directory, 'main.dvbin');
    loadSieveScript(path, settingsFor(directory));
    markCache(cachePath);
    writeFileSync(cachePath, corrupt(readFileSync(cachePath, 'utf8')));
    const script = loadSieveScript(path, settingsFor(directory))!;
    expect(script.name).toBe('main');
    expect(fileintos(script)).toEqual(['Lists']);
    expect(readCacheFile(cachePath).script).toEqual(script);
  });
});

describe('missing and unreadable scripts', () => {
  it.each([
    ['no such file', (directory: string) => join(directory, 'main.sieve')],
    ['no such directory', (directory: string) => join(directory, 'nowhere', 'main.sieve')],
    ['a dangling link', (directory: string) => (symlinkSync('gone.sieve', join(directory, 'main.sieve')), join(directory, 'main.sieve'))],
    ['under a file', (directory: string) => (writeFileSync(join(directory, 'file'), ''), join(directory, 'file', 'main.sieve'))],
  ])('%s: undefined, and no cache', (_name, makePath) => {
    const directory = newDirectory();
    const path = makePath(directory);
    const before = readdirSync(directory).sort();
    expect(loadSieveScript(path, settingsFor(directory))).toBeUndefined();
    expect(readdirSync(directory).sort()).toEqual(before);
  });

  it.each([
    ['a directory', (directory: string) => (mkdirSync(join(directory, 'main.sieve')), join(directory, 'main.sieve')), 'EISDIR'],
    ['a symlink loop', (directory: string) => (symlinkSync('main.sieve', join(directory, 'main.sieve')), join(directory, 'main.sieve')), 'ELOOP'],
  ])('%s: SieveScriptReadError', (_name, makePath, code) => {
    const directory = newDirectory();
    const path = makePath(directory);
    const error = thrown(SieveScriptReadError, () => loadSieveScript(path, settingsFor(directory)));
    expect(error.message).toMatch(new RegExp(`^Failed to open sieve script ${path}: ${code}`));
  });

  it('an included script that cannot be read: SieveScriptReadError', () => {
    const directory = newDirectory();
    const path = writeScript(join(directory, 'main.sieve'), 'require "include";\ninclude :personal "inc";\n');
    mkdirSync(join(directory, 'inc.sieve'));
    const error = thrown(SieveScriptReadError, () => loadSieveScript(path, settingsFor(directory)));
    expect(error.message).toMatch(new RegExp(`^Failed to open sieve script ${join(directory, 'inc.sieve')}: EISDIR`));
    expect(readdirSync(directory).sort()).toEqual(['inc.sieve', 'main.sieve']);
  });
});

describe.skipIf(!IS_ROOT)('as another uid, in a child process', () => {
  /** a uid of this test file's own, so that its fallback directory is nobody else's */
  const UID = 47000 + (process.pid % 1000);
  const FALLBACK = `/var/tmp/dovetail-sieve-${UID}`;
  const CHILD = `
    const { loadSieveScript } = require(process.argv[1]);
    const settings = JSON.parse(process.argv[3]);
    settings.enabledExtensions = new Set(settings.enabledExtensions);
    try {
      process.stdout.write(JSON.stringify({ script: loadSieveScript(process.argv[2], settings) ?? null }));
    } catch (error) {
      process.stdout.write(JSON.stringify({ error: error.name, message: error.message }));
    }`;
  const hasSetpriv = spawnSync('setpriv', ['--version']).status === 0;
  let bundle: string;

  beforeAll(async () => {
    const { build } = await import('esbuild');
    bundle = join(newDirectory(), 'script-cache.cjs');
    await build({
      entryPoints: [join(__dirname, '..', '..', 'src', 'sieve', 'script-cache.ts')],
      outfile: bundle,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      logLevel: 'error',
    });
    chmodSync(bundle, 0o644);
    rmSync(FALLBACK, { recursive: true, force: true });
  });
  afterEach(() => rmSync(FALLBACK, { recursive: true, force: true }));

  interface ChildResult {
    script?: CompiledScript | null;
    error?: string;
    message?: string;
  }

  /** loadSieveScript as UID; with `dacOverride`, the child may write where its permissions do not let it (but the module's own checks still apply). */
  function loadAs(path: string, directory: string, { dacOverride = false } = {}): ChildResult {
    const settings = settingsFor(directory);
    const args = ['-e', CHILD, bundle, path, JSON.stringify({ ...settings, enabledExtensions: [...settings.enabledExtensions] })];
    const child = dacOverride
      ? spawnSync('setpriv', [`--reuid=${UID}`, `--regid=${UID}`, '--clear-groups', '--inh-caps=+dac_override', '--ambient-caps=+dac_override', process.execPath, ...args], { encoding: 'utf8' })
      : spawnSync(process.execPath, args, { uid: UID, gid: UID, encoding: 'utf8' });
    expect(child.stderr).toBe('');
    return JSON.parse(child.stdout) as ChildResult;
  }

  function fallbackFiles(): string[] {
    return existsSync(FALLBACK) ? readdirSync(FALLBACK) : [];
  }

  /** A script in a directory UID cannot write to: root's 0755, or UID's own 0555. */
  function unwritableScript(owner: 'root' | 'user', source = FILEINTO('Lists')): { directory: string; path: string } {
    const directory = newDirectory();
    const path = writeScript(join(directory, 'main.sieve'), source);
    if (owner === 'user') chownSync(directory, UID, UID);
    chmodSync(directory, owner === 'user' ? 0o555 : 0o755);
    return { directory, path };
  }

  /** The fallback directory made beforehand, as given. */
  function makeFallback(owner: number, mode: number): void {
    mkdirSync(FALLBACK);
    chownSync(FALLBACK, owner, owner);
    chmodSync(FALLBACK, mode);
  }

  it.each([['root'], ['user']] as const)('an unwritable script directory (owned by %s): the cache goes to the per-uid directory, made 0700', (owner) => {
    const { directory, path } = unwritableScript(owner);
    const first = loadAs(path, directory);
    expect(first.script?.name).toBe('main');
    expect(readdirSync(directory)).toEqual(['main.sieve']);
    const stat = lstatSync(FALLBACK);
    expect({ directory: stat.isDirectory(), uid: stat.uid, mode: stat.mode & 0o777 }).toEqual({ directory: true, uid: UID, mode: 0o700 });
    const files = fallbackFiles();
    expect(files).toHaveLength(1);
    const cachePath = join(FALLBACK, files[0]!);
    expect(files[0]).toMatch(/\.dvbin$/);
    expect(readCacheFile(cachePath).dependencies[0]!.path).toBe(path);
    expect(statSync(cachePath).uid).toBe(UID);
    // the second load reads it
    markCache(cachePath);
    expect(loadAs(path, directory).script?.name).toBe(MARKER);
  });

  it('one fallback cache per script path, each read back for its own script', () => {
    const one = unwritableScript('root', FILEINTO('One'));
    const two = unwritableScript('root', FILEINTO('Two'));
    expect(fileintos(loadAs(one.path, one.directory).script!)).toEqual(['One']);
    expect(fileintos(loadAs(two.path, two.directory).script!)).toEqual(['Two']);
    expect(fallbackFiles()).toHaveLength(2);
    expect(fileintos(loadAs(one.path, one.directory).script!)).toEqual(['One']);
    expect(fileintos(loadAs(two.path, two.directory).script!)).toEqual(['Two']);
  });

  it('the fallback cache is recompiled when the script changes', () => {
    const { directory, path } = unwritableScript('root');
    loadAs(path, directory);
    markCache(join(FALLBACK, fallbackFiles()[0]!));
    writeScript(path, FILEINTO('Changed!'));
    const script = loadAs(path, directory).script!;
    expect(script.name).toBe('main');
    expect(fileintos(script)).toEqual(['Changed!']);
  });

  it.each([
    ['0700', true],
    ['0750', false],
    ['0705', false],
    ['0770', false],
    ['0777', false],
    ['0701', false],
  ])('a fallback directory of its own with mode %s: used %s', (mode, used) => {
    makeFallback(UID, parseInt(mode, 8));
    const { directory, path } = unwritableScript('root');
    expect(loadAs(path, directory).script?.name).toBe('main');
    expect(fallbackFiles()).toHaveLength(used ? 1 : 0);
  });

  it('a fallback that is a symlink (to a directory of its own) is refused', () => {
    const target = newDirectory();
    chownSync(target, UID, UID);
    chmodSync(target, 0o700);
    symlinkSync(target, FALLBACK);
    lchownSync(FALLBACK, UID, UID);
    const { directory, path } = unwritableScript('root');
    expect(loadAs(path, directory).script?.name).toBe('main');
    expect(readdirSync(target)).toEqual([]);
  });

  it.skipIf(!hasSetpriv).each([
    ['its own', true, UID],
    ['root\'s', false, 0],
    ['another user\'s', false, UID + 1],
  ])('a 0700 fallback directory that is %s: used %s, even where permissions would let it write', (_name, used, owner) => {
    makeFallback(owner, 0o700);
    // NAME.dvbin beside the script is a directory: no cache there, whatever the privileges.
    const { directory, path } = unwritableScript('root');
    mkdirSync(join(directory, 'main.dvbin'));
    expect(loadAs(path, directory, { dacOverride: true }).script?.name).toBe('main');
    expect(fallbackFiles()).toHaveLength(used ? 1 : 0);
    expect(readdirSync(directory).sort()).toEqual(['main.dvbin', 'main.sieve']);
    expect(readdirSync(join(directory, 'main.dvbin'))).toEqual([]);
  });

  it.each([
    ['a script it may not read', (directory: string) => (chmodSync(writeScript(join(directory, 'main.sieve'), 'keep;\n'), 0o600), join(directory, 'main.sieve'))],
    [
      'a script in a directory it may not enter',
      (directory: string) => (mkdirSync(join(directory, 'private'), { mode: 0o700 }), writeScript(join(directory, 'private', 'main.sieve'), 'keep;\n')),
    ],
    [
      'an include it may not read',
      (directory: string) => {
        chmodSync(writeScript(join(directory, 'inc.sieve'), 'keep;\n'), 0o600);
        return writeScript(join(directory, 'main.sieve'), 'require "include";\ninclude :personal "inc";\n');
      },
    ],
  ])('%s: SieveScriptReadError (EACCES)', (_name, makePath) => {
    const directory = newDirectory();
    const path = makePath(directory);
    const result = loadAs(path, directory);
    expect(result.error).toBe('SieveScriptReadError');
    expect(result.message).toMatch(/^Failed to open sieve script \/.*: EACCES/);
  });
});
