// Runs bin/dovetail the way Postfix does: as root with -d (pipe(8) with
// user=root, or a setuid wrapper), or as the recipient with HOME and USER set
// (local(8)'s mailbox_command). Homes are temp dirs owned by the unprivileged
// mail user (MAIL_USER, default vmail; .ci/run creates it).

import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, chownSync, chmodSync, readdirSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

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

export function runDovetail(args: string[], options: RunOptions = {}): RunResult {
  const env: Record<string, string> = { PATH: '/usr/bin:/bin', ...options.env };
  if (options.asMailUser) {
    env.HOME = options.asMailUser.home;
    env.USER = options.asMailUser.user ?? MAIL_USER;
  }
  const [program, argv] =
    options.fileSizeLimitBlocks === undefined
      ? [DOVETAIL, args]
      : ['/bin/sh', ['-c', `ulimit -f ${options.fileSizeLimitBlocks} && exec "$0" "$@"`, DOVETAIL, ...args]];
  const result = spawnSync(program, argv, {
    input: options.input ?? '',
    env,
    encoding: 'utf8',
    ...(options.asMailUser ? { uid: mailUid!, gid: mailGid! } : {}),
    timeout: 20_000,
  });
  return { status: result.status, signal: result.signal, stdout: result.stdout, stderr: result.stderr };
}

/** Files directly in a Maildir subdirectory (new/, cur/, tmp/), sorted. */
export function listMaildir(dir: string, sub: 'new' | 'cur' | 'tmp'): string[] {
  const path = join(dir, sub);
  return existsSync(path) ? readdirSync(path).sort() : [];
}
