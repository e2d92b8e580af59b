// The Sieve interpreter: a compiled script, a view of the message and the
// envelope in; the actions Pigeonhole 0.5 (as dovecot-lda runs it) would
// perform out. Synchronous and pure: the only outside calls are the host's
// mailboxExists and duplicateSeen; it sends, stores and records nothing.
// Throws SieveRuntimeError (message as Pigeonhole words it, line when
// Pigeonhole gives one); the host then keeps the message in INBOX.
//
// What the host does with the result (src/deliver/sieve-delivery.ts):
// execute `actions` in order (an explicit keep comes last: dovecot-lda
// defers it); then, when `implicitKeep` is true, store into the default
// mailbox with `implicitKeepFlags`. A store into a mailbox the message
// already went to is skipped (isSameMailbox), as Pigeonhole skips a keep
// equal to an executed store: after `fileinto :flags "\\Seen" "INBOX"; keep;`
// or `fileinto :copy "INBOX";` the message is in INBOX once, with the
// fileinto's flags.
//
// The pieces: interpreter/commands.ts (commands and actions),
// interpreter/tests.ts (tests), interpreter/result.ts (merging, conflicts,
// limits), interpreter/flags.ts (imap4flags lists), interpreter/context.ts
// (run and script state, variables, CPU budget).

import type { SieveResult, SieveRunInput } from './run-types.js';
import { executeBlock } from './interpreter/commands.js';
import { RunContext, ScriptFrame } from './interpreter/context.js';
import { storeFlags } from './interpreter/flags.js';

export { isSameMailbox } from './interpreter/result.js';

export function runSieve(input: SieveRunInput): SieveResult {
  const run = new RunContext(input);
  executeBlock(new ScriptFrame(run, input.script), input.script.commands);
  const { actions, implicitKeep } = run.actions.finish();
  return {
    actions,
    implicitKeep,
    implicitKeepFlags: run.usesImapFlags ? storeFlags(run.internalFlags) : undefined,
    duplicateIds: run.duplicateIds,
    stopped: run.stopped,
  };
}
