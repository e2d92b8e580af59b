import { describe, it, expect } from 'vitest';
import { maildirFileName, maildirFlagLetters, nextMaildirBaseName } from '../../../src/storage/maildir/filename.js';
import { parseMessageFlags } from '../../../src/storage/flags.js';

function parts(name: string): { micros: number; rest: string } {
  const match = /^(\d+)\.M(\d+)P(\d+)\.(.*)$/.exec(name);
  if (!match) throw new Error(`not a Maildir base name: ${name}`);
  return { micros: Number(match[1]) * 1_000_000 + Number(match[2]), rest: `P${match[3]}.${match[4]}` };
}

describe('nextMaildirBaseName', () => {
  it('names from the real clock are strictly increasing and near now (runs first)', () => {
    const names = Array.from({ length: 1000 }, () => nextMaildirBaseName('h'));
    const micros = names.map((name) => parts(name).micros);
    for (let index = 1; index < micros.length; index++) expect(micros[index]).toBeGreaterThan(micros[index - 1]);
    expect(parts(names[0]).rest).toBe(`P${process.pid}.h`);
    expect(Math.abs(micros[0] / 1000 - Date.now())).toBeLessThan(5000);
  });

  it('formats <sec>.M<usec>P<pid>.<host> without zero padding', () => {
    // far in the future, so the module's "last name" cannot be ahead of it
    expect(nextMaildirBaseName('mx.example', 4321, 4_000_000_000_000_042)).toBe('4000000000.M42P4321.mx.example');
  });

  it('bumps the microseconds (carrying into the seconds) when the clock does not move', () => {
    expect(nextMaildirBaseName('h', 1, 4_000_000_001_999_999)).toBe('4000000001.M999999P1.h');
    expect(nextMaildirBaseName('h', 1, 4_000_000_001_999_999)).toBe('4000000002.M0P1.h');
    expect(nextMaildirBaseName('h', 1, 4_000_000_001_000_000)).toBe('4000000002.M1P1.h');
  });
});

describe('maildirFileName', () => {
  it.each([
    ['1.M2P3.h', 17, 20, '1.M2P3.h,S=17,W=20'],
    ['1.M2P3.h', 0, 0, '1.M2P3.h,S=0,W=0'],
  ])('%s S=%d W=%d', (base, size, vsize, name) => {
    expect(maildirFileName(base, size, vsize)).toBe(name);
  });

  it.each([
    ['FSab', '1.M2P3.h,S=17,W=20:2,FSab'],
    ['', '1.M2P3.h,S=17,W=20:2,'],
  ])('with flag letters %j', (letters, name) => {
    expect(maildirFileName('1.M2P3.h', 17, 20, letters)).toBe(name);
  });
});

describe('maildirFlagLetters', () => {
  it.each([
    [['\\Seen'], '', 'S'],
    [['\\Seen', '\\Answered', '\\Draft', '\\Deleted', '\\Flagged'], '', 'DFRST'],
    [['\\Flagged', '\\Seen'], 'ab', 'FSab'],
    [[], 'c', 'c'],
    [['\\Recent'], '', ''],
  ])('%j + %j → %j', (flags, keywordLetters, letters) => {
    expect(maildirFlagLetters(parseMessageFlags(flags).system, keywordLetters)).toBe(letters);
  });
});
