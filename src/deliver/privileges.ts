// Switching to the mail user's identity before any user file is touched, and
// refusing identities that must never receive mail (root, uids outside
// first_valid_uid..last_valid_uid). Every refusal is temporary (75), as in
// dovecot-lda: a wrong set-up must defer mail, never bounce it.
//
// mail_privileged_group (Debian's /var/mail is root:mail 2775): the group is
// kept only as the saved gid — by root through setresgid(gid, gid, group), by
// a setgid binary or relay wrapper by dropping its effective gid back to the
// real one — and becomes the effective gid only inside
// PrivilegedGroup.run(), around the syscalls that create and remove a spool
// dotlock. Everything else, the mailbox writes included, runs as the user.

import type { Settings } from '../config/types.js';
import { DeliveryFailure, temporary } from './failure.js';
import type { MailUser } from './lda-user.js';
import { gidOf } from '../userdb/system-accounts.js';
import { loadNative } from '../lock/native.js';

export interface MailIdentity {
  username: string;
  uid: number;
  gid: number;
  /** system users get their supplementary groups from the group database */
  systemGroupsUser?: string;
}

export interface UidRange {
  first_valid_uid: number;
  /** 0 = no upper bound */
  last_valid_uid: number;
}

/** The process calls we need, injectable so the decision logic is testable without root. */
export interface ProcessIdentity {
  geteuid(): number;
  getgid(): number;
  getegid(): number;
  setgroups(groups: number[]): void;
  initgroups(user: string, gid: number): void;
  setgid(gid: number): void;
  setegid(gid: number): void;
  setresgid(rgid: number, egid: number, sgid: number): void;
  setuid(uid: number): void;
}

/** The privileged group, usable for a moment at a time. */
export interface PrivilegedGroup {
  gid: number;
  /** runs `fn` (synchronous syscalls only) with the group as effective gid */
  run<T>(fn: () => T): T;
}

export function checkUidAllowed(uid: number, gid: number, range: UidRange): void {
  if (uid === 0) throw temporary('Mail access not allowed for root');
  if (uid < range.first_valid_uid || (range.last_valid_uid !== 0 && uid > range.last_valid_uid)) {
    throw temporary(
      `Mail access for users with UID ${uid} not permitted (see first_valid_uid=${range.first_valid_uid} / last_valid_uid=${range.last_valid_uid} in config)`,
    );
  }
  if (gid === 0) throw temporary('Mail access not allowed with GID 0');
}

/**
 * Becomes `identity` for good: groups, then gid, then uid (after which there
 * is no way back to root). A non-root process can only stay what it is.
 * With `privilegedGid`, root keeps that group as its saved gid; the result
 * is the group to use, or undefined when there is none.
 */
export function switchToMailUser(
  identity: MailIdentity,
  range: UidRange,
  proc: ProcessIdentity,
  privilegedGid?: number,
): PrivilegedGroup | undefined {
  checkUidAllowed(identity.uid, identity.gid, range);
  const euid = proc.geteuid();
  if (euid !== 0) {
    if (euid !== identity.uid) {
      throw temporary(`Cannot deliver as UID ${identity.uid}: running as UID ${euid}, not root`);
    }
    return keepPrivilegedGroup(proc, privilegedGid);
  }
  try {
    if (identity.systemGroupsUser !== undefined) proc.initgroups(identity.systemGroupsUser, identity.gid);
    else proc.setgroups([identity.gid]);
    if (privilegedGid === undefined) proc.setgid(identity.gid);
    else proc.setresgid(identity.gid, identity.gid, privilegedGid);
    proc.setuid(identity.uid);
  } catch (error) {
    throw temporary(`Cannot switch to UID ${identity.uid} GID ${identity.gid}: ${(error as Error).message}`);
  }
  if (proc.geteuid() !== identity.uid) throw temporary(`Still running as UID ${proc.geteuid()} after setuid(${identity.uid})`);
  return privilegedGid === undefined ? undefined : privilegedGroup(proc, privilegedGid, identity.gid);
}

/**
 * A non-root process started setgid to the privileged group (a relay wrapper
 * or a setgid binary): drops the group to the saved gid, back to the real
 * one. Without that start, the group cannot be had: undefined.
 */
export function keepPrivilegedGroup(proc: ProcessIdentity, privilegedGid: number | undefined): PrivilegedGroup | undefined {
  if (privilegedGid === undefined) return undefined;
  const realGid = proc.getgid();
  if (proc.getegid() !== privilegedGid || realGid === privilegedGid) return undefined;
  try {
    proc.setegid(realGid);
  } catch (error) {
    throw temporary(`Cannot drop mail_privileged_group (GID ${privilegedGid}): ${(error as Error).message}`);
  }
  return privilegedGroup(proc, privilegedGid, realGid);
}

function privilegedGroup(proc: ProcessIdentity, gid: number, userGid: number): PrivilegedGroup {
  return {
    gid,
    run(fn) {
      proc.setegid(gid);
      try {
        return fn();
      } finally {
        proc.setegid(userGid);
      }
    },
  };
}

/** mail_privileged_group as a gid; undefined when unset. An unknown group is a set-up error (temporary). */
export async function privilegedGroupId(settings: Pick<Settings, 'mail_privileged_group'>): Promise<number | undefined> {
  const name = settings.mail_privileged_group;
  if (name === '') return undefined;
  const gid = await gidOf(name);
  if (gid === null) throw new DeliveryFailure('temporary', `mail_privileged_group: Unknown group name '${name}'`);
  return gid;
}

/**
 * Becomes the mail user for the rest of the process, as dovecot-lda does:
 * root switches to the user's uid/gid; a non-root process delivering to a
 * user without a uid stays what it is (keeping the privileged group if it was
 * started with it). Returns the privileged group, if there is one to use.
 */
export function dropPrivileges(user: MailUser, settings: UidRange, privilegedGid: number | undefined): PrivilegedGroup | undefined {
  if (user.uid === undefined && process.geteuid!() !== 0) {
    return keepPrivilegedGroup(nodeProcessIdentity, privilegedGid); // non-root without a uid: deliver as we are
  }
  if (user.uid === undefined || user.gid === undefined) {
    throw new DeliveryFailure('temporary', `User ${user.username} has no uid/gid in the userdb (and mail_uid/mail_gid are unset); refusing to deliver as root`);
  }
  return switchToMailUser(
    { username: user.username, uid: user.uid, gid: user.gid, systemGroupsUser: user.systemGroupsUser },
    settings,
    nodeProcessIdentity,
    privilegedGid,
  );
}

export const nodeProcessIdentity: ProcessIdentity = {
  geteuid: () => process.geteuid!(),
  getgid: () => process.getgid!(),
  getegid: () => process.getegid!(),
  setegid: (gid) => process.setegid!(gid),
  // Node has no setresgid: our addon, loaded only when a privileged group is configured
  setresgid: (rgid, egid, sgid) => loadNative().setresgid(rgid, egid, sgid),
  setgroups: (groups) => process.setgroups!(groups),
  // present on POSIX Node, missing from @types/node
  initgroups: (user, gid) => (process as unknown as { initgroups(user: string, gid: number): void }).initgroups(user, gid),
  setgid: (gid) => process.setgid!(gid),
  setuid: (uid) => process.setuid!(uid),
};
