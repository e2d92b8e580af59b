// `dovetail quota get -u USER [-c CONF]` and `dovetail quota recalc -u USER
// [-c CONF]`: what `doveadm quota get` / `doveadm quota recalc` do for a
// Maildir++ quota. get reads the user's maildirsize (recalculating it when
// Maildir++ says it must), recalc rescans the Maildir and rewrites the file;
// both then print doveadm's table: Quota name, Type (STORAGE in kilobytes,
// rounded up as doveadm rounds, and MESSAGE), Value, Limit ("-" = none), %.
// (doveadm's recalc prints nothing; ours prints the recalculated table.)
//
// Exit status as doveadm's: 0; 64 bad command line; 67 unknown user; 68
// quota not enabled for the user (or mail not in Maildir); 75 anything else
// (a config, userdb or file error), with one "Error: ..." line on stderr.
// main.ts loads this module only for `dovetail quota`.

import { hostname as systemHostname } from 'node:os';
import { getopt } from './getopt.js';
import { EX_NOUSER, EX_OK, EX_TEMPFAIL, EX_USAGE } from '../deliver/outcomes.js';
import { loadSettings } from '../config/settings.js';
import { resolveLdaUser } from '../deliver/lda-user.js';
import { dropPrivileges } from '../deliver/privileges.js';
import { asDeliveryFailure } from '../deliver/deliver.js';
import { storageOptionsFor, userHome } from '../deliver/storage-options.js';
import { permissionsOf } from '../storage/permissions.js';
import { limitsFor, quotaSettingsFor, rootLimits } from '../quota/settings.js';
import { ignoredFolders, quotaMaildir } from '../quota/enforce.js';
import { readMaildirsize, recalculateMaildirsize, type MaildirsizeOptions } from '../quota/maildirsize.js';
import type { QuotaLimits, QuotaSettings, QuotaUsage } from '../quota/types.js';

export const QUOTA_USAGE = 'dovetail quota get|recalc -u user [-c config_file]';
/** doveadm's exit status for a mail error "not found" (quota not enabled) */
export const EX_NOTFOUND = 68;

export interface QuotaToolIo {
  argv: readonly string[];
  env: NodeJS.ProcessEnv;
  writeOut(text: string): void;
  /** one line, no newline */
  writeError(line: string): void;
  /** the terminal's width when stdout is one (doveadm fits its table to it); default 80 */
  columns?: number;
}

/** Runs `quota get` or `quota recalc`; returns the exit status. Never throws. */
export async function runQuotaTool(io: QuotaToolIo): Promise<number> {
  const [command, ...rest] = io.argv;
  const parsed = getopt(rest, 'u:c:');
  if ((command !== 'get' && command !== 'recalc') || !parsed.ok || parsed.operands.length > 0) {
    io.writeError(parsed.ok ? `Usage: ${QUOTA_USAGE}` : `${parsed.error}\nUsage: ${QUOTA_USAGE}`);
    return EX_USAGE;
  }
  const option = (letter: string) => parsed.options.filter((candidate) => candidate.letter === letter).pop()?.value;
  const username = option('u');
  if (username === undefined) {
    io.writeError(`Error: -u user not given\nUsage: ${QUOTA_USAGE}`);
    return EX_USAGE;
  }
  try {
    const settings = loadSettings({ configPath: option('c'), protocol: 'lda', overrides: [] });
    const hostname = settings.hostname || io.env.DOVECOT_HOSTDOMAIN || systemHostname();
    const user = await resolveLdaUser(username, { settings, hostname, env: io.env, euid: process.geteuid!() });
    const home = userHome(settings, user, hostname, 'lda');
    dropPrivileges(user, settings, undefined);
    const quota = quotaSettingsFor(settings, user, home, hostname);
    const fileHostname = io.env.DOVECOT_HOSTNAME || systemHostname();
    const storage = storageOptionsFor(settings, user, home, { hostname, fileHostname, service: 'lda', uid: process.geteuid!(), gid: process.getegid!() });
    const location = quotaMaildir(storage);
    if (!quota.enabled || location === undefined) {
      io.writeError(`Error: ${quota.enabled ? 'Maildir++ quota applies only to mail in Maildir' : 'Quota not enabled'}`);
      io.writeOut(formatQuotaTable([], io.columns));
      return EX_NOTFOUND;
    }
    const options: MaildirsizeOptions = {
      isIgnored: ignoredFolders(quota, storage, location.layout),
      permissions: await permissionsOf([location.root], process.getegid!()),
      hostname: fileHostname,
      layout: location.layout,
    };
    const configured = rootLimits(quota);
    const state = command === 'get' ? await readMaildirsize(location.root, configured, options) : await recalculateMaildirsize(location.root, configured, options);
    io.writeOut(formatQuotaTable(quotaRows(quota, state), io.columns));
    return EX_OK;
  } catch (error) {
    const failure = asDeliveryFailure(error);
    io.writeError(`Error: ${failure.message}`);
    return failure.kind === 'no-such-user' ? EX_NOUSER : failure.kind === 'usage' ? EX_USAGE : EX_TEMPFAIL;
  }
}

export interface QuotaRow {
  root: string;
  type: 'STORAGE' | 'MESSAGE';
  value: number;
  /** undefined: no limit */
  limit: number | undefined;
}

/**
 * doveadm quota get's rows: STORAGE in kilobytes (value and limit rounded
 * up), then MESSAGE, with the limits that apply to the mailbox "" as
 * Dovecot asks for them. A root dropped by `ignoreunlimited` has no rows.
 */
export function quotaRows(quota: QuotaSettings, state: { limits: QuotaLimits; usage: QuotaUsage }): QuotaRow[] {
  const { limits } = limitsFor(quota, '', state.limits);
  const unlimited = limits.storageBytes === undefined && limits.messages === undefined;
  if (quota.ignoreUnlimited && unlimited) return [];
  const kilobytes = (bytes: number) => Math.ceil(bytes / 1024);
  return [
    { root: quota.rootName, type: 'STORAGE', value: kilobytes(state.usage.bytes), limit: limits.storageBytes === undefined ? undefined : kilobytes(limits.storageBytes) },
    { root: quota.rootName, type: 'MESSAGE', value: state.usage.messages, limit: limits.messages },
  ];
}

const HEADERS = [
  { title: 'Quota name', right: false },
  { title: 'Type', right: false },
  { title: 'Value', right: true },
  { title: 'Limit', right: true },
  { title: '%', right: true },
];
const DEFAULT_COLUMNS = 80;
const MIN_COLUMNS = 30;

/**
 * doveadm's table formatter: each column as wide as its widest cell, the
 * last one widened by half the room left on the line (or columns shrunk,
 * last first, when the line is too long); right-justified numbers.
 */
export function formatQuotaTable(rows: readonly QuotaRow[], columns = DEFAULT_COLUMNS): string {
  const width = Math.max(columns, MIN_COLUMNS);
  const cells = rows.map((row) => [
    row.root,
    row.type,
    String(row.value),
    row.limit === undefined ? '-' : String(row.limit),
    row.limit === undefined || row.limit === 0 ? '0' : String(Math.floor((row.value * 100) / row.limit)),
  ]);
  const lengths = HEADERS.map((header, i) => Math.max(header.title.length, ...cells.map((line) => [...line[i]!].length)));
  const minimums = HEADERS.map((header, i) => Math.min(header.title.length, ...cells.map((line) => [...line[i]!].length)));
  let total = lengths.reduce((sum, length) => sum + length + 1, -1);
  while (total > width) {
    const before = total;
    for (let i = lengths.length - 1; i >= 0; i--) {
      const slack = lengths[i]! - minimums[i]!;
      if (total - slack <= width) {
        lengths[i]! -= total - width;
        total = width;
        break;
      }
      // as doveadm does: this takes from the column but not from the line's length
      if (slack > 0) lengths[i]! -= slack === 1 ? 1 : Math.floor(slack / 2);
    }
    if (total === before) break;
  }
  if (total < width) lengths[lengths.length - 1]! += Math.floor((width - total) / 2);
  const line = (values: readonly string[]) =>
    values.map((value, i) => (HEADERS[i]!.right ? value.padStart(lengths[i]!) : value.padEnd(lengths[i]!))).join(' ');
  return [HEADERS.map((header) => header.title), ...cells].map((values) => `${line(values)}\n`).join('');
}
