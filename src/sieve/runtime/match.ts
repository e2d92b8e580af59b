// Sieve match types (RFC 5228 section 2.7.1, RFC 5231 relational, the regex
// draft) over a comparator (./comparator.ts): a test is true when any value
// matches any key. Values are tried in order, each against the keys in
// order; the first matching pair gives the match variables (RFC 5229 3.2).
//
// - :is, :contains: the comparator's equality, its folded substring search.
// - :matches: `*` any run of characters, `?` exactly one character (a Unicode
//   character, where Pigeonhole takes one octet), `\` makes the next
//   character literal (a trailing `\` is itself). As in Pigeonhole, the text
//   before the first `*` is anchored at the start, the text after the last
//   `*` at the end, and each piece in between is taken at its leftmost
//   place, so every `*` takes the shortest run that still lets the rest
//   match. That is linear per piece (no backtracking between pieces), so a
//   hostile "*a*a*a*a*a*b" costs one scan. Captures: ${0} the value, then one
//   per wildcard, left to right.
// - :regex: ./regex.ts (i;octet case-sensitive, i;ascii-casemap ASCII
//   case-insensitive); captures ${0} the match, then the groups ("" for a
//   group that took no part).
// - :value: the comparator's ordering between value and key; :count: the
//   number of values, as a decimal string, against the keys.
//
// Captures are cut to the variable size limit and to Pigeonhole's 32 match
// values. Throws SieveRuntimeError for an unknown comparator, a comparator
// that cannot do the match type (i;ascii-numeric with a substring match;
// the validator refuses these), or an invalid :regex key.

import type { MatchType, RelationalOperator } from '../compiled.js';
import { SieveRuntimeError } from '../run-types.js';
import { comparatorFor, type Comparator } from './comparator.js';
import { compilePosixRegex } from './regex.js';
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
      `the ${spec.comparator} comparator does not support sub-string matching as required by the :${spec.type} match type`,
    );
  }
  return comparator.fold;
}

function relation(spec: MatchSpec): (order: number) => boolean {
  if (spec.relation === undefined) throw new SieveRuntimeError(`the :${spec.type} match type needs a relational operator`);
  return RELATIONS[spec.relation];
}

function capturesOf(parts: readonly (string | undefined)[]): string[] {
  return parts.slice(0, MAX_MATCH_VALUES).map((part) => truncateVariable(part ?? ''));
}

// ---------------------------------------------------------------------------
// :matches

/** `?` (one character) or a literal character (one code point, folded). */
type PatternToken = { any: true } | { any: false; text: string };

/** A :matches key split at its `*`s: pieces of tokens (pieces.length - 1 stars). */
function parseWildcardKey(key: string, fold: (text: string) => string): PatternToken[][] {
  const pieces: PatternToken[][] = [[]];
  const characters = Array.from(key);
  for (let index = 0; index < characters.length; index++) {
    const character = characters[index]!;
    const piece = pieces[pieces.length - 1]!;
    if (character === '*') pieces.push([]);
    else if (character === '?') piece.push({ any: true });
    // "\x" is x; a "\" at the end stands for itself
    else if (character === '\\' && index + 1 < characters.length) piece.push({ any: false, text: fold(characters[++index]!) });
    else piece.push({ any: false, text: fold(character) });
  }
  return pieces;
}

/** UTF-16 units of the character at `index` (a surrogate pair is one character). */
function characterLength(text: string, index: number): number {
  const unit = text.charCodeAt(index);
  return unit >= 0xd800 && unit <= 0xdbff && (text.charCodeAt(index + 1) & 0xfc00) === 0xdc00 ? 2 : 1;
}

/** Where a piece matched: its bounds and where each of its `?` characters starts. */
interface PieceMatch {
  start: number;
  end: number;
  anys: number[];
}

function matchPieceAt(value: string, piece: readonly PatternToken[], start: number): PieceMatch | undefined {
  const anys: number[] = [];
  let position = start;
  for (const token of piece) {
    if (position >= value.length) return undefined;
    if (token.any) {
      anys.push(position);
      position += characterLength(value, position);
    } else if (value.startsWith(token.text, position)) {
      position += token.text.length;
    } else {
      return undefined;
    }
  }
  return { start, end: position, anys };
}

/** The piece at its leftmost place at or after `from`. */
function findPiece(value: string, piece: readonly PatternToken[], from: number): PieceMatch | undefined {
  if (piece.every((token) => !token.any)) {
    const literal = piece.map((token) => (token.any ? '' : token.text)).join('');
    const start = value.indexOf(literal, from);
    return start < 0 ? undefined : { start, end: start + literal.length, anys: [] };
  }
  for (let start = from; start < value.length; start += characterLength(value, start)) {
    const found = matchPieceAt(value, piece, start);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** The piece ending the value (it matches a fixed number of characters), starting at or after `from`. */
function findLastPiece(value: string, piece: readonly PatternToken[], from: number): PieceMatch | undefined {
  let start = value.length;
  for (let index = piece.length - 1; index >= 0 && start >= from; index--) {
    const token = piece[index]!;
    if (!token.any) start -= token.text.length;
    else start -= start >= 2 && (value.charCodeAt(start - 1) & 0xfc00) === 0xdc00 && (value.charCodeAt(start - 2) & 0xfc00) === 0xd800 ? 2 : 1;
  }
  if (start < from) return undefined;
  const found = matchPieceAt(value, piece, start);
  return found?.end === value.length ? found : undefined;
}

/** The captures when the key's pieces match the folded value (captures come from the original), else undefined. */
function matchPieces(original: string, value: string, pieces: readonly PatternToken[][]): string[] | undefined {
  const character = (at: number) => original.slice(at, at + characterLength(original, at));
  const captures = [original];
  const first = matchPieceAt(value, pieces[0]!, 0);
  if (first === undefined) return undefined;
  captures.push(...first.anys.map(character));
  if (pieces.length === 1) return first.end === value.length ? captures : undefined;
  let position = first.end;
  for (let index = 1; index < pieces.length; index++) {
    const piece = pieces[index]!;
    const found = index < pieces.length - 1 ? findPiece(value, piece, position) : findLastPiece(value, piece, position);
    if (found === undefined) return undefined;
    captures.push(original.slice(position, found.start), ...found.anys.map(character));
    position = found.end;
  }
  return captures;
}

function matchWildcards(values: readonly string[], keys: readonly string[], fold: (text: string) => string): MatchOutcome {
  const keyPieces = keys.map((key) => parseWildcardKey(key, fold));
  for (const value of values) {
    const folded = fold(value);
    for (const pieces of keyPieces) {
      const captures = matchPieces(value, folded, pieces);
      if (captures !== undefined) return { matched: true, captures: capturesOf(captures) };
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
  // compiled when first needed, as Pigeonhole does: a bad key after a matching one goes unnoticed
  const compiled: RegExp[] = [];
  const regexFor = (index: number): RegExp => {
    const key = keys[index]!;
    try {
      return (compiled[index] ??= compilePosixRegex(key, caseInsensitive));
    } catch (error) {
      throw new SieveRuntimeError(`invalid regular expression '${key}' for regex match: ${(error as Error).message}`);
    }
  };
  for (const value of values) {
    for (let index = 0; index < keys.length; index++) {
      const found = regexFor(index).exec(value);
      if (found !== null) return { matched: true, captures: capturesOf(found) };
    }
  }
  return { matched: false };
}
