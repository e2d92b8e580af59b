// Expected values were produced by dovecot-lda 2.3.19 itself: each template
// went into deliver_log_format with the value in $V (kept through
// DOVECOT_PRESERVE_ENVS), and the log line was read back.

import { describe, it, expect } from 'vitest';
import { createHash } from 'node:crypto';
import { expandTemplate, expandVariables, userVariables } from '../../src/config/var-expand.js';
import { DeliveryFailure } from '../../src/deliver/failure.js';

const ADDRESS = 'John.Doe@Example.COM';

function expandWith(value: string, template: string): string {
  return expandTemplate(template, {}, { V: value }).text;
}

describe('expandTemplate: modifiers, offsets and widths (as dovecot-lda 2.3.19)', () => {
  it.each([
    ['%{env:V}', ADDRESS],
    ['%L{env:V}', 'john.doe@example.com'],
    ['%U{env:V}', 'JOHN.DOE@EXAMPLE.COM'],
    ['%2{env:V}', 'Jo'],
    ['%-3{env:V}', 'Joh'], // without a dot the sign is ignored
    ['%2.1{env:V}', 'h'],
    ['%-3.2{env:V}', 'CO'],
    ['%-30.2{env:V}', 'Jo'],
    ['%30.2{env:V}', ''],
    ['%0.-4{env:V}', 'John.Doe@Example'],
    ['%0.-40{env:V}', ADDRESS],
    ['%05{env:V}', ADDRESS],
    ['%1.030{env:V}', '00000000000ohn.Doe@Example.COM'],
    ['%R{env:V}', 'MOC.elpmaxE@eoD.nhoJ'],
    ['%RL{env:V}', 'moc.elpmaxe@eod.nhoj'],
    ['%M{env:V}', '19d70c7e34bc5d33df180a0040e10cf3'],
    ['%H{env:V}', 'b9c003d'],
    ['%3.100H{env:V}', '035'],
    ['%N{env:V}', '34bc5d33'],
    ['%4.1000N{env:V}', '038b'],
    ['%D{env:V}', 'John,dc=Doe@Example,dc=COM'],
    ['%X{env:V}', '0'],
    ['%{md5:env:V}', '19d70c7e34bc5d33df180a0040e10cf3'],
    ['%{sha1:env:V}', 'ace917ed5be4e86b86c573897a449110b2248a4a'],
    ['%{sha256:env:V}', '97b667ac47043cdc8822cac62f38bd0b43cc42731dfdad41e345a8a370ec02c5'],
    [
      '%{sha512;format=base64:env:V}',
      'rsrMxPZtbBqA4CFzQEkaSwu5YM4/JSRaDhc5Txab3JiZ2NO5LEBb/AW9pl2Z22gCRNL7nkW5iNQKsNaH4kpzYA==',
    ],
    ['%{sha1;rounds=2:env:V}', 'bf623dfbd2b4eb8035de79be4499db16eebeca4e'],
    ['%{md5;salt=pepper:env:V}', '5b41cd9fb1c46ffcab6e0064d2b908a8'],
    ['%{sha256;truncate=20:env:V}', '097b66'],
    ['%{sha256;truncate=3:env:V}', '04'],
    ['%{env:NOPE}', ''],
    ['100%%', '100%'],
    ['trailing %', 'trailing '],
    ['trailing %L', 'trailing '],
  ])('%s', (template, expected) => {
    expect(expandTemplate(template, {}, { V: ADDRESS })).toEqual({ text: expected });
  });

  it.each([
    ['Hello World', '%H{env:V}', '114ac14'],
    ['Hello World', '%4H{env:V}', '0'],
    ['Hello World', '%2.256H{env:V}', '14'],
    ['Hello World', '%N{env:V}', '64e07541'],
    ['Hello World', '%2.256N{env:V}', '41'],
    ['Hello World', '%0.-2{env:V}', 'Hello Wor'],
    ['Hello World', '%3.-2{env:V}', 'lo Wor'],
    ['Hello World', '%020{env:V}', '000000000Hello World'],
    ['12345', '%X{env:V}', '3039'],
    ['12345', '%08X{env:V}', '00003039'],
    ['12345', '%-2.2{env:V}', '45'],
    ['255', '%2.1X{env:V}', ''],
    ['18446744073709551615', '%X{env:V}', 'ffffffffffffffff'],
    ['18446744073709551616', '%X{env:V}', '0'],
    [' 12', '%X{env:V}', '0'],
    ['ab \t', '%T{env:V}x', 'abx'],
    [`a"b'c\\d`, '%E{env:V}', `a\\"b\\'c\\\\d`],
    ['Übung', '%U{env:V}', 'ÜBUNG'],
    ['Übung', '%H{env:V}', 'cd29c47'],
    ['Übung', '%M{env:V}', '2ea44e645c173cb26e7f116a9fd2f605'],
    ['a.b.c', '%{md5;format=hexuc:env:V}', '553f764f7b436175c0387e22b4a19213'],
    ['a.b.c', '%{md5;truncate=12:env:V}', '0553'],
    ['a.b.c', '%{md5;salt=x,truncate=12:env:V}', '9840f35c3bf3fd15cb99c56ff63462a7'],
    ['a.b.c', '%{md5;format=base64:env:V}', 'VT92T3tDYXXAOH4itKGSEw=='],
  ])('%j with %s', (value, template, expected) => {
    expect(expandWith(value, template)).toBe(expected);
  });
});

describe('expandTemplate: %{if}', () => {
  it.each([
    ['%{if;%{env:V};*;*@example.com;y;n}', 'n'],
    ['%{if;%{env:V};*;*@Example.???;y;n}', 'y'],
    ['%{if;%{env:V};!*;*.COM;y;n}', 'n'],
    ['%{if;%{env:V};~;@example\\.com$;y;n}', 'n'],
    ['%{if;%{env:V};!~;^John;y;n}', 'n'],
    ['%{if;%{env:V};gt;John;y;n}', 'y'],
    ['%{if;%{env:V};le;John;y;n}', 'n'],
    ['%{if;%{env:V};eq;x;y;%L{env:V}}', 'john.doe@example.com'],
    ['%{if;%{env:V};ne;;yes}', 'yes'],
    ['%{if;%{env:V};eq;;yes}', ''],
    ['%{if;10;lt;9;lt;ge}', 'lt'],
    ['%{if;10;<;9;lt;ge}', 'ge'],
    ['%{if;10;==;010;eq;ne}', 'eq'],
    ['%{if;-1;<;0;neg;pos}', 'neg'],
    ['%{if;5;>=;5;y;n}', 'y'],
    ['%{if;5;!=;5;y;n}', 'n'],
    ['%{if;5;<=;4;y;n}', 'n'],
    ['%{if;5;>;4;y;n}', 'y'],
    ['%{if;;eq;;empty;nonempty}', 'empty'],
    ['%{if;a;eq;b;;else}', 'else'],
    ['%{if;a\\;b;eq;a\\;b;y;n}', 'y'],
    ['%{if;a;eq;a;x:y;z}', 'x'],
    ['%U{if;a;eq;a;yes;no}', 'YES'],
  ])('%s', (template, expected) => {
    expect(expandTemplate(template, {}, { V: ADDRESS })).toEqual({ text: expected });
  });

  it.each([
    ['%{if;a;==;1;eq;ne}', 'if: a (lhs) is not a number'],
    ['%{if;1;==;b;eq;ne}', 'if: b (rhs) is not a number'],
    ['%{if;a;xx;1;eq;ne}', "if: Unsupported comparator 'xx'"],
    ['%{if;a;eq;a}', 'if: requires four or five parameters, got 3'],
    ['%{if;a;eq;b;then;else;extra}', 'if: requires four or five parameters, got 6'],
  ])('%s expands to "" with an error', (template, error) => {
    expect(expandTemplate(template, {})).toEqual({ text: '', error });
  });
});

describe('expandTemplate: tables and unknown variables', () => {
  const table = { u: 'bob@example.org', user: 'bob@example.org', n: 'bob', h: '' };

  it.each([
    ['%u', 'bob@example.org'],
    ['%{user}', 'bob@example.org'],
    ['%n/%Lu', 'bob/bob@example.org'],
    ['[%h]', '[]'],
    ['%{toString}', 'UNSUPPORTED_VARIABLE_toString'],
  ])('%s', (template, expected) => {
    expect(expandTemplate(template, table).text).toBe(expected);
  });

  it.each([
    ['%z', 'UNSUPPORTED_VARIABLE_z', "Unknown variable '%z'"],
    ['%{foo}', 'UNSUPPORTED_VARIABLE_foo', "Unknown variable '%foo'"],
    ['%{user', 'UNSUPPORTED_VARIABLE_{user', "Unknown variable '%{'"],
    ['%z%{foo}', 'UNSUPPORTED_VARIABLE_zUNSUPPORTED_VARIABLE_foo', "Unknown variable '%z'"],
  ])('%s is reported, as Dovecot does for deliver_log_format', (template, text, error) => {
    expect(expandTemplate(template, table)).toEqual({ text, error });
  });

  it('reads the built-ins from the process when the table lacks them', () => {
    expect(expandTemplate('%{pid}', {}).text).toBe(String(process.pid));
    expect(expandTemplate('%{uid}', {}).text).toBe(String(process.geteuid!()));
  });
});

describe('expandVariables', () => {
  it('expands like expandTemplate when every variable is known', () => {
    expect(expandVariables('maildir:~/%Ld/%n', { d: 'Example.ORG', n: 'bob' })).toBe('maildir:~/example.org/bob');
    expect(expandVariables('no variables', {})).toBe('no variables');
  });

  it.each([
    ['maildir:~/%{foo}', "Failed to expand maildir:~/%{foo}: Unknown variable '%foo'"],
    ['maildir:~/%z', "Failed to expand maildir:~/%z: Unknown variable '%z'"],
    ['%{if;a;==;b;y;n}', 'Failed to expand %{if;a;==;b;y;n}: if: a (lhs) is not a number'],
  ])('%s is a temporary failure, as Dovecot fails mail_location', (template, message) => {
    let failure: unknown;
    try {
      expandVariables(template, {});
    } catch (error) {
      failure = error;
    }
    expect(failure).toBeInstanceOf(DeliveryFailure);
    expect(failure).toMatchObject({ kind: 'temporary', message });
  });
});

describe('expandTemplate with an escape function (a SQL user_query)', () => {
  const table = { u: "O'Brien@Example.COM", n: "O'Brien", d: 'Example.COM' };
  const brackets = (value: string) => `[${value}]`;
  const doubleQuotes = (value: string) => value.replaceAll("'", "''");

  it.each([
    ['%u', brackets, "[O'Brien@Example.COM]"],
    ["'%n' AND '%d'", brackets, "'[O'Brien]' AND '[Example.COM]'"],
    ['%Lu', doubleQuotes, "o''brien@example.com"],
    ['%Ru', doubleQuotes, "MOC.elpmaxE@neirB''O"],
    // after the width: Dovecot escapes first and cuts "O''" to "O'", breaking the query
    ['%2n', doubleQuotes, "O''"],
    ['%1.2n', doubleQuotes, "''B"],
    ['100%%', brackets, '100%'],
    ['%{env:V}', brackets, "[it's]"],
    // the hash is of the unescaped value (Dovecot: of the escaped one); the hex digest goes through the escape
    ['%{md5:n}', brackets, `[${createHash('md5').update("O'Brien").digest('hex')}]`],
    // %{if} compares escaped values, as in Dovecot, and its branch text is not escaped again
    ['%{if;%d;eq;Example.COM;yes;no}', brackets, 'no'],
    ['%{if;%d;eq;[Example.COM];<%n>;no}', brackets, '<[O\'Brien]>'],
  ])('%s', (template, escape, expected) => {
    expect(expandTemplate(template, table, { V: "it's" }, escape)).toEqual({ text: expected });
  });

  it('still reports an unknown variable, and expandVariables still throws it', () => {
    expect(expandTemplate('%z', table, {}, brackets)).toEqual({ text: '[UNSUPPORTED_VARIABLE_z]', error: "Unknown variable '%z'" });
    expect(() => expandVariables('%z', table, {}, brackets)).toThrow(DeliveryFailure);
    expect(expandVariables("WHERE u = '%u'", table, {}, doubleQuotes)).toBe("WHERE u = 'O''Brien@Example.COM'");
  });
});

describe('userVariables', () => {
  const base = { service: 'lda', hostname: 'mx.example.org', pid: 42 };

  it.each([
    [{ user: 'bob@example.org', home: '/home/bob', uid: 1000, gid: 100 }, '%u|%n|%d|%h|%i|%{gid}|%s|%p|%{hostname}', 'bob@example.org|bob|example.org|/home/bob|1000|100|lda|42|mx.example.org'],
    [{ user: 'bob' }, '%n|%d|%h|%i|%{gid}', 'bob||||'],
    [{ user: 'a@b@c' }, '%n|%d', 'a|b@c'],
    [{ user: 'Bob@Example.org' }, '%{username}|%{domain}|%{auth_user}|%{auth_domain}|%Ln', 'Bob|Example.org|Bob@Example.org|Example.org|bob'],
  ])('%j: %s', (params, template, expected) => {
    expect(expandVariables(template, userVariables({ ...base, ...params }))).toBe(expected);
  });

  it('gives the default postmaster_address the recipient domain, else the hostname', () => {
    const template = 'postmaster@%{if;%d;ne;;%d;%{hostname}}';
    expect(expandVariables(template, userVariables({ ...base, user: 'bob@example.net' }))).toBe('postmaster@example.net');
    expect(expandVariables(template, userVariables({ ...base, user: 'bob' }))).toBe('postmaster@mx.example.org');
  });
});

describe('%{if} wildcard comparisons', () => {
  it.each([
    ['abc', '*', true],
    ['abc', 'a*c', true],
    ['abc', 'a?c', true],
    ['abc', '*b', false],
    ['axc', 'a\\*c', true], // the if-parameter parser eats the backslash: the pattern is a*c
    ['', '*', true],
    ['', '?', false],
    ['mississippi', '*sip*', true],
    ['mississippi', 'm*iss*ppi', true],
    ['mississippi', 'm*x*', false],
  ])('%j * %j is %s', (text, pattern, expected) => {
    expect(expandTemplate(`%{if;${text};*;${pattern};y;n}`, {}).text).toBe(expected ? 'y' : 'n');
  });
});
