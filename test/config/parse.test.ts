// The reader against what doveconf 2.3.19 made of the same lines (doveconf -c
// FILE -x -h KEY); the comment on a case says where Dovecot is surprising.

import { describe, it, expect, afterEach } from 'vitest';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { classifyLine, stripComment, parseConfigFile, readEntryValue, expandGlob, type ConfigSection } from '../../src/config/parse.js';
import { DeliveryFailure } from '../../src/deliver/failure.js';
import { memoryFs } from './memory-fs.js';
import { thrown } from '../helpers/thrown.js';

const CONF = '/etc/test/dovecot.conf';

function parse(text: string, more: Record<string, string> = {}, env: Record<string, string> = {}): ConfigSection {
  return parseConfigFile(CONF, { fs: memoryFs({ [CONF]: text, ...more }), env });
}

/** The value doveconf -h would print for a top-level key: the last entry's. */
function valueOf(text: string, key: string, env: Record<string, string> = {}): string | undefined {
  return parse(text, {}, env).entries.filter((entry) => entry.key === key).at(-1)?.value;
}

const failureOf = (run: () => unknown): DeliveryFailure => thrown(DeliveryFailure, run);

describe('stripComment', () => {
  it.each([
    ['key = value # comment', 'key = value '],
    ['key = "a # b" # c', 'key = "a # b" '],
    ["key = 'a # b'", "key = 'a # b'"],
    ['key = a"#b"', 'key = a"#b"'],
    ['key = maildir:~/a#b', 'key = maildir:~/a'], // doveconf warns "Ambiguous '#'" and cuts too
    ['key = "a\\"#" # c', 'key = "a\\"#" '],
    ['# whole line', ''],
  ])('%s', (line, expected) => {
    expect(stripComment(line)).toBe(expected);
  });
});

describe('classifyLine', () => {
  it.each([
    ['mail_location = maildir:~/Maildir', { kind: 'entry', key: 'mail_location', value: 'maildir:~/Maildir', quoted: false }],
    ['mail_location=maildir:x', { kind: 'entry', key: 'mail_location', value: 'maildir:x', quoted: false }],
    ['key =', { kind: 'entry', key: 'key', value: '', quoted: false }],
    ['key = ""', { kind: 'entry', key: 'key', value: '', quoted: true }],
    ['key = "', { kind: 'entry', key: 'key', value: '', quoted: true }],
    ['key = "a\\tb\\nc"', { kind: 'entry', key: 'key', value: 'atbnc', quoted: true }],
    ["key = 'a\"b'", { kind: 'entry', key: 'key', value: 'a"b', quoted: true }],
    ['key = "a" "b"', { kind: 'entry', key: 'key', value: 'a" "b', quoted: true }],
    ['key = "a"b', { kind: 'entry', key: 'key', value: '"a"b', quoted: false }],
    ['key = "unterminated', { kind: 'entry', key: 'key', value: '"unterminated', quoted: false }],
    ['key = a }', { kind: 'entry', key: 'key', value: 'a }', quoted: false }],
    ['special_use = \\Drafts', { kind: 'entry', key: 'special_use', value: '\\Drafts', quoted: false }],
    ['ssl_cert = </etc/ssl/cert.pem', { kind: 'entry', key: 'ssl_cert', value: '', quoted: false, file: '/etc/ssl/cert.pem' }],
    ['ssl_cert = < cert.pem', { kind: 'entry', key: 'ssl_cert', value: '', quoted: false, file: 'cert.pem' }],
    ['key = "<f3"', { kind: 'entry', key: 'key', value: '<f3', quoted: true }],
    ['plugin {', { kind: 'section-begin', type: 'plugin', name: '' }],
    ['namespace inbox {', { kind: 'section-begin', type: 'namespace', name: 'inbox' }],
    ['mailbox "Sent Items" {', { kind: 'section-begin', type: 'mailbox', name: 'Sent Items' }],
    ['protocol !indexer-worker {', { kind: 'section-begin', type: 'protocol', name: '!indexer-worker' }],
    ['local 10.0.0.0/8 {', { kind: 'section-begin', type: 'local', name: '10.0.0.0/8' }],
    ['}', { kind: 'section-end' }],
    ['!include conf.d/*.conf', { kind: 'include', pattern: 'conf.d/*.conf', optional: false }],
    ['!include_try local.conf', { kind: 'include', pattern: 'local.conf', optional: true }],
    ['= bar', { kind: 'error', reason: "Missing key name ('=' at the beginning of line)" }],
    ['mail_location maildir', { kind: 'error', reason: "Expecting '{'" }],
    ['foo', { kind: 'error', reason: "Expecting '{'" }],
    ['{', { kind: 'error', reason: "Expecting '{'" }],
    ['plugin{', { kind: 'error', reason: "Expecting '{'" }],
    ['namespace a b {', { kind: 'error', reason: "Expecting '{'" }],
    ['}}', { kind: 'error', reason: "Expecting '{'" }],
    ['} x', { kind: 'error', reason: "Expecting '{'" }],
    ['!includex x.conf', { kind: 'error', reason: "Expecting '{'" }],
    ['plugin { a = b }', { kind: 'error', reason: "Garbage after '{'" }],
    ['plugin {a=b', { kind: 'error', reason: "Garbage after '{'" }],
  ])('%s', (line, expected) => {
    expect(classifyLine(line)).toEqual(expected);
  });
});

describe('parseConfigFile: values as doveconf reads them', () => {
  it.each([
    ['mail_location = "maildir:~/x y" \n', 'maildir:~/x y'],
    ['mail_location = "maildir:~/x # not"\n', 'maildir:~/x # not'],
    ['mail_location = maildir:~/x # comment\n', 'maildir:~/x'],
    ['  mail_location    =    x   \n', 'x'],
    ['mail_location = a\tb  \t\n', 'a\tb'],
    ['mail_location = x\r\n', 'x'],
    ['mail_location = maildir:~/x \\\n  continued\n', 'maildir:~/x continued'],
    ['mail_location = x    \\\n    continued\n', 'x continued'],
    ['mail_location = x \\\n  y \\\n  z\n', 'x y z'],
    ['mail_location = "x \\\n  y"\n', 'x y'],
    ['mail_location = a\nmail_location = x\\\n', 'a'], // a continuation at the end of the file is dropped
    ['mail_location = a\nmail_location = x\\\n\n', 'a'], // ... and so is one an empty line interrupts
    ['mail_location = a\nmail_location = x\\\nfirst_valid_uid = 5\n', 'x first_valid_uid = 5'],
  ])('%j', (text, expected) => {
    expect(valueOf(text, 'mail_location')).toBe(expected);
  });

  it.each([
    ['mail_plugins = a\nmail_plugins = $mail_plugins b\n', 'mail_plugins', 'a b'],
    ['mail_plugins = $mail_plugins b\n', 'mail_plugins', ' b'], // unset: its default, ""
    ['mail_plugins = a\nmail_plugins = x $mail_plugins b\n', 'mail_plugins', 'x a b'],
    ['mail_plugins = a\nmail_plugins = $mail_plugins $mail_plugins\n', 'mail_plugins', 'a a'],
    ['mail_plugins = a\nmail_plugins = x$mail_plugins b\n', 'mail_plugins', 'x$mail_plugins b'],
    ['mail_plugins = a\nmail_plugins = "$mail_plugins b"\n', 'mail_plugins', '$mail_plugins b'],
    ['mail_home = maildir:/m\nmail_location = $mail_home\n', 'mail_location', 'maildir:/m'],
    ['mail_location = $ENV:HOME\n', 'mail_location', '/home/test'],
    ['mail_location = $ENV:UNSET\n', 'mail_location', ''],
  ])('$name: %j', (text, key, expected) => {
    expect(valueOf(text, key, { HOME: '/home/test' })).toBe(expected);
  });

  it('takes $name inside a section from the section first, then from the enclosing ones at that point', () => {
    const root = parse('mail_plugins = a\nprotocol lda {\n  mail_plugins = $mail_plugins sieve\n}\nmail_plugins = b\n');
    expect(root.sections[0].entries[0].value).toBe('a sieve');
  });

  it('uses the caller-supplied default for $name nothing set', () => {
    const root = parseConfigFile(CONF, {
      fs: memoryFs({ [CONF]: 'postmaster_address = $postmaster_address\n' }),
      defaultValue: (name) => (name === 'postmaster_address' ? 'postmaster@%d' : undefined),
    });
    expect(root.entries[0].value).toBe('postmaster@%d');
  });

  it('keeps `key = <file` unread, relative to the config file, until readEntryValue', () => {
    const fs = memoryFs({ [CONF]: 'ssl_key = <private/key.pem\nother = </missing\n', '/etc/test/private/key.pem': 'KEY\n\n' });
    const [key, other] = parseConfigFile(CONF, { fs }).entries;
    expect(key).toMatchObject({ key: 'ssl_key', value: '', file: '/etc/test/private/key.pem', origin: `${CONF}:1` });
    expect(readEntryValue(key, fs)).toBe('KEY\n\n'); // doveconf keeps the file's trailing newlines
    expect(failureOf(() => readEntryValue(other, fs)).message).toBe(
      `Error in configuration file ${CONF} line 2: other: Can't open file /missing: ENOENT: no such file or directory`,
    );
  });
});

describe('parseConfigFile: sections', () => {
  it('builds the tree with origins', () => {
    const root = parse(
      [
        'mail_location = maildir:~/Maildir',
        'namespace inbox {',
        '  inbox = yes',
        '  mailbox "Sent Items" {',
        '    special_use = \\Sent',
        '  }',
        '}',
        'service lmtp {',
        '  unix_listener lmtp {',
        '  }',
        '}',
        'protocol lda {',
        '  mail_plugins = sieve',
        '}',
      ].join('\n'),
    );
    expect(root.entries).toEqual([{ key: 'mail_location', value: 'maildir:~/Maildir', origin: `${CONF}:1` }]);
    expect(root.sections.map((section) => [section.type, section.name, section.origin])).toEqual([
      ['namespace', 'inbox', `${CONF}:2`],
      ['service', 'lmtp', `${CONF}:8`],
      ['protocol', 'lda', `${CONF}:12`],
    ]);
    const [namespace, service] = root.sections;
    expect(namespace.entries).toEqual([{ key: 'inbox', value: 'yes', origin: `${CONF}:3` }]);
    expect(namespace.sections[0]).toMatchObject({ type: 'mailbox', name: 'Sent Items', entries: [{ key: 'special_use', value: '\\Sent' }] });
    expect(service.sections[0]).toMatchObject({ type: 'unix_listener', name: 'lmtp', entries: [], sections: [] });
  });

  it.each([
    ['namespace inbox {\n', `Error in configuration file ${CONF}: Missing '}' (section started at ${CONF}:1)`],
    ['plugin {\n  a = 1\n}\n}\n', `Error in configuration file ${CONF} line 4: Unexpected '}'`],
    ['mail_location = x\nmail_location\n', `Error in configuration file ${CONF} line 2: Expecting '{'`],
    ['plugin { a = b\n}\n', `Error in configuration file ${CONF} line 1: Garbage after '{'`],
    ['\n\n= x\n', `Error in configuration file ${CONF} line 3: Missing key name ('=' at the beginning of line)`],
  ])('%j fails', (text, message) => {
    const failure = failureOf(() => parse(text));
    expect(failure.kind).toBe('temporary');
    expect(failure.message).toBe(message);
  });

  it('fails when the file itself cannot be read', () => {
    expect(failureOf(() => parseConfigFile('/nonexistent.conf', { fs: memoryFs({}) })).message).toBe(
      'Error reading configuration file /nonexistent.conf: ENOENT: no such file or directory',
    );
  });
});

describe('parseConfigFile: !include', () => {
  const files = {
    '/etc/test/conf.d/10-b.conf': 'order = $order b\n',
    '/etc/test/conf.d/20-a.conf': 'order = $order a\n',
    '/etc/test/conf.d/.hidden.conf': 'order = hidden\n',
    '/etc/test/conf.d/notes.txt': 'order = txt\n',
    '/etc/test/open.conf': 'plugin {\n',
    '/etc/test/close.conf': '}\n',
  };

  it.each([
    ['!include conf.d/*.conf\n', ' b a'],
    ['!include /etc/test/conf.d/*.conf\n', ' b a'],
    ['!include conf.d/{20-a,10-b}.conf\n', ' a b'], // brace alternatives keep their order
    ['!include conf.d/1?-b.conf\n', ' b'],
    ['!include conf.d/[12]0-a.conf\n', ' a'],
    ['!include_try missing.conf\norder = x\n', 'x'],
    ['!include_try nothing/*.conf\norder = x\n', 'x'],
    ['!include conf.d/10-b.conf\n!include conf.d/10-b.conf\n', ' b b'],
    ['!include conf.d/10-b.conf # comment\n', ' b'],
    ['!include\norder = x\n', 'x'], // doveconf ignores a bare !include
  ])('%j', (text, expected) => {
    expect(parse(text, files).entries.at(-1)?.value).toBe(expected);
  });

  it('shares open sections between files, as Dovecot does', () => {
    const root = parse('!include open.conf\n  a = 1\n!include close.conf\nb = 2\n', files);
    expect(root.sections[0]).toMatchObject({ type: 'plugin', entries: [{ key: 'a', value: '1', origin: `${CONF}:2` }] });
    expect(root.entries).toMatchObject([{ key: 'b', value: '2' }]);
  });

  it('names the included file and line in errors', () => {
    const failure = failureOf(() => parse('!include conf.d/*.conf\n', { '/etc/test/conf.d/a.conf': 'x = 1\n}\n' }));
    expect(failure.message).toBe("Error in configuration file /etc/test/conf.d/a.conf line 2: Unexpected '}'");
  });

  it.each([
    ['!include missing.conf\n', {}, [], `Error in configuration file ${CONF} line 1: No matches`],
    ['!include nomatch*.conf\n', {}, [], `Error in configuration file ${CONF} line 1: No matches`],
    ['\n!include dovecot.conf\n', {}, [], `Error in configuration file ${CONF} line 2: Recursive include file: ${CONF}`],
    [
      '!include a.conf\n',
      { '/etc/test/a.conf': '!include ./dovecot.conf\n' },
      [],
      `Error in configuration file /etc/test/a.conf line 1: Recursive include file: /etc/test/dovecot.conf`,
    ],
    [
      '!include_try secret.conf\n',
      { '/etc/test/secret.conf': 'x = 1\n' },
      ['/etc/test/secret.conf'],
      `Error in configuration file ${CONF} line 1: Couldn't open include file /etc/test/secret.conf: EACCES: permission denied`,
    ],
  ])('%j fails', (text, more, unreadable, message) => {
    const fs = memoryFs({ [CONF]: text, ...more }, unreadable);
    expect(failureOf(() => parseConfigFile(CONF, { fs })).message).toBe(message);
  });
});

describe('expandGlob', () => {
  const fs = memoryFs({ '/d/b.conf': '', '/d/a.conf': '', '/d/.h.conf': '', '/d/sub/c.conf': '', '/d/x.txt': '' });

  it.each([
    ['/d/*.conf', ['/d/a.conf', '/d/b.conf']],
    ['/d/.*.conf', ['/d/.h.conf']],
    ['/d/*/*.conf', ['/d/sub/c.conf']],
    ['/d/[!a]*', ['/d/b.conf', '/d/sub', '/d/x.txt']],
    ['/d/{x.txt,a.conf,none}', ['/d/x.txt', '/d/a.conf']],
    ['/d/{sub/*,*}.conf', ['/d/sub/c.conf', '/d/a.conf', '/d/b.conf']],
    ['/d/a.conf', ['/d/a.conf']],
    ['/d/missing.conf', []],
    ['/nowhere/*.conf', []],
  ])('%s', (pattern, expected) => {
    expect(expandGlob(pattern, fs)).toEqual(expected);
  });
});

describe('with the real filesystem', () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  it('includes a glob of files relative to the including file, in sorted order', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dovetail-config-'));
    dirs.push(dir);
    mkdirSync(join(dir, 'conf.d'));
    writeFileSync(join(dir, 'conf.d', '20-b.conf'), 'mail_plugins = $mail_plugins b\n');
    writeFileSync(join(dir, 'conf.d', '10-a.conf'), 'mail_plugins = $mail_plugins a\n');
    writeFileSync(join(dir, 'main.conf'), '!include conf.d/*.conf\n!include_try local.conf\n');
    const root = parseConfigFile(join(dir, 'main.conf'));
    expect(root.entries.map((entry) => [entry.value, entry.origin])).toEqual([
      [' a', `${join(dir, 'conf.d', '10-a.conf')}:1`],
      [' a b', `${join(dir, 'conf.d', '20-b.conf')}:1`],
    ]);
  });
});
