// Entry point of the bundle: picks the command and turns its result into the
// process exit status. This is the only place that ends the process. Any
// error nobody expected, and any catchable fatal signal, ends in 75
// (EX_TEMPFAIL) so that Postfix defers instead of bouncing.

import { runLda } from './lda.js';
import { EX_OK, EX_TEMPFAIL } from '../deliver/outcomes.js';
import { LDA_USAGE } from './lda-args.js';
import { temporary } from '../deliver/failure.js';

const VERSION = '0.1.0';

function writeErrorLine(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** How long a delivery killed by a signal may take to roll back before we exit anyway. */
const ROLLBACK_GRACE_MS = 5000;

function installLastResortHandlers(abort: AbortController): void {
  const fail = (error: unknown) => {
    writeErrorLine(`Internal error: ${(error as Error)?.message ?? String(error)}`);
    process.exit(EX_TEMPFAIL);
  };
  process.on('uncaughtException', fail);
  process.on('unhandledRejection', fail);
  // A file-size limit (Postfix's mailbox_size_limit is `ulimit -f`) must make
  // write() fail with EFBIG, not kill us; storage rolls back and we defer.
  process.on('SIGXFSZ', () => {});
  // A delivery being killed first rolls back what it wrote (an mbox is
  // truncated, a Maildir tmp/ file removed), then runLda returns 75; if that
  // takes too long, or a second signal comes, we go at once.
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.on(signal, () => {
      const reason = `Killed with signal ${signal}`;
      const exitNow = () => {
        writeErrorLine(reason);
        process.exit(EX_TEMPFAIL);
      };
      if (abort.signal.aborted) exitNow();
      abort.abort(temporary(reason));
      setTimeout(exitNow, ROLLBACK_GRACE_MS);
    });
  }
}

export function main(argv: readonly string[] = process.argv.slice(2)): void {
  const abort = new AbortController();
  installLastResortHandlers(abort);
  if (argv.length === 1 && argv[0] === '--help') {
    process.stdout.write(`Usage: ${LDA_USAGE}\n`);
    process.exitCode = EX_OK;
    return;
  }
  if (argv[0] === '--check') {
    // loaded only here: the set-up doctor stays out of a delivery's start-up
    const write = (line: string) => process.stdout.write(`${line}\n`);
    void import('./check.js').then((check) => check.runCheck({ argv: argv.slice(1), env: process.env, writeLine: write })).then((status) => process.exit(status));
    return;
  }
  if (argv[0] === 'sievec' || argv[0] === 'sieve-test') {
    // the Sieve tools, loaded only here
    const io = { argv: argv.slice(1), writeOut: (text: string) => process.stdout.write(text), writeError: writeErrorLine };
    const command = argv[0];
    void import('./sieve-tools.js')
      .then((tools) => (command === 'sievec' ? tools.runSievec(io) : tools.runSieveTest(io)))
      .then((status) => process.exit(status));
    return;
  }
  if (argv[0] === 'lmtp') {
    // the LMTP server, loaded only here; it handles its own signals and ends the process itself
    void import('./lmtp.js')
      .then((lmtp) => lmtp.runLmtp({ argv: argv.slice(1), env: process.env, writeError: writeErrorLine }))
      .then((status) => process.exit(status));
    return;
  }
  if (argv[0] === 'lmtp-worker') {
    // one recipient's delivery for the LMTP server, in a process started as root that becomes the user
    void import('../lmtp/worker.js')
      .then((worker) => worker.runLmtpWorker({ argv: argv.slice(1), env: process.env }))
      .then((status) => process.exit(status));
    return;
  }
  if (argv[0] === 'quota') {
    // `dovetail quota get|recalc -u USER`, loaded only here
    void import('./quota-tools.js')
      .then((tools) =>
        tools.runQuotaTool({
          argv: argv.slice(1),
          env: process.env,
          writeOut: (text: string) => process.stdout.write(text),
          writeError: writeErrorLine,
          columns: process.stdout.isTTY ? process.stdout.columns : undefined,
        }),
      )
      .then((status) => process.exit(status));
    return;
  }
  if (argv.length === 1 && argv[0] === '--version') {
    process.stdout.write(`dovetail ${VERSION}\n`);
    process.exitCode = EX_OK;
    return;
  }
  runLda({ argv, env: process.env, stdin: process.stdin, writeError: writeErrorLine, signal: abort.signal }).then(
    (status) => process.exit(status),
    (error: unknown) => {
      writeErrorLine(`Internal error: ${(error as Error)?.message ?? String(error)}`);
      process.exit(EX_TEMPFAIL);
    },
  );
}
