// Where Dovetail's log lines go, as dovecot-lda's log_path / info_log_path:
// a file (opened before delivery, so an unwritable log defers the message
// before anything is stored, as in Dovecot), "/dev/stderr", or syslog
// (facility mail) through logger(1), since Node has no syslog(3). Lines look
// like Dovecot's: "Nov 23 09:35:56 lda(user)<pid><session>: Info: text".

import { openSync, writeSync, closeSync, constants } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { temporary } from '../deliver/failure.js';
import { MONTHS } from '../message/dates.js';

export type LogLevel = 'Info' | 'Warning' | 'Error';

export interface Log {
  /** sets who the lines are about, once the user is known: "lda(user)<pid><session>: " */
  setPrefix(prefix: string): void;
  write(level: LogLevel, text: string): void;
  /** the same log with its own prefix (a server's lines about one recipient); closing it closes nothing */
  withPrefix(prefix: string): Log;
  /** flushes and releases; never throws */
  close(): Promise<void>;
}

export interface LogPaths {
  log_path: string;
  info_log_path: string;
}

/** Dovecot's default log_timestamp "%b %d %H:%M:%S ", local time. */
export function formatLogTimestamp(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${MONTHS[date.getMonth()]} ${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())} `;
}

interface Sink {
  write(level: LogLevel, line: string): void;
  close(): Promise<void>;
}

class FileSink implements Sink {
  private fd: number | undefined;
  constructor(private readonly path: string) {
    try {
      this.fd = openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o600);
    } catch (error) {
      throw temporary(`Can't open log file ${path}: ${(error as Error).message}`);
    }
  }
  write(_level: LogLevel, line: string): void {
    if (this.fd === undefined) return;
    try {
      writeSync(this.fd, `${formatLogTimestamp(new Date())}${line}\n`);
    } catch (error) {
      throw temporary(`Failed to write to log file ${this.path}: ${(error as Error).message}`);
    }
  }
  async close(): Promise<void> {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

class StderrSink implements Sink {
  write(_level: LogLevel, line: string): void {
    process.stderr.write(`${line}\n`);
  }
  async close(): Promise<void> {}
}

/** syslog facility mail (2): priority = 2*8 + severity. */
const SYSLOG_PRIORITY: Record<LogLevel, number> = { Info: 16 + 6, Warning: 16 + 4, Error: 16 + 3 };

/** One logger(1) process, started at the first line, fed one line per message. */
class SyslogSink implements Sink {
  private child: ChildProcess | undefined;
  write(level: LogLevel, line: string): void {
    if (this.child === undefined) {
      // node:child_process is loaded here, by the first syslog line, not by every delivery
      this.child = process.getBuiltinModule('node:child_process').spawn('logger', ['--prio-prefix', '-t', 'dovetail'], { stdio: ['pipe', 'ignore', 'ignore'] });
      this.child.on('error', () => {}); // no logger(1): syslog is best effort, as syslog(3) is
      this.child.stdin!.on('error', () => {});
    }
    this.child.stdin!.write(`<${SYSLOG_PRIORITY[level]}>${line}\n`);
  }
  async close(): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    this.child = undefined;
    await new Promise<void>((resolve) => child.stdin!.end(resolve));
    child.unref();
  }
}

function openSink(path: string): Sink {
  if (path === 'syslog') return new SyslogSink();
  if (path === '/dev/stderr' || path === '') return new StderrSink();
  return new FileSink(path);
}

/** Opens log_path (and info_log_path when set). Throws DeliveryFailure('temporary') when a file cannot be opened. */
export function openLog(paths: LogPaths, initialPrefix: string): Log {
  const main = openSink(paths.log_path);
  const info = paths.info_log_path !== '' && paths.info_log_path !== paths.log_path ? openSink(paths.info_log_path) : main;
  return logOver(main, info, initialPrefix, async () => {
    await Promise.allSettled([main.close(), info === main ? undefined : info.close()]);
  });
}

function logOver(main: Sink, info: Sink, initialPrefix: string, close: () => Promise<void>): Log {
  let prefix = initialPrefix;
  return {
    setPrefix(next) {
      prefix = next;
    },
    write(level, text) {
      (level === 'Info' ? info : main).write(level, `${prefix}${level}: ${text}`);
    },
    withPrefix: (other) => logOver(main, info, other, async () => {}),
    close,
  };
}
