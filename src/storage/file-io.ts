// The two write-side file calls every storage format needs: writing a whole
// buffer (a short write is continued, not lost) and fsyncing a directory so a
// new entry in it survives a crash. Errors are Node's, for fsCall() to name.

import { open, type FileHandle } from 'node:fs/promises';
import { constants } from 'node:fs';

/** Writes all of `chunk` at the handle's position (or the end, with O_APPEND). */
export async function writeAll(handle: FileHandle, chunk: Buffer): Promise<void> {
  for (let offset = 0; offset < chunk.length; ) {
    const { bytesWritten } = await handle.write(chunk, offset);
    offset += bytesWritten;
  }
}

/** fdatasync() of a directory: its entries (a rename, a new file) reach the disk. */
export async function syncDirectory(path: string): Promise<void> {
  const directory = await open(path, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await directory.datasync();
  } finally {
    await directory.close();
  }
}
