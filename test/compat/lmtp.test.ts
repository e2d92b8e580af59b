// LMTP side by side: each session of ./lmtp-cases.ts is played against
// Dovecot's lmtp (a private master, `dovecot -c CONF`, protocols = lmtp) and
// against `dovetail lmtp -c CONF`, each with its own homes, from configs made
// by one template (dovecotMasterConfig) that differ only in the side's
// directory (base_dir, state_dir, log, users file, homes) and the listener's
// port. Both servers run as the mail user (`service lmtp { user = vmail }`).
// First Dovecot's side must do what the case says (reply codes, where mail
// landed, how much went through sendmail_path), so that a case cannot
// silently test nothing; then Dovetail's transcript (replies with session
// ids as <ID>), homes (Maildir names by S=/W= and flags, message texts with
// the Received date and id normalised, mbox files message by message) and
// sent mail must equal Dovecot's, unless the case names an intentional
// difference (CompatTally).
//
// Dovetail's side is the single executable dist/dovetail (as in the SQL
// suite) when it is at least as new as the last build (dist/dovetail.js),
// else bin/dovetail, which runs that build: `node scripts/build.mjs` alone
// leaves an older single executable behind. The client connects as soon as the
// server's port is in the LISTEN state, as Postfix would. A server that does
// not listen within five seconds, or does not exit within five seconds of
// SIGTERM, fails the case; a session that gets no replies fails after at most
// ten seconds (../helpers/lmtp-client.ts).
//
// DOVETAIL_COMPAT_SIDE=dovecot runs only Dovecot's side and prints each
// result (transcript, homes, sent mail, log) for checking the cases themselves.

import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, relative, resolve } from 'node:path';
import { CompatTally, compatUnavailable, landedMessages, sentMessages, snapshot } from './harness.js';
import { LMTP_CASES, USERS, DOMAIN, type LmtpCase, type LmtpUser } from './lmtp-cases.js';
import { DOVETAIL, MAIL_USER, mailUid, mailGid } from '../e2e/harness.js';
import { dovecotMasterConfig, startDovecotMaster, type DovecotMaster, type DovecotMasterOptions } from '../helpers/dovecot-master.js';
import { describeSent, listening, lmtpConversation, until } from '../helpers/lmtp-client.js';

const onlyDovecot = process.env.DOVETAIL_COMPAT_SIDE === 'dovecot';
const DOVETAIL_EXECUTABLE = resolve(__dirname, '../../dist/dovetail');
const DOVETAIL_BUNDLE = resolve(__dirname, '../../dist/dovetail.js');
const DOVETAIL_PROGRAM =
  existsSync(DOVETAIL_EXECUTABLE) && (!existsSync(DOVETAIL_BUNDLE) || statSync(DOVETAIL_EXECUTABLE).mtimeMs >= statSync(DOVETAIL_BUNDLE).mtimeMs) ? DOVETAIL_EXECUTABLE : DOVETAIL;
const DOVECOT_LMTP = '/usr/lib/dovecot/lmtp';
const PIGEONHOLE_PLUGIN = '/usr/lib/dovecot/modules/lib90_sieve_plugin.so';
const RECORDING_SENDMAIL = resolve(__dirname, '../fixtures/sieve/compat/sendmail');
const HOST = '127.0.0.1';
const WAIT_MS = 5000;

const lmtpUnavailable =
  compatUnavailable ??
  (!existsSync(DOVECOT_LMTP)
    ? "Dovecot's lmtp is not installed (apt-get install dovecot-lmtpd; .ci/run does)"
    : !existsSync(PIGEONHOLE_PLUGIN)
      ? 'Pigeonhole is not installed (apt-get install dovecot-sieve; .ci/run does)'
      : undefined);

type Side = 'dovecot' | 'dovetail';

interface SideResult {
  transcript: string[];
  tree: string[];
  sent: string[];
  /** the server's log_path file (not compared: for reading) */
  log: string;
  /** Dovetail's stderr, "" for Dovecot (not compared: for reading) */
  stderr: string;
}

/** Ports handed out in this run: never twice, as a server told to stop may still hold its port. */
const usedPorts = new Set<number>();

/** A free TCP port on 127.0.0.1, picked at random in 20000-60000. */
async function freePort(): Promise<number> {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 40000);
    if (usedPorts.has(port)) continue;
    usedPorts.add(port);
    const free = await new Promise<boolean>((done) => {
      const probe = createServer();
      probe.once('error', () => done(false));
      probe.listen(port, HOST, () => probe.close(() => done(true)));
    });
    if (free) return port;
  }
}

/** `dovetail lmtp -c CONFIG`, running once it listens on PORT. */
async function startDovetail(config: string, port: number): Promise<{ child: ChildProcess; stderr: () => string }> {
  const child = spawn(DOVETAIL_PROGRAM, ['lmtp', '-c', config], { env: { PATH: '/usr/bin:/bin' }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  let exited = false;
  child.once('exit', () => (exited = true));
  await until(() => listening(port) || exited, `dovetail lmtp to listen on port ${port}`);
  if (exited) throw new Error(`dovetail lmtp exited before it listened: ${stderr}`);
  return { child, stderr: () => stderr };
}

/** SIGTERM, then the exit (at most WAIT_MS); throws when it does not come. */
async function stopDovetail(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  child.kill('SIGTERM');
  const late = await Promise.race([exited.then(() => false), new Promise<boolean>((done) => setTimeout(() => done(true), WAIT_MS))]);
  if (late) {
    child.kill('SIGKILL');
    throw new Error(`dovetail lmtp (pid ${child.pid}) still ran ${WAIT_MS} ms after SIGTERM`);
  }
}

const RECEIVED_ID = /(\r?\n\tid |\\x09id )[A-Za-z0-9+/]{22}(?=[:\r\n]|$)/g;
const RECEIVED_DATE = /; (?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}(?=\r?\n|$)/g;

/** The Received field's id and date, which differ per run: "id <ID>" (":T2" kept), "; <DATE>". */
function normaliseMessage(content: Buffer): Buffer {
  return Buffer.from(content.toString('latin1').replace(RECEIVED_ID, '$1<ID>').replace(RECEIVED_DATE, '; <DATE>'), 'latin1');
}

/** Lines of sent mail (a returned message's Received field, its tab shown as \x09) with the id and date normalised as in normaliseMessage. */
function normaliseSent(sent: string[]): string[] {
  return sent.map((line) => line.replace(RECEIVED_ID, '$1<ID>').replace(RECEIVED_DATE, '; <DATE>'));
}

/**
 * Replies as compared: session and transaction ids as <ID> (":R2"/":T2"
 * kept), and the time Dovecot puts after "Internal error occurred." as
 * [<TIME>].
 */
function normaliseTranscript(transcript: string[]): string[] {
  return transcript.map((line) =>
    /^S\d*: /.test(line)
      ? line.replace(/(?<= )[A-Za-z0-9+/]{22}(?=(?::[A-Z]\d+)*(?: |$))/g, '<ID>').replace(/\[\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\]$/, '[<TIME>]')
      : line,
  );
}

/** The code of each complete reply in a transcript, as DovecotLmtpOutcome.codes. */
function replyCodes(transcript: string[]): string {
  const codes: string[] = [];
  for (const line of transcript) {
    const match = /^S(\d*): (?:(\d{3})(?: |$)|<(closed)>|<(no reply)|<(incomplete))/.exec(line);
    if (!match) continue;
    const code = match[2] ?? match[3] ?? match[4] ?? match[5];
    codes.push(match[1] ? `${match[1]}:${code}` : code);
  }
  return codes.join(' ');
}

/** A user's uid and gid: the mail user's, or the case's uid for both. */
function idsOf(user: LmtpUser): [number, number] {
  return user.uid === undefined ? [mailUid!, mailGid!] : [user.uid, user.uid];
}

/**
 * The side's directory: homes/ (one home per user unless noHome), users
 * (passwd-file), the recording sendmail and sent/, Sieve scripts; returns
 * the server's config as options of dovecotMasterConfig (run/ holds
 * base_dir, state_dir and the log).
 */
function prepareSide(testCase: LmtpCase, dir: string, port: number): DovecotMasterOptions {
  const homes = join(dir, 'homes');
  mkdirSync(homes, { recursive: true, mode: 0o755 });
  chmodSync(dir, 0o755);
  const users = testCase.users ?? USERS;
  const lines = users.map((user) => {
    const fields = [...(user.format === 'mbox' ? ['userdb_mail=mbox:~/mail:INBOX=~/inbox'] : []), ...(user.fields ?? [])];
    return `${user.name}@${DOMAIN}::${idsOf(user).join(':')}::${join(homes, user.name)}::${fields.join(' ')}`;
  });
  writeFileSync(join(dir, 'users'), `${lines.join('\n')}\n`, { mode: 0o644 });
  for (const user of users) {
    if (user.noHome) continue;
    const home = join(homes, user.name);
    mkdirSync(home, { mode: 0o700 });
    chownSync(home, ...idsOf(user));
    if (user.sieve !== undefined) {
      writeFileSync(join(home, '.dovecot.sieve'), user.sieve, { mode: 0o600 });
      chownSync(join(home, '.dovecot.sieve'), ...idsOf(user));
    }
  }
  copyFileSync(RECORDING_SENDMAIL, join(dir, 'sendmail'));
  chmodSync(join(dir, 'sendmail'), 0o755);
  mkdirSync(join(dir, 'sent'), { mode: 0o700 });
  chownSync(join(dir, 'sent'), mailUid!, mailGid!);
  testCase.setup?.(homes);

  const sieve = users.some((user) => user.sieve !== undefined)
    ? ['protocol lmtp {', '  mail_plugins = $mail_plugins sieve', '}', 'plugin {', '  sieve = file:~/sieve;active=~/.dovecot.sieve', '}']
    : [];
  return {
    runDir: join(dir, 'run'),
    usersFile: join(dir, 'users'),
    protocols: 'lmtp',
    extraConfig: [
      'hostname = mx.example.com',
      'login_greeting = Dovecot ready.',
      'mail_location = maildir:~/Maildir',
      `sendmail_path = ${join(dir, 'sendmail')}`,
      ...sieve,
      'service lmtp {',
      `  user = ${MAIL_USER}`,
      '  inet_listener lmtp {',
      `    address = ${HOST}`,
      `    port = ${port}`,
      '  }',
      '}',
      ...(testCase.config ?? []),
    ],
  };
}

class LmtpSuite {
  readonly base = `/tmp/dovetail-compat-lmtp-${process.pid}`;
  /** Dovecot masters sent SIGTERM; their exit is waited for in stop() */
  private readonly masters: DovecotMaster[] = [];

  constructor() {
    rmSync(this.base, { recursive: true, force: true });
    mkdirSync(this.base, { mode: 0o755 });
  }

  stop(): void {
    for (const master of this.masters.splice(0)) master.stop();
    rmSync(this.base, { recursive: true, force: true });
  }

  async run(testCase: LmtpCase, side: Side, index: number): Promise<SideResult> {
    const dir = join(this.base, `case${index}`, side);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const port = await freePort();
    const config = prepareSide(testCase, dir, port);
    let transcript: string[];
    let stderr = '';
    if (side === 'dovecot') {
      const master = startDovecotMaster(config);
      this.masters.push(master);
      try {
        await until(() => listening(port), `Dovecot's lmtp to listen on port ${port}`);
        transcript = await lmtpConversation({ host: HOST, port }, testCase.steps);
      } finally {
        master.terminate();
      }
    } else {
      const configFile = join(dir, 'dovecot.conf');
      mkdirSync(config.runDir);
      writeFileSync(configFile, dovecotMasterConfig(config).join('\n'), { mode: 0o644 });
      const server = await startDovetail(configFile, port);
      try {
        transcript = await lmtpConversation({ host: HOST, port }, testCase.steps);
      } finally {
        await stopDovetail(server.child);
        stderr = server.stderr();
      }
    }
    const logFile = join(dir, 'run', 'master.log');
    return {
      transcript: normaliseTranscript(transcript),
      tree: snapshot(join(dir, 'homes'), { normaliseMessage, messageText: true }),
      sent: normaliseSent(sentMessages(join(dir, 'sent'))),
      log: existsSync(logFile) ? readFileSync(logFile, 'utf8') : '',
      stderr,
    };
  }
}

/** What Dovecot's side did, in the terms of LmtpCase.dovecot. */
function outcome(result: SideResult) {
  return { codes: replyCodes(result.transcript), landed: landedMessages(result.tree), sent: result.sent.filter((line) => /^sent \d+ argv /.test(line)).length };
}

function printed(testCase: LmtpCase, result: SideResult): string {
  return [`=== ${testCase.name}`, ...result.transcript, '--- homes', ...result.tree, '--- sent', ...result.sent, '--- log', result.log.trimEnd(), '--- stderr', result.stderr.trimEnd()].join('\n');
}

const summary = new CompatTally();

describe('the LMTP suite’s normalisation', () => {
  it('replaces session and transaction ids in replies, keeping their suffixes', () => {
    expect(
      normaliseTranscript([
        'S: 250 2.0.0 <a@example.com> iJvyKwMTDmv7HwAAg+zDdQ Saved',
        'S: 250 2.0.0 <b@example.com> iJvyKwMTDmv7HwAAg+zDdQ:T2:R2 Saved',
        'C: NOOP iJvyKwMTDmv7HwAAg+zDdQ',
        'S1: 250 2.0.0 <a@example.com> short Saved',
        'S: 451 4.2.0 <c@example.com> Internal error occurred. Refer to server log for more information. [2026-12-01 00:28:51]',
      ]),
    ).toEqual([
      'S: 250 2.0.0 <a@example.com> <ID> Saved',
      'S: 250 2.0.0 <b@example.com> <ID>:T2:R2 Saved',
      'C: NOOP iJvyKwMTDmv7HwAAg+zDdQ',
      'S1: 250 2.0.0 <a@example.com> short Saved',
      'S: 451 4.2.0 <c@example.com> Internal error occurred. Refer to server log for more information. [<TIME>]',
    ]);
  });

  it("replaces the Received field's id and date in messages", () => {
    const received = 'Received: from x ([127.0.0.1])\r\n\tby mx.example.com with LMTP\r\n\tid iJvyKwMTDmv7HwAAg+zDdQ:T2\r\n\t(envelope-from <a@b>)\r\n\tfor <c@d>; Tue, 01 Dec 2026 00:21:29 +0000\r\n';
    expect(normaliseMessage(Buffer.from(received)).toString()).toBe(
      'Received: from x ([127.0.0.1])\r\n\tby mx.example.com with LMTP\r\n\tid <ID>:T2\r\n\t(envelope-from <a@b>)\r\n\tfor <c@d>; <DATE>\r\n',
    );
  });

  it('replaces them in sent mail too', () => {
    expect(normaliseSent(['sent 1 body| \\x09id Ji66E8kUDmuzCAAAg+zDdQ', 'sent 1 body| \\x09(envelope-from <a@b>); Tue, 01 Dec 2026 00:28:57 +0000'])).toEqual([
      'sent 1 body| \\x09id <ID>',
      'sent 1 body| \\x09(envelope-from <a@b>); <DATE>',
    ]);
  });

  it('lists reply codes per connection, with closes and missing replies', () => {
    expect(replyCodes(['S: 220 x', 'C: LHLO x', 'S: 250-x', 'S: 250 PIPELINING', 'S1: 220 y', 'S1: <closed>', 'S: <no reply within 3000 ms>'])).toBe('220 250 1:220 1:closed no reply');
  });
});

describe('the raw LMTP client', () => {
  /** A server that greets, answers NOOP with two lines, QUIT with 221 and a close, and nothing else. */
  async function withServer(run: (port: number) => Promise<void>): Promise<void> {
    const server = createServer((socket) => {
      socket.write('220 test ready\r\n');
      let buffered = '';
      socket.on('data', (chunk: Buffer) => {
        buffered += chunk.toString('latin1');
        for (let end = buffered.indexOf('\r\n'); end >= 0; end = buffered.indexOf('\r\n')) {
          const line = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          if (line === 'NOOP') socket.write('250-first\r\n250 second\r\n');
          if (line === 'QUIT') socket.end('221 bye\r\n');
        }
      });
    });
    await new Promise<void>((done) => server.listen(0, HOST, done));
    try {
      await run((server.address() as { port: number }).port);
    } finally {
      server.close();
    }
  }

  it('records replies, pipelined commands, a missing reply and the close', async () => {
    await withServer(async (port) => {
      const transcript = await lmtpConversation(
        { host: HOST, port },
        [
          { send: ['NOOP', 'NOOP'], replies: 2 },
          { send: ['SILENT'], replies: 1 },
          { send: 'QUIT\r\n', replies: 1, session: 1 },
          { send: ['QUIT'], replies: 1 },
        ],
        { replyTimeoutMs: 100 },
      );
      expect(transcript).toEqual([
        'S: 220 test ready',
        'C: NOOP',
        'C: NOOP',
        'S: 250-first',
        'S: 250 second',
        'S: 250-first',
        'S: 250 second',
        'C: SILENT',
        'S: <no reply within 100 ms>',
        'S1: 220 test ready',
        'C1: QUIT',
        'S1: 221 bye',
        'C: QUIT',
        'S: 221 bye',
        'S: <closed>',
        'S1: <closed>',
      ]);
    });
  });

  it('shows bare LF, a missing line end, control characters and long lines in what it sent', () => {
    expect(describeSent('C:', Buffer.from(`a\r\nb\nc\rd\r\n${'x'.repeat(30)}\r\nend`), 20)).toEqual([
      'C: a',
      'C: b<LF>',
      'C: c\\x0dd',
      'C: <30 bytes: "xxxxxxxxxxxxxxxxxxxx"…>',
      'C: end<no end>',
    ]);
  });
});

const title = `LMTP: ${relative(process.cwd(), DOVETAIL_PROGRAM)} lmtp beside Dovecot's lmtp${lmtpUnavailable ? ` (skipped: ${lmtpUnavailable})` : ''}`;

describe.skipIf(lmtpUnavailable !== undefined)(title, () => {
  // made in beforeAll, so that a run that filters every case out leaves no directory behind
  let suite: LmtpSuite;
  beforeAll(() => {
    suite = new LmtpSuite();
  });
  afterAll(() => {
    suite?.stop();
    if (!onlyDovecot) console.log(summary.line('LMTP sessions', "Dovecot's lmtp"));
  });

  it('has distinct case names', () => {
    expect(new Set(LMTP_CASES.map((testCase) => testCase.name)).size).toBe(LMTP_CASES.length);
  });

  LMTP_CASES.forEach((testCase, index) => {
    it(testCase.name, async () => {
      const [dovecot, dovetail] = await Promise.all([suite.run(testCase, 'dovecot', index), onlyDovecot ? undefined : suite.run(testCase, 'dovetail', index)]);
      if (onlyDovecot) console.log(printed(testCase, dovecot));
      expect(outcome(dovecot), `Dovecot's lmtp does what "${testCase.name}" says\n${printed(testCase, dovecot)}`).toEqual({
        codes: testCase.dovecot.codes,
        landed: [...testCase.dovecot.landed].sort(),
        sent: testCase.dovecot.sent ?? 0,
      });
      if (dovetail === undefined) return;

      const compared = (result: SideResult) => ({ transcript: result.transcript, tree: result.tree, sent: result.sent });
      if (!summary.record(testCase, JSON.stringify(compared(dovecot)) === JSON.stringify(compared(dovetail)))) return;
      expect(compared(dovetail), `Dovetail's log and stderr:\n${dovetail.log}\n${dovetail.stderr}`).toEqual(compared(dovecot));
    });
  });
});
