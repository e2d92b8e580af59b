// sendMail() against small shell scripts standing in for sendmail: argv in
// Dovecot's order, the message on stdin (20 MB streamed, read only as fast as
// the program takes it), and every way it fails (exit status, missing program,
// signal, early EOF, timeout with SIGTERM then SIGKILL), all temporary.

import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SendmailError, sendMail, sendmailCommand } from '../../src/deliver/sendmail.js';

let dir: string;

/** A sendmail stand-in: `body` is shell run after the recording preamble variables are set. */
function script(name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\nout=${JSON.stringify(dir)}/${name}\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

const RECORD = 'for a in "$@"; do printf \'%s\\n\' "$a"; done > "$out.argv"\ncat > "$out.stdin"';

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'dovetail-sendmail-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function failure(promise: Promise<void>): Promise<SendmailError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(SendmailError);
  return error as SendmailError;
}

async function* chunks(count: number, size: number, pulled?: { count: number }): AsyncGenerator<Buffer> {
  for (let index = 0; index < count; index++) {
    if (pulled) pulled.count++;
    yield Buffer.alloc(size, 0x61 + (index % 26));
  }
}

describe('sendmailCommand', () => {
  it.each<[string, string, string[], string, string[]]>([
    ['/usr/sbin/sendmail', 'sender@example.com', ['x@example.net'], '/usr/sbin/sendmail', ['-i', '-f', 'sender@example.com', '--', 'x@example.net']],
    ['/usr/sbin/sendmail', '', ['a@b', 'c@d'], '/usr/sbin/sendmail', ['-i', '-f', '<>', '--', 'a@b', 'c@d']],
    ['/usr/sbin/sendmail -oi -t', 's@x', ['r@x'], '/usr/sbin/sendmail', ['-oi', '-t', '-i', '-f', 's@x', '--', 'r@x']],
    // measured: Dovecot splits on single spaces only, so two spaces give an empty argument and a tab stays inside one
    ['/bin/sm  -a\t-b c', 's@x', ['r@x'], '/bin/sm', ['', '-a\t-b', 'c', '-i', '-f', 's@x', '--', 'r@x']],
    ['sendmail', '"a b"@x', ['"c d"@y'], 'sendmail', ['-i', '-f', '"a b"@x', '--', '"c d"@y']],
  ])('%j from %j', (path, sender, recipients, file, args) => {
    expect(sendmailCommand(path, sender, recipients)).toEqual({ file, args });
  });
});

describe('sendMail', () => {
  it.each<[string, string, string[], string]>([
    ['a sender', 'sender@example.com', ['x@example.net'], '-i\n-f\nsender@example.com\n--\nx@example.net\n'],
    ['the null sender', '', ['x@example.net', 'y@example.net'], '-i\n-f\n<>\n--\nx@example.net\ny@example.net\n'],
  ])('runs sendmail_path with Dovecot’s arguments and the message on stdin: %s', async (_name, sender, recipients, argv) => {
    const path = script('record', RECORD);
    const message = Buffer.from('Subject: hi\n\nbody\n');
    await sendMail({ sendmailPath: `${path} -oi`, sender, recipients, message });
    expect(readFileSync(`${path}.argv`, 'utf8')).toBe(`-oi\n${argv}`);
    expect(readFileSync(`${path}.stdin`)).toEqual(message);
  });

  it.each<[string, string, RegExp]>([
    ['exit 75 (EX_TEMPFAIL)', 'echo "queue file write error" >&2; exit 75', /^Sendmail program returned error \(exit code 75\): queue file write error$/],
    ['exit 1', 'exit 1', /^Sendmail program returned error \(exit code 1\)$/],
    ['exit 67 (EX_NOUSER): temporary too, as for Dovecot', 'echo "no such user" >&2; exit 67', /^Sendmail program returned error \(exit code 67\): no such user$/],
    ['exit 77 (EX_NOPERM)', 'exit 77', /\(exit code 77\)/],
    ['stdout when stderr is silent', 'echo; echo "  said on stdout  "; exit 64', /\(exit code 64\): said on stdout$/],
    ['death by a signal', 'kill -9 $$', /^Failed to execute sendmail: terminated by SIGKILL$/],
  ])('fails temporarily on %s', async (name, body, message) => {
    const path = script(`fail-${name.replace(/\W+/g, '-')}`, `cat > /dev/null\n${body}`);
    const error = await failure(sendMail({ sendmailPath: path, sender: 's@x', recipients: ['r@x'], message: Buffer.from('m\n') }));
    expect(error.temporary).toBe(true);
    expect(error.message).toMatch(message);
  });

  it('fails temporarily when the program does not exist', async () => {
    const error = await failure(sendMail({ sendmailPath: join(dir, 'missing'), sender: 's@x', recipients: ['r@x'], message: Buffer.from('m\n') }));
    expect(error.temporary).toBe(true);
    expect(error.message).toMatch(/^Failed to execute sendmail: .*ENOENT/);
  });

  it('fails temporarily when sendmail_path starts with a space (an empty program name, as Dovecot)', async () => {
    const error = await failure(sendMail({ sendmailPath: ` ${script('unreached', RECORD)}`, sender: 's@x', recipients: ['r@x'], message: Buffer.from('m\n') }));
    expect(error.message).toMatch(/^Failed to execute sendmail: /);
  });

  it('keeps one bounded line of what the program printed', async () => {
    const path = script('chatty', `cat > /dev/null\nhead -c 1000000 /dev/zero | tr '\\0' 'e' >&2\nexit 1`);
    const error = await failure(sendMail({ sendmailPath: path, sender: 's@x', recipients: ['r@x'], message: Buffer.from('m\n') }));
    expect(error.message).toMatch(/^Sendmail program returned error \(exit code 1\): e{197}\.\.\.$/);
  });

  it('reads the program’s output so a chatty sendmail does not block', async () => {
    const path = script('stdout-flood', `cat > /dev/null\nhead -c 1000000 /dev/zero`);
    await sendMail({ sendmailPath: path, sender: 's@x', recipients: ['r@x'], message: Buffer.from('m\n') });
  });

  it('returns once the program exits, even when a process it started keeps its output open', async () => {
    const path = script('daemonizing', 'cat > /dev/null\nsleep 10 &\nexit 0');
    const started = Date.now();
    await sendMail({ sendmailPath: path, sender: 's@x', recipients: ['r@x'], message: Buffer.from('m\n') });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('fails temporarily when the program stops reading and exits 0, as Dovecot (EPIPE)', async () => {
    const path = script('no-read', 'exit 0');
    const error = await failure(sendMail({ sendmailPath: path, sender: 's@x', recipients: ['r@x'], message: chunks(64, 64 * 1024) }));
    expect(error.temporary).toBe(true);
    expect(error.message).toMatch(/^Failed to execute sendmail: write\(program stdin\) failed: /);
  });

  it('kills a program that makes no progress and fails temporarily', async () => {
    const path = script('sleeper', 'cat > /dev/null\nexec sleep 30');
    const started = Date.now();
    const error = await failure(sendMail({ sendmailPath: path, sender: 's@x', recipients: ['r@x'], message: Buffer.from('m\n'), timeoutMs: 300 }));
    expect(Date.now() - started).toBeLessThan(5000);
    expect(error.temporary).toBe(true);
    expect(error.message).toBe('Failed to execute sendmail: timed out after 300 ms, killed by SIGTERM');
  });

  it('uses SIGKILL 5 s after SIGTERM when the program ignores it', { timeout: 20_000 }, async () => {
    const path = script('stubborn', 'trap "" TERM\ncat > /dev/null\nwhile :; do sleep 0.1; done');
    const started = Date.now();
    const error = await failure(sendMail({ sendmailPath: path, sender: 's@x', recipients: ['r@x'], message: Buffer.from('m\n'), timeoutMs: 200 }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(5000);
    expect(error.message).toBe('Failed to execute sendmail: timed out after 200 ms, killed by SIGKILL');
  });

  it('streams a 20 MB message whole', async () => {
    const path = script('record-big', RECORD);
    const hash = createHash('sha256');
    for (let index = 0; index < 320; index++) hash.update(Buffer.alloc(64 * 1024, 0x61 + (index % 26)));
    await sendMail({ sendmailPath: path, sender: 's@x', recipients: ['r@x'], message: chunks(320, 64 * 1024) });
    expect(statSync(`${path}.stdin`).size).toBe(20 * 1024 * 1024);
    expect(createHash('sha256').update(readFileSync(`${path}.stdin`)).digest('hex')).toBe(hash.digest('hex'));
  });

  it('reads the message only as fast as the program takes it (memory stays bounded)', async () => {
    const path = script('slow-reader', 'sleep 1\ncat > /dev/null');
    const pulled = { count: 0 };
    const sending = sendMail({ sendmailPath: path, sender: 's@x', recipients: ['r@x'], message: chunks(320, 64 * 1024, pulled) });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(pulled.count).toBeLessThanOrEqual(4);
    await sending;
    expect(pulled.count).toBe(320);
  });

  it('stops the program and fails temporarily when the message cannot be read', async () => {
    const path = script('record-partial', RECORD);
    async function* broken(): AsyncGenerator<Buffer> {
      yield Buffer.from('Subject: half\n');
      throw new Error('spool read failed');
    }
    const error = await failure(sendMail({ sendmailPath: path, sender: 's@x', recipients: ['r@x'], message: broken() }));
    expect(error.temporary).toBe(true);
    expect(error.message).toBe('Failed to read the message to send: spool read failed');
  });

  it('refuses a message without recipients', async () => {
    const error = await failure(sendMail({ sendmailPath: script('never', RECORD), sender: 's@x', recipients: [], message: Buffer.from('m\n') }));
    expect(error.message).toBe('No recipients to send to');
  });
});
