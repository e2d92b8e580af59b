// A raw LMTP/SMTP client for tests: it opens one or more connections, sends
// exactly the bytes a step gives (lines, raw bytes, several commands at once
// for pipelining), waits for the number of complete replies the step expects,
// and returns a transcript of both directions. It never interprets replies,
// so a server that answers too few, too many or out of order shows in the
// transcript instead of hanging the test: a missing reply is recorded as
// "<no reply within N ms>" after the step's wait (shorter once the whole
// conversation has used its time), an early close as "<closed>", and
// replies nobody waited for surface with the next step (or in the short
// grace period after the last one).

import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';

/** One thing the client does: send on a connection, then wait for replies. */
export interface LmtpStep {
  /** which connection (0, 1, ...): opened on first use, its greeting awaited first; default 0 */
  session?: number;
  /** a string or bytes sent as they are, or lines each sent with CRLF after it */
  send: string | Buffer | readonly string[];
  /** complete replies to wait for after sending */
  replies: number;
  /** close the connection after sending (a client going away); no replies are awaited */
  close?: boolean;
}

export interface LmtpTarget {
  host: string;
  port: number;
}

export interface LmtpClientOptions {
  /** how long one step waits for its replies; default 3000 ms */
  replyTimeoutMs?: number;
  /** how long all steps together may wait, so that a server that answers nothing fails fast; default 10000 ms */
  conversationTimeoutMs?: number;
  /** after the last step, how long to wait for more data or the server's close; default 150 ms */
  graceMs?: number;
  /** a sent line longer than this is shown shortened in the transcript; default 200 */
  shownLineLength?: number;
}

/**
 * The transcript lines for bytes sent: one per line, CR LF removed; a line
 * ending in a bare LF gets "<LF>", a line without an end "<no end>", a long
 * line its length and start; other control characters (a lone CR, NUL) are
 * shown as \xNN. PREFIX is "C:" (or "C1:" for connection 1).
 */
export function describeSent(prefix: string, data: Buffer, shownLineLength = 200): string[] {
  const text = data.toString('latin1');
  const lines: string[] = [];
  let start = 0;
  while (start < text.length) {
    const end = text.indexOf('\n', start);
    const raw = end < 0 ? text.slice(start) : text.slice(start, end);
    const crlf = end >= 0 && raw.endsWith('\r');
    const line = crlf ? raw.slice(0, -1) : raw;
    const marker = end < 0 ? '<no end>' : crlf ? '' : '<LF>';
    const shown = line.length > shownLineLength ? `<${line.length} bytes: ${JSON.stringify(line.slice(0, 20))}…>` : escapeControls(line);
    lines.push(`${prefix} ${shown}${marker}`);
    start = end < 0 ? text.length : end + 1;
  }
  return lines;
}

/** Control characters but tab as \xNN. */
function escapeControls(line: string): string {
  return line.replace(/[\u0000-\u0008\u000a-\u001f\u007f]/g, (char) => `\\x${char.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** One connection: its socket, the bytes received and not yet taken as replies, and whether it closed. */
class Connection {
  private buffer = Buffer.alloc(0);
  /** the socket ended (the server closed it, or the client did) */
  closed = false;
  /** the client closed it (a step's `close`): nothing more to report */
  closedByClient = false;
  /** "<closed>" is in the transcript */
  private closeShown = false;
  private wake: (() => void) | undefined;

  constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.wake?.();
    });
    const end = () => {
      this.closed = true;
      this.wake?.();
    };
    socket.on('close', end);
    socket.on('end', end);
    socket.on('error', end);
  }

  /** The next complete reply's lines (without CRLF), or undefined while it is incomplete. */
  private takeReply(): string[] | undefined {
    const lines: string[] = [];
    let offset = 0;
    for (;;) {
      const end = this.buffer.indexOf('\n', offset);
      if (end < 0) return undefined;
      const raw = this.buffer.subarray(offset, end).toString('latin1');
      const line = raw.endsWith('\r') ? escapeControls(raw.slice(0, -1)) : `${escapeControls(raw)}<LF>`;
      lines.push(line);
      offset = end + 1;
      if (!/^\d{3}-/.test(line)) {
        this.buffer = this.buffer.subarray(offset);
        return lines;
      }
    }
  }

  /** Waits for COUNT replies (or the close, or the deadline) and returns the transcript lines. */
  async replies(prefix: string, count: number, timeoutMs: number): Promise<string[]> {
    const shown: string[] = [];
    const deadline = Date.now() + timeoutMs;
    let got = 0;
    while (got < count) {
      const reply = this.takeReply();
      if (reply) {
        shown.push(...reply.map((line) => `${prefix} ${line}`));
        got++;
        continue;
      }
      if (this.closed) {
        shown.push(...this.rest(prefix), ...this.closeLine(prefix));
        return shown;
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        shown.push(...this.rest(prefix), `${prefix} <no reply within ${timeoutMs} ms>`);
        return shown;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
    return shown;
  }

  /** "<closed>", once. */
  private closeLine(prefix: string): string[] {
    if (this.closeShown) return [];
    this.closeShown = true;
    return [`${prefix} <closed>`];
  }

  /** Bytes received that form no complete reply, shown as they are. */
  rest(prefix: string): string[] {
    if (this.buffer.length === 0) return [];
    const text = JSON.stringify(this.buffer.toString('latin1'));
    this.buffer = Buffer.alloc(0);
    return [`${prefix} <incomplete: ${text}>`];
  }

  /** After the last step: whatever else arrives within GRACEMS, and "<closed>" if the server closed. */
  async finish(prefix: string, graceMs: number): Promise<string[]> {
    const shown: string[] = [];
    if (!this.closed) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        this.wake = () => {
          if (!this.closed) return;
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
    for (let reply = this.takeReply(); reply; reply = this.takeReply()) shown.push(...reply.map((line) => `${prefix} ${line}`));
    shown.push(...this.rest(prefix));
    if (this.closed) shown.push(...this.closeLine(prefix));
    this.socket.destroy();
    return shown;
  }
}

function open(target: LmtpTarget): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(target.port, target.host);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/**
 * Runs STEPS against TARGET and returns the transcript: "S: ..." reply lines
 * and "C: ..." sent lines, in the order they happened ("S1:"/"C1:" for
 * connection 1, and so on). Rejects only when a connection cannot be opened.
 */
export async function lmtpConversation(target: LmtpTarget, steps: readonly LmtpStep[], options: LmtpClientOptions = {}): Promise<string[]> {
  const { replyTimeoutMs = 3000, conversationTimeoutMs = 10_000, graceMs = 150, shownLineLength = 200 } = options;
  const deadline = Date.now() + conversationTimeoutMs;
  const wait = () => Math.max(0, Math.min(replyTimeoutMs, deadline - Date.now()));
  const connections = new Map<number, Connection>();
  const transcript: string[] = [];
  const tag = (session: number) => (session === 0 ? '' : String(session));
  try {
    for (const step of steps) {
      const session = step.session ?? 0;
      let connection = connections.get(session);
      if (connection === undefined) {
        connection = new Connection(await open(target));
        connections.set(session, connection);
        transcript.push(...(await connection.replies(`S${tag(session)}:`, 1, wait())));
      }
      const data = typeof step.send === 'string' ? Buffer.from(step.send, 'latin1') : Buffer.isBuffer(step.send) ? step.send : Buffer.from(step.send.map((line) => `${line}\r\n`).join(''), 'latin1');
      if (connection.closed) {
        transcript.push(`C${tag(session)}: <not sent, connection closed: ${data.length} bytes>`);
        continue;
      }
      transcript.push(...describeSent(`C${tag(session)}:`, data, shownLineLength));
      connection.socket.write(data);
      if (step.close) {
        connection.socket.end();
        await new Promise<void>((resolve) => connection.socket.once('finish', resolve));
        connection.socket.destroy();
        connection.closed = true;
        connection.closedByClient = true;
        continue;
      }
      transcript.push(...(await connection.replies(`S${tag(session)}:`, step.replies, wait())));
    }
    for (const [session, connection] of connections) {
      if (!connection.closedByClient) transcript.push(...(await connection.finish(`S${tag(session)}:`, graceMs)));
    }
  } finally {
    for (const connection of connections.values()) connection.socket.destroy();
  }
  return transcript;
}

const WAIT_MS = 5000;

/** Polls `done` every 20 ms; rejects, naming `what`, after 5 s. */
export async function until(done: () => boolean, what: string): Promise<void> {
  for (const deadline = Date.now() + WAIT_MS; !done(); await new Promise((wake) => setTimeout(wake, 20))) {
    if (Date.now() > deadline) throw new Error(`waited ${WAIT_MS} ms for ${what} in vain`);
  }
}

/** Whether something listens on 127.0.0.1:PORT (Linux /proc/net/tcp; no connection is made). */
export function listening(port: number): boolean {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .some((line) => {
      const fields = line.trim().split(/\s+/);
      return fields[1] === local && fields[3] === '0A';
    });
}
