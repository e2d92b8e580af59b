import { describe, expect, it } from 'vitest';
import { hasAnyFlag, isValidKeyword, parseMessageFlags } from '../../src/storage/flags.js';
import { asciiLowerCase } from '../../src/message/ascii.js';

describe('isValidKeyword', () => {
  it.each([
    ['Junk', true],
    ['$Label1', true],
    ['$', true],
    ["x~!@#^&-_=+[}|;:,.<>/?`'", true],
    ['x'.repeat(50), true],
    ['x'.repeat(51), false],
    ['', false],
    ['two words', false],
    ['a(b', false],
    ['a)b', false],
    ['a{b', false],
    ['a"b', false],
    ['a\\b', false],
    ['a]b', false],
    ['a%b', false],
    ['a*', false],
    ['tab\there', false],
    ['nul\x00', false],
    ['del\x7f', false],
    ['Ünï', false],
  ])('%j → %s', (name, valid) => {
    expect(isValidKeyword(name)).toBe(valid);
  });
});

describe('parseMessageFlags', () => {
  it.each<[string, string[] | undefined, string[], string[]]>([
    ['nothing', undefined, [], []],
    ['an empty list', [], [], []],
    ['the five system flags', ['\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft'], ['seen', 'answered', 'flagged', 'deleted', 'draft'], []],
    ['system flags in any case', ['\\seen', '\\FLAGGED'], ['seen', 'flagged'], []],
    ['\\Recent and unknown backslash flags dropped', ['\\Recent', '\\Foo', '\\', '\\Seen'], ['seen'], []],
    ['keywords in the order given', ['Zeta', 'alpha', '$Label1'], [], ['Zeta', 'alpha', '$Label1']],
    ['case-insensitive duplicates: the first spelling stays', ['Junk', 'JUNK', 'junk', 'Work'], [], ['Junk', 'Work']],
    ['invalid keywords dropped one by one', ['ok', 'foo]bar', 'two words', 'x'.repeat(51), 'also-ok'], [], ['ok', 'also-ok']],
    ['flags and keywords mixed', ['Junk', '\\Seen', '$Label1'], ['seen'], ['Junk', '$Label1']],
  ])('%s', (_name, flags, system, keywords) => {
    const parsed = parseMessageFlags(flags);
    expect([...parsed.system].sort()).toEqual([...system].sort());
    expect(parsed.keywords).toEqual(keywords);
  });

  it('hasAnyFlag is false only when nothing valid is left', () => {
    expect(hasAnyFlag(parseMessageFlags(['\\Recent', 'bad word']))).toBe(false);
    expect(hasAnyFlag(parseMessageFlags(['\\Draft']))).toBe(true);
    expect(hasAnyFlag(parseMessageFlags(['Junk']))).toBe(true);
  });
});

describe('asciiLowerCase', () => {
  it('folds ASCII letters only, as strcasecmp', () => {
    expect(asciiLowerCase('$Label1 JUNK')).toBe('$label1 junk');
    expect(asciiLowerCase('\xc9t\xc9')).toBe('\xc9t\xc9');
  });
});
