// Sieve commands: control (if/stop/include/return), actions (keep, fileinto,
// redirect, discard, reject/ereject, vacation), variables (set, global) and
// imap4flags (setflag/addflag/removeflag). Actions go to the run's
// ActionList, which merges duplicates and throws SieveRuntimeError on
// conflicts and limits. Pure; throws SieveRuntimeError.
//
// Runtime checks as Pigeonhole makes them: a redirect address that does not
// parse as exactly one address is an error ("specified redirect address '…'
// is invalid: …", no line, as Pigeonhole logs it); an invalid vacation :from
// is dropped and invalid :addresses items are skipped (Pigeonhole logs them
// and goes on); `error "text"` ends the run with that text.

import { includeKey, type CompiledNode } from '../compiled.js';
import { SieveRuntimeError, type SieveLimits } from '../run-types.js';
import { formatAddress } from '../../message/smtp-address.js';
import { isValidMailAddress, parseAddressHeader, type ParsedAddress } from '../runtime/address.js';
import { applySetModifiers, SET_MODIFIERS } from '../runtime/variables.js';
import {
  hasTag,
  positionalList,
  positionalString,
  ScriptFrame,
  tagList,
  tagNumber,
  tagString,
  type Flow,
} from './context.js';
import { addFlags, removeFlags, splitFlags, storeFlags } from './flags.js';
import { evaluateTest } from './tests.js';

const SECONDS_PER_DAY = 24 * 60 * 60;

export function executeBlock(frame: ScriptFrame, commands: readonly CompiledNode[]): Flow {
  for (const command of commands) {
    const flow = executeCommand(frame, command);
    if (flow !== 'next') return flow;
  }
  return 'next';
}

function executeCommand(frame: ScriptFrame, node: CompiledNode): Flow {
  frame.run.step();
  const { actions } = frame.run;
  const location = frame.location(node);
  switch (node.name) {
    case 'if':
      for (const branch of node.branches ?? []) {
        if (!branch.test || evaluateTest(frame, branch.test)) return executeBlock(frame, branch.block);
      }
      return 'next';
    case 'stop':
      frame.run.stopped = true;
      return 'stop';
    case 'return':
      return 'return';
    case 'include':
      return include(frame, node);
    case 'global':
      for (const name of positionalList(node, 0)) frame.declareGlobal(name);
      return 'next';
    case 'error':
      throw new SieveRuntimeError(frame.string(positionalString(node, 0)));
    case 'keep':
      actions.add({ type: 'keep', flags: flagsOf(frame, node) }, location);
      return 'next';
    case 'fileinto':
      actions.add(
        {
          type: 'fileinto',
          mailbox: frame.string(positionalString(node, 0)),
          flags: flagsOf(frame, node),
          copy: hasTag(node, 'copy'),
          create: hasTag(node, 'create'),
        },
        location,
      );
      return 'next';
    case 'redirect':
      actions.add(
        { type: 'redirect', address: redirectAddress(frame.string(positionalString(node, 0))), copy: hasTag(node, 'copy') },
        location,
      );
      return 'next';
    case 'discard':
      actions.add({ type: 'discard' }, location);
      return 'next';
    case 'reject':
    case 'ereject':
      actions.add(
        { type: 'reject', reason: frame.string(positionalString(node, 0)), extended: node.name === 'ereject' },
        location,
      );
      return 'next';
    case 'vacation':
      vacation(frame, node);
      return 'next';
    case 'set':
      set(frame, node);
      return 'next';
    case 'setflag':
      updateFlags(frame, node, (_current, items) => addFlags([], items));
      return 'next';
    case 'addflag':
      updateFlags(frame, node, addFlags);
      return 'next';
    case 'removeflag':
      updateFlags(frame, node, removeFlags);
      return 'next';
    default:
      throw new SieveRuntimeError(`unsupported command '${node.name}'`, node.position.line);
  }
}

/**
 * RFC 6609 include: runs the included script with its own extensions and
 * local variables (globals shared); `return` there ends only that script.
 * :once skips a script included before; an :optional missing one is skipped.
 */
function include(frame: ScriptFrame, node: CompiledNode): Flow {
  const location = hasTag(node, 'global') ? 'global' : 'personal';
  const name = positionalString(node, 0);
  const key = includeKey(location, name);
  const { run } = frame;
  if (hasTag(node, 'once') && run.includedScripts.has(key)) return 'next';
  const script = frame.script.includes[key] ?? run.input.script.includes[key];
  if (!script) {
    if (hasTag(node, 'optional')) return 'next';
    throw new SieveRuntimeError(`include: ${location} script '${name}' is not available`, node.position.line);
  }
  run.includedScripts.add(key);
  const flow = executeBlock(new ScriptFrame(run, script), script.commands);
  return flow === 'stop' ? 'stop' : 'next';
}

/**
 * The flags of a keep/fileinto: its :flags, else the internal variable now;
 * undefined when no script of the run uses imap4flags.
 */
function flagsOf(frame: ScriptFrame, node: CompiledNode): string[] | undefined {
  if (!frame.run.usesImapFlags) return undefined;
  const explicit = tagList(node, 'flags');
  return storeFlags(explicit ? splitFlags(frame.strings(explicit)) : frame.run.internalFlags);
}

/** setflag/addflag/removeflag on the internal variable, or on the named variable when two arguments are given. */
function updateFlags(
  frame: ScriptFrame,
  node: CompiledNode,
  operation: (current: readonly string[], items: readonly string[]) => string[],
): void {
  if (node.positional.length < 2) {
    frame.run.internalFlags = operation(frame.run.internalFlags, frame.strings(positionalList(node, 0)));
    return;
  }
  const name = positionalString(node, 0);
  const current = splitFlags([frame.variable(name) ?? '']);
  frame.setVariable(name, operation(current, frame.strings(positionalList(node, 1))).join(' '));
}

function set(frame: ScriptFrame, node: CompiledNode): void {
  const modifiers = SET_MODIFIERS.filter((modifier) => hasTag(node, modifier));
  const value = applySetModifiers(frame.string(positionalString(node, 1)), modifiers);
  frame.setVariable(positionalString(node, 0), value);
}

/**
 * A redirect target as Pigeonhole normalises it: one address (a display name
 * and comments allowed), domain lower-cased, local part quoted when needed.
 */
function redirectAddress(text: string): string {
  const invalid = (reason: string) => new SieveRuntimeError(`specified redirect address '${text}' is invalid: ${reason}`);
  if (text.trim() === '') throw invalid('empty address');
  const addresses = parseAddressHeader(text);
  if (!isValidMailAddress(text) || !addresses || addresses.length !== 1) {
    if (addresses && addresses.length > 1) throw invalid("not a single address (found ',')");
    throw invalid(/@\s*$/.test(text) ? 'invalid or missing domain' : 'invalid address');
  }
  const [{ localpart, domain }] = addresses as [ParsedAddress];
  return formatAddress({ localpart, domain: domain.toLowerCase() });
}

/** :days / :seconds in seconds, clamped to sieve_vacation_min_period / _max_period; none → the default period. */
function vacationPeriod(node: CompiledNode, limits: SieveLimits): number {
  const days = tagNumber(node, 'days');
  const requested = days !== undefined ? days * SECONDS_PER_DAY : tagNumber(node, 'seconds');
  if (requested === undefined) return limits.vacationDefaultPeriodSeconds;
  if (requested < limits.vacationMinPeriodSeconds) return limits.vacationMinPeriodSeconds;
  if (limits.vacationMaxPeriodSeconds > 0 && requested > limits.vacationMaxPeriodSeconds) {
    return limits.vacationMaxPeriodSeconds;
  }
  return requested;
}

function vacation(frame: ScriptFrame, node: CompiledNode): void {
  const rawReason = positionalString(node, 0);
  const rawSubject = tagString(node, 'subject');
  const rawFrom = tagString(node, 'from');
  const rawHandle = tagString(node, 'handle');
  const mime = hasTag(node, 'mime');
  const from = rawFrom !== undefined ? frame.string(rawFrom) : undefined;
  // Pigeonhole's default handle: the script's own text of reason, :subject
  // and :from, variable references not expanded, and the :mime marker
  const handle =
    rawHandle !== undefined
      ? frame.string(rawHandle)
      : `${rawReason}${rawSubject ?? '<default-subject>'}${rawFrom ?? '<default-from>'}${mime ? '<MIME>' : '<NO-MIME>'}`;
  frame.run.actions.add(
    {
      type: 'vacation',
      reason: frame.string(rawReason),
      subject: (rawSubject !== undefined ? frame.string(rawSubject) : '') || undefined,
      from: from !== undefined && isValidMailAddress(from) ? from : undefined,
      addresses: frame.strings(tagList(node, 'addresses') ?? []).filter(isValidMailAddress),
      mime,
      handle,
      periodSeconds: vacationPeriod(node, frame.run.input.limits),
    },
    frame.location(node),
  );
}
