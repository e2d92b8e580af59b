// The storage one delivery opens, from the settings and the resolved user:
// the user's home (userdb home, else mail_home expanded), mail_location and
// namespace locations with the user's %-variables, and the mbox lock
// settings. Shared by the LDA and `dovetail --check`, so that the doctor
// opens exactly what a delivery would. Expansion errors throw as
// expandVariables throws them (temporary).

import type { Settings } from '../config/types.js';
import { expandVariables, userVariables } from '../config/var-expand.js';
import type { StorageOptions } from '../storage/types.js';
import type { MailUser } from './lda-user.js';
import type { PrivilegedGroup } from './privileges.js';

export interface StorageContext {
  /** %{hostname} in templates */
  hostname: string;
  /** for Maildir file names and dotlocks */
  fileHostname: string;
  /** %s in templates */
  service: 'lda' | 'lmtp';
  /** the identity the storage runs as */
  uid: number;
  gid: number;
  privilegedGroup?: PrivilegedGroup;
  signal?: AbortSignal;
}

/** A userdb or setting template with the user's %-variables. */
function expandForUser(template: string, user: MailUser, hostname: string, home: string, service: 'lda' | 'lmtp'): string {
  if (!template.includes('%')) return template;
  return expandVariables(
    template,
    userVariables({ user: user.username, home, service, uid: user.uid, gid: user.gid, hostname, pid: process.pid }),
  );
}

/** The user's home: the userdb's, else mail_home expanded. */
export function userHome(settings: Settings, user: MailUser, hostname: string, service: 'lda' | 'lmtp'): string {
  return user.home || expandForUser(settings.mail_home, user, hostname, '', service);
}

export function storageOptionsFor(settings: Settings, user: MailUser, home: string, context: StorageContext): StorageOptions {
  const { privilegedGroup } = context;
  return {
    mailLocation: expandForUser(user.mail ?? settings.mail_location, user, context.hostname, home, context.service),
    user: { username: user.username, home, uid: context.uid, gid: context.gid },
    namespaces: settings.namespaces.map((ns) => ({ ...ns, location: expandForUser(ns.location, user, context.hostname, home, context.service) })),
    mailFsync: settings.mail_fsync,
    hostname: context.fileHostname,
    mbox: {
      writeLocks: settings.mbox_write_locks,
      readLocks: settings.mbox_read_locks,
      lockTimeoutSeconds: settings.mbox_lock_timeout,
      dotlockChangeTimeoutSeconds: settings.mbox_dotlock_change_timeout,
      maxLockTimeoutSeconds: settings.mail_max_lock_timeout,
      dotlockUseExcl: settings.dotlock_use_excl,
      ...(privilegedGroup && { withPrivilegedGroup: <T>(fn: () => T) => privilegedGroup.run(fn) }),
    },
    signal: context.signal,
  };
}
