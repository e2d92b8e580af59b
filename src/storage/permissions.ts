// Modes and group for new mail files and directories, copied from an existing
// directory as Dovecot does (mailbox_list_get_permissions): files get
// (mode & 0666) | 0600, directories (mode & 0777) | 0700, and the group of the
// directory when it is not ours, its group permissions differ from the
// world's and it has no setgid bit (which makes the kernel do it). Nothing
// exists yet → 0600/0700. Creation applies the mode exactly, whatever the
// umask (Dovecot sets the umask around its calls; we chmod after). A refused
// chgrp is ignored, as Dovecot does for files: the mail is still safe.

import { chmod, chown, mkdir, open, stat } from 'node:fs/promises';
import { constants, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { errorCode, fsCall, statIfExists } from './fs-errors.js';

export interface Permissions {
  fileMode: number;
  dirMode: number;
  /** group to give new files and directories; undefined = leave the default */
  gid?: number;
}

const S_ISGID = 0o2000;

export const DEFAULT_PERMISSIONS: Permissions = { fileMode: 0o600, dirMode: 0o700 };

/** Pure: the permissions new files and directories get next to a directory with these stats. */
export function permissionsFromStats(stats: Pick<Stats, 'mode' | 'gid'>, ourGid: number): Permissions {
  const permissions: Permissions = { fileMode: (stats.mode & 0o666) | 0o600, dirMode: (stats.mode & 0o777) | 0o700 };
  const setgid = (stats.mode & S_ISGID) !== 0;
  const groupLikeWorld = ((stats.mode & 0o070) >> 3) === (stats.mode & 0o007);
  if (!setgid && !groupLikeWorld && stats.gid !== ourGid) permissions.gid = stats.gid;
  return permissions;
}

/** The permissions of the first existing directory among `candidates` (nearest first), else the defaults. */
export async function permissionsOf(candidates: readonly string[], ourGid: number): Promise<Permissions> {
  for (const candidate of candidates) {
    const stats = await statIfExists(candidate);
    if (stats !== undefined) return permissionsFromStats(stats, ourGid);
  }
  return DEFAULT_PERMISSIONS;
}

/** Gives a new file or directory its group; EPERM (not a member) is ignored. */
export async function applyGroup(change: (gid: number) => Promise<void>, permissions: Permissions): Promise<void> {
  if (permissions.gid === undefined) return;
  try {
    await change(permissions.gid);
  } catch (error) {
    if (errorCode(error) !== 'EPERM') throw error;
  }
}

/** mkdir with the exact mode (keeping a setgid bit inherited from the parent); false when it already existed. */
export async function makeDirectory(path: string, permissions: Permissions): Promise<boolean> {
  return fsCall('mkdir', path, async () => {
    try {
      await mkdir(path, { mode: permissions.dirMode });
    } catch (error) {
      if (errorCode(error) === 'EEXIST') return false;
      throw error;
    }
    const created = await stat(path);
    const wanted = permissions.dirMode | (created.mode & S_ISGID);
    if ((created.mode & 0o7777) !== wanted) await chmod(path, wanted);
    await applyGroup((gid) => chown(path, -1, gid), permissions);
    return true;
  });
}

/** mkdir -p: creates `path` and its missing parents; returns the directories it created, outermost first. */
export async function makeDirectories(path: string, permissions: Permissions): Promise<string[]> {
  const missing: string[] = [];
  for (let current = path; (await statIfExists(current)) === undefined; ) {
    missing.unshift(current);
    const parent = dirname(current);
    if (parent === current) break;
    current = parent;
  }
  const created: string[] = [];
  for (const directory of missing) {
    if (await makeDirectory(directory, permissions)) created.push(directory);
  }
  return created;
}

/** Creates an empty file (O_EXCL, never through a symlink) with the exact mode and group; false when it already existed. */
export async function createFile(path: string, permissions: Permissions): Promise<boolean> {
  return fsCall('open', path, async () => {
    let file;
    try {
      file = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, permissions.fileMode);
    } catch (error) {
      if (errorCode(error) === 'EEXIST') return false;
      throw error;
    }
    try {
      await file.chmod(permissions.fileMode);
      await applyGroup((gid) => file.chown(-1, gid), permissions);
    } finally {
      await file.close();
    }
    return true;
  });
}
