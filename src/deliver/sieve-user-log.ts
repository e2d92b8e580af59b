// The user's Sieve log (sieve_user_log, default ~/.dovecot.sieve.log), where
// Pigeonhole tells the user why their script did not do what they meant:
// compile errors, run-time errors, actions that failed. Each delivery that
// has something to say opens it with a "started log" line, first moving a log
// that reached 10 KiB aside to LOG.0, as Pigeonhole does.
//
// Failure: a log that cannot be written is reported to the delivery log and
// otherwise ignored; it never changes the delivery's outcome.

import { appendFileSync, renameSync, statSync } from 'node:fs';

/** Pigeonhole's size at which the user log is moved to LOG.0 before a delivery writes to it */
const ROTATE_SIZE = 10 * 1024;

export class SieveUserLog {
  private started = false;

  constructor(
    private readonly path: string | undefined,
    private readonly now: Date,
    private readonly logError: (text: string) => void,
  ) {}

  /** appends one line */
  write(line: string): void {
    if (this.path === undefined) return;
    if (!this.started) this.rotate(this.path);
    const opening = this.started ? '' : `sieve: info: started log at ${logTimestamp(this.now)}.\n`;
    try {
      appendFileSync(this.path, `${opening}${line}\n`, { mode: 0o600 });
      this.started = true;
    } catch (error) {
      this.logError(`sieve: failed to write the user log ${this.path}: ${(error as Error).message}`);
    }
  }

  private rotate(path: string): void {
    let size: number;
    try {
      size = statSync(path).size;
    } catch {
      return; // no log yet, or one the append reports
    }
    if (size < ROTATE_SIZE) return;
    try {
      renameSync(path, `${path}.0`);
    } catch (error) {
      this.logError(`sieve: failed to rotate the user log ${path}: ${(error as Error).message}`);
    }
  }

  /** "error: msgid=<id>: fileinto action: failed to store into mailbox ...", one line per failed action */
  failedActions(reasons: readonly string[], messageId: string): void {
    for (const reason of reasons) this.write(`error: msgid=${messageId}: ${reason}.`);
  }
}

/** "2026-11-30 22:30:35 +0000", local time, as Pigeonhole stamps the log. */
function logTimestamp(date: Date): string {
  const offset = -date.getTimezoneOffset();
  const local = new Date(date.getTime() + offset * 60_000);
  const two = (value: number) => String(value).padStart(2, '0');
  const zone = `${offset < 0 ? '-' : '+'}${two(Math.floor(Math.abs(offset) / 60))}${two(Math.abs(offset) % 60)}`;
  return `${local.getUTCFullYear()}-${two(local.getUTCMonth() + 1)}-${two(local.getUTCDate())} ${two(local.getUTCHours())}:${two(local.getUTCMinutes())}:${two(local.getUTCSeconds())} ${zone}`;
}
