// Tagged arguments shared by several tests: match types (RFC 5228 2.7.1,
// :regex from the regex draft, :value/:count from RFC 5231), the comparator
// (2.7.3, i;ascii-numeric from RFC 4790 when its extension is required),
// address parts (2.7.4, :user/:detail from RFC 5233) and :index/:last
// (RFC 5260 section 6). Match types, comparator and address parts stay out
// of node.tags: the checks put them into node.match, node.comparator and
// node.addressPart, with their defaults. Failures are the command's error
// (CommandCheck.fail), worded as Pigeonhole's.

import type { SourcePosition } from '../ast.js';
import type { AddressPart, MatchType, RelationalOperator } from '../compiled.js';
import { SUPPORTED_COMPARATORS } from '../runtime/comparator.js';
import { isValidPosixRegex } from '../runtime/regex.js';
import { type CommandCheck, type TagDefinition, type TagGroup, type TagUse } from './check.js';
import { sanitizeForLog } from '../../log/sanitize.js';

const MATCH_TYPE: TagGroup = { label: 'MATCH-TYPE' };
const ADDRESS_PART: TagGroup = { label: 'ADDRESS-PART' };

const RELATIONAL_OPERATORS: readonly string[] = ['gt', 'ge', 'lt', 'le', 'eq', 'ne'] satisfies RelationalOperator[];
/** comparators every script may name; others need their "comparator-NAME" extension */
const CORE_COMPARATORS = new Set(['i;octet', 'i;ascii-casemap']);
/** comparators that can only compare whole values */
const NO_SUBSTRING_COMPARATORS = new Set(['i;ascii-numeric']);

function relationalParameterError(tag: string): (found: string) => string {
  return (found) =>
    `the :${tag} match-type requires a constant string argument being one of "gt", "ge", "lt", "le", "eq" or "ne", but ${found} was found`;
}

/** :value/:count take a constant relational operator. */
function checkRelationalOperator(check: CommandCheck, use: TagUse): void {
  const operator = use.value as string;
  if (!check.validation.isConstant(operator) || !RELATIONAL_OPERATORS.includes(operator)) {
    check.fail(use.parameter!.position, relationalParameterError(use.argument.name)(`"${operator}"`));
  }
}

/** :comparator takes the constant name of a comparator in effect; kept lower-case. */
function checkComparatorName(check: CommandCheck, use: TagUse): void {
  const { validation } = check;
  const name = use.value as string;
  if (!validation.isConstant(name)) {
    check.fail(use.parameter!.position, 'this Sieve implementation currently only supports a literal string argument for the :comparator tag');
  }
  const comparator = name.toLowerCase();
  const known = SUPPORTED_COMPARATORS.includes(comparator) && (CORE_COMPARATORS.has(comparator) || validation.isLoaded(`comparator-${comparator}`));
  if (!known) check.fail(use.parameter!.position, `unknown comparator '${sanitizeForLog(name, 80)}'`);
  use.value = comparator;
}

export const MATCH_TAGS: Readonly<Record<string, TagDefinition>> = {
  is: { group: MATCH_TYPE, normalised: true },
  contains: { group: MATCH_TYPE, normalised: true },
  matches: { group: MATCH_TYPE, normalised: true },
  regex: { group: MATCH_TYPE, normalised: true, extension: 'regex' },
  value: {
    group: MATCH_TYPE,
    normalised: true,
    extension: 'relational',
    parameter: 'string',
    parameterError: relationalParameterError('value'),
    checkParameter: checkRelationalOperator,
  },
  count: {
    group: MATCH_TYPE,
    normalised: true,
    extension: 'relational',
    parameter: 'string',
    parameterError: relationalParameterError('count'),
    checkParameter: checkRelationalOperator,
  },
  comparator: { parameter: 'string', normalised: true, checkParameter: checkComparatorName },
};

export const ADDRESS_PART_TAGS: Readonly<Record<string, TagDefinition>> = {
  all: { group: ADDRESS_PART, normalised: true },
  localpart: { group: ADDRESS_PART, normalised: true },
  domain: { group: ADDRESS_PART, normalised: true },
  user: { group: ADDRESS_PART, normalised: true, extension: 'subaddress' },
  detail: { group: ADDRESS_PART, normalised: true, extension: 'subaddress' },
};

export const INDEX_TAGS: Readonly<Record<string, TagDefinition>> = {
  index: {
    extension: 'index',
    parameter: 'number',
    checkParameter(check, use) {
      if (use.value === 0) check.fail(use.parameter!.position, `the :index tag for ${check.subject} cannot be zero`);
    },
  },
  last: { extension: 'index' },
};

/**
 * Sets node.match and node.comparator (with their defaults) from the tags
 * (checked as they were read), checks that the comparator can do the match
 * type, and checks the constant :regex keys among `keys`.
 */
export function checkMatch(check: CommandCheck, keys: readonly string[], keysPosition: SourcePosition): void {
  const { node, validation } = check;
  let matchTag: TagUse | undefined;
  let comparatorTag: TagUse | undefined;
  for (const [name, use] of check.tags) {
    if (name === 'comparator') comparatorTag = use;
    else if (MATCH_TAGS[name]?.group === MATCH_TYPE) matchTag = use;
  }
  const type = (matchTag?.argument.name ?? 'is') as MatchType;
  node.match = type === 'value' || type === 'count' ? { type, relation: matchTag!.value as RelationalOperator } : { type };
  // Pigeonhole's string test compares octets unless told otherwise (RFC 5228's default is i;ascii-casemap)
  const defaultComparator = node.name === 'string' ? 'i;octet' : 'i;ascii-casemap';
  const comparator = comparatorTag === undefined ? defaultComparator : (comparatorTag.value as string);
  node.comparator = comparator;
  if (type === 'regex' && !CORE_COMPARATORS.has(comparator)) {
    check.fail(matchTag!.argument.position, 'regex match type only supports i;octet and i;ascii-casemap comparators');
  }
  if (NO_SUBSTRING_COMPARATORS.has(comparator) && (type === 'contains' || type === 'matches')) {
    check.fail(
      comparatorTag!.argument.position,
      `the specified ${comparator} comparator does not support sub-string matching as required by the :${type} match type`,
    );
  }
  if (type === 'regex') {
    for (const key of keys) {
      if (!validation.isConstant(key)) continue;
      const reason = isValidPosixRegex(key, comparator === 'i;ascii-casemap');
      if (reason !== undefined) check.fail(keysPosition, `invalid regular expression '${key}' for regex match: ${reason}`);
    }
  }
}

/** Sets node.addressPart (default "all") from the tags. */
export function checkAddressPart(check: CommandCheck): void {
  let part: AddressPart = 'all';
  for (const name of check.tags.keys()) {
    if (Object.hasOwn(ADDRESS_PART_TAGS, name)) part = name as AddressPart;
  }
  check.node.addressPart = part;
}

/** :last only goes with :index. */
export function checkIndex(check: CommandCheck): void {
  const last = check.tags.get('last');
  if (last !== undefined && !check.tags.has('index')) {
    check.fail(last.argument.position, `the :last tag for ${check.subject} cannot be specified without the :index tag`);
  }
}
