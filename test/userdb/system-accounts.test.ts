import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  getgrnam,
  getpwnam,
  getpwuid,
  gidOf,
  parseGroupLine,
  parsePasswdLine,
  uidOf,
  type AccountSources,
} from '../../src/userdb/system-accounts.js';
import { DeliveryFailure } from '../../src/deliver/failure.js';

describe('parsePasswdLine', () => {
  it.each([
    ['root:x:0:0:root:/root:/bin/bash', { name: 'root', uid: 0, gid: 0, gecos: 'root', home: '/root', shell: '/bin/bash' }],
    ['vmail:x:5000:995::/nonexistent:/usr/sbin/nologin', { name: 'vmail', uid: 5000, gid: 995, gecos: '', home: '/nonexistent', shell: '/usr/sbin/nologin' }],
    ['short:x:1:1::/home/short', null],
    ['+::::::', null],
    [':x:1:1::/h:/bin/sh', null],
    ['bad:x:one:1::/h:/bin/sh', null],
    ['', null],
  ])('%s', (line, expected) => {
    expect(parsePasswdLine(line)).toEqual(expected);
  });
});

describe('parseGroupLine', () => {
  it.each([
    ['mail:x:8:', { name: 'mail', gid: 8, members: [] }],
    ['adm:x:4:syslog,alice', { name: 'adm', gid: 4, members: ['syslog', 'alice'] }],
    ['broken:x:4', null],
    ['nogid:x::', null],
  ])('%s', (line, expected) => {
    expect(parseGroupLine(line)).toEqual(expected);
  });
});

describe('system accounts of this machine (/etc/passwd, /etc/group)', () => {
  it('finds root and nobody by name and by uid', async () => {
    expect(await getpwnam('root')).toMatchObject({ name: 'root', uid: 0, gid: 0, home: '/root' });
    expect(await getpwnam('nobody')).toMatchObject({ name: 'nobody', uid: 65534 });
    expect(await getpwuid(0)).toMatchObject({ name: 'root' });
    expect(await getgrnam('root')).toMatchObject({ name: 'root', gid: 0 });
  });

  it('answers null for an account nobody has (getent exits 2)', async () => {
    expect(await getpwnam('no-such-account-dovetail')).toBeNull();
    expect(await getgrnam('no-such-group-dovetail')).toBeNull();
    expect(await getpwuid(4_000_000_000)).toBeNull();
  });

  it.each([
    ['0', 0],
    ['5000', 5000],
    ['root', 0],
    ['nobody', 65534],
    ['', null],
    ['4294967295', null],
    ['no-such-account-dovetail', null],
  ])('uidOf(%j)', async (text, expected) => {
    expect(await uidOf(text)).toBe(expected);
  });

  it.each([
    ['12', 12],
    ['root', 0],
    ['nogroup', 65534],
    ['no-such-group-dovetail', null],
  ])('gidOf(%j)', async (text, expected) => {
    expect(await gidOf(text)).toBe(expected);
  });
});

describe('sources: the files first, getent for the rest', () => {
  let dir: string;
  let sources: AccountSources;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'dovetail-accounts-'));
    writeFileSync(join(dir, 'passwd'), 'fileonly:x:4321:4322:File Only:/home/fileonly:/bin/sh\nbroken line\n');
    writeFileSync(join(dir, 'group'), 'filegroup:x:4323:fileonly\n');
    writeFileSync(join(dir, 'failing-getent'), '#!/bin/sh\necho "getent: database unavailable" >&2\nexit 1\n', { mode: 0o755 });
    sources = { passwdFile: join(dir, 'passwd'), groupFile: join(dir, 'group'), getentCommand: 'getent' };
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads an account that only the file has', async () => {
    expect(await getpwnam('fileonly', sources)).toEqual({
      name: 'fileonly',
      uid: 4321,
      gid: 4322,
      gecos: 'File Only',
      home: '/home/fileonly',
      shell: '/bin/sh',
    });
    expect(await getpwuid(4321, sources)).toMatchObject({ name: 'fileonly' });
    expect(await getgrnam('filegroup', sources)).toEqual({ name: 'filegroup', gid: 4323, members: ['fileonly'] });
  });

  it('asks getent for a name the file lacks (NSS sources)', async () => {
    expect(await getpwnam('root', sources)).toMatchObject({ name: 'root', uid: 0 });
    expect(await getgrnam('root', sources)).toMatchObject({ gid: 0 });
  });

  it('uses getent alone when the file cannot be read', async () => {
    expect(await getpwnam('root', { ...sources, passwdFile: join(dir, 'missing') })).toMatchObject({ uid: 0 });
  });

  it('treats a missing getent as "no other source"', async () => {
    expect(await getpwnam('root', { ...sources, getentCommand: join(dir, 'no-getent') })).toBeNull();
  });

  it('fails temporarily when getent fails otherwise', async () => {
    const failing = { ...sources, getentCommand: join(dir, 'failing-getent') };
    await expect(getpwnam('root', failing)).rejects.toThrow(DeliveryFailure);
    await expect(getpwnam('root', failing)).rejects.toMatchObject({ kind: 'temporary' });
    // the file still answers without getent
    expect(await getpwnam('fileonly', failing)).toMatchObject({ uid: 4321 });
  });

  it('does not let a name that looks like an option reach getent as one', async () => {
    expect(await getpwnam('--help', sources)).toBeNull();
  });
});
