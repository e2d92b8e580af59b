// The native addon (native/dovetail_native.c): kernel file locks (fcntl,
// flock) and setresgid, which Node lacks. It is loaded on first use, so a
// delivery that needs none of it pays nothing. A missing or broken addon is an
// Error naming every path tried; the caller makes it a temporary failure (75).
// The addon's own errors look like Node's fs errors: code "EBADF", errno -9
// (negative, as Node reports it), syscall "fcntl", message "EBADF: bad file
// descriptor, fcntl"; bad arguments are TypeErrors.

import { join } from 'node:path';
import type { KernelLockMethod } from './kernel-lock.js';

export interface NativeAddon {
  /** Exclusive whole-file lock without waiting: true = taken, false = someone else holds it. */
  tryLock(fd: number, method: KernelLockMethod): boolean;
  unlock(fd: number, method: KernelLockMethod): void;
  /**
   * As Dovecot's setresgid(primary, primary, privileged): the mail user's gid,
   * with mail_privileged_group kept as the saved gid so that a later
   * process.setegid(privileged) can create the spool dotlock.
   */
  setresgid(rgid: number, egid: number, sgid: number): void;
  getresgid(): [rgid: number, egid: number, sgid: number];
}

let loaded: NativeAddon | undefined;

export function loadNative(): NativeAddon {
  loaded ??= requireFirst([
    // beside the bundle, dist/dovetail.js
    join(__dirname, 'dovetail_native.node'),
    // where node-gyp builds it, seen from src/lock when running from source (vitest)
    join(__dirname, '..', '..', 'build', 'Release', 'dovetail_native.node'),
  ]);
  return loaded;
}

function requireFirst(paths: string[]): NativeAddon {
  const failures: string[] = [];
  for (const path of paths) {
    try {
      // A computed path: esbuild leaves this require to run when called.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      return require(path) as NativeAddon;
    } catch (error) {
      failures.push(`${path}: ${(error as Error).message.split('\n')[0]}`);
    }
  }
  throw new Error(`Cannot load the native addon (build it with npm run install): ${failures.join('; ')}`);
}
