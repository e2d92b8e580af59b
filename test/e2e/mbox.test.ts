// mbox delivery end to end, as Postfix runs it: many deliveries at once into one
// file, a file-size limit mid-write, locks held by other programs (liblockfile's
// dotlockfile, fcntl, flock), stale and never-released dotlocks, a privileged
// spool group, paths that are not one plain mbox file, and SIGTERM while waiting.
// Every failure must leave the mbox byte-identical, with no lock of ours left.
//
// DOVETAIL_E2E_LDA=dovecot runs the same scenarios through Debian's
// dovecot-lda, which checks the tests themselves; where Dovetail differs on
// purpose, a constant below names the difference and the test follows it.

import { describe, it, expect, beforeAll, afterAll, beforeEach, afterEach } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createHash } from 'node:crypto';
import { DOVETAIL, MAIL_USER, baseConfigLines, e2eUnavailable, mailGid, mailUid, makeSandbox, startDelivery, type Delivery, type Sandbox, type StartOptions, type StartedDelivery } from './harness.js';
import { startDovecotMaster, type DovecotMaster } from '../helpers/dovecot-master.js';
import { parseMessage, splitMbox, type MboxRecord } from '../compat/mbox-reader.js';

const DOVECOT_LDA = '/usr/lib/dovecot/dovecot-lda';
const AGAINST_DOVECOT = process.env.DOVETAIL_E2E_LDA === 'dovecot';
const PROGRAM = AGAINST_DOVECOT ? DOVECOT_LDA : DOVETAIL;
// Where the two differ on purpose:
/** Dovetail quotes `>*From ` lines (mboxrd); dovecot-lda relies on Content-Length alone. */
const QUOTES_FROM_LINES = !AGAINST_DOVECOT;
/** dovecot-lda also rewrites bookkeeping headers (X-IMAPbase, X-UID) of earlier messages; Dovetail only appends. */
const ONLY_APPENDS = !AGAINST_DOVECOT;
/** dovecot-lda trusts a dotlock younger than 2 s without checking its pid, then backs off: 2.5 to 3.5 s in all. */
const FRESH_STALE_LOCK_LIMIT_MS = AGAINST_DOVECOT ? 5000 : 3000;
/** dovecot-lda's lock timeout ends at a whole second of time(): a 2 s timeout gives up after 1 to 2 s. */
const TWO_SECOND_TIMEOUT_FLOOR_MS = AGAINST_DOVECOT ? 1000 : 1900;
/** dovecot-lda ignores SIGTERM while it waits for a lock and delivers once the lock goes away. */
const DEFERS_ON_SIGTERM = !AGAINST_DOVECOT;
const USER = `${MAIL_USER}@example.org`;
const MAIL_GROUP = 'mail';
const mailGroupGid = Number(spawnSync('getent', ['group', MAIL_GROUP], { encoding: 'utf8' }).stdout.split(':')[2]);

const unavailable =
  e2eUnavailable ?? (AGAINST_DOVECOT && !existsSync(DOVECOT_LDA) ? `${DOVECOT_LDA} is not installed` : undefined);

// ---------------------------------------------------------------------------
// Deliveries by the program under test, started without waiting

const startUnderTest = (args: string[], options: StartOptions): StartedDelivery => startDelivery(args, { ...options, program: PROGRAM });

const deliver = (args: string[], options: StartOptions): Promise<Delivery> => startUnderTest(args, options).finished;

// ---------------------------------------------------------------------------
// Other programs holding the mbox lock

interface Holder {
  /** when the holder said it had the lock */
  lockedAt: number;
  /** what the holder printed after "locked" (the mbox size just before it let go), once it has exited */
  exited: Promise<string>;
  /** kills the holder and whatever it started */
  kill(): void;
}

/** Runs a command that takes a lock, prints "locked", and later lets go; resolves once it holds the lock. */
function hold(command: string, args: string[]): Promise<Holder> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
  let output = '';
  const exited = new Promise<string>((resolve) => child.on('close', () => resolve(output.replace(/^locked\n/, ''))));
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
  };
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      const wasLocked = output.startsWith('locked\n');
      output += chunk;
      if (!wasLocked && output.startsWith('locked\n')) resolve({ lockedAt: performance.now(), exited, kill });
    });
    void exited.then(() => reject(new Error(`${command} ${args.join(' ')} exited before it held the lock`)));
  });
}

/** A shell snippet for a holder: announce the lock, keep it SECONDS, then print the mbox size it saw last. */
const holdThenReportSize = (mbox: string, seconds: number) => `echo locked; sleep ${seconds}; stat -c %s '${mbox}'`;

/** liblockfile's dotlockfile: MBOX.lock holding dotlockfile's own (live) pid, removed after SECONDS. */
const holdDotlockfile = (mbox: string, seconds: number) =>
  hold('dotlockfile', ['-l', '-p', `${mbox}.lock`, 'sh', '-c', holdThenReportSize(mbox, seconds)]);

/** util-linux flock(1) on the mbox itself. */
const holdFlock = (mbox: string, seconds: number) => hold('flock', ['-x', mbox, 'sh', '-c', holdThenReportSize(mbox, seconds)]);

/** A POSIX record lock (fcntl F_SETLKW through lockf) over the whole mbox. */
const holdFcntl = (mbox: string, seconds: number) =>
  hold('python3', [
    '-c',
    [
      'import fcntl, os, sys, time',
      "f = open(sys.argv[1], 'r+')",
      'fcntl.lockf(f, fcntl.LOCK_EX)',
      "print('locked', flush=True)",
      'time.sleep(float(sys.argv[2]))',
      'print(os.fstat(f.fileno()).st_size, flush=True)',
    ].join('\n'),
    mbox,
    String(seconds),
  ]);

/** A process that sleeps until killed: its pid is alive for as long as the test needs. */
function sleeper(): ChildProcess {
  return spawn('sleep', ['600'], { stdio: 'ignore' });
}

/** The pid of a process that has exited. */
function deadPid(): number {
  const child = spawnSync('sh', ['-c', 'echo $$']);
  return Number(child.stdout.toString().trim());
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let waited = 0; !condition(); waited += 20) {
    if (waited > 10_000) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

// ---------------------------------------------------------------------------
// Reading an mbox back

/** A message as a reader found it in the mbox. */
type MboxMessage = Pick<MboxRecord, 'fromLine' | 'fields' | 'body'>;

/** Each message followed by its separator line, as it stands in the mbox. */
const asStored = (message: MboxMessage) =>
  Buffer.concat([Buffer.from([message.fromLine, ...message.fields, '', ''].join('\n'), 'latin1'), message.body, Buffer.from('\n')]);

/**
 * Splits the way Dovecot and mutt do (../compat/mbox-reader.ts), and checks that
 * every message is delimited by its Content-Length and followed by one separator line.
 */
function splitCheckingContentLength(mbox: Buffer): MboxRecord[] {
  const messages = splitMbox(mbox);
  expect(messages.map((message) => message.contentLength), 'the Content-Length of each message').toEqual(messages.map(() => 'used'));
  expect(Buffer.concat(messages.map(asStored)).equals(mbox), 'the mbox is its messages and their separator lines').toBe(true);
  return messages;
}

/** Splits the way Python's mailbox.mbox and formail do: at every line that starts with "From ". */
function splitOnFromLines(mbox: Buffer): MboxMessage[] {
  const text = mbox.toString('latin1');
  const starts = [...text.matchAll(/^From /gm)].map((match) => match.index);
  return starts.map((start, i) => {
    const chunk = text.slice(start, starts[i + 1] ?? text.length);
    const fromEnd = chunk.indexOf('\n');
    const message = Buffer.from(chunk.slice(fromEnd + 1, -1), 'latin1'); // minus the separator line
    return { fromLine: chunk.slice(0, fromEnd), ...parseMessage(message) };
  });
}

/** mboxrd: one more ">" on every line that matches ^>*From . */
const quoteFromLines = (text: string) => text.replace(/^(>*From )/gm, '>$1');

/** A short, comparable view of a message: From_ line, headers, and the body's digest. */
const summary = (message: MboxMessage) =>
  `${message.fromLine}\n${message.fields.join('\n')}\n${createHash('sha256').update(message.body).digest('hex')}`;

const markerOf = (message: MboxMessage) => /^X-Marker: (\S+)$/m.exec(message.fields.join('\n'))?.[1];

// ---------------------------------------------------------------------------
// dovecot-lda -d asks Dovecot's auth service for the user: one master for the file

/** Starts a master in DIR that answers for USER, whose users file and home are in DIR too. */
function startAuth(dir: string): DovecotMaster {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'home'), { recursive: true });
  chmodSync(dir, 0o755);
  chownSync(join(dir, 'home'), mailUid!, mailGid!);
  const usersFile = join(dir, 'users');
  writeFileSync(usersFile, `${USER}::${mailUid}:${mailGid}::${dir}/home::\n`);
  // dovecot-lda running as the mail user reports to the stats service; an unreachable one is an error on stderr
  const stats = ['service stats {', 'unix_listener stats-writer {', 'mode = 0666', '}', '}'];
  return startDovecotMaster({ runDir: dir, usersFile, extraConfig: stats });
}

// ---------------------------------------------------------------------------

describe.skipIf(unavailable !== undefined)(`mbox delivery with ${AGAINST_DOVECOT ? 'dovecot-lda' : 'dovetail'}${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  const authDir = `/tmp/dovetail-e2e-mbox-${process.pid}`;
  let auth: DovecotMaster | undefined;
  let box: Sandbox;
  let spool: string;
  let inbox: string;
  let config: string;

  beforeAll(() => {
    if (AGAINST_DOVECOT) auth = startAuth(authDir);
  });
  afterAll(() => {
    auth?.stop();
    rmSync(authDir, { recursive: true, force: true });
  });

  beforeEach(() => {
    box = makeSandbox();
    spool = join(box.dir, 'spool');
    mkdirSync(spool);
    chownSync(spool, mailUid!, mailGid!);
    inbox = join(spool, MAIL_USER);
    config = writeConfig(`mail_location = mbox:~/mail:INBOX=${spool}/%n`);
  });
  afterEach(() => box.cleanup());

  /** dovecot.conf: the common lines, then EXTRA (later lines win). */
  function writeConfig(...extra: string[]): string {
    const logFile = box.file('dovetail.log', '');
    chownSync(logFile, mailUid!, mailGid!);
    const usersFile = box.file('users', `${USER}::${mailUid}:${mailGid}::${box.home}::\n`);
    const lines = [...baseConfigLines(logFile, usersFile), ...(auth ? [`base_dir = ${auth.baseDir}`] : []), ...extra, ''];
    return box.file('dovecot.conf', lines.join('\n'));
  }

  const asUser = () => ({ asMailUser: { home: box.home } });

  const message = (marker: string, body = 'body line\n') =>
    `From: a@example.org\nSubject: ${marker}\nMessage-ID: <${marker}@example.org>\nX-Marker: ${marker}\n\n${body}`;

  /** An mbox holding one message ("old"), delivered by the program under test, then moved to PATH. */
  async function deliveredMbox(path = inbox): Promise<Buffer> {
    const result = await deliver(['-c', config, '-f', 'old@example.org'], { input: message('old'), ...asUser() });
    expect(result.status, `the delivery that sets up the mbox: ${result.stderr}`).toBe(0);
    if (path !== inbox) renameSync(inbox, path);
    return readFileSync(path);
  }

  /** The mbox holds what it held BEFORE, then one message with MARKER. */
  function expectAppended(path: string, before: Buffer, marker: string): void {
    const after = readFileSync(path);
    expect(splitCheckingContentLength(after).map(markerOf)).toEqual([...splitCheckingContentLength(before).map(markerOf), marker]);
    if (ONLY_APPENDS) expect(after.subarray(0, before.length)).toEqual(before);
  }

  it('40 parallel deliveries: 40 intact, distinct messages, the same whichever way the mbox is split', { timeout: 120_000 }, async () => {
    const bodyOf = (i: number) =>
      `From the desk of sender ${i}\n>From a line quoted already\n` +
      Array.from({ length: 200 + i * 50 }, (_, line) => `message ${i} line ${line} ${'x'.repeat(40)}\n`).join('');
    const inputs = Array.from({ length: 40 }, (_, i) => message(String(i), bodyOf(i)));
    const results = await Promise.all(
      inputs.map((input, i) => deliver(['-c', config, '-f', `sender${i}@example.org`], { input, ...asUser() })),
    );
    expect(results.map((result) => [result.status, result.signal, result.stderr])).toEqual(results.map(() => [0, null, '']));

    const mbox = readFileSync(inbox);
    const careful = splitCheckingContentLength(mbox);
    expect(careful.map(markerOf).sort((a, b) => Number(a) - Number(b))).toEqual(inputs.map((_, i) => String(i)));
    for (const stored of careful) {
      const i = Number(markerOf(stored));
      expect(stored.sender).toBe(`sender${i}@example.org`);
      expect(stored.fields.filter((field) => field.startsWith('X-Marker:'))).toHaveLength(1);
      expect(stored.fields).toContain(`Message-ID: <${i}@example.org>`);
      const written = QUOTES_FROM_LINES ? quoteFromLines(bodyOf(i)) : bodyOf(i);
      expect(stored.body.toString('latin1') === written, `body of message ${i}`).toBe(true);
    }
    const naive = splitOnFromLines(mbox);
    if (QUOTES_FROM_LINES) expect(naive.map(summary)).toEqual(careful.map(summary));
    // dovecot-lda leaves "From the desk" unquoted: a From_-only reader finds 80 messages
    else expect(naive).toHaveLength(80);
    expect(readdirSync(spool)).toEqual([MAIL_USER]);
  });

  it('a file-size limit mid-write (mailbox_size_limit): exit 75, the mbox byte-identical, no .lock', async () => {
    const before = await deliveredMbox();
    // under the 128 KiB kept in memory, so the limit hits the mbox itself
    const input = message('big', 'x'.repeat(100_000) + '\n');
    const result = await deliver(['-c', config], { input, ...asUser(), fileSizeLimitBlocks: 64 });
    expect(result.signal).toBeNull();
    expect(result.status).toBe(75);
    expect(readFileSync(inbox)).toEqual(before);
    expect(readdirSync(spool)).toEqual([MAIL_USER]);
  });

  describe('waits for a lock another program holds, and writes only after it is released', () => {
    it.each([
      ['a liblockfile dotlock (dotlockfile -l -p)', [], holdDotlockfile],
      ['an fcntl lock', [], holdFcntl],
      // Dovecot wants the read locks to be a part of the write locks
      ['an flock lock, with mbox_write_locks = dotlock flock', ['-o', 'mbox_read_locks=flock', '-o', 'mbox_write_locks=dotlock flock'], holdFlock],
    ] as const)('%s', async (_name, extraArgs, holdLock) => {
      const before = await deliveredMbox();
      const holder = await holdLock(inbox, 1);
      const result = await deliver(['-c', config, ...extraArgs], { input: message('waited'), ...asUser() });
      const sizeWhenReleased = await holder.exited;
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
      expect(sizeWhenReleased.trim()).toBe(String(before.length)); // nothing written while the lock was held
      expect(result.endedAt - holder.lockedAt).toBeGreaterThanOrEqual(900);
      expectAppended(inbox, before, 'waited');
      expect(readdirSync(spool)).toEqual([MAIL_USER]);
    });
  });

  it('a fresh stale dotlock naming a dead pid on this host is overridden within a few seconds', async () => {
    const before = await deliveredMbox();
    writeFileSync(`${inbox}.lock`, `${deadPid()}:${hostname()}`);
    const result = await deliver(['-c', config], { input: message('after-stale'), ...asUser() });
    expect(result.status).toBe(0);
    expect(result.endedAt - result.startedAt).toBeLessThan(FRESH_STALE_LOCK_LIMIT_MS);
    expectAppended(inbox, before, 'after-stale');
    expect(readdirSync(spool)).toEqual([MAIL_USER]);
  });

  it('a stale dotlock left a minute ago is overridden within a few seconds', async () => {
    const before = await deliveredMbox();
    writeFileSync(`${inbox}.lock`, `${deadPid()}:${hostname()}`);
    const aMinuteAgo = Date.now() / 1000 - 60;
    utimesSync(`${inbox}.lock`, aMinuteAgo, aMinuteAgo);
    const result = await deliver(['-c', config], { input: message('after-old-stale'), ...asUser() });
    expect(result.status).toBe(0);
    expect(result.endedAt - result.startedAt).toBeLessThan(3000);
    expectAppended(inbox, before, 'after-old-stale');
    expect(readdirSync(spool)).toEqual([MAIL_USER]);
  });

  it('a dotlock naming a live pid, with mbox_lock_timeout = 2s: exit 75 after about 2 s, mbox untouched', async () => {
    const before = await deliveredMbox();
    const owner = sleeper();
    try {
      const lock = `${owner.pid}:${hostname()}`;
      writeFileSync(`${inbox}.lock`, lock);
      const result = await deliver(['-c', config, '-o', 'mbox_lock_timeout=2s'], { input: message('never'), ...asUser() });
      expect(result.signal).toBeNull();
      expect(result.status).toBe(75);
      expect(result.endedAt - result.startedAt).toBeGreaterThanOrEqual(TWO_SECOND_TIMEOUT_FLOOR_MS);
      expect(result.endedAt - result.startedAt).toBeLessThan(10_000);
      expect(readFileSync(inbox)).toEqual(before);
      expect(readFileSync(`${inbox}.lock`, 'utf8')).toBe(lock); // the owner's lock is still the owner's
      expect(readdirSync(spool).sort()).toEqual([MAIL_USER, `${MAIL_USER}.lock`]);
    } finally {
      owner.kill();
    }
  });

  describe('missing files', () => {
    it('a missing INBOX is created, 0600 and owned by the user, also when ROOT is missing', async () => {
      const result = await deliver(['-c', config, '-f', 'a@example.org'], { input: message('first'), ...asUser() });
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
      const stat = lstatSync(inbox);
      expect([stat.isFile(), stat.uid, stat.mode & 0o7777]).toEqual([true, mailUid, 0o600]);
      const [stored, ...rest] = splitCheckingContentLength(readFileSync(inbox));
      expect(rest).toEqual([]);
      expect(stored!.sender).toBe('a@example.org');
      expect(stored!.body.toString()).toBe('body line\n');
    });

    it('an mbox that does not end with a newline gets one before the new From_ line', async () => {
      const before = 'From old@example.org  Mon Nov 23 09:00:00 2026\nX-Marker: old\nContent-Length: 8\n\nold body';
      writeFileSync(inbox, before, { mode: 0o600 });
      chownSync(inbox, mailUid!, mailGid!);
      expect((await deliver(['-c', config], { input: message('after-newline'), ...asUser() })).status).toBe(0);
      const after = readFileSync(inbox);
      expect(splitCheckingContentLength(after).map(markerOf)).toEqual(['old', 'after-newline']);
      if (ONLY_APPENDS) expect(after.toString('latin1', 0, before.length + 6)).toBe(`${before}\nFrom `);
    });

    it.each([
      ['Foo', ['Foo']],
      ['Foo/Bar', ['Foo', 'Bar']],
    ])('-m %s with lda_mailbox_autocreate creates the missing ROOT (0700) and the mbox under it', async (name, parts) => {
      const args = ['-c', config, '-o', 'lda_mailbox_autocreate=yes', '-m', name];
      const result = await deliver(args, { input: message('filed'), ...asUser() });
      expect(result.status).toBe(0);
      const root = statSync(join(box.home, 'mail'));
      expect([root.isDirectory(), root.uid, root.mode & 0o7777]).toEqual([true, mailUid, 0o700]);
      const path = join(box.home, 'mail', ...parts);
      const stat = lstatSync(path);
      expect([stat.isFile(), stat.uid]).toEqual([true, mailUid]);
      expect(splitCheckingContentLength(readFileSync(path)).map(markerOf)).toEqual(['filed']);
    });

    it('-m Foo without autocreate falls back to INBOX and creates no ROOT/Foo', async () => {
      expect((await deliver(['-c', config, '-m', 'Foo'], { input: message('fallback'), ...asUser() })).status).toBe(0);
      expect(splitCheckingContentLength(readFileSync(inbox)).map(markerOf)).toEqual(['fallback']);
      expect(existsSync(join(box.home, 'mail', 'Foo'))).toBe(false);
    });
  });

  describe('a spool directory like Debian /var/mail (root:mail 2775)', () => {
    let mailSpool: string;
    let spoolInbox: string;

    beforeEach(() => {
      mailSpool = join(box.dir, 'var-mail');
      mkdirSync(mailSpool);
      chownSync(mailSpool, 0, mailGroupGid);
      chmodSync(mailSpool, 0o2775);
      spoolInbox = join(mailSpool, MAIL_USER);
    });

    const spoolConfig = (...extra: string[]) => writeConfig(`mail_location = mbox:~/mail:INBOX=${mailSpool}/%n`, ...extra);

    it('as root with -d and mail_privileged_group = mail: delivered, the mbox the user\'s and 0600, no .lock', async () => {
      const privileged = spoolConfig(`mail_privileged_group = ${MAIL_GROUP}`);
      for (const marker of ['one', 'two']) {
        const result = await deliver(['-c', privileged, '-d', USER], { input: message(marker) });
        expect(result.stderr).toBe('');
        expect(result.status).toBe(0);
      }
      const stat = lstatSync(spoolInbox);
      expect([stat.isFile(), stat.uid, stat.mode & 0o777]).toEqual([true, mailUid, 0o600]);
      expect(splitCheckingContentLength(readFileSync(spoolInbox)).map(markerOf)).toEqual(['one', 'two']);
      expect(readdirSync(mailSpool)).toEqual([MAIL_USER]);
    });

    it('as root with -d without mail_privileged_group: exit 75, nothing written', async () => {
      const result = await deliver(['-c', spoolConfig(), '-d', USER], { input: message('refused') });
      expect(result.status).toBe(75);
      expect(readdirSync(mailSpool)).toEqual([]);
    });

    it('an existing spool file of the user, delivered as the user without the group: 75, as no dotlock can be made', async () => {
      const before = await deliveredMbox(spoolInbox);
      const result = await deliver(['-c', spoolConfig()], { input: message('no-dotlock'), ...asUser() });
      expect(result.status).toBe(75);
      expect(readFileSync(spoolInbox)).toEqual(before);
      expect(readdirSync(mailSpool)).toEqual([MAIL_USER]);
    });

    it('... unless mbox_write_locks = dotlock_try fcntl', async () => {
      const before = await deliveredMbox(spoolInbox);
      const args = ['-c', spoolConfig(), '-o', 'mbox_write_locks=dotlock_try fcntl'];
      const result = await deliver(args, { input: message('dotlock-try'), ...asUser() });
      expect(result.status).toBe(0);
      expectAppended(spoolInbox, before, 'dotlock-try');
      expect(readdirSync(mailSpool)).toEqual([MAIL_USER]);
    });
  });

  // Dovetail follows dovecot-lda here (docs/compatibility.md, "mbox locks"): the file is written as the user,
  // never with more rights, so a symlink or a second hard link reaches nothing the user could not write anyway.
  describe('an mbox path that is not one plain file', () => {
    it('a symlink to another file: written through, the symlink left as it is', async () => {
      const target = join(box.dir, 'elsewhere');
      const before = await deliveredMbox(target);
      symlinkSync(target, inbox);
      const result = await deliver(['-c', config], { input: message('via-symlink'), ...asUser() });
      expect(result.status).toBe(0);
      expectAppended(target, before, 'via-symlink');
      expect(lstatSync(inbox).isSymbolicLink()).toBe(true);
      expect(readdirSync(spool)).toEqual([MAIL_USER]);
    });

    it('a file with two hard links: written, and seen through both names', async () => {
      const before = await deliveredMbox();
      const secondName = join(box.dir, 'second-link');
      linkSync(inbox, secondName);
      const result = await deliver(['-c', config], { input: message('two-links'), ...asUser() });
      expect(result.status).toBe(0);
      expectAppended(secondName, before, 'two-links');
      expect(statSync(inbox).ino).toBe(statSync(secondName).ino);
      expect(readdirSync(spool)).toEqual([MAIL_USER]);
    });

    it('a directory: exit 75, nothing written into it', async () => {
      mkdirSync(inbox);
      chownSync(inbox, mailUid!, mailGid!);
      const result = await deliver(['-c', config], { input: message('into-dir'), ...asUser() });
      expect(result.status).toBe(75);
      expect(readdirSync(inbox)).toEqual([]);
      expect(readdirSync(spool)).toEqual([MAIL_USER]);
    });

    it('a file that does not start with a From_ line: exit 75, untouched', async () => {
      const notMbox = 'just some notes\nFrom me to you\n';
      writeFileSync(inbox, notMbox, { mode: 0o600 });
      chownSync(inbox, mailUid!, mailGid!);
      const result = await deliver(['-c', config], { input: message('into-notes'), ...asUser() });
      expect(result.status).toBe(75);
      expect(readFileSync(inbox, 'utf8')).toBe(notMbox);
      expect(readdirSync(spool)).toEqual([MAIL_USER]);
    });
  });

  describe.skipIf(!DEFERS_ON_SIGTERM)('SIGTERM while waiting for a lock: exit 75, no lock of ours left, mbox untouched', () => {
    it('waiting for fcntl with our dotlock taken: the dotlock goes away', async () => {
      const before = await deliveredMbox();
      const holder = await holdFcntl(inbox, 30);
      try {
        const { child, finished } = startUnderTest(['-c', config], { input: message('terminated'), ...asUser() });
        const ours = `${child.pid}:${hostname()}`;
        await until(() => existsSync(`${inbox}.lock`) && readFileSync(`${inbox}.lock`, 'utf8') === ours, "the delivery's dotlock");
        child.kill('SIGTERM');
        const result = await finished;
        expect(result.signal).toBeNull();
        expect(result.status).toBe(75);
        expect(readdirSync(spool)).toEqual([MAIL_USER]);
        expect(readFileSync(inbox)).toEqual(before);
      } finally {
        holder.kill();
      }
    });

    it("waiting for someone else's dotlock: theirs stays", async () => {
      const before = await deliveredMbox();
      const holder = await holdDotlockfile(inbox, 30);
      try {
        const lock = readFileSync(`${inbox}.lock`);
        const { child, finished } = startUnderTest(['-c', config], { input: message('terminated'), ...asUser() });
        await new Promise((resolve) => setTimeout(resolve, 1500)); // started, read its input, waiting for the lock
        child.kill('SIGTERM');
        const result = await finished;
        expect(result.signal).toBeNull();
        expect(result.status).toBe(75);
        expect(readFileSync(`${inbox}.lock`)).toEqual(lock);
        expect(readdirSync(spool).sort()).toEqual([MAIL_USER, `${MAIL_USER}.lock`]);
        expect(readFileSync(inbox)).toEqual(before);
      } finally {
        holder.kill();
      }
    });
  });
});
