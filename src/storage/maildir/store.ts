// Maildir mailboxes of one mail_location (Dovecot's maildir-storage.c and the
// maildir++/fs list drivers). INBOX is always created (the root, or INBOX=,
// with cur/ new/ tmp/). Another mailbox exists when its directory does
// (Maildir++; missing cur/ new/ tmp/ are recreated) or has tmp/ (fs layout);
// when missing it is created only with autocreate: Maildir++ `.a.b` with an
// empty `maildirfolder` file, fs `a/b` with its parent directories; an
// existing INBOX directory then gets its missing cur/ new/ tmp/ too, as
// dovecot-lda leaves it. A mailbox created by this open is subscribed when
// asked. A mailbox's dovecot-keywords lives in its directory, or with
// CONTROL= in its place under that tree. Directories may be symlinks.
// Failures are MailboxError: 'not-found', 'invalid-name', 'no-permission',
// 'over-quota', 'temporary'.

import { statSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import type { MailFsync } from '../../config/types.js';
import { MailboxError } from '../errors.js';
import { parseMessageFlags } from '../flags.js';
import { statIfExists } from '../fs-errors.js';
import type { MailLocation } from '../mail-location.js';
import { mailboxDirectory, verifyCreateName, type NamespaceView, type ResolvedMailboxName } from '../mailbox-name.js';
import {
  createFile,
  makeDirectories,
  makeDirectory,
  permissionsFromStats,
  permissionsOf,
  type Permissions,
} from '../permissions.js';
import type { MailboxStore } from '../store.js';
import { subscribeInLocation } from '../subscriptions.js';
import type { Mailbox, OpenMailboxOptions, StorageUser } from '../types.js';
import { MaildirSaveTransaction } from './save.js';

export interface MaildirStoreSettings {
  user: StorageUser;
  mailFsync: MailFsync;
  /** for file names: must not contain '/' or control characters */
  hostname: string;
  signal?: AbortSignal;
}

/** mail_location options that move mailboxes somewhere Dovetail would not look. */
const UNSUPPORTED_OPTIONS = ['ALT', 'DIRNAME', 'FULLDIRNAME', 'MAILBOXDIR'];
const MAILDIR_SUBDIRECTORIES = ['cur', 'new', 'tmp'];
const DEFAULT_SUBSCRIPTIONS_FILE = 'subscriptions';

type Target = ResolvedMailboxName<NamespaceView>;

function notFound(target: Target): MailboxError {
  return new MailboxError('not-found', `Mailbox doesn't exist: ${target.name}`);
}

/**
 * Makes whichever of cur/ new/ tmp/ is missing: one readdir finds those that
 * exist (a delivery usually finds all three), so that the common case costs
 * no failing mkdir. A directory just made has none.
 */
async function ensureSubdirectories(directory: string, permissions: Permissions, isNew = false): Promise<void> {
  const present = isNew ? new Set<string>() : await subdirectoriesOf(directory);
  for (const name of MAILDIR_SUBDIRECTORIES) if (!present.has(name)) await makeDirectory(`${directory}/${name}`, permissions);
}

/** The names of the directories in `directory`; none when it cannot be read (mkdir then says why). */
async function subdirectoriesOf(directory: string): Promise<Set<string>> {
  try {
    return new Set((await readdir(directory, { withFileTypes: true })).filter((entry) => entry.isDirectory()).map((entry) => entry.name));
  } catch {
    return new Set();
  }
}

/** The directories of the parent mailboxes, nearest first, then the root: where a new mailbox takes its permissions from. */
function permissionSources(root: string, target: Target): string[] {
  const { layout, storageSeparator } = target.namespace;
  const levels = target.storageName.split(storageSeparator);
  const parents: string[] = [];
  for (let depth = levels.length - 1; depth > 0; depth--) {
    const parentName = levels.slice(0, depth).join(storageSeparator);
    parents.push(layout === 'maildir++' ? `${root}/.${parentName}` : `${root}/${parentName}`);
  }
  return [...parents, root];
}

class MaildirStore implements MailboxStore {
  private readonly root: string;

  constructor(
    private readonly location: MailLocation,
    private readonly settings: MaildirStoreSettings,
  ) {
    this.root = location.root;
  }

  async openMailbox(target: Target, requestedName: string, options: OpenMailboxOptions): Promise<Mailbox> {
    const directory = mailboxDirectory(this.root, this.location.inbox, target);
    let permissions: Permissions;
    if (target.isInbox) {
      permissions = await this.ensureInbox(directory);
    } else {
      if ((await this.openFolder(directory, target, options)) && options.autosubscribe) await this.subscribe(target);
      permissions = await permissionsOf([directory], this.settings.user.gid);
    }
    const controlDirectory = this.controlDirectory(directory, target);
    return {
      name: requestedName,
      beginSave: async ({ receivedDate, flags }) =>
        new MaildirSaveTransaction(
          {
            mailboxName: requestedName,
            directory,
            controlDirectory,
            permissions,
            fsync: this.settings.mailFsync !== 'never',
            hostname: this.settings.hostname,
            signal: this.settings.signal,
          },
          receivedDate,
          parseMessageFlags(flags),
        ),
    };
  }

  mailboxExists(target: Target): boolean {
    if (target.isInbox) return true;
    const directory = mailboxDirectory(this.root, this.location.inbox, target);
    const stats = statSync(directory, { throwIfNoEntry: false });
    if (stats === undefined || !stats.isDirectory()) return false;
    return target.namespace.layout === 'maildir++' || statSync(`${directory}/tmp`, { throwIfNoEntry: false }) !== undefined;
  }

  /**
   * Where Dovecot keeps the mailbox's dovecot-keywords (and uidlist): the
   * mailbox directory, or with CONTROL= the mailbox's place in that tree —
   * INBOX too by its name (CONTROL/.INBOX for Maildir++, CONTROL/INBOX for fs).
   */
  private controlDirectory(directory: string, target: Target): string {
    if (this.location.control === undefined) return directory;
    return mailboxDirectory(this.location.control, undefined, { ...target, isInbox: false });
  }

  /** Makes the INBOX directory and its cur/ new/ tmp/ as needed; returns the permissions its files get. */
  private async ensureInbox(directory: string): Promise<Permissions> {
    const stats = await statIfExists(directory);
    if (stats !== undefined) {
      const permissions = permissionsFromStats(stats, this.settings.user.gid);
      await ensureSubdirectories(directory, permissions);
      return permissions;
    }
    const permissions = await permissionsOf([this.root], this.settings.user.gid);
    await makeDirectories(directory, permissions);
    await ensureSubdirectories(directory, permissions, true);
    // as permissionsOf([directory]) would say of it now
    return permissionsOf([directory], this.settings.user.gid);
  }

  /** Opens or creates a mailbox other than INBOX; true when this call created it. */
  private async openFolder(directory: string, target: Target, options: OpenMailboxOptions): Promise<boolean> {
    const stats = await statIfExists(directory);
    if (stats === undefined) {
      if (!options.autocreate) throw notFound(target);
      verifyCreateName(target);
      return this.createFolder(directory, target);
    }
    if (!stats.isDirectory()) throw new MailboxError('temporary', `Mailbox ${target.name}: ${directory} is not a directory`);
    const permissions = permissionsFromStats(stats, this.settings.user.gid);
    const selectable =
      target.namespace.layout === 'maildir++' ||
      (await statIfExists(`${directory}/tmp`)) !== undefined;
    if (!selectable) {
      // an fs-layout directory without tmp/ only holds other mailboxes; Dovecot 2.3 then fails with
      // "Mailbox already exists" even with autocreate — we make it a mailbox instead
      if (!options.autocreate) throw notFound(target);
      verifyCreateName(target);
    }
    await ensureSubdirectories(directory, permissions);
    return !selectable;
  }

  private async createFolder(directory: string, target: Target): Promise<boolean> {
    const gid = this.settings.user.gid;
    await makeDirectories(this.root, await permissionsOf([this.root], gid));
    const permissions = await permissionsOf(permissionSources(this.root, target), gid);
    const maildirPlusPlus = target.namespace.layout === 'maildir++';
    const created = maildirPlusPlus
      ? await makeDirectory(directory, permissions)
      : (await makeDirectories(directory, permissions)).includes(directory);
    await ensureSubdirectories(directory, permissions);
    if (!created) return false;
    if (maildirPlusPlus) await createFile(`${directory}/maildirfolder`, permissions);
    const inbox = this.location.inbox ?? this.root;
    if ((await statIfExists(inbox)) !== undefined) await this.ensureInbox(inbox);
    return true;
  }

  private async subscribe(target: Target): Promise<void> {
    await subscribeInLocation(this.location, DEFAULT_SUBSCRIPTIONS_FILE, target, {
      gid: this.settings.user.gid,
      fsync: this.settings.mailFsync !== 'never',
    });
  }

}

/** Checks what Dovetail's Maildir cannot do (LAYOUT=index, ALT=, ...) up front; throws MailboxError('temporary'). */
export function createMaildirStore(location: MailLocation, settings: MaildirStoreSettings): MailboxStore {
  if (location.layout === 'index') throw new MailboxError('temporary', 'LAYOUT=index is not supported');
  const unsupported = UNSUPPORTED_OPTIONS.find((key) => location.options.has(key));
  if (unsupported !== undefined) throw new MailboxError('temporary', `mail_location option ${unsupported} is not supported`);
  // eslint-disable-next-line no-control-regex
  if (settings.hostname === '' || /[/\x00-\x1f]/.test(settings.hostname)) {
    throw new MailboxError('temporary', `Hostname not usable in Maildir file names: ${JSON.stringify(settings.hostname)}`);
  }
  return new MaildirStore(location, settings);
}
