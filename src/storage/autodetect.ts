// Dovecot's storage autodetection, for an empty mail_location, a bare path
// ("~/Maildir") or the "auto" driver: Maildir first, then mbox, as Dovecot
// 2.3 tries its storage classes (dbox formats are not supported, so not
// detected). Reads the filesystem synchronously (a few stat/access calls).
// Nothing found → MailboxError('temporary') with Dovecot's reason; the caller
// adds Dovecot's "... failed: " prefix.

import { accessSync, statSync, constants, type Stats } from 'node:fs';
import { MailboxError } from './errors.js';
import type { MailLocation } from './mail-location.js';
import type { StorageUser } from './types.js';

/** Where mbox autodetection looks for the user's INBOX file, in order. */
export const SPOOL_DIRECTORIES: readonly string[] = ['/var/mail', '/var/spool/mail'];

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

function hasAccess(path: string, mode: number): boolean {
  try {
    accessSync(path, mode);
    return true;
  } catch {
    return false;
  }
}

const RWX = constants.R_OK | constants.W_OK | constants.X_OK;
const RW = constants.R_OK | constants.W_OK;

function isAccessibleDirectory(path: string): boolean {
  return statOrUndefined(path)?.isDirectory() === true && hasAccess(path, RWX);
}

function isAccessibleFile(path: string): boolean {
  const stats = statOrUndefined(path);
  return stats !== undefined && !stats.isDirectory() && hasAccess(path, RW);
}

/** ~/Maildir when rwx, or "/" when there is no home and /cur is rwx (chroot); its cur/ must be a directory. */
function detectMaildir(location: MailLocation, home: string): MailLocation | undefined {
  let root = location.root;
  if (root === '') {
    if (home !== '') root = hasAccess(`${home}/Maildir`, RWX) ? `${home}/Maildir` : '';
    else root = hasAccess('/cur', RWX) ? '/' : '';
  }
  if (root === '' || statOrUndefined(`${root}/cur`)?.isDirectory() !== true) return undefined;
  return { ...location, driver: 'maildir', root };
}

function isMboxRoot(directory: string): boolean {
  return (
    isAccessibleDirectory(`${directory}/.imap`) ||
    isAccessibleFile(`${directory}/inbox`) ||
    isAccessibleFile(`${directory}/mbox`)
  );
}

/** ~/mail or ~/Mail with .imap/, inbox or mbox in it; the INBOX from the spool when readable and writable. */
function detectMbox(location: MailLocation, user: StorageUser, spoolDirectories: readonly string[]): MailLocation | undefined {
  let root = location.root;
  let inbox = location.inbox;
  if (root !== '' && inbox === undefined && isAccessibleFile(root)) {
    inbox = root; // the location names the INBOX file itself
    root = '';
  } else if (root !== '' && !isMboxRoot(root)) {
    return undefined;
  }
  if (root === '') root = [`${user.home}/mail`, `${user.home}/Mail`].find(isMboxRoot) ?? '';
  if (root === '') return undefined;
  inbox ??= spoolDirectories.map((dir) => `${dir}/${user.username}`).find((path) => hasAccess(path, RW));
  return { ...location, driver: 'mbox', root, inbox };
}

function failureReason(text: string, location: MailLocation, home: string): string {
  const shownHome = home === '' ? '(not set)' : home;
  if (text === '') return `Mail storage autodetection failed with home=${shownHome}`;
  if (location.driver === 'auto') return `Autodetection failed for ${text} (home=${shownHome})`;
  return `Ambiguous mail location setting, don't know what to do with it: ${text} (try prefixing it with mbox: or maildir:)`;
}

/**
 * Fills in the driver (and root, INBOX) of a location that names none:
 * `text` is the mail_location as configured ("" when unset), `location` its
 * parse. Throws MailboxError('temporary') when no format is found.
 */
export function autodetectMailLocation(
  text: string,
  location: MailLocation,
  user: StorageUser,
  spoolDirectories: readonly string[] = SPOOL_DIRECTORIES,
): MailLocation {
  const detected = detectMaildir(location, user.home) ?? detectMbox(location, user, spoolDirectories);
  if (detected === undefined) throw new MailboxError('temporary', failureReason(text, location, user.home));
  return detected;
}
