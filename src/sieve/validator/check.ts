// The machinery every command and test goes through in the validator: the
// definitions' shape (tags, positional arguments, sub-tests, block), the
// validation state of one script (loaded extensions, errors, strings), and
// the generic checks in Pigeonhole's order and wording: unknown tags, then
// each leading tag (duplicates, conflicts, its parameter), then the
// positional arguments (count, types), sub-tests and block, then the
// definition's own checks. Each command reports at most its first error (a
// failed check throws CommandInvalid, caught per command).

import type { SieveArgument, SieveCommand, SieveTest, SourcePosition } from '../ast.js';
import type { CompiledNode, PositionalValue, TagValue } from '../compiled.js';
import type { SieveDiagnostic } from '../errors.js';
import { expandVariables } from '../runtime/variables.js';
import { ALL_EXTENSIONS } from '../extensions.js';
import { decodeEncodedCharacters } from './encoded-character.js';

export type ValueType = 'string' | 'string-list' | 'number';
export type NodeKind = 'command' | 'test';

/** Tags of one group exclude each other (match types, :over/:under, ...). */
export interface TagGroup {
  /** how a duplicate is named: "MATCH-TYPE" gives "duplicate MATCH-TYPE argument (:is)" */
  label?: string;
  /** a message of its own for two tags of the group (default: the duplicate message) */
  conflict?(previous: string, current: string, check: CommandCheck): string;
}

export interface TagDefinition {
  /** the extension that brings the tag (unknown without it) */
  extension?: string;
  parameter?: ValueType;
  /** the message when the parameter is missing or of the wrong kind ("a number", "a tag", "none") */
  parameterError?(found: string, check: CommandCheck): string;
  /** checks the tag (its value converted already) as soon as it is read; may replace use.value */
  checkParameter?(check: CommandCheck, use: TagUse): void;
  group?: TagGroup;
  /** may be given more than once */
  repeatable?: boolean;
  /** kept out of node.tags: the definition's check puts it into node.match, node.comparator or node.addressPart */
  normalised?: boolean;
}

export interface PositionalDefinition {
  /** name in messages, e.g. "header names" */
  name: string;
  type: ValueType;
}

export interface CommandDefinition {
  kind: NodeKind;
  /** the extension that brings it (unknown without it) */
  extension?: string;
  tags: Readonly<Record<string, TagDefinition>>;
  /** fixed positional arguments; undefined: the definition's check validates them */
  positional?: readonly PositionalDefinition[];
  subtests: 'none' | 'one' | 'list';
  block: 'none' | 'required';
  /** checks beyond the generic ones; fills node.positional when `positional` is undefined */
  check?(check: CommandCheck): void;
}

/** A tag as written, with its parameter and value (the parameter's, or true). */
export interface TagUse {
  argument: SieveArgument & { type: 'tag' };
  parameter?: SieveArgument;
  value: TagValue;
}

/** The definition of a tag of a command or test (own properties only: no "constructor"). */
export function tagDefinition(definition: CommandDefinition, name: string): TagDefinition | undefined {
  return Object.hasOwn(definition.tags, name) ? definition.tags[name] : undefined;
}

/** Thrown by CommandCheck.fail: the command's first error is recorded, its validation stops. */
export class CommandInvalid extends Error {}

/** Names of the kinds of argument, as in Pigeonhole's messages. */
export function describeArgument(argument: SieveArgument | undefined): string {
  if (argument === undefined) return 'none';
  switch (argument.type) {
    case 'string':
      return 'a string';
    case 'string-list':
      return 'a string list';
    case 'number':
      return 'a number';
    case 'tag':
      return 'a tag';
  }
}

const TYPE_NAMES: Record<ValueType, string> = { string: 'a string', 'string-list': 'a string list', number: 'a number' };

/** Extensions that bring another with them (Pigeonhole loads vacation for vacation-seconds). */
const IMPLIED_EXTENSIONS: Readonly<Record<string, string>> = { 'vacation-seconds': 'vacation' };

const KNOWN_EXTENSIONS = new Set(ALL_EXTENSIONS);

/** The state of validating one script. */
export class Validation {
  readonly diagnostics: SieveDiagnostic[] = [];
  /** extensions in effect, in the order they were loaded */
  readonly loaded: string[] = [];
  private readonly loadedSet = new Set<string>();
  private readonly reportedUnknown = new Set<string>();
  /** variables declared global so far, and those used as local ones (lower-case names) */
  private readonly globalVariables = new Set<string>();
  private readonly localVariables = new Set<string>();

  constructor(
    /** the extensions this script may use */
    private readonly enabled: ReadonlySet<string>,
    /** extensions only global (administrator) scripts may use */
    private readonly restricted: ReadonlySet<string> = new Set(),
  ) {}

  error(position: SourcePosition, message: string): void {
    this.diagnostics.push({ line: position.line, column: position.column, message });
  }

  /** Whether the script may load the extension: one Dovetail implements, enabled for this script. */
  isAvailable(extension: string): boolean {
    return KNOWN_EXTENSIONS.has(extension) && this.enabled.has(extension);
  }

  /** Whether the extension is one only global scripts may use (and this script may not). */
  isRestricted(extension: string): boolean {
    return KNOWN_EXTENSIONS.has(extension) && this.restricted.has(extension) && !this.enabled.has(extension);
  }

  isLoaded(extension: string | undefined): boolean {
    return extension === undefined || this.loadedSet.has(extension);
  }

  /** Puts an available extension (and what it implies) in effect for the rest of the script. */
  load(extension: string): void {
    if (this.loadedSet.has(extension)) return;
    this.loadedSet.add(extension);
    this.loaded.push(extension);
    const implied = IMPLIED_EXTENSIONS[extension];
    if (implied !== undefined) this.load(implied);
  }

  /** true the first time `key` is seen (Pigeonhole reports unknown commands and tags once). */
  firstReport(key: string): boolean {
    if (this.reportedUnknown.has(key)) return false;
    this.reportedUnknown.add(key);
    return true;
  }

  /**
   * A string of the script as the interpreter gets it: encoded characters
   * decoded when required. The variables it refers to count as used.
   */
  text(value: string, position: SourcePosition): string {
    let text = value;
    if (this.loadedSet.has('encoded-character')) {
      const decoded = decodeEncodedCharacters(value);
      if (!('text' in decoded)) {
        const hex = decoded.invalidCodePoint.toString(16).padStart(8, '0');
        this.error(position, `invalid unicode character 0x${hex} in encoded character substitution`);
        throw new CommandInvalid();
      }
      text = decoded.text;
    }
    if (this.loadedSet.has('variables') && text.includes('${')) {
      expandVariables(text, (name) => {
        this.useVariable(name);
        return undefined;
      });
    }
    return text;
  }

  /** Notes a variable the script assigns or reads (a local one unless declared global before). */
  useVariable(name: string): void {
    const key = name.toLowerCase();
    if (!key.includes('.') && !/^[0-9]/.test(key) && !this.globalVariables.has(key)) this.localVariables.add(key);
  }

  /** Declares a global variable; false when the script used a local variable of that name before. */
  declareGlobal(name: string): boolean {
    const key = name.toLowerCase();
    if (this.globalVariables.has(key)) return true;
    if (this.localVariables.has(key)) return false;
    this.globalVariables.add(key);
    return true;
  }

  /** A string whose value is known at compile time: no variable references (or no variables extension). */
  isConstant(value: string): boolean {
    if (!this.loadedSet.has('variables') || !value.includes('${')) return true;
    let referenced = false;
    expandVariables(value, () => {
      referenced = true;
      return undefined;
    });
    return !referenced;
  }
}

/** One command or test being validated, handed to its definition's check. */
export class CommandCheck {
  readonly node: CompiledNode;
  /** tags as written, by name */
  readonly tags = new Map<string, TagUse>();
  /** positional arguments as written */
  positional: SieveArgument[] = [];
  /** for tests: 1 always true, 0 always false, -1 known only at run time (ihave, true, false) */
  constant: -1 | 0 | 1 = -1;

  constructor(
    readonly validation: Validation,
    readonly raw: SieveCommand | SieveTest,
    readonly kind: NodeKind,
    readonly definition: CommandDefinition,
  ) {
    this.node = { name: raw.name, position: raw.position, tags: {}, positional: [], tests: [] };
  }

  /** "the fileinto command", "the header test" */
  get subject(): string {
    return `the ${this.raw.name} ${this.kind}`;
  }

  /** Records the command's error and stops validating it. */
  fail(position: SourcePosition, message: string): never {
    this.validation.error(position, message);
    throw new CommandInvalid();
  }

  /** The value of a string argument as the interpreter gets it. */
  string(argument: SieveArgument & { type: 'string' }): string {
    return this.validation.text(argument.value, argument.position);
  }

  /** The value of a string-list argument (a single string is wrapped). */
  stringList(argument: SieveArgument & { type: 'string' | 'string-list' }): string[] {
    const values = argument.type === 'string' ? [argument.value] : argument.values;
    return values.map((value) => this.validation.text(value, argument.position));
  }

  /** The value of `argument` when it is of `type` (a string stands for a one-string list), else undefined. */
  value(argument: SieveArgument, type: ValueType): PositionalValue | undefined {
    if (type === 'number') return argument.type === 'number' ? argument.value : undefined;
    if (type === 'string') return argument.type === 'string' ? this.string(argument) : undefined;
    return argument.type === 'string' || argument.type === 'string-list' ? this.stringList(argument) : undefined;
  }

  /** Checks a positional argument against its definition; `index` counts from 0. */
  positionalValue(index: number, definition: PositionalDefinition): PositionalValue {
    const argument = this.positional[index]!;
    const value = this.value(argument, definition.type);
    if (value !== undefined) return value;
    const found = describeArgument(argument);
    this.fail(argument.position, `${this.subject} expects ${TYPE_NAMES[definition.type]} as argument ${index + 1} (${definition.name}), but ${found} was found`);
  }
}

/** The message for a tag parameter that is missing or of the wrong kind. */
function parameterMessage(check: CommandCheck, name: string, tag: TagDefinition, found: string): string {
  if (tag.parameterError !== undefined) return tag.parameterError(found, check);
  const was = found === 'none' ? 'no parameters were' : `${found} was`;
  return `the :${name} tag for ${check.subject} requires ${TYPE_NAMES[tag.parameter!]} as parameter, but ${was} found`;
}

/**
 * The generic checks of a command or test (see the file comment); the
 * definition's own check runs last. Throws CommandInvalid after recording
 * the first error.
 */
export function checkArguments(check: CommandCheck): void {
  const { raw, definition, validation } = check;
  const args = raw.arguments;
  for (const argument of args) {
    if (argument.type !== 'tag') continue;
    const tag = tagDefinition(definition, argument.name);
    if (tag === undefined || !validation.isLoaded(tag.extension)) {
      if (validation.firstReport(`${raw.name}:${argument.name}`)) {
        validation.error(argument.position, `unknown tagged argument ':${argument.name}' for ${check.subject} (reported only once at first occurrence)`);
      }
      throw new CommandInvalid();
    }
  }

  let index = 0;
  let groups: Map<TagGroup, string> | undefined;
  for (; index < args.length; index++) {
    const argument = args[index]!;
    if (argument.type !== 'tag') break;
    const name = argument.name;
    const tag = tagDefinition(definition, name)!;
    if (tag.group === undefined) {
      if (check.tags.has(name) && !tag.repeatable) check.fail(argument.position, `encountered duplicate :${name} argument for ${check.subject}`);
    } else {
      groups ??= new Map();
      const previous = groups.get(tag.group);
      if (previous !== undefined) {
        const message =
          tag.group.conflict?.(previous, name, check) ??
          (tag.group.label !== undefined
            ? `encountered duplicate ${tag.group.label} argument (:${name}) for ${check.subject}`
            : `encountered duplicate :${name} argument for ${check.subject}`);
        check.fail(argument.position, message);
      }
      groups.set(tag.group, name);
    }
    const use: TagUse = { argument, value: true };
    if (tag.parameter !== undefined) {
      const parameter = args[++index];
      if (parameter === undefined) check.fail(argument.position, parameterMessage(check, name, tag, 'none'));
      const value = check.value(parameter, tag.parameter);
      if (value === undefined) check.fail(parameter.position, parameterMessage(check, name, tag, describeArgument(parameter)));
      use.parameter = parameter;
      use.value = value as TagValue;
    }
    check.tags.set(name, use);
    tag.checkParameter?.(check, use);
    if (!tag.normalised) check.node.tags[name] = use.value;
  }

  check.positional = raw.arguments.slice(index);
  for (const argument of check.positional) {
    if (argument.type === 'tag') {
      check.fail(argument.position, `encountered an unexpected tagged argument ':${argument.name}' while validating positional arguments for ${check.subject}`);
    }
  }
  if (definition.positional !== undefined && check.positional.length !== definition.positional.length) {
    check.fail(
      raw.position,
      `${check.subject} requires ${definition.positional.length} positional argument(s), but ${check.positional.length} is/are specified`,
    );
  }
}

/** The generic checks of sub-tests and block; records an error and returns false when they fail. */
export function checkStructure(check: CommandCheck, isKnownTest: (name: string) => boolean): boolean {
  const { raw, definition, validation } = check;
  const tests = raw.tests;
  let message: string | undefined;
  if (definition.subtests === 'none') {
    if (tests.length > 0) {
      const first = tests[0]!.name;
      if (isKnownTest(first)) message = `${check.subject} accepts no sub-tests, but tests are specified`;
      else if (tagDefinition(definition, first) !== undefined) message = `missing colon ':' before ':${first}' tag in ${raw.name} ${check.kind}`;
      else message = `missing semicolon ';' after ${raw.name} ${check.kind}`;
    }
  } else if (definition.subtests === 'one') {
    if (tests.length === 0) message = `${check.subject} requires one sub-test, but none is specified`;
    else if (tests.length > 1 || raw.testList) message = `${check.subject} requires one sub-test, but a list of tests is specified`;
  } else if (tests.length === 0) {
    message = `${check.subject} requires a list of sub-tests, but none is specified`;
  } else if (tests.length === 1 && !raw.testList) {
    message = `${check.subject} requires a list of sub-tests, but a single test is specified`;
  }
  if (message === undefined && check.kind === 'command') {
    const block = (raw as SieveCommand).block;
    if (definition.block === 'required' && block === undefined) message = `the ${raw.name} command requires a command block, but it is missing`;
    else if (definition.block === 'none' && block !== undefined) message = `the ${raw.name} command does not accept a command block, but one is specified anyway`;
  }
  if (message === undefined) return true;
  validation.error(raw.position, message);
  return false;
}

/** Fills node.positional from the fixed positional definitions. */
export function fillPositional(check: CommandCheck): void {
  const definitions = check.definition.positional;
  if (definitions === undefined) return;
  check.node.positional = definitions.map((definition, index) => check.positionalValue(index, definition));
}
