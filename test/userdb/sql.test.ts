// The sql userdb's own logic, with a fake SQLite driver module (the real
// escape, a scripted connection): how user_query is expanded and escaped, what
// a result becomes, how failures read, and sql in a chain of userdbs.
//
// Escaping, as Dovecot 2.3's drivers do it (src/lib-sql, escape_string):
// - driver-sqlite.c doubles the single quote and nothing else;
// - driver-pgsql.c calls PQescapeStringConn(), which with
//   standard_conforming_strings on (PostgreSQL's default since 9.1) doubles
//   the single quote only (with it off, backslashes would be doubled too);
//   without a connection it falls back to PQescapeString();
// - driver-mysql.c calls mysql_real_escape_string() on a connection (without
//   one: mysql_escape_string()), which puts a backslash before NUL, \n, \r,
//   \, ', " and Ctrl-Z (as \0 \n \r \\ \' \" \Z).
// REFERENCE_ESCAPES below are those rules; SQL_DIALECTS read string literals
// back the way each server does, so the tests can show that no name, however
// hostile, changes a query's shape.

import { describe, it, expect, vi, afterAll, beforeEach } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { UserdbConfig } from '../../src/config/types.js';
import { expandVariables, userVariables } from '../../src/config/var-expand.js';
import { lookupUser } from '../../src/userdb/lookup.js';
import { expandUserQuery, rowFields } from '../../src/userdb/sql.js';
import { DEFAULT_USER_QUERY, type SqlConfig } from '../../src/userdb/sql/config.js';
import { sqliteDriver } from '../../src/userdb/sql/sqlite.js';
import { SqlError, type SqlRow } from '../../src/userdb/sql/types.js';
import { lookupContext, userdbConfig } from '../helpers/userdb.js';

/** What the fake connection does next, and what it was asked. */
const database = vi.hoisted(() => ({
  rows: [] as Record<string, string | null>[],
  connectError: undefined as Error | undefined,
  queryError: undefined as Error | undefined,
  connects: [] as [connect: string, timeoutMs: number][],
  queries: [] as string[],
  closes: 0,
}));

vi.mock('../../src/userdb/sql/sqlite.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/userdb/sql/sqlite.js')>();
  return {
    ...real,
    sqliteDriver: {
      escape: real.sqliteDriver.escape,
      async connect(connect: string, timeoutMs: number) {
        database.connects.push([connect, timeoutMs]);
        if (database.connectError) throw database.connectError;
        return {
          async query(sql: string) {
            database.queries.push(sql);
            if (database.queryError) throw database.queryError;
            return database.rows;
          },
          async close() {
            database.closes++;
          },
        };
      },
    },
  };
});

const REFERENCE_ESCAPES = {
  sqlite: (value: string) => sqliteDriver.escape(value),
  pgsql: (value: string) => value.replaceAll("'", "''"),
  mysql: (value: string) => value.replace(/[\0\n\r\\'"\x1a]/g, (char) => `\\${MYSQL_ESCAPES[char] ?? char}`),
};
const MYSQL_ESCAPES: Record<string, string> = { '\0': '0', '\n': 'n', '\r': 'r', '\x1a': 'Z' };
const MYSQL_UNESCAPES: Record<string, string> = { '0': '\0', n: '\n', r: '\r', Z: '\x1a' };

/** How a server reads '...' literals: SQLite and PostgreSQL (standard strings) only know '', MySQL also backslashes. */
const SQL_DIALECTS = { sqlite: { backslash: false }, pgsql: { backslash: false }, mysql: { backslash: true } };

interface ParsedQuery {
  /** the query with each string literal replaced by ? */
  shape: string;
  literals: string[];
}

/** Splits a query into its shape and the values of its string literals, as the dialect reads them; null if a literal never ends. */
function parseQuery(query: string, { backslash }: { backslash: boolean }): ParsedQuery | null {
  let shape = '';
  const literals: string[] = [];
  for (let at = 0; at < query.length; ) {
    if (query[at] !== "'") {
      shape += query[at++];
      continue;
    }
    let value = '';
    for (at++; ; ) {
      if (at >= query.length) return null;
      const char = query[at];
      if (backslash && char === '\\' && at + 1 < query.length) {
        value += MYSQL_UNESCAPES[query[at + 1]] ?? query[at + 1];
        at += 2;
      } else if (char === "'" && query[at + 1] === "'") {
        value += "'";
        at += 2;
      } else if (char === "'") {
        at++;
        break;
      } else {
        value += char;
        at++;
      }
    }
    shape += '?';
    literals.push(value);
  }
  return { shape, literals };
}

const HOSTILE_NAMES = [
  "o'brien@example.com",
  "x' OR '1'='1@example.com",
  "a'; DROP TABLE users; --@example.com",
  "''@example.com",
  "\\'@example.com",
  'trailing\\@example.com',
  'back\\slash@ex\\ample.com',
  'quo"te@example.com',
  'new\nline\r@example.com',
  'ctrl\x1az\0@example.com',
  "%u'%d@example.com",
];

const TEMPLATES = [
  DEFAULT_USER_QUERY,
  "SELECT home, uid, gid FROM users WHERE userid = '%Lu'",
  "SELECT home FROM users WHERE userid = '%u' AND active = 'Y'",
  "SELECT '%2n' AS a, '%-3.2d' AS b, '%Rn' AS c FROM users WHERE domain = '%{domain}'",
];

/** The %-variables of a template's literals, each expanded without escaping: what the server must read back. */
function expectedLiterals(template: string, user: string): string[] {
  const table = userVariables({ user, service: 'lda', hostname: 'mx.example.net', pid: 1 });
  return parseQuery(template, { backslash: false })!.literals.map((literal) => expandVariables(literal, table));
}

function config(userQuery: string): SqlConfig {
  return { path: '/etc/dovecot/dovecot-sql.conf.ext', driver: 'sqlite', connect: '/db', userQuery, iterateQuery: '' };
}

function expand(template: string, user: string, escape: (value: string) => string): string {
  return expandUserQuery(config(template), userVariables({ user, service: 'lda', hostname: 'mx.example.net', pid: 1 }), escape);
}

describe('expandUserQuery: %-variables escaped by the driver', () => {
  it.each([
    ['sqlite', "WHERE username = '%n' AND domain = '%d'", "o'brien@example.com", "WHERE username = 'o''brien' AND domain = 'example.com'"],
    ['sqlite', "WHERE userid = '%Lu'", "O'Brien@Example.COM", "WHERE userid = 'o''brien@example.com'"],
    ['sqlite', "WHERE userid = '%u'", 'back\\slash@example.com', "WHERE userid = 'back\\slash@example.com'"],
    ['pgsql', "WHERE userid = '%u'", "o'brien@example.com", "WHERE userid = 'o''brien@example.com'"],
    ['pgsql', "WHERE userid = '%u'", 'back\\slash@example.com', "WHERE userid = 'back\\slash@example.com'"],
    ['mysql', "WHERE userid = '%u'", "o'brien@example.com", "WHERE userid = 'o\\'brien@example.com'"],
    ['mysql', "WHERE userid = '%u'", 'b\\s"q\n\r\x1a\0@x', "WHERE userid = 'b\\\\s\\\"q\\n\\r\\Z\\0@x'"],
    // after the width, unlike Dovecot (whose %2n here is 'o'' and breaks the query)
    ['sqlite', "WHERE x = '%2n'", "o'brien@example.com", "WHERE x = 'o'''"],
    ['mysql', "WHERE x = '%2n'", "o'brien@example.com", "WHERE x = 'o\\''"],
  ] as const)('%s: %s for %j', (driver, template, user, expected) => {
    expect(expand(template, user, REFERENCE_ESCAPES[driver])).toBe(expected);
  });

  describe.each(Object.keys(REFERENCE_ESCAPES) as (keyof typeof REFERENCE_ESCAPES)[])('%s: no name changes the shape of a query', (driver) => {
    it.each(TEMPLATES.flatMap((template) => HOSTILE_NAMES.map((name) => [template, name] as const)))('%s with %j', (template, name) => {
      const parsed = parseQuery(expand(template, name, REFERENCE_ESCAPES[driver]), SQL_DIALECTS[driver]);
      expect(parsed).toEqual({ shape: parseQuery(template, SQL_DIALECTS[driver])!.shape, literals: expectedLiterals(template, name) });
    });
  });

  // the check above can fail: the wrong escaping lets a name out of its literal
  it.each([
    ['sqlite escaping on MySQL', REFERENCE_ESCAPES.sqlite, SQL_DIALECTS.mysql, "\\'@example.com"],
    ['no escaping on SQLite', (value: string) => value, SQL_DIALECTS.sqlite, "x' OR '1'='1@example.com"],
  ])('%s lets %j change the query', (_what, escape, dialect, name) => {
    const template = "SELECT home FROM users WHERE userid = '%u'";
    const parsed = parseQuery(expand(template, name, escape), dialect);
    expect(parsed === null || parsed.shape !== parseQuery(template, dialect)!.shape).toBe(true);
  });

  it('fails on a %-variable that does not exist', () => {
    expect(() => expand("WHERE x = '%{nonsense}'", 'a@b', REFERENCE_ESCAPES.sqlite)).toThrow("Failed to expand WHERE x = '%{nonsense}': Unknown variable '%nonsense'");
  });
});

describe('rowFields', () => {
  it.each([
    [{ home: '/home/a', uid: '1000', gid: '1000' }, [['home', '/home/a'], ['uid', '1000'], ['gid', '1000']]],
    [{ gid: '2', uid: '1' }, [['gid', '2'], ['uid', '1']]],
    [{ home: '/h', mail: null, quota_rule: '*:storage=1G' }, [['home', '/h'], ['quota_rule', '*:storage=1G']]],
    [{ '': 'unnamed', userdb_quota_rule: '*:bytes=1', x: '' }, [['userdb_quota_rule', '*:bytes=1'], ['x', '']]],
    [{}, []],
  ] as [SqlRow, [string, string][]][])('%j', (row, fields) => {
    expect(rowFields(row)).toEqual(fields);
  });
});

const CONTEXT = lookupContext({ authUsernameChars: '' });
/** made now: some it.each tables write their args files while the tests are collected */
const dir = mkdtempSync('/tmp/dovetail-sql-userdb-');

afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeEach(() => {
  Object.assign(database, { rows: [], connectError: undefined, queryError: undefined, connects: [], queries: [], closes: 0 });
});

function sqlUserdb(argsText: string, settings: Partial<UserdbConfig> = {}): UserdbConfig {
  const path = join(dir, `sql-${Math.random().toString(36).slice(2)}.conf.ext`);
  writeFileSync(path, argsText);
  return userdbConfig('sql', path, settings);
}

const SQLITE_ARGS = "driver = sqlite\nconnect = /var/lib/dovetail/users.db\nuser_query = SELECT home, uid, gid, mail FROM users WHERE userid = '%u'\n";

/** USER name k=v ... (fields in the record's order, then uid gid home mail), NOTFOUND, or the failure's message. */
async function answer(userdbs: UserdbConfig[], username: string): Promise<string> {
  try {
    const record = await lookupUser(userdbs, username, CONTEXT);
    if (record === null) return 'NOTFOUND';
    const known = (['uid', 'gid', 'home', 'mail'] as const).flatMap((key) => (record[key] === undefined ? [] : [`${key}=${record[key]}`]));
    return ['USER', record.username, ...[...record.fields].map(([key, value]) => `${key}=${value}`), ...known].join(' ');
  } catch (error) {
    expect(error).toMatchObject({ name: 'DeliveryFailure', kind: 'temporary' });
    return (error as Error).message;
  }
}

describe('the sql userdb in lookupUser (fake database)', () => {
  it('sends user_query for the formatted name, escaped, with the connect string and a 5 s timeout, and closes', async () => {
    database.rows = [{ home: '/var/vmail/o', uid: '5000', gid: '5000', mail: null }];
    expect(await answer([sqlUserdb(SQLITE_ARGS)], "O'Brien@Example.COM")).toBe("USER o'brien@example.com uid=5000 gid=5000 home=/var/vmail/o");
    expect(database.queries).toEqual(["SELECT home, uid, gid, mail FROM users WHERE userid = 'o''brien@example.com'"]);
    expect(database.connects).toEqual([['/var/lib/dovetail/users.db', 5000]]);
    expect(database.closes).toBe(1);
  });

  it.each([
    ['no row: unknown user', [], 'NOTFOUND'],
    ['several rows: the first counts (Dovecot 2.3.19)', [{ home: '/first' }, { home: '/second' }], 'USER u@example.com home=/first'],
    ['NULL columns are left out', [{ home: '/h', mail: null, quota_rule: null }], 'USER u@example.com home=/h'],
    ['other columns are fields, in order, nothing stripped', [{ quota_rule: '*:storage=1G', userdb_x: '1', sieve: '~/s' }], 'USER u@example.com quota_rule=*:storage=1G userdb_x=1 sieve=~/s'],
    ['a mail column overrides mail_location', [{ home: '/h', mail: 'mbox:~/mail:INBOX=~/inbox' }], 'USER u@example.com home=/h mail=mbox:~/mail:INBOX=~/inbox'],
    ['a user column renames the user', [{ user: 'canonical@example.com', home: '/h' }], 'USER canonical@example.com home=/h'],
    ['a uid naming no account fails the lookup', [{ uid: 'no-such-account' }], "userdb lookup of u@example.com failed: userdb sql at test.conf:1: invalid UID value 'no-such-account'"],
  ] as [string, SqlRow[], string][])('%s', async (_what, rows, expected) => {
    database.rows = rows as Record<string, string | null>[];
    expect(await answer([sqlUserdb(SQLITE_ARGS)], 'u@example.com')).toBe(expected);
  });

  it.each([
    ['the database cannot be reached', () => (database.connectError = new SqlError("can't open SQLite database /var/lib/dovetail/users.db: ENOENT: no such file or directory")), "userdb sql at test.conf:1: can't open SQLite database /var/lib/dovetail/users.db: ENOENT: no such file or directory", 0],
    ['the query fails (a multi-line reason on one line)', () => (database.queryError = new SqlError('relation "users" does not exist\nLINE 1: SELECT ...\n  ^')), 'userdb sql at test.conf:1: User query failed: relation "users" does not exist LINE 1: SELECT ... ^', 1],
    ['the driver throws something else', () => (database.queryError = new TypeError('boom')), 'userdb sql at test.conf:1: User query failed: boom', 1],
  ])('%s: temporary failure with a one-line reason', async (_what, arrange, reason, closes) => {
    arrange();
    expect(await answer([sqlUserdb(SQLITE_ARGS)], 'u@example.com')).toBe(`userdb lookup of u@example.com failed: ${reason}`);
    expect(database.closes).toBe(closes);
  });

  it('fails on a user_query %-variable that does not expand, before connecting', async () => {
    const message = await answer([sqlUserdb("driver = sqlite\nconnect = /db\nuser_query = SELECT 1 WHERE x = '%{nonsense}'\n")], 'u@example.com');
    expect(message).toBe("userdb lookup of u@example.com failed: userdb sql at test.conf:1: Failed to expand SELECT 1 WHERE x = '%{nonsense}': Unknown variable '%nonsense'");
    expect(database.connects).toEqual([]);
  });

  it.each([
    ['no args', userdbConfig('sql', ' '), 'userdb sql at test.conf:1: sql needs the SQL configuration file (dovecot-sql.conf.ext) in args'],
    ['a missing args file', userdbConfig('sql', '/nonexistent/sql.conf.ext'), "userdb sql at test.conf:1: can't read /nonexistent/sql.conf.ext: ENOENT: no such file or directory"],
    ['an unknown setting', sqlUserdb(`${SQLITE_ARGS}user_qeury = x\n`), /^userdb sql at test\.conf:1: \/tmp\/.* line 4: Unknown setting: user_qeury$/],
  ])('%s fails the whole lookup, even for a user an earlier userdb finds', async (_what, broken, reason) => {
    const users = join(dir, 'users-config-errors');
    writeFileSync(users, 'alice@example.com::5001:5001::/home/alice::\n');
    await expect(lookupUser([userdbConfig('passwd-file', users), broken], 'alice@example.com', CONTEXT)).rejects.toMatchObject({ kind: 'temporary', message: reason });
    expect(database.connects).toEqual([]);
  });
});

describe('sql after passwd-file in one chain (fake database)', () => {
  const chain = () => {
    const users = join(dir, 'users-chain');
    writeFileSync(users, 'alice@example.com::5001:5001::/home/alice::\n');
    return [userdbConfig('passwd-file', users), sqlUserdb(SQLITE_ARGS)];
  };

  it.each([
    ['in passwd-file: found there, the database is not asked', 'alice@example.com', [{ home: '/sql/alice' }], undefined, 'USER alice@example.com uid=5001 gid=5001 home=/home/alice', 0],
    ['only in the database', 'bob@example.com', [{ home: '/sql/bob', uid: '5002', gid: '5002' }], undefined, 'USER bob@example.com uid=5002 gid=5002 home=/sql/bob', 1],
    ['in neither', 'carol@example.com', [], undefined, 'NOTFOUND', 1],
    ['in passwd-file while the database is down', 'alice@example.com', [], new SqlError('down'), 'USER alice@example.com uid=5001 gid=5001 home=/home/alice', 0],
    ['not in passwd-file while the database is down', 'bob@example.com', [], new SqlError('down'), 'userdb lookup of bob@example.com failed: userdb sql at test.conf:1: down', 1],
  ] as [string, string, SqlRow[], Error | undefined, string, number][])('%s', async (_what, user, rows, connectError, expected, connects) => {
    database.rows = rows as Record<string, string | null>[];
    database.connectError = connectError;
    expect(await answer(chain(), user)).toBe(expected);
    expect(database.connects).toHaveLength(connects);
  });

  it('applies the sql block default_fields and override_fields around the row', async () => {
    database.rows = [{ home: '/sql/bob', mail: 'maildir:~/M' }];
    const [passwdFile] = chain();
    const sql = sqlUserdb(SQLITE_ARGS, { defaultFields: 'uid=5009 gid=5009 mail=mbox:~/mail', overrideFields: 'home=/override/%n' });
    expect(await answer([passwdFile, sql], 'bob@example.com')).toBe('USER bob@example.com uid=5009 gid=5009 home=/override/bob mail=maildir:~/M');
  });
});
