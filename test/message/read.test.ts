// Stored bytes, S=/W= and From_ line handling in the table were observed by
// piping each input into the real dovecot-lda 2.3.19 (Maildir and mbox).
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { readMessage } from '../../src/message/read.js';
import type { MessageSource } from '../../src/message/types.js';
import { DeliveryFailure } from '../../src/deliver/failure.js';

let tempDir: string;
beforeEach(() => {
  tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dovetail-message-'));
});
afterEach(() => {
  fs.rmSync(tempDir, { recursive: true, force: true });
});

async function collect(message: MessageSource): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of message.chunks()) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** the temp files this process holds open in tempDir (they are unlinked, so they show as deleted) */
function openSpoolFiles(): string[] {
  const targets: string[] = [];
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      targets.push(fs.readlinkSync(`/proc/self/fd/${fd}`));
    } catch {
      // the fd of the directory listing itself is already gone
    }
  }
  return targets.filter((target) => target.startsWith(path.join(tempDir, 'dovetail.lda.')));
}

function byteChunks(text: string): Buffer[] {
  return [...Buffer.from(text, 'latin1')].map((byte) => Buffer.from([byte]));
}

function expectTemporary(error: unknown, pattern: RegExp): void {
  expect(error).toBeInstanceOf(DeliveryFailure);
  expect((error as DeliveryFailure).kind).toBe('temporary');
  expect((error as Error).message).toMatch(pattern);
}

const FROM_DATE = new Date(2002, 10, 9, 22, 33, 52);

describe('readMessage from stdin', () => {
  const cases: { input: string; stored: string; size: number; vsize: number; header: string; sender?: string }[] = [
    { input: '', stored: '', size: 0, vsize: 0, header: '' },
    { input: 'Subject: x\r\n\r\nbody\r\nlone\rcr\r\n', stored: 'Subject: x\n\nbody\nlone\rcr\n', size: 25, vsize: 29, header: 'Subject: x\n' },
    { input: 'Subject: x\n\nb\r', stored: 'Subject: x\n\nb', size: 13, vsize: 15, header: 'Subject: x\n' },
    { input: 'From foo@bar Thu Nov  9 22:33:52 2002\n', stored: '', size: 0, vsize: 0, header: '', sender: 'foo@bar' },
    { input: 'From foo@bar Thu Nov  9 22:33:52 2002', stored: '', size: 0, vsize: 0, header: '' },
    {
      input: 'From a@b Thu Nov  9 22:33:52 2002\r\nSubject: y\r\n\r\nb\r\n',
      stored: 'Subject: y\n\nb\n',
      size: 14,
      vsize: 17,
      header: 'Subject: y\n',
      sender: 'a@b',
    },
    { input: 'From someone@x garbage\nS: y\n\nb\n', stored: 'S: y\n\nb\n', size: 8, vsize: 11, header: 'S: y\n' },
    { input: 'From ', stored: '', size: 0, vsize: 0, header: '' },
    { input: 'From \r\n\r\n', stored: '\n', size: 1, vsize: 2, header: '' },
    { input: 'From', stored: 'From', size: 4, vsize: 4, header: 'From' },
    { input: 'Fromx\n', stored: 'Fromx\n', size: 6, vsize: 7, header: 'Fromx\n' },
    {
      input: 'from a@b Thu Nov  9 22:33:52 2002\nS: x\n\n',
      stored: 'from a@b Thu Nov  9 22:33:52 2002\nS: x\n\n',
      size: 40,
      vsize: 43,
      header: 'from a@b Thu Nov  9 22:33:52 2002\nS: x\n',
    },
    { input: '\n', stored: '\n', size: 1, vsize: 2, header: '' },
    { input: 'x\0y\xff\n', stored: 'x\0y\xff\n', size: 5, vsize: 6, header: 'x\0y\xff\n' },
  ];

  for (const [label, memoryLimit] of [['in memory', undefined], ['spooled', 4]] as const) {
    it.each(cases)(`${label}: %j`, async ({ input, stored, size, vsize, header, sender }) => {
      for (const chunks of [[Buffer.from(input, 'latin1')], byteChunks(input)]) {
        const message = await readMessage(Readable.from(chunks), { fromStdin: true, tempDir, memoryLimit });
        expect(await collect(message)).toEqual(Buffer.from(stored, 'latin1'));
        expect([message.size, message.vsize]).toEqual([size, vsize]);
        expect(message.header.toString('latin1')).toBe(header);
        expect(message.fromLineSender).toBe(sender);
        expect(message.receivedDate?.getTime()).toBe(sender === undefined ? undefined : FROM_DATE.getTime());
        await message.close();
      }
    });
  }

  it('keeps a From_ line when the stream is not stdin', async () => {
    const input = 'From a@b Thu Nov  9 22:33:52 2002\nS: x\n\n';
    const message = await readMessage(Readable.from([Buffer.from(input)]), { fromStdin: false, tempDir });
    expect((await collect(message)).toString()).toBe(input);
    expect(message.fromLineSender).toBeUndefined();
  });

  it('drops an over-long From_ line without parsing it', async () => {
    const input = `From ${'x'.repeat(5000)}@y Thu Nov  9 22:33:52 2002\nS: x\n\n`;
    const message = await readMessage(Readable.from([Buffer.from(input)]), { fromStdin: true, tempDir });
    expect((await collect(message)).toString()).toBe('S: x\n\n');
    expect(message.fromLineSender).toBeUndefined();
  });

  it('turns an input error into a temporary failure and leaves no temp file open', async () => {
    const failing = new Readable({
      read() {
        this.push(Buffer.alloc(100, 'a'));
        this.destroy(new Error('EIO: i/o error, read'));
      },
    });
    const error = await readMessage(failing, { fromStdin: true, tempDir, memoryLimit: 10 }).catch((e) => e);
    expectTemporary(error, /Can't read the message from stdin: EIO/);
    expect(openSpoolFiles()).toEqual([]);
  });
});

describe('readMessage from a path (-p)', () => {
  it('keeps a leading From_ line and converts line ends', async () => {
    const file = path.join(tempDir, 'in.eml');
    fs.writeFileSync(file, 'From a@b Thu Nov  9 22:33:52 2002\r\nS: x\r\n\r\nb\r');
    const message = await readMessage({ path: file }, { fromStdin: true, tempDir });
    expect((await collect(message)).toString()).toBe('From a@b Thu Nov  9 22:33:52 2002\nS: x\n\nb');
    expect([message.size, message.vsize]).toEqual([41, 44]);
    expect(message.fromLineSender).toBeUndefined();
    expect(message.receivedDate).toBeUndefined();
  });

  it('fails temporarily when the file cannot be read', async () => {
    const missing = path.join(tempDir, 'missing.eml');
    const error = await readMessage({ path: missing }, { fromStdin: false, tempDir }).catch((e) => e);
    expectTemporary(error, /Can't read the message from .*missing\.eml: ENOENT/);
  });
});

describe('header', () => {
  it('ends at a blank line that straddles two chunks', async () => {
    const chunks = [Buffer.from('A: 1\nB: 2\n'), Buffer.from('\nbody\n\nmore\n')];
    const message = await readMessage(Readable.from(chunks), { fromStdin: false, tempDir });
    expect(message.header.toString()).toBe('A: 1\nB: 2\n');
  });

  it('is the whole message when there is no blank line', async () => {
    const message = await readMessage(Readable.from([Buffer.from('A: 1\nB: 2')]), { fromStdin: false, tempDir });
    expect(message.header.toString()).toBe('A: 1\nB: 2');
  });

  it('is capped at 256 KiB', async () => {
    const line = `X-Filler: ${'f'.repeat(1000)}\n`;
    const input = Buffer.from(line.repeat(300) + '\nbody\n');
    const message = await readMessage(Readable.from([input.subarray(0, 70000), input.subarray(70000)]), {
      fromStdin: false,
      tempDir,
    });
    expect(message.header.equals(input.subarray(0, 256 * 1024))).toBe(true);
    await message.close();
  });
});

describe('spooling', () => {
  it('keeps small messages in memory and creates no temp file', async () => {
    const message = await readMessage(Readable.from([Buffer.from('S: x\n\nsmall\n')]), {
      fromStdin: true,
      tempDir: path.join(tempDir, 'does-not-exist'),
    });
    expect(openSpoolFiles()).toEqual([]);
    expect((await collect(message)).toString()).toBe('S: x\n\nsmall\n');
  });

  it('moves a message past the limit to an unlinked 0600 temp file, readable many times', async () => {
    const input = Buffer.from('S: x\n\n' + '0123456789\n'.repeat(20000));
    const message = await readMessage(Readable.from([input]), { fromStdin: true, tempDir, memoryLimit: 1000 });
    expect(fs.readdirSync(tempDir)).toEqual([]);
    const open = openSpoolFiles();
    expect(open).toHaveLength(1);
    expect(open[0]).toMatch(/\/dovetail\.lda\.[a-z0-9]+ \(deleted\)$/);

    const first = await collect(message);
    const second = await collect(message);
    expect(first.equals(input)).toBe(true);
    expect(second.equals(input)).toBe(true);
    for await (const chunk of message.chunks()) expect(chunk.length).toBeLessThanOrEqual(64 * 1024);

    await message.close();
    await message.close();
    expect(openSpoolFiles()).toEqual([]);
    const error = await collect(message).catch((e) => e);
    expectTemporary(error, /after close/);
  });

  it('yields chunks of at most 64 KiB from memory too', async () => {
    const input = Buffer.alloc(100_000, 'x');
    const message = await readMessage(Readable.from([input]), { fromStdin: false, tempDir, memoryLimit: 200_000 });
    const sizes: number[] = [];
    for await (const chunk of message.chunks()) sizes.push(chunk.length);
    expect(sizes).toEqual([65536, 100_000 - 65536]);
    expect(openSpoolFiles()).toEqual([]);
  });

  it('fails temporarily when the temp dir is missing', async () => {
    const missing = path.join(tempDir, 'does-not-exist');
    const input = Buffer.alloc(200 * 1024, 'a');
    const error = await readMessage(Readable.from([input]), { fromStdin: true, tempDir: missing }).catch((e) => e);
    expectTemporary(error, /Can't create a temp file for the message .*does-not-exist.*ENOENT/);
  });

  it('fails temporarily when the temp dir is not writable', async () => {
    if (process.getuid?.() === 0) {
      // root ignores directory permissions; a file in place of the directory fails the same way
      const notDir = path.join(tempDir, 'file');
      fs.writeFileSync(notDir, '');
      const error = await readMessage(Readable.from([Buffer.alloc(200 * 1024)]), { fromStdin: true, tempDir: notDir }).catch(
        (e) => e,
      );
      expectTemporary(error, /ENOTDIR/);
      return;
    }
    fs.chmodSync(tempDir, 0o500);
    const error = await readMessage(Readable.from([Buffer.alloc(200 * 1024)]), { fromStdin: true, tempDir }).catch((e) => e);
    fs.chmodSync(tempDir, 0o700);
    expectTemporary(error, /EACCES/);
  });

  it('pipes 20 MB through with bounded memory', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const line = 'The quick brown fox jumps over the lazy dog, again and again.';
    const lines = 20 * 1024 * 1024 / (line.length + 2);
    const expectedHash = createHash('sha256');
    function* input(): Generator<Buffer> {
      yield Buffer.from('From sender@example.com Thu Nov  9 22:33:52 2002\r\nSubject: big\r\n\r\n');
      expectedHash.update('Subject: big\n\n');
      for (let i = 0; i < lines; i += 1000) {
        const block = `${i} ${line}\r\n`.repeat(1000);
        expectedHash.update(block.replaceAll('\r\n', '\n'));
        yield Buffer.from(block);
      }
    }
    gc();
    const before = process.memoryUsage().arrayBuffers;
    const message = await readMessage(Readable.from(input()), { fromStdin: true, tempDir });
    gc();
    const held = process.memoryUsage().arrayBuffers - before;
    // memory limit (128 KiB) + header, nowhere near the message
    expect(held).toBeLessThan(2 * 1024 * 1024);
    expect(message.size).toBeGreaterThan(19 * 1024 * 1024);
    expect(message.fromLineSender).toBe('sender@example.com');

    const actualHash = createHash('sha256');
    let lfs = 0;
    for await (const chunk of message.chunks()) {
      actualHash.update(chunk);
      for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) lfs++;
    }
    expect(actualHash.digest('hex')).toBe(expectedHash.digest('hex'));
    expect(message.vsize).toBe(message.size + lfs);
    await message.close();
    expect(openSpoolFiles()).toEqual([]);
  });
});
