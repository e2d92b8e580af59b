// Dovecot 2.3 %-variable expansion (lib/var-expand.c, var-expand-if.c). Pure
// but for %{env:NAME} (the `env` argument, process.env by default) and the
// built-ins %{pid} %{hostname} %{uid} %{gid}, which read the process when the
// table does not name them.
//
// Syntax: %x or %{long}, optionally %[-][offset.][0]width and up to ten
// modifiers (L U E X R H N M D T) before the key; %{if;A;OP;B;THEN[;ELSE]},
// %{env:NAME} and %{md5|sha1|sha256|...[;rounds=N,truncate=BITS,format=hex|
// hexuc|base64,salt=S]:VARIABLE}. Offsets and widths count characters where
// Dovecot counts bytes (they differ only for non-ASCII values).
//
// Escaping (the optional `escape` argument, e.g. an SQL driver's string
// escaping for a user_query): applied to each variable's value after its
// modifiers, offset and width, so that a width can never cut an escape in two.
// Dovecot escapes the table's values before the modifiers (%2u of "o'brien"
// gives "o'", which breaks the query); the results differ only where
// Dovecot's would break the query. Not escaped: `%%`, and the text of an
// %{if} branch, whose variables are escaped as they expand (so the comparison
// sees escaped values, as in Dovecot; a width on the %{if} itself could still
// cut an escape there). A hash (%{md5:user}, %M, %H, %N) hashes the unescaped
// value (Dovecot: the escaped one); the digest goes through the escaping, a
// no-op. %{env:NAME} is escaped too (Dovecot leaves it as it is).
//
// Failure: like Dovecot, an unknown variable expands to UNSUPPORTED_VARIABLE_x
// and a broken %{if} to ""; expandTemplate() reports the problem beside the
// text (what Dovecot does for deliver_log_format: log it, carry on), and
// expandVariables() throws it as a temporary DeliveryFailure (what Dovecot does
// for mail_location and other settings: "Failed to expand ...", exit 75).

import { hostname as systemHostname } from 'node:os';
import { temporary } from '../deliver/failure.js';
import { asciiLowerCase } from '../message/ascii.js';

/** node:crypto's createHash, loaded on first use: only hash modifiers need it, and every delivery expands templates. */
function createHash(algorithm: string) {
  return process.getBuiltinModule('node:crypto').createHash(algorithm);
}

/** One-letter keys ("u") and long names ("user") → value; undefined = unknown variable. */
export type VariableTable = Readonly<Record<string, string | undefined>>;

export type Environment = Readonly<Record<string, string | undefined>>;

/** Turns a variable's expanded value into text safe for where it lands (an SQL string literal, ...). */
export type EscapeFunction = (value: string) => string;

export interface Expansion {
  text: string;
  /** Dovecot's wording of the first problem, e.g. "Unknown variable '%foo'" */
  error?: string;
}

/** Expands like Dovecot's var_expand(): never throws, reports the first problem. */
export function expandTemplate(template: string, table: VariableTable, env: Environment = process.env, escape?: EscapeFunction): Expansion {
  const context: ExpandContext = { table, env, escape };
  const text = expandInto(template, context);
  return context.error === undefined ? { text } : { text, error: context.error };
}

/** Expands a setting; an unknown variable or a broken %{if} is a temporary failure. */
export function expandVariables(template: string, table: VariableTable, env: Environment = process.env, escape?: EscapeFunction): string {
  if (!template.includes('%')) return template;
  const { text, error } = expandTemplate(template, table, env, escape);
  if (error !== undefined) throw temporary(`Failed to expand ${template}: ${error}`);
  return text;
}

export interface UserVariableParams {
  user: string;
  home?: string;
  service: string;
  uid?: number;
  gid?: number;
  hostname: string;
  pid: number;
  session?: string;
}

/** The table Dovecot builds for a mail user (lib-storage mail-user.c). */
export function userVariables(params: UserVariableParams): VariableTable {
  const at = params.user.indexOf('@');
  const username = at < 0 ? params.user : params.user.slice(0, at);
  const domain = at < 0 ? '' : params.user.slice(at + 1);
  const uid = params.uid === undefined ? '' : String(params.uid);
  const pid = String(params.pid);
  const home = params.home ?? '';
  return {
    u: params.user,
    user: params.user,
    n: username,
    username,
    d: domain,
    domain,
    s: params.service,
    service: params.service,
    h: home,
    home,
    l: '',
    lip: '',
    r: '',
    rip: '',
    p: pid,
    pid,
    i: uid,
    uid,
    gid: params.gid === undefined ? '' : String(params.gid),
    hostname: params.hostname,
    session: params.session ?? '',
    auth_user: params.user,
    auth_username: username,
    auth_domain: domain,
  };
}

interface ExpandContext {
  table: VariableTable;
  env: Environment;
  escape: EscapeFunction | undefined;
  error?: string;
}

/** A %-expansion's value; `verbatim` when it is template text rather than a variable's value (`%%`, %{if}). */
interface Lookup {
  value: string;
  verbatim: boolean;
}

interface FieldFormat {
  offset: number;
  width: number;
  zeroPadding: boolean;
}

type Modifier = (value: string, format: FieldFormat) => string;

const MAX_MODIFIERS = 10;

const MODIFIERS = new Map<string, Modifier>([
  ['L', asciiLowerCase],
  ['U', (value) => value.replace(/[a-z]+/g, (s) => s.toUpperCase())],
  ['E', (value) => value.replace(/["'\\]/g, '\\$&')],
  ['X', (value) => (/^\d+$/.test(value) && BigInt(value) < 2n ** 64n ? BigInt(value) : 0n).toString(16)],
  ['R', (value) => Array.from(value).reverse().join('')],
  ['H', (value, format) => hashModifier(strHash(value), format)],
  ['N', (value, format) => hashModifier(md5Prefix64(value), format)],
  ['M', (value) => createHash('md5').update(value).digest('hex')],
  ['D', (value) => value.replaceAll('.', ',dc=')],
  ['T', (value) => value.replace(/[ \t\n\v\f\r]+$/, '')],
]);

function record(context: ExpandContext, error: string): void {
  context.error ??= error;
}

function isDigit(char: string | undefined): boolean {
  return char !== undefined && char >= '0' && char <= '9';
}

function expandInto(template: string, context: ExpandContext): string {
  let out = '';
  let i = 0;
  while (i < template.length) {
    const char = template[i];
    if (char !== '%') {
      out += char;
      i++;
      continue;
    }
    i++;
    const format: FieldFormat = { offset: 0, width: 0, zeroPadding: false };
    let sign = 1;
    if (template[i] === '-') {
      sign = -1;
      i++;
    }
    if (template[i] === '0') {
      format.zeroPadding = true;
      i++;
    }
    while (isDigit(template[i])) format.width = format.width * 10 + Number(template[i++]);
    if (template[i] === '.') {
      format.offset = sign * format.width;
      format.width = 0;
      sign = 1;
      i++;
      format.zeroPadding = false;
      if (template[i] === '0') {
        format.zeroPadding = true;
        i++;
      }
      if (template[i] === '-') {
        sign = -1;
        i++;
      }
      while (isDigit(template[i])) format.width = format.width * 10 + Number(template[i++]);
      format.width *= sign;
    }
    const modifiers: Modifier[] = [];
    let modifier = MODIFIERS.get(template[i]);
    while (modifier !== undefined && modifiers.length < MAX_MODIFIERS) {
      modifiers.push(modifier);
      modifier = MODIFIERS.get(template[++i]);
    }
    if (i >= template.length) break;

    let lookup: Lookup;
    if (template[i] === '{' && template.includes('}', i)) {
      const end = longKeyEnd(template, i);
      lookup = lookupLong(template.slice(i + 1, end), context);
      i = end + 1;
    } else {
      lookup = lookupShort(template[i], context);
      i++;
    }
    let value = lookup.value;
    for (const modifier of modifiers) value = modifier(value, format);
    value = applyFormat(value, format);
    out += context.escape === undefined || lookup.verbatim ? value : context.escape(value);
  }
  return out;
}

/** Index of the `}` closing the `{` at `open` (nested braces and backslash escapes skipped); the end if unclosed. */
function longKeyEnd(template: string, open: number): number {
  let depth = 1;
  let escaped = false;
  let i = open + 1;
  for (; i < template.length; i++) {
    const char = template[i];
    if (escaped) escaped = false;
    else if (char === '\\') escaped = true;
    else if (char === '{') depth++;
    else if (char === '}' && --depth === 0) return i;
  }
  return i;
}

function applyFormat(value: string, format: FieldFormat): string {
  const chars = Array.from(value);
  let start = 0;
  if (format.offset < 0) {
    if (chars.length > -format.offset) start = chars.length + format.offset;
  } else {
    start = Math.min(format.offset, chars.length);
  }
  const rest = chars.slice(start);
  if (format.width === 0) return rest.join('');
  if (format.zeroPadding) return '0'.repeat(Math.max(0, format.width - rest.length)) + rest.join('');
  const width = format.width < 0 ? rest.length + format.width : format.width;
  return width < 0 ? rest.join('') : rest.slice(0, width).join('');
}

function lookupShort(key: string, context: ExpandContext): Lookup {
  const value = tableValue(context.table, key);
  if (value !== undefined) return { value, verbatim: false };
  if (key === '%') return { value: '%', verbatim: true };
  record(context, `Unknown variable '%${key}'`);
  return { value: `UNSUPPORTED_VARIABLE_${key}`, verbatim: false };
}

function lookupLong(name: string, context: ExpandContext): Lookup {
  const value = tableValue(context.table, name) ?? builtinVariable(name, context.env);
  if (value !== undefined) return { value, verbatim: false };
  const colon = name.indexOf(':');
  const key = colon < 0 ? name : name.slice(0, colon);
  const data = colon < 0 ? '' : name.slice(colon + 1);
  const extension = key.split(';', 1)[0];
  if (extension.toLowerCase() === 'if') return { value: expandIf(name, context), verbatim: true };
  if (HASH_ALGORITHMS.has(extension)) return { value: expandHash(key, data, context), verbatim: false };
  if (key === 'env') return { value: context.env[data] ?? '', verbatim: false };
  record(context, `Unknown variable '%${key}'`);
  return { value: `UNSUPPORTED_VARIABLE_${key}`, verbatim: false };
}

function tableValue(table: VariableTable, key: string): string | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

function builtinVariable(name: string, env: Environment): string | undefined {
  switch (name) {
    case 'pid':
      return String(process.pid);
    case 'hostname':
      return env.DOVECOT_HOSTNAME || systemHostname();
    case 'uid':
      return process.geteuid === undefined ? undefined : String(process.geteuid());
    case 'gid':
      return process.getegid === undefined ? undefined : String(process.getegid());
    default:
      return undefined;
  }
}

// ---- %{if;A;OP;B;THEN;ELSE} ----

/** Splits the parameters after "if;": `;` separates them outside %{...}, `\` escapes, a top-level `:` ends them. */
function ifParameters(body: string): string[] {
  const parameters: string[] = [];
  let current = '';
  let depth = 0;
  let escaped = false;
  let afterPercent = false;
  for (const char of body) {
    if (char === '\\') {
      escaped = true;
      continue;
    }
    if (escaped) {
      current += char;
      escaped = false;
      continue;
    }
    if (char === '%') afterPercent = true;
    else if (afterPercent && char === '{') {
      depth++;
      afterPercent = false;
    } else if (depth > 0 && char === '}') depth--;
    else if (depth === 0 && char === ';') {
      parameters.push(current);
      current = '';
      continue;
    } else if (depth === 0 && char === ':') break;
    current += char;
  }
  if (current !== '') parameters.push(current);
  return parameters;
}

function expandIf(name: string, context: ExpandContext): string {
  const parameters = ifParameters(name.slice(name.indexOf(';') + 1));
  if (parameters.length === 4) parameters.push('');
  if (parameters.length !== 5) {
    record(context, `if: requires four or five parameters, got ${parameters.length}`);
    return '';
  }
  const [left, operator, right, whenTrue, whenFalse] = parameters.map((parameter) => expandInto(parameter, context));
  const result = compare(left, operator, right);
  if (typeof result === 'string') {
    record(context, result);
    return '';
  }
  return result ? whenTrue : whenFalse;
}

const NUMERIC_OPERATORS = new Map<string, (a: bigint, b: bigint) => boolean>([
  ['==', (a, b) => a === b],
  ['!=', (a, b) => a !== b],
  ['<', (a, b) => a < b],
  ['<=', (a, b) => a <= b],
  ['>', (a, b) => a > b],
  ['>=', (a, b) => a >= b],
]);

/** String comparisons, on the byte order of the UTF-8 text (strcmp). */
const STRING_OPERATORS = new Map<string, (order: number) => boolean>([
  ['eq', (order) => order === 0],
  ['ne', (order) => order !== 0],
  ['lt', (order) => order < 0],
  ['le', (order) => order <= 0],
  ['gt', (order) => order > 0],
  ['ge', (order) => order >= 0],
]);

/** The comparison's result, or Dovecot's error text. */
function compare(left: string, operator: string, right: string): boolean | string {
  const numeric = NUMERIC_OPERATORS.get(operator);
  if (numeric !== undefined) {
    if (!/^-?\d+$/.test(left)) return `if: ${left} (lhs) is not a number`;
    if (!/^-?\d+$/.test(right)) return `if: ${right} (rhs) is not a number`;
    return numeric(BigInt(left), BigInt(right));
  }
  const ordered = STRING_OPERATORS.get(operator);
  if (ordered !== undefined) return ordered(Buffer.compare(Buffer.from(left), Buffer.from(right)));
  switch (operator) {
    case '*':
      return wildcardMatch(left, right);
    case '!*':
      return !wildcardMatch(left, right);
    case '~':
    case '!~': {
      let pattern: RegExp;
      try {
        pattern = new RegExp(right);
      } catch (error) {
        return `if: regex failed: ${(error as Error).message}`;
      }
      return pattern.test(left) === (operator === '~');
    }
    default:
      return `if: Unsupported comparator '${operator}'`;
  }
}

/** Dovecot's wildcard_match(): `*` matches any run, `?` one character, everything else itself. */
export function wildcardMatch(text: string, pattern: string): boolean {
  let t = 0;
  let p = 0;
  let starP = -1;
  let starT = 0;
  while (t < text.length) {
    if (pattern[p] === '*') {
      starP = p++;
      starT = t;
    } else if (p < pattern.length && (pattern[p] === '?' || pattern[p] === text[t])) {
      t++;
      p++;
    } else if (starP >= 0) {
      p = starP + 1;
      t = ++starT;
    } else return false;
  }
  while (pattern[p] === '*') p++;
  return p === pattern.length;
}

// ---- hashes: the H and N modifiers and %{md5:...} ----

/** Dovecot's str_hash() (the PJW/ELF hash over the UTF-8 bytes). */
function strHash(value: string): bigint {
  let hash = 0;
  for (const byte of Buffer.from(value)) {
    hash = ((hash << 4) + byte) >>> 0;
    const high = hash & 0xf0000000;
    if (high !== 0) hash = (hash ^ (high >>> 24) ^ high) >>> 0;
  }
  return BigInt(hash);
}

/** The first 8 bytes of the MD5 digest as an unsigned 64-bit number (the N modifier). */
function md5Prefix64(value: string): bigint {
  return createHash('md5').update(value).digest().readBigUInt64BE(0);
}

/** H and N: the hash modulo the width, printed as 32-bit hex, left-padded with zeros to the offset. */
function hashModifier(hash: bigint, format: FieldFormat): string {
  let value = hash;
  if (format.width !== 0) {
    value %= BigInt(format.width);
    format.width = 0;
  }
  const hex = (value & 0xffffffffn).toString(16).padStart(format.offset, '0');
  format.offset = 0;
  return hex;
}

/** Dovecot hash method names that Node's createHash() knows by the same name (lower case only: Dovecot fails "SHA1"). */
const HASH_ALGORITHMS = new Set(['md5', 'sha1', 'sha256', 'sha384', 'sha512', 'sha3-256', 'sha3-512']);

/** %{ALGO[;k=v,...]:VARIABLE} — the options apply as in var_expand_hash(), including `salt` ending the list. */
function expandHash(key: string, variable: string, context: ExpandContext): string {
  const [algorithm, options = ''] = splitOnce(key, ';');
  let rounds = 1;
  let truncateBits = 0;
  let salt = '';
  let encoding: 'hex' | 'base64' = 'hex';
  for (const option of options === '' ? [] : options.split(',')) {
    const [optionName, optionValue] = splitOnce(option, '=');
    if (optionValue === undefined) continue;
    if (optionName === 'rounds') {
      if (!/^\d+$/.test(optionValue)) {
        record(context, `Cannot parse hash arguments:'${optionValue}' is not number for rounds`);
        return '';
      }
      if (Number(optionValue) < 1) {
        record(context, 'Cannot parse hash arguments:rounds must be at least 1');
        return '';
      }
      rounds = Number(optionValue);
    } else if (optionName === 'truncate') {
      if (!/^\d+$/.test(optionValue)) {
        record(context, `Cannot parse hash arguments:'${optionValue}' is not number for truncbits`);
        return '';
      }
      truncateBits = Number(optionValue);
    } else if (optionName === 'salt') {
      salt = expandInto(optionValue, context);
      break;
    } else if (optionName === 'format') {
      if (optionValue === 'hex' || optionValue === 'hexuc') encoding = 'hex'; // 2.3 prints hexuc in lower case too
      else if (optionValue === 'base64') encoding = 'base64';
      else {
        record(context, `Cannot parse hash arguments:'${optionValue}' is not supported format`);
        return '';
      }
    }
  }
  let digest: Buffer = Buffer.from(lookupLong(variable, context).value);
  for (let round = 0; round < rounds; round++) {
    const hash = createHash(algorithm);
    if (salt !== '') hash.update(salt);
    digest = hash.update(digest).digest();
  }
  if (truncateBits > 0) digest = truncateToBits(digest, truncateBits);
  return digest.toString(encoding);
}

/** Keeps the first `bits` bits, right-aligned in the fewest whole bytes (buffer_truncate_rshift_bits). */
function truncateToBits(digest: Buffer, bits: number): Buffer {
  const keep = Math.min(bits, digest.length * 8);
  const bytes = Math.ceil(keep / 8);
  const shifted = BigInt(`0x${digest.toString('hex')}`) >> BigInt(digest.length * 8 - keep);
  return Buffer.from(shifted.toString(16).padStart(bytes * 2, '0'), 'hex');
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + separator.length)];
}
