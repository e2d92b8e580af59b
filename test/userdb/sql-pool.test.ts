// src/userdb/sql/pool.ts: connections reused between lookups, at most
// maxconns at once, dropped when they fail, and a lookup on a connection the
// server closed meanwhile tried once more on a new one — with a fake driver
// (always), and against a private PostgreSQL whose backends are killed
// between lookups (where one can run).

import { describe, it, expect, afterAll, beforeAll } from 'vitest';
import { SqlConnectionPool, SqlPools } from '../../src/userdb/sql/pool.js';
import { SqlError, type SqlConnection, type SqlDriver, type SqlRow } from '../../src/userdb/sql/types.js';
import { pgsqlDriver } from '../../src/userdb/sql/pgsql.js';
import { sqlDriver } from '../../src/userdb/sql.js';
import type { ServerCaches } from '../../src/deliver/server-caches.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { postgresUnavailable, startPostgres, type PostgresServer } from '../helpers/postgres.js';

interface FakeConnection extends SqlConnection {
  readonly id: number;
  closed: boolean;
  /** the next query on it fails with this */
  failNext?: Error;
}

/** A driver whose connections answer each query with their own id after `delayMs`, and record what happened. */
function fakeDriver(options: { delayMs?: number; connectError?: Error } = {}) {
  const connections: FakeConnection[] = [];
  let busy = 0;
  let mostBusy = 0;
  const driver: SqlDriver = {
    escape: (value) => value,
    async connect() {
      if (options.connectError) throw options.connectError;
      const connection: FakeConnection = {
        id: connections.length + 1,
        closed: false,
        async query(): Promise<SqlRow[]> {
          if (connection.closed) throw new Error('query on a closed connection');
          busy++;
          mostBusy = Math.max(mostBusy, busy);
          try {
            if (options.delayMs) await new Promise((resolve) => setTimeout(resolve, options.delayMs));
            const failure = connection.failNext;
            connection.failNext = undefined;
            if (failure) throw failure;
            return [{ connection: String(connection.id) }];
          } finally {
            busy--;
          }
        },
        async close() {
          connection.closed = true;
        },
      };
      connections.push(connection);
      return connection;
    },
  };
  return { driver, connections, mostBusy: () => mostBusy };
}

const answeredBy = (rows: SqlRow[]) => Number(rows[0]!.connection);

describe('SqlConnectionPool', () => {
  it('reuses one connection for lookups one after another', async () => {
    const fake = fakeDriver();
    const pool = new SqlConnectionPool(fake.driver, 'x', 1000, 5);
    for (let lookup = 0; lookup < 5; lookup++) expect(answeredBy(await pool.query('SELECT 1'))).toBe(1);
    expect(fake.connections).toHaveLength(1);
  });

  it.each([1, 2, 5])('never has more than maxconns=%i connections, and every lookup is answered', async (maxConnections) => {
    const fake = fakeDriver({ delayMs: 5 });
    const pool = new SqlConnectionPool(fake.driver, 'x', 1000, maxConnections);
    const answers = await Promise.all(Array.from({ length: 12 }, () => pool.query('SELECT 1')));
    expect(answers).toHaveLength(12);
    expect(fake.connections).toHaveLength(maxConnections);
    expect(fake.mostBusy()).toBe(maxConnections);
  });

  it('a query failing on a connection that had been idle is tried once more on a new connection', async () => {
    const fake = fakeDriver();
    const pool = new SqlConnectionPool(fake.driver, 'x', 1000, 1);
    await pool.query('SELECT 1');
    fake.connections[0]!.failNext = new Error('Connection terminated unexpectedly');
    expect(answeredBy(await pool.query('SELECT 1'))).toBe(2);
    expect(fake.connections[0]!.closed).toBe(true);
    expect(answeredBy(await pool.query('SELECT 1'))).toBe(2);
  });

  it('a query failing on a new connection fails the lookup, without a second try, and the connection is dropped', async () => {
    const fake = fakeDriver();
    const pool = new SqlConnectionPool(fake.driver, 'x', 1000, 2);
    const failing = fake.driver.connect;
    fake.driver.connect = async (...args) => {
      const connection = (await failing(...args)) as FakeConnection;
      connection.failNext = new Error('relation "users" does not exist');
      return connection;
    };
    await expect(pool.query('SELECT 1')).rejects.toThrow(new SqlError('User query failed: relation "users" does not exist'));
    expect(fake.connections).toHaveLength(1);
    expect(fake.connections[0]!.closed).toBe(true);
  });

  it('a connect failure fails the lookup and frees its place for the next one', async () => {
    const refused = new SqlError('pgsql: Connect failed: 127.0.0.1:1: Connection refused');
    const fake = fakeDriver({ connectError: refused });
    const pool = new SqlConnectionPool(fake.driver, 'x', 1000, 1);
    await expect(pool.query('SELECT 1')).rejects.toBe(refused);
    await expect(pool.query('SELECT 1')).rejects.toBe(refused);
  });

  it('close() closes the idle connections, and a busy one once its query ends', async () => {
    const fake = fakeDriver({ delayMs: 20 });
    const pool = new SqlConnectionPool(fake.driver, 'x', 1000, 2);
    await Promise.all([pool.query('SELECT 1'), pool.query('SELECT 1')]);
    const busy = pool.query('SELECT 1');
    pool.close();
    expect(fake.connections.filter((connection) => connection.closed)).toHaveLength(1);
    await busy;
    expect(fake.connections.every((connection) => connection.closed)).toBe(true);
  });
});

describe('SqlPools', () => {
  it.each([
    ['pgsql', 'host=db dbname=mail', 5],
    ['pgsql', 'host=db dbname=mail maxconns=2', 2],
    ['mysql', 'host=db maxconns=0', 1],
    ['sqlite', '/etc/dovecot/users.sqlite', 1],
  ] as const)('%s %j keeps at most %i connections', (name, connect, expected) => {
    const pools = new SqlPools(1000);
    expect(pools.poolFor(name, fakeDriver().driver, connect).maxConnections).toBe(expected);
  });

  it('one pool per driver and connect string', () => {
    const pools = new SqlPools(1000);
    const { driver } = fakeDriver();
    expect(pools.poolFor('pgsql', driver, 'host=a')).toBe(pools.poolFor('pgsql', driver, 'host=a'));
    expect(pools.poolFor('pgsql', driver, 'host=a')).not.toBe(pools.poolFor('pgsql', driver, 'host=b'));
    expect(pools.poolFor('pgsql', driver, 'host=a')).not.toBe(pools.poolFor('mysql', driver, 'host=a'));
  });
});

describe.skipIf(postgresUnavailable !== undefined)(`SqlConnectionPool against PostgreSQL${postgresUnavailable ? ` (skipped: ${postgresUnavailable})` : ''}`, () => {
  let server: PostgresServer;
  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(() => server?.stop());

  it('keeps one backend for many lookups, and reconnects on its own after the backend is killed', async () => {
    const pools = new SqlPools(5000);
    const pool = pools.poolFor('pgsql', pgsqlDriver, `host=127.0.0.1 port=${server.port} user=postgres dbname=postgres application_name=dovetail_pool_test`);
    const backend = async () => (await pool.query('SELECT pg_backend_pid() AS pid'))[0]!.pid;
    const first = await backend();
    expect(await backend()).toBe(first);
    server.sql(`SELECT pg_terminate_backend(${first})`);
    const second = await backend();
    expect(second).not.toBe(first);
    expect(server.sql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'dovetail_pool_test'").trim()).toBe('1');
    pools.close();
  });

  it("the sql userdb given a server's caches runs every lookup on one connection; without them, each on its own", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dovetail-pool-'));
    try {
      const args = join(dir, 'dovecot-sql.conf.ext');
      writeFileSync(args, `driver = pgsql\nconnect = host=127.0.0.1 port=${server.port} user=postgres dbname=postgres\nuser_query = SELECT '%u' AS username, pg_backend_pid() AS pid\n`);
      const pidOf = async (userdb: Awaited<ReturnType<typeof sqlDriver>>) => new Map(await userdb.lookup('alice', { u: 'alice' })).get('pid');
      const caches: ServerCaches = {};
      const pooled = await sqlDriver(args, 'userdb sql', caches);
      expect(await pidOf(pooled)).toBe(await pidOf(pooled));
      expect(caches.sqlPools).toBeInstanceOf(SqlPools);
      caches.sqlPools!.close();
      const unpooled = await sqlDriver(args, 'userdb sql');
      expect(await pidOf(unpooled)).not.toBe(await pidOf(unpooled));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
