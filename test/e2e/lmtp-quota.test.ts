// Quota over LMTP: `bin/dovetail lmtp` (service lmtp { user = vmail }, the
// quota plugin in protocol lmtp) with two recipients in one transaction, one
// whose box is over its quota (a userdb quota_rule of 100B, a 500-byte seed)
// and one with room (1000B, empty). After
// DATA the full one gets 552 5.2.2 (452 4.2.2 with quota_full_tempfail) while
// the other is delivered; with lmtp_rcpt_check_quota the RCPT itself is
// refused; a delivery that crosses a quota_warning runs the quota-warning
// service's script. Each case is played against Dovecot 2.3.19's lmtp with its
// quota plugin (a private master, ../helpers/dovecot-master.ts) and against
// Dovetail, from one config template; the expected replies below are what
// Dovecot answered (session ids shown as <ID>), and Dovecot must still answer
// them, so that a case cannot drift from what it claims.

import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DOVETAIL, MAIL_USER, e2eUnavailable, listMaildir, mailGid, mailUid, makeSandbox, type Sandbox } from './harness.js';
import { dovecotMasterConfig, startDovecotMaster, type DovecotMaster, type DovecotMasterOptions } from '../helpers/dovecot-master.js';
import { listening, lmtpConversation, until } from '../helpers/lmtp-client.js';
import { freePort } from '../helpers/private-server.js';

const DOVECOT_LMTP = '/usr/lib/dovecot/lmtp';
const HOST = '127.0.0.1';
const unavailable = e2eUnavailable ?? (existsSync(DOVECOT_LMTP) ? undefined : "Dovecot's lmtp is not installed (apt-get install dovecot-lmtpd)");

const MESSAGE = ['From: a@example.org', 'Subject: hello', '', 'x'.repeat(200)];
/** a seeded message that puts `full` over its 100-byte quota */
const SEED_SIZE = 500;

interface QuotaCase {
  name: string;
  /** config lines after the common ones (plugin {} settings go in `plugin`) */
  config?: string[];
  plugin?: string[];
  /** the replies (S: lines) Dovecot gave, ids as <ID> */
  replies: string[];
  /** messages in ok's and full's INBOX afterwards (the seed counts for full) */
  stored: { ok: number; full: number };
  /** what the quota-warning script recorded (its arguments), default nothing */
  warnings?: string[];
}

const session = ['LHLO client.test', 'MAIL FROM:<a@example.org>', 'RCPT TO:<full@example.com>', 'RCPT TO:<ok@example.com>', 'DATA', ...MESSAGE, '.', 'QUIT'];
const GREETING = ['S: 220 mx.example.com Dovecot ready.', 'S: 250-mx.example.com', 'S: 250-8BITMIME', 'S: 250-CHUNKING', 'S: 250-ENHANCEDSTATUSCODES', 'S: 250 PIPELINING', 'S: 250 2.1.0 OK'];

const CASES: QuotaCase[] = [
  {
    name: 'after DATA: 552 5.2.2 for the full box, the other recipient delivered',
    replies: [...GREETING, 'S: 250 2.1.5 OK', 'S: 250 2.1.5 OK', 'S: 354 OK', 'S: 552 5.2.2 <full@example.com> Quota exceeded (mailbox for user is full)', 'S: 250 2.0.0 <ok@example.com> <ID>:R2 Saved', 'S: 221 2.0.0 Bye', 'S: <closed>'],
    stored: { ok: 1, full: 1 },
  },
  {
    name: 'quota_full_tempfail = yes: 452 4.2.2',
    config: ['quota_full_tempfail = yes'],
    replies: [...GREETING, 'S: 250 2.1.5 OK', 'S: 250 2.1.5 OK', 'S: 354 OK', 'S: 452 4.2.2 <full@example.com> Quota exceeded (mailbox for user is full)', 'S: 250 2.0.0 <ok@example.com> <ID>:R2 Saved', 'S: 221 2.0.0 Bye', 'S: <closed>'],
    stored: { ok: 1, full: 1 },
  },
  {
    name: 'lmtp_rcpt_check_quota = yes: the RCPT itself gets 552 5.2.2',
    config: ['lmtp_rcpt_check_quota = yes'],
    replies: [...GREETING, 'S: 552 5.2.2 <full@example.com> Quota exceeded (mailbox for user is full)', 'S: 250 2.1.5 OK', 'S: 354 OK', 'S: 250 2.0.0 <ok@example.com> <ID>:R2 Saved', 'S: 221 2.0.0 Bye', 'S: <closed>'],
    stored: { ok: 1, full: 1 },
  },
  {
    name: 'a delivery crossing quota_warning runs the quota-warning script',
    plugin: ['quota_warning = storage=25%% quota-warning 25 %u'],
    replies: [...GREETING, 'S: 250 2.1.5 OK', 'S: 250 2.1.5 OK', 'S: 354 OK', 'S: 552 5.2.2 <full@example.com> Quota exceeded (mailbox for user is full)', 'S: 250 2.0.0 <ok@example.com> <ID>:R2 Saved', 'S: 221 2.0.0 Bye', 'S: <closed>'],
    stored: { ok: 1, full: 1 },
    warnings: ['25 ok@example.com'],
  },
];

/** Session ids (22 base64 characters) as <ID>, a ":R2" after them kept. */
const normalise = (transcript: string[]) => transcript.filter((line) => line.startsWith('S: ')).map((line) => line.replace(/(?<= )[A-Za-z0-9+/]{22}(?=(?::[A-Z]\d+)*(?: |$))/g, '<ID>'));

describe.skipIf(unavailable !== undefined)(`LMTP over quota, beside Dovecot's lmtp${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  let box: Sandbox;
  const masters: DovecotMaster[] = [];
  const children: ChildProcess[] = [];
  beforeEach(() => (box = makeSandbox()));
  afterEach(async () => {
    for (const master of masters.splice(0)) master.stop();
    for (const child of children.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((done) => child.once('exit', done));
        child.kill('SIGTERM');
        await exited;
      }
    }
    box.cleanup();
  });

  /** Homes, users file, warning script and config for one side; returns the config options and where things land. */
  function prepare(testCase: QuotaCase, side: string, port: number): { options: DovecotMasterOptions; home: (user: string) => string; warnings: string } {
    const dir = join(box.dir, side);
    mkdirSync(dir, { mode: 0o755 });
    const home = (user: string) => join(dir, user);
    for (const user of ['ok', 'full']) {
      mkdirSync(home(user), { mode: 0o700 });
      chownSync(home(user), mailUid!, mailGid!);
    }
    const cur = join(home('full'), 'Maildir', 'cur');
    for (const path of [join(home('full'), 'Maildir'), cur, join(home('full'), 'Maildir', 'new'), join(home('full'), 'Maildir', 'tmp')]) {
      mkdirSync(path, { mode: 0o700 });
      chownSync(path, mailUid!, mailGid!);
    }
    const seed = join(cur, `1700000000.M1P1.seed,S=${SEED_SIZE},W=${SEED_SIZE}:2,S`);
    writeFileSync(seed, `Subject: seed\n\n${'s'.repeat(SEED_SIZE - 15)}\n`);
    chownSync(seed, mailUid!, mailGid!);
    const users = join(dir, 'users');
    writeFileSync(
      users,
      `ok@example.com::${mailUid}:${mailGid}::${home('ok')}::\nfull@example.com::${mailUid}:${mailGid}::${home('full')}::userdb_quota_rule=*:storage=100B\n`,
      { mode: 0o644 },
    );
    const warnings = join(dir, 'warnings');
    writeFileSync(warnings, '');
    chownSync(warnings, mailUid!, mailGid!);
    const script = join(dir, 'warn.sh');
    writeFileSync(script, `#!/bin/sh\necho "$*" >> ${warnings}\n`, { mode: 0o755 });
    chmodSync(script, 0o755);
    const options: DovecotMasterOptions = {
      runDir: join(dir, 'run'),
      usersFile: users,
      protocols: 'lmtp',
      extraConfig: [
        'hostname = mx.example.com',
        'login_greeting = Dovecot ready.',
        'mail_location = maildir:~/Maildir',
        'postmaster_address = postmaster@example.com',
        'protocol lmtp {',
        '  mail_plugins = $mail_plugins quota',
        '}',
        ...(testCase.config ?? []),
        'plugin {',
        '  quota = maildir:User quota',
        '  quota_rule = *:storage=1000B',
        ...(testCase.plugin ?? []).map((line) => `  ${line}`),
        '}',
        'service lmtp {',
        `  user = ${MAIL_USER}`,
        '  inet_listener lmtp {',
        `    address = ${HOST}`,
        `    port = ${port}`,
        '  }',
        '}',
        'service quota-warning {',
        `  executable = script ${script}`,
        `  user = ${MAIL_USER}`,
        '  unix_listener quota-warning {',
        `    user = ${MAIL_USER}`,
        '  }',
        '}',
      ],
    };
    return { options, home, warnings };
  }

  async function play(testCase: QuotaCase, side: 'dovecot' | 'dovetail') {
    const port = await freePort();
    const { options, home, warnings } = prepare(testCase, side, port);
    let transcript: string[];
    if (side === 'dovecot') {
      const master = startDovecotMaster(options);
      masters.push(master);
      await until(() => listening(port), `Dovecot's lmtp to listen on port ${port}`);
      transcript = await lmtpConversation({ host: HOST, port }, [{ send: session, replies: 11 }]);
    } else {
      mkdirSync(options.runDir);
      const config = join(box.dir, side, 'dovetail.conf');
      writeFileSync(config, dovecotMasterConfig(options).join('\n'));
      const child = spawn(DOVETAIL, ['lmtp', '-c', config], { env: { PATH: '/usr/bin:/bin' }, stdio: ['ignore', 'ignore', 'ignore'] });
      children.push(child);
      await until(() => listening(port) || child.exitCode !== null, `dovetail lmtp to listen on port ${port}`);
      transcript = await lmtpConversation({ host: HOST, port }, [{ send: session, replies: 11 }]);
    }
    const inbox = (user: string) => listMaildir(join(home(user), 'Maildir'), 'new').length + listMaildir(join(home(user), 'Maildir'), 'cur').length;
    // the warning script runs after the reply, in another process
    if (testCase.warnings) await until(() => readFileSync(warnings, 'utf8') !== '', `${side}'s quota warning`).catch(() => undefined);
    const recorded = readFileSync(warnings, 'utf8').split('\n').filter(Boolean);
    return { replies: normalise(transcript), stored: { ok: inbox('ok'), full: inbox('full') }, warnings: recorded, log: existsSync(join(options.runDir, 'master.log')) ? readFileSync(join(options.runDir, 'master.log'), 'utf8') : '' };
  }

  for (const testCase of CASES) {
    it(testCase.name, async () => {
      for (const side of ['dovecot', 'dovetail'] as const) {
        const result = await play(testCase, side);
        const expected = { replies: testCase.replies, stored: testCase.stored, warnings: testCase.warnings ?? [] };
        expect({ replies: result.replies, stored: result.stored, warnings: result.warnings }, `${side}\n${result.log}`).toEqual(expected);
      }
    }, 30_000);
  }
});
