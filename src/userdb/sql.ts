// The `sql` userdb (Dovecot auth/userdb-sql.c, db-sql.c), in-process:
// `userdb { driver = sql  args = /etc/dovecot/dovecot-sql.conf.ext }`.
// The args file (./sql/config.ts) names the database driver, its connect
// string and the user_query. For each lookup the driver is loaded (only then:
// a delivery without SQL loads none, nor this module: lookup.ts imports it
// on demand), user_query is %-expanded with every variable's value escaped by
// the driver's string escaping, one connection is opened (LDA mode; connect
// timeout 5 s, Dovecot's SQL_CONNECT_TIMEOUT_SECS), the query runs and the
// connection closes. A long-running server passes its ServerCaches instead:
// the query then runs on a pooled connection (./sql/pool.ts), the pools
// made on the first lookup.
//
// As Dovecot 2.3.19 (checked with its auth service and dovecot-sqlite):
// no row = unknown user; several rows = the first one counts, the others are
// ignored without a word; each column of that row becomes a userdb field named
// as the column, in column order (a later column of the same name wins), with
// no prefix stripped (a `userdb_quota_rule` column is a field of that name);
// NULL columns and columns without a name are left out. The fields then go
// through lookup.ts like any driver's (uid/gid names, user renames, ...).
// Escaping is applied after each variable's modifiers and width (see
// ../config/var-expand.ts), so that, unlike Dovecot, %2u cannot cut an escape
// in two. Queries must put %-variables inside single quotes: that is the
// context every driver's escaping is made for.
//
// Failure: an args file that cannot be read or is wrong fails the whole
// lookup (temporary DeliveryFailure, as Dovecot's auth refuses to start);
// a driver that cannot load, a database that cannot be reached, a query that
// fails or a %-variable that does not expand is an internal failure of this
// userdb (temporary DeliveryFailure with a one-line reason, so that
// result_internalfail applies and, in the end, the delivery defers: 75).

import { expandVariables, type VariableTable } from '../config/var-expand.js';
import { temporary } from '../deliver/failure.js';
import type { UserdbDriver, UserdbField } from './driver.js';
import { readSqlConfig, type SqlConfig } from './sql/config.js';
import { MAX_CONNECT_TIMEOUT_MS } from './sql/failover.js';
import { SqlPools } from './sql/pool.js';
import type { ServerCaches } from '../deliver/server-caches.js';
import type { SqlDriver, SqlDriverName, SqlRow } from './sql/types.js';

/** Reads the args file now (a bad one is a configuration error); connects at each lookup, or takes a connection from the server's pools. */
export async function sqlDriver(args: string, userdbName: string, caches?: ServerCaches): Promise<UserdbDriver> {
  const path = args.trim();
  if (path === '') throw temporary(`${userdbName}: sql needs the SQL configuration file (dovecot-sql.conf.ext) in args`);
  const config = await withReason(userdbName, '', () => readSqlConfig(path));
  return {
    lookup: (_username, variables) => lookupInDatabase(config, variables, userdbName, caches && (caches.sqlPools ??= new SqlPools(MAX_CONNECT_TIMEOUT_MS))),
  };
}

/** The driver module for `name`, loaded on first use. */
export async function loadSqlDriver(name: SqlDriverName): Promise<SqlDriver> {
  switch (name) {
    case 'sqlite':
      return (await import('./sql/sqlite.js')).sqliteDriver;
    case 'pgsql':
      return (await import('./sql/pgsql.js')).pgsqlDriver;
    case 'mysql':
      return (await import('./sql/mysql.js')).mysqlDriver;
  }
}

/** user_query for these variables, each value escaped by `escape`; a bad %-variable is a temporary DeliveryFailure. */
export function expandUserQuery(config: SqlConfig, variables: VariableTable, escape: (value: string) => string): string {
  return expandVariables(config.userQuery, variables, process.env, escape);
}

/** A result row as userdb fields: column order, NULL and unnamed columns left out. */
export function rowFields(row: SqlRow): UserdbField[] {
  return Object.entries(row).flatMap(([name, value]) => (name === '' || value === null ? [] : [[name, value] as const]));
}

async function lookupInDatabase(config: SqlConfig, variables: VariableTable, userdbName: string, pools: SqlPools | undefined): Promise<UserdbField[] | null> {
  const driver = await withReason(userdbName, '', () => loadSqlDriver(config.driver));
  const query = await withReason(userdbName, '', async () => expandUserQuery(config, variables, driver.escape));
  const rows = pools === undefined ? await queryOnce(config, driver, query, userdbName) : await queryPooled(config, driver, query, userdbName, pools);
  return rows.length === 0 ? null : rowFields(rows[0]);
}

/** LDA mode: a connection of its own for this one query. */
async function queryOnce(config: SqlConfig, driver: SqlDriver, query: string, userdbName: string): Promise<SqlRow[]> {
  const connection = await withReason(userdbName, '', () => driver.connect(config.connect, MAX_CONNECT_TIMEOUT_MS));
  try {
    return await withReason(userdbName, 'User query failed: ', () => connection.query(query));
  } finally {
    // the goodbye goes out while delivery goes on: close() never throws, and nothing waits for it
    void connection.close();
  }
}

/** Server mode: a pooled connection; a failure to connect and a failed query are told apart as in queryOnce. */
async function queryPooled(config: SqlConfig, driver: SqlDriver, query: string, userdbName: string, pools: SqlPools): Promise<SqlRow[]> {
  const pool = await withReason(userdbName, '', async () => pools.poolFor(config.driver, driver, config.connect));
  return withReason(userdbName, '', () => pool.query(query));
}

/** Runs `step`; any failure becomes a temporary DeliveryFailure "USERDB: PREFIXreason" on one line. */
async function withReason<T>(userdbName: string, prefix: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw temporary(`${userdbName}: ${prefix}${reason.replace(/\s*\n\s*/g, ' ').trim()}`);
  }
}
