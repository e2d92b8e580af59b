// Database connections kept open between lookups, for a long-running process
// (the LMTP server); the LDA opens one connection per delivery instead. As
// Dovecot's driver-sqlpool: at most `maxconns` connections per database
// (default 5 for PostgreSQL and MySQL; SQLite keeps one), a lookup takes an
// idle connection or opens one, and waits when all are busy. A connection
// that fails is dropped, never reused; a query that fails on a connection
// that had been idle (the server restarted, a proxy closed it) is tried once
// more on a new one, so the pool reconnects on its own. A failure on a fresh
// connection is the lookup's failure (an SqlError, temporary for the caller).

import { failureReason, splitConnectString } from './failover.js';
import { SqlError, type SqlConnection, type SqlDriver, type SqlDriverName, type SqlRow } from './types.js';

/** Dovecot's SQL_DEFAULT_CONNECTION_LIMIT for the pooled drivers. */
const DEFAULT_MAX_CONNECTIONS = 5;

/** The connections to one database (one driver and connect string). */
export class SqlConnectionPool {
  private readonly idle: SqlConnection[] = [];
  private readonly waiting: (() => void)[] = [];
  private open = 0;
  private closed = false;

  constructor(
    private readonly driver: SqlDriver,
    private readonly connect: string,
    private readonly connectTimeoutMs: number,
    readonly maxConnections: number,
  ) {}

  /** Runs one query on a pooled connection; rejects with the driver's SqlError ("User query failed: ..." for the query itself). */
  async query(sql: string): Promise<SqlRow[]> {
    const reused = await this.acquire();
    const { connection } = reused;
    try {
      const rows = await connection.query(sql);
      this.release(connection);
      return rows;
    } catch (error) {
      this.discard(connection);
      if (!reused.wasIdle) throw queryFailed(error);
    }
    const fresh = await this.acquire(true);
    try {
      const rows = await fresh.connection.query(sql);
      this.release(fresh.connection);
      return rows;
    } catch (error) {
      this.discard(fresh.connection);
      throw queryFailed(error);
    }
  }

  /** Closes every idle connection now and each busy one when its query ends. */
  close(): void {
    this.closed = true;
    for (const connection of this.idle.splice(0)) void connection.close();
  }

  /** an idle connection (unless `fresh`), else a new one once there is room */
  private async acquire(fresh = false): Promise<{ connection: SqlConnection; wasIdle: boolean }> {
    for (;;) {
      if (!fresh && this.idle.length > 0) return { connection: this.idle.pop()!, wasIdle: true };
      if (this.open < this.maxConnections) break;
      // a fresh one is wanted and every slot holds an idle connection: the oldest makes room
      if (this.idle.length > 0) this.closeOne(this.idle.shift()!);
      else await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    this.open++;
    try {
      return { connection: await this.driver.connect(this.connect, this.connectTimeoutMs), wasIdle: false };
    } catch (error) {
      this.open--;
      this.waiting.shift()?.();
      throw error;
    }
  }

  private release(connection: SqlConnection): void {
    if (this.closed) {
      this.closeOne(connection);
      return;
    }
    this.idle.push(connection);
    this.waiting.shift()?.();
  }

  private discard(connection: SqlConnection): void {
    this.closeOne(connection);
    this.waiting.shift()?.();
  }

  private closeOne(connection: SqlConnection): void {
    this.open--;
    void connection.close();
  }
}

function queryFailed(error: unknown): SqlError {
  return new SqlError(`User query failed: ${failureReason(error)}`, { cause: error });
}

/** Every pool of one process, by driver and connect string; made by the server, handed to each lookup. */
export class SqlPools {
  private readonly pools = new Map<string, SqlConnectionPool>();

  constructor(private readonly connectTimeoutMs: number) {}

  /** The pool for this database, made on first use. */
  poolFor(name: SqlDriverName, driver: SqlDriver, connect: string): SqlConnectionPool {
    const key = `${name}\0${connect}`;
    let pool = this.pools.get(key);
    if (pool === undefined) {
      const maxConnections = name === 'sqlite' ? 1 : (splitConnectString(connect, name).maxConnections ?? DEFAULT_MAX_CONNECTIONS);
      pool = new SqlConnectionPool(driver, connect, this.connectTimeoutMs, Math.max(1, maxConnections));
      this.pools.set(key, pool);
    }
    return pool;
  }

  /** Closes every pool (shutdown). */
  close(): void {
    for (const pool of this.pools.values()) pool.close();
    this.pools.clear();
  }
}
