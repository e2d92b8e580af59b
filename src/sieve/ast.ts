// The parse tree of a Sieve script (RFC 5228 section 8 grammar), produced by
// ./parser.ts and checked by ./validator.ts. Identifiers and tags are stored
// lower-cased (Sieve is case-insensitive there); strings are stored exactly
// as written (no encoded-character or variable processing yet, escapes of
// quoted strings and dot-stuffing of multi-line strings already undone).

/** 1-based line and column of a token's first character. */
export interface SourcePosition {
  line: number;
  column: number;
}

export type SieveArgument =
  /** a quoted or multi-line string */
  | { type: 'string'; value: string; position: SourcePosition }
  /** `[ "a", "b" ]` */
  | { type: 'string-list'; values: string[]; position: SourcePosition }
  /** a number with its K/M/G quantifier applied */
  | { type: 'number'; value: number; position: SourcePosition }
  /** `:name`, stored without the colon, lower-cased */
  | { type: 'tag'; name: string; position: SourcePosition };

export interface SieveTest {
  /** lower-cased identifier */
  name: string;
  arguments: SieveArgument[];
  /** the nested test, or the members of a test-list */
  tests: SieveTest[];
  /** true when the tests were written as a parenthesised test-list */
  testList: boolean;
  position: SourcePosition;
}

export interface SieveCommand {
  /** lower-cased identifier */
  name: string;
  arguments: SieveArgument[];
  /** the test, or the members of a test-list (if/elsif take one test) */
  tests: SieveTest[];
  testList: boolean;
  /** the `{ ... }` block, if the command has one */
  block?: SieveCommand[];
  position: SourcePosition;
}

export interface SieveTree {
  commands: SieveCommand[];
}
