import { describe, it, expect } from 'vitest';
import { writeFileSync } from 'node:fs';
import { homeFromPasswd, lookupPasswdHome } from '../../src/storage/passwd-home.js';
import { useTempDirs } from './helpers/fixtures.js';

const tempDir = useTempDirs();
const PASSWD = 'root:x:0:0:root:/root:/bin/bash\nann:x:1000:1000:Ann,,,:/home/ann:/bin/sh\nbroken:line\n';

describe('homeFromPasswd', () => {
  it.each([
    ['ann', '/home/ann'],
    ['root', '/root'],
    ['an', undefined],
    ['broken', undefined],
  ])('%s', (user, home) => {
    expect(homeFromPasswd(PASSWD, user)).toBe(home);
  });
});

describe('lookupPasswdHome', () => {
  it('reads the file; a missing file means no such user', () => {
    const path = `${tempDir()}/passwd`;
    writeFileSync(path, PASSWD);
    expect(lookupPasswdHome('ann', path)).toBe('/home/ann');
    expect(lookupPasswdHome('ann', `${path}.missing`)).toBeUndefined();
  });
});
