// The Sieve parser: RFC 5228 section 8.2 grammar over ./lexer.ts tokens,
// producing the tree of ./ast.ts. Pure.
//
//   commands   = *command
//   command    = identifier arguments (";" / block)
//   block      = "{" commands "}"
//   arguments  = *argument [test / test-list]
//   argument   = string-list / number / tag
//   string-list = "[" string *("," string) "]" / string
//   test-list  = "(" test *("," test) ")"
//   test       = identifier arguments
//
// Limits as Pigeonhole's: blocks nest at most 32 deep (the top level counts),
// tests at most 32 (the command's own argument level counts), at most 32
// arguments per command. Recursion is bounded by those limits, so no input
// can exhaust the stack.
//
// Failure: throws SieveCompileError with every syntax error found, each with
// line and column and Pigeonhole's wording. After an error in a command the
// parser skips to the end of that command (its ";" or block) and goes on, so
// one mistake does not hide the next; an error inside a token (an unclosed
// string, a stray character) ends the parse.

import type { SieveArgument, SieveCommand, SieveTest, SieveTree, SourcePosition } from './ast.js';
import { SieveCompileError, type SieveDiagnostic } from './errors.js';
import { SieveLexer, SieveSyntaxError, type TokenType } from './lexer.js';

const MAX_BLOCK_NESTING = 32;
const MAX_TEST_NESTING = 32;
const MAX_COMMAND_ARGUMENTS = 32;

/** Pigeonhole's names for tokens in messages. */
const TOKEN_DESCRIPTIONS: Record<TokenType, string> = {
  identifier: 'identifier',
  tag: 'tag',
  number: 'number',
  string: 'string',
  '[': "'['",
  ']': "']'",
  '(': "'('",
  ')': "')'",
  '{': "'{'",
  '}': "'}'",
  ';': "';'",
  ',': "','",
  ':': "':'",
  '/': "'/'",
  eof: 'end of file',
};

/** Parses a whole script; throws SieveCompileError listing the syntax errors. */
export function parseSieve(source: string, scriptName: string): SieveTree {
  return new Parser(source, scriptName).parse();
}

/** A syntax error inside a command: the command is abandoned and the parser resynchronises. */
class CommandSyntaxError extends Error {}

class Parser {
  private readonly lexer: SieveLexer;
  private readonly diagnostics: SieveDiagnostic[] = [];
  /** "(" and "[" opened and not yet closed: after an error, a ";" inside them does not end the command */
  private openGroups = 0;

  constructor(
    source: string,
    private readonly scriptName: string,
  ) {
    this.lexer = new SieveLexer(source);
  }

  parse(): SieveTree {
    const lexer = this.lexer;
    let commands: SieveCommand[] = [];
    try {
      lexer.next();
      commands = this.parseCommands(1);
      if (!lexer.is('eof')) this.report(`unexpected ${this.found()} found at (the presumed) end of file`);
    } catch (error) {
      if (!(error instanceof SieveSyntaxError)) throw error;
      this.diagnostics.push({ line: error.line, column: error.column, message: error.message });
    }
    if (this.diagnostics.length > 0) throw new SieveCompileError(this.scriptName, this.diagnostics);
    return { commands };
  }

  private position(): SourcePosition {
    return { line: this.lexer.line, column: this.lexer.column };
  }

  private found(): string {
    return TOKEN_DESCRIPTIONS[this.lexer.type];
  }

  /** Records an error at the current token. */
  private report(message: string): void {
    this.diagnostics.push({ line: this.lexer.line, column: this.lexer.column, message });
  }

  /** Records an error (at the current token by default) and abandons the command being parsed. */
  private fail(message: string, position: SourcePosition = this.position()): never {
    this.diagnostics.push({ ...position, message });
    throw new CommandSyntaxError(message);
  }

  /** Commands up to a "}" or the end of the file (the caller checks which). */
  private parseCommands(depth: number): SieveCommand[] {
    const lexer = this.lexer;
    const commands: SieveCommand[] = [];
    while (lexer.is('identifier')) {
      try {
        commands.push(this.parseCommand(depth));
      } catch (error) {
        if (!(error instanceof CommandSyntaxError)) throw error;
        this.skipRestOfCommand();
      }
    }
    return commands;
  }

  private parseCommand(depth: number): SieveCommand {
    const lexer = this.lexer;
    const command: SieveCommand = { name: lexer.text, arguments: [], tests: [], testList: false, position: this.position() };
    lexer.next();
    this.parseArguments(command, 1);
    if (lexer.is(';')) {
      lexer.next();
      return command;
    }
    if (!lexer.is('{')) {
      this.fail(`expected end of command ';' or the beginning of a compound block '{' after command '${command.name}', but found ${this.found()}`);
    }
    if (depth + 1 > MAX_BLOCK_NESTING) this.fail(`cannot nest command blocks deeper than ${MAX_BLOCK_NESTING} levels`);
    lexer.next();
    command.block = this.parseCommands(depth + 1);
    if (!lexer.is('}')) {
      this.report(`expected end of compound block '}', but found ${this.found()}`);
      this.skipBlock(1);
      return command;
    }
    lexer.next();
    return command;
  }

  /** arguments = *argument [test / test-list], filling `node`. */
  private parseArguments(node: SieveCommand | SieveTest, depth: number): void {
    const lexer = this.lexer;
    for (;;) {
      const argument = this.parseArgument();
      if (argument === undefined) break;
      node.arguments.push(argument);
      if (node.arguments.length > MAX_COMMAND_ARGUMENTS) this.fail(`too many arguments for command '${node.name}'`, argument.position);
    }
    if (lexer.is('identifier')) {
      if (depth + 1 > MAX_TEST_NESTING) this.fail(`cannot nest tests deeper than ${MAX_TEST_NESTING} levels`);
      node.tests.push(this.parseTest(depth + 1));
    } else if (lexer.is('(')) {
      if (depth + 1 > MAX_TEST_NESTING) this.fail(`cannot nest tests deeper than ${MAX_TEST_NESTING} levels`);
      lexer.next();
      this.openGroups++;
      node.testList = true;
      if (!lexer.is('identifier')) this.fail(`expecting test identifier after '(' in test list, but found ${this.found()}`);
      node.tests.push(this.parseTest(depth + 1));
      while (lexer.is(',')) {
        lexer.next();
        if (!lexer.is('identifier')) this.fail(`expecting test identifier after ',' in test list, but found ${this.found()}`);
        node.tests.push(this.parseTest(depth + 1));
      }
      if (!lexer.is(')')) this.fail(`expecting ',' or end of test list ')', but found ${this.found()}`);
      lexer.next();
      this.openGroups--;
    }
  }

  private parseTest(depth: number): SieveTest {
    const lexer = this.lexer;
    const test: SieveTest = { name: lexer.text, arguments: [], tests: [], testList: false, position: this.position() };
    lexer.next();
    this.parseArguments(test, depth);
    return test;
  }

  /** One string, string list, number or tag; undefined when the current token starts none. */
  private parseArgument(): SieveArgument | undefined {
    const lexer = this.lexer;
    const position = this.position();
    switch (lexer.type) {
      case 'string': {
        const value = lexer.text;
        lexer.next();
        return { type: 'string', value, position };
      }
      case 'number': {
        const value = lexer.number;
        lexer.next();
        return { type: 'number', value, position };
      }
      case 'tag': {
        const name = lexer.text;
        lexer.next();
        return { type: 'tag', name, position };
      }
      case '[': {
        lexer.next();
        this.openGroups++;
        if (!lexer.is('string')) this.fail(`expecting string after '[' in string list, but found ${this.found()}`);
        const values = [lexer.text];
        lexer.next();
        while (lexer.is(',')) {
          lexer.next();
          if (!lexer.is('string')) this.fail(`expecting string after ',' in string list, but found ${this.found()}`);
          values.push(lexer.text);
          lexer.next();
        }
        if (!lexer.is(']')) this.fail(`expecting ',' or end of string list ']', but found ${this.found()}`);
        lexer.next();
        this.openGroups--;
        return { type: 'string-list', values, position };
      }
      default:
        return undefined;
    }
  }

  /**
   * After an error inside a command: skips tokens up to and including the
   * command's ";" (or its whole "{...}" block), stopping before a "}" that
   * closes the enclosing block, or at the end of the file.
   */
  private skipRestOfCommand(): void {
    const lexer = this.lexer;
    let nesting = this.openGroups;
    this.openGroups = 0;
    for (;;) {
      switch (lexer.type) {
        case 'eof':
          return;
        case '(':
        case '[':
          nesting++;
          break;
        case ')':
        case ']':
          if (nesting > 0) nesting--;
          break;
        case ';':
          if (nesting === 0) {
            lexer.next();
            return;
          }
          break;
        case '{':
          lexer.next();
          this.skipBlock(1);
          if (nesting === 0) return;
          continue;
        case '}':
          return;
        default:
          break;
      }
      lexer.next();
    }
  }

  /**
   * Skips the rest of a block, `depth` levels deep, through its closing "}"
   * (iteratively: the nesting of what is skipped is not limited).
   */
  private skipBlock(depth: number): void {
    const lexer = this.lexer;
    while (depth > 0 && !lexer.is('eof')) {
      if (lexer.is('{')) depth++;
      else if (lexer.is('}')) depth--;
      lexer.next();
    }
  }
}
