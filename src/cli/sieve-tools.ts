// `dovetail sievec SCRIPT` and `dovetail sieve-test SCRIPT MESSAGE`: the
// administrator's and user's tools, as Pigeonhole's sievec and sieve-test.
// sievec compiles a script (and fills the compile cache, as sievec writes the
// .svbin) and prints each error as FILE:LINE:COLUMN: error: TEXT. sieve-test
// runs a script against a message file and prints what a delivery would do,
// in sieve-test's layout, without storing or sending anything.
//
// Exit status: 0 when the script compiled (and, for sieve-test, ran); 1 for a
// script that does not compile or fails at run time; 64 for a bad command line.

import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { getopt } from './getopt.js';
import { EX_OK, EX_USAGE } from '../deliver/outcomes.js';
import { SieveCompileError } from '../sieve/errors.js';
import { SieveRuntimeError, type SieveAction, type SieveResult } from '../sieve/run-types.js';
import { loadSieveScript, SieveScriptReadError } from '../sieve/script-cache.js';
import { DEFAULT_ENABLED_EXTENSIONS, parseExtensionsSetting } from '../sieve/extensions.js';
import { runSieve } from '../sieve/interpreter.js';
import { getHeaderValues } from '../message/header.js';
import { firstAddressIn } from '../deliver/envelope.js';

export const SIEVEC_USAGE = 'dovetail sievec [-x extensions] <script-file>';
export const SIEVE_TEST_USAGE =
  'dovetail sieve-test [-a orig-recipient] [-r final-recipient] [-f envelope-sender] [-m default-mailbox] [-x extensions] <script-file> <mail-file>';

const EXIT_SCRIPT_ERROR = 1;
const MAX_SCRIPT_SIZE = 1024 * 1024;

export interface ToolIo {
  argv: readonly string[];
  writeOut(text: string): void;
  writeError(line: string): void;
}

export function runSievec(io: ToolIo): number {
  const parsed = getopt(io.argv, 'x:');
  if (!parsed.ok || parsed.operands.length !== 1) return usage(io, SIEVEC_USAGE, parsed.ok ? undefined : parsed.error);
  const path = resolve(parsed.operands[0]!);
  const extensions = extensionsFrom(parsed.options);
  try {
    const script = loadSieveScript(path, { enabledExtensions: extensions, maxScriptSize: MAX_SCRIPT_SIZE, personalDirectory: dirname(path) });
    if (script === undefined) {
      io.writeError(`sievec: ${path}: No such file`);
      return EXIT_SCRIPT_ERROR;
    }
    return EX_OK;
  } catch (error) {
    return reportScriptError(io, path, error);
  }
}

export function runSieveTest(io: ToolIo): number {
  const parsed = getopt(io.argv, 'a:r:f:m:x:');
  if (!parsed.ok || parsed.operands.length !== 2) return usage(io, SIEVE_TEST_USAGE, parsed.ok ? undefined : parsed.error);
  const option = (letter: string) => parsed.options.filter((entry) => entry.letter === letter).pop()?.value;
  const [scriptArgument, messageArgument] = parsed.operands as [string, string];
  const path = resolve(scriptArgument);
  const extensions = extensionsFrom(parsed.options);
  let message: Buffer;
  try {
    message = readFileSync(messageArgument);
  } catch (error) {
    io.writeError(`sieve-test: ${messageArgument}: ${(error as Error).message}`);
    return EXIT_SCRIPT_ERROR;
  }
  const { header, body } = splitMessage(message);
  const headerAddress = (...names: string[]) => {
    for (const name of names) {
      const value = getHeaderValues(header, name)[0];
      const address = value && firstAddressIn(value);
      if (address) return address;
    }
    return undefined;
  };
  const finalRecipient = option('r') ?? headerAddress('Envelope-To', 'To') ?? 'recipient@example.com';
  const sender = option('f') ?? headerAddress('Return-Path', 'Sender', 'From') ?? 'sender@example.com';
  const defaultMailbox = option('m') ?? 'INBOX';
  let result: SieveResult;
  try {
    const script = loadSieveScript(path, { enabledExtensions: extensions, maxScriptSize: MAX_SCRIPT_SIZE, personalDirectory: dirname(path) });
    if (script === undefined) {
      io.writeError(`sieve-test: ${path}: No such file`);
      return EXIT_SCRIPT_ERROR;
    }
    const now = new Date();
    result = runSieve({
      script,
      message: { header, size: message.length, body },
      envelope: { from: sender, to: option('a') ?? finalRecipient },
      host: { mailboxExists: () => true, duplicateSeen: () => false },
      limits: {
        maxActions: 32,
        maxRedirects: 4,
        maxCpuMs: 5000,
        vacationMinPeriodSeconds: 86400,
        vacationDefaultPeriodSeconds: 7 * 86400,
        vacationMaxPeriodSeconds: 0,
      },
      defaultMailbox,
      recipientDelimiter: '+',
      enabledExtensions: extensions,
      environment: { location: 'MDA', phase: 'during', name: 'Dovetail Sieve', version: '1' },
      now,
      localZoneOffsetMinutes: -now.getTimezoneOffset(),
    });
  } catch (error) {
    return reportScriptError(io, path, error);
  }
  io.writeOut(describeResult(result, defaultMailbox));
  return EX_OK;
}

function extensionsFrom(options: readonly { letter: string; value?: string }[]): Set<string> {
  let extensions = new Set(DEFAULT_ENABLED_EXTENSIONS);
  for (const option of options) if (option.letter === 'x') extensions = parseExtensionsSetting(option.value ?? '', extensions);
  return extensions;
}

function usage(io: ToolIo, text: string, problem: string | undefined): number {
  if (problem !== undefined) io.writeError(problem);
  io.writeError(`Usage: ${text}`);
  return EX_USAGE;
}

function reportScriptError(io: ToolIo, path: string, error: unknown): number {
  if (error instanceof SieveCompileError) {
    for (const diagnostic of error.diagnostics) io.writeError(`${path}:${diagnostic.line}:${diagnostic.column}: error: ${diagnostic.message}`);
    return EXIT_SCRIPT_ERROR;
  }
  if (error instanceof SieveRuntimeError) {
    io.writeError(`${path}:${error.line ?? 0}: runtime error: ${error.message}`);
    return EXIT_SCRIPT_ERROR;
  }
  if (error instanceof SieveScriptReadError) {
    io.writeError(error.message);
    return EXIT_SCRIPT_ERROR;
  }
  throw error;
}

/** The header (without the blank line) and the body of a message file; CRLF becomes LF as in a delivery. */
function splitMessage(message: Buffer): { header: Buffer; body: Buffer } {
  const text = message.includes('\r\n') ? Buffer.from(message.toString('latin1').replaceAll('\r\n', '\n'), 'latin1') : message;
  const start = text.subarray(0, 5).toString('latin1') === 'From ' ? text.indexOf('\n') + 1 : 0;
  const end = text.indexOf('\n\n', start);
  if (end < 0) return { header: text.subarray(start), body: Buffer.alloc(0) };
  return { header: text.subarray(start, end), body: text.subarray(end + 2) };
}

/** sieve-test's listing: the performed actions, then the implicit keep. */
export function describeResult(result: SieveResult, defaultMailbox: string): string {
  const lines = ['', 'Performed actions:', ''];
  if (result.actions.length === 0) lines.push('  (none)');
  for (const action of result.actions) lines.push(...describeAction(action, defaultMailbox));
  lines.push('', 'Implicit keep:', '');
  if (result.implicitKeep) lines.push(...storeLines(defaultMailbox, result.implicitKeepFlags, '  '));
  else lines.push('  (none)');
  lines.push('');
  return lines.join('\n');
}

function storeLines(mailbox: string, flags: readonly string[] | undefined, indent: string): string[] {
  const lines = [`${indent}* store message in folder: ${mailbox}`];
  if (flags !== undefined && flags.length > 0) lines.push(`        + add IMAP flags: ${flags.join(' ')}`);
  return lines;
}

function describeAction(action: SieveAction, defaultMailbox: string): string[] {
  switch (action.type) {
    case 'keep':
      return storeLines(defaultMailbox, action.flags, ' ');
    case 'fileinto':
      return [...storeLines(action.mailbox, action.flags, ' '), ...(action.copy ? ['        + preserve implicit keep'] : []), ...(action.create ? ['        + create mailbox if it does not exist'] : [])];
    case 'redirect':
      return [` * redirect message to: <${action.address}>`, ...(action.copy ? ['        + preserve implicit keep'] : [])];
    case 'discard':
      return [' * discard'];
    case 'reject':
      return [` * ${action.extended ? 'ereject' : 'reject'} message with reason: ${action.reason}`];
    case 'vacation':
      return [
        ' * send vacation message:',
        `    => seconds : ${action.periodSeconds}`,
        ...(action.subject !== undefined ? [`    => subject : ${action.subject}`] : []),
        ...(action.from !== undefined ? [`    => from    : ${action.from}`] : []),
        `    => handle  : ${action.handle}`,
        '',
        'START MESSAGE',
        action.reason,
        'END MESSAGE',
      ];
  }
}
