// Settings layering, checks and file choice. Error wordings and the -o rules
// were taken from dovecot-lda 2.3.19 and doveconf run on the same input.

import { describe, it, expect, afterEach } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { loadSettings, resolveSettings, parseBoolean, parseTimeInterval, valueProblem, DEFAULT_CONFIG_PATH, type Protocol } from '../../src/config/settings.js';
import { parseConfigFile } from '../../src/config/parse.js';
import type { Settings } from '../../src/config/types.js';
import { DeliveryFailure } from '../../src/deliver/failure.js';
import { memoryFs } from './memory-fs.js';
import { thrown } from '../helpers/thrown.js';

const CONF = '/etc/test/dovecot.conf';

function settingsFor(text: string, overrides: string[] = [], protocol: Protocol = 'lda', more: Record<string, string> = {}): Settings {
  const fs = memoryFs({ [CONF]: text, ...more });
  return resolveSettings(parseConfigFile(CONF, { fs }), protocol, overrides, fs);
}

const failureOf = (run: () => unknown): DeliveryFailure => thrown(DeliveryFailure, run);

describe('defaults', () => {
  it('fills every field when nothing is configured', () => {
    const settings = settingsFor('');
    expect(settings).toEqual({
      mail_location: '',
      mail_home: '',
      mail_uid: '',
      mail_gid: '',
      hostname: '',
      postmaster_address: 'postmaster@%{if;%d;ne;;%d;%{hostname}}',
      recipient_delimiter: '+',
      lda_mailbox_autocreate: false,
      lda_mailbox_autosubscribe: false,
      lda_original_recipient_header: '',
      first_valid_uid: 500,
      last_valid_uid: 0,
      mail_temp_dir: '/tmp',
      mail_fsync: 'optimized',
      log_path: 'syslog',
      info_log_path: '',
      deliver_log_format: 'msgid=%m: %$',
      auth_username_format: '%Lu',
      mbox_read_locks: 'fcntl',
      mbox_write_locks: 'dotlock fcntl',
      mbox_lock_timeout: 300,
      mbox_dotlock_change_timeout: 120,
      mail_max_lock_timeout: 0,
      dotlock_use_excl: true,
      mail_privileged_group: '',
      userdbs: [],
      namespaces: [
        { name: 'inbox', type: 'private', prefix: '', separator: '', inbox: true, location: '', hidden: false, list: 'yes', subscriptions: true, mailboxes: [] },
      ],
      plugin: new Map(),
      serviceExecutables: new Map(),
      raw: new Map(),
    });
  });
});

describe('layering: top level, then protocol sections, then -o', () => {
  const config = [
    'mail_location = maildir:~/global',
    'protocol lda {',
    '  mail_location = maildir:~/lda',
    '  plugin {',
    '    sieve = ~/lda.sieve',
    '  }',
    '}',
    'protocol lmtp {',
    '  mail_location = maildir:~/lmtp',
    '}',
    'protocol !lda {',
    '  postmaster_address = not-lda@example.org',
    '}',
    'protocol imap {',
    '  mail_location = maildir:~/imap',
    '}',
    'local 127.0.0.1 {',
    '  mail_location = maildir:~/local',
    '}',
    'mail_location = maildir:~/later', // a later global line does not beat the filter (doveconf warns)
    'plugin {',
    '  sieve = ~/global.sieve',
    '  sieve_dir = ~/sieve',
    '}',
  ].join('\n');

  it.each([
    ['lda', [], 'maildir:~/lda', 'postmaster@%{if;%d;ne;;%d;%{hostname}}', '~/lda.sieve'],
    ['lmtp', [], 'maildir:~/lmtp', 'not-lda@example.org', '~/global.sieve'],
    ['lda', ['mail_location=maildir:~/o', 'plugin/sieve=~/o.sieve'], 'maildir:~/o', 'postmaster@%{if;%d;ne;;%d;%{hostname}}', '~/o.sieve'],
  ] as const)('%s %j', (protocol, overrides, location, postmaster, sieve) => {
    const settings = settingsFor(config, [...overrides], protocol);
    expect(settings.mail_location).toBe(location);
    expect(settings.raw.get('mail_location')).toBe(location);
    expect(settings.postmaster_address).toBe(postmaster);
    expect(settings.plugin.get('sieve')).toBe(sieve);
    expect(settings.plugin.get('sieve_dir')).toBe('~/sieve');
  });

  it('applies -o in order, keeping values as given (no trimming, no $ expansion)', () => {
    const settings = settingsFor('', ['first_valid_uid=100', 'first_valid_uid=200', 'mail_home= /home/%u ', 'unknown_setting=$x', 'hostname=a=b']);
    expect(settings.first_valid_uid).toBe(200);
    expect(settings.mail_home).toBe(' /home/%u ');
    expect(settings.raw.get('unknown_setting')).toBe('$x');
    expect(settings.hostname).toBe('a=b');
  });

  it('keeps settings it does not know in raw, without complaint', () => {
    const settings = settingsFor('foo = bar\nservice foo {\n  unix_listener x {\n  }\n}\ndict {\n  a = b\n}\n');
    expect(settings.raw).toEqual(new Map([['foo', 'bar']]));
  });
});

describe('typed values', () => {
  it.each([
    ['yes', true],
    ['Yes', true],
    ['YES', true],
    ['y', true],
    ['Y', true],
    ['1', true],
    ['no', false],
    ['NO', false],
    ['n', undefined],
    ['0', undefined],
    ['true', undefined],
    ['off', undefined],
    ['', undefined],
  ])('boolean %j', (value, expected) => {
    expect(parseBoolean(value)).toBe(expected);
  });

  it.each([
    ['10', 'number', undefined],
    ['010', 'number', undefined],
    ['4294967295', 'number', undefined],
    ['4294967296', 'number', 'Invalid number 4294967296: Number too large'],
    ['-1', 'number', 'Invalid number -1: Number too small'],
    ['0x10', 'number', 'Invalid number 0x10: Not a valid number'],
    ['10k', 'number', 'Invalid number 10k: Not a valid number'],
    ['', 'number', 'Invalid number : Not a valid number'],
    ['maybe', 'boolean', 'Invalid boolean value: maybe (use yes or no)'],
    ['always', ['optimized', 'always', 'never'], undefined],
    ['Always', ['optimized', 'always', 'never'], 'Invalid value: Always'],
    ['5 mins', 'time', undefined],
    ['0', 'time', undefined],
    ['2', 'time', "Time interval '2' is missing units (add e.g. 's' for seconds)"],
    ['5x', 'time', 'Invalid time interval: 5x'],
    ['1h30m', 'time', 'Invalid time interval: 1h30m'],
    ['2hr', 'time', 'Invalid time interval: 2hr'],
    ['500ms', 'time', 'Milliseconds not supported for this setting: 500ms'],
    ['5msecs', 'time', 'Milliseconds not supported for this setting: 5msecs'],
  ] as const)('%j as %j', (value, type, problem) => {
    expect(valueProblem(value, type)).toBe(problem);
  });

  // each value checked against dovecot-lda 2.3.19 (-o mbox_lock_timeout=...)
  it.each([
    ['0', 0],
    ['4S', 4],
    ['10seco', 10],
    ['3M', 180],
    ['3minu', 180],
    ['5 mins', 300],
    ['1 hour', 3600],
    ['2d', 172800],
    ['1w', 604800],
  ])('time %j is %d seconds', (value, seconds) => {
    expect(parseTimeInterval(value)).toEqual({ seconds });
  });

  it('reads the mbox lock settings from the file and -o', () => {
    const settings = settingsFor('mbox_lock_timeout = 10 secs\ndotlock_use_excl = no\n', ['mail_privileged_group=mail', 'mbox_dotlock_change_timeout=1m']);
    expect(settings).toMatchObject({ mbox_lock_timeout: 10, dotlock_use_excl: false, mail_privileged_group: 'mail', mbox_dotlock_change_timeout: 60 });
  });

  it('converts the typed fields', () => {
    const settings = settingsFor('lda_mailbox_autocreate = y\nlda_mailbox_autosubscribe = 1\nfirst_valid_uid = 010\nlast_valid_uid = 4294967295\nmail_fsync = never\n');
    expect(settings).toMatchObject({
      lda_mailbox_autocreate: true,
      lda_mailbox_autosubscribe: true,
      first_valid_uid: 10,
      last_valid_uid: 4294967295,
      mail_fsync: 'never',
    });
  });

  it.each([
    ['lda_mailbox_autocreate = maybe\n', `${CONF} line 1: Invalid boolean value: maybe (use yes or no)`],
    ['first_valid_uid = abc\nfirst_valid_uid = 5\n', `${CONF} line 1: Invalid number abc: Not a valid number`],
    ['mail_fsync = bogus\n', `${CONF} line 1: Invalid value: bogus`],
    ['protocol imap {\n  mail_fsync = bogus\n}\n', `${CONF} line 2: Invalid value: bogus`],
    ['local 1.2.3.4 {\n  protocol pop3 {\n    quota_full_tempfail = maybe\n  }\n}\n', `${CONF} line 3: Invalid boolean value: maybe (use yes or no)`],
    ['namespace inbox {\n  type = bogus\n}\n', `${CONF} line 2: Invalid value: bogus`],
    ['namespace inbox {\n  list = bogus\n}\n', `${CONF} line 2: Invalid value: bogus`],
    ['namespace inbox {\n  inbox = bogus\n}\n', `${CONF} line 2: Invalid boolean value: bogus (use yes or no)`],
    ['namespace inbox {\n  mailbox x {\n    auto = bogus\n  }\n}\n', `${CONF} line 3: Invalid value: bogus`],
  ])('%j fails with file:line', (text, where) => {
    const failure = failureOf(() => settingsFor(text));
    expect(failure.kind).toBe('temporary');
    expect(failure.message).toBe(`Error in configuration file ${where}`);
  });
});

describe('-o parameters', () => {
  const config = 'namespace inbox {\n  inbox = yes\n  separator = /\n  mailbox Trash {\n    special_use = \\Trash\n  }\n}\n';

  it('sets namespace and mailbox fields of namespaces the config has, and ignores the others', () => {
    const settings = settingsFor(config, [
      'namespace/inbox/prefix=INBOX/',
      'namespace/inbox/hidden=yes',
      'namespace/inbox/mailbox/Trash/auto=subscribe',
      'namespace/inbox/mailbox/Junk/auto=create',
      'namespace/other/prefix=X/',
    ]);
    expect(settings.namespaces).toEqual([
      {
        name: 'inbox',
        type: 'private',
        prefix: 'INBOX/',
        separator: '/',
        inbox: true,
        location: '',
        hidden: true,
        list: 'yes',
        subscriptions: true,
        mailboxes: [{ name: 'Trash', auto: 'subscribe', specialUse: '\\Trash' }],
      },
    ]);
  });

  it.each([
    ['foo', "Invalid -o parameter foo: Missing '='"],
    ['=x', "Invalid -o parameter =x: Missing key name ('=' at the beginning of line)"],
    ['lda_mailbox_autocreate=maybe', 'Invalid -o parameter lda_mailbox_autocreate=maybe: Invalid boolean value: maybe (use yes or no)'],
    ['first_valid_uid=abc', 'Invalid -o parameter first_valid_uid=abc: Invalid number abc: Not a valid number'],
    ['namespace/inbox/type=bogus', 'Invalid -o parameter namespace/inbox/type=bogus: Invalid value: bogus'],
    ['namespace/nowhere/list=bogus', 'Invalid -o parameter namespace/nowhere/list=bogus: Invalid value: bogus'],
  ])('%j is a temporary failure, as dovecot-lda exits 75', (parameter, message) => {
    const failure = failureOf(() => settingsFor(config, [parameter]));
    expect(failure.kind).toBe('temporary');
    expect(failure.message).toBe(message);
  });
});

describe('namespaces', () => {
  it('merges blocks of the same name, keeps file order, drops disabled ones', () => {
    const settings = settingsFor(
      [
        'namespace inbox {',
        '  prefix = INBOX.',
        '  mailbox Sent {',
        '    auto = create',
        '  }',
        '}',
        'namespace shared {',
        '  type = shared',
        '  prefix = shared/%u/',
        '  location = maildir:%h/Maildir:INDEX=~/shared/%u',
        '  list = children',
        '  subscriptions = no',
        '}',
        'namespace old {',
        '  disabled = yes',
        '}',
        'namespace inbox {',
        '  separator = .',
        '  inbox = yes',
        '  mailbox Sent {',
        '    special_use = \\Sent',
        '  }',
        '}',
      ].join('\n'),
    );
    expect(settings.namespaces.map((namespace) => namespace.name)).toEqual(['inbox', 'shared']);
    expect(settings.namespaces[0]).toMatchObject({ prefix: 'INBOX.', separator: '.', inbox: true, mailboxes: [{ name: 'Sent', auto: 'create', specialUse: '\\Sent' }] });
    expect(settings.namespaces[1]).toMatchObject({
      type: 'shared',
      prefix: 'shared/%u/',
      location: 'maildir:%h/Maildir:INDEX=~/shared/%u',
      list: 'children',
      subscriptions: false,
      inbox: false,
    });
  });

  it('adds namespace blocks from the applying protocol section', () => {
    const settings = settingsFor('namespace inbox {\n  inbox = yes\n}\nprotocol lda {\n  namespace inbox {\n    prefix = LDA/\n  }\n}\n');
    expect(settings.namespaces).toMatchObject([{ name: 'inbox', inbox: true, prefix: 'LDA/' }]);
  });

  it('falls back to the implicit inbox namespace when every one is disabled', () => {
    expect(settingsFor('namespace x {\n  disabled = yes\n}\n').namespaces).toMatchObject([{ name: 'inbox', inbox: true }]);
  });
});

describe('userdb blocks', () => {
  it('reads every field, with Dovecot defaults, in file order', () => {
    const settings = settingsFor(
      [
        'userdb {',
        '  driver = passwd-file',
        '  args = username_format=%u /etc/dovecot/users',
        '  override_fields = uid=vmail gid=vmail',
        '  default_fields = home=/var/vmail/%d/%n',
        '  skip = found',
        '  result_success = continue-ok',
        '  result_failure = return-fail',
        '  result_internalfail = return',
        '}',
        'userdb {',
        '  driver = passwd',
        '}',
        'userdb passwd-file {', // 1.x form: in 2.3 the argument is only a name
        '  args = /etc/x',
        '}',
      ].join('\n'),
    );
    expect(settings.userdbs).toEqual([
      {
        driver: 'passwd-file',
        args: 'username_format=%u /etc/dovecot/users',
        overrideFields: 'uid=vmail gid=vmail',
        defaultFields: 'home=/var/vmail/%d/%n',
        skip: 'found',
        resultSuccess: 'continue-ok',
        resultFailure: 'return-fail',
        resultInternalfail: 'return',
        origin: `${CONF}:1`,
      },
      {
        driver: 'passwd',
        args: '',
        overrideFields: '',
        defaultFields: '',
        skip: 'never',
        resultSuccess: 'return-ok',
        resultFailure: 'continue',
        resultInternalfail: 'continue',
        origin: `${CONF}:11`,
      },
      expect.objectContaining({ driver: '', args: '/etc/x', origin: `${CONF}:14` }),
    ]);
  });
});

describe('key = <file', () => {
  it('reads the file for settings that are used, and checks what it holds', () => {
    const settings = settingsFor('postmaster_address = <pm\nplugin {\n  sieve = <sieve-path\n}\nfirst_valid_uid = <uid\n', [], 'lda', {
      '/etc/test/pm': 'pm@example.org',
      '/etc/test/sieve-path': '~/x.sieve',
      '/etc/test/uid': '1000',
    });
    expect(settings.postmaster_address).toBe('pm@example.org');
    expect(settings.plugin.get('sieve')).toBe('~/x.sieve');
    expect(settings.first_valid_uid).toBe(1000);
    const failure = failureOf(() => settingsFor('first_valid_uid = <uid\n', [], 'lda', { '/etc/test/uid': '1000\n' }));
    expect(failure.message).toBe(`Error in configuration file ${CONF} line 1: Invalid number 1000\n: Not a valid number`);
  });

  it('fails for a missing file behind a used setting, naming file:line', () => {
    const failure = failureOf(() => settingsFor('\npostmaster_address = </nonexistent\n'));
    expect(failure.message).toBe(`Error in configuration file ${CONF} line 2: postmaster_address: Can't open file /nonexistent: ENOENT: no such file or directory`);
  });

  it('does not read ssl_* files, which dovecot-lda never loads', () => {
    const settings = settingsFor('ssl_key = </etc/dovecot/private/dovecot.key\n');
    expect(settings.raw.get('ssl_key')).toBe('</etc/dovecot/private/dovecot.key');
  });

  it('does not read files in sections that do not apply', () => {
    expect(settingsFor('protocol imap {\n  mail_location = </nonexistent\n}\n').mail_location).toBe('');
  });
});

describe('loadSettings: which file', () => {
  const fs = memoryFs({ '/c.conf': 'mail_location = maildir:/c\n', '/default.conf': 'mail_location = maildir:/default\n' });

  it.each([
    [{ configPath: '/c.conf', defaultConfigPath: '/default.conf' }, 'maildir:/c'],
    [{ defaultConfigPath: '/default.conf' }, 'maildir:/default'],
    [{ defaultConfigPath: '/absent.conf' }, ''],
    [{ configPath: '/c.conf', skipConfig: true, defaultConfigPath: '/default.conf' }, ''],
    [{ skipConfig: true, defaultConfigPath: '/default.conf' }, ''],
  ])('%j', (choice, location) => {
    expect(loadSettings({ ...choice, protocol: 'lda', overrides: [], fs }).mail_location).toBe(location);
  });

  it('applies -o without any file', () => {
    expect(loadSettings({ skipConfig: true, protocol: 'lda', overrides: ['mail_location=maildir:/o'], fs }).mail_location).toBe('maildir:/o');
  });

  it('fails when the -c file is missing', () => {
    const failure = failureOf(() => loadSettings({ configPath: '/missing.conf', protocol: 'lda', overrides: [], fs }));
    expect(failure.message).toBe('Error reading configuration file /missing.conf: ENOENT: no such file or directory');
  });

  it('gives $name the built-in default of a typed setting', () => {
    const settings = loadSettings({ configPath: '/p.conf', protocol: 'lda', overrides: [], fs: memoryFs({ '/p.conf': 'deliver_log_format = $deliver_log_format size=%p\n' }) });
    expect(settings.deliver_log_format).toBe('msgid=%m: %$ size=%p');
  });

  it('$name in a second protocol lda {} block sees the first one\'s value, as doveconf merges them (mail_plugins = a sieve quota)', () => {
    const text = 'mail_plugins = a\nprotocol lda {\n  mail_plugins = $mail_plugins sieve\n}\nprotocol lmtp {\n  mail_plugins = $mail_plugins x\n}\nprotocol lda {\n  mail_plugins = $mail_plugins quota\n}\n';
    const settings = (protocol: 'lda' | 'lmtp') => loadSettings({ configPath: '/p.conf', protocol, overrides: [], fs: memoryFs({ '/p.conf': text }) });
    expect(settings('lda').raw.get('mail_plugins')).toBe('a sieve quota');
    expect(settings('lmtp').raw.get('mail_plugins')).toBe('a x');
  });

  it('knows each service { executable } by service name, the last one winning (quota warnings run them)', () => {
    const text = 'service quota-warning {\n  executable = script /bin/true\n  user = vmail\n}\nservice lmtp {\n}\nservice quota-warning {\n  executable = script /usr/local/bin/quota-warning.sh\n}\n';
    const settings = loadSettings({ configPath: '/p.conf', protocol: 'lda', overrides: [], fs: memoryFs({ '/p.conf': text }) });
    expect([...settings.serviceExecutables]).toEqual([['quota-warning', 'script /usr/local/bin/quota-warning.sh']]);
  });

  it('defaults to /etc/dovetail/dovetail.conf', () => {
    expect(DEFAULT_CONFIG_PATH).toBe('/etc/dovetail/dovetail.conf');
  });
});

// ---- against the real Dovecot installed here ----

const DOVECONF = ['/usr/bin/doveconf', '/usr/sbin/doveconf'].find((path) => existsSync(path));
const DEBIAN_CONFIG = '/etc/dovecot/dovecot.conf';

function doveconf(args: string[]): string {
  return execFileSync(DOVECONF!, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).replace(/\n$/, '');
}

describe.skipIf(!existsSync(DEBIAN_CONFIG))(`the installed ${DEBIAN_CONFIG} (skipped: no Dovecot config on this machine)`, () => {
  it('loads, with its conf.d includes and unreadable ssl key files', () => {
    const settings = loadSettings({ configPath: DEBIAN_CONFIG, protocol: 'lda', overrides: [] });
    expect(settings.namespaces.some((namespace) => namespace.inbox)).toBe(true);
    expect(settings.userdbs.length).toBeGreaterThan(0);
  });

  it.skipIf(DOVECONF === undefined)('agrees with doveconf -h', () => {
    const settings = loadSettings({ configPath: DEBIAN_CONFIG, protocol: 'lda', overrides: [] });
    const doveconfValue = (key: string) => doveconf(['-c', DEBIAN_CONFIG, '-h', key]);
    for (const key of ['mail_location', 'mail_privileged_group', 'auth_mechanisms', 'protocols']) {
      expect([key, settings.raw.get(key) ?? '']).toEqual([key, doveconfValue(key)]);
    }
    for (const namespace of settings.namespaces) {
      expect(namespace.prefix).toBe(doveconfValue(`namespace/${namespace.name}/prefix`));
      expect(namespace.inbox).toBe(doveconfValue(`namespace/${namespace.name}/inbox`) === 'yes');
    }
    for (const [key, value] of settings.plugin) expect(value).toBe(doveconfValue(`plugin/${key}`));
    expect(settings.userdbs[0].driver).toBe(doveconfValue('userdb/0/driver'));
  });
});

describe.skipIf(DOVECONF === undefined)('a tricky config read by Dovetail and by doveconf -x (skipped: no doveconf here)', () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  it('gives the same values', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dovetail-doveconf-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'postmaster'), 'pm@example.org\n');
    writeFileSync(join(dir, 'extra.conf'), 'mail_plugins = $mail_plugins zlib\n');
    writeFileSync(
      join(dir, 'dovecot.conf'),
      [
        'mail_plugins = quota',
        'mail_plugins = $mail_plugins acl # comment',
        '!include extra.conf',
        '!include_try missing.conf',
        'mail_location = "maildir:~/Mail box # not a comment"',
        "mail_home = '/home/\\'%u\\''",
        'mail_temp_dir = /var/tmp \\',
        '   /more',
        'recipient_delimiter = "+-"',
        'postmaster_address = <postmaster',
        'lda_original_recipient_header = X-Original-To#trailing',
        'deliver_log_format = msgid=%m: %$ "quoted" inside',
        'first_valid_uid = 1000',
        'protocol lda {',
        '  mail_plugins = $mail_plugins sieve',
        '  lda_mailbox_autocreate = Y',
        '}',
        'protocol lda {',
        '  mail_plugins = $mail_plugins notify',
        '}',
        'namespace inbox {',
        '  inbox = yes',
        '  separator = /',
        '  prefix = "INBOX/"',
        '  mailbox "Sent Items" {',
        '    special_use = \\Sent',
        '  }',
        '  mailbox Trash {',
        '    special_use = "\\\\Trash"',
        '  }',
        '}',
        'plugin {',
        '  sieve = file:~/sieve;active=~/.dovecot.sieve',
        '  quota_rule = *:storage=1G',
        '}',
        '',
      ].join('\n'),
    );
    const path = join(dir, 'dovecot.conf');
    const settings = loadSettings({ configPath: path, protocol: 'lda', overrides: [] });
    const reference = (key: string) => doveconf(['-c', path, '-x', '-f', 'protocol=lda', '-h', key]);
    const keys = [
      'mail_plugins',
      'mail_location',
      'mail_home',
      'mail_temp_dir',
      'recipient_delimiter',
      'lda_original_recipient_header',
      'deliver_log_format',
      'first_valid_uid',
    ];
    for (const key of keys) expect([key, settings.raw.get(key)]).toEqual([key, reference(key)]);
    expect(settings.postmaster_address).toBe(reference('postmaster_address')); // "pm@example.org\n": the file's newline stays
    expect(settings.lda_mailbox_autocreate).toBe(reference('lda_mailbox_autocreate') === 'yes');
    expect(settings.namespaces[0].prefix).toBe(reference('namespace/inbox/prefix'));
    expect(settings.namespaces[0].separator).toBe(reference('namespace/inbox/separator'));
    expect(settings.namespaces[0].mailboxes[1].specialUse).toBe(reference('namespace/inbox/mailbox/Trash/special_use'));
    // doveconf -h cannot name a mailbox with a space; -n shows it
    expect(settings.namespaces[0].mailboxes[0]).toMatchObject({ name: 'Sent Items', specialUse: '\\Sent' });
    expect(doveconf(['-c', path, '-n'])).toContain('mailbox "Sent Items" {\n    special_use = \\Sent\n');
    expect(settings.plugin.get('sieve')).toBe(reference('plugin/sieve'));
    expect(settings.plugin.get('quota_rule')).toBe(reference('plugin/quota_rule'));
  });
});
