import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  findUserLine,
  isInsideTemplateBase,
  parsePasswdFileArgs,
  parsePasswdFileLine,
  passwdFileDriver,
} from '../../src/userdb/passwd-file.js';
import { userVariables } from '../../src/config/var-expand.js';

const NAME = 'userdb passwd-file at test.conf:1';

function variablesFor(user: string) {
  return userVariables({ user, service: 'lda', hostname: 'host', pid: 1 });
}

describe('parsePasswdFileArgs', () => {
  it.each([
    ['/etc/users', { usernameFormat: '%u', path: '/etc/users', hasVariables: false }],
    ['  /etc/users  ', { usernameFormat: '%u', path: '/etc/users', hasVariables: false }],
    ['username_format=%n /etc/users/%d', { usernameFormat: '%n', path: '/etc/users/%d', hasVariables: true }],
    ['/etc/100%%/users', { usernameFormat: '%u', path: '/etc/100%/users', hasVariables: false }],
    ['/etc/%%%d', { usernameFormat: '%u', path: '/etc/%%%d', hasVariables: true }],
  ])('%j', (args, expected) => {
    expect(parsePasswdFileArgs(args, NAME)).toEqual(expected);
  });

  it.each([[''], ['username_format=%n'], ['username_format=%n  ']])('%j has no file: temporary', (args) => {
    expect(() => parsePasswdFileArgs(args, NAME)).toThrow(/needs a file name/);
  });
});

describe('findUserLine', () => {
  const text = [
    '# alice:commented:1:1',
    'al:x:1:1::/home/al',
    'alice:x:2:2::/home/alice\r',
    '',
    'alice:x:3:3::/home/second',
    ' spaced:x:4:4',
    'lone',
    'last:x:5:5',
  ].join('\n');

  it.each([
    ['alice', { line: 'alice:x:2:2::/home/alice', lineNumber: 3 }],
    ['al', { line: 'al:x:1:1::/home/al', lineNumber: 2 }],
    [' spaced', { line: ' spaced:x:4:4', lineNumber: 6 }],
    ['lone', { line: 'lone', lineNumber: 7 }],
    ['last', { line: 'last:x:5:5', lineNumber: 8 }],
    ['spaced', null],
    ['alic', null],
    ['# alice', null],
    ['alice:x', null],
    ['', null],
    ['nobody', null],
  ])('%j', (key, expected) => {
    expect(findUserLine(text, key)).toEqual(expected);
  });
});

describe('parsePasswdFileLine', () => {
  it.each([
    [
      'alice:{PLAIN}x:5001:5001::/home/alice::userdb_mail=maildir:~/Maildir userdb_quota_rule=*:storage=1G plain=1',
      {
        hasUserdbColumns: true,
        uid: '5001',
        gid: '5001',
        home: '/home/alice',
        extraFields: ['userdb_mail=maildir:~/Maildir', 'userdb_quota_rule=*:storage=1G', 'plain=1'],
      },
    ],
    ['bob:x:vmail:vmail::/var/vmail/bob', { hasUserdbColumns: true, uid: 'vmail', gid: 'vmail', home: '/var/vmail/bob', extraFields: [] }],
    ['erin:x::::/home/erin', { hasUserdbColumns: true, uid: '', gid: '', home: '/home/erin', extraFields: [] }],
    ['dave:x:5001', { hasUserdbColumns: false, uid: '5001', gid: '', home: '', extraFields: [] }],
    ['carol:x', { hasUserdbColumns: false, uid: '', gid: '', home: '', extraFields: [] }],
    ['lone', { hasUserdbColumns: false, uid: '', gid: '', home: '', extraFields: [] }],
    ['f:x:1:1::/h:/bin/sh::maildir:~/old', { hasUserdbColumns: true, uid: '1', gid: '1', home: '/h', extraFields: ['userdb_mail=maildir:~/old'] }],
    ['f:x:1:1::/h:/bin/sh::', { hasUserdbColumns: true, uid: '1', gid: '1', home: '/h', extraFields: [] }],
    ['g:x:1:1::/h:/bin/sh:a=1  b=2 ', { hasUserdbColumns: true, uid: '1', gid: '1', home: '/h', extraFields: ['a=1', 'b=2'] }],
  ])('%s', (line, expected) => {
    expect(parsePasswdFileLine(line)).toEqual(expected);
  });
});

describe('isInsideTemplateBase', () => {
  it.each([
    ['/etc/users/%d', '/etc/users/example.com', true],
    ['/etc/users/%d', '/etc/users/', false],
    ['/etc/users/%d', '/etc/users/../passwd', false],
    ['/etc/users/%d', '/etc/users/a/../b', true],
    ['/etc/users/%d.passwd', '/etc/users//x.passwd', true],
    ['%{home}/users', '/anywhere/users', true],
  ])('%s → %s', (template, path, expected) => {
    expect(isInsideTemplateBase(template, path)).toBe(expected);
  });
});

describe('passwdFileDriver on the filesystem', () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'dovetail-passwd-file-'));
    writeFileSync(join(dir, 'users'), 'alice:x:5001:5001::/home/alice::userdb_x=%u\n');
    mkdirSync(join(dir, 'a-directory'));
    mkdirSync(join(dir, 'domains'));
    writeFileSync(join(dir, 'domains', 'example.com'), 'alice:x:5001:5001::/home/ex\n');
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('answers uid, gid, home and the expanded userdb_ fields', async () => {
    const driver = passwdFileDriver(join(dir, 'users'), NAME);
    expect(await driver.lookup('alice', variablesFor('alice'))).toEqual([
      ['uid', '5001'],
      ['gid', '5001'],
      ['home', '/home/alice'],
      ['x', 'alice'],
    ]);
    expect(await driver.lookup('bob', variablesFor('bob'))).toBeNull();
  });

  it.each([
    ['a file that does not exist (fixed path)', 'missing'],
    ['a directory in place of the file', 'a-directory'],
    ['a path under a file', 'users/under'],
  ])('fails temporarily on %s', async (_what, file) => {
    const driver = passwdFileDriver(join(dir, file), NAME);
    await expect(driver.lookup('alice', variablesFor('alice'))).rejects.toMatchObject({
      kind: 'temporary',
      message: expect.stringContaining(join(dir, file)),
    });
  });

  it('answers "unknown" for a missing file under a variable path, or one outside its directory', async () => {
    const driver = passwdFileDriver(`username_format=%n ${join(dir, 'domains')}/%d`, NAME);
    expect(await driver.lookup('alice@example.com', variablesFor('alice@example.com'))).toEqual([
      ['uid', '5001'],
      ['gid', '5001'],
      ['home', '/home/ex'],
    ]);
    expect(await driver.lookup('alice@example.org', variablesFor('alice@example.org'))).toBeNull();
    expect(await driver.lookup('alice', variablesFor('alice'))).toBeNull();
    expect(await driver.lookup('alice@../users', variablesFor('alice@../users'))).toBeNull();
  });

  it('finds the last of 10,000 users', async () => {
    const lines = Array.from({ length: 10_000 }, (_, i) => `user${i}@example.com:{PLAIN}pw:${10000 + i}:100::/home/user${i}::userdb_quota_rule=*:storage=${i}M`);
    writeFileSync(join(dir, 'big'), `${lines.join('\n')}\n`);
    const driver = passwdFileDriver(join(dir, 'big'), NAME);
    const fields = await driver.lookup('user9999@example.com', variablesFor('user9999@example.com'));
    expect(fields).toContainEqual(['uid', '19999']);
    expect(fields).toContainEqual(['quota_rule', '*:storage=9999M']);
  });
});
