import { describe, it, expect } from 'vitest';
import { existsSync, mkdirSync, readFileSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { subscribe, tabEscape, withSubscription, type SubscriptionTarget } from '../../src/storage/subscriptions.js';
import { MailboxError } from '../../src/storage/errors.js';
import { useTempDirs } from './helpers/fixtures.js';

const tempDir = useTempDirs();

function added(current: string | undefined, name: string, separator = '.'): string | undefined {
  return withSubscription(current === undefined ? undefined : Buffer.from(current, 'latin1'), name, separator)?.toString('latin1');
}

describe('tabEscape', () => {
  it.each([
    ['plain', 'plain'],
    ['a\tb', 'a\x01tb'],
    ['\x01', '\x011'],
    ['cr\rlf\n', 'cr\x01rlf\x01n'],
  ])('%j → %j', (text, escaped) => {
    expect(tabEscape(text)).toBe(escaped);
  });
});

describe('withSubscription', () => {
  // expected bytes as dovecot-lda 2.3.19 wrote them (lda_mailbox_autosubscribe=yes)
  it.each<[string, string | undefined, string, string, string | undefined]>([
    ['new file: header, levels split by TAB', undefined, 'a.b.c', '.', 'V\t2\n\na\tb\tc\n'],
    ['new file, fs layout', undefined, 'x/y', '/', 'V\t2\n\nx\ty\n'],
    ['modified UTF-7 names as stored', undefined, '&ANw-n&AO8-.&AOQ-&-b', '.', 'V\t2\n\n&ANw-n&AO8-\t&AOQ-&-b\n'],
    ['INBOX in any case is INBOX', undefined, 'inbox', '.', 'V\t2\n\nINBOX\n'],
    ['v2 file: appended', 'V\t2\n\nfoo\n', 'a.b', '.', 'V\t2\n\nfoo\na\tb\n'],
    ['v1 file stays v1 with plain names', 'foo\n', 'a.b', '.', 'foo\na.b\n'],
    ['an empty file is v1', '', 'a.b', '.', 'a.b\n'],
    ['a last line without newline is kept', 'V\t2\n\nfoo\nbar', 'a.b', '.', 'V\t2\n\nfoo\nbar\na\tb\n'],
    ['already subscribed (v2)', 'V\t2\n\nfoo\na\tb\n', 'a.b', '.', undefined],
    ['already subscribed (v1)', 'a.b\n', 'a.b', '.', undefined],
    ['UTF-8 names byte for byte', 'V\t2\n\n', 'Ünï.ä', '.', 'V\t2\n\n\xc3\x9cn\xc3\xaf\t\xc3\xa4\n'],
    ['a level with a TAB is escaped', undefined, 'a\tb.c', '.', 'V\t2\n\na\x01tb\tc\n'],
  ])('%s', (_case, current, name, separator, expected) => {
    expect(added(current, name, separator)).toBe(expected);
  });

  it('keeps bytes that are not UTF-8', () => {
    const current = Buffer.from([0x56, 0x09, 0x32, 0x0a, 0x0a, 0xff, 0xfe, 0x0a]);
    expect(withSubscription(current, 'x', '.')).toEqual(Buffer.concat([current, Buffer.from('x\n')]));
  });
});

describe('subscribe', () => {
  function target(dir: string, overrides: Partial<SubscriptionTarget> = {}): SubscriptionTarget {
    return {
      file: `${dir}/subscriptions`,
      storageName: 'a.b',
      storageSeparator: '.',
      permissions: { fileMode: 0o640, dirMode: 0o750 },
      fsync: true,
      ...overrides,
    };
  }
  const quick = { timeoutMs: 300, staleMs: 30_000, retryMs: 20 };

  it('creates the file with the given mode and leaves no lock behind', async () => {
    const dir = tempDir();
    expect(await subscribe(target(dir))).toBe(true);
    expect(readFileSync(`${dir}/subscriptions`, 'latin1')).toBe('V\t2\n\na\tb\n');
    expect(statSync(`${dir}/subscriptions`).mode & 0o777).toBe(0o640);
    expect(existsSync(`${dir}/subscriptions.lock`)).toBe(false);
  });

  it('does not rewrite the file when already subscribed', async () => {
    const dir = tempDir();
    writeFileSync(`${dir}/subscriptions`, 'V\t2\n\na\tb\n', { mode: 0o600 });
    const before = statSync(`${dir}/subscriptions`);
    expect(await subscribe(target(dir))).toBe(false);
    const after = statSync(`${dir}/subscriptions`);
    expect(after.ino).toBe(before.ino);
    expect(existsSync(`${dir}/subscriptions.lock`)).toBe(false);
  });

  it('creates a missing control directory', async () => {
    const dir = tempDir();
    await subscribe(target(dir, { file: `${dir}/control/x/subs` }));
    expect(readFileSync(`${dir}/control/x/subs`, 'latin1')).toBe('V\t2\n\na\tb\n');
    expect(statSync(`${dir}/control/x`).mode & 0o777).toBe(0o750);
  });

  it('waits for a fresh lock and times out with a temporary error', async () => {
    const dir = tempDir();
    writeFileSync(`${dir}/subscriptions.lock`, '');
    const error = await subscribe(target(dir), quick).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(MailboxError);
    expect(error).toMatchObject({ kind: 'temporary' });
    expect((error as Error).message).toMatch(/^Timeout waiting for subscription file lock/);
    expect(existsSync(`${dir}/subscriptions`)).toBe(false);
    expect(existsSync(`${dir}/subscriptions.lock`)).toBe(true);
  });

  it('overrides a stale lock', async () => {
    const dir = tempDir();
    writeFileSync(`${dir}/subscriptions.lock`, 'left over');
    const old = new Date(Date.now() - 60_000);
    utimesSync(`${dir}/subscriptions.lock`, old, old);
    expect(await subscribe(target(dir), quick)).toBe(true);
    expect(readFileSync(`${dir}/subscriptions`, 'latin1')).toBe('V\t2\n\na\tb\n');
  });

  it('gets the lock once the other holder is done', async () => {
    const dir = tempDir();
    writeFileSync(`${dir}/subscriptions.lock`, '');
    setTimeout(() => {
      writeFileSync(`${dir}/subscriptions`, 'foo\n');
      unlinkSync(`${dir}/subscriptions.lock`);
    }, 50);
    expect(await subscribe(target(dir), { ...quick, timeoutMs: 5000 })).toBe(true);
    expect(readFileSync(`${dir}/subscriptions`, 'latin1')).toBe('foo\na.b\n');
  });

  it('a subscriptions path that is a directory fails temporarily and removes the lock', async () => {
    const dir = tempDir();
    mkdirSync(`${dir}/subscriptions`);
    const error = await subscribe(target(dir)).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ kind: 'temporary' });
    expect(existsSync(`${dir}/subscriptions.lock`)).toBe(false);
  });
});
