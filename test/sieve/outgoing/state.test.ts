import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSieveState } from '../../../src/sieve/outgoing/state.js';

const NOW = 1_800_000_000;

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'dovetail-sieve-state-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

let counter = 0;
function freshPath(): string {
  const dir = join(root, `case${++counter}`);
  mkdirSync(dir);
  return join(dir, '.dovetail.sieve-state');
}

const sha256 = (key: string) => createHash('sha256').update(key).digest('hex');

/** `count` entry lines "<tag><i>", expiring `offset` seconds from NOW. */
function entryLines(count: number, tag: string, offset: number): string {
  let text = '';
  for (let i = 0; i < count; i++) text += `${NOW + offset} ${sha256(`${tag}${i}`)}\n`;
  return text;
}

/** `count` lines of expired entries, as an old file collects them. */
const expiredLines = (count: number, tag: string) => entryLines(count, tag, -1000);

describe('entries and expiry', () => {
  it('knows nothing when the file does not exist, and creates nothing by asking', () => {
    const path = freshPath();
    expect(openSieveState(path).has('vacation:a', NOW)).toBe(false);
    expect(existsSync(path)).toBe(false);
  });

  it('writes one human-readable line per entry: expiry and the sha256 of the key', () => {
    const path = freshPath();
    const state = openSieveState(path);
    state.add('vacation:sender@example.com:handle', NOW + 86400);
    state.add('duplicate:<id@x>', NOW + 60);
    state.flush();
    expect(readFileSync(path, 'utf8')).toBe(`${NOW + 86400} ${sha256('vacation:sender@example.com:handle')}\n${NOW + 60} ${sha256('duplicate:<id@x>')}\n`);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('sees its own additions before and after flush, and another opener sees them after flush', () => {
    const path = freshPath();
    const state = openSieveState(path);
    state.add('k', NOW + 10);
    expect(state.has('k', NOW)).toBe(true);
    expect(openSieveState(path).has('k', NOW)).toBe(false);
    state.flush();
    expect(state.has('k', NOW)).toBe(true);
    expect(openSieveState(path).has('k', NOW)).toBe(true);
    expect(openSieveState(path).has('other', NOW)).toBe(false);
  });

  it.each([
    { now: NOW + 9, seen: true },
    { now: NOW + 10, seen: true },
    { now: NOW + 11, seen: false },
  ])('an entry expiring at NOW+10 is seen at $now: $seen', ({ now, seen }) => {
    const path = freshPath();
    writeFileSync(path, `${NOW + 10} ${sha256('k')}\n`);
    expect(openSieveState(path).has('k', now)).toBe(seen);
  });

  it('the latest expiry of a repeated key counts', () => {
    const path = freshPath();
    writeFileSync(path, `${NOW + 100} ${sha256('k')}\n${NOW - 5} ${sha256('k')}\n`);
    expect(openSieveState(path).has('k', NOW + 50)).toBe(true);
  });

  it('flush appends to what is there and writes nothing when nothing was added', () => {
    const path = freshPath();
    writeFileSync(path, `${NOW} ${sha256('old')}\n`);
    const state = openSieveState(path);
    state.flush();
    expect(readFileSync(path, 'utf8')).toBe(`${NOW} ${sha256('old')}\n`);
    state.add('new', NOW + 1);
    state.flush();
    state.flush();
    expect(readFileSync(path, 'utf8')).toBe(`${NOW} ${sha256('old')}\n${NOW + 1} ${sha256('new')}\n`);
  });
});

describe('broken files read as empty, and has() never throws', () => {
  it.each([
    { name: 'garbage bytes', content: Buffer.from([0, 255, 10, 13, 200, 1, 2, 3]) },
    { name: 'a truncated line', content: Buffer.from(`${NOW + 10} ${sha256('k').slice(0, 20)}`) },
    { name: 'a hash in capitals', content: Buffer.from(`${NOW + 10} ${sha256('k').toUpperCase()}\n`) },
    { name: 'extra fields', content: Buffer.from(`${NOW + 10} ${sha256('k')} more\n`) },
  ])('$name', ({ content }) => {
    const path = freshPath();
    writeFileSync(path, content);
    expect(openSieveState(path).has('k', NOW)).toBe(false);
  });

  it('good lines among bad ones still count', () => {
    const path = freshPath();
    writeFileSync(path, `junk\n\n${NOW + 10} ${sha256('k')}\n\u0000\u0001\n`);
    expect(openSieveState(path).has('k', NOW)).toBe(true);
  });

  it('an entry appended after a torn last line starts a line of its own', () => {
    const path = freshPath();
    writeFileSync(path, `${NOW + 10} ${sha256('torn').slice(0, 30)}`);
    const state = openSieveState(path);
    expect(state.has('torn', NOW)).toBe(false);
    state.add('k', NOW + 10);
    state.flush();
    expect(openSieveState(path).has('k', NOW)).toBe(true);
  });

  it('a directory in its place', () => {
    const path = freshPath();
    mkdirSync(path);
    expect(openSieveState(path).has('k', NOW)).toBe(false);
  });

  it('a FIFO in its place (no hang)', () => {
    const path = freshPath();
    execFileSync('mkfifo', [path]);
    expect(openSieveState(path).has('k', NOW)).toBe(false);
  });

  it('a symlink in its place is not followed: reads as empty, flush fails', () => {
    const path = freshPath();
    const target = `${path}.target`;
    writeFileSync(target, `${NOW + 10} ${sha256('k')}\n`);
    symlinkSync(target, path);
    const state = openSieveState(path);
    expect(state.has('k', NOW)).toBe(false);
    state.add('x', NOW + 10);
    expect(() => state.flush()).toThrow(expect.objectContaining({ code: 'ELOOP' }));
    expect(readFileSync(target, 'utf8')).toBe(`${NOW + 10} ${sha256('k')}\n`);
  });

  it('flush into a missing directory throws the fs error', () => {
    const state = openSieveState(join(root, 'no-such-dir', 'state'));
    expect(state.has('k', NOW)).toBe(false);
    state.add('k', NOW + 1);
    expect(() => state.flush()).toThrow(expect.objectContaining({ code: 'ENOENT' }));
  });
});

describe('compaction', () => {
  it('rewrites a large, mostly expired file with the live entries only, and leaves no lock or temp file', async () => {
    const path = freshPath();
    writeFileSync(path, `${expiredLines(2000, 'dead')}${NOW + 100} ${sha256('live')}\n${NOW + 50} ${sha256('live')}\n`);
    const state = openSieveState(path);
    state.add('added', NOW + 200);
    state.flush();
    await state.compact(NOW);
    expect(readFileSync(path, 'utf8')).toBe(`${NOW + 100} ${sha256('live')}\n${NOW + 200} ${sha256('added')}\n`);
    expect(readdirSync(join(path, '..'))).toEqual(['.dovetail.sieve-state']);
    expect(state.has('live', NOW)).toBe(true);
    expect(state.has('added', NOW)).toBe(true);
  });

  it.each([
    { name: 'a small file', content: () => expiredLines(100, 'dead') },
    { name: 'a large file that is mostly live', content: () => expiredLines(400, 'dead') + entryLines(1200, 'live', 5000) },
  ])('leaves $name alone', async ({ content }) => {
    const path = freshPath();
    const text = content();
    writeFileSync(path, text);
    await openSieveState(path).compact(NOW);
    expect(readFileSync(path, 'utf8')).toBe(text);
  });

  it('skips the rewrite while another process holds the lock', async () => {
    const path = freshPath();
    const text = expiredLines(2000, 'dead');
    writeFileSync(path, text);
    writeFileSync(`${path}.lock`, `${process.pid}:${hostname()}`);
    await openSieveState(path).compact(NOW);
    expect(readFileSync(path, 'utf8')).toBe(text);
    expect(existsSync(`${path}.lock`)).toBe(true);
  });

  it('replaces an oversized file', async () => {
    const path = freshPath();
    writeFileSync(path, Buffer.alloc(17 * 1024 * 1024, 'x'));
    const state = openSieveState(path);
    expect(state.has('k', NOW)).toBe(false);
    state.add('k', NOW + 1);
    state.flush();
    await state.compact(NOW);
    expect(readFileSync(path, 'utf8')).toBe(`${NOW + 1} ${sha256('k')}\n`);
  });
});

describe('concurrent deliveries (child processes)', () => {
  let bundle: string;

  beforeAll(async () => {
    const { build } = await import('esbuild');
    bundle = join(root, 'state-bundle.js');
    await build({
      entryPoints: [join(__dirname, '..', '..', '..', 'src', 'sieve', 'outgoing', 'state.ts')],
      outfile: bundle,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      logLevel: 'error',
    });
  });

  /** Runs `script` in a child with `state` = the bundle's exports and argv after it; resolves with its exit code. */
  function child(script: string, args: string[]): Promise<number | null> {
    return new Promise((resolve, reject) => {
      const process_ = spawn(process.execPath, ['-e', `const state = require(${JSON.stringify(bundle)}); ${script}`, ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
      process_.on('error', reject);
      process_.on('exit', resolve);
    });
  }

  /** Adds `count` keys "<tag>-<i>", one flush (one delivery) each. */
  const APPENDER = `
    const [path, tag, count, now] = process.argv.slice(1);
    for (let i = 0; i < Number(count); i++) {
      const s = state.openSieveState(path);
      s.has(tag + '-' + i, Number(now));
      s.add(tag + '-' + i, Number(now) + 3600);
      s.flush();
    }`;

  /** Keeps the file large and dead, and compacts it, `rounds` times. */
  const COMPACTOR = `
    const fs = require('node:fs');
    const [path, rounds, now, garbage] = process.argv.slice(1);
    (async () => {
      for (let round = 0; round < Number(rounds); round++) {
        fs.appendFileSync(path, fs.readFileSync(garbage));
        await state.openSieveState(path).compact(Number(now));
      }
    })();`;

  it('appends from many processes: no entry lost', async () => {
    const path = freshPath();
    const codes = await Promise.all(Array.from({ length: 8 }, (_, n) => child(APPENDER, [path, `p${n}`, '150', String(NOW)])));
    expect(codes).toEqual(Array(8).fill(0));
    const state = openSieveState(path);
    const missing: string[] = [];
    for (let n = 0; n < 8; n++) for (let i = 0; i < 150; i++) if (!state.has(`p${n}-${i}`, NOW)) missing.push(`p${n}-${i}`);
    expect(missing).toEqual([]);
    expect(readFileSync(path, 'utf8').split('\n').filter(Boolean)).toHaveLength(8 * 150);
  });

  it('appends racing repeated compactions: no live entry lost, the dead ones go', async () => {
    const path = freshPath();
    const garbage = join(root, 'garbage');
    writeFileSync(garbage, expiredLines(1500, 'dead'));
    const appenders = Array.from({ length: 6 }, (_, n) => child(APPENDER, [path, `p${n}`, '200', String(NOW)]));
    const compactors = Array.from({ length: 2 }, () => child(COMPACTOR, [path, '15', String(NOW), garbage]));
    expect(await Promise.all([...appenders, ...compactors])).toEqual(Array(8).fill(0));
    appendFileSync(path, readFileSync(garbage));
    await openSieveState(path).compact(NOW);
    const state = openSieveState(path);
    const missing: string[] = [];
    for (let n = 0; n < 6; n++) for (let i = 0; i < 200; i++) if (!state.has(`p${n}-${i}`, NOW)) missing.push(`p${n}-${i}`);
    expect(missing).toEqual([]);
    expect(readFileSync(path, 'utf8')).not.toContain(sha256('dead0'));
    expect(readdirSync(join(path, '..'))).toEqual(['.dovetail.sieve-state']);
  });
});
