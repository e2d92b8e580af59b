// SieveUserLog: the user's Sieve log as Pigeonhole 0.5.19's dovecot-lda
// writes it: a "started log at ..." line once per delivery that has
// something to say, one line per write, file mode 0600, a log of 10 KiB or
// more moved to LOG.0 first; a log that cannot be written is reported, never
// thrown.

import { describe, it, expect, beforeEach, afterEach, afterAll } from 'vitest';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SieveUserLog } from '../../src/deliver/sieve-user-log.js';

const base = mkdtempSync(join(tmpdir(), 'dovetail-sieve-user-log-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
let counter = 0;
function newDirectory(): string {
  const directory = join(base, String(++counter));
  mkdirSync(directory);
  return directory;
}

// 2026-11-30 22:30:35 UTC
const NOW = new Date(Date.UTC(2026, 10, 30, 22, 30, 35));

/** A log at `path` with its reported errors. */
function userLog(path: string | undefined, now = NOW) {
  const errors: string[] = [];
  return { log: new SieveUserLog(path, now, (text) => errors.push(text)), errors };
}

describe('the started line and one line per write', () => {
  const savedZone = process.env.TZ;
  beforeEach(() => {
    process.env.TZ = 'UTC';
  });
  afterEach(() => {
    if (savedZone === undefined) delete process.env.TZ;
    else process.env.TZ = savedZone;
  });

  it('opens a delivery with "started log" once, then one line per write', () => {
    const path = join(newDirectory(), '.dovecot.sieve.log');
    const { log, errors } = userLog(path);
    log.write('main: line 1: error: unknown command \'keepp\' (only reported once at first occurrence).');
    log.write('main: error: validation failed.');
    expect(readFileSync(path, 'utf8')).toBe(
      'sieve: info: started log at 2026-11-30 22:30:35 +0000.\n' +
        "main: line 1: error: unknown command 'keepp' (only reported once at first occurrence).\n" +
        'main: error: validation failed.\n',
    );
    expect(errors).toEqual([]);
  });

  it('appends: each delivery (each log object) adds its own started line', () => {
    const path = join(newDirectory(), 'user.log');
    userLog(path).log.write('first');
    userLog(path, new Date(NOW.getTime() + 61_000)).log.write('second');
    expect(readFileSync(path, 'utf8')).toBe(
      'sieve: info: started log at 2026-11-30 22:30:35 +0000.\nfirst\n' + 'sieve: info: started log at 2026-11-30 22:31:36 +0000.\nsecond\n',
    );
  });

  it('creates the log with mode 0600', () => {
    const path = join(newDirectory(), 'user.log');
    userLog(path).log.write('x');
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('writes nothing until there is something to say', () => {
    const directory = newDirectory();
    userLog(join(directory, 'user.log'));
    expect(readdirSync(directory)).toEqual([]);
  });

  it('failedActions: one error line per reason, with the message id', () => {
    const path = join(newDirectory(), 'user.log');
    const { log } = userLog(path);
    log.failedActions(["fileinto action: failed to store into mailbox 'Junk': Mailbox doesn't exist", 'redirect action: failed to send'], '<abc@example.org>');
    log.failedActions([], '<ignored@example.org>');
    expect(readFileSync(path, 'utf8').split('\n')).toEqual([
      'sieve: info: started log at 2026-11-30 22:30:35 +0000.',
      "error: msgid=<abc@example.org>: fileinto action: failed to store into mailbox 'Junk': Mailbox doesn't exist.",
      'error: msgid=<abc@example.org>: redirect action: failed to send.',
      '',
    ]);
  });

  it.each([
    ['UTC', NOW, '2026-11-30 22:30:35 +0000'],
    ['Europe/Berlin', NOW, '2026-11-30 23:30:35 +0100'],
    ['Europe/Berlin', new Date(Date.UTC(2026, 6, 1, 23, 5, 9)), '2026-07-02 01:05:09 +0200'],
    ['America/New_York', NOW, '2026-11-30 17:30:35 -0500'],
    ['America/St_Johns', NOW, '2026-11-30 19:00:35 -0330'],
    ['Asia/Kolkata', new Date(Date.UTC(2026, 11, 31, 20, 0, 0)), '2027-01-01 01:30:00 +0530'],
  ])('stamps local time with its offset: TZ=%s', (zone, now, stamp) => {
    process.env.TZ = zone;
    const path = join(newDirectory(), 'user.log');
    userLog(path, now).log.write('x');
    expect(readFileSync(path, 'utf8')).toBe(`sieve: info: started log at ${stamp}.\nx\n`);
  });
});

describe('rotation (Pigeonhole moves a log of 10 KiB or more to LOG.0)', () => {
  it.each([
    [10239, false],
    [10240, true],
    [50000, true],
  ])('an existing log of %i bytes moved aside: %s', (size, moved) => {
    const path = join(newDirectory(), 'user.log');
    const old = 'x'.repeat(size);
    writeFileSync(path, old);
    userLog(path).log.write('new');
    if (moved) {
      expect(readFileSync(`${path}.0`, 'utf8')).toBe(old);
      expect(readFileSync(path, 'utf8')).toMatch(/^sieve: info: started log at .*\nnew\n$/);
    } else {
      expect(existsSync(`${path}.0`)).toBe(false);
      expect(readFileSync(path, 'utf8')).toMatch(/^x{10239}sieve: info: started log at .*\nnew\n$/);
    }
  });

  it('replaces an older LOG.0', () => {
    const path = join(newDirectory(), 'user.log');
    writeFileSync(`${path}.0`, 'older');
    writeFileSync(path, 'y'.repeat(20000));
    userLog(path).log.write('new');
    expect(readFileSync(`${path}.0`, 'utf8')).toBe('y'.repeat(20000));
  });

  it('only when a delivery starts writing: its own lines never move its log', () => {
    const path = join(newDirectory(), 'user.log');
    const { log } = userLog(path);
    const long = 'z'.repeat(6000);
    log.write(long);
    log.write(long); // the log is now over 10 KiB
    log.write('last');
    expect(existsSync(`${path}.0`)).toBe(false);
    expect(readFileSync(path, 'utf8').split('\n').slice(1)).toEqual([long, long, 'last', '']);
  });

  it('a log that cannot be moved is reported, and still written', () => {
    const path = join(newDirectory(), 'user.log');
    writeFileSync(path, 'x'.repeat(20000));
    mkdirSync(`${path}.0`);
    writeFileSync(join(`${path}.0`, 'in-the-way'), '');
    const { log, errors } = userLog(path);
    log.write('new');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(`sieve: failed to rotate the user log ${path}: `);
    expect(readFileSync(path, 'utf8')).toMatch(/\nnew\n$/);
  });
});

describe('failures', () => {
  it.each([
    ['in a missing directory', (directory: string) => join(directory, 'missing', 'user.log')],
    ['a directory in its place', (directory: string) => (mkdirSync(join(directory, 'user.log')), join(directory, 'user.log'))],
    ['under a file', (directory: string) => (writeFileSync(join(directory, 'file'), ''), join(directory, 'file', 'user.log'))],
  ])('a log that cannot be written (%s) is reported through logError, once per write, never thrown', (_name, makePath) => {
    const path = makePath(newDirectory());
    const { log, errors } = userLog(path);
    expect(() => {
      log.write('one');
      log.failedActions(['two'], '<id@example.org>');
    }).not.toThrow();
    expect(errors).toHaveLength(2);
    for (const error of errors) expect(error).toMatch(new RegExp(`^sieve: failed to write the user log ${path}: \\S`));
  });

  it('a write that failed is retried with its started line', () => {
    const directory = newDirectory();
    const path = join(directory, 'later', 'user.log');
    const { log, errors } = userLog(path);
    log.write('lost');
    mkdirSync(join(directory, 'later'));
    log.write('kept');
    expect(errors).toHaveLength(1);
    expect(readFileSync(path, 'utf8')).toMatch(/^sieve: info: started log at [^\n]*\nkept\n$/);
  });

  it('without a path nothing is written and nothing reported', () => {
    const { log, errors } = userLog(undefined);
    log.write('nowhere');
    log.failedActions(['nowhere either'], '<id@example.org>');
    expect(errors).toEqual([]);
  });
});
