// sieveSettings: Pigeonhole's plugin settings for one user, with the defaults
// of the Pigeonhole 0.5 configuration manual (configuration.rst,
// extensions/vacation.rst) and the parsing that Pigeonhole 0.5.19's
// dovecot-lda and sieve-test were seen to do with the same values.

import { describe, it, expect } from 'vitest';
import { sieveSettings, parseLocation, expandHome, SieveSettingsError, type SieveSettings } from '../../src/sieve/settings.js';
import { DEFAULT_ENABLED_EXTENSIONS } from '../../src/sieve/extensions.js';
import { thrown } from '../helpers/thrown.js';

const HOME = '/home/ann';
const DAY = 86400;

function settingsOf(plugin: Record<string, string>, { mailPlugins = 'sieve', home = HOME } = {}): SieveSettings {
  const values = new Map(Object.entries(plugin));
  return sieveSettings({ plugin: (key) => values.get(key), mailPlugins, home });
}

function settingsError(plugin: Record<string, string>): string {
  return thrown(SieveSettingsError, () => settingsOf(plugin)).message;
}

describe('defaults', () => {
  it('are those of the Pigeonhole 0.5 manual when nothing is set', () => {
    expect(settingsOf({})).toEqual({
      enabled: true,
      // sieve = file:~/sieve;active=~/.dovecot.sieve
      personal: { activePath: `${HOME}/.dovecot.sieve`, scriptDirectory: `${HOME}/sieve` },
      defaultScript: undefined,
      discardScript: undefined,
      before: [],
      after: [],
      globalDirectory: undefined,
      extensions: new Set(DEFAULT_ENABLED_EXTENSIONS),
      globalExtensions: new Set(),
      maxScriptSize: 1024 * 1024, // 1M
      maxActions: 32,
      maxRedirects: 4,
      redirectEnvelopeFrom: 'sender',
      vacationMinPeriodSeconds: DAY, // 1d
      vacationDefaultPeriodSeconds: 7 * DAY, // 7d
      vacationMaxPeriodSeconds: 0, // no upper limit
      userLogPath: `${HOME}/.dovecot.sieve.log`,
      userEmail: undefined,
      vacation: {
        useOriginalRecipient: false,
        dontCheckRecipient: false,
        sendFromRecipient: false,
        toHeaderIgnoreEnvelope: false,
        defaultSubject: '',
        defaultSubjectTemplate: '',
        userEmail: undefined,
      },
    });
  });

  it('leave vacation-seconds off (Pigeonhole: it must be enabled explicitly)', () => {
    const { extensions } = settingsOf({});
    expect(extensions.has('vacation-seconds')).toBe(false);
    expect(extensions.has('vacation')).toBe(true);
  });

  it.each([
    ['empty values count as unset', ''],
    ['blank values count as unset', '  '],
  ])('%s', (_name, value) => {
    const blank = settingsOf(
      Object.fromEntries(
        ['sieve_max_script_size', 'sieve_max_actions', 'sieve_max_redirects', 'sieve_vacation_min_period', 'sieve_vacation_default_period', 'sieve_vacation_max_period', 'sieve_redirect_envelope_from', 'sieve_vacation_send_from_recipient'].map((key) => [key, value]),
      ),
    );
    const defaults = settingsOf({});
    expect(blank).toEqual(defaults);
  });
});

describe('enabled', () => {
  it.each([
    ['sieve', undefined, true],
    ['', undefined, false],
    ['quota sieve', undefined, true],
    ['quota,sieve', undefined, true],
    ['  sieve  quota ', undefined, true],
    ['imap_sieve', undefined, false],
    ['sieve_extprograms', undefined, false],
    ['sieve', 'no', false],
    ['sieve', 'NO', false],
    ['sieve', 'yes', true],
    ['', 'yes', false],
  ])('mail_plugins=%j sieve_enabled=%j → %s', (mailPlugins, sieveEnabled, expected) => {
    expect(settingsOf(sieveEnabled === undefined ? {} : { sieve_enabled: sieveEnabled }, { mailPlugins }).enabled).toBe(expected);
  });
});

describe('sieve: the personal script storage', () => {
  it.each([
    ['the documented form', { sieve: 'file:~/sieve;active=~/.dovecot.sieve' }, `${HOME}/.dovecot.sieve`, `${HOME}/sieve`],
    ['absolute paths', { sieve: 'file:/var/sieve/ann;active=/var/sieve/ann.active' }, '/var/sieve/ann.active', '/var/sieve/ann'],
    ['active= among other options', { sieve: 'file:~/sieve;bindir=~/.sieve-bin;active=~/.dovecot.sieve' }, `${HOME}/.dovecot.sieve`, `${HOME}/sieve`],
    ['surrounding blanks', { sieve: '  file:~/sieve;active=~/.dovecot.sieve  ' }, `${HOME}/.dovecot.sieve`, `${HOME}/sieve`],
    ['file: naming the script itself', { sieve: 'file:~/scripts/main.sieve' }, `${HOME}/scripts/main.sieve`, `${HOME}/scripts`],
    ['file: naming a script at the root', { sieve: 'file:/main.sieve' }, '/main.sieve', '/'],
    // Pigeonhole 0.5.19's legacy form: includes come from sieve_dir, else ~/sieve (seen with dovecot-lda).
    ['a plain path (legacy): includes from ~/sieve', { sieve: '~/.dovecot.sieve' }, `${HOME}/.dovecot.sieve`, `${HOME}/sieve`],
    ['a plain path (legacy) with sieve_dir', { sieve: '/var/sieve/ann.sieve', sieve_dir: '/var/sieve/ann' }, '/var/sieve/ann.sieve', '/var/sieve/ann'],
    ['unset, with the legacy sieve_dir', { sieve_dir: '~/scripts' }, `${HOME}/.dovecot.sieve`, `${HOME}/scripts`],
    ['active= wins over sieve_dir', { sieve: 'file:~/sieve;active=~/.dovecot.sieve', sieve_dir: '~/other' }, `${HOME}/.dovecot.sieve`, `${HOME}/sieve`],
  ])('%s', (_name, plugin, activePath, scriptDirectory) => {
    expect(settingsOf(plugin).personal).toMatchObject({ activePath, scriptDirectory });
  });

  it('file: without active= also says what applies when the path is a directory (the storage)', () => {
    expect(settingsOf({ sieve: 'file:~/sieve' }).personal).toEqual({
      activePath: `${HOME}/sieve`,
      scriptDirectory: HOME,
      asDirectory: { activePath: `${HOME}/.dovecot.sieve`, scriptDirectory: `${HOME}/sieve` },
    });
    expect(settingsOf({ sieve: 'file:~/sieve;active=~/.dovecot.sieve' }).personal).not.toHaveProperty('asDirectory');
  });

  it.each([[''], ['   ']])('%j disables the personal script', (value) => {
    const settings = settingsOf({ sieve: value });
    expect(settings.personal).toBeUndefined();
    expect(settings.enabled).toBe(true);
  });

  it.each([
    ['sieve', 'ldap:/etc/dovecot/sieve-ldap.conf', 'ldap'],
    ['sieve', 'dict:proxy::sieve;name=active', 'dict'],
    ['sieve_before', 'dict:file:/etc/sieve.dict', 'dict'],
    ['sieve_after2', 'ldap:/etc/ldap.conf', 'ldap'],
    ['sieve_default', 'ldap:/etc/ldap.conf', 'ldap'],
    ['sieve_global', 'dict:proxy::global', 'dict'],
  ])('%s = %s is an error (only file: storage)', (key, value, type) => {
    const plugin: Record<string, string> = { [key]: value };
    if (key === 'sieve_after2') plugin.sieve_after = '/etc/after.sieve';
    expect(settingsError(plugin)).toBe(`Sieve storage type '${type}' is not supported (only file:)`);
  });

  it('expands ~ with an empty home to the root, as a user without home gets it', () => {
    expect(settingsOf({}, { home: '' }).personal).toEqual({ activePath: '/.dovecot.sieve', scriptDirectory: '/sieve' });
  });
});

describe('parseLocation and expandHome', () => {
  it.each([
    ['/a/b.sieve', { type: undefined, path: '/a/b.sieve', options: [] }],
    ['file:/a/b', { type: 'file', path: '/a/b', options: [] }],
    ['file:~/sieve;active=~/.dovecot.sieve;bindir=/x', { type: 'file', path: '~/sieve', options: [['active', '~/.dovecot.sieve'], ['bindir', '/x']] }],
    ['/a;flag', { type: undefined, path: '/a', options: [['flag', '']] }],
    ['file:/a;name=x=y', { type: 'file', path: '/a', options: [['name', 'x=y']] }],
  ])('%j', (value, expected) => {
    const location = parseLocation(value)!;
    expect({ type: location.type, path: location.path, options: [...location.options] }).toEqual(expected);
  });

  it.each([
    ['~', '/home/ann', '/home/ann'],
    ['~/x', '/home/ann', '/home/ann/x'],
    ['~/x', '/home/ann/', '/home/ann/x'],
    ['~x/y', '/home/ann', '~x/y'],
    ['/abs/~/x', '/home/ann', '/abs/~/x'],
    ['rel/x', '/home/ann', 'rel/x'],
  ])('expandHome(%j, %j) = %j', (path, home, expected) => {
    expect(expandHome(path, home)).toBe(expected);
  });
});

describe('sieve_before / sieve_after: numbered, up to the first gap', () => {
  it.each([
    ['none', {}, []],
    ['one', { sieve_before: '/etc/sieve/b.sieve' }, ['sieve_before:/etc/sieve/b.sieve']],
    [
      'three in a row',
      { sieve_before: '/b1.sieve', sieve_before2: 'file:/b2.d', sieve_before3: '~/b3.sieve;name=three' },
      ['sieve_before:/b1.sieve', 'sieve_before2:/b2.d', `sieve_before3:${HOME}/b3.sieve`],
    ],
    ['a gap at 2 hides 3', { sieve_before: '/b1.sieve', sieve_before3: '/b3.sieve' }, ['sieve_before:/b1.sieve']],
    ['without the first, nothing', { sieve_before2: '/b2.sieve', sieve_before3: '/b3.sieve' }, []],
    ['an empty one is a gap', { sieve_before: '/b1.sieve', sieve_before2: '', sieve_before3: '/b3.sieve' }, ['sieve_before:/b1.sieve']],
    ['an empty first one: nothing', { sieve_before: '', sieve_before2: '/b2.sieve' }, []],
    ['sieve_before1 is not a name', { sieve_before1: '/b1.sieve' }, []],
  ])('%s', (_name, plugin, expected) => {
    const before = settingsOf(plugin).before;
    expect(before.map(({ setting, path }) => `${setting}:${path}`)).toEqual(expected);
    const after = settingsOf(Object.fromEntries(Object.entries(plugin).map(([key, value]) => [key.replace('before', 'after'), value]))).after;
    expect(after.map(({ setting, path }) => `${setting}:${path}`)).toEqual(expected.map((entry) => entry.replaceAll('before', 'after')));
  });

  it('before and after do not mix', () => {
    const settings = settingsOf({ sieve_before: '/b.sieve', sieve_after: '/a.sieve' });
    expect(settings.before).toEqual([{ setting: 'sieve_before', path: '/b.sieve' }]);
    expect(settings.after).toEqual([{ setting: 'sieve_after', path: '/a.sieve' }]);
  });
});

describe('single script locations', () => {
  it.each([
    ['sieve_default', { sieve_default: 'file:/var/lib/dovecot/default.sieve' }, 'defaultScript', '/var/lib/dovecot/default.sieve'],
    // Pigeonhole 0.5.19 still runs the script of the deprecated name (seen with dovecot-lda).
    ['sieve_global_path (old name of sieve_default)', { sieve_global_path: '/var/lib/dovecot/default.sieve' }, 'defaultScript', '/var/lib/dovecot/default.sieve'],
    ['sieve_default wins over sieve_global_path', { sieve_default: '/new.sieve', sieve_global_path: '/old.sieve' }, 'defaultScript', '/new.sieve'],
    ['sieve_discard', { sieve_discard: '~/discard.sieve' }, 'discardScript', `${HOME}/discard.sieve`],
    ['sieve_global', { sieve_global: '/var/lib/dovecot/sieve/global/' }, 'globalDirectory', '/var/lib/dovecot/sieve/global/'],
    ['sieve_global_dir (old name)', { sieve_global_dir: 'file:/g' }, 'globalDirectory', '/g'],
    ['sieve_global wins over sieve_global_dir', { sieve_global: '/new', sieve_global_dir: '/old' }, 'globalDirectory', '/new'],
  ] as const)('%s', (_name, plugin, field, expected) => {
    expect(settingsOf(plugin)[field]).toBe(expected);
  });
});

describe('sieve_extensions and sieve_global_extensions', () => {
  const defaults = [...DEFAULT_ENABLED_EXTENSIONS];
  const without = (...names: string[]) => defaults.filter((name) => !names.includes(name));

  it.each([
    ['+ adds to the defaults', { sieve_extensions: '+vacation-seconds' }, [...defaults, 'vacation-seconds'], []],
    ['- removes from the defaults', { sieve_extensions: '-fileinto -reject' }, without('fileinto', 'reject'), []],
    ['both at once', { sieve_extensions: '+vacation-seconds -regex' }, [...without('regex'), 'vacation-seconds'], []],
    ['bare words replace the set', { sieve_extensions: 'fileinto  reject' }, ['fileinto', 'reject'], []],
    ['unknown names are ignored', { sieve_extensions: '+nonsense -alsononsense' }, defaults, []],
    ['global ones only for global scripts', { sieve_global_extensions: '+vacation-seconds' }, defaults, ['vacation-seconds']],
    ['global bare words', { sieve_global_extensions: 'vacation-seconds' }, defaults, ['vacation-seconds']],
    // Pigeonhole 0.5.19: "its use is restricted to global scripts", whatever sieve_extensions says.
    ['global wins over sieve_extensions', { sieve_extensions: '+vacation-seconds', sieve_global_extensions: '+vacation-seconds' }, defaults, ['vacation-seconds']],
    ['a default one made global leaves the personal set', { sieve_global_extensions: 'fileinto' }, without('fileinto'), ['fileinto']],
  ])('%s', (_name, plugin, personal, global) => {
    const settings = settingsOf(plugin);
    expect([...settings.extensions].sort()).toEqual([...personal].sort());
    expect([...settings.globalExtensions].sort()).toEqual([...global].sort());
  });
});

describe('sizes, counts and durations', () => {
  it.each([
    ['0', 0],
    ['100', 100],
    ['100B', 100],
    ['2k', 2048],
    ['2K', 2048],
    ['2KB', 2048],
    ['2kb', 2048],
    ['1M', 1024 * 1024],
    ['3m', 3 * 1024 * 1024],
    ['1G', 1024 ** 3],
    ['1T', 1024 ** 4],
    ['  64k  ', 64 * 1024],
  ])('sieve_max_script_size = %j → %i bytes', (value, bytes) => {
    expect(settingsOf({ sieve_max_script_size: value }).maxScriptSize).toBe(bytes);
  });

  it.each([['abc'], ['10X'], ['-1'], ['1.5M'], ['k'], ['1 MiB']])('sieve_max_script_size = %j is an error', (value) => {
    expect(settingsError({ sieve_max_script_size: value })).toBe(`Invalid size value for setting 'sieve_max_script_size': '${value}'`);
  });

  it.each([
    ['sieve_max_actions', '0', 'maxActions', 0],
    ['sieve_max_actions', '100', 'maxActions', 100],
    ['sieve_max_redirects', '0', 'maxRedirects', 0],
    ['sieve_max_redirects', ' 12 ', 'maxRedirects', 12],
  ] as const)('%s = %j → %i', (key, value, field, expected) => {
    expect(settingsOf({ [key]: value })[field]).toBe(expected);
  });

  it.each([
    ['sieve_max_actions', '3x'],
    ['sieve_max_actions', '-1'],
    ['sieve_max_redirects', 'four'],
    ['sieve_max_redirects', '1k'],
  ])('%s = %j is an error', (key, value) => {
    expect(settingsError({ [key]: value })).toBe(`Invalid numeric value for setting '${key}': '${value}'`);
  });

  // The units sieve-test 0.5.19 accepted for sieve_vacation_min_period (seen in its trace).
  it.each([
    ['10', 10],
    ['10s', 10],
    ['10S', 10],
    ['2m', 120],
    ['2M', 120],
    ['1h', 3600],
    ['1H', 3600],
    ['1d', DAY],
    ['1D', DAY],
    ['0', 0],
  ])('sieve_vacation_min_period = %j → %i s', (value, seconds) => {
    expect(settingsOf({ sieve_vacation_min_period: value }).vacationMinPeriodSeconds).toBe(seconds);
  });

  it.each([
    ['sieve_vacation_default_period', '14d', 'vacationDefaultPeriodSeconds', 14 * DAY],
    ['sieve_vacation_max_period', '30d', 'vacationMaxPeriodSeconds', 30 * DAY],
  ] as const)('%s = %j', (key, value, field, seconds) => {
    expect(settingsOf({ [key]: value })[field]).toBe(seconds);
  });

  it.each([['1w'], ['1y'], ['d'], ['-1d'], ['1.5h']])('sieve_vacation_min_period = %j is an error', (value) => {
    expect(settingsError({ sieve_vacation_min_period: value })).toBe(`Invalid duration value for setting 'sieve_vacation_min_period': '${value}'`);
  });
});

describe('vacation switches and addresses', () => {
  const switches = [
    ['sieve_vacation_use_original_recipient', 'useOriginalRecipient'],
    ['sieve_vacation_dont_check_recipient', 'dontCheckRecipient'],
    ['sieve_vacation_send_from_recipient', 'sendFromRecipient'],
    ['sieve_vacation_to_header_ignore_envelope', 'toHeaderIgnoreEnvelope'],
  ] as const;

  it.each(switches.flatMap(([key, field]) => [
    [key, 'yes', field, true],
    [key, 'YES', field, true],
    [key, ' Yes ', field, true],
    [key, 'no', field, false],
    [key, 'No', field, false],
  ]))('%s = %j', (key, value, field, expected) => {
    const { vacation } = settingsOf({ [key]: value });
    expect(vacation[field]).toBe(expected);
    // only that switch moves
    for (const [, other] of switches) if (other !== field) expect(vacation[other]).toBe(false);
  });

  it.each(switches.flatMap(([key]) => [[key, 'maybe'], [key, 'true'], [key, '1']]))('%s = %j is an error', (key, value) => {
    expect(settingsError({ [key]: value })).toBe(`Invalid boolean value for setting '${key}': '${value}'`);
  });

  it('passes the default subjects through verbatim', () => {
    const { vacation } = settingsOf({ sieve_vacation_default_subject: 'Away ', sieve_vacation_default_subject_template: 'Re: %{subject}' });
    expect(vacation).toMatchObject({ defaultSubject: 'Away ', defaultSubjectTemplate: 'Re: %{subject}' });
  });

  it.each([
    ['ann@example.org', 'ann@example.org'],
    ['  ann@example.org ', 'ann@example.org'],
    ['', undefined],
    ['   ', undefined],
  ])('sieve_user_email = %j → %j, for vacation too', (value, expected) => {
    const settings = settingsOf({ sieve_user_email: value });
    expect(settings.userEmail).toBe(expected);
    expect(settings.vacation.userEmail).toBe(expected);
  });

  it.each([
    ['recipient', 'recipient'],
    [' orig_recipient ', 'orig_recipient'],
    ['<bounces@example.org>', '<bounces@example.org>'],
    ['', 'sender'],
  ])('sieve_redirect_envelope_from = %j → %j', (value, expected) => {
    expect(settingsOf({ sieve_redirect_envelope_from: value }).redirectEnvelopeFrom).toBe(expected);
  });
});

describe('sieve_user_log', () => {
  it.each([
    ['default: the active script + .log', {}, `${HOME}/.dovecot.sieve.log`],
    ['a file storage: that script + .log', { sieve: '/var/sieve/ann.sieve' }, '/var/sieve/ann.sieve.log'],
    ['an active link: the link + .log', { sieve: 'file:~/sieve;active=~/active.sieve' }, `${HOME}/active.sieve.log`],
    ['set, with ~', { sieve_user_log: '~/logs/sieve.log' }, `${HOME}/logs/sieve.log`],
    ['set, absolute', { sieve_user_log: '/var/log/sieve/ann.log' }, '/var/log/sieve/ann.log'],
    ['set empty: the default', { sieve_user_log: '' }, `${HOME}/.dovecot.sieve.log`],
    ['no personal script: none', { sieve: '' }, undefined],
    ['no personal script but set', { sieve: '', sieve_user_log: '/var/log/ann.log' }, '/var/log/ann.log'],
  ])('%s', (_name, plugin, expected) => {
    expect(settingsOf(plugin).userLogPath).toBe(expected);
  });
});
