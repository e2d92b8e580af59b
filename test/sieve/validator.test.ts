// The validator against RFC 5228 and the extension RFCs, and against what
// Pigeonhole 0.5.19 (sievec) accepts and says about the same scripts: the
// error messages are Pigeonhole's (without "error: " and the final period),
// with the column added. Also the extension registry (extensions.ts).

import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CompiledNode, CompiledScript } from '../../src/sieve/compiled.js';
import { SieveCompileError } from '../../src/sieve/errors.js';
import { ALL_EXTENSIONS, DEFAULT_ENABLED_EXTENSIONS, parseExtensionsSetting } from '../../src/sieve/extensions.js';
import { parseSieve } from '../../src/sieve/parser.js';
import { validateSieve } from '../../src/sieve/validator.js';
import { thrown } from '../helpers/thrown.js';

const ALL = new Set(ALL_EXTENSIONS);
const DEFAULTS = new Set(DEFAULT_ENABLED_EXTENSIONS);

function compile(source: string, enabled: ReadonlySet<string> = ALL, globalExtensions?: ReadonlySet<string>): CompiledScript {
  const options = { scriptName: 'test', enabledExtensions: enabled, ...(globalExtensions ? { globalExtensions } : {}) };
  return validateSieve(parseSieve(source, 'test'), options);
}

/** Each error as "line:column: message". */
function errors(source: string, enabled: ReadonlySet<string> = ALL, globalExtensions?: ReadonlySet<string>): string[] {
  return thrown(SieveCompileError, () => compile(source, enabled, globalExtensions)).diagnostics.map((d) => `${d.line}:${d.column}: ${d.message}`);
}

/** A node without source positions, for comparing shapes. */
function plain(node: CompiledNode | undefined): unknown {
  return JSON.parse(JSON.stringify(node, (key, value: unknown) => (key === 'position' ? undefined : value)));
}

/** The last command of a script (the one after the requires). */
function lastCommand(source: string): unknown {
  return plain(compile(source).commands.at(-1));
}

/** The test of the last command, an `if`. */
function lastTest(source: string): unknown {
  return plain(compile(source).commands.at(-1)!.branches![0]!.test);
}

function node(name: string, fields: Partial<CompiledNode> = {}): Partial<CompiledNode> {
  return { name, tags: {}, positional: [], tests: [], ...fields };
}

/** A test with the defaults every match test gets. */
function matchNode(name: string, fields: Partial<CompiledNode> = {}): Partial<CompiledNode> {
  return node(name, { match: { type: 'is' }, comparator: 'i;ascii-casemap', ...fields });
}

describe('commands', () => {
  it.each([
    ['keep', 'keep;', node('keep')],
    ['keep :flags', 'require "imap4flags"; keep :flags "\\\\Seen";', node('keep', { tags: { flags: ['\\Seen'] } })],
    ['keep :flags list', 'require "imap4flags"; keep :flags ["\\\\Seen", "$x"];', node('keep', { tags: { flags: ['\\Seen', '$x'] } })],
    ['discard', 'discard;', node('discard')],
    ['stop', 'stop;', node('stop')],
    ['redirect', 'redirect "bart@example.com";', node('redirect', { positional: ['bart@example.com'] })],
    ['redirect name-addr', 'redirect "Bart <bart@example.com>";', node('redirect', { positional: ['Bart <bart@example.com>'] })],
    ['redirect :copy', 'require "copy"; redirect :copy "a@example.com";', node('redirect', { tags: { copy: true }, positional: ['a@example.com'] })],
    ['fileinto', 'require "fileinto"; fileinto "INBOX.x";', node('fileinto', { positional: ['INBOX.x'] })],
    [
      'fileinto :copy :create :flags',
      'require ["fileinto", "copy", "mailbox", "imap4flags"]; fileinto :copy :create :flags "\\\\Flagged" "x";',
      node('fileinto', { tags: { copy: true, create: true, flags: ['\\Flagged'] }, positional: ['x'] }),
    ],
    ['reject', 'require "reject"; reject "no";', node('reject', { positional: ['no'] })],
    ['reject text:', 'require "reject";\nreject text:\nToo big.\n..\n.\n;', node('reject', { positional: ['Too big.\r\n.\r\n'] })],
    ['ereject', 'require "ereject"; ereject "no";', node('ereject', { positional: ['no'] })],
    ['vacation', 'require "vacation"; vacation "away";', node('vacation', { positional: ['away'] })],
    [
      'vacation with every tag',
      'require "vacation"; vacation :days 3 :subject "s" :from "me@example.com" :addresses ["a@example.com", "b@example.com"] :mime :handle "h" "away";',
      node('vacation', {
        tags: { days: 3, subject: 's', from: 'me@example.com', addresses: ['a@example.com', 'b@example.com'], mime: true, handle: 'h' },
        positional: ['away'],
      }),
    ],
    ['vacation :addresses string', 'require "vacation"; vacation :addresses "a@example.com" "away";', node('vacation', { tags: { addresses: ['a@example.com'] }, positional: ['away'] })],
    ['vacation :seconds', 'require "vacation-seconds"; vacation :seconds 1800 "meeting";', node('vacation', { tags: { seconds: 1800 }, positional: ['meeting'] })],
    ['set', 'require "variables"; set "a" "b";', node('set', { positional: ['a', 'b'] })],
    [
      'set with modifiers',
      'require "variables"; set :upperfirst :lower :length :quotewildcard "a" "b";',
      node('set', { tags: { upperfirst: true, lower: true, length: true, quotewildcard: true }, positional: ['a', 'b'] }),
    ],
    ['set :quoteregex', 'require ["variables", "regex"]; set :quoteregex "a" "b";', node('set', { tags: { quoteregex: true }, positional: ['a', 'b'] })],
    ['set global.name', 'require ["variables", "include"]; set "global.x" "b";', node('set', { positional: ['global.x', 'b'] })],
    ['set keeps variable references', 'require "variables"; set "a" "${b} ${1}";', node('set', { positional: ['a', '${b} ${1}'] })],
    ['setflag', 'require "imap4flags"; setflag "\\\\Seen";', node('setflag', { positional: [['\\Seen']] })],
    ['setflag list', 'require "imap4flags"; setflag ["a", "b"];', node('setflag', { positional: [['a', 'b']] })],
    ['setflag variable', 'require ["imap4flags", "variables"]; setflag "v" "a";', node('setflag', { positional: ['v', ['a']] })],
    ['addflag', 'require "imap4flags"; addflag "a";', node('addflag', { positional: [['a']] })],
    ['addflag variable', 'require ["imap4flags", "variables"]; addflag "v" ["a", "b"];', node('addflag', { positional: ['v', ['a', 'b']] })],
    ['removeflag', 'require "imap4flags"; removeflag "a";', node('removeflag', { positional: [['a']] })],
    ['removeflag variable', 'require ["imap4flags", "variables"]; removeflag "v" "a";', node('removeflag', { positional: ['v', ['a']] })],
    ['include', 'require "include"; include "x";', node('include', { positional: ['x'] })],
    [
      'include with every tag',
      'require "include"; include :global :once :optional "x";',
      node('include', { tags: { global: true, once: true, optional: true }, positional: ['x'] }),
    ],
    ['include :personal', 'require "include"; include :personal "x";', node('include', { tags: { personal: true }, positional: ['x'] })],
    ['include :once twice', 'require "include"; include :once :once "x";', node('include', { tags: { once: true }, positional: ['x'] })],
    ['return', 'require "include"; return;', node('return')],
    ['global', 'require ["include", "variables"]; global "a";', node('global', { positional: [['a']] })],
    ['global list', 'require ["include", "variables"]; global ["a", "b_2"];', node('global', { positional: [['a', 'b_2']] })],
    ['error', 'require "ihave"; error "no";', node('error', { positional: ['no'] })],
  ])('%s', (_name, source, expected) => {
    expect(lastCommand(source)).toEqual(expected);
  });

  it('folds if/elsif/else into the branches of the if', () => {
    const [command] = compile('if exists "a" { keep; } elsif exists "b" { discard; } else { stop; }').commands;
    expect(plain(command)).toEqual(
      node('if', {
        branches: [
          { test: node('exists', { positional: [['a']] }), block: [node('keep')] },
          { test: node('exists', { positional: [['b']] }), block: [node('discard')] },
          { block: [node('stop')] },
        ],
      } as Partial<CompiledNode>),
    );
  });

  it('starts a new if after a command between two ifs', () => {
    const commands = compile('if exists "a" { keep; }\nif exists "b" { discard; } else { stop; }').commands;
    expect(commands.map((command) => command.branches?.length)).toEqual([1, 2]);
  });

  it('does not list require among the commands, and lists the extensions required', () => {
    const script = compile('require ["fileinto", "copy"];\nrequire "fileinto";\nkeep;');
    expect(script.commands.map((command) => command.name)).toEqual(['keep']);
    expect(script.extensions).toEqual(['fileinto', 'copy']);
    expect(script.name).toBe('test');
    expect(script.includes).toEqual({});
  });

  it('loads vacation with vacation-seconds, as Pigeonhole does', () => {
    expect(compile('require "vacation-seconds"; vacation :days 2 "x";').extensions).toEqual(['vacation-seconds', 'vacation']);
  });
});

describe('tests', () => {
  it.each([
    ['header', 'if header "subject" "x" {}', matchNode('header', { positional: [['subject'], ['x']] })],
    [
      'header :contains :comparator',
      'if header :contains :comparator "i;octet" ["subject", "to"] ["a", "b"] {}',
      matchNode('header', { match: { type: 'contains' }, comparator: 'i;octet', positional: [['subject', 'to'], ['a', 'b']] }),
    ],
    ['header :matches', 'if header :matches "subject" "*x?" {}', matchNode('header', { match: { type: 'matches' }, positional: [['subject'], ['*x?']] })],
    ['header :is explicit', 'if header :is :comparator "I;ASCII-CASEMAP" "a" "b" {}', matchNode('header', { positional: [['a'], ['b']] })],
    ['header :regex', 'require "regex"; if header :regex "subject" "^a(b|c)+$" {}', matchNode('header', { match: { type: 'regex' }, positional: [['subject'], ['^a(b|c)+$']] })],
    [
      'header :value',
      'require "relational"; if header :value "ge" "x-priority" "3" {}',
      matchNode('header', { match: { type: 'value', relation: 'ge' }, positional: [['x-priority'], ['3']] }),
    ],
    [
      'header :count i;ascii-numeric',
      'require ["relational", "comparator-i;ascii-numeric"]; if header :count "gt" :comparator "i;ascii-numeric" "received" "3" {}',
      matchNode('header', { match: { type: 'count', relation: 'gt' }, comparator: 'i;ascii-numeric', positional: [['received'], ['3']] }),
    ],
    ['header :index :last', 'require "index"; if header :index 2 :last "received" "x" {}', matchNode('header', { tags: { index: 2, last: true }, positional: [['received'], ['x']] })],
    ['address', 'if address "from" "a@example.com" {}', matchNode('address', { addressPart: 'all', positional: [['from'], ['a@example.com']] })],
    [
      'address :domain :contains',
      'if address :domain :contains ["To", "CC", "x-original-to"] "example" {}',
      matchNode('address', { addressPart: 'domain', match: { type: 'contains' }, positional: [['To', 'CC', 'x-original-to'], ['example']] }),
    ],
    ['address :localpart', 'if address :localpart "from" "a" {}', matchNode('address', { addressPart: 'localpart', positional: [['from'], ['a']] })],
    ['address :all', 'if address :all "from" "a" {}', matchNode('address', { addressPart: 'all', positional: [['from'], ['a']] })],
    ['address :user', 'require "subaddress"; if address :user "to" "ken" {}', matchNode('address', { addressPart: 'user', positional: [['to'], ['ken']] })],
    ['address :detail', 'require "subaddress"; if address :detail "to" "lists" {}', matchNode('address', { addressPart: 'detail', positional: [['to'], ['lists']] })],
    ['address :index', 'require "index"; if address :index 1 "from" "a" {}', matchNode('address', { addressPart: 'all', tags: { index: 1 }, positional: [['from'], ['a']] })],
    ['envelope', 'require "envelope"; if envelope "from" "a@example.com" {}', matchNode('envelope', { addressPart: 'all', positional: [['from'], ['a@example.com']] })],
    [
      'envelope :detail',
      'require ["envelope", "subaddress"]; if envelope :detail ["TO", "From"] "x" {}',
      matchNode('envelope', { addressPart: 'detail', positional: [['TO', 'From'], ['x']] }),
    ],
    ['envelope auth', 'require "envelope"; if envelope :contains "auth" "x" {}', matchNode('envelope', { addressPart: 'all', match: { type: 'contains' }, positional: [['auth'], ['x']] })],
    ['exists', 'if exists ["From", "Date"] {}', node('exists', { positional: [['From', 'Date']] })],
    ['size :over', 'if size :over 1K {}', node('size', { tags: { over: true }, positional: [1024] })],
    ['size :under', 'if size :under 10 {}', node('size', { tags: { under: true }, positional: [10] })],
    [
      'allof',
      'if allof (exists "a", exists "b") {}',
      node('allof', { tests: [node('exists', { positional: [['a']] }), node('exists', { positional: [['b']] })] as CompiledNode[] }),
    ],
    ['anyof', 'if anyof (exists "a") {}', node('anyof', { tests: [node('exists', { positional: [['a']] })] as CompiledNode[] })],
    ['not', 'if not exists "a" {}', node('not', { tests: [node('exists', { positional: [['a']] })] as CompiledNode[] })],
    ['true', 'if true {}', node('true')],
    ['false in an anyof', 'if anyof (exists "a", false) {}', node('anyof', { tests: [node('exists', { positional: [['a']] }), node('false')] as CompiledNode[] })],
    ['body', 'require "body"; if body :contains "x" {}', matchNode('body', { match: { type: 'contains' }, positional: [['x']] })],
    ['body :raw', 'require "body"; if body :raw "x" {}', matchNode('body', { tags: { raw: true }, positional: [['x']] })],
    ['body :text', 'require "body"; if body :text "x" {}', matchNode('body', { tags: { text: true }, positional: [['x']] })],
    ['body :content', 'require "body"; if body :content "text" :contains "x" {}', matchNode('body', { tags: { content: ['text'] }, match: { type: 'contains' }, positional: [['x']] })],
    ['body :content list', 'require "body"; if body :content ["text/plain", "audio"] "x" {}', matchNode('body', { tags: { content: ['text/plain', 'audio'] }, positional: [['x']] })],
    ['string', 'require "variables"; if string :is "${a}" ["", "x"] {}', matchNode('string', { comparator: 'i;octet', positional: [['${a}'], ['', 'x']] })],
    ['hasflag', 'require "imap4flags"; if hasflag "\\\\Seen" {}', matchNode('hasflag', { positional: [['\\Seen']] })],
    ['hasflag with variables', 'require ["imap4flags", "variables"]; if hasflag :contains ["v", "w"] "x" {}', matchNode('hasflag', { match: { type: 'contains' }, positional: [['v', 'w'], ['x']] })],
    [
      'hasflag :count',
      'require ["imap4flags", "relational", "comparator-i;ascii-numeric"]; if hasflag :count "ge" :comparator "i;ascii-numeric" "2" {}',
      matchNode('hasflag', { match: { type: 'count', relation: 'ge' }, comparator: 'i;ascii-numeric', positional: [['2']] }),
    ],
    ['date', 'require "date"; if date "date" "year" "2025" {}', matchNode('date', { positional: ['date', 'year', ['2025']] })],
    ['date :zone', 'require "date"; if date :zone "+0100" "date" "hour" "09" {}', matchNode('date', { tags: { zone: '+0100' }, positional: ['date', 'hour', ['09']] })],
    ['date :originalzone', 'require "date"; if date :originalzone "date" "hour" "09" {}', matchNode('date', { tags: { originalzone: true }, positional: ['date', 'hour', ['09']] })],
    [
      'date :index :last :value',
      'require ["date", "index", "relational"]; if date :value "gt" :index 2 :last "received" "iso8601" "2007" {}',
      matchNode('date', { tags: { index: 2, last: true }, match: { type: 'value', relation: 'gt' }, positional: ['received', 'iso8601', ['2007']] }),
    ],
    ['date part unknown (Pigeonhole only warns)', 'require "date"; if date "date" "fortnight" "x" {}', matchNode('date', { positional: ['date', 'fortnight', ['x']] })],
    ['date :zone invalid (Pigeonhole only warns)', 'require "date"; if date :zone "xx" "date" "year" "x" {}', matchNode('date', { tags: { zone: 'xx' }, positional: ['date', 'year', ['x']] })],
    ['currentdate', 'require "date"; if currentdate "weekday" "0" {}', matchNode('currentdate', { positional: ['weekday', ['0']] })],
    ['currentdate :zone', 'require "date"; if currentdate :zone "-0500" "hour" "1" {}', matchNode('currentdate', { tags: { zone: '-0500' }, positional: ['hour', ['1']] })],
    ['environment', 'require "environment"; if environment :contains "domain" "example" {}', matchNode('environment', { match: { type: 'contains' }, positional: ['domain', ['example']] })],
    ['mailboxexists', 'require "mailbox"; if mailboxexists ["a", "b"] {}', node('mailboxexists', { positional: [['a', 'b']] })],
    ['ihave', 'require "ihave"; if ihave ["fileinto", "copy"] {}', node('ihave', { positional: [['fileinto', 'copy']] })],
    ['duplicate', 'require "duplicate"; if duplicate {}', node('duplicate')],
    [
      'duplicate with tags',
      'require "duplicate"; if duplicate :handle "h" :header "message-id" :seconds 60 :last {}',
      node('duplicate', { tags: { handle: 'h', header: 'message-id', seconds: 60, last: true } }),
    ],
    ['duplicate :uniqueid', 'require "duplicate"; if duplicate :uniqueid "x" {}', node('duplicate', { tags: { uniqueid: 'x' } })],
    ['header names Pigeonhole only warns about', 'if header "fr om" "x" {}', matchNode('header', { positional: [['fr om'], ['x']] })],
  ])('%s', (_name, source, expected) => {
    expect(lastTest(source)).toEqual(expected);
  });
});

describe('errors (as sievec reports them)', () => {
  it.each([
    // require
    ['require "foo";', ['1:9: require command: unknown Sieve capability `foo\'']],
    ['require ["a", "b"];', ["1:9: require command: unknown Sieve capability `a'", "1:9: require command: unknown Sieve capability `b'"]],
    ['require "FileInto";', ["1:9: require command: unknown Sieve capability `FileInto'"]],
    ['require "if";', ["1:9: require command: `if' is not known as a Sieve capability, but it is known as a Sieve command that is always available"]],
    ['require "header";', ["1:9: require command: `header' is not known as a Sieve capability, but it is known as a Sieve test that is always available"]],
    ['require 1;', ['1:9: the require command accepts a single string or string list argument, but a number was found']],
    ['require;', ['1:1: the require command requires 1 positional argument(s), but 0 is/are specified']],
    ['require "fileinto" "x";', ['1:1: the require command requires 1 positional argument(s), but 2 is/are specified']],
    ['keep;\nrequire "fileinto";', ['2:1: require commands can only be placed at top level at the beginning of the file']],
    ['if true { require "fileinto"; }', ['1:11: require commands can only be placed at top level at the beginning of the file']],
    ['require "foo";\nrequire "bar";\nfileinto "x";', [
      "1:9: require command: unknown Sieve capability `foo'",
      "2:9: require command: unknown Sieve capability `bar'",
      "3:1: unknown command 'fileinto' (only reported once at first occurrence)",
    ]],
    // unknown and misused commands, tests, tags
    ['foo;\nfoo;', ["1:1: unknown command 'foo' (only reported once at first occurrence)"]],
    ['if foo { keep; }', ["1:4: unknown test 'foo' (only reported once at first occurrence)"]],
    ['fileinto "x";', ["1:1: unknown command 'fileinto' (only reported once at first occurrence)"]],
    ['keep; true;', ["1:7: attempted to use test 'true' as command"]],
    ['if keep {keep;}', ["1:4: attempted to use command 'keep' as test"]],
    ['keep :foo;\nkeep :foo;', ["1:6: unknown tagged argument ':foo' for the keep command (reported only once at first occurrence)"]],
    ['require "fileinto"; fileinto :copy "x";', ["1:30: unknown tagged argument ':copy' for the fileinto command (reported only once at first occurrence)"]],
    ['redirect :copy "a@b.c";', ["1:10: unknown tagged argument ':copy' for the redirect command (reported only once at first occurrence)"]],
    ['require "mailbox"; keep :create;', ["1:25: unknown tagged argument ':create' for the keep command (reported only once at first occurrence)"]],
    ['keep :flags "x";', ["1:6: unknown tagged argument ':flags' for the keep command (reported only once at first occurrence)"]],
    ['if header :regex "a" "b" {keep;}', ["1:11: unknown tagged argument ':regex' for the header test (reported only once at first occurrence)"]],
    ['if header :value "gt" "a" "1" {keep;}', ["1:11: unknown tagged argument ':value' for the header test (reported only once at first occurrence)"]],
    ['if address :user "to" "a" {keep;}', ["1:12: unknown tagged argument ':user' for the address test (reported only once at first occurrence)"]],
    ['require "date"; if date :index 1 "date" "year" "x" {keep;}', ["1:25: unknown tagged argument ':index' for the date test (reported only once at first occurrence)"]],
    ['require "date"; if currentdate :originalzone "year" "x" {keep;}', ["1:32: unknown tagged argument ':originalzone' for the currentdate test (reported only once at first occurrence)"]],
    ['require ["index", "envelope"]; if envelope :index 1 "from" "x" {keep;}', ["1:44: unknown tagged argument ':index' for the envelope test (reported only once at first occurrence)"]],
    ['require "vacation"; vacation :seconds 10 "x";', ["1:30: unknown tagged argument ':seconds' for the vacation command (reported only once at first occurrence)"]],
    ['require "duplicate"; if duplicate :days 1 {keep;}', ["1:35: unknown tagged argument ':days' for the duplicate test (reported only once at first occurrence)"]],
    ['require "variables"; set :quoteregex "a" "x";', ["1:26: unknown tagged argument ':quoteregex' for the set command (reported only once at first occurrence)"]],
    ['require "include"; keep :once;', ["1:25: unknown tagged argument ':once' for the keep command (reported only once at first occurrence)"]],
    // arity and argument types
    ['keep "a";', ['1:1: the keep command requires 0 positional argument(s), but 1 is/are specified']],
    ['require "fileinto"; fileinto;', ['1:21: the fileinto command requires 1 positional argument(s), but 0 is/are specified']],
    ['require "fileinto"; fileinto 1;', ['1:30: the fileinto command expects a string as argument 1 (folder), but a number was found']],
    ['require "fileinto"; fileinto ["a"];', ['1:30: the fileinto command expects a string as argument 1 (folder), but a string list was found']],
    ['redirect "a@b.c" "d";', ['1:1: the redirect command requires 1 positional argument(s), but 2 is/are specified']],
    ['redirect 1;', ['1:10: the redirect command expects a string as argument 1 (address), but a number was found']],
    ['if header :is "a" {keep;}', ['1:4: the header test requires 2 positional argument(s), but 1 is/are specified']],
    ['if header ["a"] 1 {keep;}', ['1:17: the header test expects a string list as argument 2 (key list), but a number was found']],
    ['if header 1 "a" {keep;}', ['1:11: the header test expects a string list as argument 1 (header names), but a number was found']],
    ['if address 1 "a" {keep;}', ['1:12: the address test expects a string list as argument 1 (header list), but a number was found']],
    ['require "envelope"; if envelope 1 "a" {keep;}', ['1:33: the envelope test expects a string list as argument 1 (envelope part), but a number was found']],
    ['if exists 1 {keep;}', ['1:11: the exists test expects a string list as argument 1 (header names), but a number was found']],
    ['if size :over "1" {keep;}', ['1:15: the size test expects a number as argument 1 (limit), but a string was found']],
    ['if size :over 1 2 {keep;}', ['1:4: the size test requires 1 positional argument(s), but 2 is/are specified']],
    ['require "body"; if body 1 {keep;}', ['1:25: the body test expects a string list as argument 1 (key list), but a number was found']],
    ['require "body"; if body :content "x" {keep;}', ['1:20: the body test requires 1 positional argument(s), but 0 is/are specified']],
    ['require "variables"; if string 1 "a" {keep;}', ['1:32: the string test expects a string list as argument 1 (source), but a number was found']],
    ['require "date"; if date 1 "a" "b" {keep;}', ['1:25: the date test expects a string as argument 1 (header name), but a number was found']],
    ['require "date"; if date "a" 1 "b" {keep;}', ['1:29: the date test expects a string as argument 2 (date part), but a number was found']],
    ['require "date"; if currentdate 1 "b" {keep;}', ['1:32: the currentdate test expects a string as argument 1 (date part), but a number was found']],
    ['require "environment"; if environment 1 "b" {keep;}', ['1:39: the environment test expects a string as argument 1 (name), but a number was found']],
    ['require "environment"; if environment "name" {keep;}', ['1:27: the environment test requires 2 positional argument(s), but 1 is/are specified']],
    ['require "mailbox"; if mailboxexists 1 {keep;}', ['1:37: the mailboxexists test expects a string list as argument 1 (mailbox-names), but a number was found']],
    ['require "ihave"; if ihave 1 {keep;}', ['1:27: the ihave test expects a string list as argument 1 (capabilities), but a number was found']],
    ['require "ihave"; error 1;', ['1:24: the error command expects a string as argument 1 (message), but a number was found']],
    ['require "reject"; reject 1;', ['1:26: the reject command expects a string as argument 1 (reason), but a number was found']],
    ['require "ereject"; ereject;', ['1:20: the ereject command requires 1 positional argument(s), but 0 is/are specified']],
    ['require "vacation"; vacation 1;', ['1:30: the vacation command expects a string as argument 1 (reason), but a number was found']],
    ['require "vacation"; vacation "x" "y";', ['1:21: the vacation command requires 1 positional argument(s), but 2 is/are specified']],
    ['require "vacation"; vacation :subject "x";', ['1:21: the vacation command requires 1 positional argument(s), but 0 is/are specified']],
    ['require "variables"; set "a" 1;', ['1:30: the set command expects a string as argument 2 (value), but a number was found']],
    ['require "variables"; set ["a"] "b";', ['1:26: the set command expects a string as argument 1 (name), but a string list was found']],
    ['require "variables"; set "a" "x" "y";', ['1:22: the set command requires 2 positional argument(s), but 3 is/are specified']],
    ['require "include"; include "a" "b";', ['1:20: the include command requires 1 positional argument(s), but 2 is/are specified']],
    ['require "include"; include 1;', ['1:28: the include command expects a string as argument 1 (value), but a number was found']],
    ['require "include"; return "x";', ['1:20: the return command requires 0 positional argument(s), but 1 is/are specified']],
    ['require ["include", "variables"]; global 1;', ['1:42: the global command accepts a single string or string list argument, but a number was found']],
    ['require ["include", "variables"]; global;', ['1:35: the global command requires 1 positional argument(s), but 0 is/are specified']],
    // tags: parameters, duplicates, conflicts, order
    ['if header :comparator 1 "a" "b" {keep;}', ['1:23: the :comparator tag for the header test requires a string as parameter, but a number was found']],
    ['if header :comparator {keep;}', ['1:11: the :comparator tag for the header test requires a string as parameter, but no parameters were found']],
    ['if header :comparator :is "a" "b" {keep;}', ['1:23: the :comparator tag for the header test requires a string as parameter, but a tag was found']],
    ['require "vacation"; vacation :days "1" "x";', ['1:36: the :days tag for the vacation command requires a number as parameter, but a string was found']],
    ['require "vacation"; vacation :days;', ['1:30: the :days tag for the vacation command requires a number as parameter, but no parameters were found']],
    ['require "vacation"; vacation :handle ["a"] "x";', ['1:38: the :handle tag for the vacation command requires a string as parameter, but a string list was found']],
    ['require "vacation"; vacation :addresses 1 "x";', ['1:41: the :addresses tag for the vacation command requires a string list as parameter, but a number was found']],
    ['require "vacation"; vacation :subject 1 "x";', ['1:39: the :subject tag for the vacation command requires a string as parameter, but a number was found']],
    ['require "imap4flags"; keep :flags 1;', ['1:35: the :flags tag for the keep command requires a string list as parameter, but a number was found']],
    ['require "date"; if date :zone 1 "a" "b" "c" {keep;}', ['1:31: the :zone tag for the date test requires a string as parameter, but a number was found']],
    ['if header :is :contains "a" "b" { keep; }', ['1:15: encountered duplicate MATCH-TYPE argument (:contains) for the header test']],
    ['if header :is :is "a" "b" {keep;}', ['1:15: encountered duplicate MATCH-TYPE argument (:is) for the header test']],
    ['if header :contains :comparator "i;octet" :matches "a" "b" {keep;}', ['1:43: encountered duplicate MATCH-TYPE argument (:matches) for the header test']],
    ['require "relational"; if header :value "gt" :count "ge" "a" "1" {keep;}', ['1:45: encountered duplicate MATCH-TYPE argument (:count) for the header test']],
    ['if header :comparator "i;octet" :comparator "i;octet" "a" "b" {keep;}', ['1:33: encountered duplicate :comparator argument for the header test']],
    ['require "subaddress"; if address :user :domain "to" "a" {keep;}', ['1:40: encountered duplicate ADDRESS-PART argument (:domain) for the address test']],
    ['if address :all :comparator "i;octet" :domain "from" "x" {keep;}', ['1:39: encountered duplicate ADDRESS-PART argument (:domain) for the address test']],
    ['require ["fileinto", "copy"]; fileinto :copy :copy "x";', ['1:46: encountered duplicate :copy argument for the fileinto command']],
    ['require ["fileinto", "imap4flags"]; fileinto :flags "a" :flags "b" "x";', ['1:57: encountered duplicate :flags argument for the fileinto command']],
    ['require "vacation"; vacation :days 1 :days 2 "x";', ['1:38: encountered duplicate :days argument for the vacation command']],
    ['require "vacation-seconds"; vacation :days 1 :seconds 2 "x";', ['1:46: encountered duplicate :seconds argument for the vacation command']],
    ['require "vacation"; vacation :mime :mime "x";', ['1:36: encountered duplicate :mime argument for the vacation command']],
    ['require "body"; if body :raw :text "x" {keep;}', ['1:30: encountered duplicate :text argument for the body test']],
    ['require "date"; if date :zone "+0100" :originalzone "date" "year" "x" {keep;}', ['1:39: encountered duplicate :originalzone argument for the date test']],
    ['require "index"; if header :index 1 :index 2 "a" "x" {keep;}', ['1:37: encountered duplicate :index argument for the header test']],
    ['if size :over :under 1 {keep;}', ["1:15: exactly one of the ':under' or ':over' tags must be specified for the size test, but more were found"]],
    ['if size :over :over 1 {keep;}', ["1:15: exactly one of the ':under' or ':over' tags must be specified for the size test, but more were found"]],
    ['if size 1 {keep;}', ['1:4: the size test requires either the :under or the :over tag to be specified']],
    ['if size :over 1 :under 2 {keep;}', ["1:17: encountered an unexpected tagged argument ':under' while validating positional arguments for the size test"]],
    ['if header "from" :is "x" {keep;}', ["1:18: encountered an unexpected tagged argument ':is' while validating positional arguments for the header test"]],
    ['require ["fileinto", "copy"]; fileinto "x" :copy;', ["1:44: encountered an unexpected tagged argument ':copy' while validating positional arguments for the fileinto command"]],
    ['require "duplicate"; if duplicate :header "x" :uniqueid "y" {keep;}', ['1:47: conflicting :header and :uniqueid arguments specified for the duplicate test']],
    ['require "duplicate"; if duplicate :header "x" :header "y" {keep;}', ['1:47: encountered duplicate :header argument for the duplicate test']],
    ['require "include"; include :personal :global "a";', ["1:38: include: cannot use location tags ':personal' and ':global' multiple times"]],
    ['require "include"; include :personal :personal "a";', ["1:38: include: cannot use location tags ':personal' and ':global' multiple times"]],
    ['require "variables"; set :lower :upper "a" "x";', ['1:33: modifiers :lower and :upper specified for the set command conflict having equal precedence']],
    ['require "variables"; set :lower :lower "a" "x";', ['1:33: modifiers :lower and :lower specified for the set command conflict having equal precedence']],
    ['require "variables"; set :upperfirst :lowerfirst "a" "x";', ['1:38: modifiers :upperfirst and :lowerfirst specified for the set command conflict having equal precedence']],
    ['require "variables"; set :length :length "a" "b";', ['1:34: modifiers :length and :length specified for the set command conflict having equal precedence']],
    ['require ["variables", "regex"]; set :quotewildcard :quoteregex "a" "b";', ['1:52: modifiers :quotewildcard and :quoteregex specified for the set command conflict having equal precedence']],
    // sub-tests and blocks
    ['if true keep;', ['1:1: the if command requires a command block, but it is missing', "1:4: missing semicolon ';' after true test"]],
    ['if { keep; }', ['1:1: the if command requires one sub-test, but none is specified']],
    ['if true;', ['1:1: the if command requires a command block, but it is missing']],
    ['stop { keep; }', ['1:1: the stop command does not accept a command block, but one is specified anyway']],
    ['keep true;', ['1:1: the keep command accepts no sub-tests, but tests are specified']],
    ['if true true {keep;}', ['1:4: the true test accepts no sub-tests, but tests are specified']],
    ['if size over 1 {keep;}', ['1:4: the size test requires 1 positional argument(s), but 0 is/are specified', "1:4: missing colon ':' before ':over' tag in size test"]],
    ['if header contains "a" "b" {keep;}', ['1:4: the header test requires 2 positional argument(s), but 0 is/are specified', "1:4: missing colon ':' before ':contains' tag in header test"]],
    ['if not { keep; }', ['1:4: the not test requires one sub-test, but none is specified']],
    ['if not (true, false) {keep;}', ['1:4: the not test requires one sub-test, but a list of tests is specified']],
    ['if allof true {keep;}', ['1:4: the allof test requires a list of sub-tests, but a single test is specified']],
    ['if anyof {keep;}', ['1:4: the anyof test requires a list of sub-tests, but none is specified']],
    ['if (true, false) {keep;}', ['1:1: the if command requires one sub-test, but a list of tests is specified']],
    ['elsif true { keep; }', ['1:1: the elsif command must follow an if or elseif command']],
    ['else { keep; }', ['1:1: the else command must follow an if or elseif command']],
    ['if true {keep;} else {keep;} else {keep;}', ['1:30: the else command must follow an if or elseif command']],
    ['if exists "a" {keep;} keep; elsif true {keep;}', ['1:29: the elsif command must follow an if or elseif command']],
    ['if exists "a" {keep;} else {keep;} elsif true {keep;}', ['1:36: the elsif command must follow an if or elseif command']],
    // values
    ['if header :comparator "i;foo" "a" "b" {keep;}', ["1:23: unknown comparator 'i;foo'"]],
    ['if header :comparator "i;ascii-numeric" "a" "1" {keep;}', ["1:23: unknown comparator 'i;ascii-numeric'"]],
    ['require ["variables"]; if header :comparator "${x}" "a" "1" {keep;}', ['1:46: this Sieve implementation currently only supports a literal string argument for the :comparator tag']],
    [
      'require "comparator-i;ascii-numeric"; if header :comparator "i;ascii-numeric" :contains "a" "1" {keep;}',
      ['1:49: the specified i;ascii-numeric comparator does not support sub-string matching as required by the :contains match type'],
    ],
    [
      'require "comparator-i;ascii-numeric"; if header :matches :comparator "i;ascii-numeric" "a" "1" {keep;}',
      ['1:58: the specified i;ascii-numeric comparator does not support sub-string matching as required by the :matches match type'],
    ],
    ['require "relational"; if header :value "xx" "a" "1" {keep;}', ['1:40: the :value match-type requires a constant string argument being one of "gt", "ge", "lt", "le", "eq" or "ne", but "xx" was found']],
    ['require "relational"; if header :value "GT" "a" "1" {keep;}', ['1:40: the :value match-type requires a constant string argument being one of "gt", "ge", "lt", "le", "eq" or "ne", but "GT" was found']],
    ['require "relational"; if header :count "a" "1" {keep;}', ['1:40: the :count match-type requires a constant string argument being one of "gt", "ge", "lt", "le", "eq" or "ne", but "a" was found']],
    ['require "relational"; if header :count 1 "a" "1" {keep;}', ['1:40: the :count match-type requires a constant string argument being one of "gt", "ge", "lt", "le", "eq" or "ne", but a number was found']],
    ['require "relational"; if header :count :is "a" "b" {keep;}', ['1:40: the :count match-type requires a constant string argument being one of "gt", "ge", "lt", "le", "eq" or "ne", but a tag was found']],
    ['require "relational"; if header :value {keep;}', ['1:33: the :value match-type requires a constant string argument being one of "gt", "ge", "lt", "le", "eq" or "ne", but none was found']],
    ['require ["relational", "variables"]; if header :value "${x}" "a" "1" {keep;}', ['1:55: the :value match-type requires a constant string argument being one of "gt", "ge", "lt", "le", "eq" or "ne", but "${x}" was found']],
    ['require "regex"; if header :regex "a" "(" {keep;}', [expect.stringMatching(/^1:39: invalid regular expression '\(' for regex match: .+/)]],
    ['require "regex"; if header :regex "a" ["ok", "[a"] {keep;}', [expect.stringMatching(/^1:39: invalid regular expression '\[a' for regex match: .+/)]],
    ['require "index"; if header :index 0 "a" "x" {keep;}', ['1:35: the :index tag for the header test cannot be zero']],
    ['require ["date", "index"]; if date :index 0 "date" "year" "x" {keep;}', ['1:43: the :index tag for the date test cannot be zero']],
    ['require "index"; if header :last "a" "x" {keep;}', ['1:28: the :last tag for the header test cannot be specified without the :index tag']],
    ['require ["date", "index"]; if date :last "date" "year" "x" {keep;}', ['1:36: the :last tag for the date test cannot be specified without the :index tag']],
    ['if address "subject" "x" {keep;}', ["1:12: specified header 'subject' is not allowed for the address test"]],
    ['if address ["from", "x-foo"] "x" {keep;}', ["1:12: specified header 'x-foo' is not allowed for the address test"]],
    ['require "envelope"; if envelope "foo" "x" {keep;}', ["1:33: specified envelope part 'foo' is not supported by the envelope test"]],
    ['require "envelope"; if envelope :all "auth" "x" {keep;}', ["1:33: address part ':all' specified while non-address envelope part 'auth' is tested with the envelope test"]],
    ['require "envelope"; if envelope :domain ["to", "AUTH"] "x" {keep;}', ["1:33: address part ':domain' specified while non-address envelope part 'AUTH' is tested with the envelope test"]],
    ['require ["regex", "comparator-i;ascii-numeric"]; if header :regex :comparator "i;ascii-numeric" "a" "b" {keep;}', ['1:60: regex match type only supports i;octet and i;ascii-casemap comparators']],
    ['require "index"; if address :last "subject" "x" {keep;}', ['1:29: the :last tag for the address test cannot be specified without the :index tag']],
    ['require "vacation"; vacation :subject "s" :from "bad";', ["1:49: specified :from address 'bad' is invalid for vacation action"]],
    ['require "vacation"; vacation :from "bad" :from "a@example.com" "x";', ["1:36: specified :from address 'bad' is invalid for vacation action"]],
    ['require "duplicate"; if duplicate :uniqueid "x" :header "y" {keep;}', ['1:49: conflicting :header and :uniqueid arguments specified for the duplicate test']],
    ['require ["variables", "include"]; set "global.a.b" "x";', ['1:39: invalid variable name within global namespace: encountered sub-namespace']],
    ['require "variables"; set "a..b" "x";', ["1:26: invalid variable name 'a..b'"]],
    ['require "variables"; set "1a" "x";', ["1:26: invalid variable name '1a'"]],
    ['require "variables"; set "a.1" "x";', ["1:26: referring to variable in unknown namespace 'a'"]],
    ['require "variables"; set "x@example.com" "x";', ["1:26: invalid variable name 'x@example.com'"]],
    [`require "variables"; set "${'a'.repeat(72)}" "x";`, [`1:26: invalid variable name '${'a'.repeat(72)}'`]],
    ['require ["variables", "encoded-character"]; set "${hex:41}" "x";', ["1:49: invalid variable name '${hex:41}'"]],
    ['require ["variables", "encoded-character", "imap4flags"]; if hasflag "${hex:41}" "x" {keep;}', ["1:70: invalid variable name '${hex:41}'"]],
    ['require ["variables", "include"]; set "v" "x"; global "v";', ["1:55: declaration of new global variable 'v' conflicts with earlier local use"]],
    ['require ["variables", "include"]; set "V" "x"; global "v";', ["1:55: declaration of new global variable 'v' conflicts with earlier local use"]],
    ['require ["variables", "include", "fileinto"]; fileinto "${v}"; global "v";', ["1:71: declaration of new global variable 'v' conflicts with earlier local use"]],
    ['require ["variables", "include", "imap4flags"]; if hasflag "v" "x" {keep;} global "v";', ["1:83: declaration of new global variable 'v' conflicts with earlier local use"]],
    ['require ["variables", "include"]; if true { set "v" "x"; } global "v";', ["1:67: declaration of new global variable 'v' conflicts with earlier local use"]],
    ['redirect "foo";', ["1:10: specified redirect address 'foo' is invalid"]],
    ['redirect "";', ["1:10: specified redirect address '' is invalid"]],
    ['redirect "a@b.c, d@e.f";', ["1:10: specified redirect address 'a@b.c, d@e.f' is invalid"]],
    ['require "vacation"; vacation :from "foo" "x";', ["1:36: specified :from address 'foo' is invalid for vacation action"]],
    ['require "variables"; set "a.b" "x";', ["1:26: referring to variable in unknown namespace 'a'"]],
    ['require "variables"; set "global.x" "b";', ["1:26: referring to variable in unknown namespace 'global'"]],
    ['require "variables"; set "1" "x";', ['1:26: cannot assign to match variable']],
    ['require "variables"; set "a-b" "x";', ["1:26: invalid variable name 'a-b'"]],
    ['require "variables"; set "" "x";', ["1:26: invalid variable name ''"]],
    ['require "variables"; set "${a}" "x";', ["1:26: invalid variable name '${a}'"]],
    ['require ["variables", "include"]; set "global.a-b" "x";', ["1:39: invalid variable name 'global.a-b'"]],
    ['require ["include", "variables"]; global "a.b";', ["1:42: invalid variable identifier 'a.b'"]],
    ['require ["include", "variables"]; global ["x", "1"];', ["1:42: invalid variable identifier '1'"]],
    ['require "include"; global "a";', ['1:20: global command requires that variables extension is active']],
    ['require "include"; include "a/b";', ["1:28: include: invalid script name 'a/b'"]],
    ['require "include"; include "";', ["1:28: include: invalid script name ''"]],
    ['require "include"; include "a\tb";', ["1:28: include: invalid script name 'a?b'"]],
    [`require "include"; include "${'a'.repeat(257)}";`, [`1:28: include: invalid script name '${'a'.repeat(77)}...'`]],
    ['require ["include", "variables"]; include "${x}";', ['1:43: the include command requires a constant string for its value argument']],
    // imap4flags argument forms
    ['require "imap4flags"; setflag;', ['1:23: the setflag command expects at least one argument, but none was found']],
    ['require "imap4flags"; addflag "v" "x";', ['1:23: the addflag command only allows for the specification of a variable name when the variables extension is active']],
    ['require "imap4flags"; if hasflag :contains "v" "x" {keep;}', ['1:26: the hasflag test only allows for the specification of a variable name when the variables extension is active']],
    ['require "imap4flags"; if hasflag {keep;}', ['1:26: the hasflag test expects at least one argument, but none was found']],
    ['require ["imap4flags", "variables"]; setflag ["v"] "x";', ['1:46: if a second argument is specified for the setflag command, the first must be a string (variable name), but a string list was found']],
    ['require ["imap4flags", "variables"]; setflag 1 "x";', ['1:46: the setflag command expects either a string (variable name) or a string-list (list of flags) as first argument, but a number was found']],
    ['require ["imap4flags", "variables"]; removeflag "v" 1;', ['1:53: the removeflag command expects a string list (list of flags) as second argument when two arguments are specified, but a number was found']],
    ['require ["imap4flags", "variables"]; setflag "bad-name" "x";', ["1:46: invalid variable name 'bad-name'"]],
    ['require ["imap4flags", "variables"]; if hasflag ["v1", "bad-x"] "x" {keep;}', ["1:49: invalid variable name 'bad-x'"]],
    ['require "imap4flags"; if hasflag :count "eq" "1" {keep;}', ["1:34: unknown tagged argument ':count' for the hasflag test (reported only once at first occurrence)"]],
    // encoded-character
    ['require "encoded-character"; keep :flags "${unicode:D800}";', ["1:35: unknown tagged argument ':flags' for the keep command (reported only once at first occurrence)"]],
    ['require ["encoded-character", "fileinto"]; fileinto "${unicode:D800}";', ['1:53: invalid unicode character 0x0000d800 in encoded character substitution']],
    ['require ["encoded-character", "fileinto"]; fileinto "${unicode:110000}";', ['1:53: invalid unicode character 0x00110000 in encoded character substitution']],
  ])('%j', (source, expected) => {
    expect(errors(source)).toEqual(expected);
  });

  it('collects errors of many commands, in source order, with line and column', () => {
    const source = [
      'require ["fileinto", "nope"];',
      'if header :is "subject" {',
      '  fileinto 1;',
      '} elsif exists 2 {',
      '  bogus;',
      '  redirect "not-an-address";',
      '}',
      'keep :copy;',
    ].join('\n');
    expect(errors(source)).toEqual([
      "1:9: require command: unknown Sieve capability `nope'",
      '2:4: the header test requires 2 positional argument(s), but 1 is/are specified',
      '3:12: the fileinto command expects a string as argument 1 (folder), but a number was found',
      '4:16: the exists test expects a string list as argument 1 (header names), but a number was found',
      "5:3: unknown command 'bogus' (only reported once at first occurrence)",
      "6:12: specified redirect address 'not-an-address' is invalid",
      "8:6: unknown tagged argument ':copy' for the keep command (reported only once at first occurrence)",
    ]);
  });

  it('names the script in the message', () => {
    expect(thrown(SieveCompileError, () => validateSieve(parseSieve('foo;', 'mine'), { scriptName: 'mine', enabledExtensions: ALL })).message).toBe(
      "mine: line 1: unknown command 'foo' (only reported once at first occurrence)",
    );
  });

  it('checks values only when they are constant', () => {
    expect(() =>
      compile(
        [
          'require ["variables", "regex", "envelope", "vacation", "include"];',
          'redirect "${x}";',
          'if header :regex "a" "${x}(" {keep;}',
          'if envelope "${part}" "x" {keep;}',
          'if address "${x}" "x" {keep;}',
          'vacation :from "${me}" "x";',
        ].join('\n'),
      ),
    ).not.toThrow();
  });

  it('accepts what Pigeonhole accepts around variable names and globals', () => {
    expect(() =>
      compile(
        [
          'require ["variables", "include", "imap4flags"];',
          'global "v"; set "v" "x"; global "v";',
          'set "w" "x"; global "other";',
          'global "g"; set "global.g" "x"; set "GLOBAL.h" "y";',
          'if hasflag ["1", "global.g"] "x" { keep; }',
          'set "_a1" "${global.g} ${1}";',
        ].join('\n'),
      ),
    ).not.toThrow();
  });

  it('takes ${...} literally without the variables extension', () => {
    expect(errors('redirect "${x}";')).toEqual(["1:10: specified redirect address '${x}' is invalid"]);
  });
});

describe('extensions', () => {
  it('are off unless enabled', () => {
    expect(errors('require "fileinto";', new Set(['envelope']))).toEqual(["1:9: require command: unknown Sieve capability `fileinto'"]);
    expect(errors('require "vacation-seconds";', DEFAULTS)).toEqual(["1:9: require command: unknown Sieve capability `vacation-seconds'"]);
    expect(() => compile('require "vacation-seconds";', new Set([...DEFAULTS, 'vacation-seconds']))).not.toThrow();
  });

  it('that only global scripts may use are refused with Pigeonhole\'s message', () => {
    const restricted = new Set(['vacation-seconds']);
    expect(errors('require "vacation-seconds";', DEFAULTS, restricted)).toEqual([
      "1:9: require command: failed to load Sieve capability `vacation-seconds': its use is restricted to global scripts",
    ]);
    expect(() => compile('require "vacation-seconds";', new Set([...DEFAULTS, 'vacation-seconds']), restricted)).not.toThrow();
  });

  it('cannot be ones Dovetail does not implement, even when enabled', () => {
    expect(errors('require "enotify";', new Set([...ALL, 'enotify']))).toEqual(["1:9: require command: unknown Sieve capability `enotify'"]);
  });

  it('lists every extension of issue 7, and enables all but vacation-seconds by default', () => {
    expect([...ALL_EXTENSIONS].sort()).toEqual(
      [
        'body', 'comparator-i;ascii-casemap', 'comparator-i;ascii-numeric', 'comparator-i;octet', 'copy', 'date', 'duplicate',
        'encoded-character', 'envelope', 'environment', 'ereject', 'fileinto', 'ihave', 'imap4flags', 'include', 'index',
        'mailbox', 'regex', 'reject', 'relational', 'subaddress', 'vacation', 'vacation-seconds', 'variables',
      ].sort(),
    );
    expect(ALL_EXTENSIONS.filter((name) => !DEFAULT_ENABLED_EXTENSIONS.includes(name))).toEqual(['vacation-seconds']);
  });

  it.each([
    ['', ['fileinto', 'envelope'], ['envelope', 'fileinto']],
    ['  \t ', ['fileinto'], ['fileinto']],
    ['+vacation-seconds', ['fileinto'], ['fileinto', 'vacation-seconds']],
    ['-fileinto', ['fileinto', 'envelope'], ['envelope']],
    ['+vacation-seconds -fileinto -body', ['fileinto', 'envelope', 'body'], ['envelope', 'vacation-seconds']],
    ['fileinto envelope', ['body', 'regex'], ['envelope', 'fileinto']],
    ['fileinto', ['body'], ['fileinto']],
    ['-fileinto fileinto', ['fileinto'], ['fileinto']],
    ['regex +copy', ['body'], ['body', 'copy', 'regex']],
    ['+nonsense -other', ['body'], ['body']],
    ['nonsense', ['body'], []],
    ['+FileInto', ['body'], ['body']],
    ['\tfileinto\t+copy  ', [], ['copy', 'fileinto']],
  ])('setting %j over %j', (value, base, expected) => {
    expect([...parseExtensionsSetting(value, new Set(base))].sort()).toEqual(expected);
  });
});

describe('constant tests (folded as Pigeonhole does)', () => {
  /** The branches of the script's last if: "test -> block", "-" for no test, "∅" for no branches. */
  function branches(source: string): string[] {
    const command = compile(source).commands.at(-1)!;
    return command.branches!.map((branch) => `${branch.test?.name ?? '-'} -> ${branch.block.map((node) => node.name).join(',')}`);
  }

  it.each([
    ['if false { foo; }', []],
    ['if not true { foo; }', []],
    ['if allof(true, false) { foo; }', []],
    ['if allof(false, foo) { bar; }', []],
    ['if anyof(false, false) { foo; } else { keep; }', ['- -> keep']],
    ['if true { keep; } else { bar; }', ['true -> keep']],
    ['if true { keep; } elsif foo { bar; } else { baz; }', ['true -> keep']],
    ['if false { foo; } elsif true { keep; } else { bar; }', ['true -> keep']],
    ['if not false { keep; }', ['true -> keep']],
    ['if anyof(exists "a", true) { keep; }', ['true -> keep']],
    ['if anyof(true, foo) { keep; }', ['true -> keep']],
    ['if allof(exists "a", true) { keep; }', ['allof -> keep']],
    ['if exists "a" { keep; } elsif false { foo; } else { discard; }', ['exists -> keep', '- -> discard']],
    ['require "ihave"; if ihave "xyz" { foo; bar :x; } else { keep; }', ['- -> keep']],
    ['require "ihave"; if ihave ["fileinto", "xyz"] { fileinto "x"; }', []],
    ['require "ihave"; if ihave "variables" { foo; }', []],
    ['require "ihave"; if ihave "encoded-character" { foo; }', []],
    ['require "ihave"; if not ihave "xyz" { keep; }', ['true -> keep']],
    ['require "ihave"; if anyof(ihave "x", ihave "y") { bar; } else { keep; }', ['- -> keep']],
    ['require "ihave"; if ihave "fileinto" { fileinto "x"; }', ['ihave -> fileinto']],
  ])('%j', (source, expected) => {
    expect(branches(source)).toEqual(expected);
  });

  it('an extension named by a successful ihave is usable from there on', () => {
    const script = compile('require "ihave";\nif ihave "fileinto" { keep; }\nfileinto "x";', DEFAULTS);
    expect(script.commands.at(-1)!.name).toBe('fileinto');
    expect(script.extensions).toEqual(['ihave', 'fileinto']);
    expect(errors('require "ihave";\nif ihave "xyz" { keep; }\nfileinto "x";')).toEqual([
      "3:1: unknown command 'fileinto' (only reported once at first occurrence)",
    ]);
  });

  it('an ihave of a disabled extension is false', () => {
    expect(branches('require "ihave"; if ihave "vacation-seconds" { vacation :seconds 10 "x"; } else { keep; }')).toEqual(['ihave -> vacation', '- -> keep']);
    const withDefaults = compile('require "ihave"; if ihave "vacation-seconds" { vacation :seconds 10 "x"; } else { keep; }', DEFAULTS);
    expect(withDefaults.commands[0]!.branches!.map((branch) => branch.block[0]!.name)).toEqual(['keep']);
  });

  it('still reports errors where the test is not constant, or is in error', () => {
    expect(errors('if anyof(true, foo) { bar; }')).toEqual(["1:23: unknown command 'bar' (only reported once at first occurrence)"]);
    expect(errors('if allof(foo, false) { bar; }')).toEqual([
      "1:10: unknown test 'foo' (only reported once at first occurrence)",
      "1:24: unknown command 'bar' (only reported once at first occurrence)",
    ]);
    expect(errors('if true { foo; } elsif false { bar; }')).toEqual(["1:11: unknown command 'foo' (only reported once at first occurrence)"]);
    expect(errors('require "ihave"; if ihave "foo" { keep; } elsif true { foo; }')).toEqual([
      "1:56: unknown command 'foo' (only reported once at first occurrence)",
    ]);
  });
});

describe('encoded-character (RFC 5228 2.4.2.4, as Pigeonhole reads it)', () => {
  it.each([
    ['${hex:41}', 'A'],
    ['${HEX: 41 42 }', 'AB'],
    ['${hex:4}', '\u0004'],
    ['${hex:4 1}', '\u0004\u0001'],
    ['${hex:c3 a9}', 'é'],
    ['${hex:00}', '\0'],
    ['${unicode:263a}', '☺'],
    ['${Unicode: 41  1F600 }', 'A😀'],
    ['${unicode:000000041}', 'A'],
    ['${unicode:0}', '\0'],
    ['${:41}', 'A'],
    ['${h:41}', 'A'],
    ['${u:41}', 'A'],
    ['${uni:41}', 'A'],
    ['${hex:41 }x', 'Ax'],
    ['a${hex:41}b${unicode:42}c', 'aAbBc'],
    ['$${hex:24 24}', '$$$'],
    ['${hex:41${hex:42}}', '${hex:41B}'],
    ['${hex:}', '${hex:}'],
    ['${hex:4g}', '${hex:4g}'],
    ['${hex:041}', '${hex:041}'],
    ['${hex:c3a9}', '${hex:c3a9}'],
    ['${hex :41}', '${hex :41}'],
    ['${hexx:41}', '${hexx:41}'],
    ['${unicode:}', '${unicode:}'],
    ['${hex:41', '${hex:41'],
    ['\\${hex:41}', 'A'],
  ])('%j', (encoded, decoded) => {
    const [command] = compile(`require ["encoded-character", "fileinto"]; fileinto "${encoded}";`).commands;
    expect(command!.positional).toEqual([decoded]);
  });

  it('decodes every string: lists, tag parameters, multi-line strings', () => {
    const script = compile(
      'require ["encoded-character", "fileinto", "imap4flags"];\nif header :contains ["${hex:41}", "b"] "${unicode:42}" { fileinto :flags "${hex:43}" text:\n${hex:44}\n.\n; }',
    );
    const branch = script.commands[0]!.branches![0]!;
    expect(branch.test!.positional).toEqual([['A', 'b'], ['B']]);
    expect(branch.block[0]!.tags).toEqual({ flags: ['C'] });
    expect(branch.block[0]!.positional).toEqual(['D\r\n']);
  });

  it('is off unless required', () => {
    expect(compile('require "fileinto"; fileinto "${hex:41}";').commands[0]!.positional).toEqual(['${hex:41}']);
  });

  it('decodes before constant checks', () => {
    expect(() => compile('require "encoded-character"; redirect "a${hex:40}example.com";')).not.toThrow();
  });
});

describe('RFC examples compile', () => {
  const VACATION_MIME = [
    'require "vacation";',
    'vacation :mime text:',
    'Content-Type: multipart/alternative; boundary=foo',
    '',
    '--foo',
    '',
    "I'm at the beach relaxing.  Mmmm, surf...",
    '',
    '--foo',
    'Content-Type: text/html; charset=us-ascii',
    '',
    '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.0//EN"',
    ' "http://www.w3.org/TR/REC-html40/strict.dtd">',
    '<HTML><HEAD><TITLE>How to relax</TITLE>',
    '<BASE HREF="http://home.example.com/pictures/"></HEAD>',
    "<BODY><P>I'm at the <A HREF=\"beach.gif\">beach</A> relaxing.",
    'Mmmm, <A HREF="ocean.gif">surf</A>...',
    '</BODY></HTML>',
    '',
    '--foo--',
    '.',
    ';',
  ].join('\n');

  it.each([
    ['5228 2.3 hash comment', 'if size :over 100k { # this is a comment\n    discard;\n}'],
    ['5228 2.3 bracket comment', 'if size :over 100K { /* this is a comment\n    this is still a comment */ discard /* this is a comment\n    */ ;\n}'],
    ['5228 2.4.2.4 encoded characters', 'require "encoded-character";\nif header :contains "Subject" "$${hex:24 24}" {\n    discard;\n}'],
    ['5228 2.5 not exists', 'if anyof (not exists ["From", "Date"],\n    header :contains "from" "fool@example.com") {\n    discard;\n}'],
    ['5228 2.7.3 comparator', 'if header :contains :comparator "i;octet" "Subject"\n    "MAKE MONEY FAST" {\n    discard;\n}'],
    ['5228 2.10.2 size', 'if size :over 500K { discard; }'],
    ['5228 3.1 elsif', 'require "fileinto";\nif header :contains "from" "coyote" {\n    discard;\n} elsif header :contains ["subject"] ["$$$"] {\n    discard;\n} else {\n    fileinto "INBOX";\n}'],
    ['5228 3.1 redirect chain', 'if header :contains ["From"] ["coyote"] {\n    redirect "acm@example.com";\n} elsif header :contains "Subject" "$$$" {\n    redirect "postmaster@example.com";\n} else {\n    redirect "field@example.com";\n}'],
    ['5228 3.2 require', 'require ["fileinto", "reject"];'],
    ['5228 3.2 require twice', 'require "fileinto";\nrequire "vacation";'],
    ['5228 4.1 fileinto', 'require "fileinto";\nif header :contains ["from"] "coyote" {\n    fileinto "INBOX.harassment";\n}'],
    ['5228 4.2 redirect', 'redirect "bart@example.com";'],
    ['5228 4.3 keep', 'if size :under 1M { keep; } else { discard; }'],
    ['5228 4.4 discard', 'if header :contains ["from"] ["idiot@example.com"] {\n    discard;\n}'],
    ['5228 5.1 address', 'if address :is :all "from" "tim@example.com" {\n    discard;\n}'],
    ['5228 5.4 envelope', 'require "envelope";\nif envelope :all :is "from" "tim@example.com" {\n    discard;\n}'],
    ['5228 5.5 exists', 'if not exists ["From","Date"] {\n    discard;\n}'],
    ['5228 5.7 header', 'if header :is ["X-Caffeine"] [""] { discard; }\nif header :contains "X-Caffeine" "" { keep; }'],
    [
      '5228 9 example with declarations',
      [
        '#',
        '# Example Sieve Filter',
        '# Declare any optional features or extension used by the script',
        '#',
        'require ["fileinto"];',
        '',
        '#',
        '# Handle messages from known mailing lists',
        '# Move messages from IETF filter discussion list to filter mailbox',
        '#',
        'if header :is "Sender" "owner-ietf-mta-filters@imc.org"',
        '        {',
        '        fileinto "filter";  # move to "filter" mailbox',
        '        }',
        '#',
        '# Keep all messages to or from people in my company',
        '#',
        'elsif address :DOMAIN :is ["From", "To"] "example.com"',
        '        {',
        '        keep;               # keep in "In" mailbox',
        '        }',
        '',
        '#',
        '# Try and catch unsolicited email.  If a message is not to me,',
        '# or it contains a subject known to be spam, file it away.',
        '#',
        'elsif anyof (NOT address :all :contains',
        '               ["To", "Cc", "Bcc"] "me@example.com",',
        '             header :matches "subject"',
        '               ["*make*money*fast*", "*university*dipl*mas*"])',
        '        {',
        '        fileinto "spam";   # move to "spam" mailbox',
        '        }',
        'else',
        '        {',
        '        # Move all other (non-company) mail to "personal"',
        '        # mailbox.',
        '        fileinto "personal";',
        '        }',
      ].join('\r\n'),
    ],
    ['3894 copy', 'require ["copy", "fileinto"];\nfileinto :copy "incoming";\nredirect :copy "bob@example.com";'],
    ['5173 body :content', 'require ["body", "fileinto"];\nif body :content "text" :contains ["missile", "coordinates"] {\n        fileinto "secrets";\n}\nif body :content "audio/mp3" :contains "" {\n        fileinto "jukebox";\n}'],
    ['5173 body :raw :text', 'require ["body", "fileinto"];\nif body :raw :contains "MAKE MONEY FAST" {\n        discard;\n}\nif body :text :contains "project schedule" {\n        fileinto "work";\n}'],
    ['5229 set', 'require "variables";\nset "honorific"  "Mr";\nset "first_name" "Wile";\nset "last_name"  "Coyote";\nset "vacation" text:\nDear ${HONORIFIC} ${last_name},\nI\'m out, please leave a message after the meep.\n.\n;'],
    [
      '5229 match variables',
      [
        'require ["fileinto", "variables"];',
        'if header :matches "List-ID" "*<*@*" {',
        '    fileinto "INBOX.lists.${2}"; stop;',
        '}',
        'if header :matches "Subject" "[*] *" {',
        '    fileinto "INBOX.lists.${1}"; stop;',
        '}',
        'if address :matches ["To", "Cc"] ["coyote@**.com",',
        '        "wile@**.com"] {',
        '    fileinto "INBOX.business.${2}"; stop;',
        '} else {',
        '}',
        'if anyof (true, address :domain :matches "To" "*.com") {',
        '    stop;',
        '}',
      ].join('\n'),
    ],
    ['5229 modifiers', 'require "variables";\nset "a" "juMBlEd lETteRS";\nset :length "b" "${a}";\nset :lower "b" "${a}";\nset :upperfirst "b" "${a}";\nset :upperfirst :lower "b" "${a}";\nset :quotewildcard "b" "Rock*";'],
    ['5229 string', 'require "variables";\nset "state" "${state} pending";\nif string :matches " ${state} " "* pending *" {\n    keep;\n}'],
    ['5230 vacation', 'require "vacation";\nif header :contains "subject" "cyrus" {\n    vacation "I\'m out -- send mail to cyrus-bugs";\n} else {\n    vacation "I\'m out -- call me at +1 304 555 0123";\n}'],
    ['5230 vacation :subject with a variable', 'require ["vacation", "variables"];\nif header :matches "subject" "*" {\n    vacation :subject "Automatic response to: ${1}"\n             "I\'m out -- please contact Joe Bloggs";\n}'],
    ['5230 vacation :days :addresses', 'require "vacation";\nvacation :days 23 :addresses ["tjs@example.edu",\n                              "ts4z@landru.example.edu"]\n   "I\'m away until October 19.\n   If it\'s an emergency, call 911, I guess." ;'],
    ['5230 vacation or redirect', 'require "vacation";\nif header :contains "from" "boss@example.edu" {\n    redirect "pleeb@isp.example.org";\n} else {\n    vacation "Sorry, I\'m away, I\'ll read your\n    message when I get around to it.";\n}'],
    ['5230 vacation :handle', 'require "vacation";\nif header :contains "subject" "lunch" {\n    vacation :handle "ran-away" "I\'m out and can\'t meet for lunch";\n} else {\n    vacation :handle "ran-away" "I\'m out";\n}'],
    ['5230 vacation :mime', VACATION_MIME],
    ['6131 vacation :seconds', 'require ["vacation-seconds"];\nvacation :addresses ["tjs@example.edu", "ts4z@landru.example.edu"]\n         :seconds 1800\n         "I am in a meeting, and do not have access to email.";'],
    [
      '5231 relational',
      [
        'require ["relational", "comparator-i;ascii-numeric", "fileinto"];',
        'if header :value "lt" :comparator "i;ascii-numeric"',
        '          ["x-priority"] ["3"]',
        '{',
        '   fileinto "Priority";',
        '}',
        'elsif address :count "gt" :comparator "i;ascii-numeric"',
        '          ["to"] ["5"]',
        '{',
        '   fileinto "SPAM";',
        '}',
        'elsif address :value "gt" :all :comparator "i;ascii-casemap"',
        '          ["from"] ["M"]',
        '{',
        '   fileinto "From N-Z";',
        '} else {',
        '   fileinto "From A-M";',
        '}',
        'if allof ( address :count "eq" :comparator "i;ascii-numeric"',
        '                   ["to", "cc"] ["1"] ,',
        '           address :all :comparator "i;ascii-casemap"',
        '                   ["to", "cc"] ["me@foo.example.com"] )',
        '{',
        '   fileinto "Only me";',
        '}',
      ].join('\n'),
    ],
    [
      '5232 imap4flags',
      [
        'require ["imap4flags", "fileinto", "variables"];',
        'if size :over 1M {',
        '    addflag "MyFlags" "Big";',
        '    if header :is "From" "boss@company.example.com" {',
        '        addflag "MyFlags" "\\\\Flagged";',
        '    }',
        '    fileinto :flags "${MyFlags}" "Big messages";',
        '}',
        'if header :is "From" "grandma@example.net" {',
        '    addflag "MyFlags" ["\\\\Answered", "$MDNSent"];',
        '    fileinto :flags "${MyFlags}" "GrandMa";',
        '}',
        'keep :flags "${MyFlags}";',
      ].join('\n'),
    ],
    ['5232 hasflag', 'require ["imap4flags", "variables", "relational", "comparator-i;ascii-numeric"];\nif hasflag :count "ge" :comparator "i;ascii-numeric" "2" {\n    setflag "\\\\Flagged";\n}\nif hasflag :contains "MyVar" "Junk" { discard; }'],
    [
      '5233 subaddress',
      [
        'require ["envelope", "subaddress", "fileinto"];',
        'if envelope :user "to" "postmaster" {',
        '    fileinto "inbox.postmaster";',
        '    stop;',
        '}',
        'if envelope :detail "to" "mta-filters" {',
        '    fileinto "inbox.ietf-mta-filters";',
        '}',
        'if envelope :detail "to" "foo" {',
        '    redirect "ken@example.net";',
        '}',
      ].join('\n'),
    ],
    ['5429 reject', 'require ["reject"];\nif size :over 100K {\n    reject text:\nYour message is too big.  If you want to send me a big attachment,\nput it on a public web site and send me a URL.\n.\n;\n}'],
    ['5429 ereject', 'require ["ereject"];\nif address :domain :is "from" "example.com" {\n    ereject "I no longer accept mail from this domain";\n}'],
    ['5490 mailboxexists', 'require ["fileinto", "reject", "mailbox"];\nif mailboxexists "Partners" {\n   fileinto "Partners";\n} else {\n   reject "This message was not accepted by the Mailstore";\n}'],
    ['5490 :create', 'require ["fileinto", "mailbox"];\nfileinto :create "INBOX.foo";'],
    ['5260 date', 'require ["date", "relational", "fileinto"];\nif allof(header :is "from" "boss@example.com",\n         date :value "ge" :originalzone "date" "hour" "09",\n         date :value "lt" :originalzone "date" "hour" "17")\n{ fileinto "urgent"; }'],
    ['5260 weekend', 'require ["date", "relational", "fileinto"];\nif anyof(date :is "received" "weekday" "0",\n         date :is "received" "weekday" "6")\n{ fileinto "weekend"; }'],
    ['5260 currentdate', 'require ["date", "relational", "vacation"];\nif allof(currentdate :value "ge" "date" "2007-06-30",\n         currentdate :value "le" "date" "2007-07-07")\n{ vacation :days 7  "I\'m away during the first week in July."; }'],
    ['5260 currentdate into variables', 'require ["date", "variables", "fileinto"];\nif currentdate :matches "month" "*" { set "month" "${1}"; }\nif currentdate :matches "year"  "*" { set "year" "${1}"; }\nfileinto "${month}-${year}";'],
    ['5260 index', 'require ["date", "relational", "index"];\nif date :value "gt" :index 2 :zone "-0500" "received"\n        "iso8601" "2007-02-26T09:00:00-05:00"\n{ redirect "aaa@example.com"; }'],
    ['5260 index :last', 'require ["index", "fileinto"];\nif header :index 1 :last :matches "received" "*(* [*.*.*.*])*" { fileinto "x"; }'],
    ['5183 environment', 'require "environment";\nif environment :matches "remote-host" "*.example.com" { discard; }'],
    ['5463 ihave', 'require ["ihave", "fileinto"];\nif header :contains "subject" "[acme-users]" {\n  if ihave "foo" {\n    foo;\n  } else {\n    fileinto "acme-users";\n  }\n}'],
    ['5463 error', 'require "ihave";\nif not ihave "fileinto" {\n  error "fileinto is not supported";\n}\nfileinto "x";'],
    ['7352 duplicate', 'require ["duplicate", "fileinto", "mailbox"];\nif duplicate {\n  fileinto :create "Trash/Duplicate";\n}'],
    ['7352 duplicate :uniqueid', 'require ["duplicate", "variables", "imap4flags", "fileinto"];\nif header :matches "subject" "ALERT: *" {\n  if duplicate :seconds 60 :uniqueid "${1}" {\n    setflag "\\\\seen";\n  }\n  fileinto "Alerts";\n}'],
    ['7352 duplicate :header :handle', 'require ["duplicate", "fileinto"];\nif duplicate :handle "bob" :header "X-Event-ID" :seconds 86400 :last {\n  discard;\n}'],
    ['6609 include', 'require ["include"];\ninclude :personal "always_allow";\ninclude :global "spam_tests";\ninclude :personal "spam_tests";\ninclude :personal "mailing_lists";'],
    ['6609 global', 'require ["variables", "include", "relational", "fileinto"];\nglobal "test";\nglobal "test_mailbox";\nset "test" "$$";\ninclude "subject_tests";\nset "test" "Make money";\ninclude "subject_tests";\nif string :count "eq" "${test_mailbox}" "1" {\n    fileinto "${test_mailbox}";\n    stop;\n}'],
    ['6609 global namespace', 'require ["variables", "include", "vacation"];\nif string :is "${global.i_am_on_vacation}" "1" {\n    vacation "It\'s true, I am on vacation.";\n}'],
    ['6609 return', 'require ["include"];\nif header :contains "subject" "x" { return; }\nkeep;'],
    ['regex draft', 'require ["regex", "variables", "fileinto"];\nif address :regex :comparator "i;ascii-casemap" "from" [\n  "stephan(\\\\+.*)?@it\\\\.example\\\\.com",\n  "stephan(\\\\+.*)?@friep\\\\.example\\\\.com"\n  ] {\n  fileinto "friends";\n}\nif header :regex "List-ID" "<(.*)@" { fileinto "lists.${1}"; stop; }'],
  ])('RFC %s', (_name, source) => {
    expect(() => compile(source)).not.toThrow();
  });
});

const SIEVEC = '/usr/bin/sievec';

/** What sievec says about a script: its "line L: message" lines ("error: " and the final period dropped), [] when it compiles. */
function sievecErrors(source: string): string[] {
  const directory = mkdtempSync(join(tmpdir(), 'dovetail-sievec-'));
  try {
    writeFileSync(join(directory, 'test.sieve'), source);
    const run = spawnSync(SIEVEC, [join(directory, 'test.sieve'), join(directory, 'test.svbin')], { encoding: 'utf8' });
    return run.stderr
      .split('\n')
      .filter((line) => /^test: line \d+: error: /.test(line))
      .map((line) => line.replace(/^test: (line \d+): error: (.*?)\.?$/, '$1: $2'));
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

describe.skipIf(!existsSync(SIEVEC))('the same errors as the installed sievec', () => {
  it.each([
    'keep;\nfoo;\nfoo :x;',
    'require ["fileinto", "nope"];\nif header :is "subject" {\n  fileinto 1;\n} elsif exists 2 {\n  bogus;\n}\nkeep :copy;',
    'if header :is :contains "a" "b" { keep; }\nif size 1 { keep; }\nif not (true, false) { keep; }',
    'require ["relational", "comparator-i;ascii-numeric"];\nif header :value "xx" "a" "1" { keep; }\nif header :comparator "i;ascii-numeric" :contains "a" "1" { keep; }',
    'require ["variables", "include"];\nset "a.b" "x";\nset "1" "x";\nset :lower :upper "a" "x";\nset "v" "x";\nglobal "v";',
    'require ["vacation", "imap4flags"];\nvacation :days 1 :days 2 "x";\naddflag "v" "x";\nelsif true { keep; }',
    'require ["envelope", "date", "index"];\nif envelope "foo" "x" { keep; }\nif date :index 0 "date" "year" "x" { keep; }\nif address "subject" "x" { keep; }',
    'require "ihave";\nif ihave "xyz" { foo; } else { keep; }\nif anyof(true, foo) { bar; }\nerror 1;',
    'require ["encoded-character", "fileinto", "include"];\nfileinto "${unicode:D800}";\ninclude "a/b";\ninclude :personal :global "c";',
    'keep;\nif header :is "a" ["b", ] {keep;}',
    'keep;\nstop',
    'if true {\n  keep;\n',
    'keep;\n"unterminated',
  ])('%j', (source) => {
    const ours = errors(source).map((error) => error.replace(/^(\d+):\d+: /, 'line $1: ').replace(/ after command '[^']*'/, ''));
    expect(ours).toEqual(sievecErrors(source));
  });
});
