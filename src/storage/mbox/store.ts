// mbox mailboxes of one mail_location (Dovecot's mbox-storage.c with the fs
// list layout): INBOX is the INBOX= file (a /var/mail spool file, typically)
// or ROOT/inbox; any other mailbox is the file ROOT/a/b for the name "a/b".
// The root directory is made when a mailbox in it needs it (Dovecot also
// makes it for its index when INBOX is elsewhere; docs/compatibility.md).
// A missing INBOX file is created by the save (its directory too); another missing
// mailbox only with autocreate (parent directories too), then subscribed
// when asked (ROOT/.subscriptions). A directory is a mailbox that only holds
// others ("isn't selectable"); a file cannot hold others. Failures are
// MailboxError with Dovecot's words; 'not-found' and 'invalid-name' make the
// delivery fall back to INBOX.

import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { MailFsync } from '../../config/types.js';
import { MailboxError } from '../errors.js';
import { parseMessageFlags } from '../flags.js';
import { statIfExists } from '../fs-errors.js';
import type { MailLocation } from '../mail-location.js';
import { verifyCreateName, type NamespaceView, type ResolvedMailboxName } from '../mailbox-name.js';
import { createFile, DEFAULT_PERMISSIONS, makeDirectories, permissionsOf, type Permissions } from '../permissions.js';
import type { MailboxStore } from '../store.js';
import { subscribeInLocation } from '../subscriptions.js';
import type { Mailbox, MboxOptions, OpenMailboxOptions, StorageUser } from '../types.js';
import { mboxFromLine } from './format.js';
import { parseMboxWriteLocks, type MboxLockMethod, type MboxLockSettings } from './lock.js';
import { MboxSaveTransaction } from './save.js';

export interface MboxStoreSettings {
  user: StorageUser;
  mailFsync: MailFsync;
  /** written into dotlocks */
  hostname: string;
  mbox: MboxOptions;
  signal?: AbortSignal;
}

/** mail_location options that move mailboxes somewhere Dovetail would not look. */
const UNSUPPORTED_OPTIONS = ['ALT', 'DIRNAME', 'FULLDIRNAME', 'MAILBOXDIR'];
const DEFAULT_SUBSCRIPTIONS_FILE = '.subscriptions';
const ROOT_INBOX_FILE = 'inbox';

type Target = ResolvedMailboxName<NamespaceView>;

/** The directories between the root and a mailbox file, outermost first ("a/b/c" → ROOT/a, ROOT/a/b). */
function parentDirectories(root: string, storageName: string): string[] {
  const levels = storageName.split('/');
  return levels.slice(0, -1).map((_, index) => `${root}/${levels.slice(0, index + 1).join('/')}`);
}

class MboxStore implements MailboxStore {
  private readonly root: string;
  private readonly inboxPath: string;
  private readonly lockMethods: readonly MboxLockMethod[];

  constructor(
    private readonly location: MailLocation,
    private readonly settings: MboxStoreSettings,
  ) {
    this.root = location.root;
    this.inboxPath = location.inbox ?? `${location.root}/${ROOT_INBOX_FILE}`;
    this.lockMethods = parseMboxWriteLocks(settings.mbox.writeLocks, settings.mbox.readLocks);
  }

  async openMailbox(target: Target, requestedName: string, options: OpenMailboxOptions): Promise<Mailbox> {
    const { gid } = this.settings.user;
    let path: string;
    let permissions: Permissions;
    if (target.isInbox && this.location.inbox === undefined) {
      path = this.inboxPath;
      permissions = await permissionsOf([this.root], gid);
      await makeDirectories(this.root, permissions);
    } else if (target.isInbox) {
      path = this.inboxPath;
      // a spool file is the user's alone, whatever the spool directory's mode says (Postfix and Dovecot agree)
      permissions = DEFAULT_PERMISSIONS;
      // INBOX=~/other/inbox in a directory not made yet: Dovecot makes it (mode 0700), as for the file
      await makeDirectories(dirname(path), DEFAULT_PERMISSIONS);
    } else {
      path = `${this.root}/${target.storageName}`;
      permissions = await permissionsOf([dirname(path), this.root], gid);
      if ((await this.openFolder(path, target, options, permissions)) && options.autosubscribe) await this.subscribe(target);
    }
    return {
      name: requestedName,
      beginSave: async ({ receivedDate, envelopeSender, flags }) =>
        new MboxSaveTransaction({
          mailboxName: requestedName,
          path,
          permissions,
          locking: this.lockSettings(target.isInbox),
          fsync: this.settings.mailFsync !== 'never',
          fromLine: mboxFromLine(envelopeSender, receivedDate ?? new Date()),
          flags: parseMessageFlags(flags),
          signal: this.settings.signal,
        }),
    };
  }

  mailboxExists(target: Target): boolean {
    if (target.isInbox) return true;
    return statSync(`${this.root}/${target.storageName}`, { throwIfNoEntry: false })?.isFile() ?? false;
  }

  private lockSettings(isInbox: boolean): MboxLockSettings {
    const { mbox } = this.settings;
    const timeoutSeconds =
      mbox.maxLockTimeoutSeconds > 0 ? Math.min(mbox.lockTimeoutSeconds, mbox.maxLockTimeoutSeconds) : mbox.lockTimeoutSeconds;
    return {
      methods: this.lockMethods,
      timeoutMs: timeoutSeconds * 1000,
      dotlockStaleMs: mbox.dotlockChangeTimeoutSeconds * 1000,
      dotlockUseExcl: mbox.dotlockUseExcl,
      hostname: this.settings.hostname,
      signal: this.settings.signal,
      // Dovecot uses the privileged group for the INBOX's dotlock only: that is what lives in /var/mail
      ...(isInbox && mbox.withPrivilegedGroup && { withPrivilegedGroup: mbox.withPrivilegedGroup }),
    };
  }

  /** Checks or creates a mailbox file other than INBOX; true when this call created it. */
  private async openFolder(path: string, target: Target, options: OpenMailboxOptions, permissions: Permissions): Promise<boolean> {
    const belowFile = await this.hasFileParent(target.storageName);
    const stats = belowFile ? undefined : await statIfExists(path);
    if (stats?.isDirectory()) throw new MailboxError('not-found', "Mailbox isn't selectable");
    if (stats !== undefined) return false;
    if (!options.autocreate) throw new MailboxError('not-found', `Mailbox doesn't exist: ${target.name}`);
    verifyCreateName(target);
    if (belowFile) throw new MailboxError('not-found', "Mailbox doesn't allow inferior mailboxes");
    await makeDirectories(dirname(path), await permissionsOf([this.root], this.settings.user.gid));
    return createFile(path, permissions); // false: someone else created it just now
  }

  /** True when a level above the mailbox is a file, which cannot hold mailboxes. */
  private async hasFileParent(storageName: string): Promise<boolean> {
    for (const parent of parentDirectories(this.root, storageName)) {
      const stats = await statIfExists(parent);
      if (stats === undefined) return false;
      if (!stats.isDirectory()) return true;
    }
    return false;
  }

  private async subscribe(target: Target): Promise<void> {
    await subscribeInLocation(this.location, DEFAULT_SUBSCRIPTIONS_FILE, target, {
      gid: this.settings.user.gid,
      fsync: this.settings.mailFsync !== 'never',
    });
  }

}

/** Checks what Dovetail's mbox cannot do (LAYOUT=maildir++ or index, ALT=, ...) and the lock settings up front; throws MailboxError('temporary'). */
export function createMboxStore(location: MailLocation, settings: MboxStoreSettings): MailboxStore {
  if (location.layout !== undefined && location.layout !== 'fs') {
    throw new MailboxError('temporary', `LAYOUT=${location.layout} is not supported for mbox`);
  }
  const unsupported = UNSUPPORTED_OPTIONS.find((key) => location.options.has(key));
  if (unsupported !== undefined) throw new MailboxError('temporary', `mail_location option ${unsupported} is not supported`);
  return new MboxStore(location, settings);
}

