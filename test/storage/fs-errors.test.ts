import { describe, it, expect } from 'vitest';
import { writeFileSync } from 'node:fs';
import { fsCall, mailboxErrorFromFs, statIfExists } from '../../src/storage/fs-errors.js';
import { useTempDirs } from './helpers/fixtures.js';
import { MailboxError } from '../../src/storage/errors.js';

function errnoError(code: string, text: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${text}, open '/m/tmp/x'`), { code });
}

describe('mailboxErrorFromFs', () => {
  it.each([
    ['EACCES', 'permission denied', 'no-permission', 'open(/m/tmp/x) failed: EACCES: permission denied'],
    ['EPERM', 'operation not permitted', 'no-permission', 'open(/m/tmp/x) failed: EPERM: operation not permitted'],
    ['EROFS', 'read-only file system', 'no-permission', 'open(/m/tmp/x) failed: EROFS: read-only file system'],
    ['EDQUOT', 'disk quota exceeded', 'over-quota', 'Not enough disk quota'],
    ['ENAMETOOLONG', 'name too long', 'invalid-name', 'open(/m/tmp/x) failed: ENAMETOOLONG: name too long'],
    ['ENOSPC', 'no space left on device', 'temporary', 'open(/m/tmp/x) failed: ENOSPC: no space left on device'],
    ['EIO', 'i/o error', 'temporary', 'open(/m/tmp/x) failed: EIO: i/o error'],
    ['ENOENT', 'no such file or directory', 'temporary', 'open(/m/tmp/x) failed: ENOENT: no such file or directory'],
    ['ENOTDIR', 'not a directory', 'temporary', 'open(/m/tmp/x) failed: ENOTDIR: not a directory'],
    ['ELOOP', 'too many symbolic links encountered', 'temporary', 'open(/m/tmp/x) failed: ELOOP: too many symbolic links encountered'],
  ])('%s', (code, text, kind, message) => {
    const error = mailboxErrorFromFs(errnoError(code, text), 'open', '/m/tmp/x');
    expect({ kind: error.kind, message: error.message }).toEqual({ kind, message });
  });

  it('passes a MailboxError through and keeps the text of other errors', () => {
    const original = new MailboxError('not-found', 'gone');
    expect(mailboxErrorFromFs(original, 'open', '/x')).toBe(original);
    expect(mailboxErrorFromFs(new Error('boom, really'), 'write', '/x').message).toBe('write(/x) failed: boom, really');
  });

  it('fsCall maps a rejected call and returns a resolved one', async () => {
    await expect(fsCall('open', '/m/tmp/x', async () => 7)).resolves.toBe(7);
    await expect(fsCall('open', '/m/tmp/x', async () => Promise.reject(errnoError('EDQUOT', 'x')))).rejects.toMatchObject({
      kind: 'over-quota',
    });
  });
});

describe('statIfExists', () => {
  const tempDir = useTempDirs();

  it('stats what exists; missing or too long is undefined; a file in the path is a temporary error', async () => {
    const dir = tempDir();
    writeFileSync(`${dir}/file`, '');
    expect((await statIfExists(dir))?.isDirectory()).toBe(true);
    expect(await statIfExists(`${dir}/missing`)).toBeUndefined();
    expect(await statIfExists(`${dir}/${'x'.repeat(300)}`)).toBeUndefined();
    await expect(statIfExists(`${dir}/file/below`)).rejects.toMatchObject({ kind: 'temporary', message: expect.stringMatching(/ENOTDIR/) });
  });
});
