import { describe, it, expect } from 'vitest';
import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { makeDirectories, makeDirectory, permissionsFromStats, permissionsOf } from '../../src/storage/permissions.js';
import { useTempDirs } from './helpers/fixtures.js';

const tempDir = useTempDirs();
const OUR_GID = 1000;

describe('permissionsFromStats', () => {
  // modes checked against dovecot-lda 2.3.19: root 0755 → files 0644, 0700 → 0600, 0770 → 0660, 02770 → dirs 02770
  it.each([
    [0o40755, OUR_GID, { fileMode: 0o644, dirMode: 0o755 }],
    [0o40700, OUR_GID, { fileMode: 0o600, dirMode: 0o700 }],
    [0o40770, OUR_GID, { fileMode: 0o660, dirMode: 0o770 }],
    [0o40500, OUR_GID, { fileMode: 0o600, dirMode: 0o700 }],
    [0o40750, 50, { fileMode: 0o640, dirMode: 0o750, gid: 50 }],
    [0o42770, 50, { fileMode: 0o660, dirMode: 0o770 }],
    [0o40755, 50, { fileMode: 0o644, dirMode: 0o755 }],
    [0o40700, 50, { fileMode: 0o600, dirMode: 0o700 }],
    [0o40770, 50, { fileMode: 0o660, dirMode: 0o770, gid: 50 }],
  ])('case %#: group %i', (mode, gid, expected) => {
    expect(permissionsFromStats({ mode, gid }, OUR_GID)).toEqual(expected);
  });
});

describe('makeDirectory', () => {
  it('applies the mode exactly, whatever the umask', async () => {
    const dir = tempDir();
    const oldUmask = process.umask(0o077);
    try {
      expect(await makeDirectory(`${dir}/a`, { fileMode: 0o644, dirMode: 0o755 })).toBe(true);
    } finally {
      process.umask(oldUmask);
    }
    expect(statSync(`${dir}/a`).mode & 0o7777).toBe(0o755);
  });

  it('keeps a setgid bit inherited from the parent', async () => {
    const dir = tempDir();
    chmodSync(dir, 0o2770);
    await makeDirectory(`${dir}/a`, { fileMode: 0o660, dirMode: 0o770 });
    expect(statSync(`${dir}/a`).mode & 0o7777).toBe(0o2770);
  });

  it('reports an existing directory as not created', async () => {
    const dir = tempDir();
    mkdirSync(`${dir}/a`, { mode: 0o700 });
    expect(await makeDirectory(`${dir}/a`, { fileMode: 0o644, dirMode: 0o755 })).toBe(false);
    expect(statSync(`${dir}/a`).mode & 0o777).toBe(0o700);
  });

  it('fails temporarily under a file', async () => {
    const dir = tempDir();
    const error = await makeDirectory(`${dir}/a/b`, { fileMode: 0o600, dirMode: 0o700 }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ kind: 'temporary', message: `mkdir(${dir}/a/b) failed: ENOENT: no such file or directory` });
  });
});

describe('makeDirectories', () => {
  it('creates the missing chain, outermost first', async () => {
    const dir = tempDir();
    mkdirSync(`${dir}/a`);
    expect(await makeDirectories(`${dir}/a/b/c`, { fileMode: 0o600, dirMode: 0o750 })).toEqual([`${dir}/a/b`, `${dir}/a/b/c`]);
    expect(statSync(`${dir}/a/b`).mode & 0o777).toBe(0o750);
    expect(await makeDirectories(`${dir}/a/b/c`, { fileMode: 0o600, dirMode: 0o750 })).toEqual([]);
  });
});

describe('permissionsOf', () => {
  it('takes the first existing candidate, else the defaults', async () => {
    const dir = tempDir();
    mkdirSync(`${dir}/parent`, { mode: 0o750 });
    chmodSync(`${dir}/parent`, 0o750);
    expect(await permissionsOf([`${dir}/missing`, `${dir}/parent`], process.getgid!())).toEqual({ fileMode: 0o640, dirMode: 0o750 });
    expect(await permissionsOf([`${dir}/missing`], process.getgid!())).toEqual({ fileMode: 0o600, dirMode: 0o700 });
  });
});
