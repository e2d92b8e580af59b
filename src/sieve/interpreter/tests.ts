// Sieve tests (RFC 5228 section 5 and the extensions' tests): each node
// evaluates to true or false against the message view, the envelope and the
// run's state. allof/anyof stop at the first false/true member; a successful
// :matches/:regex test sets the match variables ${0}, ${1}, ... (a failed
// one, or another match type, leaves them as they were). Pure apart from
// the two host questions (mailboxExists, duplicateSeen); throws
// SieveRuntimeError (a bad :regex key, the CPU budget, a corrupt node).
//
// What values each test compares, as Pigeonhole 0.5 does:
// - header: every field of each named header (names in order, fields in
//   header order), RFC 2047 words decoded; :index N / :last pick one field of
//   that combined list.
// - address: the raw fields picked the same way, each parsed as an address
//   list; a field without one valid address (an empty group too) is one
//   value, the whole field text, for :all and nothing for the other parts.
// - envelope: "from" (the null sender is one value "" for every address
//   part), "to", "auth" (taken as is).
// - date: the first (or :index'ed) field of the header, the text after its
//   last ";" (Received), parsed as an RFC 2822 date; unparsable → false.
//   :zone that is not ±hhmm → the local zone.
// - string: the sources; :count does not count empty strings.
// - duplicate: :uniqueid, else the first :header field (decoded), else
//   Message-ID; no value → false.

import type { AddressPart, CompiledNode } from '../compiled.js';
import { SieveRuntimeError } from '../run-types.js';
import { addressPart, parseAddressHeader, parseEnvelopeAddress } from '../runtime/address.js';
import { extractBodyParts, type BodyTransform } from '../runtime/body.js';
import { datePart, parseRfc2822Date, parseZone } from '../runtime/date.js';
import { headerValues } from '../runtime/headers.js';
import { matchValues } from '../runtime/match.js';
import {
  hasTag,
  positionalList,
  positionalNumber,
  positionalString,
  tagList,
  tagNumber,
  tagString,
  type ScriptFrame,
} from './context.js';
import { addFlags } from './flags.js';

/** RFC 7352 defaults in Pigeonhole: sieve_duplicate_default_period 12h, sieve_duplicate_max_period 2d. */
const DUPLICATE_DEFAULT_PERIOD_SECONDS = 12 * 60 * 60;
const DUPLICATE_MAX_PERIOD_SECONDS = 2 * 24 * 60 * 60;

export function evaluateTest(frame: ScriptFrame, node: CompiledNode): boolean {
  frame.run.step();
  switch (node.name) {
    case 'true':
      return true;
    case 'false':
      return false;
    case 'not':
      return !evaluateTest(frame, member(node, 0));
    case 'allof':
      return node.tests.every((test) => evaluateTest(frame, test));
    case 'anyof':
      return node.tests.some((test) => evaluateTest(frame, test));
    case 'header':
      return headerTest(frame, node);
    case 'address':
      return addressTest(frame, node);
    case 'envelope':
      return envelopeTest(frame, node);
    case 'exists':
      return frame
        .strings(positionalList(node, 0))
        .every((name) => headerValues(frame.run.headerFields(), name, false).length > 0);
    case 'size':
      return sizeTest(frame, node);
    case 'body':
      return bodyTest(frame, node);
    case 'string':
      return stringTest(frame, node);
    case 'hasflag':
      return hasflagTest(frame, node);
    case 'date':
      return dateTest(frame, node);
    case 'currentdate':
      return currentdateTest(frame, node);
    case 'environment':
      return environmentTest(frame, node);
    case 'mailboxexists':
      return frame.strings(positionalList(node, 0)).every((name) => frame.run.input.host.mailboxExists(name));
    case 'ihave':
      return positionalList(node, 0).every((name) => frame.run.input.enabledExtensions.has(name.toLowerCase()));
    case 'duplicate':
      return duplicateTest(frame, node);
    default:
      throw new SieveRuntimeError(`unsupported test '${node.name}'`, node.position.line);
  }
}

function member(node: CompiledNode, index: number): CompiledNode {
  const test = node.tests[index];
  if (!test) throw new SieveRuntimeError(`corrupt compiled script: ${node.name} test has no member`, node.position.line);
  return test;
}

/** Compares with the node's match type and comparator; records the match variables of a successful :matches/:regex. */
function compare(frame: ScriptFrame, node: CompiledNode, values: readonly string[], keys: readonly string[]): boolean {
  const outcome = matchValues(values, keys, {
    type: node.match?.type ?? 'is',
    relation: node.match?.relation,
    comparator: node.comparator ?? 'i;ascii-casemap',
  });
  if (outcome.matched && outcome.captures && frame.expandsVariables) frame.matchValues = outcome.captures;
  return outcome.matched;
}

/** RFC 5260 :index N (1-based) with optional :last: one item of the list, or none when out of range. */
function selectIndex<T>(node: CompiledNode, items: T[]): T[] {
  const index = tagNumber(node, 'index');
  if (index === undefined) return items;
  const position = hasTag(node, 'last') ? items.length - index : index - 1;
  const item = items[position];
  return position >= 0 && item !== undefined ? [item] : [];
}

function fieldValues(frame: ScriptFrame, node: CompiledNode, names: readonly string[], decode: boolean): string[] {
  const fields = frame.run.headerFields();
  return selectIndex(
    node,
    names.flatMap((name) => headerValues(fields, name, decode)),
  );
}

function headerTest(frame: ScriptFrame, node: CompiledNode): boolean {
  const names = frame.strings(positionalList(node, 0));
  return compare(frame, node, fieldValues(frame, node, names, true), frame.strings(positionalList(node, 1)));
}

function addressTest(frame: ScriptFrame, node: CompiledNode): boolean {
  const names = frame.strings(positionalList(node, 0));
  const part = node.addressPart ?? 'all';
  const delimiter = frame.run.input.recipientDelimiter;
  // :count counts addresses (an unparsable value is one), whatever part of them the test names
  const counting = node.match?.type === 'count';
  const values = fieldValues(frame, node, names, false).flatMap((field) => {
    const addresses = parseAddressHeader(field);
    if (!addresses) return part === 'all' || counting ? [field] : [];
    if (counting) return addresses.map(() => '');
    return addresses.flatMap((address) => addressPart(address, part, delimiter) ?? []);
  });
  return compare(frame, node, values, frame.strings(positionalList(node, 1)));
}

function envelopeTest(frame: ScriptFrame, node: CompiledNode): boolean {
  const part = node.addressPart ?? 'all';
  const values = frame
    .strings(positionalList(node, 0))
    .flatMap((name) => envelopeValues(frame, name.toLowerCase(), part));
  return compare(frame, node, values, frame.strings(positionalList(node, 1)));
}

function envelopeValues(frame: ScriptFrame, name: string, part: AddressPart): string[] {
  const { envelope, recipientDelimiter } = frame.run.input;
  switch (name) {
    case 'auth':
      return envelope.auth !== undefined ? [envelope.auth] : [];
    case 'from':
    case 'to': {
      const path = name === 'from' ? envelope.from : envelope.to;
      if (path === '') return [''];
      const address = parseEnvelopeAddress(path);
      if (!address) return part === 'all' ? [path] : [];
      const value = addressPart(address, part, recipientDelimiter);
      return value !== undefined ? [value] : [];
    }
    default:
      return [];
  }
}

function sizeTest(frame: ScriptFrame, node: CompiledNode): boolean {
  const limit = positionalNumber(node, 0);
  const { size } = frame.run.input.message;
  return hasTag(node, 'over') ? size > limit : size < limit;
}

function bodyTest(frame: ScriptFrame, node: CompiledNode): boolean {
  const contentTypes = tagList(node, 'content');
  const transform: BodyTransform = hasTag(node, 'raw')
    ? { type: 'raw' }
    : contentTypes
      ? { type: 'content', contentTypes: frame.strings(contentTypes) }
      : { type: 'text' };
  const { header, body } = frame.run.input.message;
  const values = extractBodyParts(header, body ?? Buffer.alloc(0), transform);
  return compare(frame, node, values, frame.strings(positionalList(node, 0)));
}

function stringTest(frame: ScriptFrame, node: CompiledNode): boolean {
  const sources = frame.strings(positionalList(node, 0));
  const values = node.match?.type === 'count' ? sources.filter((source) => source !== '') : sources;
  return compare(frame, node, values, frame.strings(positionalList(node, 1)));
}

function hasflagTest(frame: ScriptFrame, node: CompiledNode): boolean {
  if (node.positional.length < 2) {
    return compare(frame, node, frame.run.internalFlags, frame.strings(positionalList(node, 0)));
  }
  const flags = positionalList(node, 0).flatMap((name) => addFlags([], [frame.variable(name) ?? '']));
  return compare(frame, node, flags, frame.strings(positionalList(node, 1)));
}

/** :zone / :originalzone / the local zone, in minutes east of UTC. */
function wantedZone(frame: ScriptFrame, node: CompiledNode, originalZone: number): number {
  const local = frame.run.input.localZoneOffsetMinutes;
  if (hasTag(node, 'originalzone')) return originalZone;
  const zone = tagString(node, 'zone');
  if (zone === undefined) return local;
  return parseZone(frame.string(zone)) ?? local;
}

function dateTest(frame: ScriptFrame, node: CompiledNode): boolean {
  const header = frame.string(positionalString(node, 0));
  const part = frame.string(positionalString(node, 1)).toLowerCase();
  const [field] = fieldValues(frame, node, [header], false);
  const dateText = field?.slice(field.lastIndexOf(';') + 1);
  const date = dateText !== undefined ? parseRfc2822Date(dateText) : undefined;
  if (!date) return false;
  const value = datePart(date.time, wantedZone(frame, node, date.zoneOffsetMinutes), part);
  if (value === undefined) return false;
  return compare(frame, node, [value], frame.strings(positionalList(node, 2)));
}

function currentdateTest(frame: ScriptFrame, node: CompiledNode): boolean {
  const part = frame.string(positionalString(node, 0)).toLowerCase();
  const { now, localZoneOffsetMinutes } = frame.run.input;
  const value = datePart(now.getTime(), wantedZone(frame, node, localZoneOffsetMinutes), part);
  if (value === undefined) return false;
  return compare(frame, node, [value], frame.strings(positionalList(node, 1)));
}

function environmentTest(frame: ScriptFrame, node: CompiledNode): boolean {
  const name = frame.string(positionalString(node, 0));
  const { environment } = frame.run.input;
  // an unknown item (names are case-sensitive) fails whatever the match type
  if (!Object.hasOwn(environment, name)) return false;
  return compare(frame, node, [environment[name]!], frame.strings(positionalList(node, 1)));
}

/** Pigeonhole's duplicate id: MD5 over "sieve duplicate", the :last marker, the handle, the value. */
function duplicateId(handle: string | undefined, value: string, last: boolean): string {
  // node:crypto loads only when a script uses duplicate
  return process
    .getBuiltinModule('node:crypto')
    .createHash('md5')
    .update('sieve duplicate')
    .update(last ? '0' : '+')
    .update(handle !== undefined ? `h-${handle}` : 'default')
    .update(value)
    .digest('hex');
}

/** :seconds, at most sieve_duplicate_max_period; none → sieve_duplicate_default_period. */
function duplicatePeriod(node: CompiledNode): number {
  const seconds = tagNumber(node, 'seconds');
  return seconds === undefined ? DUPLICATE_DEFAULT_PERIOD_SECONDS : Math.min(seconds, DUPLICATE_MAX_PERIOD_SECONDS);
}

function duplicateTest(frame: ScriptFrame, node: CompiledNode): boolean {
  const { run } = frame;
  const uniqueId = tagString(node, 'uniqueid');
  const header = tagString(node, 'header');
  const value =
    uniqueId !== undefined
      ? frame.string(uniqueId)
      : headerValues(run.headerFields(), header !== undefined ? frame.string(header) : 'message-id', true)[0];
  if (value === undefined) return false;
  const handleTag = tagString(node, 'handle');
  const handle = handleTag !== undefined ? frame.string(handleTag) : undefined;
  const last = hasTag(node, 'last');
  const id = duplicateId(handle, value, last);
  const known = run.duplicateAnswers.get(id);
  if (known !== undefined) return known;

  const periodSeconds = duplicatePeriod(node);
  const { host } = run.input;
  // :last also finds a mark made without :last
  const seen = host.duplicateSeen(id, periodSeconds) || (last && host.duplicateSeen(duplicateId(handle, value, false), periodSeconds));
  // a duplicate is marked again only with :last (the period then restarts)
  if (!seen || last) {
    run.actions.add({ type: 'duplicate-mark' }, frame.location(node));
    run.duplicateIds.push({ id, periodSeconds });
  }
  run.duplicateAnswers.set(id, seen);
  return seen;
}

