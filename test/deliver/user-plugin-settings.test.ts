// userPluginSettings / sieveSettingsFor: plugin {} settings as one user sees
// them (mail_user_plugin_getenv): a userdb field of the same name wins, the
// value is %-expanded with the user's variables, mail_plugins may come from
// the userdb too; a malformed Sieve setting is a temporary failure.

import { describe, it, expect } from 'vitest';
import { loadSettings } from '../../src/config/settings.js';
import type { Settings } from '../../src/config/types.js';
import { DeliveryFailure } from '../../src/deliver/failure.js';
import type { MailUser } from '../../src/deliver/lda-user.js';
import { hasSieveScripts, sieveSettingsFor, userPluginSettings } from '../../src/deliver/user-plugin-settings.js';
import type { SieveSettings } from '../../src/sieve/settings.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { thrown } from '../helpers/thrown.js';

const HOME = '/srv/mail/example.org/ann';
const HOSTNAME = 'mx.example.org';

/** Settings as dovecot.conf's `plugin {}` (through -o plugin/KEY=VALUE) and top-level mail_plugins give them. */
function configured(plugin: Record<string, string>, mailPlugins?: string): Settings {
  const overrides = Object.entries(plugin).map(([key, value]) => `plugin/${key}=${value}`);
  if (mailPlugins !== undefined) overrides.push(`mail_plugins=${mailPlugins}`);
  return loadSettings({ skipConfig: true, protocol: 'lda', overrides });
}

function user(fields: Record<string, string> = {}): MailUser {
  return { username: 'ann@example.org', home: HOME, uid: 5000, gid: 5001, fields: new Map(Object.entries(fields)) };
}

describe('userPluginSettings().get', () => {
  it.each([
    ['from plugin {}', { sieve_user_log: '/var/log/sieve.log' }, {}, '/var/log/sieve.log'],
    ['a userdb field overrides plugin {}', { sieve_user_log: '/var/log/sieve.log' }, { sieve_user_log: '/var/log/ann.log' }, '/var/log/ann.log'],
    ['an empty userdb field overrides too', { sieve_user_log: '/var/log/sieve.log' }, { sieve_user_log: '' }, ''],
    ['a userdb field alone', {}, { sieve_user_log: '/var/log/ann.log' }, '/var/log/ann.log'],
    ['unset', {}, {}, undefined],
    ['another key of the userdb does not leak', { sieve_user_log: '/a' }, { sieve: '/b' }, '/a'],
  ])('%s', (_name, plugin, fields, expected) => {
    expect(userPluginSettings(configured(plugin), user(fields), HOME, HOSTNAME).get('sieve_user_log')).toBe(expected);
  });

  it.each([
    ['%u', 'ann@example.org'],
    ['%n', 'ann'],
    ['%d', 'example.org'],
    ['%h', HOME],
    ['%{home}/sieve', `${HOME}/sieve`],
    ['/var/sieve/%d/%n.sieve', '/var/sieve/example.org/ann.sieve'],
    ['%i:%{gid}', '5000:5001'],
    ['%{hostname}', HOSTNAME],
    ['%s', 'lda'],
    ['100%%', '100%'],
    ['~/.dovecot.sieve', '~/.dovecot.sieve'],
  ])('expands %j to %j, from plugin {} and from the userdb alike', (template, expected) => {
    expect(userPluginSettings(configured({ sieve: template }), user(), HOME, HOSTNAME).get('sieve')).toBe(expected);
    expect(userPluginSettings(configured({ sieve: '/other' }), user({ sieve: template }), HOME, HOSTNAME).get('sieve')).toBe(expected);
  });

  it('expands %h with the home it is given, not the userdb one', () => {
    expect(userPluginSettings(configured({ sieve: '%h/x' }), user(), '/elsewhere', HOSTNAME).get('sieve')).toBe('/elsewhere/x');
    expect(userPluginSettings(configured({ sieve: '%h/x' }), user(), '', HOSTNAME).get('sieve')).toBe('/x');
  });

  it('an unknown variable is a temporary failure', () => {
    const settings = userPluginSettings(configured({ sieve: '/var/%{nosuchvariable}' }), user(), HOME, HOSTNAME);
    const failure = thrown(DeliveryFailure, () => settings.get('sieve'));
    expect(failure.kind).toBe('temporary');
    expect(failure.message).toContain('/var/%{nosuchvariable}');
  });
});

describe('userPluginSettings().mailPlugins', () => {
  it.each([
    ['from dovecot.conf', 'quota sieve', {}, 'quota sieve'],
    ['the userdb overrides it', 'quota sieve', { mail_plugins: 'quota' }, 'quota'],
    ['an empty userdb value overrides it', 'sieve', { mail_plugins: '' }, ''],
    ['the userdb alone', undefined, { mail_plugins: 'sieve' }, 'sieve'],
    ['neither', undefined, {}, ''],
  ])('%s', (_name, configuredPlugins, fields, expected) => {
    expect(userPluginSettings(configured({}, configuredPlugins), user(fields), HOME, HOSTNAME).mailPlugins).toBe(expected);
  });
});

describe('sieveSettingsFor', () => {
  it('reads the Sieve settings through the overrides and expansion', () => {
    const settings = configured({ sieve: 'file:~/sieve;active=~/.dovecot.sieve', sieve_before: '/etc/sieve/%d.sieve', sieve_max_actions: '10' }, 'sieve');
    const sieve = sieveSettingsFor(settings, user({ sieve: 'file:%h/scripts;active=%h/active.sieve', sieve_max_actions: '5' }), HOME, HOSTNAME);
    expect(sieve).toMatchObject({
      enabled: true,
      personal: { activePath: `${HOME}/active.sieve`, scriptDirectory: `${HOME}/scripts` },
      before: [{ setting: 'sieve_before', path: '/etc/sieve/example.org.sieve' }],
      maxActions: 5,
      userLogPath: `${HOME}/active.sieve.log`,
    });
  });

  it.each([
    ['mail_plugins without sieve in the userdb', { mail_plugins: 'quota' }, false],
    ['sieve_enabled=no in the userdb', { sieve_enabled: 'no' }, false],
    ['nothing in the userdb', {}, true],
  ])('%s → enabled %s', (_name, fields, enabled) => {
    expect(sieveSettingsFor(configured({}, 'sieve'), user(fields), HOME, HOSTNAME).enabled).toBe(enabled);
  });

  it('an empty sieve in the userdb disables the personal script', () => {
    expect(sieveSettingsFor(configured({ sieve: '~/.dovecot.sieve' }, 'sieve'), user({ sieve: '' }), HOME, HOSTNAME).personal).toBeUndefined();
  });

  it.each([
    ['sieve_max_script_size', 'lots', "Invalid size value for setting 'sieve_max_script_size': 'lots'"],
    ['sieve', 'ldap:/etc/sieve-ldap.conf', "Sieve storage type 'ldap' is not supported (only file:)"],
    ['sieve_vacation_send_from_recipient', 'maybe', "Invalid boolean value for setting 'sieve_vacation_send_from_recipient': 'maybe'"],
  ])('a malformed %s (from the userdb) is a temporary failure', (key, value, message) => {
    const failure = thrown(DeliveryFailure, () => sieveSettingsFor(configured({}, 'sieve'), user({ [key]: value }), HOME, HOSTNAME));
    expect({ kind: failure.kind, message: failure.message }).toEqual({ kind: 'temporary', message });
  });
});

describe('hasSieveScripts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dovetail-has-sieve-'));
  const existing = join(dir, 'script.sieve');
  writeFileSync(existing, 'keep;\n');
  const missing = join(dir, 'missing.sieve');
  const none = { personal: undefined, defaultScript: undefined, discardScript: undefined, before: [], after: [] };
  const at = (path: string) => [{ setting: 'x', path }];

  it.each([
    ['nothing configured', {}, false],
    ['a personal script that does not exist', { personal: { activePath: missing, scriptDirectory: dir } }, false],
    ['a personal script', { personal: { activePath: existing, scriptDirectory: dir } }, true],
    ['sieve_default', { defaultScript: existing }, true],
    ['sieve_discard', { discardScript: existing }, true],
    ['a sieve_before directory', { before: at(dir) }, true],
    ['a missing sieve_after', { after: at(missing) }, false],
    ['a sieve_after script', { after: at(existing) }, true],
  ])('%s → %s', (_name, fields, expected) => {
    expect(hasSieveScripts({ ...none, ...fields } as unknown as SieveSettings)).toBe(expected);
  });
});
