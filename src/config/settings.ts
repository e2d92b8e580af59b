// Turns a parsed config tree into the typed Settings one delivery uses, the
// way Dovecot 2.3 layers them: top-level entries in file order, then the
// `protocol lda {}` (or lmtp) sections over them wherever they stand, then the
// -o overrides. Also picks the file: -c, else /etc/dovetail/dovetail.conf,
// else built-in defaults.
//
// Settings Dovetail does not know are kept in `raw` and never rejected (where
// Dovecot says "Unknown setting"). Known booleans, numbers and enums are
// checked everywhere they appear, even in sections that do not apply, as
// doveconf does. Fails with a temporary DeliveryFailure naming file:line
// ("Error in configuration file F line N: Invalid boolean value: maybe (use
// yes or no)") or the -o parameter ("Invalid -o parameter foo: Missing '='"),
// the way dovecot-lda fails (exit 75) for the same mistakes.

import type { MailFsync, NamespaceConfig, Settings, UserdbConfig } from './types.js';
import { parseConfigFile, readEntryValue, configError, nodeConfigFs, type ConfigEntry, type ConfigFs, type ConfigSection } from './parse.js';
import { temporary, type DeliveryFailure } from '../deliver/failure.js';

export const DEFAULT_CONFIG_PATH = '/etc/dovetail/dovetail.conf';

export type Protocol = 'lda' | 'lmtp';

/** Dovecot's defaults for the settings typed in Settings (lda-settings.c, mail-storage-settings.c, ...). */
const SETTING_DEFAULTS: Readonly<Record<string, string>> = {
  mail_location: '',
  mail_home: '',
  mail_uid: '',
  mail_gid: '',
  hostname: '',
  postmaster_address: 'postmaster@%{if;%d;ne;;%d;%{hostname}}',
  recipient_delimiter: '+',
  lda_mailbox_autocreate: 'no',
  lda_mailbox_autosubscribe: 'no',
  lda_original_recipient_header: '',
  first_valid_uid: '500',
  last_valid_uid: '0',
  mail_temp_dir: '/tmp',
  mail_fsync: 'optimized',
  log_path: 'syslog',
  info_log_path: '',
  deliver_log_format: 'msgid=%m: %$',
  auth_username_format: '%Lu',
  mbox_read_locks: 'fcntl',
  mbox_write_locks: 'dotlock fcntl',
  mbox_lock_timeout: '5 mins',
  mbox_dotlock_change_timeout: '2 mins',
  mail_max_lock_timeout: '0',
  dotlock_use_excl: 'yes',
  mail_privileged_group: '',
};

function settingDefault(name: string): string | undefined {
  return Object.hasOwn(SETTING_DEFAULTS, name) ? SETTING_DEFAULTS[name] : undefined;
}

type ValueType = 'boolean' | 'number' | 'time' | readonly string[];

/** Settings whose values Dovecot checks when it reads them; all others are free text. */
const SETTING_TYPES: Readonly<Record<string, ValueType>> = {
  lda_mailbox_autocreate: 'boolean',
  lda_mailbox_autosubscribe: 'boolean',
  quota_full_tempfail: 'boolean',
  mail_nfs_storage: 'boolean',
  mail_nfs_index: 'boolean',
  dotlock_use_excl: 'boolean',
  mail_save_crlf: 'boolean',
  first_valid_uid: 'number',
  last_valid_uid: 'number',
  mbox_lock_timeout: 'time',
  mbox_dotlock_change_timeout: 'time',
  mail_max_lock_timeout: 'time',
  mail_fsync: ['optimized', 'always', 'never'],
  lock_method: ['fcntl', 'flock', 'dotlock'],
};

const NAMESPACE_TYPES: Readonly<Record<string, ValueType>> = {
  type: ['private', 'shared', 'public'],
  list: ['yes', 'no', 'children'],
  inbox: 'boolean',
  hidden: 'boolean',
  subscriptions: 'boolean',
  disabled: 'boolean',
  ignore_on_failure: 'boolean',
  order: 'number',
};

const MAILBOX_TYPES: Readonly<Record<string, ValueType>> = {
  auto: ['no', 'create', 'subscribe'],
};

/** Sections whose entries are settings that apply to some connections only. */
const FILTER_SECTION_TYPES = new Set(['protocol', 'local', 'remote', 'local_name']);

/**
 * Settings whose `<file` value is not read: dovecot-lda never loads them, and
 * the Debian config points them at root-only (or not yet created) key files.
 * They stay in `raw` as doveconf -n prints them, "<path".
 */
const UNREAD_FILE_SETTING = /^ssl_/;

export interface LoadSettingsOptions {
  /** -c FILE */
  configPath?: string;
  /** -O: read no file at all, only defaults and -o */
  skipConfig?: boolean;
  protocol: Protocol;
  /** the -o "key=value" strings, in order */
  overrides: readonly string[];
  /** where to look when there is no -c; DEFAULT_CONFIG_PATH unless a test says otherwise */
  defaultConfigPath?: string;
  fs?: ConfigFs;
  /** for `$ENV:NAME` in the file */
  env?: Readonly<Record<string, string | undefined>>;
}

/** -c FILE if given; else the default file if it exists; else built-in defaults. */
export function loadSettings(options: LoadSettingsOptions): Settings {
  return loadSettingsWithTree(options).settings;
}

/** loadSettings, with the parsed tree the Settings came from (for sections Settings does not type, e.g. `service lmtp {}`). */
export function loadSettingsWithTree(options: LoadSettingsOptions): { settings: Settings; tree: ConfigSection } {
  const fs = options.fs ?? nodeConfigFs;
  const path = configFileToRead(options, fs);
  const tree =
    path === undefined
      ? emptyConfig()
      : parseConfigFile(path, { fs, env: options.env, defaultValue: settingDefault });
  return { settings: resolveSettings(tree, options.protocol, options.overrides, fs), tree };
}

function configFileToRead(options: LoadSettingsOptions, fs: ConfigFs): string | undefined {
  if (options.skipConfig) return undefined;
  if (options.configPath !== undefined) return options.configPath;
  const defaultPath = options.defaultConfigPath ?? DEFAULT_CONFIG_PATH;
  return fs.exists(defaultPath) ? defaultPath : undefined;
}

function emptyConfig(): ConfigSection {
  return { type: '', name: '', entries: [], sections: [], origin: 'built-in defaults' };
}

/** The effective settings for `protocol`: top level, then `protocol <protocol> {}`, then -o. */
export function resolveSettings(
  root: ConfigSection,
  protocol: Protocol,
  overrides: readonly string[],
  fs: ConfigFs = nodeConfigFs,
): Settings {
  checkSettingsScope(root);
  const parsedOverrides = overrides.map(parseOverride);
  const layers = [root, ...root.sections.filter((section) => appliesTo(section, protocol))];
  const raw = topLevelValues(layers, parsedOverrides, fs);
  const text = (key: string) => raw.get(key) ?? settingDefault(key) ?? '';
  return {
    mail_location: text('mail_location'),
    mail_home: text('mail_home'),
    mail_uid: text('mail_uid'),
    mail_gid: text('mail_gid'),
    hostname: text('hostname'),
    postmaster_address: text('postmaster_address'),
    recipient_delimiter: text('recipient_delimiter'),
    lda_mailbox_autocreate: parseBoolean(text('lda_mailbox_autocreate')) === true,
    lda_mailbox_autosubscribe: parseBoolean(text('lda_mailbox_autosubscribe')) === true,
    lda_original_recipient_header: text('lda_original_recipient_header'),
    first_valid_uid: Number(text('first_valid_uid')),
    last_valid_uid: Number(text('last_valid_uid')),
    mail_temp_dir: text('mail_temp_dir'),
    mail_fsync: text('mail_fsync') as MailFsync,
    log_path: text('log_path'),
    info_log_path: text('info_log_path'),
    deliver_log_format: text('deliver_log_format'),
    auth_username_format: text('auth_username_format'),
    mbox_read_locks: text('mbox_read_locks'),
    mbox_write_locks: text('mbox_write_locks'),
    mbox_lock_timeout: timeSeconds(text('mbox_lock_timeout')),
    mbox_dotlock_change_timeout: timeSeconds(text('mbox_dotlock_change_timeout')),
    mail_max_lock_timeout: timeSeconds(text('mail_max_lock_timeout')),
    dotlock_use_excl: parseBoolean(text('dotlock_use_excl')) === true,
    mail_privileged_group: text('mail_privileged_group'),
    userdbs: root.sections.filter((section) => section.type === 'userdb').map((section) => userdbConfig(section, fs)),
    namespaces: namespaceConfigs(layers, parsedOverrides, fs),
    plugin: pluginSettings(layers, parsedOverrides, fs),
    serviceExecutables: serviceExecutables(root),
    raw,
  };
}

/** `service NAME { executable = ... }` of the file, by service name (the last one wins). */
function serviceExecutables(root: ConfigSection): Map<string, string> {
  const executables = new Map<string, string>();
  for (const section of root.sections) {
    if (section.type !== 'service') continue;
    for (const entry of section.entries) if (entry.key === 'executable') executables.set(section.name, entry.value);
  }
  return executables;
}

/** `protocol lda {` applies to lda, `protocol !imap {` to everything but imap; local/remote never apply here. */
function appliesTo(section: ConfigSection, protocol: Protocol): boolean {
  if (section.type !== 'protocol') return false;
  return section.name.startsWith('!') ? section.name.slice(1) !== protocol : section.name === protocol;
}

// ---- values and their checks ----

/** Dovecot's get_bool(): yes, y, 1 (any case) or no. */
export function parseBoolean(value: string): boolean | undefined {
  const lower = value.toLowerCase();
  if (lower === 'yes' || lower === 'y' || value === '1') return true;
  if (lower === 'no') return false;
  return undefined;
}

/** Why `value` is not a valid `type`, in doveconf's words; undefined when it is valid. */
export function valueProblem(value: string, type: ValueType): string | undefined {
  if (type === 'boolean') return parseBoolean(value) === undefined ? `Invalid boolean value: ${value} (use yes or no)` : undefined;
  if (type === 'number') {
    if (/^-\d+$/.test(value)) return `Invalid number ${value}: Number too small`;
    if (!/^\d+$/.test(value)) return `Invalid number ${value}: Not a valid number`;
    return BigInt(value) > 0xffffffffn ? `Invalid number ${value}: Number too large` : undefined;
  }
  if (type === 'time') {
    const parsed = parseTimeInterval(value);
    return 'problem' in parsed ? parsed.problem : undefined;
  }
  return type.includes(value) ? undefined : `Invalid value: ${value}`;
}

/** Unit words of Dovecot time settings; any prefix of one names its unit ("5 mins", "10seco", "1 h"). */
const TIME_UNITS: readonly { words: readonly string[]; seconds: number }[] = [
  { words: ['seconds', 'secs'], seconds: 1 },
  { words: ['minutes', 'mins'], seconds: 60 },
  { words: ['hours'], seconds: 3600 },
  { words: ['days'], seconds: 86400 },
  { words: ['weeks'], seconds: 604800 },
];
const MILLISECOND_WORDS: readonly string[] = ['msecs', 'mseconds', 'milliseconds', 'millisecs'];

/**
 * A Dovecot 2.3 time setting in seconds: a number, optional spaces, a unit
 * ("0" alone is allowed). Milliseconds are refused, as for every setting
 * Dovetail reads. Problems worded as doveconf words them.
 */
export function parseTimeInterval(value: string): { seconds: number } | { problem: string } {
  const match = /^(\d+) *([A-Za-z]*)$/.exec(value);
  if (match === null) return { problem: `Invalid time interval: ${value}` };
  const amount = Number(match[1]);
  const unit = match[2]!.toLowerCase();
  if (unit === '') {
    return amount === 0 ? { seconds: 0 } : { problem: `Time interval '${value}' is missing units (add e.g. 's' for seconds)` };
  }
  const isPrefixOf = (word: string) => word.startsWith(unit);
  if (unit.length >= 2 && unit !== 'mi' && MILLISECOND_WORDS.some(isPrefixOf)) {
    return { problem: `Milliseconds not supported for this setting: ${value}` };
  }
  const named = TIME_UNITS.find(({ words }) => words.some(isPrefixOf));
  return named === undefined ? { problem: `Invalid time interval: ${value}` } : { seconds: amount * named.seconds };
}

/** The seconds of a time setting already checked by valueProblem(). */
function timeSeconds(value: string): number {
  const parsed = parseTimeInterval(value);
  return 'seconds' in parsed ? parsed.seconds : 0;
}

function checkEntry(entry: ConfigEntry, types: Readonly<Record<string, ValueType>>): void {
  const type = Object.hasOwn(types, entry.key) ? types[entry.key] : undefined;
  if (type === undefined || entry.file !== undefined) return;
  const problem = valueProblem(entry.value, type);
  if (problem !== undefined) throw configError(entry.origin, problem);
}

/** Checks known settings at top level or in a filter section, and in the filters and namespaces under it. */
function checkSettingsScope(section: ConfigSection): void {
  for (const entry of section.entries) checkEntry(entry, SETTING_TYPES);
  for (const child of section.sections) {
    if (FILTER_SECTION_TYPES.has(child.type)) checkSettingsScope(child);
    else if (child.type === 'namespace') checkNamespace(child);
  }
}

function checkNamespace(section: ConfigSection): void {
  for (const entry of section.entries) checkEntry(entry, NAMESPACE_TYPES);
  for (const mailbox of section.sections) {
    if (mailbox.type === 'mailbox') for (const entry of mailbox.entries) checkEntry(entry, MAILBOX_TYPES);
  }
}

/** An entry's value, its `<file` read and checked. */
function entryValue(entry: ConfigEntry, types: Readonly<Record<string, ValueType>>, fs: ConfigFs): string {
  if (entry.file === undefined) return entry.value;
  const value = readEntryValue(entry, fs);
  checkEntry({ ...entry, value, file: undefined }, types);
  return value;
}

// ---- -o overrides ----

type Override =
  | { scope: 'setting'; key: string; value: string }
  | { scope: 'plugin'; key: string; value: string }
  | { scope: 'namespace'; namespace: string; mailbox?: string; key: string; value: string };

/** One -o parameter: `key=value`, `plugin/key=value`, `namespace/NAME/key=value` or `namespace/NAME/mailbox/BOX/key=value`. */
export function parseOverride(parameter: string): Override {
  const invalid = (reason: string): DeliveryFailure => temporary(`Invalid -o parameter ${parameter}: ${reason}`);
  const equals = parameter.indexOf('=');
  if (equals < 0) throw invalid("Missing '='");
  if (equals === 0) throw invalid("Missing key name ('=' at the beginning of line)");
  const key = parameter.slice(0, equals);
  const value = parameter.slice(equals + 1);
  const path = key.split('/');
  if (path[0] === 'plugin' && path.length > 1) return { scope: 'plugin', key: path.slice(1).join('/'), value };
  if (path[0] === 'namespace' && path.length === 3) {
    checkOverride(NAMESPACE_TYPES, path[2], value, invalid);
    return { scope: 'namespace', namespace: path[1], key: path[2], value };
  }
  if (path[0] === 'namespace' && path.length === 5 && path[2] === 'mailbox') {
    checkOverride(MAILBOX_TYPES, path[4], value, invalid);
    return { scope: 'namespace', namespace: path[1], mailbox: path[3], key: path[4], value };
  }
  checkOverride(SETTING_TYPES, key, value, invalid);
  return { scope: 'setting', key, value };
}

function checkOverride(
  types: Readonly<Record<string, ValueType>>,
  key: string,
  value: string,
  invalid: (reason: string) => DeliveryFailure,
): void {
  const problem = Object.hasOwn(types, key) ? valueProblem(value, types[key]) : undefined;
  if (problem !== undefined) throw invalid(problem);
}

// ---- top-level settings, plugin {}, namespaces, userdbs ----

function topLevelValues(layers: readonly ConfigSection[], overrides: readonly Override[], fs: ConfigFs): Map<string, string> {
  const effective = new Map<string, ConfigEntry>();
  for (const layer of layers) for (const entry of layer.entries) effective.set(entry.key, entry);
  const values = new Map<string, string>();
  for (const [key, entry] of effective) {
    const unread = entry.file !== undefined && UNREAD_FILE_SETTING.test(key);
    values.set(key, unread ? `<${entry.file}` : entryValue(entry, SETTING_TYPES, fs));
  }
  for (const override of overrides) if (override.scope === 'setting') values.set(override.key, override.value);
  return values;
}

/** Every `plugin {}` block at top level, then those inside the applying protocol sections, then -o plugin/KEY. */
function pluginSettings(layers: readonly ConfigSection[], overrides: readonly Override[], fs: ConfigFs): Map<string, string> {
  const plugin = new Map<string, string>();
  for (const layer of layers) {
    for (const section of layer.sections) {
      if (section.type !== 'plugin') continue;
      for (const entry of section.entries) plugin.set(entry.key, readEntryValue(entry, fs));
    }
  }
  for (const override of overrides) if (override.scope === 'plugin') plugin.set(override.key, override.value);
  return plugin;
}

function defaultNamespace(name: string): NamespaceConfig {
  return { name, type: 'private', prefix: '', separator: '', inbox: false, location: '', hidden: false, list: 'yes', subscriptions: true, mailboxes: [] };
}

/** Dovecot's namespace when the config defines none: private, no prefix, holding INBOX. */
export function implicitInboxNamespace(): NamespaceConfig {
  return { ...defaultNamespace('inbox'), inbox: true };
}

/** Namespaces in order of first appearance; blocks with the same name merge, as in Dovecot. */
function namespaceConfigs(layers: readonly ConfigSection[], overrides: readonly Override[], fs: ConfigFs): NamespaceConfig[] {
  const namespaces = new Map<string, NamespaceConfig>();
  const disabled = new Set<string>();
  for (const layer of layers) {
    for (const section of layer.sections) {
      if (section.type !== 'namespace') continue;
      const namespace = namespaces.get(section.name) ?? defaultNamespace(section.name);
      namespaces.set(section.name, namespace);
      for (const entry of section.entries) {
        setNamespaceField(namespace, disabled, entry.key, entryValue(entry, NAMESPACE_TYPES, fs));
      }
      for (const mailbox of section.sections) {
        if (mailbox.type !== 'mailbox') continue;
        for (const entry of mailbox.entries) {
          setMailboxField(namespace, mailbox.name, entry.key, entryValue(entry, MAILBOX_TYPES, fs));
        }
      }
    }
  }
  for (const override of overrides) {
    if (override.scope !== 'namespace') continue;
    const namespace = namespaces.get(override.namespace);
    if (namespace === undefined) continue; // dovecot-lda ignores -o for a namespace the config lacks
    if (override.mailbox === undefined) setNamespaceField(namespace, disabled, override.key, override.value);
    else if (namespace.mailboxes.some((mailbox) => mailbox.name === override.mailbox)) {
      setMailboxField(namespace, override.mailbox, override.key, override.value);
    }
  }
  const enabled = [...namespaces.values()].filter((namespace) => !disabled.has(namespace.name));
  return enabled.length > 0 ? enabled : [implicitInboxNamespace()];
}

function setNamespaceField(namespace: NamespaceConfig, disabled: Set<string>, key: string, value: string): void {
  switch (key) {
    case 'type':
      namespace.type = value as NamespaceConfig['type'];
      return;
    case 'prefix':
    case 'separator':
    case 'location':
    case 'list':
      namespace[key] = value;
      return;
    case 'inbox':
    case 'hidden':
    case 'subscriptions':
      namespace[key] = parseBoolean(value) === true;
      return;
    case 'disabled':
      if (parseBoolean(value) === true) disabled.add(namespace.name);
      else disabled.delete(namespace.name);
      return;
  }
}

function setMailboxField(namespace: NamespaceConfig, name: string, key: string, value: string): void {
  let mailbox = namespace.mailboxes.find((candidate) => candidate.name === name);
  if (mailbox === undefined) {
    mailbox = { name, auto: 'no', specialUse: '' };
    namespace.mailboxes.push(mailbox);
  }
  if (key === 'auto') mailbox.auto = value;
  else if (key === 'special_use') mailbox.specialUse = value;
}

/**
 * One top-level `userdb {}` block (those inside protocol sections are not
 * read). In 2.3 the section's argument is only a name: a
 * block without `driver` (the 1.x form `userdb passwd-file { }`) has driver
 * "", which Dovecot's auth rejects with "userdb is missing driver".
 */
function userdbConfig(section: ConfigSection, fs: ConfigFs): UserdbConfig {
  const fields = new Map<string, string>();
  for (const entry of section.entries) fields.set(entry.key, readEntryValue(entry, fs));
  return {
    driver: fields.get('driver') ?? '',
    args: fields.get('args') ?? '',
    overrideFields: fields.get('override_fields') ?? '',
    defaultFields: fields.get('default_fields') ?? '',
    skip: fields.get('skip') ?? 'never',
    resultSuccess: fields.get('result_success') ?? 'return-ok',
    resultFailure: fields.get('result_failure') ?? 'continue',
    resultInternalfail: fields.get('result_internalfail') ?? 'continue',
    origin: section.origin,
  };
}
