// Pigeonhole's Sieve settings for one user (Pigeonhole lda-sieve-plugin.c,
// sieve-storage.c, sieve-settings.c; doc configuration_manual/sieve): whether
// Sieve runs, which scripts run in which order, which extensions a script may
// require, and the limits. Pure: plugin settings come in through a lookup
// that already applied userdb overrides and %-variables; `~` is expanded here
// with the user's home.
//
// Failure: a malformed value is a SieveSettingsError; the delivery defers
// (75) until the administrator fixes it, as for any other config error
// (Pigeonhole would warn and use the default).

import { DEFAULT_ENABLED_EXTENSIONS, parseExtensionsSetting } from './extensions.js';
import type { VacationSettings } from './outgoing/vacation.js';

/** Where a script lives: a file, or a directory whose *.sieve files run in byte order. */
export interface SieveScriptLocation {
  /** the setting it came from, for messages: "sieve_before2" */
  setting: string;
  path: string;
}

/** The personal script storage (`sieve = file:DIR;active=LINK`, or a plain script path). */
export interface PersonalSieveStorage {
  /** the script run at delivery: the active link (or a plain file) */
  activePath: string;
  /** the directory `include :personal` reads NAME.sieve from */
  scriptDirectory: string;
  /** `file:PATH` without `;active=`: what applies when PATH turns out to be a directory */
  asDirectory?: { activePath: string; scriptDirectory: string };
}

export interface SieveSettings {
  /** mail_plugins names sieve and sieve_enabled is not "no" */
  enabled: boolean;
  /** undefined: the user's personal script is disabled (`sieve =` empty) */
  personal: PersonalSieveStorage | undefined;
  /** sieve_default (formerly sieve_global_path): runs when the user has no personal script */
  defaultScript: string | undefined;
  /** sieve_discard: runs when the message would otherwise be discarded */
  discardScript: string | undefined;
  before: SieveScriptLocation[];
  after: SieveScriptLocation[];
  /** sieve_global (or sieve_global_dir): where `include :global` reads NAME.sieve */
  globalDirectory: string | undefined;
  /** extensions a personal script may require (never one of globalExtensions) */
  extensions: ReadonlySet<string>;
  /** sieve_global_extensions: extensions only global scripts (before/after/default) may require, on top of `extensions` */
  globalExtensions: ReadonlySet<string>;
  maxScriptSize: number;
  maxActions: number;
  maxRedirects: number;
  /** sieve_redirect_envelope_from: sender | recipient | orig_recipient | user_email | postmaster | <address> */
  redirectEnvelopeFrom: string;
  vacationMinPeriodSeconds: number;
  vacationDefaultPeriodSeconds: number;
  vacationMaxPeriodSeconds: number;
  /** sieve_user_log: the personal script's log; default the active script's path + ".log" */
  userLogPath: string | undefined;
  /** sieve_user_email: the user's own address for vacation checks and redirect envelope */
  userEmail: string | undefined;
  /** the sieve_vacation_* switches */
  vacation: VacationSettings;
}

export class SieveSettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SieveSettingsError';
  }
}

export interface SieveSettingsInput {
  /** a plugin {} setting after userdb overrides and %-expansion; undefined when unset */
  plugin(key: string): string | undefined;
  /** mail_plugins (after userdb override) */
  mailPlugins: string;
  /** the user's home ("" when none) */
  home: string;
}

const DEFAULT_ACTIVE_PATH = '~/.dovecot.sieve';
const DEFAULT_SCRIPT_DIRECTORY = '~/sieve';
const DAY = 86400;

export function sieveSettings(input: SieveSettingsInput): SieveSettings {
  const get = (key: string) => input.plugin(key);
  const home = (path: string) => expandHome(path, input.home);
  const enabled = input.mailPlugins.split(/[\s,]+/).includes('sieve') && get('sieve_enabled')?.toLowerCase() !== 'no';
  const extensions = parseExtensionsSetting(get('sieve_extensions') ?? '', new Set(DEFAULT_ENABLED_EXTENSIONS));
  const globalExtensions = parseExtensionsSetting(get('sieve_global_extensions') ?? '', new Set());
  // sieve_global_extensions wins: a personal script never gets them, whatever sieve_extensions says.
  for (const name of globalExtensions) extensions.delete(name);
  const personal = personalStorage(get('sieve'), get('sieve_dir'), home);
  const userLog = get('sieve_user_log');
  return {
    enabled,
    personal,
    defaultScript: locationPath(get('sieve_default') ?? get('sieve_global_path'), home),
    discardScript: locationPath(get('sieve_discard'), home),
    before: numberedLocations('sieve_before', get, home),
    after: numberedLocations('sieve_after', get, home),
    globalDirectory: locationPath(get('sieve_global') ?? get('sieve_global_dir'), home),
    extensions,
    globalExtensions,
    maxScriptSize: sizeSetting('sieve_max_script_size', get('sieve_max_script_size'), 1024 * 1024),
    maxActions: countSetting('sieve_max_actions', get('sieve_max_actions'), 32),
    maxRedirects: countSetting('sieve_max_redirects', get('sieve_max_redirects'), 4),
    redirectEnvelopeFrom: (get('sieve_redirect_envelope_from') ?? '').trim() || 'sender',
    vacationMinPeriodSeconds: durationSetting('sieve_vacation_min_period', get('sieve_vacation_min_period'), DAY),
    vacationDefaultPeriodSeconds: durationSetting('sieve_vacation_default_period', get('sieve_vacation_default_period'), 7 * DAY),
    vacationMaxPeriodSeconds: durationSetting('sieve_vacation_max_period', get('sieve_vacation_max_period'), 0),
    userLogPath: userLog !== undefined && userLog !== '' ? home(userLog) : personal && `${personal.activePath}.log`,
    userEmail: get('sieve_user_email')?.trim() || undefined,
    vacation: {
      useOriginalRecipient: booleanSetting('sieve_vacation_use_original_recipient', get),
      dontCheckRecipient: booleanSetting('sieve_vacation_dont_check_recipient', get),
      sendFromRecipient: booleanSetting('sieve_vacation_send_from_recipient', get),
      toHeaderIgnoreEnvelope: booleanSetting('sieve_vacation_to_header_ignore_envelope', get),
      defaultSubject: get('sieve_vacation_default_subject') ?? '',
      defaultSubjectTemplate: get('sieve_vacation_default_subject_template') ?? '',
      userEmail: get('sieve_user_email')?.trim() || undefined,
    },
  };
}

/**
 * `sieve`: unset → the defaults; "" → no personal script; `file:PATH[;active=LINK][;...]`;
 * a PATH without `file:` is the legacy form: the script itself, with sieve_dir
 * (default ~/sieve) holding the scripts it includes, as Pigeonhole 0.5 reads it.
 */
function personalStorage(
  setting: string | undefined,
  legacyDirectory: string | undefined,
  home: (path: string) => string,
): PersonalSieveStorage | undefined {
  const legacyScriptDirectory = home(legacyDirectory || DEFAULT_SCRIPT_DIRECTORY);
  if (setting === undefined) return { activePath: home(DEFAULT_ACTIVE_PATH), scriptDirectory: legacyScriptDirectory };
  const location = parseLocation(setting);
  if (location === undefined) return undefined;
  const path = home(location.path);
  const active = location.options.get('active');
  if (active !== undefined && active !== '') return { activePath: home(active), scriptDirectory: path };
  if (location.type === undefined) return { activePath: path, scriptDirectory: legacyScriptDirectory };
  // `file:` naming the script itself: its directory holds the scripts it includes;
  // naming a directory (checked at delivery): the storage, with the default active script
  return {
    activePath: path,
    scriptDirectory: path.includes('/') ? path.slice(0, path.lastIndexOf('/')) || '/' : '.',
    asDirectory: { activePath: home(DEFAULT_ACTIVE_PATH), scriptDirectory: path },
  };
}

/** sieve_before, sieve_before2, sieve_before3, ... up to the first one missing. */
function numberedLocations(
  base: string,
  get: (key: string) => string | undefined,
  home: (path: string) => string,
): SieveScriptLocation[] {
  const locations: SieveScriptLocation[] = [];
  for (let n = 1; ; n++) {
    const setting = n === 1 ? base : `${base}${n}`;
    const path = locationPath(get(setting), home);
    if (path === undefined) break;
    locations.push({ setting, path });
  }
  return locations;
}

function locationPath(value: string | undefined, home: (path: string) => string): string | undefined {
  const location = value === undefined ? undefined : parseLocation(value);
  return location && home(location.path);
}

/** Pigeonhole's script location syntax: `[TYPE:]PATH[;KEY[=VALUE]]...`; only `file` storage exists here. */
export function parseLocation(value: string): { type: 'file' | undefined; path: string; options: Map<string, string> } | undefined {
  const trimmed = value.trim();
  if (trimmed === '') return undefined;
  const [first, ...rest] = trimmed.split(';');
  const typed = /^([a-z]+):(.*)$/.exec(first!);
  if (typed !== null && typed[1] !== 'file') {
    throw new SieveSettingsError(`Sieve storage type '${typed[1]}' is not supported (only file:)`);
  }
  const path = typed === null ? first! : typed[2]!;
  if (path === '') return undefined;
  const options = new Map<string, string>();
  for (const option of rest) {
    const equals = option.indexOf('=');
    if (equals < 0) options.set(option, '');
    else options.set(option.slice(0, equals), option.slice(equals + 1));
  }
  return { type: typed === null ? undefined : 'file', path, options };
}

export function expandHome(path: string, home: string): string {
  if (path === '~') return home;
  if (path.startsWith('~/')) return `${home.replace(/\/+$/, '')}/${path.slice(2)}`;
  return path;
}

/** Pigeonhole boolean settings: yes/no (any case), default no. */
function booleanSetting(key: string, get: (key: string) => string | undefined): boolean {
  const value = get(key)?.trim().toLowerCase();
  if (value === undefined || value === '' || value === 'no') return false;
  if (value === 'yes') return true;
  throw new SieveSettingsError(`Invalid boolean value for setting '${key}': '${get(key)}'`);
}

/** Pigeonhole size settings: a number with an optional B/K/M/G/T suffix; 0 = unlimited. */
function sizeSetting(key: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value.trim() === '') return fallback;
  const match = /^(\d+)\s*([bkmgt]?)b?$/i.exec(value.trim());
  if (match === null) throw new SieveSettingsError(`Invalid size value for setting '${key}': '${value}'`);
  const unit = 1024 ** 'bkmgt'.indexOf((match[2] || 'b').toLowerCase());
  return Number(match[1]) * unit;
}

function countSetting(key: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value.trim() === '') return fallback;
  if (!/^\d+$/.test(value.trim())) throw new SieveSettingsError(`Invalid numeric value for setting '${key}': '${value}'`);
  return Number(value.trim());
}

/** Pigeonhole duration settings: a number with an optional s/m/h/d suffix (seconds without one). */
function durationSetting(key: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value.trim() === '') return fallback;
  const match = /^(\d+)\s*([smhd]?)$/i.exec(value.trim());
  if (match === null) throw new SieveSettingsError(`Invalid duration value for setting '${key}': '${value}'`);
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: DAY }[match[2]!.toLowerCase() as '' | 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}
