// Reads dovecot.conf syntax (Dovecot 2.3 config-parser.c) into a tree of
// sections, each holding its `key = value` entries in file order. It knows no
// setting names: what a key means is settings.ts's business, so settings
// Dovetail does not use load without complaint.
//
// Handled as doveconf does (checked against doveconf 2.3.19): "quoted" and
// 'quoted' values with backslash escapes, # comments outside quotes, trailing
// backslash continuations (dropped by a following empty or comment line, as
// Dovecot does), `name [arg] {` / `}` across !include'd files, !include and
// !include_try with glob patterns relative to the including file, `$name`
// words in unquoted values (the value of `name` so far in this section, an
// earlier section of the same type and name, or an enclosing one, else its
// default, else ""), `$ENV:NAME`, and `key = <file`
// (read only when the setting is used: see readEntryValue).
//
// Fails with a temporary DeliveryFailure worded like doveconf: "Error in
// configuration file PATH line N: REASON" (unbalanced braces, `=` with no key,
// a missing !include, a recursive !include, an unreadable file).

import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { dirname, join, isAbsolute, resolve } from 'node:path';
import { temporary, type DeliveryFailure } from '../deliver/failure.js';

export interface ConfigEntry {
  key: string;
  /** the value as written, unquoted and with $name words expanded; "" for `key = <file` */
  value: string;
  /** for `key = <file`: the file whose content is the value (absolute or relative to the cwd) */
  file?: string;
  /** "path:line" */
  origin: string;
}

export interface ConfigSection {
  /** "" for the file itself; else the word before the name: namespace, protocol, plugin, ... */
  type: string;
  /** the section's argument (`namespace inbox {` → "inbox"), "" when none */
  name: string;
  entries: ConfigEntry[];
  sections: ConfigSection[];
  /** "path:line" of the opening line; the path alone for the file itself */
  origin: string;
}

/** The filesystem calls the reader makes; tests pass an in-memory one. */
export interface ConfigFs {
  /** the file's text; throws a Node errno error (ENOENT, EACCES, ...) */
  readFile(path: string): string;
  /** the names in a directory; throws like readFile */
  readdir(path: string): string[];
  exists(path: string): boolean;
}

export const nodeConfigFs: ConfigFs = {
  readFile: (path) => readFileSync(path, 'utf8'),
  readdir: (path) => readdirSync(path),
  exists: (path) => existsSync(path),
};

export interface ParseOptions {
  fs?: ConfigFs;
  /** for `$ENV:NAME`; process.env when absent */
  env?: Readonly<Record<string, string | undefined>>;
  /** the value `$name` takes when nothing set `name` earlier; "" when this returns undefined */
  defaultValue?: (name: string) => string | undefined;
}

/** Reads and parses one config file and everything it includes. */
export function parseConfigFile(path: string, options: ParseOptions = {}): ConfigSection {
  const fs = options.fs ?? nodeConfigFs;
  let text: string;
  try {
    text = fs.readFile(path);
  } catch (error) {
    throw temporary(`Error reading configuration file ${path}: ${systemReason(error)}`);
  }
  const root: ConfigSection = { type: '', name: '', entries: [], sections: [], origin: path };
  const state: ParserState = {
    fs,
    env: options.env ?? process.env,
    defaultValue: options.defaultValue ?? (() => undefined),
    stack: [root],
    openFiles: [resolve(path)],
  };
  parseText(text, path, state);
  if (state.stack.length > 1) {
    const open = state.stack[state.stack.length - 1];
    throw temporary(`Error in configuration file ${path}: Missing '}' (section started at ${open.origin})`);
  }
  return root;
}

/** The entry's value, reading `key = <file` now; an unreadable file is an error naming the entry's file:line. */
export function readEntryValue(entry: ConfigEntry, fs: ConfigFs = nodeConfigFs): string {
  if (entry.file === undefined) return entry.value;
  try {
    return fs.readFile(entry.file);
  } catch (error) {
    throw configError(entry.origin, `${entry.key}: Can't open file ${entry.file}: ${systemReason(error)}`);
  }
}

/** "Error in configuration file PATH line N: REASON" from an entry or section origin. */
export function configError(origin: string, reason: string): DeliveryFailure {
  const colon = origin.lastIndexOf(':');
  const line = origin.slice(colon + 1);
  if (colon < 0 || !/^\d+$/.test(line)) return temporary(`Error in configuration file ${origin}: ${reason}`);
  return temporary(`Error in configuration file ${origin.slice(0, colon)} line ${line}: ${reason}`);
}

interface ParserState {
  fs: ConfigFs;
  env: Readonly<Record<string, string | undefined>>;
  defaultValue: (name: string) => string | undefined;
  /** open sections, the file's root first; shared by included files, as in Dovecot */
  stack: ConfigSection[];
  /** the include chain, to refuse recursion */
  openFiles: string[];
}

/** One logical line, after comments and continuations, classified. */
export type ConfigLine =
  | { kind: 'entry'; key: string; value: string; quoted: boolean; file?: string }
  | { kind: 'section-begin'; type: string; name: string }
  | { kind: 'section-end' }
  | { kind: 'include'; pattern: string; optional: boolean }
  | { kind: 'error'; reason: string };

function parseText(text: string, path: string, state: ParserState): void {
  const lines = text.split('\n');
  let pending = '';
  for (let index = 0; index < lines.length; index++) {
    const origin = `${path}:${index + 1}`;
    const physical = stripComment(lines[index].trimStart()).trimEnd();
    if (physical === '') {
      pending = ''; // Dovecot drops a continuation that an empty or comment line interrupts
      continue;
    }
    if (physical.endsWith('\\')) {
      pending += physical.slice(0, -1).trimEnd() + ' ';
      continue;
    }
    const line = classifyLine(pending + physical);
    pending = '';
    applyLine(line, origin, path, state);
  }
}

/** Cuts a `#` comment that is outside quotes; a `"` or `'` anywhere opens a quote, `\` escapes inside one. */
export function stripComment(line: string): string {
  let quote = '';
  for (let i = 0; i < line.length; i++) {
    const char = line[i];
    if (quote !== '') {
      if (char === '\\') i++;
      else if (char === quote) quote = '';
    } else if (char === '"' || char === "'") {
      quote = char;
    } else if (char === '#') {
      return line.slice(0, i);
    }
  }
  return line;
}

const WHITESPACE = /[ \t\r]/;

/** Classifies one logical line (comment already removed, whitespace trimmed). */
export function classifyLine(line: string): ConfigLine {
  let keyEnd = 0;
  while (keyEnd < line.length && line[keyEnd] !== '=' && !WHITESPACE.test(line[keyEnd])) keyEnd++;
  const key = line.slice(0, keyEnd);
  const rest = line.slice(keyEnd).trimStart();
  if (key === '') return { kind: 'error', reason: "Missing key name ('=' at the beginning of line)" };
  if (key === '!include' || key === '!include_try') {
    return { kind: 'include', pattern: rest, optional: key === '!include_try' };
  }
  if (rest.startsWith('=')) return valueLine(key, rest.slice(1).trimStart());
  if (key === '}' && rest === '') return { kind: 'section-end' };
  return sectionLine(key, rest);
}

function valueLine(key: string, value: string): ConfigLine {
  if (value.startsWith('<')) return { kind: 'entry', key, value: '', quoted: false, file: value.slice(1).trim() };
  const first = value[0];
  if ((first === '"' || first === "'") && value.endsWith(first)) {
    return { kind: 'entry', key, value: unescape(value.slice(1, Math.max(1, value.length - 1))), quoted: true };
  }
  return { kind: 'entry', key, value, quoted: false };
}

/** `type {`, `type name {` or `type "quoted name" {`. */
function sectionLine(type: string, rest: string): ConfigLine {
  let name = '';
  let after = rest;
  if (!rest.startsWith('{')) {
    const quote = rest[0] === '"' || rest[0] === "'" ? rest[0] : '';
    const nameEnd = quote === '' ? rest.search(WHITESPACE) : closingQuote(rest, quote);
    const end = nameEnd < 0 ? rest.length : nameEnd + (quote === '' ? 0 : 1);
    name = quote === '' ? rest.slice(0, end) : unescape(rest.slice(1, end - 1));
    after = rest.slice(end).trimStart();
  }
  if (!after.startsWith('{')) return { kind: 'error', reason: "Expecting '{'" };
  if (after.slice(1).trim() !== '') return { kind: 'error', reason: "Garbage after '{'" };
  return { kind: 'section-begin', type, name };
}

function closingQuote(text: string, quote: string): number {
  for (let i = 1; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === quote) return i;
  }
  return -1;
}

/** Dovecot's str_unescape(): a backslash keeps the next character as it is. */
function unescape(text: string): string {
  return text.replace(/\\(.)/gs, '$1');
}

function applyLine(line: ConfigLine, origin: string, path: string, state: ParserState): void {
  const current = state.stack[state.stack.length - 1];
  switch (line.kind) {
    case 'error':
      throw configError(origin, line.reason);
    case 'entry':
      current.entries.push({
        key: line.key,
        value: line.quoted || line.file !== undefined ? line.value : expandSettingReferences(line.value, state),
        ...(line.file === undefined ? {} : { file: relativeTo(path, line.file) }),
        origin,
      });
      return;
    case 'section-begin': {
      const section: ConfigSection = { type: line.type, name: line.name, entries: [], sections: [], origin };
      current.sections.push(section);
      state.stack.push(section);
      return;
    }
    case 'section-end':
      if (state.stack.length === 1) throw configError(origin, "Unexpected '}'");
      state.stack.pop();
      return;
    case 'include':
      includeFiles(line.pattern, line.optional, origin, path, state);
      return;
  }
}

function includeFiles(pattern: string, optional: boolean, origin: string, path: string, state: ParserState): void {
  if (pattern === '') return; // doveconf ignores a bare !include too
  const files = expandGlob(relativeTo(path, pattern), state.fs);
  if (files.length === 0) {
    if (optional) return;
    throw configError(origin, 'No matches');
  }
  for (const file of files) {
    if (state.openFiles.includes(resolve(file))) throw configError(origin, `Recursive include file: ${file}`);
    let text: string;
    try {
      text = state.fs.readFile(file);
    } catch (error) {
      if (optional && errorCode(error) === 'ENOENT') continue;
      throw configError(origin, `Couldn't open include file ${file}: ${systemReason(error)}`);
    }
    state.openFiles.push(resolve(file));
    parseText(text, file, state);
    state.openFiles.pop();
  }
}

/** A path from the config file, relative to the directory of the file naming it (as fix_relative_path). */
function relativeTo(configPath: string, path: string): string {
  if (isAbsolute(path) || !configPath.includes('/')) return path;
  return join(dirname(configPath), path);
}

// ---- $name references ----

/** Replaces each whitespace-separated word `$name` with the current value of `name` (or `$ENV:NAME`). */
function expandSettingReferences(value: string, state: ParserState): string {
  if (!value.includes('$')) return value;
  return value.replace(/(^|[ \t])\$(\S+)/g, (_match, space: string, name: string) => space + settingReference(name, state));
}

function settingReference(name: string, state: ParserState): string {
  if (name.startsWith('ENV:')) return state.env[name.slice(4)] ?? '';
  for (let depth = state.stack.length - 1; depth >= 0; depth--) {
    for (const section of sameSectionSoFar(state, depth)) {
      const entries = section.entries;
      for (let i = entries.length - 1; i >= 0; i--) {
        if (entries[i].key === name) return readEntryValue(entries[i], state.fs);
      }
    }
  }
  return state.defaultValue(name) ?? '';
}

/**
 * The open section at `depth`, then the earlier sections of the same type and
 * name beside it, latest first: doveconf merges them into one (two `protocol
 * lda {}` blocks are one filter), so `$name` in the second sees the first's.
 */
function sameSectionSoFar(state: ParserState, depth: number): ConfigSection[] {
  const section = state.stack[depth];
  if (depth === 0) return [section];
  const siblings = state.stack[depth - 1].sections;
  const earlier = siblings.slice(0, siblings.indexOf(section)).filter((other) => other.type === section.type && other.name === section.name);
  return [section, ...earlier.reverse()];
}

// ---- glob ----

/** glob(3) with GLOB_BRACE, for !include: `{a,b}` alternatives in their order, each globbed (`*`, `?`, `[...]`) and sorted; hidden files only by an explicit dot. */
export function expandGlob(pattern: string, fs: ConfigFs): string[] {
  return expandBraces(pattern).flatMap((alternative) => globPattern(alternative, fs));
}

function expandBraces(pattern: string): string[] {
  const open = pattern.indexOf('{');
  const close = open < 0 ? -1 : pattern.indexOf('}', open);
  if (close < 0) return [pattern];
  const head = pattern.slice(0, open);
  const tail = pattern.slice(close + 1);
  return pattern
    .slice(open + 1, close)
    .split(',')
    .flatMap((alternative) => expandBraces(head + alternative + tail));
}

const WILDCARD = /[*?[]/;

function globPattern(pattern: string, fs: ConfigFs): string[] {
  if (!WILDCARD.test(pattern)) return fs.exists(pattern) ? [pattern] : [];
  const absolute = pattern.startsWith('/');
  let paths = [absolute ? '/' : '.'];
  for (const component of pattern.split('/').filter((part) => part !== '')) {
    if (!WILDCARD.test(component)) {
      paths = paths.map((base) => join(base, component));
      continue;
    }
    const matcher = globComponent(component);
    paths = paths.flatMap((base) => {
      let names: string[];
      try {
        names = fs.readdir(base);
      } catch {
        return [];
      }
      const visible = names.filter((name) => matcher.test(name) && (!name.startsWith('.') || component.startsWith('.')));
      return visible.sort().map((name) => join(base, name));
    });
  }
  return paths.filter((path) => fs.exists(path));
}

function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.|?*+()[\]{}]/g, '\\$&');
}

function globComponent(component: string): RegExp {
  let source = '';
  for (let i = 0; i < component.length; i++) {
    const char = component[i];
    const close = char === '[' ? component.indexOf(']', i + 2) : -1;
    if (char === '*') source += '.*';
    else if (char === '?') source += '.';
    else if (close > 0) {
      source += `[${component.slice(i + 1, close).replace(/^!/, '^').replace(/\\/g, '\\\\')}]`;
      i = close;
    } else source += escapeRegExp(char);
  }
  return new RegExp(`^${source}$`, 's');
}

// ---- errors ----

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | null)?.code;
}

/** Node's "ENOENT: no such file or directory" without the repeated call and path. */
function systemReason(error: unknown): string {
  const message = (error as Error | null)?.message ?? String(error);
  return errorCode(error) === undefined ? message : message.split(', ')[0];
}
