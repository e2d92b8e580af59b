// `dovetail lmtp-worker`: one recipient's delivery for an LMTP server that
// runs as root (./worker-client.ts starts it). Reads the job (JSON) from fd 3,
// loads the settings as the server did, opens the log, becomes the user
// exactly as dovecot-lda does (uid, gid, groups, the privileged group kept
// aside), takes the message from stdin, delivers it with deliverToUser and
// writes one result line on stdout. Every failure, a SIGTERM included (the
// save in progress rolls back), is a result line, never a crash; the exit
// status is 0 once the result is written (75 if even that fails).
//
// The message arrives as the server stored it (LF line ends), so it is
// spooled byte for byte, not read again with readMessage: a second line-end
// conversion would change "\r\r\n" sequences, and the byte count the job
// announces tells a complete message from one cut short.

import { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { loadSettings } from '../config/settings.js';
import { asDeliveryFailure } from '../deliver/deliver.js';
import { temporary } from '../deliver/failure.js';
import { dropPrivileges, privilegedGroupId } from '../deliver/privileges.js';
import { userHome } from '../deliver/storage-options.js';
import { deliverToUser } from '../deliver/user-delivery.js';
import { openLog, type Log } from '../log/log.js';
import { DEFAULT_MEMORY_LIMIT } from '../message/read.js';
import { MessageSpool } from '../message/spool.js';
import type { MessageSource } from '../message/types.js';
import { decodeJob, encodeResult, type WorkerJob, type WorkerResult } from './worker-client.js';

const JOB_FD = 3;
/** a job is a few KiB plus the message header (at most 256 KiB, in base64) */
const MAX_JOB_BYTES = 1024 * 1024;

export async function runLmtpWorker(io: { argv: readonly string[]; env: NodeJS.ProcessEnv }): Promise<number> {
  const abort = new AbortController();
  const onTerm = () => abort.abort(temporary('Killed with signal SIGTERM'));
  process.once('SIGTERM', onTerm);
  let result: WorkerResult;
  try {
    if (io.argv.length > 0) throw temporary(`lmtp-worker takes no arguments (got ${io.argv[0]})`);
    await runJob(decodeJob(await readJob()), process.stdin, io.env, abort.signal);
    result = { ok: true };
  } catch (error) {
    const failure = asDeliveryFailure(abort.signal.aborted ? abort.signal.reason : error);
    result = { ok: false, kind: failure.kind, message: failure.message };
  } finally {
    process.off('SIGTERM', onTerm);
  }
  return (await writeResult(result)) ? 0 : 75;
}

async function runJob(job: WorkerJob, stdin: Readable, env: NodeJS.ProcessEnv, signal: AbortSignal): Promise<void> {
  let log: Log | undefined;
  let message: MessageSource | undefined;
  try {
    const settings = loadSettings({ configPath: job.settings.configPath, protocol: 'lmtp', overrides: job.settings.overrides, env });
    log = openLog(settings, job.logPrefix);
    const home = userHome(settings, job.user, job.hostname, 'lmtp');
    const privilegedGroup = dropPrivileges(job.user, settings, await privilegedGroupId(settings));
    message = await receiveMessage(stdin, job.message, settings.mail_temp_dir, signal);
    signal.throwIfAborted();
    await deliverToUser({
      settings,
      user: job.user,
      home,
      hostname: job.hostname,
      fileHostname: job.fileHostname,
      service: 'lmtp',
      message,
      envelope: job.envelope,
      mailbox: job.mailbox,
      privilegedGroup,
      signal,
      log,
      reportLogFailure: (text) => process.stderr.write(`${text}\n`),
      rejectAtProtocol: true,
    });
  } finally {
    await message?.close().catch(() => {});
    await log?.close();
  }
}

/** All of fd 3 (the server closes its end after writing the job). */
async function readJob(): Promise<string> {
  const pipe = new Socket({ fd: JOB_FD, readable: true, writable: false });
  const parts: Buffer[] = [];
  let length = 0;
  try {
    for await (const chunk of pipe) {
      length += (chunk as Buffer).length;
      if (length > MAX_JOB_BYTES) throw new Error(`more than ${MAX_JOB_BYTES} bytes`);
      parts.push(chunk as Buffer);
    }
  } catch (error) {
    throw temporary(`LMTP worker: can't read the job from fd ${JOB_FD}: ${(error as Error).message}`);
  } finally {
    pipe.destroy();
  }
  return Buffer.concat(parts, length).toString('utf8');
}

/** The stored bytes from stdin into a spool; exactly `expected.size` of them, or a temporary failure. */
async function receiveMessage(stdin: Readable, expected: WorkerJob['message'], tempDir: string, signal: AbortSignal): Promise<MessageSource> {
  const spool = new MessageSpool(DEFAULT_MEMORY_LIMIT, tempDir);
  let received = 0;
  try {
    for await (const chunk of stdin) {
      signal.throwIfAborted();
      received += (chunk as Buffer).length;
      if (received > expected.size) throw temporary(`The message from the LMTP server is longer than its ${expected.size} bytes`);
      await spool.append(chunk as Buffer);
    }
    if (received !== expected.size) throw temporary(`The message from the LMTP server ended after ${received} of its ${expected.size} bytes`);
    spool.finish();
  } catch (error) {
    await spool.close();
    throw error;
  }
  return {
    size: expected.size,
    vsize: expected.vsize,
    header: expected.header,
    chunks: () => spool.chunks(),
    close: () => spool.close(),
  };
}

async function writeResult(result: WorkerResult): Promise<boolean> {
  return new Promise((resolve) => {
    process.stdout.write(encodeResult(result), (error) => resolve(error == null));
  });
}
