// The Sieve validator: checks a parse tree (./ast.ts) against RFC 5228 and
// the extensions the script requires, and turns it into a CompiledScript
// (./compiled.ts). The commands and tests it knows are in ./validator/
// (commands.ts, tests.ts; shared tags in match.ts; the generic checks in
// check.ts). Pure.
//
// As Pigeonhole does, it folds constant tests: true, false, not, allof/anyof
// of constants, and ihave (false when an extension it names is unknown or
// disabled). A branch whose test is always false is not validated at all (so
// an `if ihave "x" { ... }` block may use what the script cannot), and the
// branches after one that is always taken are dropped; in the output a
// constant test becomes a literal `true`/`false` node and dead branches are
// left out. An extension named by a successful ihave is in effect from there
// on, as if required, and is listed in CompiledScript.extensions after the
// required ones.
//
// Failure: throws SieveCompileError with every error found, in the order
// Pigeonhole reports them (source order, a command's own errors before those
// of its tests and block), worded as Pigeonhole's (unknown extension, misplaced require, unknown
// command/test/tag, arity, argument types, duplicate or conflicting tags,
// unknown comparator, bad relational operator, bad constant :regex key,
// invalid variable name, invalid constant redirect address, misplaced
// elsif/else, bad encoded character, ...). Each command reports its first
// error; validation goes on with the next command.

import type { SieveCommand, SieveTest, SieveTree, SourcePosition } from './ast.js';
import type { CompiledNode, CompiledScript } from './compiled.js';
import { SieveCompileError } from './errors.js';
import {
  CommandCheck,
  CommandInvalid,
  Validation,
  checkArguments,
  checkStructure,
  fillPositional,
  type CommandDefinition,
  type NodeKind,
} from './validator/check.js';
import { COMMANDS } from './validator/commands.js';
import { TESTS } from './validator/tests.js';

export interface ValidateOptions {
  /** the script's name, for messages */
  scriptName: string;
  /** extensions the script may require */
  enabledExtensions: ReadonlySet<string>;
  /**
   * sieve_global_extensions: extensions reserved to global (administrator)
   * scripts. Naming one that enabledExtensions lacks gives Pigeonhole's
   * "restricted to global scripts" error instead of "unknown"; compileSieve
   * lets scripts included with :global use them.
   */
  globalExtensions?: ReadonlySet<string>;
}

/** Validates a parsed script; throws SieveCompileError listing all errors. */
export function validateSieve(tree: SieveTree, options: ValidateOptions): CompiledScript {
  const validation = new Validation(options.enabledExtensions, options.globalExtensions);
  const commands = new ScriptValidator(validation).block(tree.commands, true);
  if (validation.diagnostics.length > 0) throw new SieveCompileError(options.scriptName, validation.diagnostics);
  return { name: options.scriptName, extensions: [...validation.loaded], commands, includes: {} };
}

/** A validated test: its node (undefined when it is unknown), whether it is constant, whether it is valid. */
interface TestResult {
  node: CompiledNode | undefined;
  /** 1 always true, 0 always false, -1 known only at run time */
  constant: -1 | 0 | 1;
  ok: boolean;
}

/** The if command being validated, to which elsif/else add branches. */
interface Conditional {
  node: CompiledNode;
  /** an earlier branch is always taken: the rest is dead */
  decided: boolean;
}

const DEFINITIONS: ReadonlyMap<string, CommandDefinition> = new Map([...Object.entries(COMMANDS), ...Object.entries(TESTS)]);

function literal(value: boolean, position: SourcePosition): CompiledNode {
  return { name: value ? 'true' : 'false', position, tags: {}, positional: [], tests: [] };
}

class ScriptValidator {
  /** a command other than require was seen at the top level */
  private requiresDone = false;

  constructor(private readonly validation: Validation) {}

  block(commands: readonly SieveCommand[], topLevel: boolean): CompiledNode[] {
    const nodes: CompiledNode[] = [];
    /** the if/elsif chain the previous command belongs to: where a following elsif/else goes */
    let conditional: Conditional | undefined;
    for (const raw of commands) {
      const name = raw.name;
      const open = conditional;
      conditional = undefined;
      if (name === 'require') {
        if (!topLevel || this.requiresDone) {
          this.validation.error(raw.position, 'require commands can only be placed at top level at the beginning of the file');
        } else {
          this.command(raw);
        }
        continue;
      }
      if (topLevel) this.requiresDone = true;
      if (name === 'if') {
        const { check, ok } = this.check(raw, 'command')!;
        check.node.branches = [];
        nodes.push(check.node);
        conditional = { node: check.node, decided: false };
        this.branch(raw, conditional, ok);
      } else if (name === 'elsif' || name === 'else') {
        const { check, ok } = this.check(raw, 'command')!;
        if (open === undefined && ok) this.validation.error(raw.position, `the ${name} command must follow an if or elseif command`);
        // an orphan's test and block are still checked, for their errors
        this.branch(raw, open ?? { node: check.node, decided: false }, ok && open !== undefined);
        if (name === 'elsif') conditional = open;
      } else {
        const node = this.command(raw);
        if (node !== undefined) nodes.push(node);
      }
    }
    return nodes;
  }

  /** The test and block of an if/elsif/else, added to the chain as a branch unless dead. */
  private branch(raw: SieveCommand, conditional: Conditional, ok: boolean): void {
    if (conditional.decided) return;
    let test: CompiledNode | undefined;
    let constant: -1 | 0 | 1 = raw.name === 'else' ? 1 : -1;
    if (raw.name !== 'else') {
      const results = raw.tests.map((member) => this.test(member));
      const first = results[0];
      test = first?.node;
      if (ok && results.length === 1 && first!.ok) constant = first!.constant;
      ok &&= results.every((result) => result.ok);
    }
    if (constant === 0) return;
    const block = this.block(raw.block ?? [], false);
    if (!ok) return;
    conditional.node.branches!.push(test === undefined ? { block } : { test, block });
    if (constant === 1) conditional.decided = true;
  }

  /** A command other than if/elsif/else; undefined when it is unknown or invalid. */
  private command(raw: SieveCommand): CompiledNode | undefined {
    const check = this.check(raw, 'command');
    return check?.ok ? check.check.node : undefined;
  }

  private test(raw: SieveTest): TestResult {
    const prepared = this.check(raw, 'test');
    if (prepared === undefined) return { node: undefined, constant: -1, ok: false };
    const { check } = prepared;
    let ok = prepared.ok;
    let constant = check.constant;
    if (check.definition.subtests !== 'none') {
      const members: TestResult[] = [];
      let membersOk = true;
      let decidedBy: TestResult | undefined;
      for (const member of raw.tests) {
        const result = this.test(member);
        members.push(result);
        membersOk &&= result.ok;
        // once the value is known the rest is not looked at, unless a member was in error (Pigeonhole)
        if (membersOk && ((raw.name === 'allof' && result.constant === 0) || (raw.name === 'anyof' && result.constant === 1))) {
          decidedBy = result;
          break;
        }
      }
      ok &&= membersOk;
      for (const member of members) if (member.node !== undefined) check.node.tests.push(member.node);
      constant = this.combine(raw.name, members, decidedBy);
    }
    if (!ok) return { node: check.node, constant: -1, ok };
    return { node: constant >= 0 ? literal(constant === 1, raw.position) : check.node, constant, ok };
  }

  /** The constant value of not/allof/anyof from their members'. */
  private combine(name: string, members: readonly TestResult[], decidedBy: TestResult | undefined): -1 | 0 | 1 {
    if (decidedBy !== undefined) return decidedBy.constant;
    if (name === 'not') return members.length === 1 && members[0]!.constant >= 0 ? ((1 - members[0]!.constant) as 0 | 1) : -1;
    const neutral = name === 'allof' ? 1 : 0;
    for (const member of members) if (member.constant !== neutral) return -1;
    return neutral;
  }

  /**
   * Looks the name up and runs the generic checks and the definition's own;
   * undefined when the name is unknown (or not in effect) or of the other kind.
   */
  private check(raw: SieveCommand | SieveTest, kind: NodeKind): { check: CommandCheck; ok: boolean } | undefined {
    const validation = this.validation;
    const definition = this.definition(raw.name);
    if (definition === undefined) {
      if (validation.firstReport(`unknown ${raw.name}`)) {
        validation.error(raw.position, `unknown ${kind} '${raw.name}' (only reported once at first occurrence)`);
      }
      return undefined;
    }
    if (definition.kind !== kind) {
      validation.error(raw.position, `attempted to use ${definition.kind} '${raw.name}' as ${kind}`);
      return undefined;
    }
    const check = new CommandCheck(validation, raw, kind, definition);
    try {
      checkArguments(check);
    } catch (error) {
      if (!(error instanceof CommandInvalid)) throw error;
      checkStructure(check, this.isKnownTest);
      return { check, ok: false };
    }
    if (!checkStructure(check, this.isKnownTest)) return { check, ok: false };
    try {
      (definition.check ?? fillPositional)(check);
    } catch (error) {
      if (!(error instanceof CommandInvalid)) throw error;
      return { check, ok: false };
    }
    return { check, ok: true };
  }

  /** The definition of a command or test in effect (its extension loaded). */
  private definition(name: string): CommandDefinition | undefined {
    const definition = DEFINITIONS.get(name);
    return definition !== undefined && this.validation.isLoaded(definition.extension) ? definition : undefined;
  }

  /** Whether a name is a test in effect (for the message about a test where none belongs). */
  private readonly isKnownTest = (name: string): boolean => this.definition(name)?.kind === 'test';
}
