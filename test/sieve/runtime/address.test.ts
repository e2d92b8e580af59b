// Addresses as Pigeonhole's address/envelope tests and redirect read them.
// Expected values checked against Pigeonhole 0.5 (sieve-test, sievec).

import { describe, expect, it } from 'vitest';
import {
  addressPart,
  isValidMailAddress,
  parseAddressHeader,
  parseEnvelopeAddress,
  type ParsedAddress,
} from '../../../src/sieve/runtime/address.js';

/** what `address :all` compares: the raw value when nothing parses */
function allValues(value: string): string[] {
  const addresses = parseAddressHeader(value);
  if (!addresses) return [value];
  return addresses.flatMap((address) => addressPart(address, 'all', '+') ?? []);
}

describe('parseAddressHeader', () => {
  it.each([
    ['a@b.c', ['a@b.c']],
    ['Name <a@b.c>', ['a@b.c']],
    ['"Quoted Name" <"a b"@b.c>', ['"a b"@b.c']],
    ['a@b.c (comment), c@d.e', ['a@b.c', 'c@d.e']],
    ['a(x)@(y)b.c', ['a@b.c']],
    ['a @ b . c', ['a@b.c']],
    ['Name\n <a@b.c>,\n\td@e.f', ['a@b.c', 'd@e.f']],
    ['=?utf-8?q?N?= <a@b.c>', ['a@b.c']],
    ['A@B.C', ['A@B.C']],
    ['a+b@c', ['a+b@c']],
    ['"a\\"b"@c.d', ['"a\\"b"@c.d']],
    ['"a@b"@c', ['"a@b"@c']],
    ['" a"@b', ['" a"@b']],
    ['"a"@b.c', ['a@b.c']],
    // Dovecot's dots anywhere
    ['a.@b.c', ['"a."@b.c']],
    ['.a@b', ['".a"@b']],
    ['a..b@c.d', ['"a..b"@c.d']],
    // groups
    ['grp: a@b.c, c@d.e;, f@g.h', ['a@b.c', 'c@d.e', 'f@g.h']],
    ['grp:;, a@b.c', ['a@b.c']],
    ['x: a@b.c', ['a@b.c']],
    ['g1: a@b;, g2: c@d;', ['a@b', 'c@d']],
    // obsolete routes
    ['<@route1,@route2:a@b.c>', ['a@b.c']],
    ['<@c:d@e>', ['d@e']],
    // domain literals and non-ASCII domains
    ['a@[1.2.3.4]', ['a@[1.2.3.4]']],
    ['a@[x y]', ['a@[x y]']],
    ['a@é.c', ['a@é.c']],
    ['a@-b.c', ['a@-b.c']],
    // a bad address is skipped when another is valid
    ['a@b.c, <>', ['a@b.c']],
    ['a@b.c, garbage', ['a@b.c']],
    ['garbage, a@b.c', ['a@b.c']],
    ['x y, a@b.c', ['a@b.c']],
    ['a@b.c,,d@e.f', ['a@b.c', 'd@e.f']],
    ['a@b.c, é@d.e', ['a@b.c']],
    ['a@b, @c:d@e', ['a@b']],
    // text after an address ends the list
    ['a@b.c garbage', ['a@b.c']],
    ['<a@b.c> trailing', ['a@b.c']],
    ['a@b c', ['a@b']],
    ['a@b@c', ['a@b']],
    ['a@b.c (c) d@e.f', ['a@b.c']],
    // nothing valid: the raw value
    ['garbage', ['garbage']],
    ['undisclosed-recipients:;', ['undisclosed-recipients:;']],
    ['grp: é@d.e;', ['grp: é@d.e;']],
    ['<>', ['<>']],
    ['a@', ['a@']],
    ['@b.c', ['@b.c']],
    ['<a>', ['<a>']],
    ['a b@c.d', ['a b@c.d']],
    ['Name a@b.c', ['Name a@b.c']],
    ['Name <a@b.c', ['Name <a@b.c']],
    ['a@b..c', ['a@b..c']],
    ['a@b.c.', ['a@b.c.']],
    ['a@[1.2', ['a@[1.2']],
    ['a . b@c', ['a . b@c']],
    ['a"b"@c', ['a"b"@c']],
    ['é@b.c', ['é@b.c']],
    ['a@b.c (x', ['a@b.c (x']],
    [',', [',']],
    // no address, or one without a local part: nothing to match
    ['(comment)', []],
    ['""@b.c', []],
    ['""@b.c, x', []],
    // an empty value is one empty address
    ['', ['']],
  ])('%j', (value, expected) => {
    expect(allValues(value)).toEqual(expected);
  });

  it('returns one item per address Pigeonhole counts', () => {
    expect(parseAddressHeader('(comment)')).toEqual([]);
    expect(parseAddressHeader('garbage')).toBeUndefined();
    expect(parseAddressHeader('a@b.c, ""@d.e')).toEqual([
      { localpart: 'a', domain: 'b.c' },
      { localpart: '', domain: 'd.e' },
    ]);
    expect(parseAddressHeader('')).toEqual([{ localpart: '', domain: '' }]);
  });

  it('reads at most 256 addresses', () => {
    expect(parseAddressHeader('a@b, '.repeat(300))).toHaveLength(256);
  });
});

describe('addressPart', () => {
  const ken: ParsedAddress = { localpart: 'ken+sieve', domain: 'Example.ORG' };
  it.each<[ParsedAddress, Parameters<typeof addressPart>[1], string, string | undefined]>([
    [ken, 'all', '+', 'ken+sieve@Example.ORG'],
    [ken, 'localpart', '+', 'ken+sieve'],
    [ken, 'domain', '+', 'Example.ORG'],
    // RFC 5233 section 4
    [ken, 'user', '+', 'ken'],
    [ken, 'detail', '+', 'sieve'],
    [{ localpart: 'ken', domain: 'example.org' }, 'user', '+', 'ken'],
    [{ localpart: 'ken', domain: 'example.org' }, 'detail', '+', undefined],
    [{ localpart: 'ken+', domain: 'example.org' }, 'detail', '+', ''],
    [{ localpart: 'ken+', domain: 'example.org' }, 'user', '+', 'ken'],
    [{ localpart: '+det', domain: 'x' }, 'user', '+', ''],
    // the first delimiter splits; any character of recipient_delimiter is one
    [{ localpart: 'a+b+c', domain: 'x' }, 'detail', '+', 'b+c'],
    [{ localpart: 'a-b+c', domain: 'x' }, 'user', '+-', 'a'],
    [{ localpart: 'a-b+c', domain: 'x' }, 'detail', '+-', 'b+c'],
    [{ localpart: 'a+b-c', domain: 'x' }, 'detail', '-', 'c'],
    [{ localpart: 'axbyc', domain: 'x' }, 'detail', 'xy', 'byc'],
    [{ localpart: 'a+b', domain: 'x' }, 'detail', '', undefined],
    // quoting in :all
    [{ localpart: 'a b', domain: 'x' }, 'all', '+', '"a b"@x'],
    [{ localpart: 'a b', domain: 'x' }, 'localpart', '+', 'a b'],
    [{ localpart: 'user', domain: '' }, 'all', '+', 'user'],
    // an empty local part has no parts; an empty header value "" for each
    [{ localpart: '', domain: 'b.c' }, 'all', '+', undefined],
    [{ localpart: '', domain: 'b.c' }, 'domain', '+', undefined],
    [{ localpart: '', domain: '' }, 'all', '+', ''],
    [{ localpart: '', domain: '' }, 'detail', '+', ''],
  ])('%j %s (delimiter %j)', (address, part, delimiter, expected) => {
    expect(addressPart(address, part, delimiter)).toBe(expected);
  });
});

describe('parseEnvelopeAddress', () => {
  it.each([
    ['user@example.org', { localpart: 'user', domain: 'example.org' }],
    ['<user@example.org>', { localpart: 'user', domain: 'example.org' }],
    ['"a b"@example.org', { localpart: 'a b', domain: 'example.org' }],
    ['user', { localpart: 'user', domain: '' }],
    ['<@relay:user@example.org>', { localpart: 'user', domain: 'example.org' }],
    ['', undefined],
    ['a b@c', undefined],
  ])('%j', (path, expected) => {
    expect(parseEnvelopeAddress(path)).toEqual(expected);
  });
});

describe('isValidMailAddress', () => {
  it.each([
    ['a@b.c', true],
    ['Name <a@b.c>', true],
    ['<a@b.c>', true],
    ['"a b"@c', true],
    ['a.@b', true],
    ['a..b@c', true],
    ['a@[1.2.3.4]', true],
    ['a@é.c', true],
    [' a@b.c ', true],
    ['a@b.c (comment)', true],
    ['a@-b', true],
    ['"a\\\\b"@c', true],
    ['a@b_c', true],
    ['a', false],
    ['a@', false],
    ['', false],
    ['a@b.c, d@e.f', false],
    ['é@b.c', false],
    ['""@b.c', false],
    ['a@b..c', false],
    ['a@b.c.', false],
    ['<@r:a@b.c>', false],
    ['a b@c', false],
    ['Name <a@b.c', false],
    ['a@b.c junk', false],
  ])('%j → %s', (text, expected) => {
    expect(isValidMailAddress(text)).toBe(expected);
  });
});
