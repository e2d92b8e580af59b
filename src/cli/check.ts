// `dovetail --check [-c CONF] [-d USER]`: tells an administrator what is wrong
// with the set-up, without delivering anything. It loads the config as the
// LDA does, probes the userdb chain, checks that each passwd-file is readable
// by the user the LDA runs as, resolves USER (with -d; without it, as the LDA
// does for a non-root caller) and opens its mail storage dry (nothing is
// created), checks that the user can create mbox dotlocks in the INBOX's
// directory, directly or through mail_privileged_group held by a setgid
// relay or binary, and checks the permissions of the executable and relay.
// For a user with quota it says which limits apply, or that an mbox user's
// quota settings are ignored; a malformed quota setting is a problem.
//
// Every finding is one line, "ok: ..." or "problem: ...", then a summary.
// Exit status: 0 when there is no problem, else 78 (EX_CONFIG), also for a
// bad command line or an error nobody expected; --check never answers
// anything else. The decisions are pure functions over injected file facts;
// main.ts imports this module only for --check, so delivery never loads it.

import { closeSync, openSync, readSync, realpathSync, statSync } from 'node:fs';
import { hostname as systemHostname } from 'node:os';
import { dirname, join } from 'node:path';
import { isSea } from 'node:sea';
import { getopt } from './getopt.js';
import { EX_CONFIG, EX_OK } from '../deliver/outcomes.js';
import { DEFAULT_CONFIG_PATH, loadSettings } from '../config/settings.js';
import type { Settings } from '../config/types.js';
import { resolveLdaUser, type MailUser } from '../deliver/lda-user.js';
import { lookupUser } from '../userdb/lookup.js';
import { parsePasswdFileArgs } from '../userdb/passwd-file.js';
import { gidOf } from '../userdb/system-accounts.js';
import { openMailStorage } from '../storage/index.js';
import { storageOptionsFor, userHome } from '../deliver/storage-options.js';
import { parseMailLocation } from '../storage/mail-location.js';
import { lookupPasswdHome } from '../storage/passwd-home.js';
import type { StorageOptions } from '../storage/types.js';
import { defaultRuleForced, quotaSettingsFor, rootLimits } from '../quota/settings.js';
import { quotaMaildir } from '../quota/enforce.js';
import type { QuotaSettings } from '../quota/types.js';

export const CHECK_USAGE = 'dovetail --check [-c config_file] [-d destination_user]';
/** the relay install.sh --relay puts beside the executable */
export const RELAY_NAME = 'dovetail-relay';
/** the group the relay belongs to when mail_privileged_group names none */
const DEFAULT_RELAY_GROUP = 'mail';
/** a name no userdb should know: looking it up still reads every userdb */
const PROBE_USERNAME = 'dovetail-check-probe';

const S_ISUID = 0o4000;
const S_ISGID = 0o2000;
const READ = 4;
const WRITE = 2;
const SEARCH = 1;

export interface FileStat {
  mode: number;
  uid: number;
  gid: number;
  isDirectory: boolean;
}

/** stat() following symlinks; undefined when the path does not exist or cannot be reached. */
export type StatOf = (path: string) => FileStat | undefined;

/** Who the kernel checks permissions for: a uid and every group the process has. */
export interface Identity {
  uid: number;
  gids: readonly number[];
}

export interface ProgramFacts {
  path: string;
  stat: FileStat;
  /** starts with "#!": the kernel ignores set-id bits on it */
  isScript: boolean;
}

export interface Finding {
  ok: boolean;
  text: string;
}

const ok = (text: string): Finding => ({ ok: true, text });
const problem = (text: string): Finding => ({ ok: false, text });

// ---- decisions (pure) ----

function describeIdentity(who: Identity): string {
  return `uid ${who.uid} gid ${who.gids.join(',')}`;
}

function describeStat(stat: FileStat): string {
  return `mode ${(stat.mode & 0o7777).toString(8).padStart(4, '0')} owner ${stat.uid}:${stat.gid}`;
}

/** The kernel's permission check for one permission bit (root: everything but executing a file nobody may execute). */
function permits(stat: FileStat, who: Identity, bit: number): boolean {
  if (who.uid === 0) return bit !== SEARCH || stat.isDirectory || (stat.mode & 0o111) !== 0;
  if (stat.uid === who.uid) return ((stat.mode >> 6) & bit) !== 0;
  if (who.gids.includes(stat.gid)) return ((stat.mode >> 3) & bit) !== 0;
  return (stat.mode & bit) !== 0;
}

/** The directories to search on the way to an absolute path, outermost first. */
function ancestors(path: string): string[] {
  const result: string[] = [];
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    result.unshift(dir);
    if (dir === dirname(dir)) return result;
  }
}

/**
 * Why `who` cannot read `path` (a file) or create files in it (a
 * directory: write and search); undefined when it can.
 */
export function accessProblem(path: string, want: 'read' | 'write', who: Identity, statOf: StatOf): string | undefined {
  for (const dir of ancestors(path)) {
    const stat = statOf(dir);
    if (stat === undefined) return `${path}: does not exist`;
    if (!permits(stat, who, SEARCH)) return `${dir}: ${describeIdentity(who)} cannot pass through it (${describeStat(stat)})`;
  }
  const stat = statOf(path);
  if (stat === undefined) return `${path}: does not exist`;
  const allowed = want === 'read' ? permits(stat, who, READ) : permits(stat, who, WRITE) && (!stat.isDirectory || permits(stat, who, SEARCH));
  if (!allowed) return `${path}: not ${want === 'read' ? 'readable' : 'writable'} by ${describeIdentity(who)} (${describeStat(stat)})`;
  return undefined;
}

/** Why `who` can neither write the directory `path` nor create it in its nearest existing parent. */
export function creatableProblem(path: string, who: Identity, statOf: StatOf): string | undefined {
  let existing = path;
  while (statOf(existing) === undefined && existing !== dirname(existing)) existing = dirname(existing);
  const stat = statOf(existing);
  if (stat !== undefined && !stat.isDirectory) return `${existing}: not a directory`;
  return accessProblem(existing, 'write', who, statOf);
}

export interface SpoolFacts {
  /** the directory the INBOX mbox and its dotlock live in */
  dir: string;
  user: Identity;
  /** mail_privileged_group as set: its name and gid (undefined: no such group); undefined when unset */
  privilegedGroup?: { name: string; gid?: number };
  /** the executable and the relay: the programs Postfix may start */
  programs: readonly ProgramFacts[];
}

/** Can the user create the INBOX and its dotlock in the spool directory, directly or through the privileged group? */
export function spoolFinding(facts: SpoolFacts, statOf: StatOf): Finding {
  const direct = accessProblem(facts.dir, 'write', facts.user, statOf);
  if (direct === undefined) return ok(`${facts.dir}: the user creates dotlocks directly`);
  const group = facts.privilegedGroup;
  if (group === undefined) {
    return problem(`${direct}; no dotlock can be made there: set mail_privileged_group to a group that may write it (and install the relay: scripts/install.sh --relay)`);
  }
  if (group.gid === undefined) return problem(`${direct}; mail_privileged_group ${group.name} does not exist`);
  const throughGroup = accessProblem(facts.dir, 'write', { uid: facts.user.uid, gids: [group.gid] }, statOf);
  if (throughGroup !== undefined) return problem(`${throughGroup}: not even through mail_privileged_group ${group.name}`);
  const holder = facts.programs.find((program) => grantsGroup(program, group.gid!));
  if (holder === undefined) {
    const names = facts.programs.map((program) => program.path).join(' nor ');
    return problem(
      `${facts.dir}: only mail_privileged_group ${group.name} may write it, and neither ${names} is setgid ${group.name}: only a delivery started as root could lock there (scripts/install.sh --relay, then run ${RELAY_NAME} from Postfix)`,
    );
  }
  return ok(`${facts.dir}: dotlocks through mail_privileged_group ${group.name}, held by ${holder.path}`);
}

function grantsGroup(program: ProgramFacts, gid: number): boolean {
  return !program.isScript && (program.stat.mode & S_ISGID) !== 0 && program.stat.gid === gid;
}

/** The executable must not be writable by others nor setuid-root for everyone; the relay must be 2755 root:GROUP. */
export function programFindings(binary: ProgramFacts, relay: ProgramFacts | undefined, relayGroup: { name: string; gid?: number }): Finding[] {
  const findings = [executableFinding(binary)];
  if (binary.isScript && (binary.stat.mode & (S_ISUID | S_ISGID)) !== 0) {
    findings.push(problem(`${binary.path}: a script; the kernel ignores its set-id bits (use the relay: scripts/install.sh --relay)`));
  }
  if (relay !== undefined) {
    findings.push(executableFinding(relay));
    const { stat } = relay;
    const expected = (stat.mode & 0o7777) === 0o2755 && stat.uid === 0 && stat.gid === relayGroup.gid;
    findings.push(
      expected
        ? ok(`${relay.path}: setgid ${relayGroup.name} (${describeStat(stat)})`)
        : problem(`${relay.path}: ${describeStat(stat)}, expected mode 2755 owner root:${relayGroup.name} (scripts/install.sh --relay sets it)`),
    );
  }
  return findings;
}

function executableFinding(program: ProgramFacts): Finding {
  const { mode, uid } = program.stat;
  if ((mode & 0o002) !== 0) return problem(`${program.path}: world-writable (${describeStat(program.stat)}); anyone could replace what Postfix runs`);
  if ((mode & S_ISUID) !== 0 && uid === 0 && (mode & 0o001) !== 0) {
    return problem(`${program.path}: must not be both world-executable and setuid-root (${describeStat(program.stat)})`);
  }
  return ok(`${program.path}: ${describeStat(program.stat)}`);
}

/**
 * What quota a delivery applies: none (undefined) when it is not enabled;
 * for mail not in Maildir (mbox), a note that the settings are ignored, as
 * Maildir++ quota counts only a Maildir; else the whole quota's limits (the
 * `*` rule's, or the `?` rule's, which limits written in maildirsize replace).
 */
export function quotaFinding(quota: QuotaSettings, inMaildir: boolean): Finding | undefined {
  if (!quota.enabled) return undefined;
  const name = `quota maildir:${quota.rootName}`;
  if (!inMaildir) return ok(`${name}: ignored, the mail is not in Maildir (mbox): Maildir++ quota counts only a Maildir`);
  const limits = rootLimits(quota);
  const storage = limits.storageBytes === undefined ? 'no storage limit' : `storage ${limits.storageBytes} bytes`;
  const messages = limits.messages === undefined ? 'no message limit' : `${limits.messages} messages`;
  const source = defaultRuleForced(quota) ? '' : ' (unless maildirsize holds limits: no * rule forces these)';
  const enforcing = quota.noEnforcing ? ', counted but not enforced (noenforcing)' : '';
  return ok(`${name}: ${storage}, ${messages}${source}${enforcing}`);
}

/** One line per finding, then the summary; the exit status. */
export function formatReport(findings: readonly Finding[]): { lines: string[]; status: number } {
  const lines = findings.map((finding) => `${finding.ok ? 'ok' : 'problem'}: ${finding.text}`);
  const problems = findings.filter((finding) => !finding.ok).length;
  lines.push(problems === 0 ? 'dovetail --check: no problems found' : `dovetail --check: ${problems} problem${problems === 1 ? '' : 's'} found`);
  return { lines, status: problems === 0 ? EX_OK : EX_CONFIG };
}

// ---- gathering the facts ----

export interface CheckIo {
  argv: readonly string[];
  env: NodeJS.ProcessEnv;
  writeLine(line: string): void;
  /** the executable Postfix runs; default: this process's own (the single executable, or the bundle's launcher) */
  executable?: string;
}

/** Runs every check and prints the report; returns 0 or 78. Never throws. */
export async function runCheck(io: CheckIo): Promise<number> {
  let findings: Finding[];
  try {
    findings = await check(io);
  } catch (error) {
    findings = [problem(`internal error: ${(error as Error)?.message ?? String(error)}`)];
  }
  const report = formatReport(findings);
  for (const line of report.lines) io.writeLine(line);
  return report.status;
}

interface CheckArgs {
  configPath?: string;
  user?: string;
}

function parseCheckArgs(argv: readonly string[]): CheckArgs | string {
  const parsed = getopt(argv, 'c:d:');
  if (!parsed.ok) return `${parsed.error}; usage: ${CHECK_USAGE}`;
  if (parsed.operands.length > 0) return `unexpected argument ${parsed.operands[0]}; usage: ${CHECK_USAGE}`;
  const args: CheckArgs = {};
  for (const option of parsed.options) {
    if (option.letter === 'c') args.configPath = option.value;
    else args.user = option.value;
  }
  return args;
}

async function check(io: CheckIo): Promise<Finding[]> {
  const args = parseCheckArgs(io.argv);
  if (typeof args === 'string') return [problem(args)];
  const configName = args.configPath ?? (statOf(DEFAULT_CONFIG_PATH) ? DEFAULT_CONFIG_PATH : `(none: no ${DEFAULT_CONFIG_PATH}, built-in defaults)`);
  let settings: Settings;
  try {
    settings = loadSettings({ configPath: args.configPath, protocol: 'lda', overrides: [] });
  } catch (error) {
    return [problem(`config ${configName}: ${(error as Error).message}`)];
  }
  const findings: Finding[] = [ok(`config ${configName} loads`)];
  const privilegedGroup = settings.mail_privileged_group === '' ? undefined : { name: settings.mail_privileged_group, gid: (await gidOf(settings.mail_privileged_group)) ?? undefined };
  if (privilegedGroup?.gid === undefined && privilegedGroup !== undefined) {
    findings.push(problem(`mail_privileged_group: unknown group ${privilegedGroup.name}; every delivery would fail`));
  }
  const hostname = settings.hostname || io.env.DOVECOT_HOSTDOMAIN || systemHostname();
  const euid = process.geteuid!();
  const user = await resolveUser(args.user, settings, hostname, io.env, euid, findings);
  const runsAs = user === undefined || user.uid === undefined ? processIdentity() : { uid: user.uid, gids: [user.gid ?? user.uid] };
  findings.push(...passwdFileFindings(settings, runsAs));
  const programs = ownPrograms(io.executable);
  if (user !== undefined) findings.push(...storageFindings(settings, user, hostname, runsAs, privilegedGroup, programs));
  const relayGroupName = privilegedGroup?.name ?? DEFAULT_RELAY_GROUP;
  const relayGroup = privilegedGroup ?? { name: relayGroupName, gid: (await gidOf(relayGroupName)) ?? undefined };
  findings.push(...programFindings(programs[0], programs[1], relayGroup));
  return findings;
}

/** The mail user as the LDA finds it; undefined (with a finding) when there is none. */
async function resolveUser(
  name: string | undefined,
  settings: Settings,
  hostname: string,
  env: NodeJS.ProcessEnv,
  euid: number,
  findings: Finding[],
): Promise<MailUser | undefined> {
  if (name === undefined && euid === 0) {
    findings.push(await userdbProbe(settings, hostname));
    findings.push(ok('no -d USER: the user, mail_location and spool checks are skipped'));
    return undefined;
  }
  try {
    const user = await resolveLdaUser(name, { settings, hostname, env, euid });
    if (user.uid === undefined && euid === 0) {
      findings.push(problem(`user ${user.username}: no uid/gid in the userdb and mail_uid/mail_gid unset; the LDA refuses to deliver as root`));
      return undefined;
    }
    findings.push(ok(`user ${user.username}: uid ${user.uid ?? euid} gid ${user.gid ?? process.getegid!()} home ${user.home || '(none)'}`));
    return user;
  } catch (error) {
    findings.push(problem(`user ${name ?? env.USER ?? `uid ${euid}`}: ${(error as Error).message}`));
    return undefined;
  }
}

/** Looks up a name no userdb knows: every userdb is set up and read, as a real lookup would. */
async function userdbProbe(settings: Settings, hostname: string): Promise<Finding> {
  try {
    await lookupUser(settings.userdbs, PROBE_USERNAME, {
      service: 'lda',
      hostname,
      authUsernameFormat: settings.auth_username_format,
      authUsernameChars: settings.raw.get('auth_username_chars'),
    });
    return ok(`userdbs answer lookups (${settings.userdbs.map((userdb) => userdb.driver).join(', ') || 'passwd, the default'})`);
  } catch (error) {
    return problem((error as Error).message);
  }
}

/** Each passwd-file without %-variables must be readable by the user the LDA runs as. */
function passwdFileFindings(settings: Settings, runsAs: Identity): Finding[] {
  return settings.userdbs
    .filter((userdb) => userdb.driver === 'passwd-file')
    .map((userdb) => {
      const name = `userdb passwd-file at ${userdb.origin}`;
      try {
        const args = parsePasswdFileArgs(userdb.args, name);
        if (args.hasVariables) return ok(`${name}: ${args.path} has variables; only a lookup with -d checks it`);
        const reason = accessProblem(args.path, 'read', runsAs, statOf);
        return reason === undefined ? ok(`${name}: ${args.path} readable by ${describeIdentity(runsAs)}`) : problem(`${name}: ${reason}`);
      } catch (error) {
        return problem((error as Error).message);
      }
    });
}

function storageFindings(
  settings: Settings,
  user: MailUser,
  hostname: string,
  who: Identity,
  privilegedGroup: SpoolFacts['privilegedGroup'],
  programs: readonly ProgramFacts[],
): Finding[] {
  const home = userHome(settings, user, hostname, 'lda');
  let mailLocation = '';
  let options: StorageOptions;
  try {
    options = storageOptionsFor(settings, user, home, { hostname, fileHostname: hostname, service: 'lda', uid: who.uid, gid: who.gids[0]! });
    mailLocation = options.mailLocation;
    openMailStorage(options);
  } catch (error) {
    return [problem(`mail_location ${mailLocation || '(autodetect)'}: ${(error as Error).message}`)];
  }
  const findings = [ok(`mail_location ${mailLocation || '(autodetect)'} opens`)];
  const quota = quotaFindingFor(settings, user, home, hostname, options);
  if (quota !== undefined) findings.push(quota);
  const location = parseMailLocation(mailLocation, home, lookupPasswdHome);
  if (location.driver !== 'maildir' && location.driver !== 'mbox') return findings;
  const rootProblem = creatableProblem(location.root, who, statOf);
  findings.push(rootProblem === undefined ? ok(`mail root ${location.root}: the user can write or create it`) : problem(`mail root ${location.root}: ${rootProblem}`));
  const dotlocks = settings.mbox_write_locks.split(/\s+/).includes('dotlock');
  if (location.driver === 'mbox' && dotlocks) {
    const inbox = location.inbox ?? join(location.root, 'inbox');
    findings.push(spoolFinding({ dir: dirname(inbox), user: who, privilegedGroup, programs }, statOf));
  }
  return findings;
}

/** The user's quota settings as a delivery reads them; a malformed one is a problem, since every delivery would defer. */
function quotaFindingFor(settings: Settings, user: MailUser, home: string, hostname: string, storage: StorageOptions): Finding | undefined {
  try {
    return quotaFinding(quotaSettingsFor(settings, user, home, hostname), quotaMaildir(storage) !== undefined);
  } catch (error) {
    return problem(`quota: ${(error as Error).message}; every delivery to this user would be deferred`);
  }
}

function processIdentity(): Identity {
  return { uid: process.geteuid!(), gids: [process.getegid!(), ...process.getgroups!()] };
}

/** The executable (the single executable itself, or the bundle's launcher script) and, when installed beside it, the relay. */
function ownPrograms(executable: string | undefined): ProgramFacts[] {
  const path = realpathSync(executable ?? (isSea() ? process.execPath : process.argv[1]!));
  const programs = [programFacts(path)!];
  const relay = programFacts(join(dirname(path), RELAY_NAME));
  return relay === undefined ? programs : [...programs, relay];
}

function programFacts(path: string): ProgramFacts | undefined {
  const stat = statOf(path);
  return stat === undefined ? undefined : { path, stat, isScript: startsWithShebang(path) };
}

function startsWithShebang(path: string): boolean {
  const head = Buffer.alloc(2);
  const fd = openSync(path, 'r');
  try {
    return readSync(fd, head, 0, 2, 0) === 2 && head.toString('latin1') === '#!';
  } finally {
    closeSync(fd);
  }
}

function statOf(path: string): FileStat | undefined {
  try {
    const stat = statSync(path);
    return { mode: stat.mode, uid: stat.uid, gid: stat.gid, isDirectory: stat.isDirectory() };
  } catch {
    return undefined;
  }
}
