// src/userdb/sql/mysql.ts: connect strings read as Dovecot's driver-mysql
// reads them (always), and against a private MariaDB (test/helpers/mariadb.ts;
// skipped, with the reason, where none is installed): rows as text,
// failover, timeouts, refused logins, bad queries, lost connections, TLS,
// and escaping that round-trips exactly, also on a server whose sql_mode has
// NO_BACKSLASH_ESCAPES. Only 127.0.0.1 and Unix sockets are ever connected to.

import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { join } from 'node:path';
import { escapeMysql, mysqlDriver, mysqlTargets } from '../../src/userdb/sql/mysql.js';
import { SqlError } from '../../src/userdb/sql/types.js';
import { mariadbUnavailable, startMariadb, type MariadbServer } from '../helpers/mariadb.js';
import { freePort } from '../helpers/private-server.js';
import { itBehavesAsSqlServer, TRICKY_VALUES_BOTH, useOtherCa, useSqlClientHarness } from './sql-server-cases.js';

/** Values that must come back exactly as they went in through escapeMysql. */
const TRICKY_VALUES = [...TRICKY_VALUES_BOTH, 'nul\0byte', 'ctrl-z\x1a'];

describe('mysql connect strings', () => {
  const env = {};
  const labels = (connect: string, environment: NodeJS.ProcessEnv = env) => mysqlTargets(connect, environment).map((target) => target.label);

  it.each([
    ['host=db1 host=db2 port=3307 dbname=mail', ['db1:3307', 'db2:3307']],
    ['host=db1 dbname=mail', ['db1:3306']],
    ['host=/run/mysqld/mysqld.sock', ['/run/mysqld/mysqld.sock']],
    ['host=localhost', ['/run/mysqld/mysqld.sock']],
    ['host=db hostaddr=127.0.0.1', ['127.0.0.1:3306']],
    ['host=db maxconns=5 connect_timeout=3 read_timeout=10 write_timeout=10 client_flags=0', ['db:3306']],
  ])('%j is tried as %j', (connect, expected) => {
    expect(labels(connect)).toEqual(expected);
  });

  it("takes libmysqlclient's environment defaults for the socket and port", () => {
    expect(labels('host=localhost', { MYSQL_UNIX_PORT: '/tmp/my.sock' })).toEqual(['/tmp/my.sock']);
    expect(labels('host=db', { MYSQL_TCP_PORT: '3310' })).toEqual(['db:3310']);
  });

  it('reads user, password, dbname and the timeouts', () => {
    const [target] = mysqlTargets('host=db user=mail password=se"cret dbname=vmail connect_timeout=3 read_timeout=7', env);
    expect(target).toMatchObject({ config: { host: 'db', port: 3306, user: 'mail', password: 'se"cret', database: 'vmail', ssl: undefined }, timeoutMs: 3000, readTimeoutMs: 7000 });
    expect(mysqlTargets('host=db', env)[0]).toMatchObject({ timeoutMs: 0, readTimeoutMs: 30_000 });
  });

  it('turns client_flags bits into mysql2 flags, and keeps LOAD DATA LOCAL and IGNORE_SPACE off', () => {
    expect(mysqlTargets('host=db client_flags=65570', env)[0]!.config.flags).toEqual(['-LOCAL_FILES', '-IGNORE_SPACE', '+FOUND_ROWS', '+COMPRESS', '+MULTI_STATEMENTS']);
    expect(mysqlTargets('host=db client_flags=131072', env)[0]!.config.flags).toEqual(['-LOCAL_FILES', '-IGNORE_SPACE']);
  });

  it.each([
    ['dbname=mail', 'mysql: No hosts given in connect string'],
    ['host=db foo=1', 'mysql: Unknown connect string: foo'],
    ['host=db dbname', 'mysql: Missing value in connect string: dbname'],
    ['host=db port=0', 'mysql: Invalid port number: 0'],
    ['host=db port=99999', 'mysql: Invalid port number: 99999'],
    ['host=db read_timeout=soon', 'mysql: Invalid read_timeout: soon'],
    ['host=db client_flags=128', 'mysql: client_flags bit 0x80 is not supported by Dovetail'],
    ['host=db ssl_ca=/etc/ssl/certs/ca-certificates.crt ssl_verify_server_cert=maybe', 'mysql: Invalid boolean: maybe'],
    ['host=db ssl_ca=/nonexistent/ca.pem', 'mysql: cannot read ssl_ca file "/nonexistent/ca.pem": No such file or directory'],
    ['host=db option_file=/etc/mysql/my.cnf', 'mysql: option_file is not supported by Dovetail (it reads no my.cnf files)'],
    ['host=db maxconns=x', 'mysql: Invalid value for maxconns: x'],
  ])('refuses %j: %s', (connect, message) => {
    expect(() => mysqlTargets(connect, env)).toThrow(new SqlError(message));
  });
});

describe('escapeMysql (mysql_real_escape_string)', () => {
  it.each([
    ["it's", "it\\'s"],
    ['say "hi"', 'say \\"hi\\"'],
    ['back\\slash', 'back\\\\slash'],
    ['a\0b\nc\rd\x1ae', 'a\\0b\\nc\\rd\\Ze'],
    ['%_`', '%_`'],
    ['', ''],
  ])('%j → %j', (value, escaped) => {
    expect(escapeMysql(value)).toBe(escaped);
    expect(mysqlDriver.escape(value)).toBe(escaped);
  });
});

describe.skipIf(mariadbUnavailable !== undefined)(`mysql against a private MariaDB${mariadbUnavailable ? ` (skipped: ${mariadbUnavailable})` : ''}`, () => {
  let server: MariadbServer;
  const base = (database = 'mail') => `host=127.0.0.1 port=${server.port} user=root dbname=${database}`;
  const harness = useSqlClientHarness(mysqlDriver, 'mariadb');
  const { withConnection, connectFailure } = harness;

  beforeAll(async () => {
    server = await startMariadb();
    server.sql(
      [
        'CREATE DATABASE mail;',
        'USE mail;',
        'CREATE TABLE users (username VARCHAR(100) PRIMARY KEY, home VARCHAR(200), uid INT, gid INT, quota_rule VARCHAR(50), active BOOLEAN, ratio DECIMAL(4,2), created DATE) CHARACTER SET utf8mb4;',
        "INSERT INTO users VALUES ('alice@example.org', '/var/vmail/alice', 5000, 5001, NULL, TRUE, 1.5, '2024-01-02'), ('bob@example.org', '/var/vmail/bob', 5002, 5001, '*:storage=1G', FALSE, NULL, NULL);",
        'CREATE USER \'mailer\'@\'127.0.0.1\' IDENTIFIED BY \'sec\'\'re"t\';',
        "GRANT SELECT ON mail.* TO 'mailer'@'127.0.0.1';",
      ].join('\n'),
    );
  }, 90_000);

  afterAll(async () => {
    await server?.stop();
  });

  itBehavesAsSqlServer(
    {
      name: 'mysql',
      escape: escapeMysql,
      adminUser: 'root',
      base,
      connectTimeoutOneMs: 1000,
      connectTimeoutNote: '',
      badQueries: [['SELECT home FROM nosuch', "Table 'mail.nosuch' doesn't exist"]],
      sessionIdQuery: 'SELECT CONNECTION_ID() AS id',
      endSession: (id) => server.sql(`KILL ${id};`),
    },
    harness,
  );

  it('returns rows as text in column order, NULL as null, numbers and dates as the server writes them', async () => {
    const rows = await withConnection(base(), (connection) =>
      connection.query("SELECT username, home, uid, gid, quota_rule, active, ratio, created, uid * 2 AS twice FROM users WHERE username = 'alice@example.org'"),
    );
    expect(rows).toEqual([
      { username: 'alice@example.org', home: '/var/vmail/alice', uid: '5000', gid: '5001', quota_rule: null, active: '1', ratio: '1.50', created: '2024-01-02', twice: '10000' },
    ]);
    expect(Object.keys(rows[0]!)).toEqual(['username', 'home', 'uid', 'gid', 'quota_rule', 'active', 'ratio', 'created', 'twice']);
  });

  it('refuses several statements in one query, as libmysqlclient without CLIENT_MULTI_STATEMENTS', async () => {
    await withConnection(base(), async (connection) => {
      await expect(connection.query("SELECT 'first'; SELECT 'second'")).rejects.toThrow(/^mysql: Query failed: You have an error in your SQL syntax/);
    });
  });

  it('connects through the Unix socket when host= starts with /', async () => {
    const rows = await withConnection(`host=${server.socket} user=root dbname=mail`, (connection) => connection.query("SELECT SUBSTRING_INDEX(USER(), '@', -1) AS via"));
    expect(rows).toEqual([{ via: 'localhost' }]);
  });

  it('fails over to the next host= when the first refuses', async () => {
    const rows = await withConnection(`host=${join(harness.emptyDir(), 'mysqld.sock')} host=127.0.0.1 port=${server.port} user=root dbname=mail`, (connection) =>
      connection.query("SELECT SUBSTRING_INDEX(USER(), '@', -1) AS via"),
    );
    expect(rows).toEqual([{ via: '127.0.0.1' }]);
  });

  it('says which servers refused, in one line, when none connects', async () => {
    const port = await freePort();
    const socket = join(harness.emptyDir(), 'mysqld.sock');
    const error = await connectFailure(`host=${socket} host=127.0.0.1 port=${port} user=root`);
    expect(error).toBeInstanceOf(SqlError);
    expect(error.message).toBe(`mysql: Connect failed: ${socket}: No such file or directory; 127.0.0.1:${port}: Connection refused`);
  });

  it("logs in with password=, and fails with the server's reason for a wrong password or an unknown user", async () => {
    // driver-mysql takes a value as it is written, quotes and all (no spaces: Dovecot splits the string there)
    const rows = await withConnection(`${base()} user=mailer password=sec're"t`, (connection) => connection.query('SELECT CURRENT_USER() AS who'));
    expect(rows).toEqual([{ who: 'mailer@127.0.0.1' }]);
    expect((await connectFailure(`${base()} user=mailer password=wrong`)).message).toBe(
      `mysql: Connect failed: 127.0.0.1:${server.port}: Access denied for user 'mailer'@'127.0.0.1' (using password: YES)`,
    );
    expect((await connectFailure(`${base()} user=nobody`)).message).toBe(
      `mysql: Connect failed: 127.0.0.1:${server.port}: Access denied for user 'nobody'@'127.0.0.1' (using password: NO)`,
    );
    expect((await connectFailure(base('nodb'))).message).toBe(`mysql: Connect failed: 127.0.0.1:${server.port}: Unknown database 'nodb'`);
  });

  it.each(TRICKY_VALUES)('escaping round-trips %j exactly', async (value) => {
    const rows = await withConnection(base(), (connection) => connection.query(`SELECT '${escapeMysql(value)}' AS value`));
    expect(rows).toEqual([{ value }]);
  });

  describe('on a server whose sql_mode has NO_BACKSLASH_ESCAPES', () => {
    let strict: MariadbServer;

    beforeAll(async () => {
      strict = await startMariadb({ serverArgs: ['--sql-mode=NO_BACKSLASH_ESCAPES,STRICT_TRANS_TABLES'] });
    }, 90_000);

    afterAll(async () => {
      await strict?.stop();
    });

    it.each(TRICKY_VALUES)('escaping still round-trips %j exactly (the mode is taken off the session)', async (value) => {
      const rows = await withConnection(`host=127.0.0.1 port=${strict.port} user=root`, (connection) =>
        connection.query(`SELECT '${escapeMysql(value)}' AS value, @@SESSION.sql_mode AS mode`),
      );
      expect(rows).toEqual([{ value, mode: 'STRICT_TRANS_TABLES' }]);
    });
  });
});

describe.skipIf(mariadbUnavailable !== undefined)(`mysql over TLS${mariadbUnavailable ? ` (skipped: ${mariadbUnavailable})` : ''}`, () => {
  let server: MariadbServer;
  const otherCaFile = useOtherCa();
  const base = () => `host=127.0.0.1 port=${server.port} user=root`;
  const cipher = async (connect: string) => {
    const connection = await mysqlDriver.connect(connect, 5000);
    try {
      const [row] = await connection.query("SHOW SESSION STATUS LIKE 'Ssl_cipher'");
      return row!.Value !== '';
    } finally {
      await connection.close();
    }
  };

  beforeAll(async () => {
    server = await startMariadb({ tls: ['DNS:localhost'] });
  }, 90_000);

  afterAll(async () => {
    await server?.stop();
  });

  it('speaks TLS only when ssl_ca or ssl_ca_path is given', async () => {
    expect(await cipher(base())).toBe(false);
    expect(await cipher(`${base()} ssl_ca=${server.certFile}`)).toBe(true);
    expect(await cipher(`${base()} ssl_ca_path=${join(server.certFile!, '..')}`)).toBe(true);
  });

  it('refuses a server whose certificate does not chain to ssl_ca', async () => {
    await expect(cipher(`${base()} ssl_ca=${otherCaFile()}`)).rejects.toThrow(
      new RegExp(`^mysql: Connect failed: 127\\.0\\.0\\.1:${server.port}: self-signed certificate`),
    );
  });

  it('checks the host name only with ssl_verify_server_cert=yes', async () => {
    // the certificate names localhost only; the connection goes to 127.0.0.1
    const connect = `host=127.0.0.1 port=${server.port} user=root ssl_ca=${server.certFile}`;
    await expect(cipher(`${connect} ssl_verify_server_cert=yes`)).rejects.toThrow(/^mysql: Connect failed: 127\.0\.0\.1:\d+: .*IP: 127\.0\.0\.1 is not in the cert's list/);
    expect(await cipher(`${connect} ssl_verify_server_cert=no`)).toBe(true);
  });
});
