// The native addon (native/dovetail_native.c): kernel file locks (fcntl,
// flock) and setresgid, which Node lacks. It is loaded on first use, so a
// delivery that needs none of it pays nothing. A missing or broken addon is an
// Error naming every path tried; the caller makes it a temporary failure (75).
// The addon's own errors look like Node's fs errors: code "EBADF", errno -9
// (negative, as Node reports it), syscall "fcntl", message "EBADF: bad file
// descriptor, fcntl"; bad arguments are TypeErrors.
//
// Inside the single executable (dist/dovetail, scripts/package.mjs) the addon
// is an SEA asset, and dlopen() needs a file. We write it to an anonymous file
// (O_TMPFILE: an inode with no name, gone when closed) and load it through
// /proc/self/fd/N. With no name, no other user can plant, swap or rewrite
// it, and nothing is left behind, whoever runs us (root, vmail, any user via
// mailbox_command, a setgid mail binary whose real user may be hostile). The
// directory only has to allow execution and belong to root with no one else
// able to write to it, or with the sticky bit (/tmp): then no unprivileged
// user can have mounted a filesystem of their own there (FUSE) whose pages
// they could change under us. Tried in order: the executable's own directory
// (writable for root only), /dev/shm, /tmp, /var/tmp; no directory from the
// environment, which a setgid caller controls. When none works (noexec
// everywhere, no /proc), the Error names each directory and why.

import { closeSync, constants as fsConstants, fstatSync, openSync, realpathSync, writeSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { dirname, join } from 'node:path';
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

/** The asset name scripts/package.mjs gives the addon inside dist/dovetail. */
const ADDON_ASSET = 'dovetail_native.node';

let loaded: NativeAddon | undefined;

export function loadNative(): NativeAddon {
  // node:sea is asked here, on first use, not when this module loads (every delivery loads it)
  loaded ??= process.getBuiltinModule('node:sea').isSea() ? loadEmbedded() : requireFirst([
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
      failures.push(`${path}: ${firstLine(error)}`);
    }
  }
  throw new Error(`Cannot load the native addon (build it with npm run install): ${failures.join('; ')}`);
}

function loadEmbedded(): NativeAddon {
  const image = new Uint8Array(process.getBuiltinModule('node:sea').getRawAsset(ADDON_ASSET) as ArrayBuffer);
  const failures: string[] = [];
  for (const dir of [dirname(realpathSync(process.execPath)), '/dev/shm', '/tmp', '/var/tmp']) {
    try {
      return loadAnonymousCopy(dir, image);
    } catch (error) {
      failures.push(`${dir}: ${firstLine(error)}`);
    }
  }
  throw new Error(`Cannot load the native addon inside ${process.execPath}: ${failures.join('; ')}`);
}

/** Linux's O_TMPFILE (__O_TMPFILE | O_DIRECTORY), which Node's fs.constants lacks. */
const O_TMPFILE = 0o20000000 | fsConstants.O_DIRECTORY;

/** Writes `image` to a nameless file in `dir` and dlopen()s it; throws if `dir` is not safe or not executable. */
function loadAnonymousCopy(dir: string, image: Uint8Array): NativeAddon {
  const dirFd = openSync(dir, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
  try {
    assertOnlyRootControls(fstatSync(dirFd));
    // through the descriptor, so the directory checked is the one used
    const fileFd = openSync(`/proc/self/fd/${dirFd}`, O_TMPFILE | fsConstants.O_RDWR, 0o500);
    try {
      for (let written = 0; written < image.length; ) written += writeSync(fileFd, image, written);
      const module = { exports: {} };
      process.dlopen(module, `/proc/self/fd/${fileFd}`, osConstants.dlopen.RTLD_NOW);
      return module.exports as NativeAddon;
    } finally {
      closeSync(fileFd);
    }
  } finally {
    closeSync(dirFd);
  }
}

const STICKY = 0o1000;

function assertOnlyRootControls(dir: { uid: number; mode: number }): void {
  if (dir.uid !== 0) throw new Error('not owned by root');
  if ((dir.mode & 0o022) !== 0 && (dir.mode & STICKY) === 0) throw new Error('writable by others without the sticky bit');
}

function firstLine(error: unknown): string {
  return String((error as Error)?.message ?? error).split('\n')[0];
}
