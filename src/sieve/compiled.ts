// A validated script (the output of ./validator.ts, the input of
// ./interpreter.ts). It is plain JSON, so the compile cache can store it.
// Every command and test is a CompiledNode; the validator has already checked
// arity, argument types, tags and that every extension used was required, and
// has normalised the shared tagged arguments (match type, comparator, address
// part) so the interpreter does not look at raw tags for them.
//
// Strings: encoded-character (`${hex:..}`, `${unicode:..}`) is already
// decoded when the script requires it. Variable references (`${name}`) are
// left in place; the interpreter expands them at run time when the script
// requires "variables" (strings of a script without it are used verbatim).

import type { SourcePosition } from './ast.js';

export type MatchType = 'is' | 'contains' | 'matches' | 'regex' | 'value' | 'count';
export type RelationalOperator = 'gt' | 'ge' | 'lt' | 'le' | 'eq' | 'ne';
export type AddressPart = 'all' | 'localpart' | 'domain' | 'user' | 'detail';

/** A tag's parameter, or true for a tag without one. */
export type TagValue = true | string | string[] | number;
/** A positional argument: a single string, a string list, or a number. */
export type PositionalValue = string | string[] | number;

export interface CompiledNode {
  /** lower-cased command or test name, e.g. "fileinto", "header", "allof" */
  name: string;
  position: SourcePosition;
  /**
   * Tagged arguments other than the normalised ones below, keyed by the tag
   * name without the colon: `:copy` → { copy: true }, `:days 3` → { days: 3 },
   * `:flags ["\\Seen"]` → { flags: ["\\Seen"] }, `:content ["text"]` → { content: [...] },
   * `:zone "+0100"` → { zone: "+0100" }, `:index 2` → { index: 2 }.
   * A tag whose parameter is a string list always holds a string[] (a single
   * string written there is wrapped); a single-string parameter holds a string.
   */
  tags: Record<string, TagValue>;
  /** for tests with a match type: default { type: 'is' }; relation set for value/count */
  match?: { type: MatchType; relation?: RelationalOperator };
  /** for tests with a comparator: default "i;ascii-casemap" */
  comparator?: string;
  /** for address/envelope (and date-free tests that take one): default "all" */
  addressPart?: AddressPart;
  /**
   * Positional arguments in order. Where the grammar says string-list, a
   * single string is wrapped into a one-element string[]; where it says
   * string, it is a string; numbers are numbers.
   */
  positional: PositionalValue[];
  /** allof/anyof: the members; not: one; commands: none */
  tests: CompiledNode[];
  /**
   * if: one entry per branch of the if/elsif/else chain (the validator folds
   * the following elsif/else commands into the if); else has no test.
   */
  branches?: { test?: CompiledNode; block: CompiledNode[] }[];
}

export interface CompiledScript {
  /** the script's name as logged (file name without .sieve, or the path) */
  name: string;
  /** extensions named in `require`, lower-cased, in order */
  extensions: string[];
  commands: CompiledNode[];
  /**
   * Scripts named by `include` commands, compiled too, keyed by
   * includeKey(location, name). An :optional include of a missing script has
   * no entry. The host resolved and compiled them (and refused loops).
   */
  includes: Record<string, CompiledScript>;
}

export function includeKey(location: 'personal' | 'global', name: string): string {
  return `${location}:${name}`;
}
