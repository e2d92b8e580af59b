// Deliveries in a worker process: the client side against stand-in programs
// (crashes, garbage, silence, a hang), then, as root, the real
// `lmtp-worker` (src/lmtp/worker.ts bundled by esbuild for the test, since
// dist/ may be stale) delivering for a user whose uid is not the server's.

import { describe, it, expect, beforeAll, afterAll, beforeEach, afterEach } from 'vitest';
import { build } from 'esbuild';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { Readable } from 'node:stream';
import { loadSettings } from '../../src/config/settings.js';
import { DeliveryFailure } from '../../src/deliver/failure.js';
import { createLocalBackend } from '../../src/lmtp/backend.js';
import type { AcceptedRecipient, LmtpBackend, LmtpTransaction } from '../../src/lmtp/types.js';
import { decodeJob, deliverInWorker, encodeJob, parseResult, WorkerFailure, type WorkerCommand, type WorkerJob } from '../../src/lmtp/worker-client.js';
import type { Log } from '../../src/log/log.js';
import type { MessageSource } from '../../src/message/types.js';
import { parseRecipientPath } from '../../src/message/smtp-address.js';

const ROOT = resolve(__dirname, '../..');
const isRoot = process.geteuid?.() === 0;

const JOB: WorkerJob = {
  settings: { configPath: '/etc/dovecot/dovecot.conf', overrides: ['mail_fsync=never'] },
  user: { username: 'u@example.com', home: '/home/u', uid: 5001, gid: 5001, fields: new Map([['quota_rule', '*:storage=1G']]) },
  hostname: 'mx.example.com',
  fileHostname: 'host',
  envelope: { sender: null, originalRecipient: { localpart: 'u', domain: 'example.com' }, finalRecipient: { localpart: 'u', domain: 'example.com' } },
  mailbox: 'INBOX',
  logPrefix: 'lmtp(u@example.com)<1><id>: ',
  message: { size: 3, vsize: 4, header: Buffer.from('S: x\n') },
};

function messageOf(text: string): MessageSource {
  const bytes = Buffer.from(text);
  return { size: bytes.length, vsize: bytes.length, header: Buffer.alloc(0), chunks: async function* () { yield bytes; }, close: async () => {} };
}

const sh = (script: string): WorkerCommand => ({ file: '/bin/sh', args: ['-c', script] });

/** What the delivery was refused with (the test fails if it was not). */
async function failureOf(promise: Promise<void>): Promise<DeliveryFailure> {
  const outcome: unknown = await promise.then(() => 'delivered', (error: unknown) => error);
  expect(outcome).toBeInstanceOf(DeliveryFailure);
  return outcome as DeliveryFailure;
}

describe('the job and the result line', () => {
  it('a job survives the trip, Map and Buffer included', () => {
    expect(decodeJob(encodeJob(JOB))).toEqual(JOB);
  });

  it.each(['', 'not json', '{"user":{}}', JSON.stringify({ ...JSON.parse(encodeJob(JOB)), message: { size: 'x' } })])('an unusable job %j is a temporary failure', (text) => {
    let failure: unknown;
    try {
      decodeJob(text);
    } catch (error) {
      failure = error;
    }
    expect(failure).toBeInstanceOf(DeliveryFailure);
    expect((failure as DeliveryFailure).kind).toBe('temporary');
  });

  it.each([
    ['{"ok":true}\n', { ok: true }],
    ['noise first\n{"kind":"over-quota","message":"Quota exceeded"}\n', { ok: false, kind: 'over-quota', message: 'Quota exceeded' }],
    ['{"kind":"weird","message":"x"}', undefined],
    ['{"kind":"temporary"}', undefined],
    ['{"ok":true}\ntrailing garbage', undefined],
    ['', undefined],
    ['null', undefined],
  ])('%j → %j', (text, result) => {
    expect(parseResult(text)).toEqual(result);
  });
});

describe('deliverInWorker against stand-in workers', () => {
  const options = (command: WorkerCommand, timeoutMs = 10_000) => ({ command, timeoutMs, killGraceMs: 200 });

  it('{"ok":true} after reading everything: delivered; the job came on fd 3 and the message on stdin', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dovetail-worker-'));
    try {
      const script = `cat <&3 > ${dir}/job; cat > ${dir}/message; echo '{"ok":true}'`;
      await deliverInWorker(JOB, messageOf('the message\n'), options(sh(script)));
      expect(decodeJob(readFileSync(join(dir, 'job'), 'utf8'))).toEqual(JOB);
      expect(readFileSync(join(dir, 'message'), 'utf8')).toBe('the message\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the worker's own failure keeps its kind", async () => {
    const failure = await failureOf(deliverInWorker(JOB, messageOf('m\n'), options(sh(`echo '{"kind":"rejected","message":"no thanks"}'`))));
    expect(failure).not.toBeInstanceOf(WorkerFailure);
    expect([failure.kind, failure.message]).toEqual(['rejected', 'no thanks']);
  });

  it.each<[string, WorkerCommand, RegExp]>([
    ['killed', sh('echo dying >&2; kill -9 $$'), /^LMTP worker killed with signal SIGKILL: dying$/],
    ['garbage', sh('cat >/dev/null; echo garbage'), /^LMTP worker exited with status 0 without a result$/],
    ['a non-zero exit', sh('echo "Cannot load Dovetail" >&2; exit 75'), /^LMTP worker exited with status 75 without a result: Cannot load Dovetail$/],
    ['a program that is not there', { file: '/nonexistent/dovetail', args: [] }, /^Can't start the LMTP worker \/nonexistent\/dovetail: .*ENOENT/],
  ])('%s → a temporary WorkerFailure', async (_name, command, reason) => {
    const failure = await failureOf(deliverInWorker(JOB, messageOf('m\n'), options(command)));
    expect(failure).toBeInstanceOf(WorkerFailure);
    expect(failure.kind).toBe('temporary');
    expect(failure.message).toMatch(reason);
  });

  it('a worker that does not read a big message still ends in its own result', async () => {
    const failure = await failureOf(deliverInWorker(JOB, messageOf('x'.repeat(4 * 1024 * 1024)), options(sh(`echo '{"kind":"temporary","message":"refused early"}'`))));
    expect(failure.message).toBe('refused early');
  });

  it('a hanging worker is terminated after the timeout, then killed', async () => {
    const started = Date.now();
    const failure = await failureOf(deliverInWorker(JOB, messageOf('m\n'), options(sh("trap '' TERM; sleep 30 & wait; sleep 30"), 300)));
    expect(failure).toBeInstanceOf(WorkerFailure);
    expect(failure.message).toBe('LMTP worker timed out after 0 s');
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe.skipIf(!isRoot)(`the real lmtp-worker${isRoot ? '' : ' (skipped: needs root)'}`, () => {
  const OTHER_UID = 5001;
  let bundleDir: string;
  let command: WorkerCommand;
  let dir: string;
  let lines: string[];

  beforeAll(async () => {
    bundleDir = mkdtempSync(join(tmpdir(), 'dovetail-worker-bundle-'));
    const outfile = join(bundleDir, 'worker.js');
    await build({
      stdin: {
        contents: "import { runLmtpWorker } from './src/lmtp/worker.ts';\nrunLmtpWorker({ argv: process.argv.slice(2), env: process.env }).then((status) => process.exit(status));\n",
        resolveDir: ROOT,
        loader: 'ts',
      },
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      external: ['libmime', 'mysql2'],
      outfile,
      logLevel: 'error',
    });
    const addon = join(ROOT, 'build/Release/dovetail_native.node');
    if (existsSync(addon)) copyFileSync(addon, join(bundleDir, 'dovetail_native.node'));
    command = { file: process.execPath, args: [outfile] };
  });
  afterAll(() => rmSync(bundleDir, { recursive: true, force: true }));

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'dovetail-worker-e2e-'));
    chmodSync(dir, 0o755);
    lines = [];
    for (const user of ['other', 'stuck']) {
      mkdirSync(join(dir, 'home', user), { recursive: true, mode: 0o700 });
      chownSync(join(dir, 'home', user), OTHER_UID, OTHER_UID);
    }
    chmodSync(join(dir, 'home'), 0o755);
    writeFileSync(
      join(dir, 'users'),
      [
        `other@example.com::${OTHER_UID}:${OTHER_UID}::${dir}/home/other::`,
        `stuck@example.com::${OTHER_UID}:${OTHER_UID}::${dir}/home/stuck::userdb_mail=maildir:/nonexistent-root-only/Maildir`,
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(dir, 'dovecot.conf'),
      ['mail_location = maildir:~/Maildir', `log_path = ${dir}/dovetail.log`, 'userdb {', '  driver = passwd-file', `  args = ${dir}/users`, '}', ''].join('\n'),
    );
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const log: Log = { setPrefix() {}, write: (level, text) => lines.push(`${level}: ${text}`), withPrefix: () => log, close: async () => {} };

  function rootBackend(workerCommand: WorkerCommand): LmtpBackend {
    const configPath = join(dir, 'dovecot.conf');
    return createLocalBackend({
      settings: loadSettings({ configPath, protocol: 'lmtp', overrides: [] }),
      configPath,
      overrides: ['mail_location=maildir:~/Mail'],
      hostname: 'mx.example.com',
      fileHostname: 'host',
      log,
      worker: { command: workerCommand, timeoutMs: 30_000 },
    });
  }

  async function deliver(backend: LmtpBackend, addresses: string[], message: Buffer): Promise<string[]> {
    const transaction: LmtpTransaction = {
      id: 'TID',
      client: { helo: 'client.example', remoteAddress: '', remotePort: 0, sessionId: 'TID' },
      sender: parseRecipientPath('s@x.org', 'test'),
      params: {},
      started: new Date(),
    };
    const accepted: AcceptedRecipient[] = [];
    for (const [position, text] of addresses.entries()) {
      const verdict = await backend.checkRecipient(transaction, { address: parseRecipientPath(text, 'test'), index: position + 1 });
      expect(verdict.reply.code).toBe(250);
      accepted.push(verdict.accepted!);
    }
    const replies = await backend.deliver(transaction, accepted, Readable.from([message]));
    return replies.map((reply) => `${reply.code} ${reply.enhanced} ${reply.text}`);
  }

  it('delivers as the user: the file is theirs, the bytes exact, the log line the worker\'s', async () => {
    const body = 'line\r\n'.repeat(40_000); // past the 128 KiB memory limit on both sides
    const replies = await deliver(rootBackend(command), ['<other@example.com>'], Buffer.from(`Subject: far\r\nMessage-ID: <w1@x>\r\n\r\n${body}`));
    expect(replies).toEqual(['250 2.0.0 <other@example.com> TID Saved']);
    // the worker loads the settings itself, -o overrides included: ~/Mail, not the config's ~/Maildir
    const newDir = join(dir, 'home', 'other', 'Mail', 'new');
    const [name, ...rest] = readdirSync(newDir);
    expect(rest).toEqual([]);
    expect(statSync(join(newDir, name!)).uid).toBe(OTHER_UID);
    expect(readFileSync(join(newDir, name!), 'utf8')).toMatch(/^Return-Path: <s@x\.org>\nDelivered-To: other@example\.com\nReceived: from client\.example\n\tby mx\.example\.com with LMTP\n/);
    expect(readFileSync(join(newDir, name!), 'utf8').endsWith(`\nSubject: far\nMessage-ID: <w1@x>\n\n${'line\n'.repeat(40_000)}`)).toBe(true);
    expect(readFileSync(join(dir, 'dovetail.log'), 'utf8')).toMatch(new RegExp(`^\\w{3} \\d\\d \\d\\d:\\d\\d:\\d\\d lmtp\\(other@example.com\\)<${process.pid}><TID>: Info: msgid=<w1@x>: saved mail to INBOX\\n$`));
  });

  it("a storage failure in the worker is that recipient's 451 4.2.0; the next recipient is delivered", async () => {
    const replies = await deliver(rootBackend(command), ['<stuck@example.com>', '<other@example.com>'], Buffer.from('Subject: s\r\n\r\nb\r\n'));
    expect(replies[0]).toMatch(/^451 4\.2\.0 <stuck@example\.com> Internal error occurred\. Refer to server log for more information\. \[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\]$/);
    expect(replies[1]).toBe('250 2.0.0 <other@example.com> TID:R2 Saved');
    expect(lines).toEqual([expect.stringMatching(/^Error: .*nonexistent-root-only/)]);
  });

  it('a worker killed mid-delivery: 451 4.3.0 for that recipient', async () => {
    const replies = await deliver(rootBackend(sh('kill -9 $$')), ['<other@example.com>'], Buffer.from('Subject: s\r\n\r\nb\r\n'));
    expect(replies).toEqual(['451 4.3.0 <other@example.com> Temporary internal error']);
    expect(lines).toEqual([expect.stringMatching(/^Error: LMTP worker killed with signal SIGKILL/)]);
    expect(existsSync(join(dir, 'home', 'other', 'Mail'))).toBe(false);
  });
});
