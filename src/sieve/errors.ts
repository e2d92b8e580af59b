// Errors of compiling a Sieve script (parse or validation), each with the
// line and column Pigeonhole-style tools print as `NAME: line L: message`.

export interface SieveDiagnostic {
  line: number;
  column: number;
  message: string;
}

/** A script that cannot run: one or more errors, in source order. */
export class SieveCompileError extends Error {
  constructor(
    /** the script's name, for messages */
    readonly scriptName: string,
    readonly diagnostics: SieveDiagnostic[],
  ) {
    super(diagnostics.map((d) => `${scriptName}: line ${d.line}: ${d.message}`).join('\n'));
    this.name = 'SieveCompileError';
  }
}
