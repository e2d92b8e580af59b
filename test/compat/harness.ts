// Side-by-side runs: the same case (config, arguments, input, user) through
// Debian's dovecot-lda and through bin/dovetail (or another Dovetail program
// a suite names, such as the single executable dist/dovetail), each against its own fresh
// home owned by the mail user, then a comparison of exit codes and of what
// landed on disk. An mbox file is compared message by message, as a careful
// reader splits it (./mbox-reader.ts), without Dovecot's bookkeeping headers
// and index directories. For -d cases, dovecot-lda needs Dovecot's auth
// service: one master (../helpers/dovecot-master.ts) runs for the whole suite
// from the first such case on, its userdb a passwd-file that each case rewrites;
// a case with its own userdb blocks (e.g. `driver = sql`) or auth settings
// gets a master started with them (the one before it terminated, as it takes
// seconds to exit: each master has its own base_dir), and its userdb blocks
// replace the passwd-file block in the case's config too.
// A case with a Sieve script also enables Pigeonhole's plugin and points
// sendmail_path at a recording script (test/fixtures/sieve/compat/sendmail),
// as does a case with recordSent (a quota rejection);
// what it recorded is compared as a normalised description of each message.

import { expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync, chownSync, readdirSync, lstatSync, readFileSync, readlinkSync, rmSync, existsSync, chmodSync, copyFileSync, type Stats } from 'node:fs';
import { join, relative, basename, resolve } from 'node:path';
import { hostname } from 'node:os';
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
  /**
   * userdb blocks (config lines, {HOME} {DIR} replaced per side) in place of
   * the passwd-file one, in the case's config and, for a -d case, in the
   * config of Dovecot's auth service (its master restarted with them)
   */
  userdb?: string[];
  /** auth settings (auth_username_format, …) in the case's config and in Dovecot's auth service's */
  authSettings?: string[];
  /** prepares the side's home before the run (runs as root; chown what you create) */
  setup?: (home: string, dir: string) => void;
  /**
   * runs right before the delivery, after setup and after Dovecot's master has
   * started (as root); authSocket is that master's auth-userdb socket on
   * Dovecot's side of a -d case (for a lookup with `doveadm user -a`), else undefined
   */
  beforeDelivery?: (home: string, dir: string, authSocket: string | undefined) => void;
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
  /**
   * The user's active Sieve script, written to {HOME}/.dovecot.sieve (owned by the
   * mail user). This or any other sieve* field (or personalScripts) enables Sieve:
   * `mail_plugins = $mail_plugins sieve` in protocol lda {}, `sendmail_path =
   * {DIR}/sendmail` (the recording script) and a plugin {} block with
   * `sieve = file:~/sieve;active=~/.dovecot.sieve`.
   */
  sieve?: string;
  /** scripts written to {DIR}/before1.sieve, … and named in sieve_before, sieve_before2, … */
  sieveBefore?: string[];
  /** scripts written to {DIR}/after1.sieve, … and named in sieve_after, sieve_after2, … */
  sieveAfter?: string[];
  /** a script written to {DIR}/default.sieve and named in sieve_default */
  sieveDefault?: string;
  /** files {DIR}/sieve-global/NAME.sieve; sieve_global names that directory (include :global) */
  sieveGlobal?: Record<string, string>;
  /** files {HOME}/sieve/NAME.sieve owned by the mail user (include :personal); {} makes only the directory */
  personalScripts?: Record<string, string>;
  /** extra lines inside plugin {} ({HOME} {DIR} are replaced) */
  sieveSettings?: string[];
  /** the recording sendmail exits with this status (75: temporary, other: permanent failure) */
  sendmailExit?: number;
  /** deliveries of the same input, one after the other in the same home (duplicate, vacation periods); default 1 */
  repeat?: number;
  /**
   * point sendmail_path at the recording script without enabling Sieve (a
   * quota rejection); a Sieve case records anyway
   */
  recordSent?: boolean;
}

export interface SideResult {
  /** the exit status of the last delivery */
  status: number | null;
  /** the exit status of every delivery, in order (one unless the case repeats) */
  statuses: (number | null)[];
  /** stderr of the last delivery */
  stderr: string;
  /** what landed, normalised so that both sides can be compared */
  tree: string[];
  /** what the recording sendmail was given, normalised (describeSentMessage); empty unless the case uses Sieve or recordSent */
  sent: string[];
  /** the side's home, as the run left it (removed when the same case runs again on this side, or at stop()) */
  home: string;
  /** the side's directory (config, users, log; {DIR} of the case) */
  dir: string;
  /** the side's log_path file after all deliveries (not compared: for reading) */
  log: string;
  /** the Sieve user log's text, "" when there is none (not compared: for reading) */
  sieveLog: string;
  /** what Dovecot's master (its auth service) logged during a -d run on Dovecot's side, else "" (not compared: for reading) */
  authLog: string;
}

const RECORDING_SENDMAIL = resolve(__dirname, '../fixtures/sieve/compat/sendmail');

/** Whether the case runs Pigeonhole's Sieve plugin (and Dovetail's Sieve). */
export function usesSieve(testCase: CompatCase): boolean {
  return [testCase.sieve, testCase.sieveBefore, testCase.sieveAfter, testCase.sieveDefault, testCase.sieveGlobal, testCase.personalScripts, testCase.sieveSettings].some(
    (field) => field !== undefined,
  );
}

/**
 * Sieve files that differ by implementation and are not compared: compiled
 * binaries (Pigeonhole's NAME.svbin, Dovetail's NAME.dvbin) and the state of
 * duplicate and vacation tracking (Pigeonhole's .dovecot.lda-dupes and its
 * lock directory .dovecot.lda-dupes.locks, Dovetail's .dovetail.sieve-state).
 * What the state does shows in the cases that deliver twice.
 */
const SIEVE_IMPLEMENTATION_FILES = new Set(['.dovecot.lda-dupes', '.dovecot.lda-dupes.locks', '.dovetail.sieve-state']);

function isSieveImplementationFile(name: string): boolean {
  return name.endsWith('.svbin') || name.endsWith('.dvbin') || SIEVE_IMPLEMENTATION_FILES.has(name);
}

/** The Sieve user log: compared by presence only, as its wording is each implementation's own. */
const SIEVE_USER_LOG = '.dovecot.sieve.log';

/**
 * Dovecot's own bookkeeping that other Maildir readers do not need (docs/compatibility.md).
 * dovecot-keywords is compared: it names the keyword letters in Maildir file names.
 */
function isDovecotIndexFile(name: string): boolean {
  return name.startsWith('dovecot') && name !== 'dovecot.conf' && name !== 'dovecot-keywords';
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

/** A compared field as shown: the flag fields without trailing blanks (Dovecot pads X-Keywords to rewrite it in place). */
function shownField(field: string): string {
  return BOOKKEEPING_FIELD.test(field) ? field.trimEnd() : field;
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
    `${prefix} header ${JSON.stringify(record.fields.filter(isComparedField).map(shownField))}`,
    `${prefix} body ${record.body.length} bytes ${body}`,
  ];
}

/** How snapshot() shows message files. */
export interface SnapshotOptions {
  /**
   * applied to a Maildir message's or an mbox file's content before it is
   * shown or hashed (e.g. to replace the date and id of a Received field);
   * Maildir names keep their S=/W= sizes as they are on disk
   */
  normaliseMessage?: (content: Buffer) => Buffer;
  /** a Maildir message under 4000 bytes is shown as its (normalised) text, not only hashed */
  messageText?: boolean;
}

/** Lines for one non-directory entry: its mode and owner (and group for an mbox), then its messages (Maildir name and hash, or mbox records) or content. */
function fileLines(shownPath: string, path: string, name: string, options: SnapshotOptions = {}): string[] {
  const stat = lstatSync(path);
  const mode = modeOf(stat);
  const owner = idName(stat.uid, mailUid);
  const raw = stat.isSymbolicLink() ? Buffer.from(`-> ${readlinkSync(path)}`) : readFileSync(path);
  const message = MAILDIR_MESSAGE.exec(name);
  const content = (message || isMbox(raw)) && options.normaliseMessage ? options.normaliseMessage(raw) : raw;
  if (message) {
    const line = `f ${shownPath.slice(0, -name.length)}<msg>${message[1]} ${mode} ${owner} ${shortDigest(content)}`;
    return options.messageText && content.length < 4000 ? [`${line} ${JSON.stringify(content.toString('latin1'))}`] : [line];
  }
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
 * starts with "From ") as their messages. Dovecot's index files are left out,
 * as are Sieve binaries and duplicate/vacation state (isSieveImplementationFile);
 * the Sieve user log is listed by presence only.
 */
export function snapshot(root: string, options: SnapshotOptions = {}): string[] {
  const lines: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (isDovecotIndexFile(name) || isDovecotIndexDirectory(path, name) || isRootMaildirfolder(dir, name) || isSieveImplementationFile(name)) continue;
      const shownPath = `${relative(root, dir) || '.'}/${name}`;
      const stat = lstatSync(path);
      if (name === SIEVE_USER_LOG) {
        lines.push(`f ${shownPath} present`);
      } else if (stat.isDirectory()) {
        lines.push(`d ${shownPath} ${modeOf(stat)} ${idName(stat.uid, mailUid)}`);
        walk(path);
      } else {
        lines.push(...fileLines(shownPath, path, name, options));
      }
    }
  };
  if (existsSync(root)) walk(root);
  return lines.sort();
}

/**
 * Where each message of a snapshot landed, one entry per message, sorted:
 * a Maildir message as its directory and flag letters ("Maildir/.work/cur FS",
 * "Maildir/new"), an mbox message as the file and its non-empty flag fields
 * ("inbox Status: RO|X-Status: F").
 */
export function landedMessages(tree: string[]): string[] {
  const landed: string[] = [];
  for (const line of tree) {
    const maildir = /^f (?:\.\/)?(.*)\/<msg>,[^:\s]*(?::2,(\S*))? /.exec(line);
    if (maildir) landed.push(maildir[2] ? `${maildir[1]} ${maildir[2]}` : maildir[1]);
    const mbox = /^m (?:\.\/)?(.*) #\d+ header (\[.*\])$/.exec(line);
    if (mbox) {
      const flags = (JSON.parse(mbox[2]) as string[]).filter((field) => /^(status|x-status|x-keywords):/i.test(field));
      landed.push(flags.length ? `${mbox[1]} ${flags.join('|')}` : mbox[1]);
    }
  }
  return landed.sort();
}

/** A spool file and its dotlock, listed as spool/NAME and spool/NAME.lock. */
function spoolSnapshot(file: string): string[] {
  return [file, `${file}.lock`].filter((path) => existsSync(path)).flatMap((path) => fileLines(`spool/${basename(path)}`, path, basename(path)));
}

function removeSpoolFile(file: string): void {
  for (const path of [file, `${file}.lock`]) rmSync(path, { force: true });
}

/** Header fields shown with their (unfolded, decoded) value; other fields are shown by name only, except those shown by shape. */
const SHOWN_FIELDS = new Set([
  'from', 'sender', 'reply-to', 'to', 'cc', 'bcc', 'subject', 'auto-submitted', 'precedence', 'in-reply-to', 'references',
  'mime-version', 'content-type', 'content-transfer-encoding', 'content-disposition', 'x-sieve-redirected-from', 'x-auto-response-suppress',
]);

const MONTHS = 'Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec';
const RFC5322_DATE = new RegExp(`^(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?\\d{1,2} (?:${MONTHS}) \\d{4} \\d{2}:\\d{2}(?::\\d{2})? [+-]\\d{4}$`);
const MESSAGE_ID = /^<[^<>\s@]+@[^<>\s@]+>$/;
const ENCODED_WORD = /=\?([^?\s]+)\?([bqBQ])\?([^?\s]*)\?=/g;

/** RFC 2047 encoded words decoded (whitespace between two of them dropped); a word in an unknown charset stays as it is. */
function decodeWords(value: string): string {
  return value.replace(/(=\?[^?\s]+\?[bqBQ]\?[^?\s]*\?=)\s+(?==\?)/g, '$1').replace(ENCODED_WORD, (word, charset: string, encoding: string, text: string) => {
    const bytes =
      encoding.toLowerCase() === 'b'
        ? Buffer.from(text, 'base64')
        : Buffer.from(text.replaceAll('_', ' ').replace(/=([0-9a-fA-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1');
    try {
      return new TextDecoder(charset.split('*')[0]).decode(bytes);
    } catch {
      return word;
    }
  });
}

/** This machine's name as a word (not inside "vmail" for a host "vm"), replaced by {HOST}: it shows in generated addresses, ids and boundaries. */
function withoutHostname(text: string): string {
  const name = hostname().replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return text.replace(new RegExp(`(?<![A-Za-z0-9-])${name}(?![A-Za-z0-9-])`, 'g'), '{HOST}');
}

/** One header field as compared: name in lower case, then its value or shape. */
function describeField(name: string, rawValue: string): string {
  const value = rawValue.replace(/\s+/g, ' ').trim();
  if (name === 'date') return `date: ${RFC5322_DATE.test(value) ? '<valid date>' : `malformed ${JSON.stringify(value)}`}`;
  if (name === 'message-id') return `message-id: ${MESSAGE_ID.test(value) ? '<valid id>' : `malformed ${JSON.stringify(value)}`}`;
  if (name === 'x-sieve') return 'x-sieve: present';
  if (!SHOWN_FIELDS.has(name)) return `${name}: …`;
  const shown = name === 'content-type' ? value.replace(/;\s*boundary=("[^"]*"|[^;\s]*)/i, '') : value;
  const decoded = decodeWords(shown);
  return `${name}: ${withoutHostname(decoded)}${decoded === shown ? '' : ' (encoded)'}`;
}

/** Every MIME boundary named in the message, longest first, so that one that contains another is replaced first. */
function boundariesOf(message: string): string[] {
  const found = new Set<string>();
  for (const match of message.matchAll(/boundary=(?:"([^"]+)"|([^\s;]+))/gi)) found.add(match[1] ?? match[2]);
  return [...found].sort((a, b) => b.length - a.length);
}

/** A sent body as lines "PREFIX body| LINE" (control characters escaped), "PREFIX body ends without a newline" when so; a long one as its size and digest. */
function bodyLines(prefix: string, body: string): string[] {
  if (body.length > 4000) return [`${prefix} body ${Buffer.byteLength(body)} bytes ${shortDigest(Buffer.from(body))}`];
  const lines = body.split('\n');
  const last = lines.pop();
  const escape = (line: string) => line.replace(/[\u0000-\u001f\u007f]/g, (char) => `\\x${char.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return [...lines.map((line) => `${prefix} body| ${escape(line)}`), ...(last ? [`${prefix} body| ${escape(last)}`, `${prefix} body ends without a newline`] : [])];
}

/**
 * One message the recording sendmail was given, as lines "sent N ...": its
 * arguments; its header fields sorted by name (same-named ones in their
 * order), unfolded, RFC 2047 words decoded, key fields with their value,
 * Date and Message-ID by shape only, X-Sieve by presence, the others by name;
 * the body with line ends as LF, MIME boundaries as {BOUNDARY1}…, this host's
 * name as {HOST}, line by line up to 4000 characters, else its length and a digest.
 */
export function describeSentMessage(number: number, argv: string[], message: Buffer): string[] {
  const prefix = `sent ${number}`;
  let text = message.toString('utf8').replaceAll('\r\n', '\n');
  boundariesOf(text).forEach((boundary, i) => (text = text.replaceAll(boundary, `{BOUNDARY${i + 1}}`)));
  const end = text.indexOf('\n\n');
  const header = end < 0 ? text : text.slice(0, end + 1);
  const body = withoutHostname(end < 0 ? '' : text.slice(end + 2));
  const fields = header
    .replace(/\n(?=[ \t])/g, '')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const colon = line.indexOf(':');
      return colon < 0 ? { name: `malformed line ${JSON.stringify(line)}`, value: '' } : { name: line.slice(0, colon).trim().toLowerCase(), value: line.slice(colon + 1) };
    });
  const sorted = fields.map((field, order) => ({ ...field, order })).sort((a, b) => (a.name === b.name ? a.order - b.order : a.name < b.name ? -1 : 1));
  return [
    `${prefix} argv ${withoutHostname(JSON.stringify(argv))}`,
    ...sorted.map((field) => `${prefix} ${describeField(field.name, field.value)}`),
    ...bodyLines(prefix, body),
  ];
}

/** What the recording sendmail saved in SENTDIR (NNN.argv, NNN.eml), in order, described. */
export function sentMessages(sentDir: string): string[] {
  if (!existsSync(sentDir)) return [];
  const numbers = readdirSync(sentDir)
    .filter((name) => name.endsWith('.argv'))
    .map((name) => name.slice(0, -'.argv'.length))
    .sort();
  return numbers.flatMap((base, i) => {
    const argv = readFileSync(join(sentDir, `${base}.argv`), 'utf8').split('\0').slice(0, -1);
    const emlPath = join(sentDir, `${base}.eml`);
    return describeSentMessage(i + 1, argv, existsSync(emlPath) ? readFileSync(emlPath) : Buffer.alloc(0));
  });
}

/** Writes a file owned by the mail user. */
function writeUserFile(path: string, content: string): void {
  writeFileSync(path, content, { mode: 0o600 });
  chownSync(path, mailUid!, mailGid!);
}

/** Copies the recording sendmail into DIR (with DIR/sent and the case's exit status) and returns the sendmail_path line naming it. */
function prepareRecordingSendmail(testCase: CompatCase, dir: string): string[] {
  copyFileSync(RECORDING_SENDMAIL, join(dir, 'sendmail'));
  chmodSync(join(dir, 'sendmail'), 0o755);
  mkdirSync(join(dir, 'sent'), { mode: 0o755 });
  chownSync(join(dir, 'sent'), mailUid!, mailGid!);
  if (testCase.sendmailExit !== undefined) writeFileSync(join(dir, 'sendmail-exit'), `${testCase.sendmailExit}\n`, { mode: 0o644 });
  return [`sendmail_path = ${join(dir, 'sendmail')}`];
}

/**
 * Writes the case's Sieve scripts under DIR and HOME, and returns the config
 * lines that enable them.
 */
function prepareSieve(testCase: CompatCase, home: string, dir: string, fill: (text: string) => string): string[] {
  const plugin = ['sieve = file:~/sieve;active=~/.dovecot.sieve'];
  const adminScript = (name: string, source: string) => {
    writeFileSync(join(dir, name), source, { mode: 0o644 });
    return join(dir, name);
  };
  if (testCase.sieve !== undefined) writeUserFile(join(home, '.dovecot.sieve'), testCase.sieve);
  if (testCase.personalScripts !== undefined) {
    mkdirSync(join(home, 'sieve'), { mode: 0o700 });
    chownSync(join(home, 'sieve'), mailUid!, mailGid!);
    for (const [name, source] of Object.entries(testCase.personalScripts)) writeUserFile(join(home, 'sieve', `${name}.sieve`), source);
  }
  testCase.sieveBefore?.forEach((source, i) => plugin.push(`sieve_before${i ? i + 1 : ''} = ${adminScript(`before${i + 1}.sieve`, source)}`));
  testCase.sieveAfter?.forEach((source, i) => plugin.push(`sieve_after${i ? i + 1 : ''} = ${adminScript(`after${i + 1}.sieve`, source)}`));
  if (testCase.sieveDefault !== undefined) plugin.push(`sieve_default = ${adminScript('default.sieve', testCase.sieveDefault)}`);
  if (testCase.sieveGlobal !== undefined) {
    const globalDir = join(dir, 'sieve-global');
    mkdirSync(globalDir, { mode: 0o755 });
    for (const [name, source] of Object.entries(testCase.sieveGlobal)) writeFileSync(join(globalDir, `${name}.sieve`), source, { mode: 0o644 });
    plugin.push(`sieve_global = ${globalDir}`);
  }
  return [
    'protocol lda {',
    '  mail_plugins = $mail_plugins sieve',
    '}',
    'plugin {',
    ...[...plugin, ...(testCase.sieveSettings ?? []).map(fill)].map((line) => `  ${line}`),
    '}',
  ];
}

/** The program and its arguments, behind `ulimit -f` when the case sets a file-size limit (as test/e2e/harness.ts does). */
function commandLine(program: string, args: string[], fileSizeLimitBlocks: number | undefined): [string, string[]] {
  if (fileSizeLimitBlocks === undefined) return [program, args];
  return ['/bin/sh', ['-c', `ulimit -f ${fileSizeLimitBlocks} && exec "$0" "$@"`, program, ...args]];
}

export interface CompatSuiteOptions {
  /** the Dovetail program run beside dovecot-lda; default bin/dovetail */
  dovetail?: string;
}

/** What a Dovecot master's auth service answers from. */
type MasterUserdb = { usersFile: string } | { userdbBlocks: string[] };

export class CompatSuite {
  readonly base: string;
  /** the base_dir of the running Dovecot master or of the next one, named in every case's config */
  private runDir: string;
  private runDirs = 0;
  private readonly dovecotUsers: string;
  private readonly dovetail: string;
  private master: DovecotMaster | undefined;
  /** masters replaced by another: terminated, their exit waited for in stop() */
  private readonly retired: DovecotMaster[] = [];
  /** the userdb and auth config (JSON) of the running master, or of the next one */
  private masterConfig: string | undefined;
  /** when dovecot-lda last had Dovecot's auth look a user up (ms) */
  private lastLookup = 0;

  /** LABEL names the suite's directory (/tmp/dovetail-compat-LABEL-PID), apart from other suites' */
  constructor(label = 'lda', options: CompatSuiteOptions = {}) {
    this.dovetail = options.dovetail ?? DOVETAIL;
    this.base = `/tmp/dovetail-compat-${label}-${process.pid}`;
    rmSync(this.base, { recursive: true, force: true });
    this.runDir = this.newRunDir();
    chmodSync(this.base, 0o755);
    this.dovecotUsers = join(this.base, 'master-users');
    writeFileSync(this.dovecotUsers, '');
  }

  stop(): void {
    for (const master of [...this.retired.splice(0), this.master]) master?.stop();
    this.master = undefined;
    rmSync(this.base, { recursive: true, force: true });
  }

  private newRunDir(): string {
    const runDir = join(this.base, `run${++this.runDirs}`);
    mkdirSync(runDir, { recursive: true });
    return runDir;
  }

  /**
   * Before a -d case's config is written: a running master with another
   * userdb or auth config is terminated and runDir moves on to a fresh
   * directory, where startMaster() starts the next one.
   */
  private planMaster(userdb: MasterUserdb, authSettings: string[]): void {
    const wanted = JSON.stringify([userdb, authSettings]);
    if (wanted === this.masterConfig) return;
    if (this.master !== undefined) {
      this.master.terminate();
      this.retired.push(this.master);
      this.master = undefined;
      this.runDir = this.newRunDir();
    }
    this.masterConfig = wanted;
  }

  /** After the case's setup: the planned master, started unless it runs. */
  private startMaster(userdb: MasterUserdb, authSettings: string[]): void {
    this.master ??= startDovecotMaster({ runDir: this.runDir, ...userdb, extraConfig: authSettings });
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
    const userdbBlocks = testCase.userdb?.map(fill);
    const authSettings = (testCase.authSettings ?? []).map(fill);
    const masterUserdb: MasterUserdb | undefined =
      side !== 'dovecot' || testCase.as !== 'root' ? undefined : userdbBlocks === undefined ? { usersFile: this.dovecotUsers } : { userdbBlocks };
    if (masterUserdb !== undefined) this.planMaster(masterUserdb, authSettings);
    const config = [
      `base_dir = ${this.runDir}`,
      // baseConfigLines with the case's userdb blocks in place of its passwd-file one
      ...(userdbBlocks === undefined ? baseConfigLines(logFile, usersFile) : ['mail_location = maildir:~/Maildir', `log_path = ${logFile}`, ...userdbBlocks]),
      ...authSettings,
      ...(usesSieve(testCase) || testCase.recordSent ? prepareRecordingSendmail(testCase, dir) : []),
      ...(usesSieve(testCase) ? prepareSieve(testCase, home, dir, fill) : []),
      ...(testCase.config ?? []).map(fill),
      '',
    ].join('\n');
    const configFile = join(dir, 'dovecot.conf');
    writeFileSync(configFile, config, { mode: 0o644 });
    const spoolFile = testCase.spoolFile === undefined ? undefined : fill(testCase.spoolFile);
    if (spoolFile !== undefined) removeSpoolFile(spoolFile);
    testCase.setup?.(home, dir);

    const masterLog = join(this.runDir, 'master.log');
    let authLogFrom: number | undefined;
    if (masterUserdb !== undefined) {
      if ('usersFile' in masterUserdb) {
        // Dovecot's auth stats a passwd-file at most once per second of its clock
        // and reloads it when the mtime second or the size changed: write it in a
        // second after the last lookup (with a margin for the coarser file clock),
        // or it answers with the last case's users.
        const nextSecond = (Math.floor(this.lastLookup / 1000) + 1) * 1000 + 50;
        while (Date.now() < nextSecond) spawnSync('sleep', ['0.05']);
        writeFileSync(this.dovecotUsers, users);
      }
      this.startMaster(masterUserdb, authSettings);
      authLogFrom = existsSync(masterLog) ? lstatSync(masterLog).size : 0;
    }
    testCase.beforeDelivery?.(home, dir, masterUserdb === undefined ? undefined : join(this.runDir, 'auth-userdb'));
    const [program, args] = commandLine(side === 'dovecot' ? DOVECOT_LDA : this.dovetail, [
      ...(testCase.noConfig ? [] : ['-c', configFile]),
      ...testCase.args.map(fill),
    ], testCase.fileSizeLimitBlocks);
    const env: Record<string, string> = { PATH: '/usr/bin:/bin' };
    if (testCase.as === 'user') Object.assign(env, { HOME: home, USER: MAIL_USER });
    const statuses: (number | null)[] = [];
    let stderr = '';
    for (let run = 0; run < (testCase.repeat ?? 1); run++) {
      const result = spawnSync(program, args, {
        input: testCase.input,
        env,
        encoding: 'utf8',
        timeout: 20_000,
        ...(testCase.as === 'user' ? { uid: mailUid!, gid: mailGid! } : {}),
      });
      if (side === 'dovecot' && testCase.as === 'root') this.lastLookup = Date.now();
      statuses.push(result.status);
      stderr = result.stderr;
    }
    const tree = snapshot(home);
    if (spoolFile !== undefined) {
      tree.push(...spoolSnapshot(spoolFile));
      removeSpoolFile(spoolFile);
    }
    return {
      status: statuses.at(-1)!,
      statuses,
      stderr,
      tree,
      sent: sentMessages(join(dir, 'sent')),
      home,
      dir,
      log: readFileSync(logFile, 'utf8'),
      sieveLog: existsSync(join(home, SIEVE_USER_LOG)) ? readFileSync(join(home, SIEVE_USER_LOG), 'utf8') : '',
      authLog: authLogFrom === undefined ? '' : readFileSync(masterLog).subarray(authLogFrom).toString('utf8'),
    };
  }
}

/**
 * The tally behind a suite's summary line ("N/M cases identical to
 * dovecot-lda (K intentional differences ...)"). record() counts one compared
 * case; for a documented difference it checks that the difference still
 * exists and answers false: the case's own comparison is then skipped.
 */
export class CompatTally {
  identical = 0;
  intentional = 0;
  total = 0;

  record(testCase: Pick<CompatCase, 'intentional'>, same: boolean): boolean {
    this.total++;
    if (testCase.intentional) {
      this.intentional++;
      expect(same, `documented difference no longer exists: ${testCase.intentional}`).toBe(false);
      return false;
    }
    if (same) this.identical++;
    return true;
  }

  /** "N/M WHAT identical to REFEREE (K intentional differences, see docs/compatibility.md)" */
  line(what: string, referee: string): string {
    return `${this.identical}/${this.total} ${what} identical to ${referee} (${this.intentional} intentional differences, see docs/compatibility.md)`;
  }
}
