// Sieve match types (RFC 5228 section 2.7.1, RFC 5231 relational, the regex
// draft) over a comparator (./comparator.ts): a test is true when any value
// matches any key. Values are tried in order, each against the keys in
// order; the first matching pair gives the match variables (RFC 5229 3.2).
//
// - :is, :contains: the comparator's equality, its folded substring search.
// - :matches: `*` any run of octets, `?` exactly one octet, `\` makes the
//   next octet literal (a trailing `\` is itself). Octets, not characters:
//   RFC 5228 2.7.1 says "?" matches one octet under i;octet and
//   i;ascii-casemap, and Pigeonhole does so ("é" matches "??"); values and
//   keys are matched as their UTF-8 octets, and a capture that splits a
//   character gets U+FFFD for the broken part. As in Pigeonhole, the part
//   before the first `*` is anchored at the start, the part after the last
//   `*` at the end, and each part in between takes its leftmost place, so
//   every `*` takes the shortest run that lets the rest match. No part is
//   ever retried, so a hostile "*a*a*a*a*a*b" costs one scan. Captures: ${0}
//   the value, then one per wildcard, left to right.
// - :regex: ./regex.ts, on octets too (i;octet case-sensitive,
//   i;ascii-casemap ASCII case-insensitive, other comparators refused);
//   captures ${0} the match, then the groups ("" for a group that took no
//   part). Each key is compiled when first needed, as in Pigeonhole.
// - :value: the comparator's ordering between value and key; :count: the
//   number of values, as a decimal string, against the keys.
//
// Captures are cut to the variable size limit and to Pigeonhole's 32 match
// values. Throws SieveRuntimeError for an unknown comparator, a comparator
// that cannot do the match type (i;ascii-numeric with a substring match;
// the validator refuses these), or an invalid :regex key.

import { sanitizeForLog } from '../../log/sanitize.js';
import type { MatchType, RelationalOperator } from '../compiled.js';
import { SieveRuntimeError } from '../run-types.js';
import { comparatorFor, type Comparator } from './comparator.js';
import { compilePosixRegex, fromOctetString, toOctetString } from './regex.js';
import { truncateVariable } from './variables.js';

/** Pigeonhole's SIEVE_MAX_MATCH_VALUES: ${0} to ${31} hold values. */
export const MAX_MATCH_VALUES = 32;

export interface MatchSpec {
  type: MatchType;
  /** for :value and :count */
  relation?: RelationalOperator;
  comparator: string;
}

export interface MatchOutcome {
  matched: boolean;
  /** :matches and :regex: ${0}, ${1}... of the first matching pair */
  captures?: string[];
}

const RELATIONS: Readonly<Record<RelationalOperator, (order: number) => boolean>> = {
  gt: (order) => order > 0,
  ge: (order) => order >= 0,
  lt: (order) => order < 0,
  le: (order) => order <= 0,
  eq: (order) => order === 0,
  ne: (order) => order !== 0,
};

export function matchValues(values: readonly string[], keys: readonly string[], spec: MatchSpec): MatchOutcome {
  const comparator = comparatorFor(spec.comparator);
  switch (spec.type) {
    case 'is':
      return { matched: values.some((value) => keys.some((key) => comparator.equals(value, key))) };
    case 'contains': {
      const fold = substringFold(comparator, spec);
      const foldedKeys = keys.map(fold);
      return {
        matched: values.some((value) => {
          const folded = fold(value);
          return foldedKeys.some((key) => folded.includes(key));
        }),
      };
    }
    case 'matches':
      return matchWildcards(values, keys, substringFold(comparator, spec));
    case 'regex':
      return matchRegex(values, keys, spec);
    case 'value': {
      const holds = relation(spec);
      return { matched: values.some((value) => keys.some((key) => holds(comparator.compare(value, key)))) };
    }
    case 'count': {
      const holds = relation(spec);
      const count = String(values.length);
      return { matched: keys.some((key) => holds(comparator.compare(count, key))) };
    }
  }
}

function substringFold(comparator: Comparator, spec: MatchSpec): (text: string) => string {
  if (comparator.fold === undefined) {
    throw new SieveRuntimeError(
      `the specified ${spec.comparator} comparator does not support sub-string matching as required by the :${spec.type} match type`,
    );
  }
  return comparator.fold;
}

function relation(spec: MatchSpec): (order: number) => boolean {
  if (spec.relation === undefined) throw new SieveRuntimeError(`the :${spec.type} match type needs a relational operator`);
  return RELATIONS[spec.relation];
}

function capturesOf(parts: readonly string[]): string[] {
  return parts.slice(0, MAX_MATCH_VALUES).map(truncateVariable);
}

// ---------------------------------------------------------------------------
// :matches, on octet strings (see the top of the file)

/** A :matches key split at its `*`s: pieces of literal octets and `?` (null), pieces.length - 1 stars. */
function parseWildcardKey(key: string): (string | null)[][] {
  const pieces: (string | null)[][] = [[]];
  for (let index = 0; index < key.length; index++) {
    const octet = key[index]!;
    const piece = pieces[pieces.length - 1]!;
    if (octet === '*') pieces.push([]);
    else if (octet === '?') piece.push(null);
    // "\x" is x; a "\" at the end stands for itself
    else if (octet === '\\' && index + 1 < key.length) piece.push(key[++index]!);
    else piece.push(octet);
  }
  return pieces;
}

/** Whether the piece matches `value` at `start` (it spans piece.length octets). */
function pieceMatchesAt(value: string, piece: readonly (string | null)[], start: number): boolean {
  if (start + piece.length > value.length) return false;
  return piece.every((octet, index) => octet === null || octet === value[start + index]);
}

/** The leftmost start at or after `from` where the piece matches, or -1. */
function findPiece(value: string, piece: readonly (string | null)[], from: number): number {
  if (!piece.includes(null)) return value.indexOf(piece.join(''), from);
  for (let start = from; start + piece.length <= value.length; start++) {
    if (pieceMatchesAt(value, piece, start)) return start;
  }
  return -1;
}

/**
 * The captures (octet strings: the value, then one per wildcard) when the
 * key's pieces match the folded value; taken from the unfolded value.
 */
function matchPieces(original: string, value: string, pieces: readonly (string | null)[][]): string[] | undefined {
  const captures = [original];
  const anys = (piece: readonly (string | null)[], start: number) =>
    piece.flatMap((octet, index) => (octet === null ? [original[start + index]!] : []));
  const first = pieces[0]!;
  if (!pieceMatchesAt(value, first, 0) || (pieces.length === 1 && first.length !== value.length)) return undefined;
  captures.push(...anys(first, 0));
  let position = first.length;
  for (let index = 1; index < pieces.length; index++) {
    const piece = pieces[index]!;
    // the last piece ends the value; the others take their leftmost place
    const start = index === pieces.length - 1 ? value.length - piece.length : findPiece(value, piece, position);
    if (start < position || !pieceMatchesAt(value, piece, start)) return undefined;
    captures.push(original.slice(position, start), ...anys(piece, start));
    position = start + piece.length;
  }
  return captures;
}

function matchWildcards(values: readonly string[], keys: readonly string[], fold: (text: string) => string): MatchOutcome {
  const keyPieces = keys.map((key) => parseWildcardKey(fold(toOctetString(key))));
  for (const value of values) {
    const octets = toOctetString(value);
    const folded = fold(octets);
    for (const pieces of keyPieces) {
      const captures = matchPieces(octets, folded, pieces);
      if (captures !== undefined) return { matched: true, captures: capturesOf(captures.map(fromOctetString)) };
    }
  }
  return { matched: false };
}

// ---------------------------------------------------------------------------
// :regex

function matchRegex(values: readonly string[], keys: readonly string[], spec: MatchSpec): MatchOutcome {
  if (spec.comparator !== 'i;octet' && spec.comparator !== 'i;ascii-casemap') {
    throw new SieveRuntimeError('regex match type only supports i;octet and i;ascii-casemap comparators');
  }
  const caseInsensitive = spec.comparator === 'i;ascii-casemap';
  // a bad key after a matching one goes unnoticed
  const compiled: RegExp[] = [];
  const regexFor = (index: number): RegExp => {
    const key = keys[index]!;
    try {
      return (compiled[index] ??= compilePosixRegex(key, caseInsensitive));
    } catch (error) {
      const reason = (error as Error).message;
      throw new SieveRuntimeError(`invalid regular expression '${sanitizeForLog(key, 128)}' for regex match: ${reason}`);
    }
  };
  for (const value of values) {
    const octets = toOctetString(value);
    for (let index = 0; index < keys.length; index++) {
      const found = regexFor(index).exec(octets);
      if (found !== null) return { matched: true, captures: capturesOf(Array.from(found, (part) => fromOctetString(part ?? ''))) };
    }
  }
  return { matched: false };
}
