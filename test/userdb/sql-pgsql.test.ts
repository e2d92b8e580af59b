// src/userdb/sql/pgsql.ts: connect strings read as Dovecot and libpq read
// them (always), and against a private PostgreSQL from Debian's postgresql
// package (test/helpers/postgres.ts; skipped, with the reason, where it
// cannot run): rows as text, failover, timeouts, refused logins, bad
// queries, lost connections, TLS, and escaping that round-trips exactly, also
// on a database with standard_conforming_strings off and a LATIN1 client
// encoding. Only 127.0.0.1 and Unix sockets are ever connected to.

import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { join } from 'node:path';
import { escapePgsql, pgsqlDriver, pgsqlTargets } from '../../src/userdb/sql/pgsql.js';
import { SqlError } from '../../src/userdb/sql/types.js';
import { connectionSslInUse, postgresUnavailable, startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { freePort } from '../helpers/private-server.js';
import { itBehavesAsSqlServer, TRICKY_VALUES_BOTH, useOtherCa, useSqlClientHarness } from './sql-server-cases.js';

/** Values that must come back exactly as they went in through escapePgsql. */
const TRICKY_VALUES = [...TRICKY_VALUES_BOTH, "E'\\x41'", '$$dollar$$'];

describe('pgsql connect strings', () => {
  const env = {};
  const labels = (connect: string, environment: NodeJS.ProcessEnv = env) => pgsqlTargets(connect, environment).map((target) => target.label);

  it.each([
    ['host=db1 host=db2 port=5433 dbname=mail', ['db1:5433', 'db2:5433']],
    ['dbname=mail', ['/var/run/postgresql/.s.PGSQL.5432']],
    ['host=/run/pg', ['/run/pg/.s.PGSQL.5432']],
    ['host=a,b port=1,2', ['a:1', 'b:2']],
    ['host=a,b port=7', ['a:7', 'b:7']],
    ['host=db.example hostaddr=192.0.2.1', ['192.0.2.1:5432']],
    ['host=::1', ['[::1]:5432']],
    ['host=db maxconns=5 connect_timeout=3 keepalives_count=2 target_session_attrs=any', ['db:5432']],
  ])('%j is tried as %j', (connect, expected) => {
    expect(labels(connect)).toEqual(expected);
  });

  it('takes what the connect string leaves unset from libpq environment variables, then libpq defaults', () => {
    const [fromEnv] = pgsqlTargets('', { PGHOST: 'envhost', PGPORT: '6000', PGUSER: 'envuser', PGDATABASE: 'envdb', PGPASSWORD: 'envpw' });
    expect(fromEnv).toMatchObject({ label: 'envhost:6000', config: { host: 'envhost', port: 6000, user: 'envuser', database: 'envdb', password: 'envpw' } });
    const [given] = pgsqlTargets('host=h port=1 user=u dbname=d password=p', { PGHOST: 'envhost', PGUSER: 'envuser' });
    expect(given).toMatchObject({ config: { host: 'h', port: 1, user: 'u', database: 'd', password: 'p', ssl: false } });
  });

  it.each([
    ["host=h password='it\\'s a secret'", "it's a secret"],
    ['host=h password=back\\\\slash', 'back\\slash'],
    ['host=h password = spaced', 'spaced'],
    ["host=h password=''", undefined],
  ])('reads libpq quoting: %j → password %j', (connect, password) => {
    expect(pgsqlTargets(connect, env)[0]!.config.password).toBe(password);
  });

  it('waits at most connect_timeout seconds per server, and never less than 2 s, as libpq', () => {
    expect(pgsqlTargets('host=h connect_timeout=3', env)[0]!.timeoutMs).toBe(3000);
    expect(pgsqlTargets('host=h connect_timeout=1', env)[0]!.timeoutMs).toBe(2000);
    expect(pgsqlTargets('host=h', env)[0]!.timeoutMs).toBe(0);
  });

  it.each([
    ['host=h foo=1', 'pgsql: invalid connection option "foo"'],
    ['host=h service=mail', 'pgsql: connection option service=mail is not supported by Dovetail'],
    ['host=h target_session_attrs=read-write', 'pgsql: connection option target_session_attrs=read-write is not supported by Dovetail'],
    ['host=h maxconns=many', 'pgsql: Invalid value for maxconns: many'],
    ['host=h port=abc', 'pgsql: invalid integer value "abc" for connection option "port"'],
    ['host=a,b port=1,2,3', 'pgsql: could not match 3 port numbers to 2 hosts'],
    ['host=a,b hostaddr=127.0.0.1', 'pgsql: could not match 2 host names to 1 hostaddr values'],
    ['host=h dbname', 'pgsql: missing "=" after "dbname" in connection info string'],
    ["host=h password='abc", 'pgsql: unterminated quoted string in connection info string'],
    ['postgresql://u@h/db', 'pgsql: connection URIs are not supported in connect: use key=value words'],
    ['host=h sslmode=sometimes', 'pgsql: invalid sslmode value: "sometimes"'],
    ['host=h client_encoding=LATIN1', 'pgsql: client_encoding=LATIN1 is not supported by Dovetail (it reads UTF8)'],
    ['host=h sslmode=verify-full sslrootcert=/nonexistent/root.crt', 'pgsql: cannot read sslrootcert file "/nonexistent/root.crt": No such file or directory'],
  ])('refuses %j: %s', (connect, message) => {
    expect(() => pgsqlTargets(connect, env)).toThrow(new SqlError(message));
  });

  it('maps sslmode as libpq applies it (no TLS on a Unix socket)', () => {
    const ssl = (connect: string) => pgsqlTargets(connect, env)[0]!.config.ssl;
    expect(ssl('host=h sslmode=disable')).toBe(false);
    expect(ssl('host=h sslmode=prefer')).toBe(false);
    expect(ssl('host=h sslmode=require')).toMatchObject({ rejectUnauthorized: false });
    expect(ssl('host=/run/pg sslmode=require')).toBe(false);
  });
});

describe('escapePgsql (PQescapeStringConn, standard_conforming_strings on)', () => {
  it.each([
    ["it's", "it''s"],
    ["''", "''''"],
    ['back\\slash', 'back\\slash'],
    ['%_"', '%_"'],
    ['', ''],
  ])('%j → %j', (value, escaped) => {
    expect(escapePgsql(value)).toBe(escaped);
    expect(pgsqlDriver.escape(value)).toBe(escaped);
  });
});

const SECRET_PASSWORD = "right 'password'";

describe.skipIf(postgresUnavailable !== undefined)(`pgsql against a private PostgreSQL${postgresUnavailable ? ` (skipped: ${postgresUnavailable})` : ''}`, () => {
  let server: PostgresServer;
  const base = (database = 'mail') => `host=127.0.0.1 port=${server.port} user=postgres dbname=${database}`;
  const harness = useSqlClientHarness(pgsqlDriver, 'postgres');
  const { withConnection, connectFailure } = harness;

  beforeAll(async () => {
    server = await startPostgres({ hbaLines: ['host all secret 127.0.0.1/32 scram-sha-256'] });
    server.sql(
      [
        'CREATE DATABASE mail;',
        'CREATE DATABASE legacy;',
        'ALTER DATABASE legacy SET standard_conforming_strings = off;',
        "ALTER DATABASE legacy SET client_encoding = 'LATIN1';",
        `CREATE ROLE secret LOGIN PASSWORD '${SECRET_PASSWORD.replaceAll("'", "''")}';`,
        '\\c mail',
        'CREATE TABLE users (username text PRIMARY KEY, home text, uid integer, gid integer, quota_rule text, active boolean, ratio numeric(4,2));',
        "INSERT INTO users VALUES ('alice@example.org', '/var/vmail/alice', 5000, 5001, NULL, true, 1.5), ('bob@example.org', '/var/vmail/bob', 5002, 5001, '*:storage=1G', false, NULL);",
        'GRANT SELECT ON users TO secret;',
      ].join('\n'),
    );
  }, 90_000);

  afterAll(() => {
    server?.stop();
  });

  itBehavesAsSqlServer(
    {
      name: 'pgsql',
      escape: escapePgsql,
      adminUser: 'postgres',
      base,
      connectTimeoutOneMs: 2000,
      connectTimeoutNote: ' (at least 2 s, as libpq)',
      badQueries: [
        ['SELECT home FROM nosuch', 'relation "nosuch" does not exist'],
        ['SELEC 1', 'syntax error at or near "SELEC"'],
      ],
      sessionIdQuery: 'SELECT pg_backend_pid() AS id',
      endSession: (id) => server.sql(`SELECT pg_terminate_backend(${id});`),
    },
    harness,
  );

  it('returns rows as text in column order, NULL as null, numbers and booleans as PostgreSQL writes them', async () => {
    const rows = await withConnection(base(), (connection) =>
      connection.query("SELECT username, home, uid, gid, quota_rule, active, ratio, uid * 2 AS twice FROM users WHERE username = 'alice@example.org'"),
    );
    expect(rows).toEqual([
      { username: 'alice@example.org', home: '/var/vmail/alice', uid: '5000', gid: '5001', quota_rule: null, active: 't', ratio: '1.50', twice: '10000' },
    ]);
    expect(Object.keys(rows[0]!)).toEqual(['username', 'home', 'uid', 'gid', 'quota_rule', 'active', 'ratio', 'twice']);
  });

  it("returns the first statement's rows when the query holds several", async () => {
    const rows = await withConnection(base(), (connection) => connection.query("SELECT 'first' AS which; SELECT 'second' AS which"));
    expect(rows).toEqual([{ which: 'first' }]);
  });

  it('connects through the Unix socket when host= is a directory', async () => {
    const rows = await withConnection(`host=${server.socketDir} port=${server.port} user=postgres dbname=mail`, (connection) =>
      connection.query("SELECT coalesce(inet_server_addr()::text, 'socket') AS via"),
    );
    expect(rows).toEqual([{ via: 'socket' }]);
  });

  it('fails over to the next host= when the first refuses', async () => {
    const emptyDir = harness.emptyDir();
    const rows = await withConnection(`host=${emptyDir} host=127.0.0.1 port=${server.port} user=postgres dbname=mail`, (connection) =>
      connection.query('SELECT host(inet_server_addr()) AS via'),
    );
    expect(rows).toEqual([{ via: '127.0.0.1' }]);
    const error = await connectFailure(`host=${emptyDir} port=${server.port} user=postgres`);
    expect(error.message).toBe(`pgsql: Connect failed: ${emptyDir}/.s.PGSQL.${server.port}: No such file or directory`);
  });

  it("fails over along libpq's own host and port lists too", async () => {
    const dead = await freePort();
    const rows = await withConnection(`host=127.0.0.1,127.0.0.1 port=${dead},${server.port} user=postgres dbname=mail`, (connection) =>
      connection.query('SELECT inet_server_port() AS port'),
    );
    expect(rows).toEqual([{ port: String(server.port) }]);
  });

  it('says which servers refused, in one line, when none connects', async () => {
    const [first, second] = [await freePort(), await freePort()];
    const error = await connectFailure(`host=127.0.0.1,127.0.0.1 port=${first},${second} user=postgres`);
    expect(error).toBeInstanceOf(SqlError);
    expect(error.message).toBe(`pgsql: Connect failed: 127.0.0.1:${first}: Connection refused; 127.0.0.1:${second}: Connection refused`);
  });

  it('leaves the next server its share of the timeout when the first never answers', async () => {
    const started = Date.now();
    const rows = await withConnection(`host=127.0.0.1,127.0.0.1 port=${harness.silentPort()},${server.port} user=postgres dbname=mail`, (connection) => connection.query('SELECT 1 AS one'), 1000);
    expect(rows).toEqual([{ one: '1' }]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(490);
  });

  it('logs in with password= (SCRAM), and fails with the server\'s reason for a wrong password or an unknown role', async () => {
    const password = SECRET_PASSWORD.replaceAll("'", "\\'");
    const rows = await withConnection(`${base()} user=secret password='${password}'`, (connection) => connection.query('SELECT current_user AS who'));
    expect(rows).toEqual([{ who: 'secret' }]);
    expect((await connectFailure(`${base()} user=secret password=wrong`)).message).toBe(
      `pgsql: Connect failed: 127.0.0.1:${server.port}: password authentication failed for user "secret"`,
    );
    expect((await connectFailure(`${base()} user=nobody`)).message).toBe(`pgsql: Connect failed: 127.0.0.1:${server.port}: role "nobody" does not exist`);
    expect((await connectFailure(base('nodb'))).message).toBe(`pgsql: Connect failed: 127.0.0.1:${server.port}: database "nodb" does not exist`);
  });

  it('refuses a query holding a NUL rather than let the server read part of it', async () => {
    await withConnection(base(), async (connection) => {
      await expect(connection.query(`SELECT home FROM users WHERE username = '${escapePgsql('alice@example.org\0x')}'`)).rejects.toThrow(
        new SqlError('pgsql: Query failed: the query contains a NUL character'),
      );
    });
  });

  describe.each([
    ['mail', 'standard_conforming_strings on, UTF8'],
    ['legacy', 'standard_conforming_strings off and client_encoding LATIN1 for the database'],
  ])('escaping round-trips exactly (database %s: %s)', (database) => {
    it.each(TRICKY_VALUES)('%j', async (value) => {
      const rows = await withConnection(base(database), (connection) =>
        connection.query(`SELECT '${escapePgsql(value)}' AS value, current_setting('standard_conforming_strings') AS scs, current_setting('client_encoding') AS encoding`),
      );
      expect(rows).toEqual([{ value, scs: 'on', encoding: 'UTF8' }]);
    });
  });

});

describe.skipIf(postgresUnavailable !== undefined)(`pgsql over TLS${postgresUnavailable ? ` (skipped: ${postgresUnavailable})` : ''}`, () => {
  let server: PostgresServer;
  const otherCaFile = useOtherCa();
  const base = () => `host=127.0.0.1 port=${server.port} user=postgres dbname=postgres`;

  beforeAll(async () => {
    server = await startPostgres({ tls: true });
  }, 90_000);

  afterAll(() => {
    server?.stop();
  });

  it.each([
    ['sslmode=disable', 'f'],
    ['sslmode=require', 't'],
    ['sslmode=verify-ca sslrootcert=CERT', 't'],
    ['sslmode=verify-full sslrootcert=CERT', 't'],
  ])('%s: ssl in use = %s', async (options, ssl) => {
    expect(await connectionSslInUse(`${base()} ${options.replace('CERT', server.certFile!)}`)).toEqual([{ ssl }]);
  });

  it('refuses a server whose certificate does not chain to sslrootcert', async () => {
    // Node's wording, which later versions extend with advice
    await expect(connectionSslInUse(`${base()} sslmode=verify-ca sslrootcert=${otherCaFile()}`)).rejects.toThrow(
      new RegExp(`^pgsql: Connect failed: 127\\.0\\.0\\.1:${server.port}: self-signed certificate`),
    );
  });

  it('refuses TLS to a server without it when sslmode requires it', async () => {
    const plain = await startPostgres();
    try {
      await expect(connectionSslInUse(`host=127.0.0.1 port=${plain.port} user=postgres sslmode=require`)).rejects.toThrow(
        new SqlError(`pgsql: Connect failed: 127.0.0.1:${plain.port}: server does not support SSL, but SSL was required`),
      );
    } finally {
      plain.stop();
    }
  });

  it('checks the host name with verify-full', async () => {
    const path = join(server.socketDir, 'server.crt');
    // the certificate names localhost and 127.0.0.1; hostaddr keeps the connection on 127.0.0.1 while host= names another
    await expect(connectionSslInUse(`host=mail.invalid hostaddr=127.0.0.1 port=${server.port} user=postgres sslmode=verify-full sslrootcert=${path}`)).rejects.toThrow(
      /^pgsql: Connect failed: 127\.0\.0\.1:\d+: Hostname\/IP does not match certificate's altnames/,
    );
    expect(await connectionSslInUse(`host=localhost hostaddr=127.0.0.1 port=${server.port} user=postgres sslmode=verify-full sslrootcert=${path}`)).toEqual([{ ssl: 't' }]);
  });
});
