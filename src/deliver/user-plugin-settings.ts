// Plugin settings as one user sees them, the way Dovecot's mail-user.c serves
// mail_user_plugin_getenv(): a userdb field of the same name (`userdb_sieve=`
// in a passwd-file arrives as field `sieve`) overrides the plugin {} value,
// and the value is %-expanded with the user's variables. mail_plugins may be
// overridden the same way. Used for Sieve here, for quota later.

import { existsSync } from 'node:fs';
import type { Settings } from '../config/types.js';
import { expandVariables, userVariables } from '../config/var-expand.js';
import { sieveSettings, SieveSettingsError, type SieveSettings } from '../sieve/settings.js';
import type { MailUser } from './lda-user.js';
import { temporary } from './failure.js';

export const DEFAULT_SENDMAIL_PATH = '/usr/sbin/sendmail';

export interface UserPluginSettings {
  /** a plugin setting after userdb override and %-expansion; undefined when unset */
  get(key: string): string | undefined;
  /** mail_plugins, after a userdb override */
  mailPlugins: string;
}

export function userPluginSettings(settings: Settings, user: MailUser, home: string, hostname: string): UserPluginSettings {
  const variables = userVariables({ user: user.username, home, service: 'lda', uid: user.uid, gid: user.gid, hostname, pid: process.pid });
  return {
    get: (key) => {
      const value = user.fields.get(key) ?? settings.plugin.get(key);
      return value === undefined ? undefined : expandVariables(value, variables);
    },
    mailPlugins: user.fields.get('mail_plugins') ?? settings.raw.get('mail_plugins') ?? '',
  };
}

/** The user's Sieve settings; a malformed one is a temporary failure (the administrator must fix it). */
export function sieveSettingsFor(settings: Settings, user: MailUser, home: string, hostname: string): SieveSettings {
  const plugin = userPluginSettings(settings, user, home, hostname);
  try {
    return sieveSettings({ plugin: plugin.get, mailPlugins: plugin.mailPlugins, home });
  } catch (error) {
    if (error instanceof SieveSettingsError) throw temporary(error.message);
    throw error;
  }
}

/**
 * Whether any of the user's Sieve scripts exists (personal, default, before,
 * after, discard): when none does, the delivery goes on without loading the
 * Sieve code at all, as cheap as a delivery without the plugin.
 */
export function hasSieveScripts(sieve: SieveSettings): boolean {
  const paths = [
    sieve.personal?.activePath,
    sieve.defaultScript,
    sieve.discardScript,
    ...sieve.before.map((location) => location.path),
    ...sieve.after.map((location) => location.path),
  ];
  return paths.some((path) => path !== undefined && existsSync(path));
}
