// One recipient's delivery in a worker process: the LMTP server running as
// root never delivers itself, it starts `dovetail lmtp-worker` (./worker.ts),
// which becomes the user and delivers. The job goes as JSON on fd 3, the
// spooled message (line ends already stored as LF) on stdin, and the worker
// answers with one JSON line on stdout: {"ok":true} or {"kind":..,"message":..}.
//
// Fails with a DeliveryFailure: the worker's own (a storage error, over
// quota, a Sieve rejection) or a WorkerFailure (temporary) when the worker
// cannot be started, crashes, is killed, says nothing sensible, or outlives
// the timeout (then SIGTERM, which rolls a save back, and SIGKILL if that is
// not enough).
// A worker that said {"ok":true} delivered, whatever happens after.

import { spawn, type ChildProcess } from 'node:child_process';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DeliveryFailure, temporary, type FailureKind } from '../deliver/failure.js';
import type { MailUser } from '../deliver/lda-user.js';
import type { SmtpAddress } from '../message/smtp-address.js';
import type { MessageSource } from '../message/types.js';

/** Everything the worker needs besides the message. */
export interface WorkerJob {
  /** how the server loaded its settings; the worker loads them the same way (protocol lmtp) */
  settings: { configPath?: string; overrides: readonly string[] };
  user: MailUser;
  hostname: string;
  fileHostname: string;
  envelope: { sender: SmtpAddress | null; originalRecipient: SmtpAddress; finalRecipient: SmtpAddress };
  mailbox: string;
  /** `lmtp(<user>)<pid><<session id>>: ` */
  logPrefix: string;
  /** what the stored bytes on stdin must add up to */
  message: { size: number; vsize: number; header: Buffer };
}

/** The worker's answer. */
export type WorkerResult = { ok: true } | { ok: false; kind: FailureKind; message: string };

/** The worker itself failed: it did not start, crashed, timed out or said nothing sensible (always temporary). */
export class WorkerFailure extends DeliveryFailure {
  constructor(message: string) {
    super('temporary', message);
    this.name = 'WorkerFailure';
  }
}

/** The program to run: `dovetail lmtp-worker`. */
export interface WorkerCommand {
  file: string;
  args: readonly string[];
}

export interface WorkerOptions {
  command: WorkerCommand;
  /** how long a delivery may take before the worker is killed */
  timeoutMs: number;
  /** after SIGTERM, how long the worker may take to roll back before SIGKILL */
  killGraceMs?: number;
  /** aborted when the server stops for good: the worker is sent SIGTERM and rolls back */
  signal?: AbortSignal;
}

export const DEFAULT_WORKER_TIMEOUT_MS = 5 * 60_000;
const DEFAULT_KILL_GRACE_MS = 10_000;
/** after the worker exits, how long its pipes may take to deliver what it wrote */
const OUTPUT_GRACE_MS = 1000;
/** a result line is small; anything beyond this is not one */
const MAX_STDOUT_BYTES = 64 * 1024;
/** the start of what the worker wrote on stderr, to say why it died */
const MAX_STDERR_BYTES = 4 * 1024;
const FAILURE_KINDS: ReadonlySet<string> = new Set<FailureKind>(['usage', 'no-such-user', 'over-quota', 'rejected', 'temporary']);

/**
 * This executable as `dovetail lmtp-worker`: the single executable runs
 * itself; under bin/dovetail, Node runs the same script again.
 */
export function defaultWorkerCommand(): WorkerCommand {
  const sea = process.getBuiltinModule('node:sea');
  if (sea?.isSea()) return { file: process.execPath, args: ['lmtp-worker'] };
  return { file: process.execPath, args: [process.argv[1]!, 'lmtp-worker'] };
}

/** Runs the job in a worker; resolves when the message is delivered, throws DeliveryFailure otherwise. */
export async function deliverInWorker(job: WorkerJob, message: MessageSource, options: WorkerOptions): Promise<void> {
  let child: ChildProcess;
  try {
    child = spawn(options.command.file, [...options.command.args], { stdio: ['pipe', 'pipe', 'pipe', 'pipe'], cwd: '/' });
  } catch (error) {
    throw new WorkerFailure(`Can't start the LMTP worker ${options.command.file}: ${describe(error)}`);
  }
  const stdout = collect(child.stdout!, MAX_STDOUT_BYTES);
  const stderr = collect(child.stderr!, MAX_STDERR_BYTES);
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const outputClosed = new Promise((resolve) => child.once('close', resolve));
  let timedOut = false;
  let killTimer: NodeJS.Timeout | undefined;
  const terminate = () => {
    child.kill('SIGTERM');
    killTimer ??= setTimeout(() => child.kill('SIGKILL'), options.killGraceMs ?? DEFAULT_KILL_GRACE_MS);
  };
  const timer = setTimeout(() => {
    timedOut = true;
    terminate();
  }, options.timeoutMs);
  options.signal?.addEventListener('abort', terminate, { once: true });
  if (options.signal?.aborted) terminate();

  const jobPipe = child.stdio[3] as Writable;
  jobPipe.on('error', () => {}); // a worker that died early: its exit says why
  jobPipe.end(encodeJob(job));
  // A spool that cannot be read back is the real reason, not the short message the worker then sees.
  let feedError: unknown;
  const feeding = pipeline(Readable.from(message.chunks()), child.stdin!).catch((error: unknown) => {
    if (!isPipeClosed(error)) feedError = error;
  });

  const end = await ended;
  clearTimeout(timer);
  clearTimeout(killTimer);
  options.signal?.removeEventListener('abort', terminate);
  // What the worker wrote before it exited may still be in the pipes; a child of its own may hold them open for ever.
  await Promise.race([outputClosed, new Promise((resolve) => setTimeout(resolve, OUTPUT_GRACE_MS).unref())]);
  for (const stream of child.stdio) stream?.destroy();
  await feeding;
  const result = parseResult(stdout.text());
  if (result?.ok) return;
  if (feedError !== undefined) throw new WorkerFailure(`Can't pass the message to the LMTP worker: ${describe(feedError)}`);
  if (timedOut) throw new WorkerFailure(`LMTP worker timed out after ${Math.round(options.timeoutMs / 1000)} s`);
  if (result) throw new DeliveryFailure(result.kind, result.message);
  const said = firstLine(stderr.text());
  if (end.error) throw new WorkerFailure(`Can't start the LMTP worker ${options.command.file}: ${end.error.message}`);
  if (end.signal) throw new WorkerFailure(`LMTP worker killed with signal ${end.signal}${said ? `: ${said}` : ''}`);
  throw new WorkerFailure(`LMTP worker exited with status ${end.code} without a result${said ? `: ${said}` : ''}`);
}

/** The job as the worker reads it from fd 3. */
export function encodeJob(job: WorkerJob): string {
  return JSON.stringify({
    ...job,
    user: { ...job.user, fields: [...job.user.fields] },
    message: { ...job.message, header: job.message.header.toString('base64') },
  });
}

/** The worker's side of encodeJob; throws a temporary DeliveryFailure on anything malformed. */
export function decodeJob(text: string): WorkerJob {
  try {
    const raw = JSON.parse(text) as Omit<WorkerJob, 'user' | 'message'> & {
      user: Omit<MailUser, 'fields'> & { fields: [string, string][] };
      message: { size: number; vsize: number; header: string };
    };
    const { user, message, envelope, settings } = raw;
    if (typeof user?.username !== 'string' || !Array.isArray(user.fields) || !Array.isArray(settings?.overrides) || typeof envelope !== 'object') {
      throw new Error('fields missing');
    }
    if (!Number.isSafeInteger(message?.size) || !Number.isSafeInteger(message.vsize) || typeof message.header !== 'string') {
      throw new Error('bad message description');
    }
    return {
      ...raw,
      user: { ...user, fields: new Map(user.fields) },
      message: { size: message.size, vsize: message.vsize, header: Buffer.from(message.header, 'base64') },
    };
  } catch (error) {
    throw temporary(`LMTP worker: unusable job: ${describe(error)}`);
  }
}

/** The worker's one stdout line. */
export function encodeResult(result: WorkerResult): string {
  return `${JSON.stringify(result.ok ? { ok: true } : { kind: result.kind, message: result.message })}\n`;
}

/** The last line the worker wrote, when it is a result; undefined for anything else. */
export function parseResult(text: string): WorkerResult | undefined {
  const line = text.trimEnd().split('\n').pop() ?? '';
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as Record<string, unknown>;
  if (record.ok === true) return { ok: true };
  if (typeof record.kind === 'string' && FAILURE_KINDS.has(record.kind) && typeof record.message === 'string') {
    return { ok: false, kind: record.kind as FailureKind, message: record.message };
  }
  return undefined;
}

/** Keeps the first `limit` bytes a stream gives and drops the rest (it is still read to the end). */
function collect(stream: Readable, limit: number): { text(): string } {
  const parts: Buffer[] = [];
  let length = 0;
  stream.on('data', (chunk: Buffer) => {
    const take = Math.min(chunk.length, limit - length);
    if (take <= 0) return;
    parts.push(chunk.subarray(0, take));
    length += take;
  });
  stream.on('error', () => {});
  return { text: () => Buffer.concat(parts, length).toString('utf8') };
}

function isPipeClosed(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'EPIPE' || code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ERR_STREAM_DESTROYED';
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0]?.trim() ?? '';
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
