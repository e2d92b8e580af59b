// Where the stored bytes of one message wait for delivery: in memory up to a
// limit, beyond it all of them in a temp file that is unlinked right after it
// is created (O_EXCL, mode 0600), so nothing is left behind whatever happens
// and memory stays bounded. The bytes can be read back any number of times.
// Every failure (temp file not creatable, write or read error, use after
// close) is a temporary DeliveryFailure.

import { open, unlink, type FileHandle } from 'node:fs/promises';
import { constants } from 'node:fs';
import { join } from 'node:path';
import { temporary } from '../deliver/failure.js';

/** largest chunk chunks() yields */
export const SPOOL_CHUNK_SIZE = 64 * 1024;

const TEMP_FILE_PREFIX = 'dovetail.lda.';
const TEMP_FILE_FLAGS = constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
/** names are random; O_EXCL makes them safe, retries make a clash harmless */
const TEMP_NAME_ATTEMPTS = 100;

/**
 * V8 frees the 64 KiB Buffers a big message streams through only once tens
 * of MB of them have piled up (and the single executable starts 28 MB above
 * plain Node), which would break the 96 MB bound. So every few MB streamed
 * through the temp file, in or out, a full collection runs (about 1 ms for
 * our small heap). Messages that stay in memory never get here: a small
 * delivery pays nothing, not even loading node:v8.
 */
const COLLECT_EVERY_BYTES = 4 * 1024 * 1024;

let collectGarbage: (() => void) | undefined;

class GarbagePacer {
  private sinceCollection = 0;

  streamed(bytes: number): void {
    this.sinceCollection += bytes;
    if (this.sinceCollection < COLLECT_EVERY_BYTES) return;
    this.sinceCollection = 0;
    if (collectGarbage === undefined) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const v8 = require('node:v8');
      v8.setFlagsFromString('--expose-gc');
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      collectGarbage = require('node:vm').runInNewContext('gc') as () => void;
      // the function stays; the flag goes, so that V8 code caches (Sieve) loaded later still match our flags
      v8.setFlagsFromString('--no-expose-gc');
    }
    collectGarbage();
  }
}

export class MessageSpool {
  private memory: Buffer[] = [];
  private memoryBytes = 0;
  private file: FileHandle | undefined;
  private fileBytes = 0;
  private closing: Promise<void> | undefined;
  private readonly appendPacer = new GarbagePacer();

  constructor(
    private readonly memoryLimit: number,
    private readonly tempDir: string,
  ) {}

  /** Adds stored bytes at the end; moves everything to the temp file once past the memory limit. */
  async append(data: Buffer): Promise<void> {
    if (data.length === 0) return;
    if (this.file === undefined && this.memoryBytes + data.length <= this.memoryLimit) {
      this.memory.push(data);
      this.memoryBytes += data.length;
      return;
    }
    if (this.file === undefined) {
      this.file = await createUnlinkedTempFile(this.tempDir);
      await this.writeToFile(this.file, Buffer.concat(this.memory, this.memoryBytes));
      this.memory = [];
      this.memoryBytes = 0;
    }
    await this.writeToFile(this.file, data);
  }

  /** Call once all bytes are appended: joins the in-memory pieces into one buffer. */
  finish(): void {
    if (this.memory.length > 1) this.memory = [Buffer.concat(this.memory, this.memoryBytes)];
  }

  async *chunks(): AsyncGenerator<Buffer> {
    if (this.closing !== undefined) throw temporary('Message spool used after close');
    const file = this.file;
    if (file === undefined) {
      for (const piece of this.memory) {
        for (let offset = 0; offset < piece.length; offset += SPOOL_CHUNK_SIZE) {
          yield piece.subarray(offset, offset + SPOOL_CHUNK_SIZE);
        }
      }
      return;
    }
    const pacer = new GarbagePacer();
    for (let position = 0; position < this.fileBytes; ) {
      const buffer = Buffer.allocUnsafe(Math.min(SPOOL_CHUNK_SIZE, this.fileBytes - position));
      const bytesRead = await readAt(file, buffer, position);
      yield bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead);
      position += bytesRead;
      pacer.streamed(bytesRead);
    }
  }

  /** Closes the temp file and forgets the bytes; safe to call more than once. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.memory = [];
      await this.file?.close();
    })();
    return this.closing;
  }

  private async writeToFile(file: FileHandle, data: Buffer): Promise<void> {
    for (let offset = 0; offset < data.length; ) {
      let written: number;
      try {
        ({ bytesWritten: written } = await file.write(data, offset, data.length - offset, this.fileBytes));
      } catch (error) {
        throw temporary(`Can't write the message to its temp file in ${this.tempDir}: ${describe(error)}`);
      }
      offset += written;
      this.fileBytes += written;
      this.appendPacer.streamed(written);
    }
  }
}

async function createUnlinkedTempFile(tempDir: string): Promise<FileHandle> {
  for (let attempt = 1; ; attempt++) {
    const path = join(tempDir, TEMP_FILE_PREFIX + Math.random().toString(36).slice(2, 12));
    let file: FileHandle;
    try {
      file = await open(path, TEMP_FILE_FLAGS, 0o600);
    } catch (error) {
      if (errorCode(error) === 'EEXIST' && attempt < TEMP_NAME_ATTEMPTS) continue;
      throw temporary(`Can't create a temp file for the message (${path}): ${describe(error)}`);
    }
    try {
      await unlink(path);
    } catch (error) {
      await file.close();
      throw temporary(`Can't unlink the message's temp file ${path}: ${describe(error)}`);
    }
    return file;
  }
}

async function readAt(file: FileHandle, buffer: Buffer, position: number): Promise<number> {
  let bytesRead: number;
  try {
    ({ bytesRead } = await file.read(buffer, 0, buffer.length, position));
  } catch (error) {
    throw temporary(`Can't read the message back from its temp file: ${describe(error)}`);
  }
  if (bytesRead === 0) throw temporary(`The message's temp file ended early, at byte ${position}`);
  return bytesRead;
}

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
