// compileSieve: the size limit, then parse and validation, then include
// resolution (RFC 6609) with Pigeonhole's limits and messages, checked
// against what sievec 0.5.19 did with the same scripts on disk.

import { describe, it, expect } from 'vitest';
import { includeKey, type CompiledScript } from '../../src/sieve/compiled.js';
import { compileSieve, type CompileOptions } from '../../src/sieve/compile.js';
import { SieveCompileError } from '../../src/sieve/errors.js';
import { DEFAULT_ENABLED_EXTENSIONS } from '../../src/sieve/extensions.js';
import { thrown } from '../helpers/thrown.js';

const DEFAULTS = new Set(DEFAULT_ENABLED_EXTENSIONS);

/** Scripts by "personal:NAME" / "global:NAME"; records what was asked for. */
function library(scripts: Record<string, string>): { loadInclude: NonNullable<CompileOptions['loadInclude']>; loads: string[] } {
  const loads: string[] = [];
  return {
    loads,
    loadInclude: (location, name) => {
      loads.push(includeKey(location, name));
      return scripts[includeKey(location, name)];
    },
  };
}

function compile(source: string, scripts: Record<string, string> = {}, options: Partial<CompileOptions> = {}): CompiledScript {
  return compileSieve(source, { scriptName: 'main', enabledExtensions: DEFAULTS, maxScriptSize: 1 << 20, loadInclude: library(scripts).loadInclude, ...options });
}

/** The compile error's message lines ("main: line L: ..."). */
function failure(source: string, scripts: Record<string, string> = {}, options: Partial<CompileOptions> = {}): string[] {
  return thrown(SieveCompileError, () => compile(source, scripts, options)).message.split('\n');
}

/** A script that includes each of `names` (personal). */
function including(...names: string[]): string {
  return `require "include";\n${names.map((name) => `include "${name}";`).join('\n')}\n`;
}

describe('size limit', () => {
  it('refuses a script over sieve_max_script_size before parsing it, with Pigeonhole\'s message', () => {
    const source = `keep;${' '.repeat(100)}`;
    const error = thrown(SieveCompileError, () => compile(source, {}, { maxScriptSize: 100 }));
    expect(error.diagnostics).toEqual([{ line: 0, column: 0, message: 'sieve script is too large (max 100 bytes)' }]);
    expect(() => compile(source, {}, { maxScriptSize: source.length })).not.toThrow();
  });

  it('counts bytes, not characters', () => {
    const source = '# éééé\nkeep;';
    expect(() => compile(source, {}, { maxScriptSize: source.length })).toThrow(SieveCompileError);
    expect(() => compile(source, {}, { maxScriptSize: Buffer.byteLength(source) })).not.toThrow();
  });

  it('has no limit at 0', () => {
    expect(() => compile(`keep;${' '.repeat(2 << 20)}`, {}, { maxScriptSize: 0 })).not.toThrow();
  });

  it('refuses a 10 MB script at once', () => {
    const source = 'keep;\n'.repeat((10 * 1024 * 1024) / 6);
    const start = Date.now();
    expect(failure(source)).toEqual(['main: line 0: sieve script is too large (max 1048576 bytes)']);
    expect(Date.now() - start).toBeLessThan(1000);
  });

  it('applies to included scripts too', () => {
    expect(failure(including('big'), { 'personal:big': `keep;${' '.repeat(200)}` }, { maxScriptSize: 150 })).toEqual([
      "main: line 2: failed to parse included script 'big': big: sieve script is too large (max 150 bytes)",
    ]);
  });
});

describe('parse and validation errors', () => {
  it('come back as one SieveCompileError naming the script', () => {
    expect(failure('keep')).toEqual(["main: line 1: expected end of command ';' or the beginning of a compound block '{' after command 'keep', but found end of file"]);
    expect(failure('foo;\nkeep :x;')).toEqual([
      "main: line 1: unknown command 'foo' (only reported once at first occurrence)",
      "main: line 2: unknown tagged argument ':x' for the keep command (reported only once at first occurrence)",
    ]);
  });

  it('give the compiled script otherwise, named, with its extensions and no includes', () => {
    const script = compile('require ["fileinto", "copy"];\nfileinto :copy "x";');
    expect(script.name).toBe('main');
    expect(script.extensions).toEqual(['fileinto', 'copy']);
    expect(script.includes).toEqual({});
    expect(script.commands.map((command) => command.name)).toEqual(['fileinto']);
  });

  it('is plain JSON', () => {
    const script = compile('require ["include", "variables"];\nglobal "x";\ninclude :once "a";', { 'personal:a': 'require "include";\ninclude :once "a";\nkeep;' });
    expect(JSON.parse(JSON.stringify(script))).toEqual(script);
  });
});

describe('include', () => {
  it('compiles the scripts named, personal and global, keyed by location and name', () => {
    const scripts = {
      'personal:always_allow': 'if address :is "from" "boss@example.com" { keep; stop; }',
      'global:spam_tests': 'require ["reject"];\nif header :contains "Subject" "$$" { reject "No thank you."; }',
      'personal:spam_tests': 'require "fileinto";\nif header :contains "Subject" "XXXX" { fileinto "spam"; }',
      'personal:mailing_lists': 'require "fileinto";\nif header :is "Sender" "owner-ietf-mta-filters@imc.org" { fileinto "lists.sieve"; }',
    };
    const script = compile(
      'require ["include"];\ninclude :personal "always_allow";\ninclude :global "spam_tests";\ninclude :personal "spam_tests";\ninclude :personal "mailing_lists";',
      scripts,
    );
    expect(Object.keys(script.includes).sort()).toEqual(['global:spam_tests', 'personal:always_allow', 'personal:mailing_lists', 'personal:spam_tests']);
    expect(script.includes['global:spam_tests']!.name).toBe('spam_tests');
    expect(script.includes['global:spam_tests']!.extensions).toEqual(['reject']);
    expect(script.includes['personal:spam_tests']!.extensions).toEqual(['fileinto']);
  });

  it('puts the includes of included scripts, at any depth, into the main script', () => {
    const script = compile(including('a'), {
      'personal:a': including('b'),
      'personal:b': 'require "include";\ninclude :global "c";',
      'global:c': 'keep;',
    });
    expect(Object.keys(script.includes).sort()).toEqual(['global:c', 'personal:a', 'personal:b']);
    expect(script.includes['personal:a']!.includes).toEqual({});
  });

  it('fetches and compiles each script once', () => {
    const { loadInclude, loads } = library({ 'personal:a': including('lib'), 'personal:b': including('lib'), 'personal:lib': 'keep;' });
    const script = compile(including('a', 'b', 'a'), {}, { loadInclude });
    expect(loads).toEqual(['personal:a', 'personal:lib', 'personal:b']);
    expect(Object.keys(script.includes).sort()).toEqual(['personal:a', 'personal:b', 'personal:lib']);
  });

  it('finds includes inside if branches, but not in branches that can never run', () => {
    const { loadInclude, loads } = library({ 'personal:yes': 'keep;' });
    compile('require ["include", "ihave"];\nif exists "x" { include "yes"; }\nif ihave "nope" { include "no"; }\nif false { include "no2"; }', {}, { loadInclude });
    expect(loads).toEqual(['personal:yes']);
  });

  it('reports a missing script, unless :optional, as Pigeonhole does', () => {
    expect(failure(including('missing'))).toEqual(["main: line 2: included personal script 'missing' does not exist"]);
    expect(failure('require "include";\ninclude :global "gone";')).toEqual(["main: line 2: included global script 'gone' does not exist"]);
    const script = compile('require "include";\ninclude :optional "missing";\nkeep;');
    expect(script.includes).toEqual({});
    expect(failure('require "include";\ninclude :optional "nope";\ninclude "nope";')).toEqual(["main: line 3: included personal script 'nope' does not exist"]);
  });

  it('needs a place to load scripts from', () => {
    expect(failure(including('a'), {}, { loadInclude: undefined })).toEqual([
      "main: line 2: include: personal location for included script `a' is unavailable (contact system administrator for more information)",
    ]);
  });

  it('refuses a circular include, naming the script where the loop closes', () => {
    expect(failure(including('a'), { 'personal:a': including('b'), 'personal:b': including('a') })).toEqual([
      "main: line 2: failed to generate code for included script 'a': b: line 2: circular include",
    ]);
    expect(failure(including('self'), { 'personal:self': including('self') })).toEqual([
      "main: line 2: failed to generate code for included script 'self': self: line 2: circular include",
    ]);
  });

  it('lets :once includes form a cycle (the interpreter runs each once)', () => {
    const script = compile('require "include";\ninclude :once "a";', {
      'personal:a': 'require "include";\ninclude :once "b";\nkeep;',
      'personal:b': 'require "include";\ninclude :once "a";\ndiscard;',
    });
    expect(Object.keys(script.includes).sort()).toEqual(['personal:a', 'personal:b']);
    expect(script.includes['personal:a']!.commands[0]!.tags).toEqual({ once: true });
  });

  it('allows 10 levels of nesting below the main script, not 11', () => {
    const chain = (levels: number): Record<string, string> =>
      Object.fromEntries(Array.from({ length: levels }, (_, index) => [`personal:n${index + 1}`, index + 1 < levels ? including(`n${index + 2}`) : 'keep;']));
    expect(Object.keys(compile(including('n1'), chain(10)).includes)).toHaveLength(10);
    expect(failure(including('n1'), chain(11))).toEqual([
      "main: line 2: failed to generate code for included script 'n1': n10: line 2: cannot nest includes deeper than 10 levels",
    ]);
  });

  it('allows 255 included scripts, not 256', () => {
    const scripts = Object.fromEntries(Array.from({ length: 256 }, (_, index) => [`personal:s${index}`, 'keep;']));
    const names = (count: number): string[] => Array.from({ length: count }, (_, index) => `s${index}`);
    expect(Object.keys(compile(including(...names(255)), scripts).includes)).toHaveLength(255);
    expect(failure(including(...names(256)), scripts)).toEqual(["main: line 257: failed to include script 's255': no more than 255 includes allowed"]);
  });

  it('reports errors of an included script with its own name', () => {
    expect(failure(including('bad'), { 'personal:bad': 'keep\n' })).toEqual([
      "main: line 2: failed to parse included script 'bad': bad: line 2: expected end of command ';' or the beginning of a compound block '{' after command 'keep', but found end of file",
    ]);
    expect(failure(including('vbad'), { 'personal:vbad': 'foo;\nbar;' })).toEqual([
      "main: line 2: failed to validate included script 'vbad': vbad: line 1: unknown command 'foo' (only reported once at first occurrence); vbad: line 2: unknown command 'bar' (only reported once at first occurrence)",
    ]);
    expect(failure(including('a'), { 'personal:a': including('b'), 'personal:b': 'stop' })).toEqual([
      "main: line 2: failed to generate code for included script 'a': b: line 1: expected end of command ';' or the beginning of a compound block '{' after command 'stop', but found end of file",
    ]);
    expect(failure(including('a'), { 'personal:a': including('missing') })).toEqual([
      "main: line 2: failed to generate code for included script 'a': a: line 2: included personal script 'missing' does not exist",
    ]);
  });

  it('reports a broken script once however often it is included', () => {
    expect(failure(including('bad', 'bad'), { 'personal:bad': 'foo;' })).toEqual([
      "main: line 2: failed to validate included script 'bad': bad: line 1: unknown command 'foo' (only reported once at first occurrence)",
    ]);
  });

  it('does not resolve includes of a script that does not validate', () => {
    const { loadInclude, loads } = library({});
    expect(() => compile('require "include";\ninclude "a";\nfoo;', {}, { loadInclude })).toThrow(SieveCompileError);
    expect(loads).toEqual([]);
  });

  it('compiles included scripts with the extensions their location allows', () => {
    const restricted = new Set(['vacation-seconds']);
    const scripts = { 'global:g': 'require "vacation-seconds";\nvacation :seconds 60 "x";', 'personal:p': 'require "vacation-seconds";' };
    expect(() => compile('require "include";\ninclude :global "g";', scripts, { globalExtensions: restricted })).not.toThrow();
    expect(failure('require "include";\ninclude "p";', scripts, { globalExtensions: restricted })).toEqual([
      "main: line 2: failed to validate included script 'p': p: line 1: require command: failed to load Sieve capability `vacation-seconds': its use is restricted to global scripts",
    ]);
    const globalScriptExtensions = new Set([...DEFAULTS, 'vacation-seconds']);
    expect(
      failure('require "include";\ninclude "p";', scripts, { enabledExtensions: globalScriptExtensions, globalExtensions: restricted }),
    ).toEqual([
      "main: line 2: failed to validate included script 'p': p: line 1: require command: failed to load Sieve capability `vacation-seconds': its use is restricted to global scripts",
    ]);
  });

  it('runs the RFC 6609 global-variable example', () => {
    const script = compile(
      'require ["variables", "include", "relational", "fileinto"];\nglobal "test";\nglobal "test_mailbox";\nset "test" "$$";\ninclude "subject_tests";\nset "test" "Make money";\ninclude "subject_tests";\nif string :count "eq" "${test_mailbox}" "1" {\n    fileinto "${test_mailbox}";\n    stop;\n}',
      {
        'personal:subject_tests':
          'require ["variables", "include"];\nglobal ["test", "test_mailbox"];\nif header :contains "Subject" "${test}" {\n    set "test_mailbox" "spam-${test}";\n}',
      },
    );
    expect(Object.keys(script.includes)).toEqual(['personal:subject_tests']);
  });
});
