// Real Postfix in front of an LMTP server, end to end: a private instance
// (postfix-harness.ts) takes mail over SMTP for the virtual domain example.com
// and hands it over LMTP (`virtual_transport = lmtp:inet:127.0.0.1:PORT`; one
// user through `lmtp:unix:PATH`) to the server under test, which delivers to
// Maildir and mbox homes owned by vmail. `reject_unverified_recipient` makes
// Postfix probe every recipient over LMTP while the client is still connected.
// The server under test is `bin/dovetail lmtp` (what CI runs) or Dovecot's own
// lmtp on the same dovecot.conf: LMTP_SERVER=dovecot, or LMTP_SERVER=dovetail,dovecot
// for both. The tests read what happened from Postfix's log and queue and from
// the mailboxes, polling, never sleeping. Skipped when not root or Postfix is missing.

import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, type NetConnectOpts } from 'node:net';
import { join } from 'node:path';
import { DOVETAIL, e2eUnavailable, mailUid, mailGid, MAIL_USER } from './harness.js';
import { dovecotMasterConfig, startDovecotMaster, type DovecotMasterOptions } from '../helpers/dovecot-master.js';
import { postfixUnavailable, startPostfix, openSmtpSession, sendMail, waitFor, freePort, ownedDir, type PostfixInstance } from './postfix-harness.js';

const DOMAIN = 'example.com';
const SENDER = 'sender@example.org';
/** the LMTP server's `hostname`, in its greeting and Received lines */
const LMTP_HOSTNAME = 'lmtp.dovetail.test';
/** Postfix's myhostname (postfix-harness.ts), which its lmtp client gives in LHLO */
const POSTFIX_HOSTNAME = 'mx.dovetail.test';
/** userdb users: name → the mail field overriding mail_location, if any */
const USERS: Record<string, string | undefined> = {
  alice: undefined,
  bob: 'mbox:~/mail:INBOX=~/mail/inbox',
  carol: undefined,
  /** reached through the unix socket (transport_maps) */
  dave: undefined,
};
const address = (user: string) => `${user}@${DOMAIN}`;

type LmtpServerName = 'dovetail' | 'dovecot';
const SERVER_NAMES = (process.env.LMTP_SERVER ?? 'dovetail').split(',').map((name) => name.trim());
for (const name of SERVER_NAMES) if (name !== 'dovetail' && name !== 'dovecot') throw new Error(`LMTP_SERVER: unknown server ${name} (dovetail, dovecot)`);

const DOVECOT_LMTP = '/usr/lib/dovecot/lmtp';
const unavailable =
  e2eUnavailable ??
  postfixUnavailable ??
  (SERVER_NAMES.includes('dovecot') && !existsSync(DOVECOT_LMTP) ? `${DOVECOT_LMTP} is missing (Debian's dovecot-lmtpd)` : undefined);

/** The LMTP server under test, running in the background. */
interface LmtpServer {
  /** what it wrote to stdout and stderr (Dovecot's master writes nothing: see log_path) */
  output(): string;
  /** SIGTERM, then waits for the exit; rejects when Dovetail does not exit with status 0 */
  stop(): Promise<void>;
}

interface Listeners {
  port: number;
  socket: string;
}

/** Resolves true once a connection to TARGET succeeds, undefined when it is refused. */
function accepts(target: NetConnectOpts): Promise<true | undefined> {
  return new Promise((resolve) => {
    const socket = createConnection(target);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(undefined));
  });
}

async function waitForListeners(listeners: Listeners, failedToStart: () => string | undefined): Promise<void> {
  for (const target of [{ host: '127.0.0.1', port: listeners.port }, { path: listeners.socket }]) {
    await waitFor(`the LMTP server to accept on ${JSON.stringify(target)}`, async () => {
      const failure = failedToStart();
      if (failure) throw new Error(failure);
      return accepts(target);
    });
  }
}

/** Dovecot's master with its lmtp: the helper's master binds every listener before `dovecot` returns. */
function startDovecotLmtp(options: DovecotMasterOptions): LmtpServer {
  const master = startDovecotMaster(options);
  return { output: () => '', stop: async () => master.stop() };
}

async function startDovetailLmtp(config: string, outputFile: string, listeners: Listeners): Promise<LmtpServer> {
  const out = openSync(outputFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(DOVETAIL, ['lmtp', '-c', config], { stdio: ['ignore', out, out] });
  } finally {
    closeSync(out);
  }
  const output = () => readFileSync(outputFile, 'utf8');
  const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(`exit status ${code ?? signal}`)));
  const exitStatus = () => (child.exitCode ?? child.signalCode ?? undefined)?.toString();
  await waitForListeners(listeners, () => {
    const status = exitStatus();
    return status === undefined ? undefined : `dovetail lmtp exited (${status}) before listening: ${output()}`;
  });
  return {
    output,
    async stop() {
      if (exitStatus() === undefined) child.kill('SIGTERM');
      const status = await exited;
      if (status !== 'exit status 0') throw new Error(`dovetail lmtp: ${status} after SIGTERM: ${output()}`);
    },
  };
}

/** Every stored message of USER that has SUBJECT: Maildir new/ files, or the mbox INBOX's entries. */
function copies(home: string, user: string, subject: string): string[] {
  const mine = (text: string) => text.includes(`\nSubject: ${subject}\n`);
  if (USERS[user]) {
    const inbox = join(home, 'mail', 'inbox');
    return existsSync(inbox) ? readFileSync(inbox, 'utf8').split(/^(?=From )/m).filter(mine) : [];
  }
  const dir = join(home, 'Maildir', 'new');
  return existsSync(dir) ? readdirSync(dir).map((name) => readFileSync(join(dir, name), 'utf8')).filter(mine) : [];
}

function message(subject: string, to: string[], body = 'body line\n'): string {
  return `From: ${SENDER}\nTo: ${to.join(', ')}\nDate: Mon, 01 Dec 2025 10:00:00 +0000\nSubject: ${subject}\nMessage-ID: <${subject}@example.org>\n\n${body}`;
}

/** TEXT as a regular expression that matches it literally */
const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The LMTP reply to DATA that Postfix logged for a delivered recipient: `250 2.0.0 <rcpt> ID Saved` → ID. */
function savedId(line: string, recipient: string): string {
  const saved = new RegExp(` status=sent \\(250 2\\.0\\.0 <${literal(recipient)}> (\\S+) Saved\\)$`).exec(line);
  if (!saved) throw new Error(`not a delivery of ${recipient} with a Saved reply: ${line}`);
  return saved[1]!;
}

/** Dovecot's ids: the transaction id, then `:R<n>` for the n-th RCPT (n > 1). */
const transactionOf = (id: string) => id.replace(/:R\d+$/, '');

const RFC822_DATE = String.raw`\w{3}, \d{1,2} \w{3} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}`;

describe.skipIf(unavailable !== undefined).each(SERVER_NAMES as LmtpServerName[])(
  `%s lmtp behind a real Postfix${unavailable ? ` (skipped: ${unavailable})` : ''}`,
  (serverName) => {
    let root: string;
    /** base_dir, state_dir, the config and log_path (master.log) of the LMTP server */
    let runDir: string;
    let listeners: Listeners;
    let server: LmtpServer;
    let postfix: PostfixInstance;
    const home = (user: string) => join(root, 'vhome', user);
    const copiesOf = (user: string, subject: string) => copies(home(user), user, subject);

    /** Waits for Postfix's log of delivery attempt number AFTER (from 0) to RECIPIENT of QUEUEID, expects STATUS there, returns the line. */
    const attempt = async (queueId: string, recipient: string, status: 'sent' | 'deferred', after = 0) => {
      const line = await waitFor(`attempt ${after} to deliver ${queueId} to ${recipient}`, () => postfix.deliveries(queueId, recipient)[after]);
      const lmtpLog = existsSync(join(runDir, 'master.log')) ? readFileSync(join(runDir, 'master.log'), 'utf8') : '';
      expect(line, `${line}\nLMTP server log:\n${lmtpLog}${server.output()}`).toContain(` status=${status} `);
      return line;
    };

    beforeAll(async () => {
      root = mkdtempSync('/tmp/dovetail-lmtp-postfix-');
      chmodSync(root, 0o755);
      runDir = ownedDir(join(root, 'run'), 0, 0, 0o755);
      const socketDir = ownedDir(join(root, 'sockets'), 0, 0, 0o755);
      listeners = { port: await freePort(), socket: join(socketDir, 'dovetail-lmtp') };
      const usersFile = join(root, 'users');
      const users = Object.entries(USERS).map(([user, mail]) => `${address(user)}::${mailUid}:${mailGid}::${home(user)}::${mail ? `userdb_mail=${mail}` : ''}`);
      writeFileSync(usersFile, `${users.join('\n')}\n`, { mode: 0o644 });
      for (const user of Object.keys(USERS)) ownedDir(home(user), mailUid!, mailGid!, 0o700);
      // one config for both servers: Dovecot's master reads RUN/master.conf, and so does dovetail lmtp
      const lmtpConfig: DovecotMasterOptions = {
        runDir,
        usersFile,
        protocols: 'lmtp',
        extraConfig: [
          `hostname = ${LMTP_HOSTNAME}`,
          'mail_location = maildir:~/Maildir',
          'service lmtp {',
          `  user = ${MAIL_USER}`,
          '  inet_listener lmtp {',
          '    address = 127.0.0.1',
          `    port = ${listeners.port}`,
          '  }',
          `  unix_listener ${listeners.socket} {`,
          '    mode = 0600',
          '    user = postfix',
          '    group = postfix',
          '  }',
          '}',
        ],
      };
      if (serverName === 'dovecot') server = startDovecotLmtp(lmtpConfig);
      else {
        const config = join(runDir, 'master.conf');
        writeFileSync(config, dovecotMasterConfig(lmtpConfig).join('\n'), { mode: 0o644 });
        server = await startDovetailLmtp(config, join(root, 'dovetail-lmtp.out'), listeners);
      }
      const transports = join(root, 'transport');
      writeFileSync(transports, `${address('dave')} lmtp:unix:${listeners.socket}\n`, { mode: 0o644 });
      postfix = await startPostfix({
        dir: root,
        main: [
          `virtual_mailbox_domains = ${DOMAIN}`,
          // anyone at the domain passes smtpd's own check: the LMTP server decides who exists
          'virtual_mailbox_maps = static:ok',
          `virtual_transport = lmtp:inet:127.0.0.1:${listeners.port}`,
          `transport_maps = texthash:${transports}`,
          'smtpd_recipient_restrictions = reject_unauth_destination, reject_unverified_recipient',
          'unverified_recipient_reject_code = 550',
          // smtpd asks the verify service once a second, long enough for a probe over LMTP
          'address_verify_poll_delay = 1s',
          'address_verify_poll_count = 15',
          // Postfix's lmtp client folds lines past 998 bytes unless told not to
          'lmtp_line_length_limit = 0',
        ],
        master: ['lmtp      unix  - - n - - lmtp'],
      });
    }, 60_000);

    afterAll(async () => {
      await postfix?.stop();
      await server?.stop();
      if (root) rmSync(root, { recursive: true, force: true });
    }, 60_000);

    afterEach(() => postfix.emptyQueue());

    it('an unknown user is refused at RCPT time; a known one in the same session gets the mail with Return-Path, Delivered-To and Received', async () => {
      const subject = 'known-and-unknown';
      const session = await openSmtpSession(postfix.port);
      let queued: string;
      try {
        expect(await session.command('EHLO client.dovetail.test')).toMatch(/^250/);
        expect(await session.command(`MAIL FROM:<${SENDER}>`)).toMatch(/^250 /);
        const refusal = await session.command(`RCPT TO:<${address('nobody')}>`);
        expect(refusal).toMatch(/^550 5\.1\.1 <nobody@example\.com>: Recipient address rejected: undeliverable address: .*said: 550 5\.1\.1 <nobody@example\.com> User doesn't exist/);
        expect(await session.command(`RCPT TO:<${address('alice')}>`)).toMatch(/^250 /);
        expect(await session.command('DATA')).toMatch(/^354 /);
        queued = await session.data(message(subject, [address('alice')]));
        expect(await session.command('QUIT')).toMatch(/^221 /);
      } finally {
        session.close();
      }
      const queueId = /^250 .*queued as (\w+)/.exec(queued)![1]!;

      const delivery = await attempt(queueId, address('alice'), 'sent');
      expect(delivery).toContain(` relay=127.0.0.1[127.0.0.1]:${listeners.port},`);
      expect(postfix.logFor(queueId).filter((line) => line.includes('nobody@'))).toEqual([]);
      // the verify probes pass through the queue too; none stays
      await waitFor('an empty queue', () => (postfix.queue().length === 0 ? true : undefined));

      const [stored, ...more] = copiesOf('alice', subject);
      expect(more).toEqual([]);
      const lmtpHeaders = new RegExp(
        '^Return-Path: <sender@example\\.org>\\n' +
          'Delivered-To: alice@example\\.com\\n' +
          `Received: from ${literal(POSTFIX_HOSTNAME)} \\(\\[127\\.0\\.0\\.1\\]\\)\\n` +
          `\\tby ${literal(LMTP_HOSTNAME)} with LMTP\\n` +
          '\\tid (\\S+)\\n' +
          '\\t\\(envelope-from <sender@example\\.org>\\)\\n' +
          `\\tfor <alice@example\\.com>; ${RFC822_DATE}\\n` +
          `Received: from client\\.dovetail\\.test \\(localhost \\[127\\.0\\.0\\.1\\]\\)\\n\\tby ${literal(POSTFIX_HOSTNAME)} \\(Postfix\\) with ESMTP id ${queueId}\\n`,
      ).exec(stored!);
      expect(lmtpHeaders, stored).not.toBeNull();
      // the Received id is the one the LMTP server gave Postfix in its reply
      expect(lmtpHeaders![1]).toBe(savedId(delivery, address('alice')));
      expect(stored!.endsWith(`\n${message(subject, [address('alice')])}`)).toBe(true);
    });

    it('several recipients, Maildir and mbox: one LMTP transaction, one delivery logged per recipient, one copy each', async () => {
      const subject = 'three-recipients';
      const recipients = ['alice', 'bob', 'carol'];
      const queueId = await sendMail(postfix.port, { from: SENDER, to: recipients.map(address), data: message(subject, recipients.map(address)) });
      const deliveries = await Promise.all(recipients.map((user) => attempt(queueId, address(user), 'sent')));
      const ids = deliveries.map((line, i) => savedId(line, address(recipients[i]!)));
      expect(new Set(ids.map(transactionOf)).size, ids.join(' ')).toBe(1);
      for (const user of recipients) expect(postfix.deliveries(queueId, address(user))).toHaveLength(1);

      for (const user of recipients) {
        const [stored, ...more] = copiesOf(user, subject);
        expect(more, user).toEqual([]);
        // Delivered-To and Received's "for" name one recipient, so a shared transaction has neither
        const headers = stored!.slice(0, stored!.indexOf('\nReceived: from client.dovetail.test'));
        expect(headers).toMatch(new RegExp(`(^|\\n)Return-Path: <sender@example\\.org>\\nReceived: from ${literal(POSTFIX_HOSTNAME)} \\(\\[127\\.0\\.0\\.1\\]\\)\\n`));
        expect(headers).toMatch(new RegExp(`\\(envelope-from <sender@example\\.org>\\); ${RFC822_DATE}$`));
        expect(headers).not.toContain('Delivered-To:');
      }
      expect(copiesOf('bob', subject)[0]).toMatch(/^From sender@example\.org  ?\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\n/);
    });

    it('an unwritable Maildir defers only its recipient; once fixed and flushed it is delivered, and nobody gets a second copy', async () => {
      const subject = 'one-deferred';
      const recipients = ['alice', 'bob', 'carol'];
      const maildir = ownedDir(join(home('carol'), 'Maildir'), mailUid!, mailGid!, 0o000);
      const queueId = await sendMail(postfix.port, { from: SENDER, to: recipients.map(address), data: message(subject, recipients.map(address)) });
      const deferral = await attempt(queueId, address('carol'), 'deferred');
      expect(deferral).toMatch(/ dsn=4\.\d\.\d, status=deferred \(host 127\.0\.0\.1\[127\.0\.0\.1\] said: 451 4\.\d\.\d <carol@example\.com> /);
      for (const user of ['alice', 'bob']) await attempt(queueId, address(user), 'sent');
      expect(postfix.queue()).toMatchObject([{ queue_id: queueId, queue_name: 'deferred', recipients: [{ address: address('carol') }] }]);
      expect(copiesOf('alice', subject)).toHaveLength(1);
      expect(copiesOf('bob', subject)).toHaveLength(1);

      chmodSync(maildir, 0o700);
      postfix.flush();
      await attempt(queueId, address('carol'), 'sent', 1);
      await waitFor('an empty queue', () => (postfix.queue().length === 0 ? true : undefined));
      for (const user of recipients) {
        expect(copiesOf(user, subject), user).toHaveLength(1);
        expect(postfix.deliveries(queueId, address(user)).filter((line) => line.includes(' status=sent ')), user).toHaveLength(1);
      }
    });

    it('lmtp:unix: a recipient routed to the unix socket is verified and delivered', async () => {
      const subject = 'over-unix-socket';
      const queueId = await sendMail(postfix.port, { from: SENDER, to: [address('dave')], data: message(subject, [address('dave')]) });
      const relay = ` to=<dave@example.com>, relay=${POSTFIX_HOSTNAME}[${listeners.socket}], `;
      // the verify probe went the same way, as a message of its own (another queue id)
      const probe = await waitFor('the probe of dave@example.com', () => postfix.log().split('\n').find((line) => line.includes(relay) && !line.includes(queueId)));
      expect(probe).toMatch(/ dsn=2\.1\.5, status=deliverable \(250 2\.1\.5 OK\)$/);
      const delivery = await attempt(queueId, address('dave'), 'sent');
      expect(delivery).toContain(relay);
      const [stored, ...more] = copiesOf('dave', subject);
      expect(more).toEqual([]);
      // no client address over a unix socket: the Received line names the LHLO host alone
      expect(stored).toMatch(
        new RegExp(
          `^Return-Path: <sender@example\\.org>\nDelivered-To: dave@example\\.com\nReceived: from ${literal(POSTFIX_HOSTNAME)}\n\tby ${literal(LMTP_HOSTNAME)} with LMTP\n\tid ${literal(savedId(delivery, address('dave')))}\n`,
        ),
      );
    });

    it('a 200 KB line and a leading dot survive byte-exact', async () => {
      const subject = 'long-line';
      const longLine = Array.from({ length: 20_000 }, (_, i) => `${i % 10}123456789`).join('');
      expect(longLine).toHaveLength(200_000);
      const body = `before\n${longLine}\n.leading dot\nafter\n`;
      const sent = message(subject, [address('alice')], body);
      const queueId = await sendMail(postfix.port, { from: SENDER, to: [address('alice')], data: sent });
      await attempt(queueId, address('alice'), 'sent');
      const [stored, ...more] = copiesOf('alice', subject);
      expect(more).toEqual([]);
      const lineLengths = (text: string) => text.split('\n').map((line) => line.length);
      expect(lineLengths(stored!.slice(stored!.indexOf('\n\n') + 2))).toEqual(lineLengths(body));
      expect(stored!.endsWith(`\n${sent}`)).toBe(true);
    });
  },
);
