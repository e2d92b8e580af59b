// Looks up a system user's home in /etc/passwd, for "~user/" in mail_location
// (Dovecot's home_try_expand uses getpwnam). An unreadable file or a missing
// user gives undefined; the caller reports it.

import { readFileSync } from 'node:fs';
import { parsePasswdLine } from '../userdb/system-accounts.js';

/** The home field of `username`'s line in a passwd-format text, or undefined. */
export function homeFromPasswd(passwdText: string, username: string): string | undefined {
  for (const line of passwdText.split('\n')) {
    const entry = parsePasswdLine(line);
    if (entry?.name === username) return entry.home;
  }
  return undefined;
}

export function lookupPasswdHome(username: string, passwdPath = '/etc/passwd'): string | undefined {
  let text: string;
  try {
    text = readFileSync(passwdPath, 'utf8');
  } catch {
    return undefined;
  }
  return homeFromPasswd(text, username);
}
