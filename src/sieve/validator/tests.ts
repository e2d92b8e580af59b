// The tests the validator knows: RFC 5228's (address, allof, anyof, envelope,
// exists, false, header, not, size, true) and those of the extensions:
// body (RFC 5173), string (5229), hasflag (5232), date and currentdate
// (5260), environment (5183), mailboxexists (5490), ihave (5463), duplicate
// (7352). Each definition lists its tags and positional arguments (see
// CompiledNode in ../compiled.ts for what lands where) and checks what the
// generic machinery of ./check.ts cannot, with Pigeonhole's messages.
// Pigeonhole only warns about unknown date parts, invalid zones and invalid
// header names; so does Dovetail, by accepting them.

import { fillPositional, type CommandCheck, type CommandDefinition, type TagGroup } from './check.js';
import { sanitizeForLog } from '../../log/sanitize.js';
import { ADDRESS_PART_TAGS, INDEX_TAGS, MATCH_TAGS, checkAddressPart, checkIndex, checkMatch } from './match.js';
import { checkFlagArguments } from './variables.js';

/** Headers the address test may look at (Pigeonhole's list: RFC 5322 address fields and common extras). */
const ADDRESS_HEADERS = new Set([
  'from', 'to', 'cc', 'bcc', 'sender', 'resent-from', 'resent-to',
  'reply-to', 'resent-reply-to', 'resent-sender', 'resent-cc', 'resent-bcc',
  'for-approval', 'for-handling', 'for-comment', 'apparently-to', 'errors-to',
  'delivered-to', 'return-receipt-to', 'x-admin', 'read-receipt-to',
  'x-confirm-reading-to', 'return-receipt-requested', 'registered-mail-reply-requested-by',
  'mail-followup-to', 'mail-reply-to', 'abuse-reports-to', 'x-complaints-to',
  'x-report-abuse-to', 'x-beenthere', 'x-original-to',
]);

const ENVELOPE_PARTS = new Set(['from', 'to', 'auth']);

/** The key list is the last positional argument of every test with a match type. */
function checkKeys(check: CommandCheck): void {
  const keys = check.node.positional.at(-1) as string[];
  checkMatch(check, keys, check.positional.at(-1)!.position);
}

function matchTest(extension: string | undefined, positional: CommandDefinition['positional'], extraTags = {}): CommandDefinition {
  const definition: CommandDefinition = {
    kind: 'test',
    tags: { ...MATCH_TAGS, ...extraTags },
    positional,
    subtests: 'none',
    block: 'none',
    check(check: CommandCheck) {
      fillPositional(check);
      checkKeys(check);
    },
  };
  if (extension !== undefined) definition.extension = extension;
  return definition;
}

function plainTest(extension: string | undefined, positional: CommandDefinition['positional']): CommandDefinition {
  const definition: CommandDefinition = { kind: 'test', tags: {}, positional, subtests: 'none', block: 'none', check: fillPositional };
  if (extension !== undefined) definition.extension = extension;
  return definition;
}

const SIZE: TagGroup = {
  conflict: () => "exactly one of the ':under' or ':over' tags must be specified for the size test, but more were found",
};
const BODY_TRANSFORM: TagGroup = {};
const ZONE: TagGroup = {};
const DUPLICATE_SOURCE: TagGroup = {
  conflict: (previous, current, check) =>
    previous === current
      ? `encountered duplicate :${current} argument for ${check.subject}`
      : 'conflicting :header and :uniqueid arguments specified for the duplicate test',
};

export const TESTS: Readonly<Record<string, CommandDefinition>> = {
  true: { kind: 'test', tags: {}, positional: [], subtests: 'none', block: 'none', check: (check) => void (check.constant = 1) },
  false: { kind: 'test', tags: {}, positional: [], subtests: 'none', block: 'none', check: (check) => void (check.constant = 0) },
  not: { kind: 'test', tags: {}, positional: [], subtests: 'one', block: 'none' },
  allof: { kind: 'test', tags: {}, positional: [], subtests: 'list', block: 'none' },
  anyof: { kind: 'test', tags: {}, positional: [], subtests: 'list', block: 'none' },
  exists: plainTest(undefined, [{ name: 'header names', type: 'string-list' }]),
  size: {
    kind: 'test',
    tags: { over: { group: SIZE }, under: { group: SIZE } },
    positional: [{ name: 'limit', type: 'number' }],
    subtests: 'none',
    block: 'none',
    check(check: CommandCheck) {
      if (!check.tags.has('over') && !check.tags.has('under')) {
        check.fail(check.raw.position, 'the size test requires either the :under or the :over tag to be specified');
      }
      fillPositional(check);
    },
  },
  header: {
    ...matchTest(undefined, [
      { name: 'header names', type: 'string-list' },
      { name: 'key list', type: 'string-list' },
    ], INDEX_TAGS),
    check(check: CommandCheck) {
      checkIndex(check);
      fillPositional(check);
      checkKeys(check);
    },
  },
  address: {
    ...matchTest(undefined, [
      { name: 'header list', type: 'string-list' },
      { name: 'key list', type: 'string-list' },
    ], { ...ADDRESS_PART_TAGS, ...INDEX_TAGS }),
    check(check: CommandCheck) {
      checkIndex(check);
      fillPositional(check);
      for (const header of check.node.positional[0] as string[]) {
        if (check.validation.isConstant(header) && !ADDRESS_HEADERS.has(header.toLowerCase())) {
          check.fail(check.positional[0]!.position, `specified header '${sanitizeForLog(header, 64)}' is not allowed for the address test`);
        }
      }
      checkAddressPart(check);
      checkKeys(check);
    },
  },
  envelope: {
    ...matchTest('envelope', [
      { name: 'envelope part', type: 'string-list' },
      { name: 'key list', type: 'string-list' },
    ], ADDRESS_PART_TAGS),
    check(check: CommandCheck) {
      fillPositional(check);
      const addressPartTag = [...check.tags.keys()].find((tag) => Object.hasOwn(ADDRESS_PART_TAGS, tag));
      for (const part of check.node.positional[0] as string[]) {
        if (!check.validation.isConstant(part)) continue;
        const shown = sanitizeForLog(part, 80);
        if (!ENVELOPE_PARTS.has(part.toLowerCase())) {
          check.fail(check.positional[0]!.position, `specified envelope part '${shown}' is not supported by the envelope test`);
        }
        if (addressPartTag !== undefined && part.toLowerCase() === 'auth') {
          check.fail(
            check.tags.get(addressPartTag)!.argument.position,
            `address part ':${addressPartTag}' specified while non-address envelope part '${shown}' is tested with the envelope test`,
          );
        }
      }
      checkAddressPart(check);
      checkKeys(check);
    },
  },
  body: matchTest('body', [{ name: 'key list', type: 'string-list' }], {
    raw: { group: BODY_TRANSFORM },
    text: { group: BODY_TRANSFORM },
    content: { group: BODY_TRANSFORM, parameter: 'string-list' },
  }),
  string: matchTest('variables', [
    { name: 'source', type: 'string-list' },
    { name: 'key list', type: 'string-list' },
  ]),
  hasflag: {
    kind: 'test',
    extension: 'imap4flags',
    tags: MATCH_TAGS,
    subtests: 'none',
    block: 'none',
    check(check: CommandCheck) {
      checkFlagArguments(check, 'string-list');
      const keys = check.node.positional.at(-1) as string[];
      checkMatch(check, keys, check.positional[check.node.positional.length - 1]!.position);
    },
  },
  date: {
    ...matchTest('date', [
      { name: 'header name', type: 'string' },
      { name: 'date part', type: 'string' },
      { name: 'key list', type: 'string-list' },
    ], { zone: { group: ZONE, parameter: 'string' }, originalzone: { group: ZONE }, ...INDEX_TAGS }),
    check(check: CommandCheck) {
      checkIndex(check);
      fillPositional(check);
      checkKeys(check);
    },
  },
  currentdate: matchTest('date', [
    { name: 'date part', type: 'string' },
    { name: 'key list', type: 'string-list' },
  ], { zone: { parameter: 'string' } }),
  environment: matchTest('environment', [
    { name: 'name', type: 'string' },
    { name: 'key list', type: 'string-list' },
  ]),
  mailboxexists: plainTest('mailbox', [{ name: 'mailbox-names', type: 'string-list' }]),
  ihave: {
    ...plainTest('ihave', [{ name: 'capabilities', type: 'string-list' }]),
    check(check: CommandCheck) {
      fillPositional(check);
      // RFC 5463 section 4: never true for extensions that change how a script reads
      const names = check.node.positional[0] as string[];
      const usable = names.every((name) => check.validation.isAvailable(name) && name !== 'variables' && name !== 'encoded-character');
      if (!usable) {
        check.constant = 0;
        return;
      }
      for (const name of names) check.validation.load(name);
    },
  },
  duplicate: {
    kind: 'test',
    extension: 'duplicate',
    tags: {
      handle: { parameter: 'string' },
      header: { parameter: 'string', group: DUPLICATE_SOURCE },
      uniqueid: { parameter: 'string', group: DUPLICATE_SOURCE },
      seconds: { parameter: 'number' },
      last: {},
    },
    positional: [],
    subtests: 'none',
    block: 'none',
  },
};

/** Names of RFC 5228's own tests, for require's message about them. */
export const CORE_TESTS: ReadonlySet<string> = new Set(['address', 'allof', 'anyof', 'exists', 'false', 'header', 'not', 'size', 'true']);

