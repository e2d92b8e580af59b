// RFC 5229 variables at run time: `${name}` expansion, the set command's
// modifiers and Pigeonhole's limits on names and values. Pure; nothing here
// throws except applySetModifiers for a modifier name that does not exist
// (the validator only lets known ones through).
//
// Expansion follows Pigeonhole's scanner: a reference is `${` + a name + `}`,
// where a name is an identifier ([A-Za-z_][A-Za-z0-9_]*, at most 64
// characters), a number (a match variable: ${0} the whole match, ${1}...
// the parts), or up to 10 identifiers (or numbers) joined by dots, a
// namespace: `env.x`, `global.x`. Anything else is left as written, and the scan goes on right
// after the `${`, so "${BAD${Company}" keeps "${BAD" and expands the rest.
// Values put in are never expanded again ("${${a}}" with a = "b" gives
// "${b}"). Names go to the lookup ASCII lower-cased (names are
// case-insensitive), numbers without leading zeros; a name the lookup does
// not know expands to "".

import { asciiLowerCase } from '../../message/ascii.js';

/** Pigeonhole's sieve_variables_max_variable_size default, in bytes of UTF-8 */
export const MAX_VARIABLE_SIZE = 4096;

/** EXT_VARIABLES_MAX_VARIABLE_NAME_LEN */
const MAX_NAME_LENGTH = 64;
/** EXT_VARIABLES_MAX_NAMESPACE_ELEMENTS */
const MAX_NAME_ELEMENTS = 10;

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** one part of a reference's name, at the start of the text */
const NAME_PART = /^(?:[A-Za-z_][A-Za-z0-9_]*|[0-9]+)/;

export function isValidVariableName(name: string): boolean {
  return name.length <= MAX_NAME_LENGTH && IDENTIFIER.test(name);
}

/**
 * The name of the reference starting at `from` (just after "${") and the
 * index just past its "}", or undefined when it is no valid reference.
 */
function readReference(text: string, from: number): { name: string; end: number } | undefined {
  const elements: string[] = [];
  let position = from;
  for (;;) {
    const element = NAME_PART.exec(text.slice(position, position + MAX_NAME_LENGTH + 1))?.[0];
    if (element === undefined || element.length > MAX_NAME_LENGTH) return undefined;
    const numeric = element.charCodeAt(0) <= 0x39;
    elements.push(numeric ? element.replace(/^0+(?=.)/, '') : asciiLowerCase(element));
    position += element.length;
    // a leading number is a match variable: nothing may follow it
    if (text[position] !== '.' || (numeric && elements.length === 1)) break;
    if (elements.length === MAX_NAME_ELEMENTS) return undefined;
    position++;
  }
  return text[position] === '}' ? { name: elements.join('.'), end: position + 1 } : undefined;
}

export function expandVariables(text: string, lookup: (name: string) => string | undefined): string {
  let start = text.indexOf('${');
  if (start < 0) return text;
  let expanded = '';
  let copied = 0;
  while (start >= 0) {
    const reference = readReference(text, start + 2);
    if (reference === undefined) {
      start = text.indexOf('${', start + 2);
      continue;
    }
    expanded += text.slice(copied, start) + (lookup(reference.name) ?? '');
    copied = reference.end;
    start = text.indexOf('${', copied);
  }
  return expanded + text.slice(copied);
}

/** UTF-8 length of the code point starting with UTF-16 unit `unit` (a lone surrogate becomes U+FFFD, 3 bytes). */
function utf8Length(unit: number, isPair: boolean): number {
  if (isPair) return 4;
  return unit < 0x80 ? 1 : unit < 0x800 ? 2 : 3;
}

/**
 * A value cut to MAX_VARIABLE_SIZE bytes of UTF-8 the way Dovecot's
 * uni_utf8_data_truncate cuts: it only looks at the character at the limit,
 * so when a multi-byte character ends exactly at the limit and another
 * multi-byte character follows, that last complete character goes too.
 */
export function truncateVariable(value: string): string {
  if (value.length * 3 <= MAX_VARIABLE_SIZE) return value;
  let bytes = 0;
  for (let index = 0; index < value.length; ) {
    const unit = value.charCodeAt(index);
    const isPair = unit >= 0xd800 && unit <= 0xdbff && (value.charCodeAt(index + 1) & 0xfc00) === 0xdc00;
    const units = isPair ? 2 : 1;
    const size = utf8Length(unit, isPair);
    if (bytes + size > MAX_VARIABLE_SIZE) return value.slice(0, index);
    if (bytes + size === MAX_VARIABLE_SIZE && index + units < value.length) {
      const nextIsAscii = value.charCodeAt(index + units) < 0x80;
      return value.slice(0, nextIsAscii || size === 1 ? index + units : index);
    }
    bytes += size;
    index += units;
  }
  return value;
}

/** RFC 5229 section 4.1 precedence: higher applies first. :quoteregex is the regex draft's. */
export const SET_MODIFIER_PRECEDENCE: Readonly<Record<string, number>> = {
  lower: 40,
  upper: 40,
  lowerfirst: 30,
  upperfirst: 30,
  quotewildcard: 20,
  quoteregex: 20,
  length: 10,
};

/** The set command's modifier tags, without the colon. */
export const SET_MODIFIERS: readonly string[] = Object.keys(SET_MODIFIER_PRECEDENCE);

function asciiUpperCase(text: string): string {
  return text.replace(/[a-z]+/g, (letters) => letters.toUpperCase());
}

/** Characters special in a POSIX extended regular expression. */
const REGEX_SPECIALS = /[\\^$.[\]|()*+?{}]/g;

/** The modifiers, as Pigeonhole applies them: ASCII-only case changes, :length in characters. */
const MODIFY: Readonly<Record<string, (value: string) => string>> = {
  lower: asciiLowerCase,
  upper: asciiUpperCase,
  lowerfirst: (value) => asciiLowerCase(value.slice(0, 1)) + value.slice(1),
  upperfirst: (value) => asciiUpperCase(value.slice(0, 1)) + value.slice(1),
  quotewildcard: (value) => value.replace(/[*?\\]/g, '\\$&'),
  quoteregex: (value) => value.replace(REGEX_SPECIALS, '\\$&'),
  length: (value) => String(Array.from(value).length),
};

/**
 * The set command's value: cut to MAX_VARIABLE_SIZE, then each modifier in
 * precedence order, cutting again after each (as Pigeonhole does, so
 * `:length :quotewildcard` of 4096 "*" is "4096"). Throws Error for an
 * unknown modifier name.
 */
export function applySetModifiers(value: string, modifiers: readonly string[]): string {
  const ordered = modifiers.map((name) => ({ name, precedence: precedence(name) })).sort((a, b) => b.precedence - a.precedence);
  let result = truncateVariable(value);
  for (const { name } of ordered) result = truncateVariable(MODIFY[name]!(result));
  return result;
}

function precedence(modifier: string): number {
  const value = Object.hasOwn(SET_MODIFIER_PRECEDENCE, modifier) ? SET_MODIFIER_PRECEDENCE[modifier] : undefined;
  if (value === undefined) throw new Error(`unknown set modifier :${modifier}`);
  return value;
}
