// Real Postfix, end to end: a private instance (postfix-harness.ts) takes
// each message over SMTP and hands it to bin/dovetail the two ways docs/postfix.md
// describes — local(8)'s mailbox_command for a system user, and a pipe(8)
// service for virtual users — and the tests read what Postfix did from its log,
// its queue and the mailboxes. Skipped when not root or Postfix is missing.

import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, chmodSync, chownSync, symlinkSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { e2eUnavailable, mailUid, mailGid, MAIL_USER } from './harness.js';
import { postfixUnavailable, startPostfix, sendMail, waitFor, ownedDir, run, type PostfixInstance } from './postfix-harness.js';

/** The one Dovetail binary every Postfix set-up below runs. */
const DOVETAIL_BINARY = resolve(__dirname, '../../bin/dovetail');
const REPO = resolve(__dirname, '../..');
const INSTALL_SCRIPT = join(REPO, 'scripts/install.sh');

const LOCAL_DOMAIN = 'local.dovetail.test';
const VIRTUAL_DOMAIN = 'virtual.dovetail.test';
/** system users this file creates and removes: one for mailbox_command, one behind the relay wrapper */
const SYSTEM_USER = 'dovetailpf';
const RELAY_USER = 'dovetailrl';
/** mailbox_size_limit and message_size_limit (Postfix refuses a mailbox limit below the message limit) */
const SIZE_LIMIT = 100_000;

const unavailable = e2eUnavailable ?? postfixUnavailable;

function message(subject: string, body = 'body line\n'): string {
  return `From: sender@example.org\nTo: someone@${VIRTUAL_DOMAIN}\nSubject: ${subject}\nMessage-ID: <${subject}@example.org>\n\n${body}`;
}

/** Files in a Maildir folder's new/, oldest name first, read whole. */
function newMail(maildir: string): string[] {
  const dir = join(maildir, 'new');
  return existsSync(dir) ? readdirSync(dir).sort().map((name) => readFileSync(join(dir, name), 'utf8')) : [];
}

function statusOf(instance: PostfixInstance, queueId: string, recipient: string): string | undefined {
  return instance.logFor(queueId).find((line) => line.includes(`to=<${recipient}>`) && / status=\w+/.test(line));
}

function createSystemUser(name: string, home: string): { uid: number; gid: number } {
  spawnSync('userdel', [name]);
  run('useradd', ['--home-dir', home, '--no-create-home', '--shell', '/bin/sh', '--user-group', name]);
  const uid = Number(run('id', ['-u', name]));
  const gid = Number(run('id', ['-g', name]));
  ownedDir(home, uid, gid, 0o700);
  return { uid, gid };
}

/** The setgid-mail relay wrapper that scripts/install.sh builds into DIR, or why there is none yet. */
/** Installs the bundle and the setgid relay under `dir` with scripts/install.sh; the relay's path. */
function installRelayWrapper(dir: string): string {
  // --prefix, not --root: the relay runs the path compiled into it, which --root leaves without DIR
  const args = ['--bundle', '--relay', '--prefix', join(dir, 'prefix'), '--confdir', join(dir, 'conf')];
  const install = spawnSync(INSTALL_SCRIPT, args, { encoding: 'utf8', timeout: 60_000 });
  expect(install.status, `install.sh ${args.join(' ')}: ${install.stderr}`).toBe(0);
  return join(dir, 'prefix/libexec/dovetail/dovetail-relay');
}

describe.skipIf(unavailable !== undefined)(`dovetail behind a real Postfix${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  let root: string;
  let postfix: PostfixInstance;
  let config: string;
  let usersFile: string;
  let logFile: string;
  let systemUser: { uid: number; gid: number };
  let relayUser: { uid: number; gid: number };
  const systemHome = () => join(root, 'home', SYSTEM_USER);
  const virtualHome = (name: string) => join(root, 'vhome', name);
  const relayLink = () => join(root, 'relay-wrapper');

  /** Rewrites the config every delivery reads: mail_location plus any other lines. */
  function configure(mailLocation: string, ...lines: string[]): void {
    const text = [`mail_location = ${mailLocation}`, `log_path = ${logFile}`, 'lda_mailbox_autocreate = yes', ...lines];
    text.push('userdb {', '  driver = passwd-file', `  args = ${usersFile}`, '}', '');
    writeFileSync(config, text.join('\n'), { mode: 0o644 });
  }

  beforeAll(async () => {
    root = mkdtempSync('/tmp/dovetail-postfix-');
    chmodSync(root, 0o755);
    config = join(root, 'dovetail.conf');
    logFile = join(root, 'dovetail.log');
    writeFileSync(logFile, '');
    chmodSync(logFile, 0o666);
    usersFile = join(root, 'users');
    const virtualUsers = ['alice', 'bob', 'carol'].map((name) => `${name}@${VIRTUAL_DOMAIN}::${mailUid}:${mailGid}::${virtualHome(name)}::`);
    writeFileSync(usersFile, `${virtualUsers.join('\n')}\n`, { mode: 0o644 });
    for (const name of ['alice', 'bob', 'carol']) ownedDir(virtualHome(name), mailUid!, mailGid!, 0o700);
    systemUser = createSystemUser(SYSTEM_USER, systemHome());
    relayUser = createSystemUser(RELAY_USER, join(root, 'home', RELAY_USER));
    const commands = join(root, 'mailbox_commands');
    const args = `-c ${config} -f "$SENDER" -a "$RECIPIENT"`;
    writeFileSync(commands, `${SYSTEM_USER} ${DOVETAIL_BINARY} ${args}\n${RELAY_USER} ${relayLink()} ${args}\n`, { mode: 0o644 });
    configure('maildir:~/Maildir');
    postfix = await startPostfix({
      dir: root,
      main: [
        `mydestination = ${LOCAL_DOMAIN}`,
        `mailbox_command_maps = texthash:${commands}`,
        `mailbox_size_limit = ${SIZE_LIMIT}`,
        `message_size_limit = ${SIZE_LIMIT}`,
        `virtual_mailbox_domains = ${VIRTUAL_DOMAIN}`,
        'virtual_transport = dovetail',
        'dovetail_destination_recipient_limit = 1',
        'recipient_delimiter = +',
        // the LDA, not smtpd, decides who exists: an unknown user must reach it
        'smtpd_reject_unlisted_recipient = no',
      ],
      master: [
        'dovetail  unix  - n n - - pipe',
        `  flags=DRhu user=${MAIL_USER}:${MAIL_USER} argv=${DOVETAIL_BINARY} -c ${config} -f \${sender} -d \${user}@\${nexthop} -m \${extension}`,
      ],
    });
  }, 60_000);

  afterAll(async () => {
    await postfix?.stop();
    spawnSync('userdel', [SYSTEM_USER]);
    spawnSync('userdel', [RELAY_USER]);
    if (root) rmSync(root, { recursive: true, force: true });
  }, 60_000);

  afterEach(() => postfix.emptyQueue());

  it('mailbox_command for a system user: delivered to ~/Maildir with Return-Path and Delivered-To', async () => {
    configure('maildir:~/Maildir');
    const queueId = await sendMail(postfix.port, { from: 'sender@example.org', to: [`${SYSTEM_USER}@${LOCAL_DOMAIN}`], data: message('system-maildir') });
    const status = await waitFor('the delivery to be logged', () => statusOf(postfix, queueId, `${SYSTEM_USER}@${LOCAL_DOMAIN}`));
    expect(status).toMatch(/relay=local, .* status=sent \(delivered to command/);
    const [stored, ...more] = newMail(join(systemHome(), 'Maildir'));
    expect(more).toEqual([]);
    expect(stored).toMatch(/^Return-Path: <sender@example\.org>\n/);
    expect(stored).toContain(`\nDelivered-To: ${SYSTEM_USER}@${LOCAL_DOMAIN}\n`);
    expect(stored).toContain('\nSubject: system-maildir\n');
    expect(stored!.endsWith('\n\nbody line\n')).toBe(true);
    const [name] = readdirSync(join(systemHome(), 'Maildir', 'new'));
    expect(statSync(join(systemHome(), 'Maildir', 'new', name!)).uid).toBe(systemUser.uid);
  });

  // flags=u folds the whole local part, so ${extension} reaches dovetail as "projects"
  it('pipe service for virtual users: user+folder@domain lands in the folder, Delivered-To and Return-Path present', async () => {
    configure('maildir:~/Maildir');
    const recipient = `alice+Projects@${VIRTUAL_DOMAIN}`;
    const queueId = await sendMail(postfix.port, { from: 'sender@example.org', to: [recipient], data: message('virtual-folder') });
    const status = await waitFor('the delivery to be logged', () => statusOf(postfix, queueId, recipient));
    expect(status).toMatch(/relay=dovetail, .* status=sent \(delivered via dovetail service\)/);
    const maildir = join(virtualHome('alice'), 'Maildir');
    expect(newMail(maildir)).toEqual([]);
    const [stored, ...more] = newMail(join(maildir, '.projects'));
    expect(more).toEqual([]);
    expect(stored).toMatch(/^Return-Path: <sender@example\.org>\n/);
    expect(stored).toContain(`\nDelivered-To: ${recipient}\n`);
    expect(stored).toContain('\nSubject: virtual-folder\n');
  });

  it('an unknown virtual user: Postfix bounces with 5.1.1 and the sender gets the bounce', async () => {
    configure('maildir:~/Maildir');
    const recipient = `nobody@${VIRTUAL_DOMAIN}`;
    const queueId = await sendMail(postfix.port, { from: `bob@${VIRTUAL_DOMAIN}`, to: [recipient], data: message('unknown-user') });
    const status = await waitFor('the bounce to be logged', () => statusOf(postfix, queueId, recipient));
    expect(status).toMatch(/relay=dovetail, .* dsn=5\.1\.1, status=bounced/);
    const [notice, ...more] = await waitFor('the bounce in bob’s Maildir', () => {
      const mail = newMail(join(virtualHome('bob'), 'Maildir'));
      return mail.length > 0 ? mail : undefined;
    });
    expect(more).toEqual([]);
    expect(notice).toMatch(/^Return-Path: <MAILER-DAEMON>\n/);
    expect(notice).toContain(`Final-Recipient: rfc822; ${recipient}`);
    expect(notice).toContain('Status: 5.1.1');
  });

  it('an unwritable mailbox: deferred and kept in the queue, delivered once fixed and the queue flushed', async () => {
    configure('maildir:~/Maildir');
    const recipient = `carol@${VIRTUAL_DOMAIN}`;
    const maildir = ownedDir(join(virtualHome('carol'), 'Maildir'), 0, 0, 0o755);
    const queueId = await sendMail(postfix.port, { from: 'sender@example.org', to: [recipient], data: message('deferred-then-flushed') });
    const status = await waitFor('the deferral to be logged', () => statusOf(postfix, queueId, recipient));
    expect(status).toMatch(/relay=dovetail, .* dsn=4\.\d\.\d, status=deferred/);
    const [queued, ...others] = postfix.queue();
    expect(others).toEqual([]);
    expect(queued).toMatchObject({ queue_id: queueId, queue_name: 'deferred', recipients: [{ address: recipient }] });
    expect(newMail(maildir)).toEqual([]);

    ownedDir(maildir, mailUid!, mailGid!, 0o700);
    postfix.flush();
    await waitFor('the flushed delivery to be logged', () => postfix.logFor(queueId).find((line) => line.includes('status=sent')));
    const [stored, ...more] = newMail(maildir);
    expect(more).toEqual([]);
    expect(stored).toContain('\nSubject: deferred-then-flushed\n');
    expect(postfix.queue()).toEqual([]);
  });

  it('mailbox_size_limit crossed by a delivery into mbox: deferred, the mailbox byte-identical', async () => {
    configure('mbox:~/mail:INBOX=~/mail/inbox');
    const mailDir = ownedDir(join(systemHome(), 'mail'), systemUser.uid, systemUser.gid, 0o700);
    const inbox = join(mailDir, 'inbox');
    const filler = 'x'.repeat(76) + '\n';
    const before = Buffer.from(`From old@example.org Thu Jan  1 00:00:00 2026\n${message('old')}${filler.repeat(1250)}\n`);
    expect(before.length).toBeLessThan(SIZE_LIMIT);
    writeFileSync(inbox, before, { mode: 0o600 });
    chownSync(inbox, systemUser.uid, systemUser.gid);
    const recipient = `${SYSTEM_USER}@${LOCAL_DOMAIN}`;
    const queueId = await sendMail(postfix.port, { from: 'sender@example.org', to: [recipient], data: message('too-big', filler.repeat(40)) });
    const status = await waitFor('the deferral to be logged', () => statusOf(postfix, queueId, recipient));
    expect(status).toMatch(/relay=local, .* dsn=4\.\d\.\d, status=deferred/);
    expect(postfix.queue().map((queued) => queued.queue_id)).toEqual([queueId]);
    expect(readFileSync(inbox).equals(before)).toBe(true);
  });

  it('mailbox_command through the setgid-mail relay wrapper: delivered to the mail spool', async () => {
    const relay = installRelayWrapper(join(root, 'install'));
    expect(statSync(relay).mode & 0o7777).toBe(0o2755);
    symlinkSync(relay, relayLink());
    const spool = ownedDir(join(root, 'spool'), 0, Number(run('getent', ['group', 'mail']).split(':')[2]), 0o2775);
    configure(`mbox:~/mail:INBOX=${spool}/%u`, 'mail_privileged_group = mail');
    const recipient = `${RELAY_USER}@${LOCAL_DOMAIN}`;
    const queueId = await sendMail(postfix.port, { from: 'sender@example.org', to: [recipient], data: message('relay-spool') });
    const status = await waitFor('the delivery to be logged', () => statusOf(postfix, queueId, recipient));
    expect(status).toMatch(/relay=local, .* status=sent \(delivered to command/);
    const stored = readFileSync(join(spool, RELAY_USER), 'utf8');
    expect(statSync(join(spool, RELAY_USER)).uid).toBe(relayUser.uid);
    expect(stored).toMatch(/^From sender@example\.org /);
    expect(stored).toContain('\nSubject: relay-spool\n');
    expect(existsSync(join(spool, `${RELAY_USER}.lock`))).toBe(false);
  });
});
