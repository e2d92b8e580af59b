// Sieve comparators (RFC 5228 section 2.7.3, RFC 4790 section 9): how two
// strings are told equal and ordered, and how text is folded before the
// substring match types (:contains, :matches) compare it character by
// character.
//
// - i;octet: exact; ordered by the UTF-8 bytes (= code point order).
// - i;ascii-casemap: ASCII letters folded, nothing else; ordered as C's
//   strncasecmp orders (folded to lower case, so "_" < "a"), as Pigeonhole does.
// - i;ascii-numeric: the value of the leading ASCII digits; a string that
//   does not start with a digit is positive infinity (equal to every other
//   such string). It has no substring operations: :contains, :matches and
//   :regex with it are compile errors (the validator's job).
//
// comparatorFor throws SieveRuntimeError for a name that is none of these.

import { SieveRuntimeError } from '../run-types.js';
import { asciiLowerCase } from '../../message/ascii.js';

export const SUPPORTED_COMPARATORS: readonly string[] = ['i;octet', 'i;ascii-casemap', 'i;ascii-numeric'];

export interface Comparator {
  /** RFC 4790 equality */
  equals(a: string, b: string): boolean;
  /** RFC 4790 ordering: negative when a < b, 0 when equal, positive when a > b */
  compare(a: string, b: string): number;
  /**
   * Folding for substring operations: both sides folded, then compared
   * exactly. Undefined when the comparator has no substring operations.
   */
  fold?(text: string): string;
}

/** Orders by code point, which is the order of the UTF-8 bytes (JS's < orders UTF-16 units). */
function compareCodePoints(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let index = 0; index < length; index++) {
    const left = a.charCodeAt(index);
    const right = b.charCodeAt(index);
    if (left === right) continue;
    // A surrogate (an astral code point) sorts above every BMP unit.
    const leftRank = left >= 0xd800 && left <= 0xdfff ? left + 0x10000 : left;
    const rightRank = right >= 0xd800 && right <= 0xdfff ? right + 0x10000 : right;
    return leftRank - rightRank;
  }
  return a.length - b.length;
}

/** The leading ASCII digits without leading zeros, or undefined (positive infinity) when there are none. */
function leadingNumber(text: string): string | undefined {
  const digits = /^[0-9]+/.exec(text)?.[0];
  return digits?.replace(/^0+/, '');
}

/** RFC 4790 9.1 ordering, for numbers of any length. */
function compareNumeric(a: string, b: string): number {
  const left = leadingNumber(a);
  const right = leadingNumber(b);
  if (left === undefined || right === undefined) return (left === undefined ? 1 : 0) - (right === undefined ? 1 : 0);
  if (left.length !== right.length) return left.length - right.length;
  return left < right ? -1 : left > right ? 1 : 0;
}

const OCTET: Comparator = {
  equals: (a, b) => a === b,
  compare: compareCodePoints,
  fold: (text) => text,
};

const ASCII_CASEMAP: Comparator = {
  equals: (a, b) => a === b || asciiLowerCase(a) === asciiLowerCase(b),
  compare: (a, b) => compareCodePoints(asciiLowerCase(a), asciiLowerCase(b)),
  fold: asciiLowerCase,
};

const ASCII_NUMERIC: Comparator = {
  equals: (a, b) => compareNumeric(a, b) === 0,
  compare: compareNumeric,
};

const COMPARATORS: Readonly<Record<string, Comparator>> = {
  'i;octet': OCTET,
  'i;ascii-casemap': ASCII_CASEMAP,
  'i;ascii-numeric': ASCII_NUMERIC,
};

export function comparatorFor(name: string): Comparator {
  const comparator = Object.hasOwn(COMPARATORS, name) ? COMPARATORS[name] : undefined;
  if (comparator === undefined) throw new SieveRuntimeError(`unknown comparator '${name}'`);
  return comparator;
}
