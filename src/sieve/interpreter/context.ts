// The state of one script run (RunContext: the input, the actions, global
// variables, the imap4flags internal variable, duplicate checks, the CPU
// budget) and of each script executing in it (ScriptFrame: its extensions,
// local variables, `global` declarations, match variables), plus typed
// access to a CompiledNode's arguments. Pure apart from reading the process
// CPU clock; the budget check throws SieveRuntimeError.

import type { CompiledNode, CompiledScript } from '../compiled.js';
import type { SieveRunInput } from '../run-types.js';
import { SieveRuntimeError } from '../run-types.js';
import { parseHeaderFields, type HeaderField } from '../runtime/headers.js';
import { expandVariables, truncateVariable } from '../runtime/variables.js';
import { ActionList, type SourceLocation } from './result.js';

/** How a command list ended: ran through, `stop` (everything ends), or `return` (the included script ends). */
export type Flow = 'next' | 'stop' | 'return';

/** How many commands and tests run between two looks at the CPU clock. */
const STEPS_PER_CPU_CHECK = 64;

export class RunContext {
  readonly actions: ActionList;
  /** variables declared `global` (RFC 6609), shared by all scripts of the run; lower-case names */
  readonly globals = new Map<string, string>();
  /** imap4flags' internal variable, as a list of flags */
  internalFlags: string[] = [];
  /** whether the script or any script it includes uses imap4flags (store actions then carry flags) */
  readonly usesImapFlags: boolean;
  /** include keys of the scripts included so far (for :once) */
  readonly includedScripts = new Set<string>();
  /** duplicate test answers by id, so the same check is asked once per run */
  readonly duplicateAnswers = new Map<string, boolean>();
  readonly duplicateIds: { id: string; periodSeconds: number }[] = [];
  stopped = false;
  private fields: HeaderField[] | undefined;
  private steps = 0;
  private readonly cpuStart = process.cpuUsage();

  constructor(readonly input: SieveRunInput) {
    this.actions = new ActionList(input.limits);
    this.usesImapFlags = requiresAnywhere(input.script, 'imap4flags', new Set());
  }

  /** The message's header fields, parsed on first use. */
  headerFields(): HeaderField[] {
    this.fields ??= parseHeaderFields(this.input.message.header);
    return this.fields;
  }

  /** Counts one command or test; every few steps, checks the CPU budget. */
  step(): void {
    if (++this.steps % STEPS_PER_CPU_CHECK !== 0 || this.input.limits.maxCpuMs <= 0) return;
    const used = process.cpuUsage(this.cpuStart);
    if ((used.user + used.system) / 1000 > this.input.limits.maxCpuMs) {
      throw new SieveRuntimeError('execution exceeded CPU time limit');
    }
  }
}

function requiresAnywhere(script: CompiledScript, extension: string, seen: Set<CompiledScript>): boolean {
  if (seen.has(script)) return false;
  seen.add(script);
  return (
    script.extensions.includes(extension) ||
    Object.values(script.includes).some((included) => requiresAnywhere(included, extension, seen))
  );
}

export class ScriptFrame {
  /** RFC 5229: strings are expanded only in scripts that require "variables" */
  readonly expandsVariables: boolean;
  /** ${0}..${9} from the last successful :matches / :regex test of this script */
  matchValues: readonly string[] = [];
  private readonly locals = new Map<string, string>();
  private readonly globalNames = new Set<string>();

  constructor(
    readonly run: RunContext,
    readonly script: CompiledScript,
  ) {
    this.expandsVariables = script.extensions.includes('variables');
  }

  location(node: CompiledNode): SourceLocation {
    return { script: this.script.name, line: node.position.line };
  }

  /** A string argument as the script sees it at run time. */
  string(text: string): string {
    return this.expandsVariables ? expandVariables(text, (name) => this.lookup(name)) : text;
  }

  strings(list: readonly string[]): string[] {
    return list.map((text) => this.string(text));
  }

  declareGlobal(name: string): void {
    this.globalNames.add(name.toLowerCase());
  }

  /** A variable's value (undefined when never set); "global.x" is the global x. */
  variable(name: string): string | undefined {
    const { map, key } = this.storage(name);
    return map.get(key);
  }

  setVariable(name: string, value: string): void {
    const { map, key } = this.storage(name);
    map.set(key, truncateVariable(value));
  }

  private storage(name: string): { map: Map<string, string>; key: string } {
    const lower = name.toLowerCase();
    if (lower.startsWith('global.')) return { map: this.run.globals, key: lower.slice('global.'.length) };
    return this.globalNames.has(lower) ? { map: this.run.globals, key: lower } : { map: this.locals, key: lower };
  }

  private lookup(name: string): string | undefined {
    if (/^[0-9]+$/.test(name)) return this.matchValues[Number(name)];
    const lower = name.toLowerCase();
    if (lower.includes('.') && !lower.startsWith('global.')) return undefined;
    return this.variable(lower);
  }
}

// ---------------------------------------------------------------------------
// Argument access. The validator guarantees the shapes (sieve-apis.md table);
// a node that breaks them is a corrupt compiled script.

function corrupt(node: CompiledNode, what: string): SieveRuntimeError {
  return new SieveRuntimeError(`corrupt compiled script: ${node.name} command has no valid ${what}`, node.position.line);
}

export function positionalString(node: CompiledNode, index: number): string {
  const value = node.positional[index];
  if (typeof value !== 'string') throw corrupt(node, `argument ${index + 1}`);
  return value;
}

export function positionalList(node: CompiledNode, index: number): string[] {
  const value = node.positional[index];
  if (typeof value === 'string') return [value];
  if (!Array.isArray(value)) throw corrupt(node, `argument ${index + 1}`);
  return value;
}

export function positionalNumber(node: CompiledNode, index: number): number {
  const value = node.positional[index];
  if (typeof value !== 'number') throw corrupt(node, `argument ${index + 1}`);
  return value;
}

export function tagString(node: CompiledNode, tag: string): string | undefined {
  const value = node.tags[tag];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw corrupt(node, `:${tag} value`);
  return value;
}

export function tagList(node: CompiledNode, tag: string): string[] | undefined {
  const value = node.tags[tag];
  if (value === undefined) return undefined;
  if (typeof value === 'string') return [value];
  if (!Array.isArray(value)) throw corrupt(node, `:${tag} value`);
  return value;
}

export function tagNumber(node: CompiledNode, tag: string): number | undefined {
  const value = node.tags[tag];
  if (value === undefined) return undefined;
  if (typeof value !== 'number') throw corrupt(node, `:${tag} value`);
  return value;
}

export function hasTag(node: CompiledNode, tag: string): boolean {
  return node.tags[tag] !== undefined;
}
