// Variable names where a script assigns or names variables (set, the
// imap4flags variable forms), checked as Pigeonhole does: a name is
// identifiers or numbers joined by dots; a number alone is a match variable
// (read-only), "ns.name" needs a known namespace ("global" comes with
// include, RFC 6609, and has no sub-namespaces), and an identifier must be
// an RFC 5229 one (isValidVariableName, which also limits its length).
// Also the shared argument forms of setflag/addflag/removeflag and hasflag:
// `[variable] <list>`. Failures are the command's error (CommandCheck.fail).

import type { SourcePosition } from '../ast.js';
import { isValidVariableName } from '../runtime/variables.js';
import { describeArgument, type CommandCheck } from './check.js';
import { sanitizeForLog } from '../../log/sanitize.js';

/** identifier or number elements separated by dots, as Pigeonhole parses a variable name */
const VARIABLE_NAME = /^(?:[A-Za-z_][A-Za-z0-9_]*|[0-9]+)(?:\.(?:[A-Za-z_][A-Za-z0-9_]*|[0-9]+))*$/;

/** A variable name set, setflag and friends assign to (`assigning`), or hasflag reads (a match variable like "1" too). */
function checkVariableName(check: CommandCheck, name: string, position: SourcePosition, assigning: boolean): void {
  const shown = sanitizeForLog(name, 80);
  if (!VARIABLE_NAME.test(name)) check.fail(position, `invalid variable name '${shown}'`);
  const [first, ...rest] = name.split('.');
  if (rest.length === 0) {
    if (/^[0-9]/.test(name)) {
      if (assigning) check.fail(position, 'cannot assign to match variable');
    } else if (!isValidVariableName(name)) {
      check.fail(position, `invalid variable name '${shown}'`);
    }
    return;
  }
  if (first!.toLowerCase() !== 'global' || !check.validation.isLoaded('include')) {
    check.fail(position, `referring to variable in unknown namespace '${sanitizeForLog(first!, 80)}'`);
  }
  if (rest.length > 1) check.fail(position, 'invalid variable name within global namespace: encountered sub-namespace');
  if (!isValidVariableName(rest[0]!)) check.fail(position, `invalid variable name '${shown}'`);
}

/** Checks a variable name as written (no encoded-character decoding) and notes its use. */
export function useVariableName(check: CommandCheck, name: string, position: SourcePosition, assigning: boolean): void {
  checkVariableName(check, name, position, assigning);
  check.validation.useVariable(name);
}

/**
 * setflag/addflag/removeflag `[<variablename: string>] <list-of-flags: string-list>`
 * and hasflag `[<variable-list: string-list>] <list-of-flags: string-list>`:
 * fills node.positional with [flags] or [variable(s), flags]. Arguments past
 * the second are ignored, as Pigeonhole does.
 */
export function checkFlagArguments(check: CommandCheck, variableForm: 'string' | 'string-list'): void {
  const [first, second] = check.positional;
  const subject = check.subject;
  if (first === undefined) check.fail(check.raw.position, `${subject} expects at least one argument, but none was found`);
  if (first.type !== 'string' && first.type !== 'string-list') {
    check.fail(
      first.position,
      `${subject} expects either a string (variable name) or a string-list (list of flags) as first argument, but ${describeArgument(first)} was found`,
    );
  }
  if (second === undefined) {
    check.node.positional = [check.stringList(first)];
    return;
  }
  if (variableForm === 'string' && first.type !== 'string') {
    check.fail(
      first.position,
      `if a second argument is specified for ${subject}, the first must be a string (variable name), but ${describeArgument(first)} was found`,
    );
  }
  if (!check.validation.isLoaded('variables')) {
    check.fail(check.raw.position, `${subject} only allows for the specification of a variable name when the variables extension is active`);
  }
  // variable names are taken as written (no encoded-character decoding)
  let variables: string | string[];
  if (first.type === 'string' && variableForm === 'string') {
    variables = first.value;
    useVariableName(check, variables, first.position, true);
  } else {
    variables = first.type === 'string' ? [first.value] : first.values;
    for (const name of variables) useVariableName(check, name, first.position, false);
  }
  if (second.type !== 'string' && second.type !== 'string-list') {
    check.fail(
      second.position,
      `${subject} expects a string list (list of flags) as second argument when two arguments are specified, but ${describeArgument(second)} was found`,
    );
  }
  check.node.positional = [variables, check.stringList(second)];
}
