import { describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import {
  assignKeywords,
  formatDovecotKeywords,
  keywordLetters,
  maildirKeywordLetters,
  parseDovecotKeywords,
  type KeywordsTarget,
} from '../../../src/storage/maildir/keywords.js';
import { MailboxError } from '../../../src/storage/errors.js';
import { useTempDirs } from '../helpers/fixtures.js';

const tempDir = useTempDirs();

describe('parseDovecotKeywords', () => {
  it.each<[string, string, (string | undefined)[]]>([
    ['empty', '', []],
    ['in order', '0 $Label1\n1 Junk\n', ['$Label1', 'Junk']],
    ['with a gap', '0 junk\n3 Foo\n', ['junk', undefined, undefined, 'Foo']],
    // what Dovecot 2.3.19 skipped when it rewrote such a file
    ['lines it does not understand', 'bogus\nx Bar\n30 Over\n5 \n-1 Neg\n 1 Lead\n', []],
    ['a name with spaces is the rest of the line', '2 a b\n', [undefined, undefined, 'a b']],
    ['CR before LF dropped', '0 A\r\n', ['A']],
    ['an unterminated last line ignored', '0 A\n1 C', ['A']],
    ['leading zeros', '02 X\n', [undefined, undefined, 'X']],
    ['the last line for an index wins', '0 A\n0 B\n', ['B']],
    ['index 25 is the last', '25 z\n26 no\n', [...Array<undefined>(25), 'z']],
  ])('%s', (_name, content, slots) => {
    expect(parseDovecotKeywords(Buffer.from(content, 'latin1'))).toEqual(slots);
  });
});

describe('formatDovecotKeywords', () => {
  it('writes "<index> <name>\\n" for the used indexes only', () => {
    expect(formatDovecotKeywords(['junk', 'Bar', undefined, 'Foo']).toString()).toBe('0 junk\n1 Bar\n3 Foo\n');
    expect(formatDovecotKeywords([]).toString()).toBe('');
  });
});

describe('assignKeywords', () => {
  it.each<[string, (string | undefined)[], string[], number[], (string | undefined)[] | undefined]>([
    ['a fresh mailbox, in the order given', [], ['$Label1', 'Junk'], [0, 1], ['$Label1', 'Junk']],
    ['known names, case-insensitively', ['junk', 'Work'], ['WORK', 'Junk'], [1, 0], undefined],
    // dovecot-lda: 0 junk, 3 Foo + Bar Junk Baz foo Qux → 0 junk 1 Bar 2 Baz 3 Foo 4 Qux
    ['new names fill the gaps first', ['junk', undefined, undefined, 'Foo'], ['Bar', 'Junk', 'Baz', 'foo', 'Qux'], [1, 0, 2, 3, 4], ['junk', 'Bar', 'Baz', 'Foo', 'Qux']],
    ['one name spelt on two lines: the first counts', ['A', 'a'], ['a'], [0], undefined],
  ])('%s', (_name, slots, keywords, indexes, added) => {
    expect(assignKeywords(slots, keywords)).toEqual(added === undefined ? { indexes } : { indexes, added });
  });

  it('past 26 keywords there is no letter: the rest are left out', () => {
    const thirty = Array.from({ length: 30 }, (_, index) => `k${index}`);
    const { indexes, added } = assignKeywords([], thirty);
    expect(indexes).toEqual(Array.from({ length: 26 }, (_, index) => index));
    expect(added).toEqual(thirty.slice(0, 26));
    const full = assignKeywords(added!, ['k3', 'new']);
    expect(full).toEqual({ indexes: [3] });
  });
});

describe('keywordLetters', () => {
  it('sorts and dedupes', () => {
    expect(keywordLetters([3, 0, 3, 25])).toBe('adz');
    expect(keywordLetters([])).toBe('');
  });
});

describe('maildirKeywordLetters', () => {
  function target(directory: string, overrides: Partial<KeywordsTarget> = {}): KeywordsTarget {
    return { directory, permissions: { fileMode: 0o600, dirMode: 0o700 }, fsync: true, hostname: hostname(), ...overrides };
  }

  it('creates dovecot-keywords in a fresh mailbox, with the mailbox file mode, leaving no lock behind', async () => {
    const dir = tempDir();
    expect(await maildirKeywordLetters(['$Label1', 'Junk'], target(dir, { permissions: { fileMode: 0o640, dirMode: 0o750 } }))).toBe('ab');
    expect(readFileSync(`${dir}/dovecot-keywords`, 'utf8')).toBe('0 $Label1\n1 Junk\n');
    expect(statSync(`${dir}/dovecot-keywords`).mode & 0o777).toBe(0o640);
    expect(existsSync(`${dir}/dovecot-keywords.lock`)).toBe(false);
    expect(existsSync(`${dir}/dovecot-uidlist.lock`)).toBe(false);
  });

  it('rewrites the file with only the lines it understood when a keyword is added', async () => {
    const dir = tempDir();
    writeFileSync(`${dir}/dovecot-keywords`, '0 junk\n3 Foo\nbogus\nx Bar\n30 Over\n5 \n');
    expect(await maildirKeywordLetters(['Bar', 'Junk', 'Baz', 'foo', 'Qux'], target(dir))).toBe('abcde');
    expect(readFileSync(`${dir}/dovecot-keywords`, 'utf8')).toBe('0 junk\n1 Bar\n2 Baz\n3 Foo\n4 Qux\n');
  });

  it('leaves the file alone, and takes no lock, when every keyword is known', async () => {
    const dir = tempDir();
    const content = '0 A\r\n1 b\nnoise\n';
    writeFileSync(`${dir}/dovecot-keywords`, content);
    writeFileSync(`${dir}/dovecot-uidlist.lock`, `${process.pid}:${hostname()}`); // would block an addition
    expect(await maildirKeywordLetters(['B', 'a'], target(dir))).toBe('ab');
    expect(readFileSync(`${dir}/dovecot-keywords`, 'utf8')).toBe(content);
  });

  it('makes the mtime grow by a second when the rewrite lands in the same second', async () => {
    const dir = tempDir();
    const future = Math.floor(Date.now() / 1000) + 100;
    writeFileSync(`${dir}/dovecot-keywords`, '0 A\n');
    utimesSync(`${dir}/dovecot-keywords`, future, future);
    await maildirKeywordLetters(['B'], target(dir));
    expect(Math.floor(statSync(`${dir}/dovecot-keywords`).mtimeMs / 1000)).toBe(future + 1);
  });

  it('replaces a leftover dovecot-keywords.lock (the uidlist lock is what guards it)', async () => {
    const dir = tempDir();
    writeFileSync(`${dir}/dovecot-keywords.lock`, 'half-written');
    expect(await maildirKeywordLetters(['Junk'], target(dir))).toBe('a');
    expect(readFileSync(`${dir}/dovecot-keywords`, 'utf8')).toBe('0 Junk\n');
    expect(existsSync(`${dir}/dovecot-keywords.lock`)).toBe(false);
  });

  it('creates a missing control directory', async () => {
    const dir = `${tempDir()}/control/.INBOX`;
    expect(await maildirKeywordLetters(['Junk'], target(dir))).toBe('a');
    expect(readFileSync(`${dir}/dovecot-keywords`, 'utf8')).toBe('0 Junk\n');
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });

  it('concurrent deliveries never hand out one letter twice', async () => {
    const dir = tempDir();
    const names = Array.from({ length: 12 }, (_, index) => `kw${index}`);
    const letters = await Promise.all(names.map((name) => maildirKeywordLetters([name], target(dir))));
    const slots = parseDovecotKeywords(readFileSync(`${dir}/dovecot-keywords`));
    expect(new Set(letters).size).toBe(names.length);
    names.forEach((name, index) => expect(slots[letters[index].charCodeAt(0) - 0x61]).toBe(name));
  });

  it('waits for the uidlist lock held by another; an abort while waiting fails temporarily', async () => {
    const dir = tempDir();
    mkdirSync(dir, { recursive: true });
    writeFileSync(`${dir}/dovecot-uidlist.lock`, `${process.pid}:${hostname()}`);
    const abort = new AbortController();
    setTimeout(() => abort.abort(new Error('Killed with signal SIGTERM')), 300);
    const error = await maildirKeywordLetters(['Junk'], target(dir, { signal: abort.signal })).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(MailboxError);
    expect((error as MailboxError).message).toMatch(/SIGTERM/);
    expect(existsSync(`${dir}/dovecot-keywords`)).toBe(false);
  });
});
