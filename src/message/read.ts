// Reads the message to deliver, once, from stdin (or another stream) or from
// a file (-p), the way dovecot-lda does: on stdin a leading "From " line is
// dropped and parsed for the sender and date; line ends are stored as LF;
// size and vsize are counted; the header block is kept for lookups; the
// bytes wait in memory up to a limit and in an unlinked temp file beyond it.
// Any failure (input unreadable, temp file not creatable or writable) is a
// temporary DeliveryFailure and leaves nothing behind.

import { createReadStream } from 'node:fs';
import { addAbortSignal, type Readable } from 'node:stream';
import { DeliveryFailure, temporary } from '../deliver/failure.js';
import { parseFromLine } from './from-line.js';
import { LineEndingConverter } from './line-endings.js';
import { MessageSpool, SPOOL_CHUNK_SIZE } from './spool.js';
import type { MessageSource } from './types.js';

/** as Dovecot's MAIL_MAX_MEMORY_BUFFER */
export const DEFAULT_MEMORY_LIMIT = 128 * 1024;
const HEADER_LIMIT = 256 * 1024;
/** a From_ line longer than this is dropped without being parsed (Dovecot's input buffer is 4 KiB) */
const FROM_LINE_LIMIT = 4096;
const FROM_PREFIX = Buffer.from('From ');
const LF = 0x0a;

export interface ReadMessageOptions {
  /** the input is stdin: a leading From_ line is dropped and parsed (never for a path) */
  fromStdin: boolean;
  /** where a message too big for memory is spooled (mail_temp_dir) */
  tempDir: string;
  /** bytes kept in memory before spooling to a temp file; default 128 KiB */
  memoryLimit?: number;
  /** aborted when the delivery is being killed: stop reading, fail with its reason */
  signal?: AbortSignal;
}

export async function readMessage(
  input: NodeJS.ReadableStream | { path: string },
  options: ReadMessageOptions,
): Promise<MessageSource> {
  const isPath = 'path' in input;
  const inputName = isPath ? input.path : 'stdin';
  const spool = new MessageSpool(options.memoryLimit ?? DEFAULT_MEMORY_LIMIT, options.tempDir);
  const fromLine = options.fromStdin && !isPath ? new FromLineStripper() : undefined;
  const converter = new LineEndingConverter();
  const header = new HeaderCollector();
  try {
    const stream = isPath ? createReadStream(input.path, { highWaterMark: SPOOL_CHUNK_SIZE }) : input;
    if (options.signal) addAbortSignal(options.signal, stream as Readable);
    for await (const chunk of stream) {
      const data = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
      const stored = converter.push(fromLine ? fromLine.push(data) : data);
      header.push(stored);
      await spool.append(stored);
    }
    const leftover = fromLine?.end();
    if (leftover) {
      const stored = converter.push(leftover);
      header.push(stored);
      await spool.append(stored);
    }
    converter.end();
    spool.finish();
  } catch (error) {
    await spool.close();
    if (options.signal?.aborted) throw options.signal.reason;
    if (error instanceof DeliveryFailure) throw error;
    throw temporary(`Can't read the message from ${inputName}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const parsedFromLine = fromLine?.parsed();
  return {
    size: converter.size,
    vsize: converter.vsize,
    header: header.bytes(),
    ...(parsedFromLine && { fromLineSender: parsedFromLine.sender, receivedDate: parsedFromLine.date }),
    chunks: () => spool.chunks(),
    close: () => spool.close(),
  };
}

/**
 * Drops a leading From_ line: looks at the first 5 bytes, and when they are
 * "From " swallows everything up to and including the first LF (all of the
 * input if there is none), keeping the line (if short enough) to parse.
 */
class FromLineStripper {
  private state: 'detect' | 'skip' | 'pass' = 'detect';
  private pending = Buffer.alloc(0);
  private line: Buffer[] = [];
  private lineBytes = 0;
  private completeLine: string | undefined;

  /** Returns the part of `data` that belongs to the message. */
  push(data: Buffer): Buffer {
    if (this.state === 'pass') return data;
    if (this.state === 'detect') {
      this.pending = Buffer.concat([this.pending, data]);
      if (this.pending.length < FROM_PREFIX.length) return Buffer.alloc(0);
      data = this.pending;
      this.pending = Buffer.alloc(0);
      if (!data.subarray(0, FROM_PREFIX.length).equals(FROM_PREFIX)) {
        this.state = 'pass';
        return data;
      }
      this.state = 'skip';
      data = data.subarray(FROM_PREFIX.length);
    }
    const lf = data.indexOf(LF);
    this.keepLinePart(lf < 0 ? data : data.subarray(0, lf));
    if (lf < 0) return Buffer.alloc(0);
    this.state = 'pass';
    if (this.lineBytes <= FROM_LINE_LIMIT) {
      this.completeLine = FROM_PREFIX.toString() + Buffer.concat(this.line, this.lineBytes).toString('utf8');
    }
    this.line = [];
    return data.subarray(lf + 1);
  }

  /** At the end of input: fewer than 5 bytes seen are message bytes after all. */
  end(): Buffer | undefined {
    return this.state === 'detect' && this.pending.length > 0 ? this.pending : undefined;
  }

  parsed(): { sender: string; date: Date } | undefined {
    return this.completeLine === undefined ? undefined : parseFromLine(this.completeLine);
  }

  private keepLinePart(part: Buffer): void {
    if (this.lineBytes + part.length <= FROM_LINE_LIMIT) this.line.push(Buffer.from(part));
    this.lineBytes += part.length;
  }
}

/** Copies the stored bytes before the first empty line ("\n\n"), at most 256 KiB of them. */
class HeaderCollector {
  private parts: Buffer[] = [];
  private length = 0;
  private done = false;
  private atLineStart = true;

  push(stored: Buffer): void {
    if (this.done || stored.length === 0) return;
    let end = -1;
    if (this.atLineStart && stored[0] === LF) end = 0;
    else {
      const blankLine = stored.indexOf('\n\n');
      if (blankLine >= 0) end = blankLine + 1;
    }
    let part = end >= 0 ? stored.subarray(0, end) : stored;
    if (part.length >= HEADER_LIMIT - this.length) {
      part = part.subarray(0, HEADER_LIMIT - this.length);
      end = part.length;
    }
    this.parts.push(Buffer.from(part));
    this.length += part.length;
    this.done = end >= 0;
    this.atLineStart = stored[stored.length - 1] === LF;
  }

  bytes(): Buffer {
    return Buffer.concat(this.parts, this.length);
  }
}
