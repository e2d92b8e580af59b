// bin/dovetail as Postfix runs it: exit codes, one stderr line, and what lands on disk.

import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { readFileSync, statSync, existsSync, readdirSync, mkdirSync, chownSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { e2eUnavailable, makeSandbox, runDovetail, listMaildir, mailUid, mailGid, MAIL_USER, DOVETAIL, baseConfigLines, type Sandbox } from './harness.js';

const MESSAGE = 'From: a@example.org\nSubject: hello\nMessage-ID: <m1@example.org>\n\nbody line\n';
const MAILDIR_NAME = /^(\d+)\.M(\d+)P(\d+)\.([^,/]+),S=(\d+),W=(\d+)$/;

describe.skipIf(e2eUnavailable !== undefined)(`dovetail as Postfix runs it${e2eUnavailable ? ` (skipped: ${e2eUnavailable})` : ''}`, () => {
  let box: Sandbox;
  let usersFile: string;
  let config: string;
  let logFile: string;

  beforeEach(() => {
    box = makeSandbox();
    logFile = join(box.dir, 'dovetail.log');
    usersFile = box.file('users', `${MAIL_USER}@example.org::${mailUid}:${mailGid}::${box.home}::userdb_note=x\nlow@example.org::100:100::${box.home}::\n`);
    config = box.file(
      'dovecot.conf',
      [...baseConfigLines(logFile, usersFile), ''].join('\n'),
    );
    writeFileSync(logFile, '');
    chownSync(logFile, mailUid!, mailGid!);
  });
  afterEach(() => box.cleanup());

  const maildir = () => join(box.home, 'Maildir');
  const asUser = () => ({ asMailUser: { home: box.home } });

  it('delivers as the recipient (mailbox_command): tmp → new, exact bytes, Dovecot file name', () => {
    const result = runDovetail(['-c', config, '-f', 'a@example.org'], { input: MESSAGE, ...asUser() });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const [name, ...rest] = listMaildir(maildir(), 'new');
    expect(rest).toEqual([]);
    const match = MAILDIR_NAME.exec(name!);
    expect(match).not.toBeNull();
    const stored = readFileSync(join(maildir(), 'new', name!));
    expect(stored.toString()).toBe(MESSAGE);
    expect(Number(match![5])).toBe(stored.length);
    expect(Number(match![6])).toBe(stored.length + MESSAGE.split('\n').length - 1);
    expect(listMaildir(maildir(), 'tmp')).toEqual([]);
    const stat = statSync(join(maildir(), 'new', name!));
    expect(stat.uid).toBe(mailUid);
    expect(stat.mode & 0o777).toBe(0o600);
  });

  it('as root with -d: looks the user up and delivers with its uid', () => {
    const result = runDovetail(['-c', config, '-d', `${MAIL_USER}@Example.org`], { input: MESSAGE });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const [name] = listMaildir(maildir(), 'new');
    expect(statSync(join(maildir(), 'new', name!)).uid).toBe(mailUid);
    expect(statSync(maildir()).uid).toBe(mailUid);
  });

  it('writes one deliver_log_format line per delivery', () => {
    runDovetail(['-c', config, '-d', `${MAIL_USER}@example.org`], { input: MESSAGE });
    const lines = readFileSync(logFile, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(`^\\w{3} \\d\\d \\d\\d:\\d\\d:\\d\\d lda\\(${MAIL_USER}@example.org\\)<\\d+><[^>]+>: Info: msgid=<m1@example.org>: saved mail to INBOX$`),
    );
  });

  it.each([
    [['-c', 'CONFIG'], 64, /-d user/],
    [['-c', 'CONFIG', '-Z'], 64, /invalid option -- 'Z'/],
    [['-c', 'CONFIG', '-d', 'x', 'extra'], 64, /Unknown argument: extra/],
    [['-c', 'CONFIG', '-d', 'nobody-here@example.org'], 67, /doesn't exist/],
    [['-c', 'CONFIG', '-d', 'low@example.org'], 75, /UID 100 not permitted/],
    [['-c', '/nonexistent/dovecot.conf', '-d', 'x'], 75, /nonexistent/],
    [['-c', 'CONFIG', '-d', 'x', '-a', 'a b@c'], 64, /-a/],
  ])('as root %j → %i', (args, status, reason) => {
    const result = runDovetail(args.map((a) => (a === 'CONFIG' ? config : a)), { input: MESSAGE });
    expect(result.status).toBe(status);
    expect(result.stderr).toMatch(reason);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(existsSync(maildir())).toBe(false);
  });

  it('a syntax error in the config defers with file:line', () => {
    const broken = box.file('broken.conf', 'mail_location = maildir:~/Maildir\nnamespace inbox {\n');
    const result = runDovetail(['-c', broken, '-d', `${MAIL_USER}@example.org`], { input: MESSAGE });
    expect(result.status).toBe(75);
    expect(result.stderr).toContain(broken);
  });

  it('--help and --version exit 0', () => {
    expect(runDovetail(['--help']).status).toBe(0);
    expect(runDovetail(['--help']).stdout).toMatch(/^Usage: dovetail /);
    expect(runDovetail(['--version']).stdout).toMatch(/^dovetail \d+\.\d+\.\d+/);
  });

  it('drops a leading From_ line and stores CRLF as LF', () => {
    const input = 'From sender@example.org  Mon Nov 23 09:00:00 2026\r\nSubject: crlf\r\n\r\nline 1\r\nline 2\r\n';
    expect(runDovetail(['-c', config], { input, ...asUser() }).status).toBe(0);
    const [name] = listMaildir(maildir(), 'new');
    expect(readFileSync(join(maildir(), 'new', name!), 'utf8')).toBe('Subject: crlf\n\nline 1\nline 2\n');
    expect(name).toMatch(/,S=29,W=33$/);
  });

  it('keeps NUL and 8-bit bytes', () => {
    const input = Buffer.concat([Buffer.from('Subject: bin\n\n'), Buffer.from([0, 0xff, 0xe9, 0x0a])]);
    expect(runDovetail(['-c', config], { input, ...asUser() }).status).toBe(0);
    const [name] = listMaildir(maildir(), 'new');
    expect(readFileSync(join(maildir(), 'new', name!))).toEqual(input);
  });

  it('delivers a large message intact and leaves no temp file', () => {
    const tempDir = join(box.dir, 'spool');
    mkdirSync(tempDir);
    chownSync(tempDir, mailUid!, mailGid!);
    const line = 'x'.repeat(999) + '\n';
    const input = 'Subject: big\n\n' + line.repeat(6000);
    const result = runDovetail(['-c', config, '-o', `mail_temp_dir=${tempDir}`], { input, ...asUser() });
    expect(result.status).toBe(0);
    const [name] = listMaildir(maildir(), 'new');
    const digest = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
    expect(digest(readFileSync(join(maildir(), 'new', name!)))).toBe(digest(input));
    expect(readdirSync(tempDir)).toEqual([]);
  });

  it('reads the message from -p', () => {
    const path = box.file('message.eml', MESSAGE);
    expect(runDovetail(['-c', config, '-p', path], asUser()).status).toBe(0);
    const [name] = listMaildir(maildir(), 'new');
    expect(readFileSync(join(maildir(), 'new', name!), 'utf8')).toBe(MESSAGE);
  });

  describe('-m mailbox', () => {
    it('a missing mailbox falls back to INBOX', () => {
      expect(runDovetail(['-c', config, '-m', 'work'], { input: MESSAGE, ...asUser() }).status).toBe(0);
      expect(listMaildir(maildir(), 'new')).toHaveLength(1);
      expect(existsSync(join(maildir(), '.work'))).toBe(false);
    });

    it('-m "" is ignored', () => {
      expect(runDovetail(['-c', config, '-m', ''], { input: MESSAGE, ...asUser() }).status).toBe(0);
      expect(listMaildir(maildir(), 'new')).toHaveLength(1);
    });

    it('autocreate makes a Maildir++ folder and autosubscribe subscribes it', () => {
      const args = ['-c', config, '-o', 'lda_mailbox_autocreate=yes', '-o', 'lda_mailbox_autosubscribe=yes', '-m', 'work'];
      expect(runDovetail(args, { input: MESSAGE, ...asUser() }).status).toBe(0);
      expect(listMaildir(join(maildir(), '.work'), 'new')).toHaveLength(1);
      expect(existsSync(join(maildir(), '.work', 'maildirfolder'))).toBe(true);
      expect(readFileSync(join(maildir(), 'subscriptions'), 'utf8')).toBe('V\t2\n\nwork\n');
    });

    it('namespace prefix INBOX/ with -m INBOX/work/2026', () => {
      const nsConfig = box.file(
        'ns.conf',
        `mail_location = maildir:~/Maildir\nlog_path = ${logFile}\nlda_mailbox_autocreate = yes\nnamespace inbox {\n  inbox = yes\n  prefix = INBOX/\n  separator = /\n}\n`,
      );
      expect(runDovetail(['-c', nsConfig, '-m', 'INBOX/work/2026'], { input: MESSAGE, ...asUser() }).status).toBe(0);
      expect(listMaildir(join(maildir(), '.work.2026'), 'new')).toHaveLength(1);
    });

    it('an existing folder is used as it is', () => {
      expect(runDovetail(['-c', config, '-o', 'lda_mailbox_autocreate=yes', '-m', 'a'], { input: MESSAGE, ...asUser() }).status).toBe(0);
      expect(runDovetail(['-c', config, '-m', 'a'], { input: MESSAGE, ...asUser() }).status).toBe(0);
      expect(listMaildir(join(maildir(), '.a'), 'new')).toHaveLength(2);
    });
  });

  it('userdb_mail overrides mail_location', () => {
    writeFileSync(usersFile, `${MAIL_USER}@example.org::${mailUid}:${mailGid}::${box.home}::userdb_mail=maildir:~/Other\n`);
    expect(runDovetail(['-c', config, '-d', `${MAIL_USER}@example.org`], { input: MESSAGE }).status).toBe(0);
    expect(listMaildir(join(box.home, 'Other'), 'new')).toHaveLength(1);
  });

  it('an unwritable home defers and writes nothing', () => {
    const locked = join(box.dir, 'locked');
    mkdirSync(locked, { mode: 0o555 });
    const result = runDovetail(['-c', config, '-o', `mail_location=maildir:${locked}/Maildir`], { input: MESSAGE, ...asUser() });
    expect(result.status).toBe(75);
    expect(result.stderr.trim()).not.toBe('');
    expect(readdirSync(locked)).toEqual([]);
  });

  it('without -d and without HOME/USER: the passwd entry of the effective uid', () => {
    const result = runDovetail(['-c', config, '-o', `mail_location=maildir:${box.home}/Maildir`], {
      input: MESSAGE,
      asMailUser: { home: box.home },
      env: { HOME: '', USER: '' },
    });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(readFileSync(logFile, 'utf8')).toContain(`lda(${MAIL_USER})<`);
  });

  it('log_path = syslog never fails a delivery, even without a syslog daemon', () => {
    const result = runDovetail(['-c', config, '-o', 'log_path=syslog'], { input: MESSAGE, ...asUser() });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(listMaildir(maildir(), 'new')).toHaveLength(1);
  });

  it('a file-size limit (Postfix mailbox_size_limit) defers and leaves nothing behind', () => {
    // under the 128 KiB kept in memory, so the limit hits the Maildir file itself
    const input = 'Subject: too big\n\n' + 'x'.repeat(100_000) + '\n';
    const result = runDovetail(['-c', config], { input, ...asUser(), fileSizeLimitBlocks: 64 });
    expect(result.signal).toBeNull();
    expect(result.status).toBe(75);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(listMaildir(maildir(), 'new')).toEqual([]);
    expect(listMaildir(maildir(), 'tmp')).toEqual([]);
  });

  it('SIGTERM while reading the message defers instead of dying', async () => {
    const child = spawn(DOVETAIL, ['-c', config], {
      env: { PATH: '/usr/bin:/bin', HOME: box.home, USER: MAIL_USER },
      uid: mailUid!,
      gid: mailGid!,
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    child.stdin!.write('Subject: slow\n\npart of a body\n');
    await new Promise((resolve) => setTimeout(resolve, 500));
    child.kill('SIGTERM');
    const [status, signal] = await new Promise<[number | null, string | null]>((resolve) =>
      child.on('exit', (code, sig) => resolve([code, sig])),
    );
    expect(signal).toBeNull();
    expect(status).toBe(75);
    expect(listMaildir(maildir(), 'new')).toEqual([]);
  });

  it('a launcher that cannot load its bundle defers (75), never Node\'s exit 1', () => {
    mkdirSync(join(box.dir, 'bin'));
    const orphan = join(box.dir, 'bin', 'dovetail');
    copyFileSync(DOVETAIL, orphan);
    const result = spawnSync(orphan, ['-c', config], { input: MESSAGE, encoding: 'utf8' });
    expect(result.status).toBe(75);
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^Cannot load Dovetail/)]);
  });
});
