// Switching to the mail user's identity before any user file is touched, and
// refusing identities that must never receive mail (root, uids outside
// first_valid_uid..last_valid_uid). Every refusal is temporary (75), as in
// dovecot-lda: a wrong set-up must defer mail, never bounce it.

import { temporary } from './failure.js';

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
  setgroups(groups: number[]): void;
  initgroups(user: string, gid: number): void;
  setgid(gid: number): void;
  setuid(uid: number): void;
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
 */
export function switchToMailUser(identity: MailIdentity, range: UidRange, proc: ProcessIdentity): void {
  checkUidAllowed(identity.uid, identity.gid, range);
  const euid = proc.geteuid();
  if (euid !== 0) {
    if (euid !== identity.uid) {
      throw temporary(`Cannot deliver as UID ${identity.uid}: running as UID ${euid}, not root`);
    }
    return;
  }
  try {
    if (identity.systemGroupsUser !== undefined) proc.initgroups(identity.systemGroupsUser, identity.gid);
    else proc.setgroups([identity.gid]);
    proc.setgid(identity.gid);
    proc.setuid(identity.uid);
  } catch (error) {
    throw temporary(`Cannot switch to UID ${identity.uid} GID ${identity.gid}: ${(error as Error).message}`);
  }
  if (proc.geteuid() !== identity.uid) throw temporary(`Still running as UID ${proc.geteuid()} after setuid(${identity.uid})`);
}

export const nodeProcessIdentity: ProcessIdentity = {
  geteuid: () => process.geteuid!(),
  setgroups: (groups) => process.setgroups!(groups),
  // present on POSIX Node, missing from @types/node
  initgroups: (user, gid) => (process as unknown as { initgroups(user: string, gid: number): void }).initgroups(user, gid),
  setgid: (gid) => process.setgid!(gid),
  setuid: (uid) => process.setuid!(uid),
};
