// The PostgreSQL driver of the SQL userdb (`driver = pgsql`), through npm
// `pg` (plain JavaScript, no libpq), loaded on first connect.
//
// The connect string reads as Dovecot 2.3 reads it: driver-sqlpool takes out
// `maxconns` and the `host=` entries (./failover.ts), and each host's
// `host=H rest` is a libpq conninfo string (`key=value`, values optionally
// in '...' with backslash escapes). libpq's own lists (`host=a,b
// port=5432,5433`) are tried in order too. Missing values come from the
// environment as libpq takes them (PGHOST, PGPORT, PGUSER, PGDATABASE,
// PGPASSWORD, ~/.pgpass, PGSSLMODE...), then libpq's defaults: Debian's
// socket directory /var/run/postgresql, port 5432, the process's user name.
// Keys that `pg` can honour are honoured (password, connect_timeout, options,
// application_name, keepalives, sslmode with sslrootcert/sslcert/sslkey...);
// libpq keys it cannot honour fail the connect with a message naming them
// rather than being ignored, unless ignoring them changes nothing here.
//
// Values come back as PostgreSQL's text (numbers in decimal, booleans t/f),
// SQL NULL as null, from the first statement's result, as libpq's PQgetvalue
// gives them to Dovecot. Escaping is PQescapeStringConn's with
// standard_conforming_strings on (quotes doubled, backslashes as they are);
// a server that has it off, or that talks another client encoding, is set to
// `on` and UTF8 for the session when connecting, so the escaping always holds.
//
// Failure: an SqlError with a one-line reason (./failover.ts for connects;
// "pgsql: Query failed: relation \"users\" does not exist" for queries). A
// query waits at most 60 s (Dovecot's SQL_QUERY_TIMEOUT_SECS).

import { readFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import { connectInOrder, failureReason, splitConnectString, withinTime, type ConnectTarget } from './failover.js';
import { loadClientLibrary } from './load-library.js';
import { SqlError, type SqlConnection, type SqlDriver, type SqlRow } from './types.js';

const DRIVER = 'pgsql';
/** libpq's DEFAULT_PGSOCKET_DIR on Debian */
const DEFAULT_SOCKET_DIR = '/var/run/postgresql';
const DEFAULT_PORT = '5432';
/** Dovecot's SQL_QUERY_TIMEOUT_SECS */
const QUERY_TIMEOUT_MS = 60_000;
/** how long close() waits for its goodbye to be sent */
const CLOSE_WAIT_MS = 1000;

/** Every keyword libpq (up to PostgreSQL 17) accepts; any other word is an error, as in PQconnectStart. */
const LIBPQ_KEYWORDS = new Set([
  'host', 'hostaddr', 'port', 'dbname', 'user', 'password', 'passfile', 'require_auth', 'channel_binding',
  'connect_timeout', 'client_encoding', 'options', 'application_name', 'fallback_application_name', 'keepalives',
  'keepalives_idle', 'keepalives_interval', 'keepalives_count', 'tcp_user_timeout', 'replication', 'gssencmode',
  'sslmode', 'sslnegotiation', 'requiressl', 'sslcompression', 'sslcert', 'sslkey', 'sslcertmode', 'sslpassword',
  'sslrootcert', 'sslcrl', 'sslcrldir', 'sslsni', 'requirepeer', 'ssl_min_protocol_version',
  'ssl_max_protocol_version', 'krbsrvname', 'gsslib', 'gssdelegation', 'service', 'target_session_attrs',
  'load_balance_hosts',
]);

/** Keywords `pg` is given (or that shape the targets). */
const HONOURED = new Set([
  'host', 'hostaddr', 'port', 'dbname', 'user', 'password', 'connect_timeout', 'client_encoding', 'options',
  'application_name', 'fallback_application_name', 'keepalives', 'keepalives_idle', 'sslmode', 'sslrootcert',
  'sslcert', 'sslkey',
]);

/** Keywords left aside because, with the value given, libpq would not act differently for one short lookup. */
const HARMLESS: Readonly<Record<string, (value: string) => boolean>> = {
  keepalives_interval: () => true,
  keepalives_count: () => true,
  tcp_user_timeout: () => true,
  sslcompression: () => true, // libpq 14+ never compresses
  sslsni: () => true, // `pg` always sends SNI for host names
  gssencmode: (value) => value !== 'require', // no GSSAPI: like a server without it
  channel_binding: (value) => value !== 'require', // SCRAM without binding, as `prefer` allows
  target_session_attrs: (value) => value === 'any',
  load_balance_hosts: (value) => value === 'disable',
  sslcertmode: (value) => value !== 'require',
};

interface PgField {
  name: string;
}

interface PgResult {
  fields: PgField[];
  rows: (string | null)[][];
}

/** What this driver uses of `pg` (which ships no types). */
interface PgClient {
  connect(): Promise<unknown>;
  query(config: { text: string; rowMode: 'array' }): Promise<PgResult | PgResult[]>;
  end(): Promise<void>;
  on(event: 'error', listener: (error: Error) => void): unknown;
  connection: {
    on(event: 'parameterStatus', listener: (message: { parameterName: string; parameterValue: string }) => void): unknown;
    stream: { destroy(): void; unref(): void; once(event: 'finish', listener: () => void): unknown };
  };
}

interface PgClientConfig {
  host: string;
  port: number;
  user: string;
  password: string | undefined;
  database: string | undefined;
  ssl: false | ConnectionOptions;
  options: string | undefined;
  application_name: string | undefined;
  fallback_application_name: string | undefined;
  keepAlive: boolean;
  keepAliveInitialDelayMillis: number;
  query_timeout: number;
  types: { getTypeParser(): (text: string) => string };
}

interface PgModule {
  Client: new (config: PgClientConfig) => PgClient;
}

/** Every column as the server's text: no parsing into numbers, dates or booleans. */
const TEXT_TYPES = { getTypeParser: () => (text: string) => text };

/** One server: a host (or socket directory) and port, with the settings its conninfo string gave. */
interface PgTarget extends ConnectTarget {
  config: PgClientConfig;
  /** connect_timeout in ms, 0 = none of its own */
  timeoutMs: number;
}

export const pgsqlDriver: SqlDriver = {
  async connect(connect, timeoutMs) {
    const targets = pgsqlTargets(connect, process.env);
    const pg = loadClientLibrary<PgModule>('pg.js', requirePg);
    return connectInOrder(DRIVER, targets, timeoutMs, (target, timeMs) =>
      connectTo(pg, target, target.timeoutMs > 0 ? Math.min(timeMs, target.timeoutMs) : timeMs),
    );
  },
  escape: escapePgsql,
};

/**
 * require('pg'). When it loads, pg asks whether it runs in Cloudflare
 * Workers; on a Node without `navigator` (Node 20, which runs bin/dovetail)
 * the question reads the global `Response`, which loads all of fetch
 * (undici: 35 ms). A stand-in navigator answers it, then goes.
 */
function requirePg(): unknown {
  const global = globalThis as { navigator?: unknown };
  if (global.navigator !== undefined) return require('pg');
  global.navigator = { userAgent: 'Node.js' };
  try {
    return require('pg');
  } finally {
    delete global.navigator;
  }
}

/** PQescapeStringConn with standard_conforming_strings on: each ' doubled, nothing else changed. */
export function escapePgsql(value: string): string {
  return value.replaceAll("'", "''");
}

/**
 * The servers a connect string names, in the order they are tried, each with
 * the `pg` settings of its conninfo string. Throws an SqlError for what
 * libpq or Dovecot would refuse, or for a libpq option `pg` cannot honour.
 */
export function pgsqlTargets(connect: string, env: NodeJS.ProcessEnv): PgTarget[] {
  const { hosts, driverWords } = splitConnectString(connect, DRIVER);
  const rest = driverWords.join(' ');
  const conninfos = hosts.length === 0 ? [rest] : hosts.map((host) => `host=${host} ${rest}`);
  return conninfos.flatMap((conninfo) => targetsOf(parseConninfo(conninfo), env));
}

/** libpq's conninfo_parse: `key = value` pairs, values bare or in '...', backslash escaping the next character. */
export function parseConninfo(conninfo: string): Map<string, string> {
  const settings = new Map<string, string>();
  let at = 0;
  const isSpace = (char: string | undefined) => char !== undefined && /\s/.test(char);
  if (/^postgres(ql)?:\/\//.test(conninfo.trim())) {
    throw new SqlError(`${DRIVER}: connection URIs are not supported in connect: use key=value words`);
  }
  while (at < conninfo.length) {
    while (isSpace(conninfo[at])) at++;
    if (at >= conninfo.length) break;
    const keyStart = at;
    while (at < conninfo.length && conninfo[at] !== '=' && !isSpace(conninfo[at])) at++;
    const key = conninfo.slice(keyStart, at);
    while (isSpace(conninfo[at])) at++;
    if (conninfo[at] !== '=') throw new SqlError(`${DRIVER}: missing "=" after "${key}" in connection info string`);
    at++;
    while (isSpace(conninfo[at])) at++;
    let value = '';
    if (conninfo[at] === "'") {
      at++;
      for (;;) {
        if (at >= conninfo.length) throw new SqlError(`${DRIVER}: unterminated quoted string in connection info string`);
        const char = conninfo[at++]!;
        if (char === "'") break;
        if (char === '\\' && at < conninfo.length) value += conninfo[at++];
        else value += char;
      }
    } else {
      while (at < conninfo.length && !isSpace(conninfo[at])) {
        const char = conninfo[at++]!;
        if (char === '\\' && at < conninfo.length) value += conninfo[at++];
        else value += char;
      }
    }
    if (!LIBPQ_KEYWORDS.has(key)) throw new SqlError(`${DRIVER}: invalid connection option "${key}"`);
    if (!HONOURED.has(key) && !HARMLESS[key]?.(value)) {
      throw new SqlError(`${DRIVER}: connection option ${key}=${value} is not supported by Dovetail`);
    }
    settings.set(key, value);
  }
  return settings;
}

/** A setting from the conninfo string, else libpq's environment variable; "" counts as unset, as in libpq. */
function setting(settings: Map<string, string>, env: NodeJS.ProcessEnv, key: string, variable?: string): string | undefined {
  const value = settings.get(key) ?? (variable === undefined ? undefined : env[variable]);
  return value === '' ? undefined : value;
}

/** One conninfo string's servers: libpq's comma lists of host, hostaddr and port, matched up. */
function targetsOf(settings: Map<string, string>, env: NodeJS.ProcessEnv): PgTarget[] {
  const hostaddrs = setting(settings, env, 'hostaddr', 'PGHOSTADDR')?.split(',');
  const hosts = (setting(settings, env, 'host', 'PGHOST') ?? (hostaddrs ? '' : DEFAULT_SOCKET_DIR)).split(',');
  if (hostaddrs && hostaddrs.length !== hosts.length) {
    throw new SqlError(`${DRIVER}: could not match ${hosts.length} host names to ${hostaddrs.length} hostaddr values`);
  }
  const ports = (setting(settings, env, 'port', 'PGPORT') ?? DEFAULT_PORT).split(',');
  if (ports.length !== 1 && ports.length !== hosts.length) {
    throw new SqlError(`${DRIVER}: could not match ${ports.length} port numbers to ${hosts.length} hosts`);
  }
  const connectTimeout = setting(settings, env, 'connect_timeout', 'PGCONNECT_TIMEOUT');
  const timeoutSeconds = connectTimeout === undefined ? 0 : integerOption('connect_timeout', connectTimeout);
  return hosts.map((hostName, index) => {
    const address = hostaddrs?.[index] || undefined;
    const host = address ?? (hostName || DEFAULT_SOCKET_DIR);
    const port = integerOption('port', (ports.length === 1 ? ports[0] : ports[index])!.trim() || DEFAULT_PORT);
    const label = host.startsWith('/') ? `${host}/.s.PGSQL.${port}` : `${host.includes(':') ? `[${host}]` : host}:${port}`;
    // libpq waits at least 2 s when a timeout is set at all
    return { label, config: clientConfig(settings, env, host, hostName, port), timeoutMs: timeoutSeconds > 0 ? Math.max(2, timeoutSeconds) * 1000 : 0 };
  });
}

function integerOption(key: string, value: string): number {
  if (!/^\s*[0-9]+\s*$/.test(value)) throw new SqlError(`${DRIVER}: invalid integer value "${value}" for connection option "${key}"`);
  return Number(value);
}

function clientConfig(settings: Map<string, string>, env: NodeJS.ProcessEnv, host: string, hostName: string, port: number): PgClientConfig {
  const keepalives = setting(settings, env, 'keepalives');
  const keepalivesIdle = setting(settings, env, 'keepalives_idle');
  const clientEncoding = setting(settings, env, 'client_encoding', 'PGCLIENTENCODING');
  if (clientEncoding !== undefined && !/^(utf-?8|unicode|auto)$/i.test(clientEncoding)) {
    throw new SqlError(`${DRIVER}: client_encoding=${clientEncoding} is not supported by Dovetail (it reads UTF8)`);
  }
  return {
    host,
    port,
    user: setting(settings, env, 'user', 'PGUSER') ?? localUserName(),
    password: setting(settings, env, 'password', 'PGPASSWORD'),
    database: setting(settings, env, 'dbname', 'PGDATABASE'),
    ssl: sslOptions(settings, env, host, hostName || host),
    options: setting(settings, env, 'options', 'PGOPTIONS'),
    application_name: setting(settings, env, 'application_name', 'PGAPPNAME'),
    fallback_application_name: setting(settings, env, 'fallback_application_name'),
    keepAlive: keepalives !== '0',
    keepAliveInitialDelayMillis: keepalivesIdle === undefined ? 0 : integerOption('keepalives_idle', keepalivesIdle) * 1000,
    query_timeout: QUERY_TIMEOUT_MS,
    types: TEXT_TYPES,
  };
}

/**
 * sslmode as libpq applies it: disable, allow and prefer connect in the clear
 * (prefer would use TLS when the server offers it: `pg` cannot fall back, so
 * it never tries), require encrypts (and checks the certificate chain when a
 * root certificate is given, as libpq does), verify-ca checks the chain,
 * verify-full the chain and the host name; never on a Unix socket (`host`
 * a directory), as libpq. The files are read when connecting; one that
 * cannot be read is an SqlError.
 */
function sslOptions(settings: Map<string, string>, env: NodeJS.ProcessEnv, host: string, serverName: string): false | ConnectionOptions {
  const mode = setting(settings, env, 'sslmode', 'PGSSLMODE') ?? 'prefer';
  if (!['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'].includes(mode)) throw new SqlError(`${DRIVER}: invalid sslmode value: "${mode}"`);
  if (mode === 'disable' || mode === 'allow' || mode === 'prefer' || host.startsWith('/')) return false;
  const rootCertPath = setting(settings, env, 'sslrootcert', 'PGSSLROOTCERT') ?? join(homedir(), '.postgresql', 'root.crt');
  const given = settings.has('sslrootcert') || env.PGSSLROOTCERT !== undefined;
  const ca = rootCertPath === 'system' ? undefined : mode === 'require' && !given ? undefined : readSslFile('sslrootcert', rootCertPath);
  const verify = mode !== 'require' || ca !== undefined;
  const options: ConnectionOptions = { rejectUnauthorized: verify, ca, host: serverName };
  if (isIP(serverName) === 0) options.servername = serverName;
  if (mode !== 'verify-full') options.checkServerIdentity = () => undefined;
  const cert = setting(settings, env, 'sslcert', 'PGSSLCERT');
  const key = setting(settings, env, 'sslkey', 'PGSSLKEY');
  if (cert !== undefined) options.cert = readSslFile('sslcert', cert);
  if (key !== undefined) options.key = readSslFile('sslkey', key);
  return options;
}

/** The user libpq connects as by default: the process's, from the passwd database. */
function localUserName(): string {
  try {
    return userInfo().username;
  } catch (error) {
    throw new SqlError(`${DRIVER}: could not look up local user ID ${process.geteuid?.()}: ${failureReason(error)}`, { cause: error });
  }
}

function readSslFile(key: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new SqlError(`${DRIVER}: cannot read ${key} file "${path}": ${failureReason(error)}`, { cause: error });
  }
}

/** Connects to one server within timeMs; the session is then set up for escapePgsql and UTF8 text if it is not already. */
function connectTo(pg: PgModule, target: PgTarget, timeMs: number): Promise<SqlConnection> {
  const client = new pg.Client(target.config);
  // once connected, a dropped socket is an 'error' event: the next query reports it
  client.on('error', () => {});
  const status = new Map<string, string>();
  client.connection.on('parameterStatus', (message) => status.set(message.parameterName, message.parameterValue));
  const connecting = client.connect().then(
    async () => {
      const fixes = [
        ...(status.get('standard_conforming_strings') === 'on' ? [] : ['SET standard_conforming_strings = on']),
        ...(status.get('client_encoding') === 'UTF8' ? [] : ["SET client_encoding = 'UTF8'"]),
      ];
      const connection = pgsqlConnection(client);
      if (fixes.length > 0) await connection.query(fixes.join('; '));
      return connection;
    },
    (error: unknown) => {
      client.connection.stream.destroy();
      throw error;
    },
  );
  return withinTime(connecting, timeMs, () => client.connection.stream.destroy(), (connection) => void connection.close());
}

function pgsqlConnection(client: PgClient): SqlConnection {
  return {
    async query(sql) {
      // the protocol ends a query at NUL: refuse it rather than let the server read less
      if (sql.includes('\0')) throw new SqlError(`${DRIVER}: Query failed: the query contains a NUL character`);
      let result: PgResult | PgResult[];
      try {
        result = await client.query({ text: sql, rowMode: 'array' });
      } catch (error) {
        throw new SqlError(`${DRIVER}: Query failed: ${failureReason(error)}`, { cause: error });
      }
      // several statements: the first one's rows, as Dovecot reads the first PGresult
      return rowsOf(Array.isArray(result) ? result[0] : result);
    },
    async close() {
      // Terminate, then FIN: done once those are sent. The server closing its end takes it
      // milliseconds more (the backend exits), which no delivery needs to wait for.
      const stream = client.connection.stream;
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          client.end(),
          new Promise<void>((resolve) => stream.once('finish', () => resolve())),
          new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MS))),
        ]);
      } catch {
        stream.destroy();
      } finally {
        clearTimeout(timer);
        stream.unref();
      }
    },
  };
}

/** Rows as column → text records in column order; a statement without rows (SET, or none at all) gives none. */
function rowsOf(result: PgResult | undefined): SqlRow[] {
  if (result === undefined || !Array.isArray(result.rows)) return [];
  const names = result.fields.map((field) => field.name);
  return result.rows.map((values) => {
    const row: Record<string, string | null> = {};
    names.forEach((name, index) => (row[name] = values[index] ?? null));
    return row;
  });
}
