// The `passwd-file` userdb (Dovecot auth/db-passwd-file.c, userdb-passwd-file.c).
// args: `[username_format=FMT] PATH`; PATH may hold %-variables
// (`/etc/dovecot/users/%d`). Lines are
// `user:password:uid:gid:gecos:home:shell:extra_fields`, extra fields being
// space-separated `key=value` words of which only `userdb_*` ones belong to the
// userdb (the prefix is dropped, the value %-expanded). The file is scanned
// for the user's line on each lookup, not parsed whole; the first line for a
// user wins, as in Dovecot.
//
// As in Dovecot 2.3.19: empty lines and lines starting with ":" or "#" are
// skipped; an empty uid, gid or home column means "not set"; a line without a
// gid column at all carries no userdb data (user unknown); the old format
// `...:shell::MAIL` still gives the mail field; an expanded path outside the
// directory before the first % (`%d` = "../x"), or a missing file under a
// variable path (a domain without users), means user unknown.
//
// Failure (temporary DeliveryFailure, so result_internalfail applies): the
// file cannot be read (EACCES, a directory, a path under a file) or is
// missing although its path has no variables (on purpose: Dovecot 2.3 answers
// "unknown user" then, which bounces every message while a misconfiguration
// lasts); a uid or gid column that names no account or is 0 (Dovecot drops
// such a line, which bounces; Dovetail defers so that the entry can be fixed).

import { readFile } from 'node:fs/promises';
import { posix } from 'node:path';
import { expandVariables, type VariableTable } from '../config/var-expand.js';
import { temporary } from '../deliver/failure.js';
import type { UserdbDriver, UserdbField } from './driver.js';
import { gidOf, uidOf } from './system-accounts.js';

const USERNAME_FORMAT_ARG = 'username_format=';
const DEFAULT_USERNAME_FORMAT = '%u';
const USERDB_PREFIX = 'userdb_';

export interface PasswdFileArgs {
  /** the key looked up in the file, as a %-template */
  usernameFormat: string;
  /** the file, as a %-template when `hasVariables` */
  path: string;
  hasVariables: boolean;
}

/** One user's line, split into the columns a userdb uses. */
export interface PasswdFileEntry {
  /** false when the line has no gid column: the user is known only to a passdb */
  hasUserdbColumns: boolean;
  /** "" = not set */
  uid: string;
  gid: string;
  home: string;
  /** `key=value` words, as written */
  extraFields: string[];
}

export function passwdFileDriver(args: string, userdbName: string): UserdbDriver {
  const parsed = parsePasswdFileArgs(args, userdbName);
  return {
    lookup: (_username, variables) => lookupInFile(parsed, variables, userdbName),
  };
}

export function parsePasswdFileArgs(args: string, userdbName: string): PasswdFileArgs {
  let usernameFormat = DEFAULT_USERNAME_FORMAT;
  let path = args.trim();
  if (path.startsWith(USERNAME_FORMAT_ARG)) {
    const rest = path.slice(USERNAME_FORMAT_ARG.length);
    const space = rest.indexOf(' ');
    usernameFormat = space < 0 ? rest : rest.slice(0, space);
    path = space < 0 ? '' : rest.slice(space + 1).trim();
  }
  if (path === '') throw temporary(`${userdbName}: passwd-file needs a file name in args`);
  const hasVariables = path.replaceAll('%%', '').includes('%');
  return { usernameFormat, path: hasVariables ? path : path.replaceAll('%%', '%'), hasVariables };
}

/**
 * The first line of `text` whose user column is `key`, and its 1-based
 * number; null when there is none (or `key` could never name a line).
 */
export function findUserLine(text: string, key: string): { line: string; lineNumber: number } | null {
  if (key === '' || key.startsWith('#') || /[:\n]/.test(key)) return null;
  for (let at = text.indexOf(key); at >= 0; at = text.indexOf(key, at + 1)) {
    if (at > 0 && text[at - 1] !== '\n') continue;
    const end = text.indexOf('\n', at);
    const line = stripCarriageReturn(text.slice(at, end < 0 ? text.length : end));
    if (line.length !== key.length && line[key.length] !== ':') continue;
    return { line, lineNumber: countLines(text, at) };
  }
  return null;
}

/** The userdb columns of a line known to start with the user's name. */
export function parsePasswdFileLine(line: string): PasswdFileEntry {
  const columns = line.split(':');
  const [, , uid = '', gid, , home = '', shell] = columns;
  const hasUserdbColumns = gid !== undefined;
  if (shell === undefined || columns.length <= 7) {
    return { hasUserdbColumns, uid, gid: gid ?? '', home, extraFields: [] };
  }
  const rest = columns.slice(7);
  // Dovecot 1.x lines: `...:shell::mail_location` (the column after the shell empty)
  const extra = rest[0] === '' ? oldFormatMail(rest.slice(1)) : rest.join(':');
  return { hasUserdbColumns, uid, gid: gid ?? '', home, extraFields: extra.split(' ').filter((word) => word !== '') };
}

function oldFormatMail(columns: string[]): string {
  const mail = columns.join(':');
  return mail === '' ? '' : `${USERDB_PREFIX}mail=${mail}`;
}

function stripCarriageReturn(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

function countLines(text: string, end: number): number {
  let lines = 1;
  for (let at = text.indexOf('\n'); at >= 0 && at < end; at = text.indexOf('\n', at + 1)) lines++;
  return lines;
}

async function lookupInFile(
  args: PasswdFileArgs,
  variables: VariableTable,
  userdbName: string,
): Promise<UserdbField[] | null> {
  const path = args.hasVariables ? expandVariables(args.path, variables) : args.path;
  if (args.hasVariables && !isInsideTemplateBase(args.path, path)) return null;
  const text = await readUsersFile(path, args.hasVariables, userdbName);
  if (text === null) return null;
  const key = expandVariables(args.usernameFormat, variables);
  const found = findUserLine(text, key);
  if (found === null) return null;
  const entry = parsePasswdFileLine(found.line);
  if (!entry.hasUserdbColumns) return null;
  const where = `${userdbName}: ${path}:${found.lineNumber}: user ${key}`;
  return [
    ...(await identityField('uid', entry.uid, where)),
    ...(await identityField('gid', entry.gid, where)),
    ...(entry.home === '' ? [] : [['home', entry.home] as const]),
    ...userdbExtraFields(entry.extraFields, variables),
  ];
}

/**
 * Dovecot 2.3.19 refuses an expanded path whose normalised form is not under
 * the part of the template before its first % (so `%d` = "../../etc" cannot
 * reach other files).
 */
export function isInsideTemplateBase(template: string, expandedPath: string): boolean {
  const firstVariable = template.indexOf('%');
  if (firstVariable <= 0) return true;
  const normalized = posix.normalize(expandedPath);
  const withoutSlash = normalized.length > 1 && normalized.endsWith('/') ? normalized.slice(0, -1) : normalized;
  return withoutSlash.startsWith(template.slice(0, firstVariable));
}

async function readUsersFile(path: string, missingMeansUnknown: boolean, userdbName: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if (missingMeansUnknown && (error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw temporary(`${userdbName}: can't read passwd-file ${path}: ${(error as Error).message.split(', ')[0]}`);
  }
}

async function identityField(key: 'uid' | 'gid', column: string, where: string): Promise<UserdbField[]> {
  if (column === '') return [];
  const id = key === 'uid' ? await uidOf(column) : await gidOf(column);
  if (id === null || id === 0) throw temporary(`${where} has invalid ${key.toUpperCase()} '${column}'`);
  return [[key, String(id)]];
}

/** `userdb_key=value` words as [key, expanded value]; other words belong to the passdb. */
function userdbExtraFields(words: string[], variables: VariableTable): UserdbField[] {
  return words
    .filter((word) => word.startsWith(USERDB_PREFIX))
    .map((word) => {
      const field = word.slice(USERDB_PREFIX.length);
      const equals = field.indexOf('=');
      if (equals < 0) return [field, ''] as const;
      return [field.slice(0, equals), expandVariables(field.slice(equals + 1), variables)] as const;
    });
}
