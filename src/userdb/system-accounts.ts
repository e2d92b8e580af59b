// System account lookups (getpwnam, getpwuid, getgrnam): the one place that
// reads the system's user and group databases. /etc/passwd and /etc/group are
// scanned directly (fast, no process); a name or id not found there is asked
// of `getent` (5 s limit), so NSS sources such as LDAP or systemd still work.
//
// Failure: null when the account does not exist (not in the file and getent
// exits 2, or getent is not installed); a temporary DeliveryFailure when
// getent fails otherwise or times out.

import { readFile } from 'node:fs/promises';
import { temporary } from '../deliver/failure.js';

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  gecos: string;
  home: string;
  shell: string;
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

/** Where accounts come from; tests point these at fixtures. */
export interface AccountSources {
  passwdFile: string;
  groupFile: string;
  getentCommand: string;
}

const SYSTEM_SOURCES: AccountSources = { passwdFile: '/etc/passwd', groupFile: '/etc/group', getentCommand: 'getent' };

/** (uid_t)-1: ids are below it */
const MAX_ID = 0xffffffff;
const GETENT_TIMEOUT_MS = 5000;
/** getent's exit status for "key not found" */
const GETENT_NOT_FOUND = 2;

export function getpwnam(name: string, sources: AccountSources = SYSTEM_SOURCES): Promise<PasswdEntry | null> {
  return findAccount(sources.passwdFile, 'passwd', name, sources.getentCommand, parsePasswdLine, (entry) => entry.name === name);
}

export function getpwuid(uid: number, sources: AccountSources = SYSTEM_SOURCES): Promise<PasswdEntry | null> {
  return findAccount(sources.passwdFile, 'passwd', String(uid), sources.getentCommand, parsePasswdLine, (entry) => entry.uid === uid);
}

export function getgrnam(name: string, sources: AccountSources = SYSTEM_SOURCES): Promise<GroupEntry | null> {
  return findAccount(sources.groupFile, 'group', name, sources.getentCommand, parseGroupLine, (entry) => entry.name === name);
}

/** A uid written as a number or a user name (Dovecot's userdb_parse_uid); null when it is neither. */
export async function uidOf(text: string, sources: AccountSources = SYSTEM_SOURCES): Promise<number | null> {
  if (isId(text)) return idNumber(text);
  return text === '' ? null : ((await getpwnam(text, sources))?.uid ?? null);
}

/** A gid written as a number or a group name (Dovecot's userdb_parse_gid); null when it is neither. */
export async function gidOf(text: string, sources: AccountSources = SYSTEM_SOURCES): Promise<number | null> {
  if (isId(text)) return idNumber(text);
  return text === '' ? null : ((await getgrnam(text, sources))?.gid ?? null);
}

/** One /etc/passwd line, or null when it is not a well-formed entry (NIS "+" lines included). */
export function parsePasswdLine(line: string): PasswdEntry | null {
  const fields = line.split(':');
  if (fields.length < 7 || fields[0] === '' || !isId(fields[2]) || !isId(fields[3])) return null;
  const [name, , uid, gid, gecos, home, shell] = fields;
  return { name, uid: Number(uid), gid: Number(gid), gecos, home, shell };
}

/** One /etc/group line, or null when it is not a well-formed entry. */
export function parseGroupLine(line: string): GroupEntry | null {
  const fields = line.split(':');
  if (fields.length < 4 || fields[0] === '' || !isId(fields[2])) return null;
  const members = fields[3] === '' ? [] : fields[3].split(',');
  return { name: fields[0], gid: Number(fields[2]), members };
}

function isId(text: string): boolean {
  return /^\d+$/.test(text);
}

/** A decimal id, or null past the largest valid one ((uid_t)-1 means "no id"). */
function idNumber(text: string): number | null {
  const id = Number(text);
  return id < MAX_ID ? id : null;
}

async function findAccount<Entry>(
  file: string,
  database: 'passwd' | 'group',
  key: string,
  getentCommand: string,
  parse: (line: string) => Entry | null,
  matches: (entry: Entry) => boolean,
): Promise<Entry | null> {
  const fromFile = (await readLines(file)).map(parse).find((entry) => entry !== null && matches(entry));
  if (fromFile) return fromFile;
  const line = await getentLine(getentCommand, database, key);
  const entry = line === null ? null : parse(line);
  return entry !== null && matches(entry) ? entry : null;
}

/** The file's lines; none when it cannot be read (getent is then the only source). */
async function readLines(file: string): Promise<string[]> {
  try {
    return (await readFile(file, 'utf8')).split('\n');
  } catch {
    return [];
  }
}

/** The first line getent prints for `key`, or null when it does not know the key. */
async function getentLine(command: string, database: string, key: string): Promise<string | null> {
  // not import(): inside the single executable the bundle runs through node:vm, where a dynamic import has no loader
  const { execFile } = process.getBuiltinModule('node:child_process');
  return new Promise((resolve, reject) => {
    execFile(command, [database, '--', key], { timeout: GETENT_TIMEOUT_MS, encoding: 'utf8' }, (error, stdout) => {
      if (error === null) resolve(stdout.split('\n', 1)[0]);
      else if (error.code === GETENT_NOT_FOUND || error.code === 'ENOENT') resolve(null);
      else if (error.killed) reject(temporary(`getent ${database} ${key} timed out after ${GETENT_TIMEOUT_MS / 1000} s`));
      else reject(temporary(`getent ${database} ${key} failed: ${error.message.split('\n', 1)[0]}`));
    });
  });
}
