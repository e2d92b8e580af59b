// The SQLite driver on a real database file (node:sqlite: vitest runs on the
// Node of the single executable), alone and as the sql userdb in lookupUser,
// after a passwd-file in one chain.

import { describe, it, expect, vi, beforeAll, afterAll, afterEach } from 'vitest';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { UserdbConfig } from '../../src/config/types.js';
import { lookupUser, type LookupContext } from '../../src/userdb/lookup.js';
import { realText, sqliteDriver } from '../../src/userdb/sql/sqlite.js';
import { SqlError, type SqlConnection } from '../../src/userdb/sql/types.js';
import { lookupContext, userdbConfig } from '../helpers/userdb.js';

interface WritableDatabase {
  exec(sql: string): void;
  prepare(sql: string): { run(...values: unknown[]): unknown };
  close(): void;
}
const { DatabaseSync } = process.getBuiltinModule('node:sqlite') as unknown as { DatabaseSync: new (path: string) => WritableDatabase };

const HOSTILE_NAMES = [
  "o'brien@example.com",
  "x' OR '1'='1@example.com",
  "a'; DELETE FROM users; --@example.com",
  "''@example.com",
  "\\'@example.com",
  'back\\slash@example.com',
  'quo"te@example.com',
  '%u@example.com',
];

let dir: string;
let dbPath: string;

beforeAll(() => {
  dir = mkdtempSync('/tmp/dovetail-sql-sqlite-');
  dbPath = join(dir, 'users.db');
  const db = new DatabaseSync(dbPath);
  db.exec('CREATE TABLE users (userid TEXT PRIMARY KEY, home TEXT, uid INTEGER, gid INTEGER, mail TEXT, quota_rule TEXT)');
  const insert = db.prepare('INSERT INTO users VALUES (?, ?, ?, ?, ?, ?)');
  insert.run('alice@example.com', '/home/alice', 5001, 5001, null, '*:storage=1G');
  insert.run('bob@example.com', '/sql/bob', 5002, 5002, 'mbox:~/mail:INBOX=~/inbox', null);
  insert.run('twin@example.com', '/twin/1', 5003, 5003, null, null);
  insert.run('Twin@example.com', '/twin/2', 5004, 5004, null, null);
  HOSTILE_NAMES.forEach((name, index) => insert.run(name, `/hostile/${index}`, 6000 + index, 6000 + index, null, null));
  db.close();
  writeFileSync(join(dir, 'not-a-database'), 'just text, long enough to be read as a database header........\n');
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

afterEach(() => vi.restoreAllMocks());

async function withConnection<T>(path: string, use: (connection: SqlConnection) => Promise<T>): Promise<T> {
  const connection = await sqliteDriver.connect(path, 5000);
  try {
    return await use(connection);
  } finally {
    await connection.close();
  }
}

async function failure(run: () => Promise<unknown>): Promise<string> {
  const error = await run().then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(SqlError);
  return (error as SqlError).message;
}

describe('sqliteDriver: values as SQLite prints them', () => {
  it('gives every column in order, as text, NULL as null, 64-bit integers exactly, a repeated name its last value', async () => {
    const rows = await withConnection(dbPath, (connection) =>
      connection.query("SELECT home, uid, gid, mail, 9007199254740993 AS big, x'6869' AS blob, 1.5 AS real, 5 AS dupe, 6 AS dupe FROM users WHERE userid = 'alice@example.com'"),
    );
    expect(rows).toEqual([{ home: '/home/alice', uid: '5001', gid: '5001', mail: null, big: '9007199254740993', blob: 'hi', real: '1.5', dupe: '6' }]);
    expect(Object.keys(rows[0])).toEqual(['home', 'uid', 'gid', 'mail', 'big', 'blob', 'real', 'dupe']);
  });

  // what Debian 12's libsqlite3 3.40.1 (Dovecot's) prints, from its sqlite3 shell: SELECT CAST(CAST(v AS REAL) AS TEXT);
  // the SQLite inside Node (3.5x) prints some of them otherwise (0.33333333333333332, 1000000000000000.0)
  it.each([
    ['1000', '1000.0'],
    ['1e20', '1.0e+20'],
    ['1e-7', '1.0e-07'],
    ['1.0/3', '0.333333333333333'],
    ['-2.5', '-2.5'],
    ['123456789012345678.0', '1.23456789012346e+17'],
    ['1e15', '1.0e+15'],
    ['1e14', '100000000000000.0'],
    ['0.0', '0.0'],
    ['-0.0', '0.0'],
    ['999999999999999.9', '1.0e+15'],
    ['0.0001', '0.0001'],
    ['0.00001', '1.0e-05'],
    ['9007199254740992.0', '9.00719925474099e+15'],
    ['-1e-300', '-1.0e-300'],
  ])('REAL %s reads as %s', async (value, text) => {
    const [row] = await withConnection(dbPath, (connection) => connection.query(`SELECT CAST(${value} AS REAL) AS real`));
    expect(row.real).toBe(text);
  });

  it.each([
    [Infinity, 'Inf'],
    [-Infinity, '-Inf'],
  ])('realText(%d) is %s', (value, text) => {
    expect(realText(value)).toBe(text);
  });

  it('reads "..." as a string literal, as Debian\'s libsqlite3 does for Dovecot', async () => {
    const rows = await withConnection(dbPath, (connection) => connection.query('SELECT home FROM users WHERE userid = "bob@example.com"'));
    expect(rows).toEqual([{ home: '/sql/bob' }]);
  });

  it('runs only the first statement, and writes nothing (read-only)', async () => {
    await withConnection(dbPath, async (connection) => {
      expect(await connection.query('SELECT 1 AS one; DELETE FROM users')).toEqual([{ one: '1' }]);
      expect(await failure(() => connection.query('DELETE FROM users'))).toBe('attempt to write a readonly database');
      expect(await connection.query('SELECT count(*) AS n FROM users')).toEqual([{ n: String(4 + HOSTILE_NAMES.length) }]);
    });
  });

  it.each([
    ['a syntax error', 'SELEC home FROM users', 'near "SELEC": syntax error'],
    ['no such table', 'SELECT home FROM accounts', 'no such table: accounts'],
    ['no such column', 'SELECT homedir FROM users', 'no such column: homedir'],
  ])('%s is an SqlError', async (_what, sql, message) => {
    expect(await withConnection(dbPath, (connection) => failure(() => connection.query(sql)))).toBe(message);
  });

  it('can be closed twice', async () => {
    const connection = await sqliteDriver.connect(dbPath, 5000);
    await connection.close();
    await expect(connection.close()).resolves.toBeUndefined();
  });
});

describe('sqliteDriver: opening', () => {
  it('does not create a missing database, and says why it cannot open it', async () => {
    const missing = join(dir, 'missing.db');
    expect(await failure(() => sqliteDriver.connect(missing, 5000))).toBe(`can't open SQLite database ${missing}: ENOENT: no such file or directory`);
    expect(existsSync(missing)).toBe(false);
  });

  it('fails on a file that is not a database when it is queried', async () => {
    expect(await withConnection(join(dir, 'not-a-database'), (connection) => failure(() => connection.query('SELECT 1')))).toBe('file is not a database');
  });

  it('refuses an empty connect', async () => {
    expect(await failure(() => sqliteDriver.connect('', 5000))).toBe('SQLite connect is empty: it must be the database file');
  });

  it('says which Node it needs where node:sqlite is missing (the system Node 20 of bin/dovetail)', async () => {
    vi.spyOn(process, 'getBuiltinModule').mockReturnValue(undefined as never);
    expect(await failure(() => sqliteDriver.connect(dbPath, 5000))).toBe(
      `SQLite userdb needs Node >= 22.16 (node:sqlite), this is ${process.version}: use the single executable (dist/dovetail)`,
    );
  });

  it('escapes as Dovecot 2.3 driver-sqlite.c: the single quote doubled, nothing else', () => {
    expect(sqliteDriver.escape("o'brien \\ \" %u ''")).toBe("o''brien \\ \" %u ''''");
  });
});

const CONTEXT = lookupContext({ authUsernameChars: '' });

function sqlArgs(name: string, lines: string[]): string {
  const path = join(dir, name);
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

/** USER name k=v ..., NOTFOUND, or the failure's message. */
async function answer(userdbs: UserdbConfig[], username: string, context: LookupContext = CONTEXT): Promise<string> {
  try {
    const record = await lookupUser(userdbs, username, context);
    if (record === null) return 'NOTFOUND';
    const known = (['uid', 'gid', 'home', 'mail'] as const).flatMap((key) => (record[key] === undefined ? [] : [`${key}=${record[key]}`]));
    return ['USER', record.username, ...known, ...[...record.fields].map(([key, value]) => `${key}=${value}`)].join(' ');
  } catch (error) {
    expect(error).toMatchObject({ name: 'DeliveryFailure', kind: 'temporary' });
    return (error as Error).message;
  }
}

describe('the sql userdb over SQLite in lookupUser', () => {
  const sql = () => userdbConfig('sql', sqlArgs('sql.conf.ext', ['driver = sqlite', `connect = ${dbPath}`, "user_query = SELECT home, uid, gid, mail, quota_rule FROM users WHERE userid = '%u'"]));

  it.each([
    ['alice@example.com', 'USER alice@example.com uid=5001 gid=5001 home=/home/alice quota_rule=*:storage=1G'],
    ['Alice@Example.COM', 'USER alice@example.com uid=5001 gid=5001 home=/home/alice quota_rule=*:storage=1G'],
    ['bob@example.com', 'USER bob@example.com uid=5002 gid=5002 home=/sql/bob mail=mbox:~/mail:INBOX=~/inbox'],
    ['nobody@example.com', 'NOTFOUND'],
    ['alice@example.org', 'NOTFOUND'],
  ])('%s → %s', async (user, expected) => {
    expect(await answer([sql()], user)).toBe(expected);
  });

  it('folds case only as auth_username_format says', async () => {
    expect(await answer([sql()], 'Twin@example.com', { ...CONTEXT, authUsernameFormat: '%u' })).toBe('USER Twin@example.com uid=5004 gid=5004 home=/twin/2');
    expect(await answer([sql()], 'Twin@example.com')).toBe('USER twin@example.com uid=5003 gid=5003 home=/twin/1');
  });

  it.each(HOSTILE_NAMES.map((name, index) => [name, index]))('finds %j as itself, nobody else', async (name, index) => {
    expect(await answer([sql()], name as string, { ...CONTEXT, authUsernameFormat: '%u' })).toBe(`USER ${name} uid=${6000 + (index as number)} gid=${6000 + (index as number)} home=/hostile/${index}`);
  });

  it.each(["nobody' OR '1'='1", "nobody' OR userid LIKE '%", "x'; DELETE FROM users; --"])('does not let %j match anyone', async (name) => {
    expect(await answer([sql()], `${name}@example.com`)).toBe('NOTFOUND');
  });

  it('defers with a one-line reason when the database is missing or the query is bad', async () => {
    const missing = userdbConfig('sql', sqlArgs('missing.conf.ext', ['driver = sqlite', `connect = ${join(dir, 'gone.db')}`]));
    expect(await answer([missing], 'alice@example.com')).toBe(
      `userdb lookup of alice@example.com failed: userdb sql at test.conf:1: can't open SQLite database ${join(dir, 'gone.db')}: ENOENT: no such file or directory`,
    );
    const bad = userdbConfig('sql', sqlArgs('bad.conf.ext', ['driver = sqlite', `connect = ${dbPath}`, "user_query = SELECT home FROM accounts WHERE userid = '%u'"]));
    expect(await answer([bad], 'alice@example.com')).toBe('userdb lookup of alice@example.com failed: userdb sql at test.conf:1: User query failed: no such table: accounts');
  });

  it('uses the default user_query of Dovecot 2.3 (username and domain columns)', async () => {
    const defaults = userdbConfig('sql', sqlArgs('defaults.conf.ext', ['driver = sqlite', `connect = ${dbPath}`]));
    expect(await answer([defaults], 'alice@example.com')).toBe('userdb lookup of alice@example.com failed: userdb sql at test.conf:1: User query failed: no such column: username');
  });

  describe('after a passwd-file in one chain', () => {
    const chain = () => {
      const users = join(dir, 'users');
      writeFileSync(users, 'alice@example.com::7001:7001::/passwd-file/alice::\ncarol@example.com::7003:7003::/passwd-file/carol::\n');
      return [userdbConfig('passwd-file', users), sql()];
    };

    it.each([
      ['alice@example.com', 'USER alice@example.com uid=7001 gid=7001 home=/passwd-file/alice'],
      ['carol@example.com', 'USER carol@example.com uid=7003 gid=7003 home=/passwd-file/carol'],
      ['bob@example.com', 'USER bob@example.com uid=5002 gid=5002 home=/sql/bob mail=mbox:~/mail:INBOX=~/inbox'],
      ['nobody@example.com', 'NOTFOUND'],
    ])('%s → %s', async (user, expected) => {
      expect(await answer(chain(), user)).toBe(expected);
    });
  });
});
