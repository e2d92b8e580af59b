import { describe, expect, it } from 'vitest';
import type { MatchType, RelationalOperator } from '../../../src/sieve/compiled.js';
import { SieveRuntimeError } from '../../../src/sieve/run-types.js';
import { comparatorFor, SUPPORTED_COMPARATORS } from '../../../src/sieve/runtime/comparator.js';
import { MAX_MATCH_VALUES, matchValues, type MatchOutcome } from '../../../src/sieve/runtime/match.js';

const CASEMAP = 'i;ascii-casemap';
const OCTET = 'i;octet';
const NUMERIC = 'i;ascii-numeric';

function match(
  type: MatchType,
  values: string | string[],
  keys: string | string[],
  comparator = CASEMAP,
  relation?: RelationalOperator,
): MatchOutcome {
  return matchValues([values].flat(), [keys].flat(), { type, comparator, relation });
}

describe('comparators', () => {
  it('are the three Pigeonhole has', () => {
    expect(SUPPORTED_COMPARATORS).toEqual(['i;octet', 'i;ascii-casemap', 'i;ascii-numeric']);
  });

  // sign of compare(a, b)
  const ordering: [comparator: string, a: string, b: string, order: number][] = [
    [OCTET, 'abc', 'abc', 0],
    [OCTET, 'abc', 'abd', -1],
    [OCTET, 'abc', 'abcd', -1],
    [OCTET, 'B', 'a', -1],
    [OCTET, 'é', 'z', 1],
    // UTF-8 order: an astral character sorts after U+FFFD (JS's < would say before)
    [OCTET, '😀', '\ufffd', 1],
    [OCTET, '', '', 0],
    // strncasecmp folds to lower case: "_" (0x5F) sorts before "a"/"A" (checked with sieve-test)
    [CASEMAP, '_', 'a', -1],
    [CASEMAP, '_', 'A', -1],
    [CASEMAP, 'ABC', 'abc', 0],
    [CASEMAP, 'abc', 'ABCD', -1],
    [CASEMAP, 'É', 'é', -1],
    // RFC 4790 9.1: leading digits; no digits = positive infinity
    [NUMERIC, '123', '0123', 0],
    [NUMERIC, '123abc', '123', 0],
    [NUMERIC, '2', '10', -1],
    [NUMERIC, '10', '9', 1],
    [NUMERIC, '0', '', -1],
    [NUMERIC, 'abc', 'def', 0],
    [NUMERIC, '', 'abc', 0],
    [NUMERIC, 'x1', '99999', 1],
    [NUMERIC, '000', '0', 0],
    [NUMERIC, '99999999999999999999', '100000000000000000000', -1],
    [NUMERIC, '18446744073709551617', '18446744073709551616', 1],
  ];
  it.each(ordering)('%s: %j vs %j → %d', (comparator, a, b, order) => {
    expect(Math.sign(comparatorFor(comparator).compare(a, b))).toBe(order);
    expect(Math.sign(comparatorFor(comparator).compare(b, a))).toBe(0 - order);
    expect(comparatorFor(comparator).equals(a, b)).toBe(order === 0);
  });

  it('refuses an unknown comparator', () => {
    expect(() => comparatorFor('i;unicode-casemap')).toThrow(SieveRuntimeError);
    expect(() => match('is', 'a', 'a', 'i;unicode-casemap')).toThrow("unknown comparator 'i;unicode-casemap'");
  });
});

describe(':is and :contains', () => {
  const cases: [type: MatchType, value: string, key: string, comparator: string, matched: boolean][] = [
    ['is', 'Frobnitz', 'frobnitz', CASEMAP, true],
    ['is', 'Frobnitz', 'frobnitz', OCTET, false],
    ['is', 'Frobnitz', 'Frobnitz', OCTET, true],
    ['is', 'Éa', 'éa', CASEMAP, false],
    ['is', '', '', CASEMAP, true],
    ['is', 'a', '', CASEMAP, false],
    ['is', '0123abc', '123', NUMERIC, true],
    ['is', 'abc', 'xyz', NUMERIC, true],
    ['is', '12', '13', NUMERIC, false],
    // RFC 5228 2.7.1 example
    ['contains', 'MAKE MONEY FAST', 'money', CASEMAP, true],
    ['contains', 'MAKE MONEY FAST', 'money', OCTET, false],
    ['contains', 'abc', '', CASEMAP, true],
    ['contains', '', '', CASEMAP, true],
    ['contains', '', 'a', CASEMAP, false],
    ['contains', 'Grüße', 'rü', CASEMAP, true],
  ];
  it.each(cases)(':%s %j %j (%s) → %s', (type, value, key, comparator, matched) => {
    expect(match(type, value, key, comparator)).toEqual({ matched });
  });

  it('is true when any value matches any key', () => {
    expect(match('is', ['a', 'b'], ['c', 'B']).matched).toBe(true);
    expect(match('contains', ['a', 'b'], ['c', 'd']).matched).toBe(false);
    expect(match('is', [], ['']).matched).toBe(false);
    expect(match('is', ['a'], []).matched).toBe(false);
  });

  it('refuses i;ascii-numeric with a substring match', () => {
    expect(() => match('contains', '123', '2', NUMERIC)).toThrow(
      'the specified i;ascii-numeric comparator does not support sub-string matching as required by the :contains match type',
    );
    expect(() => match('matches', '123', '*', NUMERIC)).toThrow(SieveRuntimeError);
    expect(() => match('regex', '123', '2', NUMERIC)).toThrow('regex match type only supports i;octet and i;ascii-casemap comparators');
  });
});

describe(':matches', () => {
  // Captures checked against Pigeonhole (sieve-test, string :matches + fileinto "${0}..${7}").
  const cases: [value: string, key: string, comparator: string, captures: string[] | null][] = [
    // RFC 5229 section 3.2
    [
      '[acme-users] [fwd] version 1.0 is out',
      '[*] *',
      CASEMAP,
      ['[acme-users] [fwd] version 1.0 is out', 'acme-users', '[fwd] version 1.0 is out'],
    ],
    ['coyote@ACME.Example.COM', 'coyote@**.com', CASEMAP, ['coyote@ACME.Example.COM', '', 'ACME.Example']],
    [
      'Acme users <acme-users@lists.example.com>',
      '*<*@*',
      CASEMAP,
      ['Acme users <acme-users@lists.example.com>', 'Acme users ', 'acme-users', 'lists.example.com>'],
    ],
    // RFC 5229 section 5: " ${state} " with state "x pending" against "* pending *"
    [' x pending ', '* pending *', CASEMAP, [' x pending ', ' x', '']],
    // each * as short as the rest allows, left to right; the part after the last * ends the value
    ['aXbYb', 'a*b', CASEMAP, ['aXbYb', 'XbY']],
    ['aXbYbZ', '*b*', CASEMAP, ['aXbYbZ', 'aX', 'YbZ']],
    ['abc', '**c', CASEMAP, ['abc', '', 'ab']],
    ['abcde', '*?c*', CASEMAP, ['abcde', 'a', 'b', 'de']],
    ['abcbde', '*b?e', CASEMAP, ['abcbde', 'abc', 'd']],
    ['abcd', 'a?c?', CASEMAP, ['abcd', 'b', 'd']],
    ['abcd', 'a??d', CASEMAP, ['abcd', 'b', 'c']],
    ['xabcd', '?a?c?', CASEMAP, ['xabcd', 'x', 'b', 'd']],
    ['abc', '???', CASEMAP, ['abc', 'a', 'b', 'c']],
    [
      'stephan+sieve@friep.example.com',
      '*@fri*p*examp*.com',
      CASEMAP,
      ['stephan+sieve@friep.example.com', 'stephan+sieve', 'e', '.', 'le'],
    ],
    ['stephan+sieve@friep.example.com', '*@f*pex*mple.com', CASEMAP, null],
    ['stephan+sieve@friep.example.com', 'stephan+sieve?friep.example.com', CASEMAP, ['stephan+sieve@friep.example.com', '@']],
    // anchoring
    ['frobnitzm', 'frob*', CASEMAP, ['frobnitzm', 'nitzm']],
    ['frobnitzm', '*nitzm', CASEMAP, ['frobnitzm', 'frob']],
    ['frobnitzm', 'frob', CASEMAP, null],
    ['frobnitzm', 'nitzm', CASEMAP, null],
    ['abc', 'ab', CASEMAP, null],
    ['abc', 'ab*bc', CASEMAP, null],
    ['', '', CASEMAP, ['']],
    ['', '*', CASEMAP, ['', '']],
    ['', '?', CASEMAP, null],
    ['a', '', CASEMAP, null],
    // escapes (the Sieve string "a\\*b" is the key a\*b)
    ['a*b', 'a\\*b', CASEMAP, ['a*b']],
    ['axb', 'a\\*b', CASEMAP, null],
    ['a?b', 'a\\?b', CASEMAP, ['a?b']],
    ['axb', 'a\\?b', CASEMAP, null],
    ['a\\b', 'a\\\\b', CASEMAP, ['a\\b']],
    ['ab', 'a\\b', CASEMAP, ['ab']],
    ['a\\', 'a\\', CASEMAP, ['a\\']],
    // comparators
    ['ABC', 'a?c', CASEMAP, ['ABC', 'B']],
    ['ABC', 'a*', CASEMAP, ['ABC', 'BC']],
    ['ABC', 'a?c', OCTET, null],
    ['ABC', 'A*', OCTET, ['ABC', 'BC']],
    // octets, as RFC 5228 2.7.1 and Pigeonhole: "?" is one octet of the UTF-8 text
    ['é', '?', CASEMAP, null],
    ['é', '??', CASEMAP, ['é', '\ufffd', '\ufffd']],
    ['Grüße', 'Gr*e', CASEMAP, ['Grüße', 'üß']],
    ['Grüße', 'Gr??ße', CASEMAP, ['Grüße', '\ufffd', '\ufffd']],
    ['😀x', '????x', CASEMAP, ['😀x', '\ufffd', '\ufffd', '\ufffd', '\ufffd']],
    ['ÉA', 'éa', CASEMAP, null],
  ];
  it.each(cases)('%j :matches %j (%s)', (value, key, comparator, captures) => {
    expect(match('matches', value, key, comparator)).toEqual(captures === null ? { matched: false } : { matched: true, captures });
  });

  it('takes the captures of the first value, then key, that matches', () => {
    expect(match('matches', ['nope', 'second one', 'third one'], ['x*', '* one', 'th*']).captures).toEqual(['second one', 'second']);
    expect(match('matches', ['abc'], ['z*', 'a*', '*c']).captures).toEqual(['abc', 'bc']);
  });

  it('departs from two Pigeonhole bugs (a "?" before any "*"; "*?*" on one character)', () => {
    // Pigeonhole 2.3.19 says true here, ignoring the failed "aa"
    expect(match('matches', 'Bcb', '?aa*').matched).toBe(false);
    expect(match('matches', 'Bab', '?a*').captures).toEqual(['Bab', 'B', 'b']);
    // and false here
    expect(match('matches', 'A', '*?*').captures).toEqual(['A', '', 'A', '']);
  });

  it('stays linear on hostile keys', () => {
    const value = 'a'.repeat(1_000_000);
    expect(match('matches', value, '*a*a*a*a*a*b').matched).toBe(false);
    expect(match('matches', value, '*a?a?a?a?a?b*').matched).toBe(false);
    expect(match('matches', value, '*a*a*a*a*a*').matched).toBe(true);
    expect(match('matches', 'ab'.repeat(100_000), '*?b?b?b?b?b?c*').matched).toBe(false);
  }, 5000);
});

describe(':regex', () => {
  const cases: [value: string, key: string, comparator: string, captures: string[] | null][] = [
    ['Subject: hello', '^subject: (.*)$', CASEMAP, ['Subject: hello', 'hello']],
    ['Subject: hello', '^subject: (.*)$', OCTET, null],
    ['abc', '(a)(x)?(c)?', CASEMAP, ['a', 'a', '', '']],
    ['abcdefghijk', '(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)', OCTET, ['abcdefghijk', ...'abcdefghijk']],
    ['x', '', OCTET, ['']],
    ['é', '^..$', OCTET, ['é']],
    ['é', '^.$', OCTET, null],
    ['Café au lait', 'caf(.*) au', CASEMAP, ['Café au', 'é']],
  ];
  it.each(cases)('%j :regex %j (%s)', (value, key, comparator, captures) => {
    expect(match('regex', value, key, comparator)).toEqual(captures === null ? { matched: false } : { matched: true, captures });
  });

  it('takes the captures of the first value, then key, that matches', () => {
    expect(match('regex', ['no', 'yes 1', 'yes 2'], ['^n(x)', 'yes ([0-9])']).captures).toEqual(['yes 1', '1']);
  });

  it('keeps at most 32 match values, as Pigeonhole', () => {
    const key = '(a)'.repeat(40);
    const captures = match('regex', 'a'.repeat(40), key, OCTET).captures!;
    expect(captures).toHaveLength(MAX_MATCH_VALUES);
    expect(captures[31]).toBe('a');
  });

  it('cuts match values to the variable size limit', () => {
    const captures = match('regex', 'x'.repeat(5000), '^(.*)$', OCTET).captures!;
    expect(captures.map((capture) => capture.length)).toEqual([4096, 4096]);
    expect(match('matches', 'x'.repeat(5000), '*').captures!.map((capture) => capture.length)).toEqual([4096, 4096]);
  });

  it('fails on an invalid key, once it is needed', () => {
    const run = () => match('regex', 'abc', ['b', '(x']);
    expect(run().matched).toBe(true);
    expect(() => match('regex', 'abc', ['x', '(x'])).toThrow(SieveRuntimeError);
    expect(() => match('regex', 'abc', ['x', '(x'])).toThrow("invalid regular expression '(x' for regex match: unmatched ( or \\(");
  });

  it('runs hostile patterns in linear time', () => {
    expect(match('regex', 'a'.repeat(100_000), '(a+)+b').matched).toBe(false);
  }, 5000);
});

describe(':value and :count (RFC 5231)', () => {
  const valueCases: [relation: RelationalOperator, values: string[], keys: string[], comparator: string, matched: boolean][] = [
    // RFC 5231 section 4 / 9: X-Priority compared numerically
    ['lt', ['2'], ['3'], NUMERIC, true],
    ['lt', ['4'], ['3'], NUMERIC, false],
    ['gt', ['10'], ['9'], NUMERIC, true],
    ['gt', ['10'], ['9'], CASEMAP, false],
    ['ge', ['3'], ['3'], NUMERIC, true],
    ['le', ['abc'], ['999'], NUMERIC, false],
    ['eq', [''], ['abc'], NUMERIC, true],
    ['ne', ['a', 'b'], ['a'], CASEMAP, true],
    ['ne', ['a'], ['A'], CASEMAP, false],
    ['ne', ['a'], ['A'], OCTET, true],
    ['gt', ['b'], ['A'], CASEMAP, true],
    ['gt', ['b'], ['A'], OCTET, true],
    ['lt', ['B'], ['a'], OCTET, true],
    ['lt', ['_'], ['A'], CASEMAP, true],
    ['gt', ['é'], ['z'], OCTET, true],
    ['gt', [], [''], CASEMAP, false],
    ['lt', ['5', '50'], ['10'], NUMERIC, true],
    ['lt', ['99999999999999999999'], ['100000000000000000000'], NUMERIC, true],
  ];
  it.each(valueCases)(':value %s %j %j (%s) → %s', (relation, values, keys, comparator, matched) => {
    expect(match('value', values, keys, comparator, relation)).toEqual({ matched });
  });

  // RFC 5231 section 6: To: 2 addresses, Cc: 1; two Received fields and a Subject.
  const countCases: [relation: RelationalOperator, values: string[], keys: string[], comparator: string, matched: boolean][] = [
    ['ge', ['foo@example.com', 'baz@example.com', 'qux@example.com'], ['3'], NUMERIC, true], // address :count "ge" ["to", "cc"] ["3"]
    ['ge', ['foo@example.com', 'baz@example.com'], ['3'], NUMERIC, false], // ["to"] alone
    ['ge', ['from a', 'from b'], ['3'], NUMERIC, false], // header :count "ge" ["received"] ["3"]
    ['ge', ['from a', 'from b', 'example'], ['3'], NUMERIC, true], // ["received", "subject"]
    ['eq', [], ['0'], NUMERIC, true],
    ['ne', ['a', 'b'], ['1', '2'], NUMERIC, true],
    ['eq', ['a', 'b'], ['1', '3'], NUMERIC, false],
    // the comparator decides the order: "2" > "10" as strings (checked with sieve-test)
    ['gt', ['a', 'b'], ['10'], CASEMAP, true],
    ['gt', ['a', 'b'], ['10'], NUMERIC, false],
    ['eq', ['a', 'b'], ['2'], CASEMAP, true],
    ['eq', ['a', '', 'b'], ['3'], NUMERIC, true],
  ];
  it.each(countCases)(':count %s %j %j (%s) → %s', (relation, values, keys, comparator, matched) => {
    expect(match('count', values, keys, comparator, relation)).toEqual({ matched });
  });

  it('needs a relation', () => {
    expect(() => match('value', '1', '1', NUMERIC)).toThrow(SieveRuntimeError);
  });
});
