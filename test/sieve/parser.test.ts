// The lexer and parser against RFC 5228 section 8 and what Pigeonhole 0.5.19
// (sievec) makes of the same text: the messages are Pigeonhole's, with the
// column added (and, for a missing ";", the command named).

import { describe, it, expect } from 'vitest';
import type { SieveArgument, SieveCommand, SieveTest } from '../../src/sieve/ast.js';
import { SieveCompileError } from '../../src/sieve/errors.js';
import { parseSieve } from '../../src/sieve/parser.js';
import { thrown } from '../helpers/thrown.js';

function parse(source: string): SieveCommand[] {
  return parseSieve(source, 'test').commands;
}

/** Each error as "line:column: message". */
function errors(source: string): string[] {
  return thrown(SieveCompileError, () => parseSieve(source, 'test')).diagnostics.map((d) => `${d.line}:${d.column}: ${d.message}`);
}

/** The arguments of the first command, without positions. */
function argumentsOf(source: string): unknown[] {
  return parse(source)[0]!.arguments.map(withoutPosition);
}

function withoutPosition(argument: SieveArgument): unknown {
  const { position: _position, ...rest } = argument;
  return rest;
}

/** A compact picture of a command or test: name(args)[tests]{block}. */
function shape(node: SieveCommand | SieveTest): string {
  const args = node.arguments.map((argument) => {
    switch (argument.type) {
      case 'tag':
        return `:${argument.name}`;
      case 'number':
        return String(argument.value);
      case 'string':
        return JSON.stringify(argument.value);
      case 'string-list':
        return JSON.stringify(argument.values);
    }
  });
  let text = node.name + (args.length > 0 ? ` ${args.join(' ')}` : '');
  if (node.tests.length > 0) text += node.testList ? ` (${node.tests.map(shape).join(', ')})` : ` ${shape(node.tests[0]!)}`;
  const block = (node as SieveCommand).block;
  if (block !== undefined) text += ` {${block.map(shape).join('; ')}}`;
  return text;
}

describe('tokens', () => {
  it.each([
    ['keep :Copy;', [{ type: 'tag', name: 'copy' }]],
    ['keep :_x1;', [{ type: 'tag', name: '_x1' }]],
    ['keep 0;', [{ type: 'number', value: 0 }]],
    ['keep 100;', [{ type: 'number', value: 100 }]],
    ['keep 1k;', [{ type: 'number', value: 1024 }]],
    ['keep 2K;', [{ type: 'number', value: 2048 }]],
    ['keep 3M;', [{ type: 'number', value: 3 * 1024 * 1024 }]],
    ['keep 4g;', [{ type: 'number', value: 4 * 1024 ** 3 }]],
    ['keep 18446744073709551615;', [{ type: 'number', value: 18446744073709551615 }]],
    ['keep 17179869183G;', [{ type: 'number', value: 17179869183 * 1024 ** 3 }]],
    ['keep "";', [{ type: 'string', value: '' }]],
    ['keep "a b";', [{ type: 'string', value: 'a b' }]],
    // a backslash keeps the next character, whatever it is (Pigeonhole)
    ['keep "q\\"b\\\\c\\d";', [{ type: 'string', value: 'q"b\\cd' }]],
    ['keep "\\\\\\"";', [{ type: 'string', value: '\\"' }]],
    // line ends in strings are CRLF, whether written as LF or CRLF
    ['keep "a\nb";', [{ type: 'string', value: 'a\r\nb' }]],
    ['keep "a\r\nb";', [{ type: 'string', value: 'a\r\nb' }]],
    ['keep "a\\\nb";', [{ type: 'string', value: 'a\r\nb' }]],
    ['keep "ü€😀";', [{ type: 'string', value: 'ü€😀' }]],
    ['keep ["a"];', [{ type: 'string-list', values: ['a'] }]],
    ['keep [ "a" , "b","c" ];', [{ type: 'string-list', values: ['a', 'b', 'c'] }]],
    ['keep 1x;', [{ type: 'number', value: 1 }]],
    ['keep "a""b";', [{ type: 'string', value: 'a' }, { type: 'string', value: 'b' }]],
  ])('%j', (source, expected) => {
    expect(argumentsOf(source)).toEqual(expected);
  });

  it.each([
    ['lf, with a comment', 'set "a" text: # comment\nline1\n..dot\n.x\n...\n.\n;', 'line1\r\n.dot\r\n.x\r\n..\r\n'],
    ['crlf', 'set "a" text:\r\nline1\r\n\r\n.\r\n;', 'line1\r\n\r\n'],
    ['blanks after text:', 'set "a" TEXT: \t \nx\n.\n;', 'x\r\n'],
    ['empty', 'set "a" text:\n.\n;', ''],
    ['quotes and hashes kept', 'set "a" text:\n"q" # not a comment \\n\n.\n;', '"q" # not a comment \\n\r\n'],
    ['a dot that is not alone', 'set "a" text:\n. \n.\n;', '. \r\n'],
  ])('multi-line string: %s', (_name, source, expected) => {
    expect(argumentsOf(source)[1]).toEqual({ type: 'string', value: expected });
  });

  it('identifiers are case-insensitive and stored lower-case', () => {
    expect(parse('KEEP; Discard; if HEADER :IS "A" "b" {Stop;}').map(shape)).toEqual(['keep', 'discard', 'if header :is "A" "b" {stop}']);
  });

  it.each([
    ['hash comment', 'keep; # comment\ndiscard;'],
    ['hash comment at the end, no newline', 'keep;\ndiscard; # end'],
    ['bracket comment', 'keep; /* comment\n * more */ discard;'],
    ['bracket comment inside a command', 'keep /* x */ ; discard /**/;'],
    ['star before the end', 'keep; /* a ** b **/ discard;'],
    ['CR alone is whitespace', 'keep;\rdiscard;'],
    ['tabs', 'keep;\t\tdiscard;'],
  ])('whitespace: %s', (_name, source) => {
    expect(parse(source).map(shape)).toEqual(['keep', 'discard']);
  });

  it('keeps line and column of every command, test and argument', () => {
    const [first, second] = parse('keep;\n  if  header\t:is ["a"]\n\n "b" { stop; }');
    expect(first!.position).toEqual({ line: 1, column: 1 });
    expect(second!.position).toEqual({ line: 2, column: 3 });
    const test = second!.tests[0]!;
    expect(test.position).toEqual({ line: 2, column: 7 });
    expect(test.arguments.map((argument) => argument.position)).toEqual([
      { line: 2, column: 14 },
      { line: 2, column: 18 },
      { line: 4, column: 2 },
    ]);
    expect(second!.block![0]!.position).toEqual({ line: 4, column: 8 });
  });

  it('counts lines inside strings and comments', () => {
    const source = 'set "a" "x\ny";\n/* a\nb */ set "b" text:\nc\n.\n; # z\nkeep;';
    expect(parse(source).map((command) => command.position.line)).toEqual([1, 4, 8]);
  });
});

describe('grammar', () => {
  it.each([
    ['', []],
    ['keep;', ['keep']],
    ['fileinto "x" "y" stop;', ['fileinto "x" "y" stop']],
    ['if true { }', ['if true {}']],
    ['if not exists ["From","Date"] {discard;}', ['if not exists ["From","Date"] {discard}']],
    ['if anyof (true, false) {keep;} elsif allof(not true, size :over 1) {stop;} else {discard;}', [
      'if anyof (true, false) {keep}',
      'elsif allof (not true, size :over 1) {stop}',
      'else {discard}',
    ]],
    ['if anyof(true) {}', ['if anyof (true) {}']],
    ['if header :contains :comparator "i;octet" "Subject" "MAKE MONEY FAST" { discard; }', [
      'if header :contains :comparator "i;octet" "Subject" "MAKE MONEY FAST" {discard}',
    ]],
    ['if true { if false { if true { keep; } } }', ['if true {if false {if true {keep}}}']],
    ['foo bar baz;', ['foo bar baz']],
    ['x :a 1 "b" ["c"] t :d (u, v w);', ['x :a 1 "b" ["c"] t :d (u, v w)']],
  ])('%j', (source, expected) => {
    expect(parse(source).map(shape)).toEqual(expected);
  });

  it('marks test lists', () => {
    const [command] = parse('if anyof(true) {}');
    expect(command!.testList).toBe(false);
    expect(command!.tests[0]!.testList).toBe(true);
  });

  it('accepts 31 nested blocks and 30 nested tests, like Pigeonhole', () => {
    const blocks = 'if true {'.repeat(31) + 'keep;' + '}'.repeat(31);
    expect(() => parseSieve(blocks, 'test')).not.toThrow();
    const tests = `if ${'not '.repeat(30)}true {}`;
    expect(() => parseSieve(tests, 'test')).not.toThrow();
  });
});

describe('syntax errors', () => {
  it.each([
    ['keep', ["1:5: expected end of command ';' or the beginning of a compound block '{' after command 'keep', but found end of file"]],
    ['keep;\nkeep', ["2:5: expected end of command ';' or the beginning of a compound block '{' after command 'keep', but found end of file"]],
    ['keep :;', ["1:6: expected end of command ';' or the beginning of a compound block '{' after command 'keep', but found ':'"]],
    ['keep :1;', ["1:6: expected end of command ';' or the beginning of a compound block '{' after command 'keep', but found ':'"]],
    ['keep / 1;', ["1:6: expected end of command ';' or the beginning of a compound block '{' after command 'keep', but found '/'"]],
    ['keep;\n"x";', ['2:1: unexpected string found at (the presumed) end of file']],
    ['keep;;', ["1:6: unexpected ';' found at (the presumed) end of file"]],
    ['keep;\n}', ["2:1: unexpected '}' found at (the presumed) end of file"]],
    ['keep; [', ["1:7: unexpected '[' found at (the presumed) end of file"]],
    ['if true { keep; } }', ["1:19: unexpected '}' found at (the presumed) end of file"]],
    ['if header "a" "b" {\n keep;\n', ["3:1: expected end of compound block '}', but found end of file"]],
    ['if true { keep; ] }', ["1:17: expected end of compound block '}', but found ']'"]],
    ['if header :is "a" ["b", ] {keep;}', ["1:25: expecting string after ',' in string list, but found ']'"]],
    ['if header :is "a" ["b" "c"] {keep;}', ["1:24: expecting ',' or end of string list ']', but found string"]],
    ['if header :is "a" [] {keep;}', ["1:20: expecting string after '[' in string list, but found ']'"]],
    ['if exists ["a", 1] {keep;}', ["1:17: expecting string after ',' in string list, but found number"]],
    ['if anyof() {keep;}', ["1:10: expecting test identifier after '(' in test list, but found ')'"]],
    ['if anyof(true, ) {keep;}', ["1:16: expecting test identifier after ',' in test list, but found ')'"]],
    ['if anyof(true; false) {keep;}', ["1:14: expecting ',' or end of test list ')', but found ';'"]],
    ['keep;\n"unterminated', ['2:14: end of file before end of quoted string started at line 2']],
    ['keep "a\rb";', ['1:9: found stray carriage-return (CR) character in quoted string started at line 1']],
    ['keep "a\0b";', ['1:8: encountered NUL character in quoted string started at line 1']],
    ['/* open\n\nkeep;', ["3:6: end of file before end of bracket comment ('/* ... */') started at line 1"]],
    ['keep; /* a \0 */', ['1:12: encountered NUL character in bracket comment']],
    ['keep; # a \0 b\n', ['1:11: encountered NUL character in hash comment']],
    ['keep;\n@', ["2:1: unexpected character(s) starting with '@'"]],
    ['keep\x01;', ['1:5: unexpected character(s) starting with 0x01']],
    ['keep é;', ['1:6: unexpected character(s) starting with 0xc3']],
    ['keep 18446744073709551616;', ['1:6: number exceeds integer limits (max 18446744073709551615)']],
    ['keep 17179869184G;', ['1:6: number exceeds integer limits (max 18446744073709551615)']],
    ['keep :a123456789012345678901234567890123;', ["1:6: encountered impossibly long tag identifier ':a1234567890123456789012345678901...'"]],
    ['a123456789012345678901234567890123;', ["1:1: encountered impossibly long identifier 'a1234567890123456789012345678901...'"]],
    ['text:', ['1:6: end of file before end of multi-line string']],
    ['set "a" text: junk\nfoo\n.\n;', ["1:15: invalid character 'j' after 'text:' in multiline string"]],
    ['set "a" text:\nfoo\n', ['3:1: end of file before end of multi-line string']],
    ['set "a" text:\nfoo\n.', ['3:2: end of file before end of multi-line string']],
    ['set "a" text: # comment', ['1:24: end of file before end of multi-line string']],
    ['set "a" text:\nfo\ro\n.\n;', ['2:4: found stray carriage-return (CR) character in multi-line string started at line 1']],
    ['set "a" text:\nf\0\n.\n;', ['2:2: encountered NUL character in multi-line string started at line 1']],
  ])('%j', (source, expected) => {
    expect(errors(source)).toEqual(expected);
  });

  it('names the script in the message', () => {
    expect(thrown(SieveCompileError, () => parseSieve('keep', 'my-script')).message).toBe(
      "my-script: line 1: expected end of command ';' or the beginning of a compound block '{' after command 'keep', but found end of file",
    );
  });

  it('goes on after an error in a command and reports the next one', () => {
    expect(errors('if true { keep :; stop } keep;\nfileinto "x" )\n;discard;')).toEqual([
      "1:16: expected end of command ';' or the beginning of a compound block '{' after command 'keep', but found ':'",
      "1:24: expected end of command ';' or the beginning of a compound block '{' after command 'stop', but found '}'",
      "2:14: expected end of command ';' or the beginning of a compound block '{' after command 'fileinto', but found ')'",
    ]);
  });

  it('skips the whole block of a command in error', () => {
    expect(errors('if header :is "a" [1] { keep; if true { x; } }\nkeep')).toEqual([
      "1:20: expecting string after '[' in string list, but found number",
      "2:5: expected end of command ';' or the beginning of a compound block '{' after command 'keep', but found end of file",
    ]);
  });

  it('stops at a lexical error', () => {
    expect(errors('keep :;\nkeep "open')).toEqual([
      "1:6: expected end of command ';' or the beginning of a compound block '{' after command 'keep', but found ':'",
      '2:11: end of file before end of quoted string started at line 2',
    ]);
  });

  it.each([
    ['32 nested blocks', 'if true {'.repeat(32) + '}'.repeat(32), "cannot nest command blocks deeper than 32 levels"],
    ['31 nested nots', `if ${'not '.repeat(31)}true {}`, 'cannot nest tests deeper than 32 levels'],
    ['31 nested test lists', `if ${'anyof('.repeat(31)}true${')'.repeat(31)} {}`, 'cannot nest tests deeper than 32 levels'],
  ])('refuses %s as Pigeonhole does', (_name, source, message) => {
    expect(errors(source).map((error) => error.replace(/^\d+:\d+: /, ''))).toEqual([message]);
  });

  it('reports deep nesting without exhausting the stack', () => {
    const deepBlocks = 'if true {'.repeat(100_000) + '}'.repeat(100_000);
    expect(errors(deepBlocks)).toEqual(['1:288: cannot nest command blocks deeper than 32 levels']);
    const deepTests = `if ${'not '.repeat(100_000)}true {}`;
    expect(errors(deepTests)).toEqual(['1:128: cannot nest tests deeper than 32 levels']);
  });

  it('refuses more than 32 arguments', () => {
    expect(errors(`keep ${'1 '.repeat(33)};`)).toEqual(["1:70: too many arguments for command 'keep'"]);
  });

  it('refuses a string longer than 1 MiB', () => {
    const long = 'x'.repeat((1 << 20) + 1);
    expect(errors(`set "a" "${long}";`)).toEqual(['1:1048588: quoted string started at line 1 is too long (longer than 1048576 bytes)']);
    expect(errors(`set "a" text:\n${long}\n.\n;`)).toEqual(['4:1: multi-line string started at line 1 is too long (longer than 1048576 bytes)']);
  });
});

describe('speed', () => {
  const rule = (index: number): string =>
    `if anyof (header :contains "subject" ["offer ${index}", "deal"], address :is "from" "x${index}@example.com") {\n  fileinto "Folder${index}";\n  stop;\n}\n`;
  // joined, so that the source is one flat string, as read from a file
  const script = ['require ["fileinto"];\n', ...Array.from({ length: 200 }, (_, index) => rule(index))].join('');

  /** CPU time of one run of `work`, in ms: the best of a few batches, so that other processes do not count. */
  function cpuMilliseconds(work: () => void, rounds: number, batches = 5): number {
    let best = Infinity;
    for (let batch = 0; batch < batches; batch++) {
      const before = process.cpuUsage();
      for (let round = 0; round < rounds; round++) work();
      const used = process.cpuUsage(before);
      best = Math.min(best, (used.user + used.system) / 1000 / rounds);
    }
    return best;
  }

  it('parses a 200-rule script well under a millisecond once warm', () => {
    for (let round = 0; round < 100; round++) parseSieve(script, 'rules');
    expect(cpuMilliseconds(() => parseSieve(script, 'rules'), 100)).toBeLessThan(1);
  });

  it('parses a 10 MB script in well under the 5 s a delivery may take', () => {
    const big = Array.from({ length: Math.ceil((10 * 1024 * 1024) / script.length) }, () => script.replace('require ["fileinto"];\n', '')).join('');
    let commands = 0;
    const milliseconds = cpuMilliseconds(() => (commands = parseSieve(big, 'big').commands.length), 1, 1);
    expect(commands).toBeGreaterThan(50_000);
    expect(milliseconds).toBeLessThan(3000);
  });
});
