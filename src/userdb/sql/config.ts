// The SQL userdb's args file (dovecot-sql.conf.ext), read the way Dovecot
// 2.3.19's auth reads it (lib-settings settings_read_nosection, auth/db-sql.c).
// Checked against Dovecot 2.3.19 itself (a private `dovecot -c` with
// `userdb { driver = sql }`, asked with `doveadm user`):
//
// - `key = value` lines; spaces and tabs around the key, the `=` and the value
//   are dropped (`key=value` works too); CR LF line ends are accepted.
// - `#` starts a comment outside '...' and "..." (Dovecot warns when no space
//   precedes it, and still cuts there); lines that are only a comment are
//   skipped, even between continued lines.
// - A line ending in `\` continues on the next one: the backslash and the
//   spaces around it become one space.
// - A value wholly inside "..." or '...' loses the quotes and has its
//   backslash escapes undone (`\x` → `x`). In any other value, each word that
//   starts with `$ENV:` (at the start or after a space) up to the next space
//   is replaced by that environment variable, or by nothing when it is unset.
// - `!include FILE` and `!include_try FILE` (relative to the including file)
//   read another file in place; glob patterns are not supported (Dovecot
//   expands them) and fail with a reason.
// - `name {` ... `}` sections are skipped whole (a settings_read_nosection
//   caller has no section handler).
// - The last value of a key wins. Keys: driver, connect, user_query,
//   iterate_query (used); password_query, update_query, default_pass_scheme
//   (a passdb's, accepted and ignored: a delivery agent checks no passwords);
//   userdb_warning_disable (yes/no, ignored). Dovecot's defaults apply to
//   user_query and iterate_query; driver and connect are required.
//
// Failure: every problem is an SqlError with a one-line reason naming the file
// and line: the file cannot be read, a key Dovecot does not know ("Unknown
// setting: user_qeury" — on purpose not ignored: Dovecot's auth refuses to
// start on it, and ignoring a misspelt user_query would run the default one),
// a line without `=`, an unexpected `}`, a bad boolean, no driver or connect,
// a driver other than sqlite, pgsql or mysql.

import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Environment } from '../../config/var-expand.js';
import { SqlError, type SqlDriverName } from './types.js';

export interface SqlConfig {
  /** the args file, for messages */
  path: string;
  driver: SqlDriverName;
  /** the driver's connection string, as written (a path for SQLite) */
  connect: string;
  /** %-template of the query that answers a user's fields */
  userQuery: string;
  /** the query that lists every user (doveadm -A; Dovetail does not use it yet) */
  iterateQuery: string;
}

/** Dovecot 2.3's defaults (auth/db-sql.c). */
export const DEFAULT_USER_QUERY = "SELECT home, uid, gid FROM users WHERE username = '%n' AND domain = '%d'";
export const DEFAULT_ITERATE_QUERY = 'SELECT username, domain FROM users';

const DRIVERS: readonly SqlDriverName[] = ['sqlite', 'pgsql', 'mysql'];
/** Keys Dovecot knows that concern only a passdb, or only its own warnings. */
const IGNORED_KEYS = new Set(['password_query', 'update_query', 'default_pass_scheme']);
const BOOLEAN_KEYS = new Set(['userdb_warning_disable']);
const USED_KEYS = new Set(['driver', 'connect', 'user_query', 'iterate_query']);
const ENV_PREFIX = '$ENV:';
const GLOB_CHARS = /[*?[{]/;

/** Reads and checks an args file; throws an SqlError naming the file (and line) when it is unusable. */
export async function readSqlConfig(path: string, env: Environment = process.env): Promise<SqlConfig> {
  const state: ReadState = { settings: new Map(), sectionDepth: 0, pending: '', includes: [], env };
  await readSettingsFile(path, state, false);
  const driver = state.settings.get('driver');
  const connect = state.settings.get('connect');
  if (driver === undefined) throw new SqlError(`${path}: driver not set`);
  if (connect === undefined) throw new SqlError(`${path}: connect string not set`);
  const known = DRIVERS.find((name) => name === driver);
  if (known === undefined) throw new SqlError(`${path}: Unknown database driver '${driver}'`);
  return {
    path,
    driver: known,
    connect,
    userQuery: state.settings.get('user_query') ?? DEFAULT_USER_QUERY,
    iterateQuery: state.settings.get('iterate_query') ?? DEFAULT_ITERATE_QUERY,
  };
}

interface ReadState {
  settings: Map<string, string>;
  /** > 0 inside a section, which is skipped */
  sectionDepth: number;
  /** the text of continued lines so far */
  pending: string;
  /** the files being read, outermost first (recursion check) */
  includes: string[];
  env: Environment;
}

async function readSettingsFile(path: string, state: ReadState, optional: boolean): Promise<void> {
  if (state.includes.includes(path)) throw new SqlError(`Recursive include file: ${path}`);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (optional) return;
    const reason = (error as Error).message.split(', ')[0];
    throw new SqlError(state.includes.length === 0 ? `can't read ${path}: ${reason}` : `Couldn't open include file ${path}: ${reason}`);
  }
  state.includes.push(path);
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  for (const [index, raw] of lines.entries()) {
    const where = `${path} line ${index + 1}`;
    const line = joinContinuedLine(raw, state);
    if (line !== null) await readSettingsLine(line, where, path, state);
  }
  state.includes.pop();
}

/** The logical line that ends at this physical line, or null when it is blank, a comment or continues. */
function joinContinuedLine(raw: string, state: ReadState): string | null {
  let line = stripComment(raw.endsWith('\r') ? raw.slice(0, -1) : raw).replace(/^[ \t]+/, '').replace(/[ \t]+$/, '');
  if (line === '') return null;
  if (line.endsWith('\\')) {
    state.pending += `${line.slice(0, -1).replace(/[ \t]+$/, '')} `;
    return null;
  }
  line = state.pending + line;
  state.pending = '';
  return line;
}

/** Cuts the line at the first `#` outside quotes (a backslash escapes the next character inside quotes). */
function stripComment(line: string): string {
  if (/^[ \t]*#/.test(line)) return '';
  for (let at = 0; at < line.length; at++) {
    const char = line[at];
    if (char === "'" || char === '"') {
      for (at++; at < line.length && line[at] !== char; at++) {
        if (line[at] === '\\' && at + 1 < line.length) at++;
      }
      if (at >= line.length) return line;
    } else if (char === '#') {
      return line.slice(0, at);
    }
  }
  return line;
}

async function readSettingsLine(line: string, where: string, path: string, state: ReadState): Promise<void> {
  const keyEnd = line.search(/[ \t=]|$/);
  const key = line.slice(0, keyEnd);
  const rest = line.slice(keyEnd).replace(/^[ \t]+/, '');
  if (key === '!include' || key === '!include_try') {
    const target = resolve(dirname(path), rest);
    if (GLOB_CHARS.test(rest)) throw new SqlError(`${where}: ${key} with a glob pattern is not supported: ${rest}`);
    await readSettingsFile(target, state, key === '!include_try');
    return;
  }
  if (rest.startsWith('=')) {
    if (state.sectionDepth === 0) setValue(key, settingValue(rest.slice(1).replace(/^[ \t]+/, ''), state.env), where, state);
    return;
  }
  if (key === '}' && rest === '') {
    if (state.sectionDepth === 0) throw new SqlError(`${where}: Unexpected '}'`);
    state.sectionDepth--;
    return;
  }
  // `type {` or `type name {`
  const name = rest.startsWith('{') ? '' : rest.split(/[ \t]/, 1)[0];
  const afterName = rest.slice(name.length).replace(/^[ \t]+/, '');
  if (!afterName.startsWith('{')) throw new SqlError(`${where}: Expecting '='`);
  state.sectionDepth++;
}

/** A quoted value unquoted and unescaped; any other with its $ENV: words replaced. */
function settingValue(value: string, env: Environment): string {
  const first = value[0];
  if ((first === '"' || first === "'") && value.endsWith(first)) return value.slice(1, -1).replace(/\\(.?)/gs, '$1');
  if (!value.includes(ENV_PREFIX)) return value;
  return value
    .split(' ')
    .map((word) => (word.startsWith(ENV_PREFIX) ? (env[word.slice(ENV_PREFIX.length)] ?? '') : word))
    .join(' ');
}

function setValue(key: string, value: string, where: string, state: ReadState): void {
  if (USED_KEYS.has(key)) state.settings.set(key, value);
  else if (BOOLEAN_KEYS.has(key)) {
    if (!/^(yes|no)$/i.test(value)) throw new SqlError(`${where}: Invalid boolean: ${value}`);
  } else if (!IGNORED_KEYS.has(key)) throw new SqlError(`${where}: Unknown setting: ${key}`);
}
