// The quota plugin's settings for one user, read as Dovecot 2.3's quota
// plugin reads them (plugins/quota/quota.c quota_user_read_settings,
// quota-util.c): `quota = maildir[:NAME[:PARAMS]]`, `quota_rule`,
// `quota_rule2`, ... (up to the first one missing), `quota_warning`,
// `quota_warning2`, ..., `quota_grace`, `quota_max_mail_size`,
// `quota_exceeded_message`, and the top-level `quota_full_tempfail`.
// Values arrive after userdb overrides and %-expansion (so `10%%` in the
// config file is `10%` here, and a lone trailing `%` is already gone, as in
// Dovecot). Pure, except quotaSettingsFor, which reads the user's plugin view.
//
// Rules on the same mailbox mask merge, as in Dovecot: `*` (and `?`, the
// default rule that does not override the limits written in maildirsize)
// is the user's quota; any other mask (wildcards `*` `?`; INBOX in any case)
// is relative to it: `Trash:storage=+10%`, `Trash:storage=10%` (the obsolete
// spelling of the same), `Trash:storage=-1M`, `Spam:ignore`. In `rules`, the
// default rule is the one with mailbox `*` (or `?` when only `?` lines set it);
// its amounts are absolute, the others' relative. `storage=` counts
// kilobytes without a unit, `bytes=` bytes; units B K M G T (any case, only
// the first letter counts).
//
// Failure: a malformed setting throws a temporary DeliveryFailure worded as
// dovecot-lda logs it ("Failed to initialize quota: Invalid quota root
// quota: Invalid rule ...") and the delivery defers (75), as dovecot-lda's
// does; so does a backend other than maildir (count, dict, dirsize, fs, imapc).

import { parseBoolean } from '../config/settings.js';
import type { Settings } from '../config/types.js';
import { wildcardMatch } from '../config/var-expand.js';
import { temporary } from '../deliver/failure.js';
import type { MailUser } from '../deliver/lda-user.js';
import { userPluginSettings } from '../deliver/user-plugin-settings.js';
import type { QuotaAmount, QuotaLimits, QuotaRule, QuotaSettings, QuotaWarning } from './types.js';

export const DEFAULT_QUOTA_EXCEEDED_MESSAGE = 'Quota exceeded (mailbox for user is full)';
const DEFAULT_GRACE = '10%';
/** Backends Dovecot 2.3 knows; only maildir is implemented here. */
const OTHER_BACKENDS = new Set(['count', 'dict', 'dirsize', 'fs', 'imapc']);
/** The maildir backend's parameters, in the only order Dovecot accepts them (quota_parse_parameters). */
const MAILDIR_PARAMETERS = ['hidden', 'ignoreunlimited', 'noenforcing', 'ns='] as const;
const UNITS: Record<string, number> = { B: 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** The quota settings of a user with no quota (mail_plugins without quota, or `quota` unset). */
function disabledSettings(fullTempfail: boolean): QuotaSettings {
  return {
    enabled: false,
    rootName: '',
    noEnforcing: false,
    ignoreUnlimited: false,
    rules: [],
    grace: { kind: 'percent', percent: 10 },
    maxMailSizeBytes: 0,
    exceededMessage: DEFAULT_QUOTA_EXCEEDED_MESSAGE,
    warnings: [],
    fullTempfail,
  };
}

class QuotaSettingError extends Error {}

/** One limit of a rule while the rule lines are merged: quota_rule's bytes_limit/bytes_percent pair. */
interface LimitState {
  value: number;
  percent: number;
  set: boolean;
}

interface RuleState {
  mask: string;
  ignore: boolean;
  storage: LimitState;
  messages: LimitState;
}

const emptyLimit = (): LimitState => ({ value: 0, percent: 0, set: false });

/**
 * The user's quota settings. `get` is a plugin {} lookup after userdb
 * overrides and %-expansion, `mailPlugins` the effective mail_plugins,
 * `fullTempfail` the top-level quota_full_tempfail.
 */
export function parseQuotaSettings(
  get: (key: string) => string | undefined,
  mailPlugins: string,
  fullTempfail: string | undefined,
): QuotaSettings {
  const tempfail = parseFullTempfail(fullTempfail);
  const root = get('quota');
  if (!mailPlugins.split(/[\s,]+/).includes('quota') || root === undefined || root === '') return disabledSettings(tempfail);
  try {
    const exceededMessage = get('quota_exceeded_message') ?? DEFAULT_QUOTA_EXCEEDED_MESSAGE;
    const maxMailSize = get('quota_max_mail_size');
    let maxMailSizeBytes = 0;
    if (maxMailSize !== undefined) {
      const parsed = parseSize(maxMailSize);
      if (parsed === undefined) throw new QuotaSettingError(`quota_max_mail_size: Invalid size: ${maxMailSize}`);
      maxMailSizeBytes = parsed;
    }
    const { backend, name, parameters } = splitRoot(root);
    const inRoot = (text: string) => `Invalid quota root quota: ${text}`;
    if (backend !== 'maildir') {
      throw new QuotaSettingError(OTHER_BACKENDS.has(backend) ? `quota backend ${backend} is not supported` : inRoot(`Unknown quota backend: ${backend}`));
    }
    const rules = new RuleSet();
    for (const rule of numbered('quota_rule', get)) {
      try {
        rules.add(rule);
      } catch (error) {
        if (error instanceof QuotaSettingError) throw new QuotaSettingError(inRoot(`Invalid rule ${rule}: ${error.message}`));
        throw error;
      }
    }
    const defaultLimits = rules.defaultLimits();
    const warnings = numbered('quota_warning', get).flatMap((rule) => {
      const parsed = parseWarning(rule, defaultLimits);
      if (parsed === undefined) throw new QuotaSettingError(inRoot(`Invalid warning rule: ${rule}`));
      return parsed;
    });
    const graceValue = get('quota_grace');
    let grace: QuotaAmount;
    try {
      grace = parseGrace(graceValue ?? DEFAULT_GRACE);
    } catch (error) {
      if (error instanceof QuotaSettingError) throw new QuotaSettingError(inRoot(`Invalid quota_grace value '${graceValue}': ${error.message}`));
      throw error;
    }
    const flags = parseMaildirParameters(parameters, name);
    return {
      enabled: true,
      rootName: name,
      noEnforcing: flags.has('noenforcing'),
      ignoreUnlimited: flags.has('ignoreunlimited'),
      rules: rules.toRules(),
      grace,
      maxMailSizeBytes,
      exceededMessage,
      warnings,
      fullTempfail: tempfail,
    };
  } catch (error) {
    if (error instanceof QuotaSettingError) throw temporary(`Failed to initialize quota: ${error.message}`);
    throw error;
  }
}

/** The settings of `user`, with userdb fields (`userdb_quota_rule=*:storage=1G`) overriding plugin {}. */
export function quotaSettingsFor(settings: Settings, user: MailUser, home: string, hostname: string): QuotaSettings {
  const plugin = userPluginSettings(settings, user, home, hostname);
  return parseQuotaSettings(plugin.get, plugin.mailPlugins, user.fields.get('quota_full_tempfail') ?? settings.raw.get('quota_full_tempfail'));
}

/** The default rule's limits: the user's whole quota as configured (0 or undefined = none). */
export function rootLimits(quota: QuotaSettings): QuotaLimits {
  const rule = defaultRule(quota);
  return limitsOf(absolute(rule?.storage), absolute(rule?.messages));
}

/** Whether the `*` rule fixes the limits (else, `?` or no default rule, the limits maildirsize holds apply, as in Dovecot). */
export function defaultRuleForced(quota: QuotaSettings): boolean {
  return quota.rules.some((rule) => rule.mailbox === '*');
}

/**
 * The limits that apply when saving into `mailbox` (as the user names it,
 * namespace prefix included), as Dovecot's quota_root_get_rule_limits works
 * them out: the default limits (`base`, e.g. those maildirsize holds when the
 * default rule is not forced; else the `*` rule's), changed by the first
 * other rule whose mask matches the mailbox. With no default limit at all the
 * user is unlimited and mailbox rules do not apply. A mailbox whose rule says
 * `ignore` has no limits and `ignored` set.
 */
export function limitsFor(quota: QuotaSettings, mailbox: string, base: QuotaLimits = rootLimits(quota)): { limits: QuotaLimits; ignored: boolean } {
  let bytes = base.storageBytes ?? 0;
  let count = base.messages ?? 0;
  if (bytes === 0 && count === 0) return { limits: {}, ignored: false };
  const rule = mailboxRule(quota, mailbox);
  if (rule?.ignore) return { limits: {}, ignored: true };
  if (rule !== undefined) {
    bytes += relative(rule.storage, base.storageBytes ?? 0);
    count += relative(rule.messages, base.messages ?? 0);
  }
  return { limits: limitsOf(bytes, count), ignored: false };
}

/** Whether `mailbox` is left out of the quota (`NAME:ignore`): maildirsize recalculation skips it whatever the limits. */
export function isIgnoredMailbox(quota: QuotaSettings, mailbox: string): boolean {
  return mailboxRule(quota, mailbox)?.ignore ?? false;
}

/**
 * How many bytes past the storage limit the last message may go
 * (quota_grace): a percentage counts of `limits.storageBytes`, which should
 * be the user's whole quota (rootLimits, or the limits maildirsize holds), as
 * Dovecot computes it from the default rule. May be negative.
 */
export function graceBytes(quota: QuotaSettings, limits: QuotaLimits): number {
  const { grace } = quota;
  if (grace.kind === 'percent' || grace.kind === 'relative-percent') return Math.trunc(((limits.storageBytes ?? 0) * grace.percent) / 100);
  return grace.value;
}

// ---- rules ----

/** The rules in the order Dovecot keeps them: merged by exact mask, the default rule apart. */
class RuleSet {
  private readonly defaults: RuleState = { mask: '?', ignore: false, storage: emptyLimit(), messages: emptyLimit() };
  private readonly others: RuleState[] = [];
  private defaultSeen = false;

  add(definition: string): void {
    const colon = definition.indexOf(':');
    if (colon < 0) throw new QuotaSettingError('Invalid rule');
    const mask = definition.slice(0, colon);
    const limits = definition.slice(colon + 1);
    const rule = this.ruleFor(mask);
    const isDefault = rule === this.defaults;
    if (limits === 'ignore') {
      rule.ignore = true;
      return;
    }
    if (limits.startsWith('backend=')) {
      parseMaildirRule(rule, limits.slice('backend='.length));
      return;
    }
    parseLimits(rule, limits, isDefault ? 'default' : 'relative');
  }

  private ruleFor(mask: string): RuleState {
    const existing = this.others.find((rule) => rule.mask === mask);
    if (existing !== undefined) return existing;
    if (mask === '*' || mask === '?') {
      this.defaultSeen = true;
      if (mask === '*') this.defaults.mask = '*';
      return this.defaults;
    }
    const rule: RuleState = { mask: mask.toUpperCase() === 'INBOX' ? 'INBOX' : mask, ignore: false, storage: emptyLimit(), messages: emptyLimit() };
    this.others.push(rule);
    return rule;
  }

  defaultLimits(): QuotaLimits {
    return limitsOf(this.defaults.storage.value, this.defaults.messages.value);
  }

  toRules(): QuotaRule[] {
    const rules: QuotaRule[] = [];
    if (this.defaultSeen) rules.push(asRule(this.defaults, true));
    for (const rule of this.others) rules.push(asRule(rule, false));
    return rules;
  }
}

function asRule(state: RuleState, isDefault: boolean): QuotaRule {
  const amount = (limit: LimitState): QuotaAmount | undefined => {
    if (!limit.set) return undefined;
    if (isDefault) return { kind: 'absolute', value: limit.value };
    return limit.percent !== 0 ? { kind: 'relative-percent', percent: limit.percent } : { kind: 'relative-absolute', value: limit.value };
  };
  const storage = amount(state.storage);
  const messages = amount(state.messages);
  return { mailbox: state.mask, ignore: state.ignore, ...(storage && { storage }), ...(messages && { messages }) };
}

/** Each limit key: which limit it sets, its unit without a suffix, and Dovecot's words for a bad number (sic). */
const LIMIT_KEYS = new Map<string, (rule: Pick<RuleState, 'storage' | 'messages'>) => [LimitState, number, string]>([
  ['storage', (rule) => [rule.storage, 1024, 'Invalid storage limit']],
  ['bytes', (rule) => [rule.storage, 1, 'Invalid bytes limit']],
  ['messages', (rule) => [rule.messages, 1, 'Invalid bytes messages']],
]);

/**
 * `storage=10M:messages=1000`: each limit `KEY=[+|-]NUMBER[UNIT]`. The default
 * rule takes neither `+`, a negative value nor a percentage; a warning takes
 * no `+` nor a negative value; a mailbox rule's values are all relative.
 */
function parseLimits(rule: Pick<RuleState, 'storage' | 'messages'>, text: string, use: 'default' | 'relative' | 'warning'): void {
  for (const item of text.split(':')) {
    const equals = item.indexOf('=');
    const key = equals < 0 ? item : item.slice(0, equals);
    let value = equals < 0 ? '' : item.slice(equals + 1);
    if (value.startsWith('+')) {
      if (use !== 'relative') throw new QuotaSettingError("Rule limit cannot have '+'");
      value = value.slice(1);
    }
    const [limit, defaultUnit, invalid] = LIMIT_KEYS.get(key)?.(rule) ?? [];
    if (limit === undefined) throw new QuotaSettingError(`Unknown rule limit name: ${key}`);
    const number = /^-?\d+/.exec(value);
    if (number === null) throw new QuotaSettingError(`${invalid}: ${value}`);
    const amount = Number(number[0]);
    const unit = value.slice(number[0].length);
    limit.set = true;
    if (unit.startsWith('%')) {
      if (amount <= -100) throw new QuotaSettingError(`Invalid rule limit value '${item}': Invalid percentage`);
      if (use === 'default') throw new QuotaSettingError(`Invalid rule limit value '${item}': Default rule can't be a percentage`);
      limit.percent = amount;
      limit.value = 0;
      continue;
    }
    const multiplier = unit === '' ? defaultUnit : UNITS[unit[0]!.toUpperCase()];
    if (multiplier === undefined) throw new QuotaSettingError(`Invalid rule limit value '${item}': Unknown unit: ${unit}`);
    limit.value = amount * multiplier;
  }
  if (use !== 'relative') {
    if (rule.storage.value < 0) throw new QuotaSettingError("Bytes limit can't be negative");
    if (rule.messages.value < 0) throw new QuotaSettingError("Count limit can't be negative");
  }
}

/** `backend=1000000S,1000C` (Maildir++ limits, 0 = none) or `backend=NOQUOTA`: sets both limits. */
function parseMaildirRule(rule: RuleState, text: string): void {
  let bytes = 0;
  let count = 0;
  if (text !== 'NOQUOTA') {
    for (const part of text.split(',')) {
      const match = /^(\d+)([SC])$/.exec(part);
      if (match === null) throw new QuotaSettingError(`quota-maildir: Invalid Maildir++ quota rule "${text}"`);
      if (match[2] === 'S') bytes = Number(match[1]);
      else count = Number(match[1]);
    }
  }
  Object.assign(rule.storage, { value: bytes, set: true });
  Object.assign(rule.messages, { value: count, set: true });
}

function defaultRule(quota: QuotaSettings): QuotaRule | undefined {
  return quota.rules.find((rule) => rule.mailbox === '*' || rule.mailbox === '?');
}

/** The first non-default rule whose mask matches `mailbox` (INBOX in any case is INBOX). */
function mailboxRule(quota: QuotaSettings, mailbox: string): QuotaRule | undefined {
  const name = mailbox.toUpperCase() === 'INBOX' ? 'INBOX' : mailbox;
  return quota.rules.find((rule) => rule.mailbox !== '*' && rule.mailbox !== '?' && wildcardMatch(name, rule.mailbox));
}

function absolute(amount: QuotaAmount | undefined): number {
  return amount?.kind === 'absolute' ? amount.value : 0;
}

/** A mailbox rule's change to a default limit of `base`. */
function relative(amount: QuotaAmount | undefined, base: number): number {
  if (amount === undefined) return 0;
  if (amount.kind === 'percent' || amount.kind === 'relative-percent') return Math.trunc((base * amount.percent) / 100);
  return amount.value;
}

/** Limits as QuotaLimits: 0 or less is no limit. */
function limitsOf(bytes: number, count: number): QuotaLimits {
  return { ...(bytes > 0 && { storageBytes: bytes }), ...(count > 0 && { messages: count }) };
}

// ---- the other settings ----

/** KEY, KEY2, KEY3, ... up to the first one unset. */
function numbered(key: string, get: (key: string) => string | undefined): string[] {
  const values: string[] = [];
  for (let n = 1; ; n++) {
    const value = get(n === 1 ? key : `${key}${n}`);
    if (value === undefined) return values;
    values.push(value);
  }
}

/**
 * `[+|-]storage=95% COMMAND ARGS`: one QuotaWarning per limit it names. An
 * absolute threshold (`storage=10M`) becomes its percentage of the default
 * rule's limit; without that limit it can never be reached here and is left
 * out. Undefined when malformed.
 */
function parseWarning(definition: string, limits: QuotaLimits): QuotaWarning[] | undefined {
  const space = definition.indexOf(' ');
  if (space < 0 || space === definition.length - 1) return undefined;
  const whenBelow = definition.startsWith('-');
  const rule = { storage: emptyLimit(), messages: emptyLimit() };
  try {
    parseLimits(rule, definition.slice(/^[+-]/.test(definition) ? 1 : 0, space), 'warning');
  } catch (error) {
    if (error instanceof QuotaSettingError) return undefined;
    throw error;
  }
  const command = definition.slice(space + 1).split(' ').filter((word) => word !== '');
  const warnings: QuotaWarning[] = [];
  const resources = [
    ['storage', rule.storage, limits.storageBytes],
    ['messages', rule.messages, limits.messages],
  ] as const;
  for (const [resource, limit, total] of resources) {
    if (!limit.set) continue;
    const percent = limit.percent !== 0 ? limit.percent : total !== undefined ? (limit.value * 100) / total : undefined;
    if (percent !== undefined) warnings.push({ resource, percent, whenBelow, command });
  }
  return warnings;
}

/** quota_grace: `10%` of the storage limit, or bytes (units B K M G T; may be negative). */
function parseGrace(value: string): QuotaAmount {
  const number = /^-?\d+/.exec(value);
  if (number === null) throw new QuotaSettingError('Invalid number');
  const amount = Number(number[0]);
  const unit = value.slice(number[0].length);
  if (unit.startsWith('%')) {
    if (amount <= -100) throw new QuotaSettingError('Invalid percentage');
    return { kind: 'percent', percent: amount };
  }
  const multiplier = unit === '' ? 1 : UNITS[unit[0]!.toUpperCase()];
  if (multiplier === undefined) throw new QuotaSettingError(`Unknown unit: ${unit}`);
  return { kind: 'absolute', value: amount * multiplier };
}

/** Dovecot's settings_get_size(): a number, spaces, then B, or K/M/G/T with optional I and B; undefined when invalid. */
export function parseSize(value: string): number | undefined {
  const match = /^(\d+) *(?:([bB])|([kKmMgGtT])[iI]?[bB]?)?$/.exec(value);
  if (match === null) return undefined;
  return Number(match[1]) * (match[3] === undefined ? 1 : UNITS[match[3].toUpperCase()]!);
}

/** quota_full_tempfail: doveconf already refused a malformed one in the file; a userdb value may still be one. */
function parseFullTempfail(value: string | undefined): boolean {
  if (value === undefined || value === '') return false;
  const parsed = parseBoolean(value);
  if (parsed === undefined) throw temporary(`quota_full_tempfail: Invalid boolean value: ${value} (use yes or no)`);
  return parsed;
}

/** `maildir:NAME:PARAMS`: the backend, the root's name and what follows. */
function splitRoot(definition: string): { backend: string; name: string; parameters: string } {
  const [backend = '', name = '', ...rest] = definition.split(':');
  return { backend, name, parameters: rest.join(':') };
}

/**
 * The maildir backend's parameters as quota_parse_parameters takes them: each
 * must come later in MAILDIR_PARAMETERS than the previous one (a repeat is
 * allowed), separated by `:`; `ns=` takes the text up to the next `:`.
 */
function parseMaildirParameters(text: string, rootName: string): Set<string> {
  const found = new Set<string>();
  let rest: string | undefined = text;
  let index = 0;
  while (rest !== undefined && rest !== '') {
    for (; index < MAILDIR_PARAMETERS.length; index++) {
      const name: string = MAILDIR_PARAMETERS[index]!;
      if (!rest.startsWith(name)) continue;
      rest = rest.slice(name.length);
      if (name.endsWith('=')) {
        const colon = rest.indexOf(':');
        rest = colon < 0 ? undefined : rest.slice(colon + 1);
        found.add(name);
        break;
      }
      if (rest === '' || rest.startsWith(':')) {
        rest = rest === '' ? undefined : rest.slice(1);
        found.add(name);
        break;
      }
    }
    if (index === MAILDIR_PARAMETERS.length) {
      throw new QuotaSettingError(`Quota root ${rootName}: maildir quota init failed: Unknown parameter for backend maildir: ${rest}`);
    }
  }
  return found;
}
