import { describe, expect, it } from 'vitest';
import {
  compilePosixRegex,
  fromOctetString,
  isValidPosixRegex,
  MAX_UNROLLED_ELEMENTS,
  toOctetString,
} from '../../../src/sieve/runtime/regex.js';

/** The whole match (text, not octets), or null; `i` = REG_ICASE. */
function firstMatch(pattern: string, subject: string, flags = ''): string | null {
  const found = compilePosixRegex(pattern, flags === 'i').exec(toOctetString(subject));
  return found === null ? null : fromOctetString(found[0]);
}

function groups(pattern: string, subject: string): (string | undefined)[] | null {
  const found = compilePosixRegex(pattern, false).exec(toOctetString(subject));
  return found === null ? null : Array.from(found);
}

describe('compilePosixRegex matches as glibc regexec does', () => {
  // Each row checked with a C program calling regcomp(REG_EXTENDED [| REG_ICASE]) / regexec.
  const cases: [pattern: string, flags: string, subject: string, match: string | null][] = [
    // escapes: only the GNU operators are special, the rest is the character itself
    ['\\d', '', 'd', 'd'],
    ['\\d', '', '1', null],
    ['\\n', '', 'n', 'n'],
    ['\\w+', '', 'ab_1!', 'ab_1'],
    ['\\s\\S', '', ' x', ' x'],
    ['\\bfoo\\b', '', 'a foo b', 'foo'],
    ['\\bfoo\\b', '', 'afoo', null],
    ['a\\Bb', '', 'ab', 'ab'],
    ['a\\.b', '', 'a.b', 'a.b'],
    ['a\\.b', '', 'axb', null],
    ['\\(', '', '(', '('],
    ['\\{', '', '{', '{'],
    ['\\$', '', '$', '$'],
    ['\\`a', '', 'a', 'a'],
    ["a\\'", '', 'a', 'a'],
    // quantifiers, stacked ones included
    ['a**', '', 'aaa', 'aaa'],
    ['a+*', '', 'aa', 'aa'],
    ['a{,3}', '', 'aaaa', 'aaa'],
    ['a{1,}', '', 'aaa', 'aaa'],
    ['a{,}', '', 'aaa', 'aaa'],
    ['a{1,2}?', '', 'aaa', 'aa'],
    ['a{1\\,2}', '', 'aa', 'aa'],
    ['a{2}*', '', 'aaaaa', 'aaaa'],
    ['a{1}{2}', '', 'aa', 'aa'],
    ['a{1,2}{3}', '', 'aaaaaa', 'aaaaaa'],
    ['x{0,1}{0,1}', '', 'x', 'x'],
    ['a{0}', '', '', ''],
    ['(a){0}b', '', 'b', 'b'],
    ['x*', '', '', ''],
    ['.*', '', '', ''],
    ['a**?', '', 'a', 'a'],
    ['a+?', '', 'a', 'a'],
    ['a??', '', 'a', 'a'],
    ['(a*)*', '', 'b', ''],
    ['(a*)+', '', 'b', ''],
    ['(a|b)*c', '', 'abc', 'abc'],
    // empty alternatives and groups, literal ")" "]" "}"
    ['()', '', 'x', ''],
    ['a||b', '', 'a', 'a'],
    ['|a', '', 'x', ''],
    ['a|', '', 'x', ''],
    ['(a|)+', '', 'a', 'a'],
    ['a)', '', 'a)', 'a)'],
    [']', '', ']', ']'],
    ['}', '', '}', '}'],
    // anchors anywhere
    ['a^b', '', 'a^b', null],
    ['a$b', '', 'a$b', null],
    ['(^a)', '', 'a', 'a'],
    ['b(^a)', '', 'ba', null],
    ['(a$)b', '', 'ab', null],
    ['(^)*', '', 'a', ''],
    ['^$', '', '', ''],
    ['ab|cd', '', 'xcd', 'cd'],
    // bracket expressions
    ['[]a]', '', ']', ']'],
    ['[]a]', '', 'a', 'a'],
    ['[^]a]', '', ']', null],
    ['[^]a]', '', 'b', 'b'],
    ['[a-]', '', '-', '-'],
    ['[]-a]', '', '^', '^'],
    ['[^-a]', '', 'b', 'b'],
    ['[--0]', '', '/', '/'],
    ['[%--]', '', '+', '+'],
    ['[#--]', '', ',', ','],
    ['[]-]', '', '-', '-'],
    ['[a-b-]', '', '-', '-'],
    ['[[:alpha:]-]', '', '-', '-'],
    ['[[:alpha:]]+', '', 'ab1', 'ab'],
    ['[[:alpha:][:digit:]]+', '', 'a1-', 'a1'],
    ['[[:upper:]]', '', 'a', null],
    ['[[:upper:]]', '', 'A', 'A'],
    ['[[:space:]]', '', '\t', '\t'],
    ['[[:punct:]]+', '', 'a!/:@[`{~b', '!/:@[`{~'],
    ['[[:xdigit:]]+', '', 'fF9g', 'fF9'],
    ['[[:cntrl:]]', '', 'a\x7f', '\x7f'],
    ['[[.a.]]', '', 'a', 'a'],
    ['[[.-.]]', '', '-', '-'],
    ['[a-[.z.]]', '', 'm', 'm'],
    ['[[.a.]-c]', '', 'b', 'b'],
    ['[[=a=]]', '', 'a', 'a'],
    ['[\\]', '', '\\', '\\'],
    ['[\\n]', '', 'n', 'n'],
    ['[a]]', '', 'a]', 'a]'],
    ['[[]', '', '[', '['],
    ['[a-a]', '', 'a', 'a'],
    ['[^a]', '', '\n', '\n'],
    ['.', '', '\n', '\n'],
    // REG_ICASE: ASCII only, glibc upper-cases pattern and text
    ['[[:upper:]]', 'i', 'a', 'a'],
    ['[^[:upper:]]', 'i', 'a', null],
    ['[^[:upper:]]', 'i', '1', '1'],
    ['[a-c]', 'i', 'B', 'B'],
    ['[A-C]', 'i', 'b', 'b'],
    ['[^a]', 'i', 'A', null],
    ['[^a]', 'i', 'b', 'b'],
    ['[A-_]', 'i', 'b', 'b'],
    ['[A-_]', 'i', '_', '_'],
    ['[[.a.]-[.c.]]', 'i', 'B', 'B'],
    ['[[=a=]]', 'i', 'A', 'A'],
    ['[\\a]', 'i', 'a', 'a'],
    ['ABC', 'i', 'abc', 'abc'],
    ['\\A', 'i', 'a', 'a'],
    ['\\a', 'i', 'a', null],
    ['\\a', 'i', 'A', null],
    ['\\a', '', 'a', 'a'],
    ['É', 'i', 'é', null],
    // octets, as regexec in the C locale
    ['.', '', 'é', '\ufffd'],
    ['^..$', '', 'é', 'é'],
    ['^.$', '', 'é', null],
    ['é{2}', '', 'éé', null],
    ['[ä]', '', 'ä', '\ufffd'],
    ['[[:alpha:]]', '', 'é', null],
    ['ä', '', 'ä', 'ä'],
    ['^.{4}$', '', '😀', '😀'],
  ];
  it.each(cases)('/%s/%s on %j', (pattern, flags, subject, match) => {
    expect(firstMatch(pattern, subject, flags)).toBe(match);
  });
});

describe('the documented deviation: leftmost-first, not leftmost-longest', () => {
  // Same answer to "does it match", other match variables (glibc's in the comments).
  it.each([
    ['(a|ab)c?', 'abc', ['a', 'a']], // POSIX "abc", "ab"
    ['(|a)', 'a', ['', '']], // POSIX "a", "a"
    ['a||b', 'b', ['']], // POSIX "b"
  ])('/%s/ on %j', (pattern, subject, captures) => {
    expect(groups(pattern, subject)).toEqual(captures);
  });
});

describe('compilePosixRegex errors', () => {
  // glibc's regerror texts, as Pigeonhole prints them (first letter lower-cased).
  const cases: [pattern: string, flags: string, reason: string][] = [
    ['a{', '', 'unmatched \\{'],
    ['a{x', '', 'unmatched \\{'],
    ['a{1', '', 'unmatched \\{'],
    ['a{1,\\}', '', 'unmatched \\{'],
    ['c{[[:digit:]][\\}\\b0', '', 'unmatched \\{'],
    ['a{x}', '', 'invalid content of \\{\\}'],
    ['a{}', '', 'invalid content of \\{\\}'],
    ['a{1x}', '', 'invalid content of \\{\\}'],
    ['a{ 1}', '', 'invalid content of \\{\\}'],
    ['x{1,2,3}', '', 'invalid content of \\{\\}'],
    ['a{2,1}', '', 'invalid content of \\{\\}'],
    ['a{\\1}', '', 'invalid content of \\{\\}'],
    ['a{99999,1}', '', 'invalid content of \\{\\}'],
    ['[[=b=]]{,2}{{,', '', 'invalid content of \\{\\}'],
    ['a{40000}', '', 'regular expression too big'],
    ['a{1,99999}', '', 'regular expression too big'],
    ['{a', '', 'invalid preceding regular expression'],
    ['*a', '', 'invalid preceding regular expression'],
    ['+a', '', 'invalid preceding regular expression'],
    ['?a', '', 'invalid preceding regular expression'],
    ['^*', '', 'invalid preceding regular expression'],
    ['^+', '', 'invalid preceding regular expression'],
    ['$+', '', 'invalid preceding regular expression'],
    ['a$*', '', 'invalid preceding regular expression'],
    ['a\\b*', '', 'invalid preceding regular expression'],
    ['a(*b)', '', 'invalid preceding regular expression'],
    ['a|*', '', 'invalid preceding regular expression'],
    ['a|{', '', 'invalid preceding regular expression'],
    ['x|^*', '', 'invalid preceding regular expression'],
    ['a(|*)', '', 'invalid preceding regular expression'],
    ['(a', '', 'unmatched ( or \\('],
    ['a\\', '', 'trailing backslash'],
    ['[', '', 'invalid regular expression'],
    ['a[', '', 'invalid regular expression'],
    ['[^', '', 'invalid regular expression'],
    ['[a', '', 'unmatched [, [^, [:, [., or [='],
    ['[]', '', 'unmatched [, [^, [:, [., or [='],
    ['[^]', '', 'unmatched [, [^, [:, [., or [='],
    ['[a-', '', 'unmatched [, [^, [:, [., or [='],
    ['[[:alpha:]', '', 'unmatched [, [^, [:, [., or [='],
    ['[[:]', '', 'unmatched [, [^, [:, [., or [='],
    ['[[:a]', '', 'unmatched [, [^, [:, [., or [='],
    ['[[.', '', 'unmatched [, [^, [:, [., or [='],
    ['[[=a', '', 'unmatched [, [^, [:, [., or [='],
    ['[[:foo:]]', '', 'invalid character class name'],
    ['[[:ALPHA:]]', '', 'invalid character class name'],
    ['[[.space.]]', '', 'invalid collation character'],
    ['[z-a]', '', 'invalid range end'],
    ['[a-\\]', '', 'invalid range end'],
    ['[a-c-e]', '', 'invalid range end'],
    ['[a-z-9]', '', 'invalid range end'],
    ['[[:alpha:]-z]', '', 'invalid range end'],
    ['[a-[:alpha:]]', '', 'invalid range end'],
    ['[a-[=c=]]', '', 'invalid range end'],
    ['[[=a=]-c]', '', 'invalid range end'],
    ['[Z-a]', 'i', 'invalid range end'],
    ['[_-a]', 'i', 'invalid range end'],
    // refused here although glibc takes them
    ['(a)\\1', '', 'back-references (\\1 to \\9) are not supported'],
    ['\\<foo\\>', '', 'the word start and end anchors \\< and \\> are not supported'],
  ];
  it.each(cases)('/%s/%s: %s', (pattern, flags, reason) => {
    expect(() => compilePosixRegex(pattern, flags === 'i')).toThrow(reason);
  });

  it('takes the ranges that REG_ICASE alone refuses', () => {
    expect(firstMatch('[Z-a]', '_')).toBe('_');
    expect(firstMatch('[_-a]', '`')).toBe('`');
  });
});

describe('counted repetitions', () => {
  it('captures the last iteration, as POSIX does', () => {
    expect(groups('(a){3}', 'aaa')).toEqual(['aaa', 'a']);
    expect(groups('(a|b){3}', 'abb')).toEqual(['abb', 'b']);
    expect(groups('(a|b){2,4}', 'abba')).toEqual(['abba', 'a']);
    expect(groups('(a|b){0,3}x', 'bax')).toEqual(['bax', 'a']);
    expect(groups('(a|b){0,3}x', 'x')).toEqual(['x', undefined]);
    expect(groups('(a|b){2,}', 'abab')).toEqual(['abab', 'b']);
    expect(groups('((a)b){2}', 'abab')).toEqual(['abab', 'ab', 'a']);
    expect(groups('(a){0}(b)', 'b')).toEqual(['b', undefined, 'b']);
  });

  it('keeps group numbers when groups are repeated', () => {
    expect(groups('(x)(a){2}(y)', 'xaay')).toEqual(['xaay', 'x', 'a', 'y']);
    expect(() => compilePosixRegex('(?:x)', false)).toThrow('invalid preceding regular expression');
  });

  it('unrolls up to the limit on added elements', () => {
    expect(firstMatch(`^a{${MAX_UNROLLED_ELEMENTS + 1}}$`, 'a'.repeat(MAX_UNROLLED_ELEMENTS + 1))).not.toBeNull();
    expect(() => compilePosixRegex(`a{${MAX_UNROLLED_ELEMENTS + 2}}`, false)).toThrow('regular expression too big');
    expect(() => compilePosixRegex('(a{0,100}){0,101}', false)).toThrow('regular expression too big');
    expect(firstMatch('^((((a{2}){2}){2}){2}){2}$', 'a'.repeat(32))).toBe('a'.repeat(32));
    expect(firstMatch('^[a-z]{2,20}$', 'abcdefghijklmnopqrst')).not.toBeNull();
    expect(firstMatch('^[a-z]{2,20}$', 'abcdefghijklmnopqrstu')).toBeNull();
  });
});

describe('hostile patterns', () => {
  // Exponential on a backtracking engine; linear here. A hang fails the test by its timeout.
  it.each([
    ['(a+)+b', 'a'.repeat(100_000)],
    ['(a|a)*b', 'a'.repeat(100_000)],
    ['((a*)*)*b', 'a'.repeat(100_000)],
    ['(x+x+)+y', 'x'.repeat(100_000)],
    ['(.*a){12}', 'a'.repeat(10_000) + 'b'],
  ])('/%s/ on a long text', (pattern, subject) => {
    expect(compilePosixRegex(pattern, false).test(subject)).toBe(pattern === '(.*a){12}');
  }, 5000);
});

describe('isValidPosixRegex', () => {
  it.each([
    ['^(re|fwd?):', undefined],
    ['[a-z0-9._%+-]+@[a-z0-9.-]+\\.[a-z]{2,}', undefined],
    ['', undefined],
    ['(a', 'unmatched ( or \\('],
    ['\\1', 'back-references (\\1 to \\9) are not supported'],
  ])('%j → %s', (pattern, reason) => {
    expect(isValidPosixRegex(pattern)).toBe(reason);
  });

  it('checks case-insensitively when asked', () => {
    expect(isValidPosixRegex('[_-a]')).toBeUndefined();
    expect(isValidPosixRegex('[_-a]', true)).toBe('invalid range end');
  });
});

describe('octet strings', () => {
  it.each([
    ['ascii', 'ascii'],
    ['é', '\u00c3\u00a9'],
    ['😀', '\u00f0\u009f\u0098\u0080'],
    ['', ''],
  ])('%j ⇄ %j', (text, octets) => {
    expect(toOctetString(text)).toBe(octets);
    expect(fromOctetString(octets)).toBe(text);
  });

  it('turns a split character into U+FFFD', () => {
    expect(fromOctetString('\u00c3')).toBe('\ufffd');
  });
});
