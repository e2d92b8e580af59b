// scripts/install.sh end to end: into a staging root (--root), the installed
// executable runs and delivers; installing twice changes nothing; uninstall
// leaves nothing but a config the admin changed. With --relay (installed
// under a temp prefix, so that the path compiled into the relay exists), the
// relay is root:mail 2755 and carries a delivery by vmail into a root:mail
// 2775 spool through mail_privileged_group, argv intact, where the
// executable alone cannot; `dovetail --check` tells the two apart.
// Each set-up runs with the bundle (--bundle) and, once `npm run package`
// has built it, with the single executable dist/dovetail.

import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { MAIL_USER, e2eUnavailable, mailGid, mailUid, makeSandbox, startDelivery, type Sandbox } from './harness.js';

const INSTALL = resolve(__dirname, '../../scripts/install.sh');
const EXAMPLE_CONFIG = readFileSync(resolve(__dirname, '../../examples/dovetail.conf'), 'utf8');
const SINGLE_EXECUTABLE = resolve(__dirname, '../../dist/dovetail');
const mailGroupGid = Number(spawnSync('getent', ['group', 'mail'], { encoding: 'utf8' }).stdout.split(':')[2]);
const unavailable = e2eUnavailable ?? (spawnSync('cc', ['--version']).status !== 0 ? 'no C compiler (cc) for the relay' : undefined);

/** [name, extra install.sh flags] for each kind of executable there is to install. */
const FLAVOURS: [string, string[]][] = [['bundle', ['--bundle']], ...(existsSync(SINGLE_EXECUTABLE) ? [['single executable', []] as [string, string[]]] : [])];

function install(...args: string[]): string {
  const result = spawnSync('bash', [INSTALL, ...args], { encoding: 'utf8' });
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  return result.stdout;
}

/** Every path under `root`, relative, sorted. */
function tree(root: string): string[] {
  return (readdirSync(root, { recursive: true }) as string[]).sort();
}

function message(marker: string): string {
  return `From: a@example.org\nTo: ${MAIL_USER}@example.org\nSubject: ${marker}\nMessage-ID: <${marker}@example.org>\n\n${marker}\n`;
}

/** Runs `program` as the mail user with only HOME, USER and Postfix's PATH, as mailbox_command does. */
function deliverAsMailUser(program: string, home: string, args: string[], marker: string, env: Record<string, string> = {}) {
  return startDelivery(args, { program, asMailUser: { home }, input: message(marker), env }).finished;
}

function checkAsMailUser(program: string, home: string, args: string[]) {
  const env = { PATH: '/usr/bin:/bin', HOME: home, USER: MAIL_USER };
  return spawnSync(program, ['--check', ...args], { uid: mailUid!, gid: mailGid!, env, encoding: 'utf8' });
}

describe.skipIf(unavailable !== undefined).each(FLAVOURS)('install.sh with the %s', (_, flags) => {
  let box: Sandbox;
  let root: string;
  const libexec = () => join(root, 'usr/local/libexec/dovetail');
  const config = () => join(root, 'etc/dovetail/dovetail.conf');

  beforeAll(() => {
    box = makeSandbox();
  });
  afterAll(() => box.cleanup());

  describe('into a staging root', () => {
    beforeAll(() => {
      root = join(box.dir, 'root');
      mkdirSync(root);
      install('--root', root, ...flags);
    });

    it('puts the executable, a relative link to it and the example config in place, owned by root', () => {
      const binary = statSync(join(libexec(), 'dovetail'));
      expect(binary.mode & 0o7777).toBe(0o755);
      expect([binary.uid, binary.gid]).toEqual([0, 0]);
      expect(readlinkSync(join(root, 'usr/local/bin/dovetail'))).toBe('../libexec/dovetail/dovetail');
      expect(readFileSync(config(), 'utf8')).toBe(EXAMPLE_CONFIG);
      expect(existsSync(join(libexec(), 'dovetail-relay'))).toBe(false);
    });

    it('the installed executable runs, through the link too, with an empty environment', () => {
      for (const program of [join(libexec(), 'dovetail'), join(root, 'usr/local/bin/dovetail')]) {
        const result = spawnSync(program, ['--version'], { env: {}, encoding: 'utf8' });
        expect(result.stdout).toBe('dovetail 0.1.0\n');
        expect(result.status).toBe(0);
      }
    });

    it('the installed executable delivers into Maildir as the mail user', async () => {
      const maildirConfig = box.file('maildir.conf', `mail_location = maildir:~/Maildir\nlog_path = ${box.home}/maildir.log\n`);
      const result = await deliverAsMailUser(join(libexec(), 'dovetail'), box.home, ['-c', maildirConfig], 'installed');
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
      const newDir = join(box.home, 'Maildir/new');
      expect(readdirSync(newDir).map((name) => readFileSync(join(newDir, name), 'utf8'))).toEqual([expect.stringContaining('Subject: installed')]);
    });

    it('installing again changes nothing', () => {
      const before = tree(root);
      const manifest = readFileSync(join(libexec(), 'install-manifest'), 'utf8');
      expect(install('--root', root, ...flags)).toContain(`Kept the existing ${config()}`);
      expect(tree(root)).toEqual(before);
      expect(readFileSync(join(libexec(), 'install-manifest'), 'utf8')).toBe(manifest);
    });

    it('uninstall keeps only the config the admin changed; uninstalling again is harmless', () => {
      appendFileSync(config(), 'mail_location = mbox:~/mail\n');
      expect(install('--root', root, '--uninstall')).toContain(`Kept ${config()}: changed since it was installed`);
      expect(tree(root)).toEqual(['etc', 'etc/dovetail', 'etc/dovetail/dovetail.conf']);
      expect(install('--root', root, '--uninstall')).toContain('Nothing to uninstall');
      rmSync(root, { recursive: true });
    });
  });

  describe('with an unchanged config, or one that was there before', () => {
    it('uninstall removes an unchanged config and every directory it made', () => {
      const fresh = join(box.dir, 'fresh');
      mkdirSync(fresh);
      install('--root', fresh, ...flags);
      install('--root', fresh, '--uninstall');
      expect(tree(fresh)).toEqual([]);
    });

    it("never writes over nor removes the admin's own config", () => {
      const own = join(box.dir, 'own');
      mkdirSync(join(own, 'etc/dovetail'), { recursive: true });
      writeFileSync(join(own, 'etc/dovetail/dovetail.conf'), 'mail_location = maildir:~/Mail\n');
      install('--root', own, ...flags);
      expect(readFileSync(join(own, 'etc/dovetail/dovetail.conf'), 'utf8')).toBe('mail_location = maildir:~/Mail\n');
      install('--root', own, '--uninstall');
      expect(tree(own)).toEqual(['etc', 'etc/dovetail', 'etc/dovetail/dovetail.conf']);
    });
  });

  describe('--relay, delivering as vmail into a root:mail 2775 spool', () => {
    let prefix: string;
    let spool: string;
    let relayConfig: string;
    const binary = () => join(prefix, 'libexec/dovetail/dovetail');
    const relay = () => join(prefix, 'libexec/dovetail/dovetail-relay');
    const SENDER = 'relay.sender@example.org';

    beforeAll(() => {
      prefix = join(box.dir, 'prefix');
      spool = join(box.dir, 'var-mail');
      mkdirSync(spool);
      chownSync(spool, 0, mailGroupGid);
      chmodSync(spool, 0o2775);
      // a space in the path: the relay must pass each argument as it came
      const configDir = join(box.dir, 'conf dir');
      mkdirSync(configDir);
      relayConfig = join(configDir, 'relay.conf');
      writeFileSync(relayConfig, `mail_location = mbox:~/mail:INBOX=${spool}/%n\nmail_privileged_group = mail\nlog_path = ${box.home}/relay.log\n`);
    });

    it('before the relay: the executable alone cannot lock the spool (75, nothing written) and --check says why', async () => {
      install('--prefix', prefix, '--confdir', join(box.dir, 'etc-dovetail'), ...flags);
      const result = await deliverAsMailUser(binary(), box.home, ['-c', relayConfig, '-f', SENDER], 'direct');
      expect(result.status).toBe(75);
      expect(readdirSync(spool)).toEqual([]);
      const check = checkAsMailUser(binary(), box.home, ['-c', relayConfig]);
      expect(check.status).toBe(78);
      expect(check.stdout).toContain(`problem: ${spool}: only mail_privileged_group mail may write it, and neither ${binary()} is setgid mail`);
    });

    it('installs the relay root:mail 2755', () => {
      install('--prefix', prefix, '--confdir', join(box.dir, 'etc-dovetail'), '--relay', ...flags);
      const stat = statSync(relay());
      expect(stat.mode & 0o7777).toBe(0o2755);
      expect([stat.uid, stat.gid]).toEqual([0, mailGroupGid]);
    });

    it('the relay runs dovetail with argv intact: delivered as vmail with the sender of -f, no lock left', async () => {
      // a variable Node acts on before our code runs must not reach it through the setgid relay
      const coverage = join(box.dir, 'coverage-through-relay');
      const result = await deliverAsMailUser(relay(), box.home, ['-c', relayConfig, '-f', SENDER], 'relayed', { NODE_V8_COVERAGE: coverage });
      expect(existsSync(coverage)).toBe(false);
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
      expect(readdirSync(spool)).toEqual([MAIL_USER]);
      const inbox = statSync(join(spool, MAIL_USER));
      // the user's and private; its group comes from the spool's setgid bit
      expect([inbox.uid, inbox.gid, inbox.mode & 0o777]).toEqual([mailUid, mailGroupGid, 0o600]);
      const mbox = readFileSync(join(spool, MAIL_USER), 'utf8');
      expect(mbox).toMatch(new RegExp(`^From ${SENDER} `));
      expect(mbox).toContain('Subject: relayed');
    });

    it('--check as vmail finds the relay holding the group: no problems', () => {
      const check = checkAsMailUser(binary(), box.home, ['-c', relayConfig]);
      expect(check.stdout).toContain(`ok: ${spool}: dotlocks through mail_privileged_group mail, held by ${relay()}`);
      expect(check.stdout).toContain(`ok: ${relay()}: setgid mail (mode 2755 owner 0:${mailGroupGid})`);
      expect(check.status).toBe(0);
    });

    it('uninstall removes the relay with the rest', () => {
      install('--prefix', prefix, '--confdir', join(box.dir, 'etc-dovetail'), '--uninstall');
      expect(existsSync(prefix)).toBe(false);
      expect(existsSync(join(box.dir, 'etc-dovetail'))).toBe(false);
    });
  });
});
