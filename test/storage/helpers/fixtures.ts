// Test helpers for storage: an in-memory MessageSource (bytes as stored,
// LF endings) and temp directories that are removed after each test.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import type { MessageSource } from '../../../src/message/types.js';
import type { MboxOptions } from '../../../src/storage/types.js';

/** Dovecot's default mbox locking, but with waits short enough for tests. */
export const TEST_MBOX_OPTIONS: MboxOptions = {
  writeLocks: 'dotlock fcntl',
  readLocks: 'fcntl',
  lockTimeoutSeconds: 2,
  dotlockChangeTimeoutSeconds: 120,
  maxLockTimeoutSeconds: 0,
  dotlockUseExcl: true,
};

/** Dovecot's virtual size: every LF not preceded by CR counts as CRLF. */
export function virtualSize(bytes: Buffer): number {
  let size = bytes.length;
  for (let index = 0; index < bytes.length; index++) {
    if (bytes[index] === 0x0a && (index === 0 || bytes[index - 1] !== 0x0d)) size++;
  }
  return size;
}

export function memoryMessage(content: string | Buffer, options: { chunkSize?: number; receivedDate?: Date } = {}): MessageSource {
  const bytes = Buffer.isBuffer(content) ? content : Buffer.from(content);
  const chunkSize = options.chunkSize ?? 4096;
  const headerEnd = bytes.indexOf('\n\n');
  return {
    size: bytes.length,
    vsize: virtualSize(bytes),
    receivedDate: options.receivedDate,
    header: headerEnd === -1 ? bytes : bytes.subarray(0, headerEnd + 1),
    async *chunks() {
      for (let offset = 0; offset < bytes.length; offset += chunkSize) yield bytes.subarray(offset, offset + chunkSize);
    },
    async close() {},
  };
}

/** A fresh temp directory per call, removed after the current test. */
export function useTempDirs(): () => string {
  const created: string[] = [];
  afterEach(() => {
    for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    const dir = mkdtempSync(join(tmpdir(), 'dovetail-storage-'));
    created.push(dir);
    return dir;
  };
}
