// Hands one outgoing message (Sieve redirect, rejection, vacation reply) to
// sendmail_path, as Dovecot 2.3's smtp-submit does when submission_host is
// unset (lib-smtp/smtp-submit.c, lib-program-client). The message is streamed
// to the program's stdin with backpressure, so memory stays bounded whatever
// its size.
//
// What dovecot-lda 2.3.19 does, measured with a recording sendmail:
// - argv: sendmail_path split on single spaces (two spaces give an empty
//   argument, a tab is no separator), then `-i -f SENDER -- RCPT...`, with
//   SENDER `<>` for the null sender and each address as SMTP writes it
//   (`"a b"@example.org`). The program is looked up in PATH like execvp.
// - The program's stderr goes to dovecot-lda's stderr; the exit status alone
//   decides. Every failure is temporary for Dovecot: any non-zero exit (1, 64,
//   67, 75, 77, 78 all tried: "Sendmail program returned error"), a program
//   that cannot be started (its child exits 75), one that dies by a signal or
//   closes stdin early and exits 0 (EPIPE: "Failed to execute sendmail").
//   So every SendmailError here is `temporary: true`.
// - Timeout: submission_timeout, 30 s, then SIGTERM, and SIGKILL 5 s later
//   ("Forcibly terminated with signal 15/9"). Dovecot writes the message to a
//   temp file first, so its 30 s count from the start; here the clock restarts
//   whenever the program accepts more of the message, so a slow 100 MB stream
//   is not cut off while it is moving.
//
// Failure: sendMail() rejects with a SendmailError whose message says what
// happened, with the first line the program printed (bounded) when it failed.
// node:child_process is loaded on first use, not by every delivery.

import type { ChildProcess } from 'node:child_process';
import type { Writable } from 'node:stream';
import { sanitizeForLog } from '../log/sanitize.js';

/** Dovecot's submission_timeout default */
export const SENDMAIL_TIMEOUT_MS = 30_000;
/** after SIGTERM, how long the program may take before SIGKILL (Dovecot: 5 s) */
const KILL_GRACE_MS = 5_000;
/** after the program exits, how long its output pipes may stay open (a daemon it started may hold them) */
const PIPE_CLOSE_GRACE_MS = 1_000;
/** how much of the program's output is kept for the error message */
const OUTPUT_LIMIT = 4096;
const REASON_LENGTH = 200;

export interface SendmailRequest {
  /** sendmail_path: the program and its own arguments, separated by single spaces */
  sendmailPath: string;
  /** the envelope sender as SMTP writes it; "" = the null sender <> */
  sender: string;
  /** the envelope recipients as SMTP writes them (at least one) */
  recipients: string[];
  message: AsyncIterable<Buffer> | Buffer;
  /** idle time before the program is killed; default SENDMAIL_TIMEOUT_MS */
  timeoutMs?: number;
}

export class SendmailError extends Error {
  constructor(
    message: string,
    /** true: may work later (Dovecot treats every sendmail failure so) */
    readonly temporary: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SendmailError';
  }
}

/** The program and its arguments, in Dovecot's order. */
export function sendmailCommand(sendmailPath: string, sender: string, recipients: readonly string[]): { file: string; args: string[] } {
  const [file = '', ...options] = sendmailPath.split(' ');
  return { file, args: [...options, '-i', '-f', sender === '' ? '<>' : sender, '--', ...recipients] };
}

export async function sendMail(request: SendmailRequest): Promise<void> {
  if (request.recipients.length === 0) throw new SendmailError('No recipients to send to', true);
  const { file, args } = sendmailCommand(request.sendmailPath, request.sender, request.recipients);
  let child: ChildProcess;
  try {
    child = process.getBuiltinModule('node:child_process').spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (error) {
    throw new SendmailError(`Failed to execute sendmail: ${errorText(error)}`, true, { cause: error });
  }
  const run = new SendmailRun(child, request.timeoutMs ?? SENDMAIL_TIMEOUT_MS);
  let readError: unknown;
  try {
    await run.feed(request.message);
  } catch (error) {
    // the message could not be read: the program must not send what it got so far
    readError = error;
    run.kill();
  }
  const end = await run.finished;
  if (readError !== undefined) {
    throw new SendmailError(`Failed to read the message to send: ${errorText(readError)}`, true, { cause: readError });
  }
  const failure = describeFailure(end, run.output(), run.timeoutMs);
  if (failure !== undefined) throw new SendmailError(failure, true, { cause: end.spawnError ?? end.writeError });
}

interface RunEnd {
  code: number | null;
  signal: NodeJS.Signals | null;
  spawnError?: Error;
  writeError?: Error;
  timedOut: boolean;
}

/** One running sendmail: its stdin fed, its output kept (bounded), its clock. */
class SendmailRun {
  readonly finished: Promise<RunEnd>;
  private readonly stdout: Buffer[] = [];
  private readonly stderr: Buffer[] = [];
  private outputBytes = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  private killTimer: NodeJS.Timeout | undefined;
  private timedOut = false;
  private exited = false;
  private spawnError: Error | undefined;
  private writeError: Error | undefined;

  constructor(
    private readonly child: ChildProcess,
    readonly timeoutMs: number,
  ) {
    child.stdout!.on('data', (data: Buffer) => this.keep(this.stdout, data));
    child.stderr!.on('data', (data: Buffer) => this.keep(this.stderr, data));
    child.stdin!.on('error', (error: Error) => {
      this.writeError ??= error;
    });
    this.finished = new Promise<RunEnd>((resolve) => {
      const finish = (code: number | null, signal: NodeJS.Signals | null) => {
        this.exited = true;
        clearTimeout(this.idleTimer);
        clearTimeout(this.killTimer);
        resolve({ code, signal, spawnError: this.spawnError, writeError: this.writeError, timedOut: this.timedOut });
      };
      child.on('error', (error: Error) => {
        // a program that could not be started emits no exit of its own
        if (child.pid === undefined) {
          this.spawnError = error;
          finish(null, null);
        }
      });
      child.on('exit', () => {
        // normally 'close' follows at once; a grandchild holding the pipes must not hold us
        setTimeout(() => {
          child.stdout!.destroy();
          child.stderr!.destroy();
        }, PIPE_CLOSE_GRACE_MS).unref();
      });
      child.on('close', finish);
    });
    this.restartClock();
  }

  /** Writes the message, waiting for the program to take each chunk; ends stdin. Throws only when reading the message fails. */
  async feed(message: AsyncIterable<Buffer> | Buffer): Promise<void> {
    const stdin = this.child.stdin!;
    const chunks = Buffer.isBuffer(message) ? [message] : message;
    for await (const chunk of chunks) {
      if (this.stopped(stdin)) break;
      if (!stdin.write(chunk)) await drained(stdin);
      this.restartClock();
    }
    if (!this.stopped(stdin)) stdin.end();
  }

  kill(): void {
    if (this.exited) return;
    this.child.kill('SIGTERM');
    this.killTimer ??= setTimeout(() => this.child.kill('SIGKILL'), KILL_GRACE_MS);
  }

  /** The first line of what the program printed (stderr first), for the error message. */
  output(): string {
    for (const stream of [this.stderr, this.stdout]) {
      const line = Buffer.concat(stream)
        .toString('utf8')
        .split('\n')
        .map((text) => text.trim())
        .find((text) => text !== '');
      if (line !== undefined) return sanitizeForLog(line, REASON_LENGTH);
    }
    return '';
  }

  private stopped(stdin: Writable): boolean {
    return this.exited || this.timedOut || this.writeError !== undefined || stdin.destroyed;
  }

  private keep(stream: Buffer[], data: Buffer): void {
    this.restartClock();
    if (this.outputBytes >= OUTPUT_LIMIT) return;
    const kept = data.subarray(0, OUTPUT_LIMIT - this.outputBytes);
    stream.push(kept);
    this.outputBytes += kept.length;
  }

  private restartClock(): void {
    if (this.exited || this.timedOut) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      this.timedOut = true;
      this.kill();
    }, this.timeoutMs);
  }
}

/** Resolves when the stream wants more, or can take no more (closed, failed). */
function drained(stream: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      stream.off('error', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
    stream.on('error', done);
  });
}

/** undefined when the program took the whole message and exited 0. */
function describeFailure(end: RunEnd, output: string, timeoutMs: number): string | undefined {
  const said = output === '' ? '' : `: ${output}`;
  if (end.spawnError !== undefined) return `Failed to execute sendmail: ${errorText(end.spawnError)}`;
  if (end.timedOut) return `Failed to execute sendmail: timed out after ${timeoutMs} ms, killed by ${end.signal ?? 'SIGTERM'}${said}`;
  if (end.signal !== null) return `Failed to execute sendmail: terminated by ${end.signal}${said}`;
  if (end.code !== 0) return `Sendmail program returned error (exit code ${end.code})${said}`;
  if (end.writeError !== undefined) return `Failed to execute sendmail: write(program stdin) failed: ${errorText(end.writeError)}${said}`;
  return undefined;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
