// Who the mail is for, in LDA mode (dovecot-lda src/lda/main.c): with -d a
// userdb lookup; without it, $USER and $HOME when both are set, else the
// passwd entry of the effective uid. Root without -d is a usage error.

import type { Settings } from '../config/types.js';
import { lookupUser } from '../userdb/lookup.js';
import type { ServerCaches } from './server-caches.js';
import { getpwuid, uidOf, gidOf } from '../userdb/system-accounts.js';
import { DeliveryFailure, temporary } from './failure.js';

export interface MailUser {
  username: string;
  /** "" when unknown */
  home: string;
  /** undefined: deliver as the current process identity (non-root without -d) */
  uid?: number;
  gid?: number;
  systemGroupsUser?: string;
  /** the userdb's `mail` field, overriding mail_location */
  mail?: string;
  /** every other userdb field */
  fields: Map<string, string>;
}

export interface LdaUserContext {
  settings: Settings;
  hostname: string;
  env: NodeJS.ProcessEnv;
  euid: number;
}

export async function resolveLdaUser(destinationUser: string | undefined, context: LdaUserContext): Promise<MailUser> {
  if (destinationUser !== undefined) return lookupDestinationUser(destinationUser, context);
  if (context.euid === 0) throw new DeliveryFailure('usage', 'destination user parameter (-d user) not given');
  const { USER: envUser, HOME: envHome } = context.env;
  if (envUser !== undefined && envUser !== '' && envHome !== undefined && envHome !== '') {
    return { username: envUser, home: envHome, fields: new Map() };
  }
  const entry = await getpwuid(context.euid);
  if (entry === null) {
    if (envUser === undefined || envUser === '') {
      throw new DeliveryFailure('usage', `Couldn't lookup our username (uid=${context.euid})`);
    }
    return { username: envUser, home: envHome ?? '', fields: new Map() };
  }
  return { username: entry.name, home: envHome || entry.home, fields: new Map() };
}

async function lookupDestinationUser(name: string, context: LdaUserContext): Promise<MailUser> {
  const user = await lookupMailUser(name, context.settings, context.hostname, 'lda');
  if (user === null) throw new DeliveryFailure('no-such-user', `User doesn't exist: ${name}`);
  return user;
}

/**
 * The userdb's answer for `name` (auth_username_format applied) as a
 * MailUser, uid/gid falling back to mail_uid/mail_gid; null when no userdb
 * knows the user. Throws a temporary DeliveryFailure when a lookup fails.
 * A server passes its caches so that SQL userdbs reuse connections.
 */
export async function lookupMailUser(
  name: string,
  settings: Settings,
  hostname: string,
  service: 'lda' | 'lmtp',
  caches?: ServerCaches,
): Promise<MailUser | null> {
  const record = await lookupUser(settings.userdbs, name, {
    service,
    hostname,
    authUsernameFormat: settings.auth_username_format,
    authUsernameChars: settings.raw.get('auth_username_chars'),
    ...(caches && { caches }),
  });
  if (record === null) return null;
  return {
    username: record.username,
    home: record.home ?? '',
    uid: record.uid ?? (await settingId(settings.mail_uid, 'mail_uid')),
    gid: record.gid ?? (await settingId(settings.mail_gid, 'mail_gid')),
    systemGroupsUser: record.systemGroupsUser,
    mail: record.mail,
    fields: record.fields,
  };
}

/** mail_uid / mail_gid: a number or an account name; "" = unset. */
async function settingId(value: string, key: 'mail_uid' | 'mail_gid'): Promise<number | undefined> {
  if (value === '') return undefined;
  const id = key === 'mail_uid' ? await uidOf(value) : await gidOf(value);
  if (id === null) throw temporary(`${key}: unknown ${key === 'mail_uid' ? 'user' : 'group'} ${value}`);
  return id;
}
