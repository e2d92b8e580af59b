// What PostgreSQL and MySQL connect strings share, as Dovecot 2.3's lib-sql
// (driver-sqlpool.c) reads them before the driver does: the string is split
// at spaces (no quoting at this level), `maxconns=N` belongs to the pool (the
// most connections an LMTP server keeps to the database, ./pool.ts), every
// `host=` names one server, and the other words go to the driver, each host
// getting `host=H` followed by them. Then the servers are tried in order, as
// the pool fails over from a server that cannot be reached, within one
// overall connect deadline shared so that a server that never answers
// cannot use up the time of those after it.
//
// Failure: an SqlError whose one-line message names each server tried and
// why it failed ("pgsql: Connect failed: 127.0.0.1:5433: connection refused;
// 127.0.0.1:5432: timed out after 2500 ms").

import { SqlError } from './types.js';

/** Dovecot's SQL_CONNECT_TIMEOUT_SECS: no connect waits longer, whatever a caller or connect string asks. */
export const MAX_CONNECT_TIMEOUT_MS = 5000;

export interface PoolConnectString {
  /** the `host=` values, in order (none: the driver's default server) */
  hosts: string[];
  /** the other words, in order, as written */
  driverWords: string[];
  /** maxconns, when given */
  maxConnections?: number;
}

/** Splits a connect string as driver-sqlpool does; `driver` prefixes the error for a bad maxconns. */
export function splitConnectString(connect: string, driver: string): PoolConnectString {
  const hosts: string[] = [];
  const driverWords: string[] = [];
  let maxConnections: number | undefined;
  for (const word of connect.split(' ')) {
    if (word === '') continue;
    const equals = word.indexOf('=');
    const key = equals < 0 ? word : word.slice(0, equals);
    const value = equals < 0 ? '' : word.slice(equals + 1);
    if (key === 'maxconns') {
      if (!/^[0-9]+$/.test(value)) throw new SqlError(`${driver}: Invalid value for maxconns: ${value}`);
      maxConnections = Number(value);
    } else if (key === 'host') {
      hosts.push(value);
    } else {
      driverWords.push(word);
    }
  }
  return { hosts, driverWords, ...(maxConnections !== undefined && { maxConnections }) };
}

/** One server to try: what connect() needs, and how messages name it. */
export interface ConnectTarget {
  label: string;
}

/**
 * Tries `targets` in order with `attempt`, each given its share of what is
 * left of the deadline (the time left divided by the servers left, so a
 * server that refuses at once leaves its share to the next) and returning
 * the first connection made. `attempt` must settle within the time it is
 * given (see withinTime).
 */
export async function connectInOrder<Target extends ConnectTarget, Connection>(
  driver: string,
  targets: readonly Target[],
  timeoutMs: number,
  attempt: (target: Target, timeMs: number) => Promise<Connection>,
): Promise<Connection> {
  const deadline = Date.now() + Math.max(1, Math.min(timeoutMs, MAX_CONNECT_TIMEOUT_MS));
  const failures: string[] = [];
  for (const [index, target] of targets.entries()) {
    const left = deadline - Date.now();
    if (left <= 0) {
      failures.push(`${target.label}: not tried (connect timeout used up)`);
      continue;
    }
    try {
      return await attempt(target, Math.ceil(left / (targets.length - index)));
    } catch (error) {
      failures.push(`${target.label}: ${failureReason(error)}`);
    }
  }
  throw new SqlError(`${driver}: Connect failed: ${failures.join('; ')}`);
}

/**
 * `connecting`, or a rejection "timed out after N ms" once `timeMs` pass, when
 * `abort` is called (it must close the socket) and a connection that still
 * arrives is closed with `discard`.
 */
export function withinTime<Connection>(
  connecting: Promise<Connection>,
  timeMs: number,
  abort: () => void,
  discard: (connection: Connection) => void,
): Promise<Connection> {
  return new Promise((resolve, reject) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      abort();
      reject(new SqlError(`timed out after ${timeMs} ms`));
    }, timeMs);
    connecting.then(
      (connection) => {
        clearTimeout(timer);
        if (timedOut) discard(connection);
        else resolve(connection);
      },
      (error: unknown) => {
        clearTimeout(timer);
        if (!timedOut) reject(error);
      },
    );
  });
}

/** Socket errors by code, in the words of strerror (what Dovecot logs through libpq and libmysqlclient). */
const SOCKET_ERRORS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'Connection refused',
  ECONNRESET: 'Connection reset by peer',
  EHOSTUNREACH: 'No route to host',
  ENETUNREACH: 'Network is unreachable',
  ETIMEDOUT: 'Connection timed out',
  ENOENT: 'No such file or directory',
  EACCES: 'Permission denied',
  ENOTFOUND: 'Name or service not known',
  EAI_AGAIN: 'Temporary failure in name resolution',
  EPIPE: 'Broken pipe',
};

/** One line saying why a connect or a query failed. */
export function failureReason(error: unknown): string {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && SOCKET_ERRORS[code] !== undefined) return SOCKET_ERRORS[code];
  const text = typeof message === 'string' && message !== '' ? message : String(error);
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}
