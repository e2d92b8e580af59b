// User lookup in-process, with the semantics of Dovecot 2.3's auth userdb
// chain (auth/auth-request.c, auth-master-connection.c) but no auth daemon.
//
// The name first goes through auth_username_chars (a character outside it:
// unknown user) and auth_username_format (default %Lu). Then the userdb
// blocks run in order: each gets its default_fields, then the driver's fields;
// its result (found / not found / internal failure) picks its rule
// (result_success, result_failure, result_internalfail: return, return-ok,
// return-fail, continue, continue-ok, continue-fail); `skip = found|notfound`
// passes over later blocks (never the first) by the success so far. Moving on
// after a success applies override_fields and keeps the fields; moving on after
// a failure rolls the fields back to the last success. The user exists when
// the chain ends in success, with the last block's override_fields applied.
//
// No userdb block: Dovetail looks the user up as a system user, as if the
// configuration said `userdb { driver = passwd }`. (Dovecot 2.3.19's auth then
// adds an implicit `static` userdb with no fields, so that every user the
// passdb knows exists and gets no uid, home or mail; dovecot-lda without -d
// looks nothing up at all.)
//
// Failure: null = the user does not exist. A temporary DeliveryFailure when
// the chain ends without success after an internal failure (the user might
// have been in that userdb), when a field is bad (uid/gid naming no account,
// `tempfail`, unreadable uidgid_file; Dovecot then fails the whole lookup),
// when a block is misconfigured (unknown driver, rule or skip value), or when
// a %-variable does not expand.

import { stat } from 'node:fs/promises';
import type { UserdbConfig } from '../config/types.js';
import { expandVariables, userVariables, type VariableTable } from '../config/var-expand.js';
import { DeliveryFailure, temporary } from '../deliver/failure.js';
import type { UserdbDriver } from './driver.js';
import { passwdDriver } from './passwd.js';
import { passwdFileDriver } from './passwd-file.js';
import { staticDriver } from './static.js';
import { gidOf, uidOf } from './system-accounts.js';
import { parseTemplate, templateFields, type TemplateField } from './template.js';
import type { UserRecord } from './types.js';
import type { ServerCaches } from '../deliver/server-caches.js';

export interface LookupContext {
  service: 'lda' | 'lmtp';
  hostname: string;
  /** auth_username_format (Dovecot's default %Lu); "" leaves the name as given */
  authUsernameFormat: string;
  /** auth_username_chars; undefined = Dovecot's default, "" = any character */
  authUsernameChars?: string;
  /** a long-running server's caches (SQL connections); absent in the LDA (one connection per lookup) */
  caches?: ServerCaches;
}

/** Dovecot's default auth_username_chars. */
export const DEFAULT_USERNAME_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01234567890.-_@';

const RULES = ['return', 'return-ok', 'return-fail', 'continue', 'continue-ok', 'continue-fail'] as const;
const SKIPS = ['never', 'found', 'notfound'] as const;

type Rule = (typeof RULES)[number];
type Skip = (typeof SKIPS)[number];
type LookupResult = 'found' | 'not-found' | 'internal-failure';

interface PreparedUserdb {
  /** "userdb passwd-file at FILE:LINE", for messages */
  name: string;
  driver: UserdbDriver;
  defaultFields: TemplateField[];
  overrideFields: TemplateField[];
  skip: Skip;
  rules: Record<LookupResult, Rule>;
}

interface LookupState {
  username: string;
  fields: Map<string, string>;
  /** the fields after the last success; a failed userdb's fields are rolled back to these */
  snapshot: Map<string, string>;
  /** Dovecot's userdb_success */
  success: boolean;
  internalFailures: string[];
  /** set by a bad field: the lookup fails temporarily whatever the chain answers */
  tempfail?: string;
}

const IMPLICIT_PASSWD_USERDB: UserdbConfig = {
  driver: 'passwd',
  args: '',
  overrideFields: '',
  defaultFields: '',
  skip: 'never',
  resultSuccess: 'return-ok',
  resultFailure: 'continue',
  resultInternalfail: 'continue',
  origin: 'the built-in default (no userdb in the configuration)',
};

export async function lookupUser(
  userdbs: UserdbConfig[],
  username: string,
  context: LookupContext,
): Promise<UserRecord | null> {
  const formatted = formatUsername(username, context);
  if (formatted === null) return null;
  const configs = userdbs.length === 0 ? [IMPLICIT_PASSWD_USERDB] : userdbs;
  const prepared = await Promise.all(configs.map((config) => prepareUserdb(config, context.caches)));
  const state: LookupState = { username: formatted, fields: new Map(), snapshot: new Map(), success: false, internalFailures: [] };
  await runChain(prepared, state, context);
  if (state.tempfail !== undefined) {
    throw temporary(`userdb lookup of ${state.username} failed: ${state.fields.get('reason') ?? state.tempfail}`);
  }
  if (state.success) return userRecord(state);
  if (state.internalFailures.length > 0) {
    throw temporary(`userdb lookup of ${state.username} failed: ${state.internalFailures.join('; ')}`);
  }
  return null;
}

/** auth_username_chars, then auth_username_format; null when the name cannot be a user. */
export function formatUsername(username: string, context: LookupContext): string | null {
  const allowed = context.authUsernameChars ?? DEFAULT_USERNAME_CHARS;
  if (allowed !== '' && Array.from(username).some((char) => !allowed.includes(char))) return null;
  const format = context.authUsernameFormat;
  const formatted = format === '' ? username : expandVariables(format, variableTable(username, context));
  return formatted === '' ? null : formatted;
}

/** The name Dovecot gives the user after a `user`, `username` or `domain` field; null leaves it as it was. */
export function renamedUser(current: string, key: string, value: string): string | null {
  if (value === '') return null;
  const at = current.indexOf('@');
  const localPart = at < 0 ? current : current.slice(0, at);
  switch (key) {
    case 'user':
      return value;
    case 'username':
      return value.includes('@') || at < 0 ? value : value + current.slice(at);
    case 'domain':
      return `${localPart}@${value}`;
    default:
      return null;
  }
}

async function prepareUserdb(config: UserdbConfig, caches: ServerCaches | undefined): Promise<PreparedUserdb> {
  const name = `userdb ${config.driver} at ${config.origin}`;
  return {
    name,
    driver: await driverFor(config, name, caches),
    defaultFields: await parseTemplate(config.defaultFields, name),
    overrideFields: await parseTemplate(config.overrideFields, name),
    skip: oneOf(SKIPS, config.skip, 'skip', name),
    rules: {
      found: oneOf(RULES, config.resultSuccess, 'result_success', name),
      'not-found': oneOf(RULES, config.resultFailure, 'result_failure', name),
      'internal-failure': oneOf(RULES, config.resultInternalfail, 'result_internalfail', name),
    },
  };
}

async function driverFor(config: UserdbConfig, name: string, caches: ServerCaches | undefined): Promise<UserdbDriver> {
  switch (config.driver) {
    case 'passwd':
      return passwdDriver;
    case 'passwd-file':
      return passwdFileDriver(config.args, name);
    case 'static':
      return staticDriver(config.args, name);
    case 'sql':
      return (await import('./sql.js')).sqlDriver(config.args, name, caches);
    case '':
      throw temporary(`${name}: userdb is missing driver`);
    default:
      throw temporary(`${name}: userdb driver '${config.driver}' is not supported`);
  }
}

function oneOf<T extends string>(allowed: readonly T[], value: string, setting: string, name: string): T {
  const found = allowed.find((candidate) => candidate === value);
  if (found === undefined) throw temporary(`${name}: unknown ${setting} value '${value}'`);
  return found;
}

async function runChain(userdbs: PreparedUserdb[], state: LookupState, context: LookupContext): Promise<void> {
  for (let index = 0; ; ) {
    const userdb = userdbs[index];
    const result = await lookupIn(userdb, state, context);
    const rule = userdb.rules[result];
    if (rule.endsWith('-ok')) state.success = true;
    if (rule.endsWith('-fail')) state.success = false;
    const next = nextUserdb(userdbs, index, state.success);
    if (!rule.startsWith('continue') || next === undefined) {
      if (state.success) await applyTemplate(userdb.overrideFields, userdb, state, context);
      return;
    }
    if (result === 'found') {
      await applyTemplate(userdb.overrideFields, userdb, state, context);
      state.snapshot = new Map(state.fields);
    } else {
      state.fields = new Map(state.snapshot);
    }
    index = next;
  }
}

function nextUserdb(userdbs: PreparedUserdb[], index: number, success: boolean): number | undefined {
  for (let next = index + 1; next < userdbs.length; next++) {
    const { skip } = userdbs[next];
    if (!(skip === 'found' && success) && !(skip === 'notfound' && !success)) return next;
  }
  return undefined;
}

/** One userdb's default_fields and lookup; an internal failure (a temporary DeliveryFailure) is recorded, not thrown. */
async function lookupIn(userdb: PreparedUserdb, state: LookupState, context: LookupContext): Promise<LookupResult> {
  let fields;
  try {
    await applyTemplate(userdb.defaultFields, userdb, state, context);
    fields = await userdb.driver.lookup(state.username, variableTable(state.username, context));
  } catch (error) {
    if (!(error instanceof DeliveryFailure) || error.kind !== 'temporary') throw error;
    state.internalFailures.push(error.message);
    return 'internal-failure';
  }
  if (fields === null) return 'not-found';
  for (const [key, value] of fields) await applyField(state, key, value, userdb.name);
  return 'found';
}

async function applyTemplate(template: readonly TemplateField[], userdb: PreparedUserdb, state: LookupState, context: LookupContext): Promise<void> {
  if (template.length === 0) return;
  for (const [key, value] of templateFields(template, variableTable(state.username, context))) {
    await applyField(state, key, value, userdb.name);
  }
}

/** Dovecot's auth_request_set_userdb_field(). */
async function applyField(state: LookupState, rawKey: string, value: string, source: string): Promise<void> {
  let key = rawKey;
  if (key.length > ':protected'.length && key.endsWith(':protected')) {
    key = key.slice(0, -':protected'.length);
    if (state.fields.has(key)) return;
  } else if (key.length > ':remove'.length && key.endsWith(':remove')) {
    state.fields.delete(key.slice(0, -':remove'.length));
    return;
  }
  switch (key) {
    case 'uid':
    case 'gid': {
      const id = key === 'uid' ? await uidOf(value) : await gidOf(value);
      if (id === null) state.tempfail ??= `${source}: invalid ${key.toUpperCase()} value '${value}'`;
      else state.fields.set(key, String(id));
      return;
    }
    case 'tempfail':
      state.tempfail ??= `${source} answered tempfail`;
      return;
    case 'user':
    case 'username':
    case 'domain':
      state.username = renamedUser(state.username, key, value) ?? state.username;
      return;
    case 'uidgid_file':
      await applyUidGidFile(state, value, source);
      return;
    case 'userdb_import':
      for (const field of value.split('\t').filter((part) => part !== '')) {
        const equals = field.indexOf('=');
        await applyField(state, equals < 0 ? field : field.slice(0, equals), equals < 0 ? '' : field.slice(equals + 1), source);
      }
      return;
    case 'system_user':
      state.fields.set('system_groups_user', value);
      return;
    default:
      state.fields.set(key, value);
  }
}

/** `uidgid_file=PATH`: the uid and gid that own PATH. */
async function applyUidGidFile(state: LookupState, path: string, source: string): Promise<void> {
  try {
    const owner = await stat(path);
    state.fields.set('uid', String(owner.uid));
    state.fields.set('gid', String(owner.gid));
  } catch (error) {
    state.tempfail ??= `${source}: uidgid_file: ${(error as Error).message}`;
  }
}

/**
 * The %-variables of auth's userdb expansions: the user's name and the
 * service. As in Dovecot's auth, %h is empty (auth has no home directory yet,
 * even when a field set one) and uid/gid are not the user's.
 */
function variableTable(username: string, context: LookupContext): VariableTable {
  return userVariables({ user: username, service: context.service, hostname: context.hostname, pid: process.pid });
}

function userRecord(state: LookupState): UserRecord {
  const fields = new Map(state.fields);
  const take = (key: string): string | undefined => {
    const value = fields.get(key);
    fields.delete(key);
    return value === '' ? undefined : value;
  };
  const uid = take('uid');
  const gid = take('gid');
  const home = take('home');
  const mail = take('mail');
  const systemGroupsUser = take('system_groups_user');
  return {
    username: state.username,
    ...(uid === undefined ? {} : { uid: Number(uid) }),
    ...(gid === undefined ? {} : { gid: Number(gid) }),
    ...(home === undefined ? {} : { home }),
    ...(mail === undefined ? {} : { mail }),
    ...(systemGroupsUser === undefined ? {} : { systemGroupsUser }),
    fields,
  };
}
