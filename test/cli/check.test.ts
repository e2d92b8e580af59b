// `dovetail --check`: the decisions over injected file facts (permissions,
// spool dotlocks, the executable and relay, the report), then runCheck on
// real config files for what it reads itself.

import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  accessProblem,
  creatableProblem,
  formatReport,
  programFindings,
  quotaFinding,
  runCheck,
  spoolFinding,
  type FileStat,
  type ProgramFacts,
  type SpoolFacts,
  type StatOf,
} from '../../src/cli/check.js';
import { EX_CONFIG, EX_OK } from '../../src/deliver/outcomes.js';
import { parseQuotaSettings } from '../../src/quota/settings.js';

const VMAIL = { uid: 5000, gids: [5000] };
const MAIL_GID = 8;

const dir = (mode: number, uid = 0, gid = 0): FileStat => ({ mode, uid, gid, isDirectory: true });
const file = (mode: number, uid = 0, gid = 0): FileStat => ({ mode, uid, gid, isDirectory: false });

/** A file system of the given paths; "/" is root's 0755 unless given. */
function facts(paths: Record<string, FileStat>): StatOf {
  const all: Record<string, FileStat> = { '/': dir(0o755), ...paths };
  return (path) => all[path];
}

describe('accessProblem', () => {
  const fs = facts({
    '/etc': dir(0o755),
    '/etc/dovetail': dir(0o750, 0, 5000),
    '/etc/dovetail/users': file(0o640, 0, 5000),
    '/etc/dovetail/secret': file(0o600),
    '/private': dir(0o700),
    '/private/users': file(0o644),
    '/var': dir(0o755),
    '/var/mail': dir(0o2775, 0, MAIL_GID),
    '/var/mail/nosearch': dir(0o2763, 0, MAIL_GID),
  });

  it('lets the group read a file in a directory only the group may enter', () => {
    expect(accessProblem('/etc/dovetail/users', 'read', VMAIL, fs)).toBeUndefined();
  });

  it("names a file others may not read, with its mode and owner", () => {
    expect(accessProblem('/etc/dovetail/secret', 'read', VMAIL, fs)).toBe('/etc/dovetail/secret: not readable by uid 5000 gid 5000 (mode 0600 owner 0:0)');
  });

  it('names the directory that cannot be passed through', () => {
    expect(accessProblem('/private/users', 'read', VMAIL, fs)).toBe('/private: uid 5000 gid 5000 cannot pass through it (mode 0700 owner 0:0)');
  });

  it('says a missing file does not exist', () => {
    expect(accessProblem('/etc/dovetail/none', 'read', VMAIL, fs)).toBe('/etc/dovetail/none: does not exist');
    expect(accessProblem('/nowhere/users', 'read', VMAIL, fs)).toBe('/nowhere/users: does not exist');
  });

  it('lets root read anything that exists', () => {
    expect(accessProblem('/private/users', 'read', { uid: 0, gids: [0] }, fs)).toBeUndefined();
  });

  it('writing into a directory needs the group bits when the user is in the group, and search as well as write', () => {
    expect(accessProblem('/var/mail', 'write', VMAIL, fs)).toMatch(/^\/var\/mail: not writable by uid 5000/);
    expect(accessProblem('/var/mail', 'write', { uid: 5000, gids: [MAIL_GID] }, fs)).toBeUndefined();
    expect(accessProblem('/var/mail/nosearch', 'write', { uid: 5000, gids: [MAIL_GID] }, fs)).toMatch(/not writable/);
  });

  it('uses the owner bits for the owner even when the group bits would allow more', () => {
    const own = facts({ '/box': dir(0o570, 5000, 5000) });
    expect(accessProblem('/box', 'write', VMAIL, own)).toMatch(/not writable/);
  });
});

describe('creatableProblem', () => {
  const fs = facts({
    '/home': dir(0o755),
    '/home/vmail': dir(0o700, 5000, 5000),
    '/home/vmail/file': file(0o600, 5000, 5000),
  });

  it('accepts a missing directory whose nearest existing parent the user may write', () => {
    expect(creatableProblem('/home/vmail/Maildir', VMAIL, fs)).toBeUndefined();
    expect(creatableProblem('/home/vmail/a/b/c', VMAIL, fs)).toBeUndefined();
  });

  it('names the nearest existing parent the user may not write', () => {
    expect(creatableProblem('/nonexistent/Maildir', VMAIL, fs)).toBe('/: not writable by uid 5000 gid 5000 (mode 0755 owner 0:0)');
  });

  it('refuses a file in the way', () => {
    expect(creatableProblem('/home/vmail/file/Maildir', VMAIL, fs)).toBe('/home/vmail/file: not a directory');
  });
});

describe('spoolFinding', () => {
  const fs = facts({
    '/var': dir(0o755),
    '/var/mail': dir(0o2775, 0, MAIL_GID),
    '/var/spool': dir(0o1777),
    '/var/readonly': dir(0o755, 0, MAIL_GID),
  });
  const binary: ProgramFacts = { path: '/usr/local/libexec/dovetail/dovetail', stat: file(0o755), isScript: false };
  const relay: ProgramFacts = { path: '/usr/local/libexec/dovetail/dovetail-relay', stat: file(0o2755, 0, MAIL_GID), isScript: false };
  const spool = (overrides: Partial<SpoolFacts>): SpoolFacts => ({
    dir: '/var/mail',
    user: VMAIL,
    privilegedGroup: { name: 'mail', gid: MAIL_GID },
    programs: [binary, relay],
    ...overrides,
  });

  it('is fine when the user may write the directory itself', () => {
    expect(spoolFinding(spool({ dir: '/var/spool', privilegedGroup: undefined, programs: [binary] }), fs)).toEqual({
      ok: true,
      text: '/var/spool: the user creates dotlocks directly',
    });
  });

  it('is fine through mail_privileged_group when the relay is setgid to it, and names the relay', () => {
    expect(spoolFinding(spool({}), fs)).toEqual({
      ok: true,
      text: `/var/mail: dotlocks through mail_privileged_group mail, held by ${relay.path}`,
    });
  });

  it('a setgid single executable holds the group as well as a relay does', () => {
    const setgidBinary = { ...binary, stat: file(0o2755, 0, MAIL_GID) };
    expect(spoolFinding(spool({ programs: [setgidBinary] }), fs).ok).toBe(true);
  });

  it('without mail_privileged_group: a problem that says what to set', () => {
    const finding = spoolFinding(spool({ privilegedGroup: undefined }), fs);
    expect(finding.ok).toBe(false);
    expect(finding.text).toMatch(/^\/var\/mail: not writable by uid 5000 .*set mail_privileged_group/);
  });

  it('with a group that does not exist: a problem naming it', () => {
    const finding = spoolFinding(spool({ privilegedGroup: { name: 'mial' } }), fs);
    expect(finding).toEqual({ ok: false, text: expect.stringMatching(/mail_privileged_group mial does not exist$/) });
  });

  it('with a group that may not write the directory either: a problem', () => {
    const finding = spoolFinding(spool({ dir: '/var/readonly' }), fs);
    expect(finding).toEqual({ ok: false, text: expect.stringMatching(/^\/var\/readonly: not writable .*: not even through mail_privileged_group mail$/) });
  });

  it('when neither the executable nor a relay is setgid to the group: a problem naming both and the fix', () => {
    const finding = spoolFinding(spool({ programs: [binary, { ...relay, stat: file(0o755, 0, MAIL_GID) }] }), fs);
    expect(finding.ok).toBe(false);
    expect(finding.text).toContain(`neither ${binary.path} nor ${relay.path} is setgid mail`);
    expect(finding.text).toContain('scripts/install.sh --relay');
  });

  it('a setgid script does not count: the kernel ignores the bit', () => {
    const setgidScript = { ...binary, stat: file(0o2755, 0, MAIL_GID), isScript: true };
    expect(spoolFinding(spool({ programs: [setgidScript] }), fs).ok).toBe(false);
  });

  it('a relay setgid to another group does not count', () => {
    const otherRelay = { ...relay, stat: file(0o2755, 0, 12) };
    expect(spoolFinding(spool({ programs: [binary, otherRelay] }), fs).ok).toBe(false);
  });
});

describe('programFindings', () => {
  const mail = { name: 'mail', gid: MAIL_GID };
  const program = (path: string, stat: FileStat, isScript = false): ProgramFacts => ({ path, stat, isScript });
  const problems = (findings: { ok: boolean; text: string }[]) => findings.filter((finding) => !finding.ok).map((finding) => finding.text);

  it('accepts a 0755 root executable and a 2755 root:mail relay', () => {
    const findings = programFindings(program('/x/dovetail', file(0o755)), program('/x/dovetail-relay', file(0o2755, 0, MAIL_GID)), mail);
    expect(problems(findings)).toEqual([]);
    expect(findings.map((finding) => finding.text)).toContain('/x/dovetail-relay: setgid mail (mode 2755 owner 0:8)');
  });

  it('refuses a world-writable executable', () => {
    expect(problems(programFindings(program('/x/dovetail', file(0o757)), undefined, mail))).toEqual([
      '/x/dovetail: world-writable (mode 0757 owner 0:0); anyone could replace what Postfix runs',
    ]);
  });

  it('refuses setuid-root together with world-executable, as dovecot-lda does', () => {
    expect(problems(programFindings(program('/x/dovetail', file(0o4755)), undefined, mail))).toEqual([
      '/x/dovetail: must not be both world-executable and setuid-root (mode 4755 owner 0:0)',
    ]);
    expect(problems(programFindings(program('/x/dovetail', file(0o4750)), undefined, mail))).toEqual([]);
  });

  it.each([
    ['mode 0755', file(0o755, 0, MAIL_GID)],
    ['group-writable', file(0o2775, 0, MAIL_GID)],
    ['owned by a user', file(0o2755, 5000, MAIL_GID)],
    ['another group', file(0o2755, 0, 0)],
  ])('refuses a relay that is not 2755 root:mail: %s', (_, stat) => {
    const found = problems(programFindings(program('/x/dovetail', file(0o755)), program('/x/dovetail-relay', stat), mail));
    expect(found).toEqual([expect.stringMatching(/^\/x\/dovetail-relay: mode \d+ owner \d+:\d+, expected mode 2755 owner root:mail/)]);
  });

  it('warns that set-id bits on a script do nothing', () => {
    expect(problems(programFindings(program('/x/dovetail', file(0o2755, 0, MAIL_GID), true), undefined, mail))).toEqual([
      expect.stringMatching(/^\/x\/dovetail: a script; the kernel ignores its set-id bits/),
    ]);
  });
});

describe('formatReport', () => {
  it('all well: the lines, a summary, exit 0', () => {
    expect(formatReport([{ ok: true, text: 'a' }])).toEqual({ lines: ['ok: a', 'dovetail --check: no problems found'], status: 0 });
  });

  it('any problem: exit 78 (EX_CONFIG) and the count', () => {
    const report = formatReport([{ ok: false, text: 'a' }, { ok: true, text: 'b' }, { ok: false, text: 'c' }]);
    expect(report).toEqual({ lines: ['problem: a', 'ok: b', 'problem: c', 'dovetail --check: 2 problems found'], status: EX_CONFIG });
  });
});

describe('quotaFinding', () => {
  const quota = (plugin: Record<string, string>, mailPlugins = 'quota') => parseQuotaSettings((key) => plugin[key], mailPlugins, undefined);
  const root = 'maildir:User quota';

  it.each([
    ['mail_plugins without quota', quota({ quota: root, quota_rule: '*:storage=10M' }, 'sieve'), true, undefined],
    ['quota plugin, no quota root', quota({}), true, undefined],
    ['an mbox user', quota({ quota: root, quota_rule: '*:storage=10M' }), false, 'ok: quota maildir:User quota: ignored, the mail is not in Maildir (mbox): Maildir++ quota counts only a Maildir'],
    ['a * rule', quota({ quota: root, quota_rule: '*:storage=10M:messages=100' }), true, 'ok: quota maildir:User quota: storage 10485760 bytes, 100 messages'],
    ['a * rule on storage only', quota({ quota: root, quota_rule: '*:storage=1G', quota_rule2: 'Trash:storage=+10%' }), true, 'ok: quota maildir:User quota: storage 1073741824 bytes, no message limit'],
    ['a ? rule', quota({ quota: root, quota_rule: '?:messages=5' }), true, 'ok: quota maildir:User quota: no storage limit, 5 messages (unless maildirsize holds limits: no * rule forces these)'],
    ['noenforcing', quota({ quota: 'maildir:q:noenforcing', quota_rule: '*:bytes=2048' }), true, 'ok: quota maildir:q: storage 2048 bytes, no message limit, counted but not enforced (noenforcing)'],
  ] as const)('%s', (_name, settings, inMaildir, line) => {
    const finding = quotaFinding(settings, inMaildir);
    expect(finding && formatReport([finding]).lines[0]).toBe(line);
  });
});

describe('runCheck', () => {
  let tmp: string;
  let executable: string;
  let lines: string[];
  const run = (argv: string[]) => runCheck({ argv, env: {}, writeLine: (line) => lines.push(line), executable });

  beforeEach(() => {
    tmp = mkdtempSync('/tmp/dovetail-check-');
    executable = join(tmp, 'dovetail');
    writeFileSync(executable, '\x7fELF');
    chmodSync(executable, 0o755);
    lines = [];
  });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  it('a config error: its file and line, exit 78', async () => {
    const config = join(tmp, 'bad.conf');
    writeFileSync(config, 'mail_location = maildir:~/Maildir\nlda_mailbox_autocreate = maybe\n');
    expect(await run(['-c', config])).toBe(EX_CONFIG);
    expect(lines).toEqual([
      `problem: config ${config}: Error in configuration file ${config} line 2: Invalid boolean value: maybe (use yes or no)`,
      'dovetail --check: 1 problem found',
    ]);
  });

  it('a bad command line: the usage, exit 78', async () => {
    expect(await run(['-x'])).toBe(EX_CONFIG);
    expect(lines[0]).toBe("problem: invalid option -- 'x'; usage: dovetail --check [-c config_file] [-d destination_user]");
  });

  it('reports an unknown mail_privileged_group and a world-writable executable', async () => {
    const config = join(tmp, 'ok.conf');
    writeFileSync(config, 'mail_privileged_group = no-such-group-here\nuserdb {\n  driver = static\n  args = uid=5000 gid=5000 home=/tmp\n}\n');
    chmodSync(executable, 0o777);
    expect(await run(['-c', config, '-d', 'someone'])).toBe(EX_CONFIG);
    expect(lines).toContain('problem: mail_privileged_group: unknown group no-such-group-here; every delivery would fail');
    expect(lines).toContain(`problem: ${executable}: world-writable (mode 0777 owner ${process.getuid!()}:${process.getgid!()}); anyone could replace what Postfix runs`);
  });

  describe('quota of the user', () => {
    const quotaConfig = (mailLocation: string, rule: string) => {
      mkdirSync(join(tmp, 'home'));
      const config = join(tmp, 'quota.conf');
      writeFileSync(
        config,
        `mail_location = ${mailLocation}\nmail_plugins = quota\nplugin {\n  quota = maildir:User quota\n  quota_rule = ${rule}\n}\n` +
          `userdb {\n  driver = static\n  args = uid=${process.geteuid!()} gid=${process.getegid!()} home=${tmp}/home\n}\n`,
      );
      return config;
    };

    it('an mbox user: says the quota settings are ignored', async () => {
      expect(await run(['-c', quotaConfig(`mbox:${tmp}/home/mail:INBOX=${tmp}/home/inbox`, '*:storage=10M'), '-d', 'someone'])).toBe(EX_OK);
      expect(lines).toContain('ok: quota maildir:User quota: ignored, the mail is not in Maildir (mbox): Maildir++ quota counts only a Maildir');
    });

    it('a Maildir user: the limits in effect', async () => {
      expect(await run(['-c', quotaConfig(`maildir:${tmp}/home/Maildir`, '*:storage=10M:messages=1000'), '-d', 'someone'])).toBe(EX_OK);
      expect(lines).toContain('ok: quota maildir:User quota: storage 10485760 bytes, 1000 messages');
    });

    it('a malformed rule: a problem, even for an mbox user', async () => {
      expect(await run(['-c', quotaConfig(`mbox:${tmp}/home/mail:INBOX=${tmp}/home/inbox`, '*:storage=lots'), '-d', 'someone'])).toBe(EX_CONFIG);
      expect(lines).toContain(
        'problem: quota: Failed to initialize quota: Invalid quota root quota: Invalid rule *:storage=lots: Invalid storage limit: lots; every delivery to this user would be deferred',
      );
    });
  });

  it.skipIf(process.geteuid?.() !== 0)('as root with -d: a user file the delivering user cannot read, and a spool the user cannot lock in', async () => {
    const users = join(tmp, 'users');
    writeFileSync(users, `someone::5000:5000::${tmp}/home::userdb_mail=mbox:~/mail:INBOX=${tmp}/spool/%u\n`, { mode: 0o600 });
    const config = join(tmp, 'users.conf');
    writeFileSync(config, `userdb {\n  driver = passwd-file\n  args = ${users}\n}\n`);
    chmodSync(tmp, 0o755);
    mkdirSync(join(tmp, 'spool'));
    chownSync(join(tmp, 'spool'), 0, MAIL_GID);
    chmodSync(join(tmp, 'spool'), 0o2775);
    expect(await run(['-c', config, '-d', 'someone'])).toBe(EX_CONFIG);
    expect(lines).toContain(`ok: user someone: uid 5000 gid 5000 home ${tmp}/home`);
    expect(lines).toContain(`problem: userdb passwd-file at ${config}:1: ${users}: not readable by uid 5000 gid 5000 (mode 0600 owner 0:0)`);
    expect(lines).toContain(`ok: mail_location mbox:~/mail:INBOX=${tmp}/spool/someone opens`);
    expect(lines).toContain(`problem: mail root ${tmp}/home/mail: ${tmp}: not writable by uid 5000 gid 5000 (mode 0755 owner 0:0)`);
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^problem: ${tmp}/spool: not writable by uid 5000 gid 5000 \\(mode 2775 owner 0:${MAIL_GID}\\); .*set mail_privileged_group`)));
  });
});
