// Runs bin/dovetail the way Postfix does: as root with -d (pipe(8) with
// user=root, or a setuid wrapper), or as the recipient with HOME and USER set
// (local(8)'s mailbox_command), optionally under a file-size limit. Either to
// the end (runDovetail) or started in the background (startDelivery, which can
// also run dovecot-lda). Homes are temp dirs owned by the unprivileged
// mail user (MAIL_USER, default vmail; .ci/run creates it).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, chownSync, chmodSync, readdirSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';

export const DOVETAIL = resolve(__dirname, '../../bin/dovetail');
export const MAIL_USER = process.env.MAIL_USER ?? 'vmail';

function idOf(flag: '-u' | '-g'): number | undefined {
  const result = spawnSync('id', [flag, MAIL_USER], { encoding: 'utf8' });
  return result.status === 0 ? Number(result.stdout.trim()) : undefined;
}

export const mailUid = idOf('-u');
export const mailGid = idOf('-g');

/** Why the end-to-end tests cannot run here, or undefined when they can. */
export const e2eUnavailable =
  process.geteuid?.() !== 0
    ? 'end-to-end tests switch users and must run as root (CI does)'
    : mailUid === undefined
      ? `user ${MAIL_USER} does not exist (.ci/run creates it)`
      : !existsSync(join(__dirname, '../../dist/dovetail.js'))
        ? 'dist/dovetail.js is missing: run npm run build'
        : undefined;

export interface Sandbox {
  dir: string;
  home: string;
  /** writes dir/NAME and returns its path */
  file(name: string, content: string): string;
  cleanup(): void;
}

/** A fresh directory tree: dir (root-owned, world-readable) holding home/ owned by the mail user. */
export function makeSandbox(): Sandbox {
  const dir = mkdtempSync('/tmp/dovetail-e2e-');
  chmodSync(dir, 0o755);
  const home = join(dir, 'home');
  mkdirSync(home, { mode: 0o700 });
  chownSync(home, mailUid!, mailGid!);
  return {
    dir,
    home,
    file(name, content) {
      const path = join(dir, name);
      writeFileSync(path, content, { mode: 0o644 });
      return path;
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The config lines every case starts from: Maildir under ~, a log file, a passwd-file userdb. */
export function baseConfigLines(logFile: string, usersFile: string): string[] {
  return ['mail_location = maildir:~/Maildir', `log_path = ${logFile}`, 'userdb {', '  driver = passwd-file', `  args = ${usersFile}`, '}'];
}

export interface RunResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string | Buffer;
  /** run as the mail user with HOME and USER (mailbox_command style); default: as root */
  asMailUser?: { home: string; user?: string };
  env?: Record<string, string>;
  /** a file-size limit in 512-byte blocks, as Postfix's local(8) sets from mailbox_size_limit */
  fileSizeLimitBlocks?: number;
}

/** What spawn and spawnSync need to run PROGRAM as Postfix would, behind `ulimit -f` when a file-size limit is set. */
function postfixInvocation(program: string, args: string[], options: RunOptions) {
  const env: Record<string, string> = { PATH: '/usr/bin:/bin', ...options.env };
  if (options.asMailUser) {
    env.HOME = options.asMailUser.home;
    env.USER = options.asMailUser.user ?? MAIL_USER;
  }
  const [command, argv] =
    options.fileSizeLimitBlocks === undefined
      ? [program, args]
      : ['/bin/sh', ['-c', `ulimit -f ${options.fileSizeLimitBlocks} && exec "$0" "$@"`, program, ...args]];
  return { command, argv, spawnOptions: { env, ...(options.asMailUser ? { uid: mailUid!, gid: mailGid! } : {}) } };
}

/** Runs bin/dovetail to the end (at most 20 s). */
export function runDovetail(args: string[], options: RunOptions = {}): RunResult {
  const { command, argv, spawnOptions } = postfixInvocation(DOVETAIL, args, options);
  const result = spawnSync(command, argv, { ...spawnOptions, input: options.input ?? '', encoding: 'utf8', timeout: 20_000 });
  return { status: result.status, signal: result.signal, stdout: result.stdout, stderr: result.stderr };
}

export interface Delivery {
  status: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  /** performance.now() just before the spawn and once it has exited */
  startedAt: number;
  endedAt: number;
}

export interface StartOptions extends RunOptions {
  /** what to run in place of bin/dovetail, e.g. Dovecot's dovecot-lda */
  program?: string;
}

export interface StartedDelivery {
  child: ChildProcess;
  /** settles when the child has exited and its stderr is read; rejects when it cannot be spawned */
  finished: Promise<Delivery>;
}

/** Starts bin/dovetail (or options.program) as runDovetail does, stdout ignored, and returns at once. */
export function startDelivery(args: string[], options: StartOptions = {}): StartedDelivery {
  const { command, argv, spawnOptions } = postfixInvocation(options.program ?? DOVETAIL, args, options);
  const startedAt = performance.now();
  const child = spawn(command, argv, { ...spawnOptions, stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin!.on('error', () => {}); // a delivery that fails early may not read its input
  child.stdin!.end(options.input ?? '');
  const finished = new Promise<Delivery>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status, signal) => resolve({ status, signal, stderr, startedAt, endedAt: performance.now() }));
  });
  return { child, finished };
}

/** Files directly in a Maildir subdirectory (new/, cur/, tmp/), sorted. */
export function listMaildir(dir: string, sub: 'new' | 'cur' | 'tmp'): string[] {
  const path = join(dir, sub);
  return existsSync(path) ? readdirSync(path).sort() : [];
}
