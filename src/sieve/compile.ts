// Compiling a Sieve script: the size limit, ./parser.ts, ./validator.ts, then
// the scripts its include commands name (RFC 6609), fetched through the
// caller's loadInclude and compiled the same way, recursively, as Pigeonhole
// does at compile time: at most 10 levels of nesting below the main script,
// at most 255 included scripts, a script including one of the scripts that
// (directly or not) include it is a "circular include" unless the include is
// :once. Each included script is compiled once; all of them, at any depth,
// go into the main script's `includes` (keyed by includeKey(location, name));
// included scripts' own `includes` stay empty, so the result is plain JSON
// even when :once includes form a cycle. An :optional include of a missing
// script has no entry; :once is left to the interpreter. Includes inside a
// branch the validator found dead are not fetched.
//
// Failure: throws SieveCompileError naming the main script. A script over
// the size limit gets Pigeonhole's "sieve script is too large (max N bytes)"
// at line 0 (it is about the whole file). A problem in an included script is
// reported at the main script's include command that leads to it, with the
// original error(s) quoted with their own script's name ("failed to parse
// included script 'b': b: line 2: ...").

import type { SieveTree, SourcePosition } from './ast.js';
import { includeKey, type CompiledNode, type CompiledScript } from './compiled.js';
import { SieveCompileError, type SieveDiagnostic } from './errors.js';
import { parseSieve } from './parser.js';
import { validateSieve, type ValidateOptions } from './validator.js';

export interface CompileOptions extends ValidateOptions {
  /** sieve_max_script_size in bytes (0: no limit); applies to included scripts too */
  maxScriptSize: number;
  /** The source of an included script; undefined when there is no such script. Without it, include cannot be used. */
  loadInclude?(location: 'personal' | 'global', name: string): string | undefined;
}

/** Pigeonhole's sieve_include_max_nesting_depth default */
const MAX_INCLUDE_DEPTH = 10;
/** Pigeonhole's sieve_include_max_includes default */
const MAX_INCLUDES = 255;

/** Compiles a script and everything it includes; throws SieveCompileError. */
export function compileSieve(source: string, options: CompileOptions): CompiledScript {
  const script = compileOne(source, options.scriptName, options);
  const resolver = new IncludeResolver(options);
  const diagnostics = resolver.resolve(script, 0, []);
  if (diagnostics.length > 0) throw new SieveCompileError(options.scriptName, diagnostics.map(({ line, column, message }) => ({ line, column, message })));
  script.includes = resolver.includes;
  return script;
}

/** Size check, parse and validation of one script (its includes unresolved). */
function compileOne(source: string, scriptName: string, options: CompileOptions): CompiledScript {
  return validateSieve(parseWithinLimit(source, scriptName, options.maxScriptSize), { ...options, scriptName });
}

/** The size check (Pigeonhole's, before parsing) and the parse. */
function parseWithinLimit(source: string, scriptName: string, limit: number): SieveTree {
  if (limit > 0 && (source.length > limit || Buffer.byteLength(source) > limit)) {
    throw new SieveCompileError(scriptName, [{ line: 0, column: 0, message: `sieve script is too large (max ${limit} bytes)` }]);
  }
  return parseSieve(source, scriptName);
}

/** An error about an include command; `origin` holds the first-hand errors it comes from, as "name: line L: message". */
interface IncludeDiagnostic extends SieveDiagnostic {
  origin: string[];
}

class IncludeResolver {
  readonly includes: Record<string, CompiledScript> = {};
  /** included scripts being compiled (their includes being resolved) */
  private readonly inProgress = new Set<string>();
  /** scripts found missing, or failed (their errors reported once) */
  private readonly missing = new Set<string>();
  private readonly failed = new Set<string>();
  private count = 0;

  constructor(private readonly options: CompileOptions) {}

  /** Resolves the includes of `script`, at `depth` below the main script, included through `chain`. */
  resolve(script: CompiledScript, depth: number, chain: readonly string[]): IncludeDiagnostic[] {
    const diagnostics: IncludeDiagnostic[] = [];
    if (!script.extensions.includes('include')) return diagnostics;
    for (const node of includeCommands(script.commands, [])) {
      const problem = this.include(node, depth, chain);
      if (problem !== undefined) diagnostics.push(problem);
    }
    return diagnostics;
  }

  /** One include command; an error, or undefined when it is resolved (or needs nothing). */
  private include(node: CompiledNode, depth: number, chain: readonly string[]): IncludeDiagnostic | undefined {
    const location = node.tags.global === true ? 'global' : 'personal';
    const name = node.positional[0] as string;
    const key = includeKey(location, name);
    const at = node.position;
    const loadInclude = this.options.loadInclude;
    if (loadInclude === undefined) {
      return direct(at, `include: ${location} location for included script \`${name}' is unavailable (contact system administrator for more information)`);
    }
    if (depth >= MAX_INCLUDE_DEPTH) return direct(at, `cannot nest includes deeper than ${MAX_INCLUDE_DEPTH} levels`);
    if (node.tags.once !== true && chain.includes(key)) return direct(at, 'circular include');
    if (key in this.includes || this.inProgress.has(key) || this.failed.has(key)) return undefined;
    if (this.missing.has(key)) return node.tags.optional === true ? undefined : missingScript(at, location, name);
    if (this.count >= MAX_INCLUDES) return direct(at, `failed to include script '${name}': no more than ${MAX_INCLUDES} includes allowed`);
    const source = loadInclude(location, name);
    if (source === undefined) {
      this.missing.add(key);
      return node.tags.optional === true ? undefined : missingScript(at, location, name);
    }
    this.count++;
    let tree: SieveTree;
    let included: CompiledScript;
    try {
      tree = parseWithinLimit(source, name, this.options.maxScriptSize);
    } catch (error) {
      return this.failure(key, at, `failed to parse included script '${name}'`, error);
    }
    try {
      included = validateSieve(tree, { ...this.options, scriptName: name, enabledExtensions: this.extensionsFor(location) });
    } catch (error) {
      return this.failure(key, at, `failed to validate included script '${name}'`, error);
    }
    this.inProgress.add(key);
    const problems = this.resolve(included, depth + 1, [...chain, key]);
    this.inProgress.delete(key);
    if (problems.length > 0) {
      this.failed.add(key);
      return nested(
        at,
        `failed to generate code for included script '${name}'`,
        problems.flatMap((problem) => (problem.origin.length > 0 ? problem.origin : [firstHand(name, problem)])),
      );
    }
    this.includes[key] = included;
    return undefined;
  }

  /**
   * What an included script may use: a global one also the extensions
   * reserved to global scripts, a personal one never those (as Pigeonhole).
   */
  private extensionsFor(location: 'personal' | 'global'): ReadonlySet<string> {
    const { enabledExtensions, globalExtensions } = this.options;
    if (globalExtensions === undefined || globalExtensions.size === 0) return enabledExtensions;
    if (location === 'global') return new Set([...enabledExtensions, ...globalExtensions]);
    return new Set([...enabledExtensions].filter((name) => !globalExtensions.has(name)));
  }

  /** The error of an include whose script does not compile; anything but a SieveCompileError is rethrown. */
  private failure(key: string, position: SourcePosition, message: string, error: unknown): IncludeDiagnostic {
    if (!(error instanceof SieveCompileError)) throw error;
    this.failed.add(key);
    return nested(position, message, error.diagnostics.map((diagnostic) => firstHand(error.scriptName, diagnostic)));
  }
}

/** The include commands of a block, in source order, including those in if branches, added to `found`. */
function includeCommands(nodes: readonly CompiledNode[], found: CompiledNode[]): CompiledNode[] {
  for (const node of nodes) {
    if (node.name === 'include') found.push(node);
    if (node.branches !== undefined) for (const branch of node.branches) includeCommands(branch.block, found);
  }
  return found;
}

function direct(position: SourcePosition, message: string): IncludeDiagnostic {
  return { line: position.line, column: position.column, message, origin: [] };
}

function missingScript(position: SourcePosition, location: string, name: string): IncludeDiagnostic {
  return direct(position, `included ${location} script '${name}' does not exist`);
}

function nested(position: SourcePosition, message: string, origin: string[]): IncludeDiagnostic {
  return { line: position.line, column: position.column, message: `${message}: ${origin.join('; ')}`, origin };
}

function firstHand(scriptName: string, diagnostic: SieveDiagnostic): string {
  return diagnostic.line > 0 ? `${scriptName}: line ${diagnostic.line}: ${diagnostic.message}` : `${scriptName}: ${diagnostic.message}`;
}
