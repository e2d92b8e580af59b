// Maildir++ quota through bin/dovetail as Postfix runs it (mailbox_command
// style: as the mail user with HOME and USER): under and over the storage and
// message limits, -e (77), quota_full_tempfail (75), without -e the
// rejection mailed through sendmail_path (exit 0, nothing stored), a -m folder
// over quota, Sieve fileinto over quota, a message bigger than the whole
// quota, quota_max_mail_size, and a quota warning run as the user. Expected
// values are what dovecot-lda 2.3.19 with the quota plugin did with the same
// config and input (exit codes, maildirsize, the rejection's shape).

import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { readFileSync, writeFileSync, chownSync, chmodSync, mkdirSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { e2eUnavailable, makeSandbox, runDovetail, listMaildir, mailUid, mailGid, type Sandbox } from './harness.js';

/** 675 bytes as stored: three deliveries of it make 2025, past a 1500-byte quota */
const MESSAGE = `From: alice@example.org\nSubject: hi\nMessage-ID: <m1@example.org>\nContent-Type: text/plain\n\n${'0'.repeat(600)}\n`;
const SIZE = Buffer.byteLength(MESSAGE);
const EXCEEDED = 'Quota exceeded (mailbox for user is full)';

describe.skipIf(e2eUnavailable !== undefined)(`Quota through bin/dovetail${e2eUnavailable ? ` (skipped: ${e2eUnavailable})` : ''}`, () => {
  let box: Sandbox;
  let logFile: string;
  let sentDir: string;

  beforeEach(() => {
    box = makeSandbox();
    logFile = join(box.dir, 'dovetail.log');
    writeFileSync(logFile, '');
    chownSync(logFile, mailUid!, mailGid!);
    sentDir = join(box.dir, 'sent');
    mkdirSync(sentDir);
    chownSync(sentDir, mailUid!, mailGid!);
    // a recording sendmail: argv (NUL-separated) and the message, one pair per run
    const sendmail = box.file(
      'sendmail',
      `#!/bin/sh\nn=$(ls ${sentDir} | wc -l)\nprintf '%s\\0' "$@" > ${sentDir}/$n.argv\ncat > ${sentDir}/$n.eml\n`,
    );
    chmodSync(sendmail, 0o755);
    const warn = box.file('warn.sh', `#!/bin/sh\necho "$(id -u) $*" >> ${box.home}/warnings\n`);
    chmodSync(warn, 0o755);
  });
  afterEach(() => box.cleanup());

  function config(plugin: string[], extra: string[] = []): string {
    return box.file(
      'dovecot.conf',
      [
        'mail_location = maildir:~/Maildir',
        `log_path = ${logFile}`,
        'mail_plugins = quota',
        'postmaster_address = postmaster@example.org',
        'hostname = mx.example.org',
        `sendmail_path = ${join(box.dir, 'sendmail')}`,
        ...extra,
        'plugin {',
        ...plugin.map((line) => `  ${line}`),
        '}',
        'service quota-warning {',
        `  executable = script ${join(box.dir, 'warn.sh')}`,
        '}',
        '',
      ].join('\n'),
    );
  }

  const deliver = (conf: string, ...args: string[]) =>
    runDovetail(['-c', conf, '-f', 'alice@example.org', ...args], { input: MESSAGE, asMailUser: { home: box.home } });
  const stored = (folder = '') => listMaildir(join(box.home, 'Maildir', folder), 'new').length;
  const totals = () => {
    const lines = readFileSync(join(box.home, 'Maildir', 'maildirsize'), 'latin1').trim().split('\n');
    const [bytes, count] = lines.slice(1).reduce(([b, c], line) => [b + Number(line.split(' ')[0]), c + Number(line.split(' ')[1])], [0, 0]);
    return { limits: lines[0], bytes, count };
  };
  const sent = () => readdirSync(sentDir).filter((name) => name.endsWith('.eml')).map((name) => readFileSync(join(sentDir, name), 'latin1'));
  const STORAGE_1500 = ['quota = maildir:User quota', 'quota_rule = *:storage=1500B'];

  it('stores under the storage limit and counts each message in maildirsize', () => {
    const conf = config(STORAGE_1500);
    expect(deliver(conf).status).toBe(0);
    expect(deliver(conf).status).toBe(0);
    expect(stored()).toBe(2);
    expect(totals()).toEqual({ limits: '1500S', bytes: 2 * SIZE, count: 2 });
  });

  it('over the storage limit without -e: mails the rejection from <> to the sender, exits 0, stores nothing', () => {
    const conf = config(STORAGE_1500);
    deliver(conf);
    deliver(conf);
    const result = deliver(conf);
    expect(result.status).toBe(0);
    expect(stored()).toBe(2);
    expect(readFileSync(join(sentDir, '0.argv'), 'latin1').split('\0')).toEqual(['-i', '-f', '<>', '--', 'alice@example.org', '']);
    const [rejection] = sent();
    expect(rejection).toMatch(/^Message-ID: <dovecot-\d+-\d+-0@[^>]+>\r\n/);
    expect(rejection).toContain('Content-Type: multipart/report; report-type=delivery-status;\r\n');
    expect(rejection).toContain(`Your message to <vmail@mx.example.org> was automatically rejected:\r\n${EXCEEDED}\r\n`);
    expect(rejection).toContain('Reporting-MTA: dns; mx.example.org\r\nFinal-Recipient: rfc822; vmail@mx.example.org\r\nAction: failed\r\nStatus: 5.2.2\r\n');
    expect(readFileSync(logFile, 'utf8')).toContain(`save failed to INBOX: ${EXCEEDED}`);
    expect(readFileSync(logFile, 'utf8')).toContain(`rejected: ${EXCEEDED}`);
  });

  it('over quota with -e: the reason on stderr, exit 77; with quota_full_tempfail: 75; nothing mailed', () => {
    const conf = config([...STORAGE_1500, 'quota_exceeded_message = Box full']);
    deliver(conf);
    deliver(conf);
    const refused = deliver(conf, '-e');
    expect({ status: refused.status, stderr: refused.stderr }).toEqual({ status: 77, stderr: 'Box full\n' });
    expect(deliver(conf, '-o', 'quota_full_tempfail=yes').status).toBe(75);
    expect(deliver(conf, '-e', '-o', 'quota_full_tempfail=yes').status).toBe(75);
    expect(sent()).toEqual([]);
    expect(stored()).toBe(2);
  });

  it('refuses by message count', () => {
    const conf = config(['quota = maildir', 'quota_rule = *:messages=1']);
    expect(deliver(conf).status).toBe(0);
    expect(deliver(conf, '-e').status).toBe(77);
    expect(totals()).toMatchObject({ limits: '1C', count: 1 });
  });

  it('a -m folder over quota falls back to INBOX, which is over quota too: 77', () => {
    const conf = config(STORAGE_1500, ['lda_mailbox_autocreate = yes']);
    deliver(conf);
    deliver(conf);
    expect(deliver(conf, '-e', '-m', 'Work').stderr).toBe(`${EXCEEDED}\n`);
    expect(stored()).toBe(2);
  });

  it('a message bigger than the whole quota is refused even into an empty box', () => {
    const conf = config(['quota = maildir', 'quota_rule = *:storage=100B']);
    expect(deliver(conf, '-e').status).toBe(77);
    expect(existsSync(join(box.home, 'Maildir', 'new')) ? stored() : 0).toBe(0);
  });

  it('quota_max_mail_size is a temporary failure, as in Dovecot', () => {
    const conf = config(['quota = maildir', 'quota_rule = *:storage=1G', 'quota_max_mail_size = 100B']);
    const result = deliver(conf, '-e');
    expect(result.status).toBe(75);
    expect(result.stderr).toBe('Mail size is larger than the maximum size allowed by server configuration\n');
  });

  it('Sieve fileinto over quota: nothing stored, the over-quota outcome', () => {
    const conf = config([...STORAGE_1500, 'sieve = file:~/sieve;active=~/.dovecot.sieve'], ['protocol lda {', '  mail_plugins = $mail_plugins sieve', '}']);
    writeFileSync(join(box.home, '.dovecot.sieve'), 'require ["fileinto", "mailbox"];\nfileinto :create "Work";\n');
    chownSync(join(box.home, '.dovecot.sieve'), mailUid!, mailGid!);
    expect(deliver(conf).status).toBe(0);
    expect(deliver(conf).status).toBe(0);
    expect(stored('.Work')).toBe(2);
    expect(deliver(conf, '-e').status).toBe(77);
    expect(stored('.Work') + stored()).toBe(2);
    expect(totals()).toMatchObject({ bytes: 2 * SIZE, count: 2 });
  });

  it('runs the quota warning the delivery crossed, as the user, once', () => {
    const conf = config([...STORAGE_1500, 'quota_warning = storage=50%% quota-warning 50 %u']);
    deliver(conf);
    expect(existsSync(join(box.home, 'warnings'))).toBe(false);
    deliver(conf);
    expect(readFileSync(join(box.home, 'warnings'), 'utf8')).toBe(`${mailUid} 50 vmail\n`);
    deliver(conf);
    expect(readFileSync(join(box.home, 'warnings'), 'utf8')).toBe(`${mailUid} 50 vmail\n`);
  });

  it('mbox users have no Maildir++ quota', () => {
    const conf = config(STORAGE_1500);
    const mboxConf = box.file('mbox.conf', readFileSync(conf, 'utf8').replace('maildir:~/Maildir', 'mbox:~/mail:INBOX=~/inbox'));
    for (let n = 0; n < 3; n++) expect(deliver(mboxConf).status).toBe(0);
    expect(existsSync(join(box.home, 'mail', 'maildirsize'))).toBe(false);
  });
});
