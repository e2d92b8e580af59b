// The cases the MySQL and PostgreSQL drivers share, run against a private
// server by ./sql-mysql.test.ts and ./sql-pgsql.test.ts: no rows and several
// rows, a silent server and connect_timeout, a bad query, a connection the
// server ends, and an escaped value that stays inside its quotes. Also the
// fixtures those files share (a silent listener, an empty directory where no
// socket is, a CA that signed nothing of the server's) and the values escaping
// must round-trip on both. Call these inside a describe; a failing case fails
// the file that runs it.

import { it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { SqlError, type SqlConnection, type SqlDriver } from '../../src/userdb/sql/types.js';
import { selfSignedCertificate, startSilentServer, type SilentServer } from '../helpers/private-server.js';

/** Values that must come back exactly as they went in through either server's escaping; each file adds its server's own. */
export const TRICKY_VALUES_BOTH = [
  "o'brien@example.org",
  "''",
  'back\\slash',
  "\\'",
  "\\\\' OR '1'='1",
  "x'; DROP TABLE users; --",
  '"double" `back` %percent% _under_',
  'line\nbreak\r\ttab',
  'é ü € 😀',
];

/** What a client test needs around a driver: connections that always close, failures as SqlErrors, and the fixtures. */
export interface SqlClientHarness {
  /** connects, runs `use`, closes whatever happens */
  withConnection<T>(connect: string, use: (connection: SqlConnection) => Promise<T>, timeoutMs?: number): Promise<T>;
  /** the SqlError a connect fails with; throws when it connects */
  connectFailure(connect: string, timeoutMs?: number): Promise<SqlError>;
  /** the port of a listener on 127.0.0.1 that accepts and never answers (set in beforeAll) */
  silentPort(): number;
  /** a directory holding no socket (set in beforeAll) */
  emptyDir(): string;
}

/** Registers beforeAll/afterAll for the silent listener and the empty directory, and returns the harness for `driver`. */
export function useSqlClientHarness(driver: SqlDriver, name: string): SqlClientHarness {
  let silent: SilentServer | undefined;
  let emptyDir: string | undefined;

  beforeAll(async () => {
    silent = await startSilentServer();
    emptyDir = mkdtempSync(`/tmp/dovetail-no-${name}-`);
  });

  afterAll(async () => {
    await silent?.close();
    if (emptyDir) rmSync(emptyDir, { recursive: true, force: true });
  });

  return {
    async withConnection(connect, use, timeoutMs = 5000) {
      const connection = await driver.connect(connect, timeoutMs);
      try {
        return await use(connection);
      } finally {
        await connection.close();
      }
    },
    connectFailure: (connect, timeoutMs = 5000) =>
      driver.connect(connect, timeoutMs).then(
        async (connection) => {
          await connection.close();
          throw new Error(`connected with ${connect}`);
        },
        (error: unknown) => error as SqlError,
      ),
    silentPort: () => silent!.port,
    emptyDir: () => emptyDir!,
  };
}

/** Registers beforeAll/afterAll for a self-signed CA that signed nothing of the server's; returns its certificate file. */
export function useOtherCa(): () => string {
  let dir: string | undefined;
  let certFile: string | undefined;
  beforeAll(() => {
    dir = mkdtempSync('/tmp/dovetail-other-ca-');
    certFile = selfSignedCertificate(dir, {}).certFile;
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  return () => certFile!;
}

/** One server as the shared cases see it. */
export interface SqlServerUnderTest {
  /** how the driver's messages start: "mysql" or "pgsql" */
  name: string;
  /** how the driver escapes a value for inside '...' */
  escape(value: string): string;
  /** the superuser the tests log in as: root, postgres */
  adminUser: string;
  /** a connect string for database mail as adminUser (read once the server runs) */
  base(): string;
  /** how long connect_timeout=1 lets a connect take, in ms (libpq makes it at least 2 s) */
  connectTimeoutOneMs: number;
  /** added to the connect_timeout case's name */
  connectTimeoutNote: string;
  /** queries that fail, with the server's reason after "Query failed: " */
  badQueries: [query: string, reason: string][];
  /** a query whose one row's `id` names the connection's session on the server */
  sessionIdQuery: string;
  /** ends that session from another connection */
  endSession(id: string): void;
}

/** The shared cases, as its in the calling describe, against `server` through `harness`. */
export function itBehavesAsSqlServer(server: SqlServerUnderTest, harness: SqlClientHarness): void {
  const { withConnection, connectFailure } = harness;
  const { name } = server;

  it('returns no rows for an unknown user, every row when there are several', async () => {
    await withConnection(server.base(), async (connection) => {
      expect(await connection.query("SELECT home FROM users WHERE username = 'nobody@example.org'")).toEqual([]);
      expect(await connection.query('SELECT uid FROM users ORDER BY uid')).toEqual([{ uid: '5000' }, { uid: '5002' }]);
    });
  });

  it('gives up on a server that accepts and never answers when the timeout is up', async () => {
    const port = harness.silentPort();
    const started = Date.now();
    const error = await connectFailure(`host=127.0.0.1 port=${port} user=${server.adminUser}`, 300);
    const elapsed = Date.now() - started;
    expect(error.message).toBe(`${name}: Connect failed: 127.0.0.1:${port}: timed out after 300 ms`);
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(1500);
  });

  it(`gives up after connect_timeout when it is shorter than the caller asks${server.connectTimeoutNote}`, async () => {
    const port = harness.silentPort();
    const started = Date.now();
    const error = await connectFailure(`host=127.0.0.1 port=${port} user=${server.adminUser} connect_timeout=1`, 5000);
    expect(error.message).toBe(`${name}: Connect failed: 127.0.0.1:${port}: timed out after ${server.connectTimeoutOneMs} ms`);
    expect(Date.now() - started).toBeLessThan(server.connectTimeoutOneMs + 1500);
  });

  it("turns a bad query into an SqlError with the server's reason on one line, and keeps the connection usable", async () => {
    await withConnection(server.base(), async (connection) => {
      for (const [query, reason] of server.badQueries) {
        await expect(connection.query(query)).rejects.toThrow(new SqlError(`${name}: Query failed: ${reason}`));
      }
      expect(await connection.query('SELECT 2 AS two')).toEqual([{ two: '2' }]);
    });
  });

  it('turns a connection the server ended into an SqlError on the next query', async () => {
    await withConnection(server.base(), async (connection) => {
      const [{ id }] = (await connection.query(server.sessionIdQuery)) as [{ id: string }];
      server.endSession(id);
      await new Promise((resolve) => setTimeout(resolve, 100));
      await expect(connection.query('SELECT 1')).rejects.toThrow(SqlError);
    });
  });

  it('keeps an escaped value inside its quotes: no injection through a WHERE clause', async () => {
    const rows = await withConnection(server.base(), (connection) =>
      connection.query(`SELECT username FROM users WHERE username = '${server.escape("nobody' OR '1'='1")}'`),
    );
    expect(rows).toEqual([]);
  });
}
