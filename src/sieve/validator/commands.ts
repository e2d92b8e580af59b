// The commands the validator knows: RFC 5228's (require, if, elsif, else,
// stop, keep, discard, redirect) and those of the extensions: fileinto,
// reject (RFC 5429), ereject (5429), vacation (5230, :seconds from 6131),
// set (5229), setflag/addflag/removeflag (5232), include/return/global
// (6609), error (5463). :copy (3894), :flags (5232) and :create (5490) are
// tags of keep/fileinto/redirect. Each definition lists its tags and
// positional arguments (see CompiledNode in ../compiled.ts) and checks what
// the generic machinery of ./check.ts cannot, with Pigeonhole's messages.

import type { SieveArgument } from '../ast.js';
import { isValidMailAddress } from '../runtime/address.js';
import { isValidVariableName } from '../runtime/variables.js';
import { CommandInvalid, describeArgument, fillPositional, type CommandCheck, type CommandDefinition, type TagGroup } from './check.js';
import { sanitizeForLog } from '../../log/sanitize.js';
import { CORE_TESTS } from './tests.js';
import { checkFlagArguments, useVariableName } from './variables.js';

/** Pigeonhole's SIEVE_MAX_SCRIPT_NAME_LEN, in characters */
const MAX_SCRIPT_NAME_LENGTH = 256;

/** Script names include may use (Pigeonhole's sieve_script_name_is_valid): no "/", no control characters. */
function isValidScriptName(name: string): boolean {
  let length = 0;
  for (const character of name) {
    const code = character.codePointAt(0)!;
    if (code <= 0x1f || code === 0x2f || code === 0x7f || (code >= 0x80 && code <= 0x9f) || code === 0x2028 || code === 0x2029) return false;
    length++;
  }
  return length > 0 && length <= MAX_SCRIPT_NAME_LENGTH;
}

function simpleCommand(extension: string | undefined, positional: CommandDefinition['positional'], tags: CommandDefinition['tags'] = {}): CommandDefinition {
  const definition: CommandDefinition = { kind: 'command', tags, positional, subtests: 'none', block: 'none', check: fillPositional };
  if (extension !== undefined) definition.extension = extension;
  return definition;
}

function equalPrecedence(): TagGroup {
  return { conflict: (previous, current) => `modifiers :${previous} and :${current} specified for the set command conflict having equal precedence` };
}
const CASE_MODIFIER = equalPrecedence();
const FIRST_LETTER_MODIFIER = equalPrecedence();
const QUOTING_MODIFIER = equalPrecedence();
const LENGTH_MODIFIER = equalPrecedence();

const INCLUDE_LOCATION: TagGroup = { conflict: () => "include: cannot use location tags ':personal' and ':global' multiple times" };
const VACATION_PERIOD: TagGroup = {};

function flagCommand(): CommandDefinition {
  return {
    kind: 'command',
    extension: 'imap4flags',
    tags: {},
    subtests: 'none',
    block: 'none',
    check: (check) => checkFlagArguments(check, 'string'),
  };
}

/** Names of RFC 5228's own commands, for require's message about them. */
const CORE_COMMANDS: ReadonlySet<string> = new Set(['require', 'if', 'elsif', 'else', 'stop', 'keep', 'discard', 'redirect']);

/** require: loads each named extension, reporting every one it cannot. */
function checkRequire(check: CommandCheck): void {
  const { positional, validation } = check;
  if (positional.length !== 1) {
    check.fail(check.raw.position, `the require command requires 1 positional argument(s), but ${positional.length} is/are specified`);
  }
  const argument = positional[0]!;
  if (argument.type !== 'string' && argument.type !== 'string-list') {
    check.fail(argument.position, `the require command accepts a single string or string list argument, but ${describeArgument(argument)} was found`);
  }
  const names = argument.type === 'string' ? [argument.value] : argument.values;
  let failed = false;
  for (const name of names) {
    if (validation.isAvailable(name)) {
      validation.load(name);
      continue;
    }
    failed = true;
    const shown = sanitizeForLog(name, 128);
    if (validation.isRestricted(name)) {
      validation.error(argument.position, `require command: failed to load Sieve capability \`${shown}': its use is restricted to global scripts`);
    } else if (CORE_COMMANDS.has(name) || CORE_TESTS.has(name)) {
      const kind = CORE_COMMANDS.has(name) ? 'command' : 'test';
      validation.error(argument.position, `require command: \`${shown}' is not known as a Sieve capability, but it is known as a Sieve ${kind} that is always available`);
    } else {
      validation.error(argument.position, `require command: unknown Sieve capability \`${shown}'`);
    }
  }
  if (failed) throw new CommandInvalid();
}

export const COMMANDS: Readonly<Record<string, CommandDefinition>> = {
  require: { kind: 'command', tags: {}, subtests: 'none', block: 'none', check: checkRequire },
  if: { kind: 'command', tags: {}, positional: [], subtests: 'one', block: 'required' },
  elsif: { kind: 'command', tags: {}, positional: [], subtests: 'one', block: 'required' },
  else: { kind: 'command', tags: {}, positional: [], subtests: 'none', block: 'required' },
  stop: simpleCommand(undefined, []),
  discard: simpleCommand(undefined, []),
  keep: simpleCommand(undefined, [], { flags: { extension: 'imap4flags', parameter: 'string-list' } }),
  redirect: {
    ...simpleCommand(undefined, [{ name: 'address', type: 'string' }], { copy: { extension: 'copy' } }),
    check(check: CommandCheck) {
      fillPositional(check);
      const address = check.node.positional[0] as string;
      if (check.validation.isConstant(address) && !isValidMailAddress(address)) {
        check.fail(check.positional[0]!.position, `specified redirect address '${sanitizeForLog(address, 128)}' is invalid`);
      }
    },
  },
  fileinto: simpleCommand('fileinto', [{ name: 'folder', type: 'string' }], {
    copy: { extension: 'copy' },
    flags: { extension: 'imap4flags', parameter: 'string-list' },
    create: { extension: 'mailbox' },
  }),
  reject: simpleCommand('reject', [{ name: 'reason', type: 'string' }]),
  ereject: simpleCommand('ereject', [{ name: 'reason', type: 'string' }]),
  vacation: {
    ...simpleCommand('vacation', [{ name: 'reason', type: 'string' }], {
      days: { parameter: 'number', group: VACATION_PERIOD },
      seconds: { extension: 'vacation-seconds', parameter: 'number', group: VACATION_PERIOD },
      subject: { parameter: 'string' },
      from: {
        parameter: 'string',
        checkParameter(check, use) {
          const from = use.value as string;
          if (check.validation.isConstant(from) && !isValidMailAddress(from)) {
            check.fail(use.parameter!.position, `specified :from address '${sanitizeForLog(from, 128)}' is invalid for vacation action`);
          }
        },
      },
      addresses: { parameter: 'string-list' },
      mime: {},
      handle: { parameter: 'string' },
    }),
  },
  set: {
    ...simpleCommand(
      'variables',
      [
        { name: 'name', type: 'string' },
        { name: 'value', type: 'string' },
      ],
      {
        lower: { group: CASE_MODIFIER },
        upper: { group: CASE_MODIFIER },
        lowerfirst: { group: FIRST_LETTER_MODIFIER },
        upperfirst: { group: FIRST_LETTER_MODIFIER },
        quotewildcard: { group: QUOTING_MODIFIER },
        quoteregex: { group: QUOTING_MODIFIER, extension: 'regex' },
        length: { group: LENGTH_MODIFIER },
      },
    ),
    check(check: CommandCheck) {
      fillPositional(check);
      // the name is taken as written (no encoded-character decoding)
      const name = check.positional[0] as SieveArgument & { type: 'string' };
      useVariableName(check, name.value, name.position, true);
      check.node.positional[0] = name.value;
    },
  },
  setflag: flagCommand(),
  addflag: flagCommand(),
  removeflag: flagCommand(),
  include: {
    ...simpleCommand('include', [{ name: 'value', type: 'string' }], {
      personal: { group: INCLUDE_LOCATION },
      global: { group: INCLUDE_LOCATION },
      once: { repeatable: true },
      optional: { repeatable: true },
    }),
    check(check: CommandCheck) {
      fillPositional(check);
      const name = check.node.positional[0] as string;
      const position = check.positional[0]!.position;
      if (!check.validation.isConstant(name)) check.fail(position, 'the include command requires a constant string for its value argument');
      if (!isValidScriptName(name)) check.fail(position, `include: invalid script name '${sanitizeForLog(name, 80)}'`);
    },
  },
  return: simpleCommand('include', []),
  global: {
    kind: 'command',
    extension: 'include',
    tags: {},
    subtests: 'none',
    block: 'none',
    check(check: CommandCheck) {
      const [argument, extra] = check.positional;
      if (argument === undefined || extra !== undefined) {
        check.fail(check.raw.position, `the global command requires 1 positional argument(s), but ${check.positional.length} is/are specified`);
      }
      if (!check.validation.isLoaded('variables')) check.fail(check.raw.position, 'global command requires that variables extension is active');
      if (argument.type !== 'string' && argument.type !== 'string-list') {
        check.fail(argument.position, `the global command accepts a single string or string list argument, but ${describeArgument(argument)} was found`);
      }
      const names = argument.type === 'string' ? [argument.value] : argument.values;
      for (const name of names) {
        if (!isValidVariableName(name)) check.fail(argument.position, `invalid variable identifier '${sanitizeForLog(name, 80)}'`);
        if (!check.validation.declareGlobal(name)) {
          check.fail(argument.position, `declaration of new global variable '${sanitizeForLog(name, 80)}' conflicts with earlier local use`);
        }
      }
      check.node.positional = [names];
    },
  },
  error: simpleCommand('ihave', [{ name: 'message', type: 'string' }]),
};
