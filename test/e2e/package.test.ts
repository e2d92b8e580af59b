// The single executable (scripts/package.mjs), built once into a temp dir so
// that it never races another build of dist/dovetail, then run the ways
// Postfix runs it: as the mail user delivering into Maildir (byte for byte
// what bin/dovetail delivers) and into an mbox (which needs the lock addon
// embedded as an asset), through a Sieve script (the Sieve chunk, whose
// classes must be the main bundle's: a missing mailbox falls back to INBOX
// only if the storage's MailboxError is recognised), with the code caches it
// carries accepted, with an empty environment, with a NODE_OPTIONS that
// would break a plain Node, and setgid mail delivering into a root:mail 2775
// spool through mail_privileged_group. Skipped, with the reason, when the
// end-to-end tests cannot run or the package cannot be built here.

import { describe, it, expect, beforeAll, afterAll, beforeEach, afterEach } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { MAIL_USER, baseConfigLines, e2eUnavailable, listMaildir, mailGid, mailUid, makeSandbox, runDovetail, type Sandbox } from './harness.js';

const ROOT = resolve(__dirname, '../..');
const MESSAGE = 'From: a@example.org\nTo: b@example.org\nSubject: packaged\nMessage-ID: <packaged@example.org>\n\nbody\n';
const USER = `${MAIL_USER}@example.org`;
const PEAK_RSS = join(ROOT, 'scripts/peak-rss.py');
const mailGroupGid = Number(spawnSync('getent', ['group', 'mail'], { encoding: 'utf8' }).stdout.split(':')[2]);

let buildDir: string;
let packaged: string;

beforeAll(() => {
  if (e2eUnavailable) return;
  buildDir = mkdtempSync('/tmp/dovetail-package-test-');
  chmodSync(buildDir, 0o755);
  packaged = join(buildDir, 'dovetail');
  const built = spawnSync(process.execPath, [join(ROOT, 'scripts/package.mjs'), packaged], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  // the executable is a deliverable: a build that fails here fails the suite
  expect(built.status, `the package cannot be built: ${built.stderr.trim() || built.error?.message}`).toBe(0);
}, 150_000);

afterAll(() => {
  if (buildDir) rmSync(buildDir, { recursive: true, force: true });
});

interface PackagedRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Sorts into folders by subject: Work exists (:create), Missing does not and falls back to INBOX. */
const SIEVE_SCRIPT = 'require ["fileinto", "imap4flags", "mailbox"];\nif header :contains "subject" "packaged" { addflag "\\\\Flagged"; fileinto :create "Work"; fileinto "Missing"; }\n';

/** Runs `program` with exactly `env`; as the mail user (with any extra gid kept off) when asMailUser. */
function run(program: string, args: string[], env: Record<string, string>, asMailUser = false): PackagedRun {
  const result = spawnSync(program, args, {
    env,
    input: MESSAGE,
    encoding: 'utf8',
    timeout: 20_000,
    ...(asMailUser ? { uid: mailUid!, gid: mailGid! } : {}),
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe.skipIf(e2eUnavailable !== undefined)(`dist/dovetail, the single executable${e2eUnavailable ? ` (skipped: ${e2eUnavailable})` : ''}`, () => {
  let box: Sandbox;
  let config: string;
  const mailboxCommandEnv = () => ({ PATH: '/usr/bin:/bin', HOME: box.home, USER: MAIL_USER });

  beforeEach(() => {
    box = makeSandbox();
    const usersFile = box.file('users', `${USER}::${mailUid}:${mailGid}::${box.home}::\n`);
    const logFile = box.file('dovetail.log', '');
    chownSync(logFile, mailUid!, mailGid!);
    config = box.file('dovecot.conf', [...baseConfigLines(logFile, usersFile), ''].join('\n'));
  });

  afterEach(() => box?.cleanup());

  it('prints the version bin/dovetail prints, and exits 0', () => {
    const result = run(packaged, ['--version'], {});
    expect(result).toMatchObject({ status: 0, stderr: '' });
    expect(result.stdout).toBe(runDovetail(['--version']).stdout);
  });

  it('delivers into Maildir, as the mail user, exactly what bin/dovetail delivers', () => {
    const ours = run(packaged, ['-c', config, '-f', 'sender@example.org'], mailboxCommandEnv(), true);
    expect(ours).toMatchObject({ status: 0, stderr: '' });
    const launcher = runDovetail(['-c', config, '-f', 'sender@example.org'], { input: MESSAGE, asMailUser: { home: box.home } });
    expect(launcher.status).toBe(0);
    const delivered = listMaildir(join(box.home, 'Maildir'), 'new').map((name) => readFileSync(join(box.home, 'Maildir', 'new', name), 'utf8'));
    expect(delivered).toHaveLength(2);
    expect(delivered[0]).toContain('Subject: packaged');
    expect(delivered[0]).toBe(delivered[1]);
  });

  it('delivers into an mbox, loading the lock addon it carries, and leaves no lock behind', () => {
    const inbox = join(box.home, 'inbox');
    const result = run(packaged, ['-c', config, '-o', `mail_location=mbox:~/mail:INBOX=${inbox}`, '-o', 'mbox_write_locks=dotlock fcntl'], mailboxCommandEnv(), true);
    expect(result).toMatchObject({ status: 0, stderr: '' });
    expect(readFileSync(inbox, 'utf8')).toMatch(/^From sender@example\.org |^From MAILER-DAEMON /);
    expect(readFileSync(inbox, 'utf8')).toContain('\nSubject: packaged\n');
    expect(readdirSync(box.home)).toEqual(['inbox']);
  });

  // The issue's bound: 96 MB peak RSS for any message size. The single
  // executable starts near 70 MB, so Buffers V8 frees late would cross it.
  it.each(['maildir:~/Maildir', 'mbox:~/mail:INBOX=~/inbox'])('delivers a 100 MB message into %s within 96 MB of peak RSS', (location) => {
    const line = `${'x'.repeat(99)}\n`;
    const big = Buffer.from(`Subject: big\n\n${line.repeat(1024 * 1024)}`);
    const peak = spawnSync('python3', ['-S', PEAK_RSS, packaged, '-c', config, '-o', `mail_location=${location}`], {
      input: big,
      env: mailboxCommandEnv(),
      uid: mailUid!,
      gid: mailGid!,
      stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(peak.status, peak.stderr).toBe(0);
    expect(Number(peak.output[3]) / 1024).toBeLessThan(96);
  });

  it('decodes the subject for %s in deliver_log_format with the libmime it carries as an asset', () => {
    const logFile = join(box.home, 'subject.log');
    const encoded = MESSAGE.replace('Subject: packaged', 'Subject: =?UTF-8?B?SGVsbG8gV8O2cmxk?=');
    const result = spawnSync(packaged, ['-c', config, '-o', `log_path=${logFile}`, '-o', 'deliver_log_format=subject=%s: %$'], {
      input: encoded,
      env: mailboxCommandEnv(),
      uid: mailUid!,
      gid: mailGid!,
      encoding: 'utf8',
    });
    expect(result).toMatchObject({ status: 0, stderr: '' });
    expect(readFileSync(logFile, 'utf8')).toContain('subject=Hello Wörld: saved mail to INBOX');
  });

  it('delivers through a Sieve script what bin/dovetail delivers, falling back to INBOX for a missing mailbox', () => {
    const script = join(box.home, '.dovecot.sieve');
    writeFileSync(script, SIEVE_SCRIPT);
    chownSync(script, mailUid!, mailGid!);
    const sieveArgs = ['-c', config, '-o', 'mail_plugins=sieve', '-o', 'plugin/sieve=~/.dovecot.sieve'];
    const ours = run(packaged, sieveArgs, mailboxCommandEnv(), true);
    expect(ours).toMatchObject({ status: 0, stderr: '' });
    const launcher = runDovetail(sieveArgs, { input: MESSAGE, asMailUser: { home: box.home } });
    expect(launcher).toMatchObject({ status: 0, stderr: '' });
    const flagged = listMaildir(join(box.home, 'Maildir', '.Work'), 'cur');
    expect(flagged).toHaveLength(2);
    for (const name of flagged) expect(name).toMatch(/:2,F$/);
    expect(listMaildir(join(box.home, 'Maildir'), 'new')).toHaveLength(2); // the fallback for Missing
    expect(readFileSync(join(box.home, 'Maildir', '.Work', 'cur', flagged[0]!))).toEqual(readFileSync(join(box.home, 'Maildir', '.Work', 'cur', flagged[1]!)));
  });

  it('runs sieve-test, sievec and --check from the chunks it carries', () => {
    const script = box.file('test.sieve', SIEVE_SCRIPT);
    const message = box.file('test.eml', MESSAGE);
    const test = run(packaged, ['sieve-test', script, message], {});
    expect(test).toMatchObject({ status: 0, stderr: '' });
    expect(test.stdout).toBe(spawnSync(process.execPath, [join(ROOT, 'bin/dovetail'), 'sieve-test', script, message], { encoding: 'utf8' }).stdout);
    expect(run(packaged, ['sievec', box.file('bad.sieve', 'keep')], {})).toMatchObject({ status: 1, stderr: expect.stringContaining('bad.sieve:1:') });
    expect(run(packaged, ['--check', '-c', config], {}).stdout).toContain(`ok: config ${config} loads`);
  });

  // A cache V8 rejects (other V8 flags, another Node) only costs speed, so
  // only this shows it: NODE_DEBUG=dovetail reports each cache's fate.
  it('uses the code caches it carries for the main bundle and the Sieve chunk', () => {
    const script = join(box.home, '.dovecot.sieve');
    writeFileSync(script, SIEVE_SCRIPT);
    chownSync(script, mailUid!, mailGid!);
    const result = run(packaged, ['-c', config, '-o', 'mail_plugins=sieve', '-o', 'plugin/sieve=~/.dovecot.sieve'], { ...mailboxCommandEnv(), NODE_DEBUG: 'dovetail' }, true);
    expect(result.status).toBe(0);
    expect(result.stderr).toMatch(/: dovetail\.js: code cache used\n/);
    expect(result.stderr).toMatch(/: dovetail-sieve\.js: code cache used\n/);
    expect(result.stderr).not.toMatch(/rejected/);
  });

  it('delivers with an empty environment (root, -d user)', () => {
    const result = run(packaged, ['-c', config, '-d', USER], {});
    expect(result).toMatchObject({ status: 0, stderr: '' });
    expect(listMaildir(join(box.home, 'Maildir'), 'new')).toHaveLength(1);
  });

  // the system account lookup falls back to getent, a child process: loading child_process must work inside the executable too
  it('bounces (67) a user the passwd userdb does not know, as bin/dovetail does', () => {
    const result = run(packaged, ['-O', '-d', 'no-such-user-dovetail'], {});
    expect(result).toMatchObject({ status: 67, stderr: "User doesn't exist: no-such-user-dovetail\n" });
  });

  it('ignores NODE_OPTIONS that would stop a plain Node from starting', () => {
    const env = { ...mailboxCommandEnv(), NODE_OPTIONS: '--require=/nonexistent' };
    expect(run(process.execPath, ['-e', '0'], env).status).not.toBe(0);
    const result = run(packaged, ['-c', config], env, true);
    expect(result).toMatchObject({ status: 0, stderr: '' });
    expect(listMaildir(join(box.home, 'Maildir'), 'new')).toHaveLength(1);
  });

  it('delivers setgid mail into a root:mail 2775 spool through mail_privileged_group', () => {
    const binDir = join(box.dir, 'bin');
    mkdirSync(binDir, { mode: 0o755 });
    const setgid = join(binDir, 'dovetail');
    copyFileSync(packaged, setgid);
    chownSync(setgid, 0, mailGroupGid);
    chmodSync(setgid, 0o2755);
    const spool = join(box.dir, 'spool');
    mkdirSync(spool);
    chownSync(spool, 0, mailGroupGid);
    chmodSync(spool, 0o2775);
    const result = run(
      setgid,
      ['-c', config, '-o', `mail_location=mbox:~/mail:INBOX=${spool}/%u`, '-o', 'mail_privileged_group=mail'],
      mailboxCommandEnv(),
      true,
    );
    expect(result).toMatchObject({ status: 0, stderr: '' });
    const inbox = join(spool, MAIL_USER);
    expect(readFileSync(inbox, 'utf8')).toContain('\nSubject: packaged\n');
    expect(readdirSync(spool)).toEqual([MAIL_USER]);
    // the same delivery by an executable without the setgid bit cannot create the spool file
    rmSync(inbox);
    chmodSync(setgid, 0o755);
    expect(run(setgid, ['-c', config, '-o', `mail_location=mbox:~/mail:INBOX=${spool}/%u`, '-o', 'mail_privileged_group=mail'], mailboxCommandEnv(), true).status).toBe(75);
    expect(existsSync(inbox)).toBe(false);
  });
});
