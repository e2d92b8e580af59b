// The args file of the SQL userdb (dovecot-sql.conf.ext). The syntax cases
// marked "2.3.19" were checked against Dovecot 2.3.19's auth: the same file
// as args of `userdb { driver = sql }` in a private `dovecot -c`, the user
// looked up with `doveadm user`, and the query read from auth_debug's log
// (or the fatal error read from the log).

import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_ITERATE_QUERY, DEFAULT_USER_QUERY, readSqlConfig, type SqlConfig } from '../../src/userdb/sql/config.js';
import { SqlError } from '../../src/userdb/sql/types.js';

let dir: string;
let counter = 0;

beforeAll(() => {
  dir = mkdtempSync('/tmp/dovetail-sql-config-');
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Writes `text` as a fresh args file (or as NAME in the test directory) and returns its path. */
function argsFile(text: string, name = `args-${++counter}.conf.ext`): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const ENV = { DBPATH: '/var/lib/users.db', PW: 'se cret', 'QX\tAS': 'tabbed' };
const BASE = 'driver = sqlite\nconnect = /db\n';

async function read(text: string): Promise<SqlConfig> {
  return readSqlConfig(argsFile(text), ENV);
}

async function failure(path: string): Promise<string> {
  const error = await readSqlConfig(path, ENV).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(SqlError);
  return (error as SqlError).message;
}

describe('readSqlConfig: values', () => {
  it('applies Dovecot 2.3 defaults to user_query and iterate_query', async () => {
    const config = await read(BASE);
    expect(config).toMatchObject({ driver: 'sqlite', connect: '/db', userQuery: DEFAULT_USER_QUERY, iterateQuery: DEFAULT_ITERATE_QUERY });
    expect(config.userQuery).toBe("SELECT home, uid, gid FROM users WHERE username = '%n' AND domain = '%d'");
  });

  it.each([
    ['spaces and tabs around key, = and value', ' \tuser_query \t=\t SELECT 1 \t', 'SELECT 1'],
    ['no spaces (2.3.19)', 'user_query=SELECT 1', 'SELECT 1'],
    ['CR LF line end', 'user_query = SELECT 1\r', 'SELECT 1'],
    ['an empty value', 'user_query =', ''],
    ['a comment after a space (2.3.19)', "user_query = SELECT 1 FROM t WHERE name = '%u'   # trailing comment", "SELECT 1 FROM t WHERE name = '%u'"],
    ['a # without a space before it still cuts (2.3.19: with a warning)', "user_query = SELECT 'x' AS c#omment FROM t", "SELECT 'x' AS c"],
    ["# inside '...' and \"...\" (2.3.19)", `user_query = SELECT '#x' AS hash1, "a#b" AS hash2`, `SELECT '#x' AS hash1, "a#b" AS hash2`],
    ["a backslash-escaped quote inside '...' does not end it", "user_query = SELECT 'a\\'#' AS x # c", "SELECT 'a\\'#' AS x"],
    ['an unterminated quote keeps the rest, # included', "user_query = SELECT 'a # b", "SELECT 'a # b"],
    ['continued lines: backslash and the spaces around it become one space (2.3.19)', 'user_query = SELECT home,   \\\n     uid, gid \\\n  FROM users', 'SELECT home, uid, gid FROM users'],
    ['a comment line between continued lines is skipped (2.3.19)', 'user_query = SELECT home \\\n  # a comment\n  FROM users', 'SELECT home FROM users'],
    ['a blank line between continued lines is skipped too (2.3.19)', 'user_query = SELECT home \\\n\nFROM users', 'SELECT home FROM users'],
    ['"..." unquoted and unescaped (2.3.19)', 'user_query = "SELECT \'q\\"x\' AS q"', 'SELECT \'q"x\' AS q'],
    ["'...' unquoted", "user_query = 'SELECT 1'", 'SELECT 1'],
    ['a lone backslash at the end of a quoted value is dropped', 'user_query = "a\\\\b\\"', 'a\\b'],
    ['a value that only starts with a quote stays as written', `user_query = 'x' AS y`, `'x' AS y`],
    ['$ENV: at the start (2.3.19)', 'user_query = $ENV:DBPATH', '/var/lib/users.db'],
    ['$ENV: after a space; an unset one is empty (2.3.19)', "user_query = SELECT 'x $ENV:QX' AS e2", "SELECT 'x  AS e2"],
    ['$ENV: inside a word or after a backslash is text (2.3.19)', "user_query = 'a'||foo$ENV:PW a\\$ENV:PW", "'a'||foo$ENV:PW a\\$ENV:PW"],
    ['$ENV: names end at a space only, not a tab (2.3.19)', 'user_query = $ENV:QX\tAS e $ENV:PW', 'tabbed e se cret'],
    ['$ENV: is not expanded in a quoted value', 'user_query = "$ENV:PW"', '$ENV:PW'],
    ['the last value of a key wins', 'user_query = SELECT 1\nuser_query = SELECT 2', 'SELECT 2'],
  ])('%s', async (_what, line, expected) => {
    expect((await read(`${BASE}${line}\n`)).userQuery).toBe(expected);
  });

  it('reads driver, connect and iterate_query, and ignores the passdb keys', async () => {
    const config = await read(
      [
        'driver = pgsql',
        'connect = host=127.0.0.1 dbname=mail user=dovecot password=$ENV:PW',
        'default_pass_scheme = SHA512-CRYPT',
        "password_query = SELECT password FROM users WHERE userid = '%u'",
        "update_query = UPDATE users SET password = '%w'",
        'userdb_warning_disable = YES',
        'iterate_query = SELECT userid AS user FROM users',
        '',
      ].join('\n'),
    );
    expect(config).toEqual({
      path: config.path,
      driver: 'pgsql',
      connect: 'host=127.0.0.1 dbname=mail user=dovecot password=$ENV:PW', // $ENV: only starts a word
      userQuery: DEFAULT_USER_QUERY,
      iterateQuery: 'SELECT userid AS user FROM users',
    });
  });

  it('skips sections whole: nested ones, and the keys inside, known or not (2.3.19)', async () => {
    const config = await read(`${BASE}foo {\n  unknown = 1\n  bar baz {\n    user_query = SELECT 9\n  }\n  user_query = SELECT 8\n}\nuser_query = SELECT 1\n`);
    expect(config.userQuery).toBe('SELECT 1');
  });

  it('reads !include files relative to the including one, and !include_try ones only when they exist (2.3.19)', async () => {
    argsFile("user_query = SELECT 'included'\n", 'queries.conf.ext');
    const config = await read(`${BASE}!include_try missing.conf.ext\n!include queries.conf.ext\niterate_query = SELECT 2\n`);
    expect(config).toMatchObject({ userQuery: "SELECT 'included'", iterateQuery: 'SELECT 2' });
  });
});

describe('readSqlConfig: errors name the file and line', () => {
  it.each([
    ['an unknown key (2.3.19: "Unknown setting", auth does not start)', `${BASE}user_qeury = SELECT 1\n`, (path: string) => `${path} line 3: Unknown setting: user_qeury`],
    ['a line without = (2.3.19)', `${BASE}user_query SELECT 1\n`, (path: string) => `${path} line 3: Expecting '='`],
    ['a } outside any section', `${BASE}}\n`, (path: string) => `${path} line 3: Unexpected '}'`],
    ['a bad boolean', `${BASE}userdb_warning_disable = maybe\n`, (path: string) => `${path} line 3: Invalid boolean: maybe`],
    ['no driver', 'connect = /db\n', (path: string) => `${path}: driver not set`],
    ['no connect', 'driver = sqlite\n', (path: string) => `${path}: connect string not set`],
    ['an unknown driver', 'driver = oracle\nconnect = x\n', (path: string) => `${path}: Unknown database driver 'oracle'`],
    ['a glob in !include', `${BASE}!include *.conf.ext\n`, (path: string) => `${path} line 3: !include with a glob pattern is not supported: *.conf.ext`],
    ['a missing !include', `${BASE}!include nowhere.conf.ext\n`, () => `Couldn't open include file ${dir}/nowhere.conf.ext: ENOENT: no such file or directory`],
  ])('%s', async (_what, text, expected) => {
    const path = argsFile(text);
    expect(await failure(path)).toBe(expected(path));
  });

  it('refuses an include of a file being read', async () => {
    const path = argsFile(`${BASE}!include self.conf.ext\n`, 'self.conf.ext');
    expect(await failure(path)).toBe(`Recursive include file: ${path}`);
  });

  it('says why the file cannot be read', async () => {
    expect(await failure(join(dir, 'absent.conf.ext'))).toBe(`can't read ${join(dir, 'absent.conf.ext')}: ENOENT: no such file or directory`);
    expect(await failure(dir)).toBe(`can't read ${dir}: EISDIR: illegal operation on a directory`);
  });
});
