// The `passwd` userdb: system users, as getpwnam() sees them (through
// system-accounts.ts: /etc/passwd, then getent for NSS sources). Answers the
// account's own name as `user` (Dovecot does the same), uid, gid, home, and
// system_groups_user so that supplementary groups come from initgroups().
// Dovecot's args (blocking=no, ...) change nothing here and are ignored.
//
// Failure: null for an unknown user; a temporary DeliveryFailure when getent
// fails or times out.

import type { UserdbDriver } from './driver.js';
import { getpwnam } from './system-accounts.js';

export const passwdDriver: UserdbDriver = {
  async lookup(username) {
    const entry = await getpwnam(username);
    if (entry === null) return null;
    return [
      ['user', entry.name],
      ['system_groups_user', entry.name],
      ['uid', String(entry.uid)],
      ['gid', String(entry.gid)],
      ['home', entry.home],
    ];
  },
};
