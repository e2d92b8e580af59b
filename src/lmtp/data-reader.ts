// What an LMTP client sends, read from its socket one step at a time: a
// command line, a DATA body up to its "." line, or a BDAT chunk of a given
// size. Bytes past the step stay buffered for the next one, so message bytes
// are never taken for commands nor commands for message bytes. Nothing is
// read from the socket until a step needs it, so a slow reader (the
// backend) slows the client through TCP, and memory stays bounded whatever
// the message size: one socket read, one long-line limit, one stream buffer.
//
// Failures are values: a client that goes away yields 'closed'; an idle one
// gets the idle callback (the connection answers it with stop(), so the step
// ends 'closed' too); nothing here throws.

import { Readable } from 'node:stream';
import type { Socket } from 'node:net';

export type LineRead = { kind: 'line'; line: Buffer } | { kind: 'too-long' } | { kind: 'closed' } | { kind: 'interrupted' };

/** A step's end: its bytes are all read, or the client is gone. */
export type TransferEnd = 'done' | 'closed';

const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;
const CR_BYTE = Buffer.from([CR]);

export interface ClientInputOptions {
  /** no byte from the client for this long while one is awaited → onIdle(); 0 = no limit */
  idleTimeoutMs: number;
  onIdle: () => void;
  /** runs before waiting for the client (the connection writes its pending replies there) */
  beforeWait: () => Promise<void>;
}

export class ClientInput {
  /** bytes read from the socket that the last step did not use */
  private unused: Buffer | undefined;
  private interrupted = false;
  private stopped = false;
  /** the socket had news (data, end, close) or interrupt() was called since the last read */
  private signalled = false;
  private wake: (() => void) | undefined;
  private readonly onNews = () => this.notify();

  constructor(
    private readonly socket: Socket,
    private readonly options: ClientInputOptions,
  ) {
    socket.on('readable', this.onNews);
    socket.on('end', this.onNews);
    socket.on('close', this.onNews);
  }

  /**
   * From now on every step ends 'closed' (the session is over). What the
   * client still sends is read and dropped, so that its end is seen and the
   * socket can close.
   */
  stop(): void {
    this.stopped = true;
    this.notify();
    this.socket.off('readable', this.onNews);
    this.socket.resume();
  }

  /** Ends the readLine() in progress (or the next one) with 'interrupted', once. */
  interrupt(): void {
    this.interrupted = true;
    this.notify();
  }

  private notify(): void {
    this.signalled = true;
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /**
   * The next line, without its LF and a CR before it. A line longer than
   * `maxLength` bytes is read to its end and dropped ('too-long'); at most
   * maxLength + 1 bytes of it are held meanwhile.
   */
  async readLine(maxLength: number): Promise<LineRead> {
    const parts: Buffer[] = [];
    let held = 0;
    let tooLong = false;
    for (;;) {
      const chunk = await this.next(true);
      if (chunk === 'closed' || chunk === 'interrupted') return { kind: chunk };
      const lf = chunk.indexOf(LF);
      if (lf < 0) {
        held += chunk.length;
        if (held > maxLength + 1) tooLong = true;
        if (tooLong) parts.length = 0;
        else parts.push(chunk);
        continue;
      }
      this.giveBack(chunk.subarray(lf + 1));
      if (tooLong) return { kind: 'too-long' };
      parts.push(chunk.subarray(0, lf));
      let line = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
      if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
      return line.length > maxLength ? { kind: 'too-long' } : { kind: 'line', line };
    }
  }

  /** A DATA body up to and without its "." line, dot-unstuffed, handed to `sink` piece by piece (awaited). */
  async readDotBody(sink: (data: Buffer) => Promise<void>): Promise<TransferEnd> {
    const decoder = new DotDecoder();
    for (;;) {
      const chunk = await this.next(false);
      if (chunk === 'closed' || chunk === 'interrupted') return 'closed';
      const { data, rest } = decoder.decode(chunk);
      for (const piece of data) await sink(piece);
      if (rest !== undefined) {
        this.giveBack(rest);
        return 'done';
      }
    }
  }

  /** Exactly `size` bytes (a BDAT chunk), handed to `sink` piece by piece (awaited). */
  async readChunk(size: number, sink: (data: Buffer) => Promise<void>): Promise<TransferEnd> {
    let left = size;
    while (left > 0) {
      const chunk = await this.next(false);
      if (chunk === 'closed' || chunk === 'interrupted') return 'closed';
      if (chunk.length > left) {
        this.giveBack(chunk.subarray(left));
        await sink(chunk.subarray(0, left));
        return 'done';
      }
      left -= chunk.length;
      await sink(chunk);
    }
    return 'done';
  }

  private takeInterrupt(): boolean {
    const interrupted = this.interrupted;
    this.interrupted = false;
    return interrupted;
  }

  private giveBack(rest: Buffer): void {
    if (rest.length > 0) this.unused = rest;
  }

  /** The next bytes: unused ones first, else from the socket, waiting (idle timer running) when there are none. */
  private async next(interruptible: boolean): Promise<Buffer | 'closed' | 'interrupted'> {
    if (this.stopped) return 'closed';
    if (interruptible && this.takeInterrupt()) return 'interrupted';
    if (this.unused !== undefined) {
      const unused = this.unused;
      this.unused = undefined;
      return unused;
    }
    for (;;) {
      if (this.stopped) return 'closed';
      if (interruptible && this.takeInterrupt()) return 'interrupted';
      this.signalled = false;
      const chunk = this.socket.read() as Buffer | null;
      if (chunk !== null) return chunk;
      if (this.socket.destroyed || this.socket.readableEnded) return 'closed';
      await this.options.beforeWait();
      await this.waitForClient();
    }
  }

  /** Until the socket has news (at once if it had some since the last read), with the idle timer running. */
  private waitForClient(): Promise<void> {
    if (this.signalled) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const { idleTimeoutMs, onIdle } = this.options;
      const timer = idleTimeoutMs > 0 ? setTimeout(onIdle, idleTimeoutMs) : undefined;
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

/**
 * Undoes dot-stuffing (RFC 5321 4.5.2) as Dovecot's istream-dot does: lines
 * end at LF (a CR before it is kept, as every line ending is); a "." that
 * starts a line is dropped; a line of "." alone (LF or CRLF) ends the body,
 * and the line ending before it belongs to the body. Deliberately unlike
 * Dovecot, ".<CR>x" at a line start gives "<CR>x" (Dovecot loses the x).
 */
export class DotDecoder {
  private state: 'text' | 'line-start' | 'dot' | 'dot-cr' = 'line-start';

  /** The body bytes in `chunk` (slices of it), and the bytes after the "." line once it has been seen. */
  decode(chunk: Buffer): { data: Buffer[]; rest?: Buffer } {
    const data: Buffer[] = [];
    let start = 0; // first byte of the body run not yet handed out
    let pos = 0;
    while (pos < chunk.length) {
      switch (this.state) {
        case 'text': {
          const lf = chunk.indexOf(LF, pos);
          pos = lf < 0 ? chunk.length : lf + 1;
          if (lf >= 0) this.state = 'line-start';
          break;
        }
        case 'line-start':
          if (chunk[pos] === DOT) {
            if (pos > start) data.push(chunk.subarray(start, pos));
            pos++;
            start = pos;
            this.state = 'dot';
          } else {
            this.state = 'text';
          }
          break;
        case 'dot':
          if (chunk[pos] === LF) return { data, rest: chunk.subarray(pos + 1) };
          if (chunk[pos] === CR) {
            pos++;
            start = pos; // held back until we know whether LF follows
            this.state = 'dot-cr';
          } else {
            this.state = 'text';
          }
          break;
        case 'dot-cr':
          if (chunk[pos] === LF) return { data, rest: chunk.subarray(pos + 1) };
          data.push(CR_BYTE);
          this.state = 'text';
          break;
      }
    }
    if (pos > start) data.push(chunk.subarray(start, pos));
    return { data };
  }
}

/**
 * The message as the backend reads it: bytes are pushed as they arrive and
 * write() waits while the reader's buffer is full. fail() destroys it with
 * an error (the reader sees the error, never a clean end); once the reader
 * has gone away (destroyed it, or stopped: abandon()), writes are dropped.
 */
export class BodyStream {
  readonly readable: Readable;
  private abandoned = false;
  private wanted: (() => void) | undefined;

  constructor() {
    this.readable = new Readable({
      read: () => this.resume(),
      destroy: (error, callback) => {
        this.resume();
        callback(error);
      },
    });
  }

  async write(data: Buffer): Promise<void> {
    if (this.abandoned || this.readable.destroyed) return;
    if (this.readable.push(data)) return;
    if (this.readable.readableLength < this.readable.readableHighWaterMark) return;
    await new Promise<void>((resolve) => (this.wanted = resolve));
  }

  end(): void {
    if (!this.abandoned && !this.readable.destroyed) this.readable.push(null);
  }

  fail(error: Error): void {
    this.readable.destroy(error);
  }

  /** The reader is done (without reading everything): drop what is buffered and what comes. */
  abandon(): void {
    this.abandoned = true;
    this.resume();
  }

  private resume(): void {
    const wanted = this.wanted;
    this.wanted = undefined;
    wanted?.();
  }
}
