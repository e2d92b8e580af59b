// Side-by-side runs: the same case (config, arguments, input, user) through
// Debian's dovecot-lda and through bin/dovetail, each against its own fresh
// home owned by the mail user, then a comparison of exit codes and of what
// landed on disk. For -d cases, dovecot-lda needs Dovecot's auth service: one
// `dovecot -c` master runs for the whole suite, its userdb a passwd-file that
// each case rewrites.

import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync, chownSync, readdirSync, lstatSync, readFileSync, rmSync, existsSync, chmodSync } from 'node:fs';
import { join, relative, basename } from 'node:path';
import { createHash } from 'node:crypto';
import { DOVETAIL, MAIL_USER, mailUid, mailGid, baseConfigLines } from '../e2e/harness.js';

export const DOVECOT_LDA = '/usr/lib/dovecot/dovecot-lda';

export const compatUnavailable =
  process.geteuid?.() !== 0
    ? 'the compatibility suite switches users and must run as root (CI does)'
    : !existsSync(DOVECOT_LDA)
      ? 'dovecot-lda is not installed (apt-get install dovecot-core; .ci/run does)'
      : mailUid === undefined
        ? `user ${MAIL_USER} does not exist`
        : undefined;

export type Side = 'dovecot' | 'dovetail';

export interface CompatCase {
  name: string;
  /** extra config lines; {HOME} {DIR} are replaced per side */
  config?: string[];
  args: string[];
  input: string | Buffer;
  /** 'root': run as root (use -d); 'user': as the mail user with HOME/USER, as mailbox_command */
  as: 'root' | 'user';
  /** passwd-file lines for -d; default: one user vmail@example.org with this side's home */
  users?: string[];
  /** prepares the side's home before the run (runs as root; chown what you create) */
  setup?: (home: string, dir: string) => void;
  /** run without `-c CONFIG` in front of the arguments */
  noConfig?: boolean;
  /** set when the difference is intentional; the text names the docs/compatibility.md section */
  intentional?: string;
}

export interface SideResult {
  status: number | null;
  stderr: string;
  /** what landed, normalised so that both sides can be compared */
  tree: string[];
}

/** Dovecot's own bookkeeping that other Maildir readers do not need (docs/compatibility.md). */
function isDovecotIndexFile(name: string): boolean {
  return name.startsWith('dovecot') && name !== 'dovecot.conf';
}

/**
 * Dovecot 2.3 puts a `maildirfolder` file into a freshly created INBOX root;
 * Dovetail does not, on purpose (docs/compatibility.md, "maildirfolder").
 * Subfolders (".name") keep theirs and are compared.
 */
function isRootMaildirfolder(dir: string, name: string): boolean {
  return name === 'maildirfolder' && !basename(dir).startsWith('.');
}

const MAILDIR_MESSAGE = /^\d+\.M\d+P\d+\.[^,]+(,.*)$/;

/** A listing of a home: dirs and files with modes; Maildir message names reduced to their S=/W= part plus a content hash. */
export function snapshot(root: string): string[] {
  const lines: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      if (isDovecotIndexFile(name) || isRootMaildirfolder(dir, name)) continue;
      const path = join(dir, name);
      const stat = lstatSync(path);
      const mode = (stat.mode & 0o7777).toString(8);
      const owner = stat.uid === mailUid ? 'mail' : String(stat.uid);
      if (stat.isDirectory()) {
        lines.push(`d ${relative(root, dir) || '.'}/${name} ${mode} ${owner}`);
        walk(path);
      } else {
        const content = readFileSync(path);
        const message = MAILDIR_MESSAGE.exec(name);
        const shown = message ? `<msg>${message[1]}` : name;
        const digest = createHash('sha256').update(content).digest('hex').slice(0, 12);
        const text = !message && content.length < 200 ? JSON.stringify(content.toString('latin1')) : digest;
        lines.push(`f ${relative(root, dir) || '.'}/${shown} ${mode} ${owner} ${text}`);
      }
    }
  };
  if (existsSync(root)) walk(root);
  return lines.sort();
}

export class CompatSuite {
  readonly base: string;
  private readonly dovecotConf: string;
  private readonly dovecotUsers: string;
  private masterRunning = false;
  private usersWrittenInSecond = 0;

  constructor() {
    this.base = `/tmp/dovetail-compat-${process.pid}`;
    rmSync(this.base, { recursive: true, force: true });
    mkdirSync(join(this.base, 'run'), { recursive: true });
    chmodSync(this.base, 0o755);
    this.dovecotUsers = join(this.base, 'master-users');
    writeFileSync(this.dovecotUsers, '');
    this.dovecotConf = join(this.base, 'master.conf');
    writeFileSync(
      this.dovecotConf,
      [
        `base_dir = ${this.base}/run`,
        `state_dir = ${this.base}/run`,
        'protocols =',
        'ssl = no',
        `log_path = ${this.base}/master.log`,
        'passdb {',
        '  driver = static',
        '  args = nopassword=y',
        '}',
        'userdb {',
        '  driver = passwd-file',
        `  args = ${this.dovecotUsers}`,
        '}',
        '',
      ].join('\n'),
    );
  }

  /** Starts Dovecot's master (for its auth service) on first use. */
  private ensureMaster(): void {
    if (this.masterRunning) return;
    // The master daemonizes; its children would hold a stdout pipe open forever.
    const started = spawnSync('dovecot', ['-c', this.dovecotConf], { stdio: 'ignore' });
    if (started.status !== 0) throw new Error(`dovecot -c ${this.dovecotConf} failed with status ${started.status}`);
    for (let i = 0; i < 50 && !existsSync(join(this.base, 'run', 'auth-userdb')); i++) spawnSync('sleep', ['0.1']);
    this.masterRunning = true;
  }

  stop(): void {
    if (this.masterRunning) spawnSync('doveadm', ['-c', this.dovecotConf, 'stop'], { stdio: 'ignore' });
    this.masterRunning = false;
    rmSync(this.base, { recursive: true, force: true });
  }

  run(testCase: CompatCase, side: Side, index: number): SideResult {
    const dir = join(this.base, `case${index}`, side);
    const home = join(dir, 'home');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(home, { recursive: true, mode: 0o755 });
    chmodSync(dir, 0o755);
    chownSync(home, mailUid!, mailGid!);
    const fill = (text: string) => text.replaceAll('{HOME}', home).replaceAll('{DIR}', dir);
    const users = (testCase.users ?? [`${MAIL_USER}@example.org::${mailUid}:${mailGid}::{HOME}::`]).map(fill).join('\n') + '\n';
    const usersFile = join(dir, 'users');
    writeFileSync(usersFile, users);
    const logFile = join(dir, 'mail.log');
    writeFileSync(logFile, '');
    chownSync(logFile, mailUid!, mailGid!);
    const config = [
      `base_dir = ${this.base}/run`,
      ...baseConfigLines(logFile, usersFile),
      ...(testCase.config ?? []).map(fill),
      '',
    ].join('\n');
    const configFile = join(dir, 'dovecot.conf');
    writeFileSync(configFile, config, { mode: 0o644 });
    testCase.setup?.(home, dir);

    if (side === 'dovecot' && testCase.as === 'root') {
      // Dovecot's auth checks a passwd-file for changes at most once a second:
      // wait for the next second, or it answers with the last case's users.
      const second = Math.floor(Date.now() / 1000);
      while (this.usersWrittenInSecond === second && Math.floor(Date.now() / 1000) === second) spawnSync('sleep', ['0.05']);
      writeFileSync(this.dovecotUsers, users);
      this.usersWrittenInSecond = Math.floor(Date.now() / 1000);
      this.ensureMaster();
    }
    const program = side === 'dovecot' ? DOVECOT_LDA : DOVETAIL;
    const args = [...(testCase.noConfig ? [] : ['-c', configFile]), ...testCase.args.map(fill)];
    const env: Record<string, string> = { PATH: '/usr/bin:/bin' };
    if (testCase.as === 'user') Object.assign(env, { HOME: home, USER: MAIL_USER });
    const result = spawnSync(program, args, {
      input: testCase.input,
      env,
      encoding: 'utf8',
      timeout: 20_000,
      ...(testCase.as === 'user' ? { uid: mailUid!, gid: mailGid! } : {}),
    });
    return { status: result.status, stderr: result.stderr, tree: snapshot(home) };
  }
}
