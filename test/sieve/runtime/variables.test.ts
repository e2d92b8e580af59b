import { describe, expect, it } from 'vitest';
import {
  applySetModifiers,
  expandVariables,
  isValidVariableName,
  MAX_VARIABLE_SIZE,
  SET_MODIFIERS,
  truncateVariable,
} from '../../../src/sieve/runtime/variables.js';

/** A lookup over fixed variables that records the names it was asked for. */
function lookupOf(variables: Record<string, string>): { lookup: (name: string) => string | undefined; asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    lookup: (name) => {
      asked.push(name);
      return Object.hasOwn(variables, name) ? variables[name] : undefined;
    },
  };
}

describe('expandVariables', () => {
  // RFC 5229 section 3: "company" holds "ACME", nothing else is set.
  const rfcCases: [string, string][] = [
    ['&%${}!', '&%${}!'],
    ['${doh!}', '${doh!}'],
    ['${full}', ''],
    ['${company}', 'ACME'],
    ['${BAD${Company}', '${BADACME'],
    ['${President, ${Company} Inc.}', '${President, ACME Inc.}'],
  ];
  it.each(rfcCases)('RFC 5229 section 3: %s', (text, expanded) => {
    expect(expandVariables(text, lookupOf({ company: 'ACME' }).lookup)).toBe(expanded);
  });

  // Pigeonhole's scanner (checked with sieve-test): what is a reference and what stays literal.
  const scannerCases: [string, string][] = [
    ['$${a}', '$x'],
    ['${a', '${a'],
    ['${ a}', '${ a}'],
    ['${a }', '${a }'],
    ['${1a}', '${1a}'],
    ['${_a}', 'u'],
    ['${x.}', '${x.}'],
    ['${.x}', '${.x}'],
    ['${x..y}', '${x..y}'],
    ['${a}${a}', 'xx'],
    ['no references', 'no references'],
    ['${', '${'],
    ['}${a}{', '}x{'],
    ['${${a}}', '${x}'],
    ['${1.a}', '${1.a}'],
  ];
  it.each(scannerCases)('%s', (text, expanded) => {
    expect(expandVariables(text, lookupOf({ a: 'x', _a: 'u' }).lookup)).toBe(expanded);
  });

  it('does not expand what a variable holds ("${${COMpANY}}" is "${ACME}")', () => {
    expect(expandVariables('${${COMpANY}}', lookupOf({ company: 'ACME' }).lookup)).toBe('${ACME}');
    expect(expandVariables('${a}', lookupOf({ a: '${b}', b: 'no' }).lookup)).toBe('${b}');
  });

  const nameCases: [string, string][] = [
    ['${Company}', 'company'],
    ['${0}', '0'],
    ['${00}', '0'],
    ['${01}', '1'],
    ['${12}', '12'],
    ['${env.Home}', 'env.home'],
    ['${global.x}', 'global.x'],
    ['${a.1}', 'a.1'],
    ['${a.b.c.d.e.f.g.h.i.j}', 'a.b.c.d.e.f.g.h.i.j'],
  ];
  it.each(nameCases)('%s asks the lookup for %s', (text, name) => {
    const { lookup, asked } = lookupOf({});
    expect(expandVariables(text, lookup)).toBe('');
    expect(asked).toEqual([name]);
  });

  it('keeps names over 64 characters and more than 10 namespace parts literal', () => {
    const long = 'a'.repeat(65);
    const { lookup, asked } = lookupOf({});
    expect(expandVariables(`[\${${long}}]`, lookup)).toBe(`[\${${long}}]`);
    expect(expandVariables('${a.b.c.d.e.f.g.h.i.j.k}', lookup)).toBe('${a.b.c.d.e.f.g.h.i.j.k}');
    expect(asked).toEqual([]);
    expect(expandVariables(`\${${'a'.repeat(64)}}`, lookupOf({ [`${'a'.repeat(64)}`]: 'v' }).lookup)).toBe('v');
  });

  it('expands RFC 5229 section 5: " ${state} " with state "x pending"', () => {
    expect(expandVariables(' ${state} ', lookupOf({ state: 'x pending' }).lookup)).toBe(' x pending ');
  });
});

describe('isValidVariableName', () => {
  const cases: [string, boolean][] = [
    ['a', true],
    ['_', true],
    ['a_1', true],
    ['Company', true],
    ['a'.repeat(64), true],
    ['a'.repeat(65), false],
    ['', false],
    ['1a', false],
    ['0', false],
    ['a.b', false],
    ['a-b', false],
    ['é', false],
    [' a', false],
  ];
  it.each(cases)('%j → %s', (name, valid) => {
    expect(isValidVariableName(name)).toBe(valid);
  });
});

describe('applySetModifiers', () => {
  // RFC 5229 section 4.1, with a = "juMBlEd lETteRS"
  const rfcCases: [string[], string, string][] = [
    [[], 'juMBlEd lETteRS', 'juMBlEd lETteRS'],
    [['length'], 'juMBlEd lETteRS', '15'],
    [['lower'], 'juMBlEd lETteRS', 'jumbled letters'],
    [['upperfirst'], 'juMBlEd lETteRS', 'JuMBlEd lETteRS'],
    [['upperfirst', 'lower'], 'juMBlEd lETteRS', 'Jumbled letters'],
    [['quotewildcard'], 'Rock*', 'Rock\\*'],
  ];
  it.each(rfcCases)('RFC 5229 4.1: %j %j → %j', (modifiers, value, result) => {
    expect(applySetModifiers(value, modifiers)).toBe(result);
  });

  // Pigeonhole (sieve-test): ASCII-only case changes, :length in characters, precedence whatever the order written.
  const cases: [string[], string, string][] = [
    [['lower', 'upperfirst'], 'aBC', 'Abc'],
    [['upper', 'lowerfirst'], 'ABC', 'aBC'],
    [['lower'], 'ÉCOLE Ab', 'École ab'],
    [['upper'], 'école ab', 'éCOLE AB'],
    [['upperfirst'], 'éa', 'éa'],
    [['lowerfirst'], 'Ab', 'ab'],
    [['upperfirst'], '', ''],
    [['length'], 'é日本', '3'],
    [['length'], '😀', '1'],
    [['length'], '', '0'],
    [['quotewildcard'], 'a*b?c\\d', 'a\\*b\\?c\\\\d'],
    [['length', 'quotewildcard'], '**', '4'],
    [['quotewildcard', 'upper'], 'a*', 'A\\*'],
    [['quoteregex'], 'a.b*c?d+e(f)[g]{h}|i^j$k\\l', 'a\\.b\\*c\\?d\\+e\\(f\\)\\[g\\]\\{h\\}\\|i\\^j\\$k\\\\l'],
    [['quoteregex'], 'plain-text/é', 'plain-text/é'],
  ];
  it.each(cases)('%j %j → %j', (modifiers, value, result) => {
    expect(applySetModifiers(value, modifiers)).toBe(result);
  });

  it('cuts the value before and after each modifier, as Pigeonhole does', () => {
    expect(applySetModifiers('x'.repeat(5000), ['length'])).toBe('4096');
    expect(applySetModifiers('*'.repeat(4096), ['quotewildcard', 'length'])).toBe('4096');
    expect(applySetModifiers('*'.repeat(4096), ['quotewildcard'])).toBe('\\*'.repeat(2048));
    expect(applySetModifiers('x'.repeat(5000), [])).toBe('x'.repeat(4096));
  });

  it('refuses an unknown modifier', () => {
    expect(() => applySetModifiers('x', ['reverse'])).toThrow('unknown set modifier :reverse');
  });

  it('lists the modifiers without their colon', () => {
    expect([...SET_MODIFIERS].sort()).toEqual(['length', 'lower', 'lowerfirst', 'quoteregex', 'quotewildcard', 'upper', 'upperfirst']);
  });
});

describe('truncateVariable', () => {
  // Lengths checked with sieve-test (set, then set :length).
  const cases: [string, string, number][] = [
    ['5000 x', 'x'.repeat(5000), 4096],
    ['4096 x', 'x'.repeat(4096), 4096],
    ['short', 'short', 5],
    ['3000 é (a 2-octet character ends at 4096, another follows: dropped too)', 'é'.repeat(3000), 2047],
    ['"a" + 3000 é (a character would straddle 4096)', 'a' + 'é'.repeat(3000), 2048],
    ['2048 é then x (ends at 4096, ASCII follows)', 'é'.repeat(2048) + 'x', 2048],
    ['exactly 2048 é', 'é'.repeat(2048), 2048],
    ['1500 日 (3 octets each)', '日'.repeat(1500), 1365],
  ];
  it.each(cases)('%s', (_name, value, length) => {
    expect(Array.from(truncateVariable(value)).length).toBe(length);
  });

  it('keeps surrogate pairs whole', () => {
    const cut = truncateVariable('😀'.repeat(2000));
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(MAX_VARIABLE_SIZE);
    expect(cut).toBe('😀'.repeat(1023));
    expect(truncateVariable('a' + '😀'.repeat(2000))).toBe('a' + '😀'.repeat(1023));
  });
});
