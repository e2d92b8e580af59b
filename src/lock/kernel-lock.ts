// Kernel locks on an open mailbox, fcntl or flock, as mutt, Dovecot and
// Postfix take them. Waiting polls the addon's non-blocking tryLock with a
// growing pause: a blocking F_SETLKW would stop Node's only thread, and the
// deadline could not be kept. Returns false when the deadline passes first;
// errors other than "held by someone else" (EBADF, ENOLCK, ...) are thrown as
// the addon throws them, shaped like Node's fs errors.
// fcntl locks belong to the process and vanish when ANY descriptor of the file
// is closed, so keep the mailbox open once, until after the release.

import { loadNative, type NativeAddon } from './native.js';
import { pause as wait } from './pause.js';

export type KernelLockMethod = 'fcntl' | 'flock';

const FIRST_PAUSE_MS = 10;
const PAUSE_GROWTH = 1.5;
const LONGEST_PAUSE_MS = 500;

/**
 * Locks `fd` exclusively, waiting until `deadline` (a Date.now() time), with
 * one last try at the deadline. An abort of `signal` rejects with its reason.
 */
export async function acquireKernelLock(
  fd: number,
  method: KernelLockMethod,
  deadline: number,
  addon: NativeAddon = loadNative(),
  signal?: AbortSignal,
): Promise<boolean> {
  let pause = FIRST_PAUSE_MS;
  while (!addon.tryLock(fd, method)) {
    const left = deadline - Date.now();
    if (left <= 0) return false;
    await wait(Math.min(pause, left), signal);
    pause = Math.min(Math.round(pause * PAUSE_GROWTH), LONGEST_PAUSE_MS);
  }
  return true;
}

export function releaseKernelLock(fd: number, method: KernelLockMethod, addon: NativeAddon = loadNative()): void {
  addon.unlock(fd, method);
}
