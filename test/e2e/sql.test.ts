// Deliveries through `userdb { driver = sql  args = FILE }` over SQLite, by
// the single executable (scripts/package.mjs, built once into a temp dir as
// test/e2e/package.test.ts does: its Node has node:sqlite), run as Postfix's
// pipe(8) runs it (root, -d user) or as the mail user: exit codes, one stderr
// line, and what lands on disk. And bin/dovetail (with a bundle built beside
// it) on a system Node without node:sqlite: 75 with the reason. Skipped, with
// the reason, when the end-to-end tests cannot run here.

import { describe, it, expect, beforeAll, afterAll, beforeEach, afterEach } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { e2eUnavailable, listMaildir, mailGid, mailUid, makeSandbox, type Sandbox } from './harness.js';

const ROOT = resolve(__dirname, '../..');
const MESSAGE = 'From: a@example.org\nTo: b@example.org\nSubject: via sql\nMessage-ID: <sql@example.org>\n\nbody\n';

interface WritableDatabase {
  exec(sql: string): void;
  prepare(sql: string): { run(...values: unknown[]): unknown };
  close(): void;
}

/** Whether the Node that runs bin/dovetail (the first `node` on Postfix's PATH) has node:sqlite. */
const systemNodeHasSqlite =
  spawnSync('node', ['-e', "process.exit(process.getBuiltinModule?.('node:sqlite') ? 0 : 1)"], { env: { PATH: '/usr/bin:/bin' } }).status === 0;

let buildDir: string;
let packaged: string;
/** bin/dovetail beside its own fresh bundle (BUILD/bin, BUILD/dist), so that a stale dist/ cannot mislead */
let launcher: string;

/** A build step run with this Node; fails the suite when it fails. */
function buildStep(what: string, args: string[]): void {
  const built = spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  expect(built.status, `${what} cannot be built: ${built.stderr.trim() || built.error?.message}`).toBe(0);
}

beforeAll(() => {
  if (e2eUnavailable) return;
  buildDir = mkdtempSync('/tmp/dovetail-sql-e2e-');
  chmodSync(buildDir, 0o755);
  packaged = join(buildDir, 'dovetail');
  buildStep('the package', [join(ROOT, 'scripts/package.mjs'), packaged]);
  const bundle = join(buildDir, 'dist/dovetail.js');
  const buildScript = JSON.stringify(pathToFileURL(join(ROOT, 'scripts/build.mjs')).href);
  buildStep('the bundle', ['--input-type=module', '-e', `await (await import(${buildScript})).buildBundles({ entry: 'src/cli/main.ts', outfile: ${JSON.stringify(bundle)}, target: 'node20' });`]);
  copyFileSync(join(ROOT, 'dist/dovetail_native.node'), join(buildDir, 'dist/dovetail_native.node'));
  mkdirSync(join(buildDir, 'bin'));
  launcher = join(buildDir, 'bin/dovetail');
  copyFileSync(join(ROOT, 'bin/dovetail'), launcher);
}, 150_000);

afterAll(() => {
  if (buildDir) rmSync(buildDir, { recursive: true, force: true });
});

interface Delivery {
  status: number | null;
  stderr: string;
}

describe.skipIf(e2eUnavailable !== undefined)(`userdb sql over SQLite, end to end${e2eUnavailable ? ` (skipped: ${e2eUnavailable})` : ''}`, () => {
  let box: Sandbox;
  let database: string;
  let logFile: string;

  /** A dovecot.conf whose sql userdb reads an args file with these lines. */
  function config(sqlLines: string[]): string {
    const args = box.file('dovecot-sql.conf.ext', `${sqlLines.join('\n')}\n`);
    return box.file(
      'dovecot.conf',
      ['mail_location = maildir:~/Maildir', `log_path = ${logFile}`, 'auth_username_chars =', 'userdb {', '  driver = sql', `  args = ${args}`, '}', ''].join('\n'),
    );
  }

  const usersQuery = ['driver = sqlite', 'connect = DB', "user_query = SELECT home, uid, gid, mail FROM users WHERE userid = '%u'"];
  const sqlConfig = (lines = usersQuery) => config(lines.map((line) => line.replace('DB', database)));

  /** The packaged executable with -d USER: as root (pipe(8) user=root), or as the mail user. */
  function deliver(configFile: string, user: string, asMailUser = false): Delivery {
    const result = spawnSync(packaged, ['-c', configFile, '-d', user], {
      env: { PATH: '/usr/bin:/bin' },
      input: MESSAGE,
      encoding: 'utf8',
      timeout: 20_000,
      ...(asMailUser ? { uid: mailUid!, gid: mailGid! } : {}),
    });
    return { status: result.status, stderr: result.stderr };
  }

  beforeEach(() => {
    box = makeSandbox();
    logFile = box.file('dovetail.log', '');
    chownSync(logFile, mailUid!, mailGid!);
    database = join(box.dir, 'users.db');
    const { DatabaseSync } = process.getBuiltinModule('node:sqlite') as unknown as { DatabaseSync: new (path: string) => WritableDatabase };
    const db = new DatabaseSync(database);
    db.exec('CREATE TABLE users (userid TEXT PRIMARY KEY, home TEXT, uid INTEGER, gid INTEGER, mail TEXT)');
    const insert = db.prepare('INSERT INTO users VALUES (?, ?, ?, ?, ?)');
    insert.run('known@example.org', box.home, mailUid, mailGid, null);
    insert.run('mboxed@example.org', box.home, mailUid, mailGid, 'mbox:~/mail:INBOX=~/inbox');
    insert.run("o'brien@example.org", box.home, mailUid, mailGid, 'maildir:~/obrien');
    insert.run('root@example.org', '/root', 0, 0, null);
    db.close();
    chmodSync(database, 0o644);
  });

  afterEach(() => box?.cleanup());

  it('delivers to a known user: home, uid and gid from the row', () => {
    expect(deliver(sqlConfig(), 'known@example.org')).toEqual({ status: 0, stderr: '' });
    const delivered = listMaildir(join(box.home, 'Maildir'), 'new');
    expect(delivered).toHaveLength(1);
    expect(readFileSync(join(box.home, 'Maildir', 'new', delivered[0]!), 'utf8')).toContain('Subject: via sql');
    expect(readFileSync(logFile, 'utf8')).toMatch(/lda\(known@example\.org\).*saved mail to INBOX/);
  });

  it('delivers into the mbox the mail column names, over mail_location', () => {
    expect(deliver(sqlConfig(), 'MBOXED@example.org')).toEqual({ status: 0, stderr: '' });
    expect(readFileSync(join(box.home, 'inbox'), 'utf8')).toContain('\nSubject: via sql\n');
    expect(existsSync(join(box.home, 'Maildir'))).toBe(false);
  });

  it("delivers to o'brien@example.org, the quote escaped in the query", () => {
    expect(deliver(sqlConfig(), "o'brien@example.org")).toEqual({ status: 0, stderr: '' });
    expect(listMaildir(join(box.home, 'obrien'), 'new')).toHaveLength(1);
  });

  it.each(['nobody@example.org', "x' OR '1'='1@example.org", "known@example.org' --"])('bounces %j as unknown (67)', (user) => {
    const result = deliver(sqlConfig(), user);
    expect(result.status).toBe(67);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(existsSync(join(box.home, 'Maildir'))).toBe(false);
  });

  it.each([
    ['uid 0 in the row', () => sqlConfig(), 'root@example.org', false, /Mail access not allowed for root/],
    ['a missing database file', () => sqlConfig(usersQuery.map((line) => line.replace('DB', join(box.dir, 'gone.db')))), 'known@example.org', false, /can't open SQLite database .*gone\.db: ENOENT: no such file or directory/],
    ['a database the mail user cannot read', () => (chmodSync(database, 0o600), sqlConfig()), 'known@example.org', true, /can't open SQLite database .*users\.db: EACCES: permission denied/],
    ['a query on a table that does not exist', () => sqlConfig(['driver = sqlite', 'connect = DB', "user_query = SELECT home FROM accounts WHERE userid = '%u'"]), 'known@example.org', false, /User query failed: no such table: accounts/],
    ['an unknown setting in the args file', () => sqlConfig([...usersQuery, 'user_qeury = x']), 'known@example.org', false, /line 4: Unknown setting: user_qeury/],
  ])('defers on %s (75), one line on stderr', (_what, makeConfig, user, asMailUser, reason) => {
    const result = deliver(makeConfig(), user, asMailUser);
    expect(result.status).toBe(75);
    expect(result.stderr).toMatch(reason);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(existsSync(join(box.home, 'Maildir'))).toBe(false);
    expect(existsSync(database.replace('users.db', 'gone.db'))).toBe(false);
  });

  /** `dovetail --check` from the packaged executable: its exit status and what it printed. */
  function check(configFile: string, user?: string): { status: number | null; stdout: string } {
    const result = spawnSync(packaged, ['--check', '-c', configFile, ...(user === undefined ? [] : ['-d', user])], {
      env: { PATH: '/usr/bin:/bin' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    return { status: result.status, stdout: result.stdout };
  }

  it('--check says the database answers, and what a user\'s row gives delivery', () => {
    const reachable = check(sqlConfig());
    expect(reachable.stdout).toMatch(/^ok: userdbs answer lookups \(sql\)$/m);
    const user = check(sqlConfig(), 'known@example.org');
    expect(user.stdout).toMatch(new RegExp(`^ok: user known@example\\.org: uid ${mailUid} gid ${mailGid} home ${box.home}$`, 'm'));
  });

  it.each([
    ['a missing database file', () => sqlConfig(usersQuery.map((line) => line.replace('DB', join(box.dir, 'gone.db')))), undefined, /^problem: .*can't open SQLite database .*gone\.db: ENOENT/m],
    ['a bad query', () => sqlConfig(['driver = sqlite', 'connect = DB', "user_query = SELECT home FROM accounts WHERE userid = '%u'"]), undefined, /^problem: .*no such table: accounts/m],
    ['a row without uid and gid', () => sqlConfig(['driver = sqlite', 'connect = DB', "user_query = SELECT home FROM users WHERE userid = '%u'"]), 'known@example.org', /^problem: user known@example\.org: no uid\/gid in the userdb/m],
    ['an unknown user', () => sqlConfig(), 'nobody@example.org', /^problem: user nobody@example\.org: User doesn't exist/m],
  ])('--check reports %s as a problem (78)', (_what, makeConfig, user, finding) => {
    const result = check(makeConfig(), user);
    expect(result.status).toBe(78);
    expect(result.stdout).toMatch(finding);
  });

  it.skipIf(systemNodeHasSqlite)('defers through bin/dovetail on a system Node without node:sqlite, saying so', () => {
    const result = spawnSync(launcher, ['-c', sqlConfig(), '-d', 'known@example.org'], { env: { PATH: '/usr/bin:/bin' }, input: MESSAGE, encoding: 'utf8', timeout: 20_000 });
    expect(result.status).toBe(75);
    expect(result.stderr).toMatch(/SQLite userdb needs Node >= 22\.16 \(node:sqlite\), this is v\d+\.\d+\.\d+: use the single executable \(dist\/dovetail\)/);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });
});
