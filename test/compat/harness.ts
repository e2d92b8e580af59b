// Side-by-side runs: the same case (config, arguments, input, user) through
// Debian's dovecot-lda and through bin/dovetail, each against its own fresh
// home owned by the mail user, then a comparison of exit codes and of what
// landed on disk. An mbox file is compared message by message, as a careful
// reader splits it (./mbox-reader.ts), without Dovecot's bookkeeping headers
// and index directories. For -d cases, dovecot-lda needs Dovecot's auth
// service: one master (../helpers/dovecot-master.ts) runs for the whole suite
// from the first such case on, its userdb a passwd-file that each case rewrites.

import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync, chownSync, readdirSync, lstatSync, readFileSync, readlinkSync, rmSync, existsSync, chmodSync, type Stats } from 'node:fs';
import { join, relative, basename } from 'node:path';
import { createHash } from 'node:crypto';
import { DOVETAIL, MAIL_USER, mailUid, mailGid, baseConfigLines } from '../e2e/harness.js';
import { startDovecotMaster, type DovecotMaster } from '../helpers/dovecot-master.js';
import { isMbox, splitMbox, type MboxRecord } from './mbox-reader.js';

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
  /** a file-size limit in 512-byte blocks (`ulimit -f`), as Postfix's local(8) sets from mailbox_size_limit */
  fileSizeLimitBlocks?: number;
  /**
   * a file outside the home the case delivers to (e.g. /var/mail/NAME): removed with its
   * NAME.lock before setup and after the run, and listed in the snapshot as spool/NAME
   */
  spoolFile?: string;
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

/**
 * Dovecot's mbox index directories (ROOT/.imap, ROOT/dir/.imap), caches like
 * the Maildir index files, and a directory that holds nothing else: the mbox
 * root Dovecot makes for its index when INBOX is elsewhere (docs/compatibility.md,
 * "Dovecot's index files are not written").
 */
function isDovecotIndexDirectory(path: string, name: string): boolean {
  if (name === '.imap') return true;
  const entries = lstatSync(path).isDirectory() ? readdirSync(path) : [];
  return entries.length === 1 && entries[0] === '.imap';
}

/** Written by Dovecot for its own use; an mbox reader skips them (Status, X-Status and X-Keywords only while empty). */
const BOOKKEEPING_FIELD = /^(x-imapbase|x-uid|status|x-status|x-keywords|content-length):([^]*)$/i;

/**
 * An mbox header field as compared: Dovecot's bookkeeping fields are left
 * out, except Status, X-Status and X-Keywords that carry flags (Dovecot writes
 * them empty for a new mail, so a value is one that came with the input).
 */
function isComparedField(field: string): boolean {
  const match = BOOKKEEPING_FIELD.exec(field);
  if (!match) return true;
  return ['status', 'x-status', 'x-keywords'].includes(match[1].toLowerCase()) && match[2].trim() !== '';
}

function modeOf(stat: Stats): string {
  return (stat.mode & 0o7777).toString(8);
}

/** "mail" for the mail user (or its group), else the number. */
function idName(id: number, mailId: number | undefined): string {
  return id === mailId ? 'mail' : String(id);
}

function shortDigest(content: Buffer): string {
  return createHash('sha256').update(content).digest('hex').slice(0, 12);
}

/** Lines for one mbox message: From_ sender and date shape, Content-Length use, compared header fields, body. */
function mboxRecordLines(shownPath: string, record: MboxRecord, index: number): string[] {
  const prefix = `m ${shownPath} #${String(index + 1).padStart(4, '0')}`;
  const from = record.sender === undefined ? `unexpected From_ line ${JSON.stringify(record.fromLine)}` : `from ${record.sender}, date ok`;
  const lengths = record.fields.filter((field) => /^content-length:/i.test(field)).length;
  const body = record.body.length < 200 ? JSON.stringify(record.body.toString('latin1')) : shortDigest(record.body);
  return [
    `${prefix} ${from}`,
    `${prefix} content-length ${record.contentLength} (${lengths} fields)`,
    `${prefix} header ${JSON.stringify(record.fields.filter(isComparedField))}`,
    `${prefix} body ${record.body.length} bytes ${body}`,
  ];
}

/** Lines for one non-directory entry: its mode and owner (and group for an mbox), then its messages (Maildir name and hash, or mbox records) or content. */
function fileLines(shownPath: string, path: string, name: string): string[] {
  const stat = lstatSync(path);
  const mode = modeOf(stat);
  const owner = idName(stat.uid, mailUid);
  const content = stat.isSymbolicLink() ? Buffer.from(`-> ${readlinkSync(path)}`) : readFileSync(path);
  const message = MAILDIR_MESSAGE.exec(name);
  if (message) return [`f ${shownPath.slice(0, -name.length)}<msg>${message[1]} ${mode} ${owner} ${shortDigest(content)}`];
  if (isMbox(content)) {
    const records = splitMbox(content);
    return [`f ${shownPath} ${mode} ${owner}:${idName(stat.gid, mailGid)} mbox of ${records.length}`, ...records.flatMap((record, i) => mboxRecordLines(shownPath, record, i))];
  }
  const text = content.length < 200 ? JSON.stringify(content.toString('latin1')) : shortDigest(content);
  return [`f ${shownPath} ${mode} ${owner} ${text}`];
}

/**
 * A listing of a home: dirs and files with modes; Maildir message names
 * reduced to their S=/W= part plus a content hash; mbox files (any file that
 * starts with "From ") as their messages. Dovecot's index files are left out.
 */
export function snapshot(root: string): string[] {
  const lines: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (isDovecotIndexFile(name) || isDovecotIndexDirectory(path, name) || isRootMaildirfolder(dir, name)) continue;
      const shownPath = `${relative(root, dir) || '.'}/${name}`;
      const stat = lstatSync(path);
      if (stat.isDirectory()) {
        lines.push(`d ${shownPath} ${modeOf(stat)} ${idName(stat.uid, mailUid)}`);
        walk(path);
      } else {
        lines.push(...fileLines(shownPath, path, name));
      }
    }
  };
  if (existsSync(root)) walk(root);
  return lines.sort();
}

/** A spool file and its dotlock, listed as spool/NAME and spool/NAME.lock. */
function spoolSnapshot(file: string): string[] {
  return [file, `${file}.lock`].filter((path) => existsSync(path)).flatMap((path) => fileLines(`spool/${basename(path)}`, path, basename(path)));
}

function removeSpoolFile(file: string): void {
  for (const path of [file, `${file}.lock`]) rmSync(path, { force: true });
}

/** The program and its arguments, behind `ulimit -f` when the case sets a file-size limit (as test/e2e/harness.ts does). */
function commandLine(program: string, args: string[], fileSizeLimitBlocks: number | undefined): [string, string[]] {
  if (fileSizeLimitBlocks === undefined) return [program, args];
  return ['/bin/sh', ['-c', `ulimit -f ${fileSizeLimitBlocks} && exec "$0" "$@"`, program, ...args]];
}

export class CompatSuite {
  readonly base: string;
  /** the Dovecot master's base_dir, named in every case's config */
  private readonly runDir: string;
  private readonly dovecotUsers: string;
  private master: DovecotMaster | undefined;
  /** when dovecot-lda last had Dovecot's auth look a user up (ms) */
  private lastLookup = 0;

  constructor() {
    this.base = `/tmp/dovetail-compat-${process.pid}`;
    rmSync(this.base, { recursive: true, force: true });
    this.runDir = join(this.base, 'run');
    mkdirSync(this.runDir, { recursive: true });
    chmodSync(this.base, 0o755);
    this.dovecotUsers = join(this.base, 'master-users');
    writeFileSync(this.dovecotUsers, '');
  }

  stop(): void {
    this.master?.stop();
    this.master = undefined;
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
      `base_dir = ${this.runDir}`,
      ...baseConfigLines(logFile, usersFile),
      ...(testCase.config ?? []).map(fill),
      '',
    ].join('\n');
    const configFile = join(dir, 'dovecot.conf');
    writeFileSync(configFile, config, { mode: 0o644 });
    const spoolFile = testCase.spoolFile === undefined ? undefined : fill(testCase.spoolFile);
    if (spoolFile !== undefined) removeSpoolFile(spoolFile);
    testCase.setup?.(home, dir);

    if (side === 'dovecot' && testCase.as === 'root') {
      // Dovecot's auth stats a passwd-file at most once per second of its clock
      // and reloads it when the mtime second or the size changed: write it in a
      // second after the last lookup (with a margin for the coarser file clock),
      // or it answers with the last case's users.
      const nextSecond = (Math.floor(this.lastLookup / 1000) + 1) * 1000 + 50;
      while (Date.now() < nextSecond) spawnSync('sleep', ['0.05']);
      writeFileSync(this.dovecotUsers, users);
      this.master ??= startDovecotMaster({ runDir: this.runDir, usersFile: this.dovecotUsers });
    }
    const [program, args] = commandLine(side === 'dovecot' ? DOVECOT_LDA : DOVETAIL, [
      ...(testCase.noConfig ? [] : ['-c', configFile]),
      ...testCase.args.map(fill),
    ], testCase.fileSizeLimitBlocks);
    const env: Record<string, string> = { PATH: '/usr/bin:/bin' };
    if (testCase.as === 'user') Object.assign(env, { HOME: home, USER: MAIL_USER });
    const result = spawnSync(program, args, {
      input: testCase.input,
      env,
      encoding: 'utf8',
      timeout: 20_000,
      ...(testCase.as === 'user' ? { uid: mailUid!, gid: mailGid! } : {}),
    });
    if (side === 'dovecot' && testCase.as === 'root') this.lastLookup = Date.now();
    const tree = snapshot(home);
    if (spoolFile !== undefined) {
      tree.push(...spoolSnapshot(spoolFile));
      removeSpoolFile(spoolFile);
    }
    return { status: result.status, stderr: result.stderr, tree };
  }
}
