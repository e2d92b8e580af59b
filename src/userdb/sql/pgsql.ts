// The PostgreSQL driver of the SQL userdb (`driver = pgsql`), through our own
// client of PostgreSQL's wire protocol (./pg-wire.ts: no libpq, no npm
// library to load).
//
// The connect string reads as Dovecot 2.3 reads it: driver-sqlpool takes out
// `maxconns` and the `host=` entries (./failover.ts), and each host's
// `host=H rest` is a libpq conninfo string (`key=value`, values optionally
// in '...' with backslash escapes). libpq's own lists (`host=a,b
// port=5432,5433`) are tried in order too. Missing values come from the
// environment as libpq takes them (PGHOST, PGPORT, PGUSER, PGDATABASE,
// PGPASSWORD, ~/.pgpass, PGSSLMODE...), then libpq's defaults: Debian's
// socket directory /var/run/postgresql, port 5432, the process's user name.
// The password is password=, else PGPASSWORD, else the matching line of the
// password file (passfile=, PGPASSFILE, ~/.pgpass), read only when the
// server asks for a password. Honoured as libpq honours them: password,
// passfile, connect_timeout, options, application_name, keepalives and
// keepalives_idle, sslmode (prefer, the default, uses TLS when the server
// offers it) with sslrootcert/sslcert/sslkey and sslsni, and PGDATESTYLE,
// PGTZ, PGGEQO sent as settings; libpq keys we do not honour fail the
// connect with a message naming them rather than being ignored, unless
// ignoring them changes nothing here.
//
// Values come back as PostgreSQL's text (numbers in decimal, booleans t/f),
// SQL NULL as null, from the first statement's result, as libpq's PQgetvalue
// gives them to Dovecot. Escaping is PQescapeStringConn's with
// standard_conforming_strings on (quotes doubled, backslashes as they are):
// the session asks for it and for client_encoding UTF8 in its start-up
// message, and a server that still reports otherwise (`options` overriding
// them) is set to `on` and UTF8 before the first lookup, so the escaping
// always holds.
//
// Failure: an SqlError with a one-line reason (./failover.ts for connects;
// "pgsql: Query failed: relation \"users\" does not exist" for queries). A
// query waits at most 60 s (Dovecot's SQL_QUERY_TIMEOUT_SECS).

import { readFileSync, statSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import { connectInOrder, failureReason, splitConnectString, withinTime, type ConnectTarget } from './failover.js';
import { connectPg, PgServerError, type PgResult, type PgSslMode, type PgWireConnection } from './pg-wire.js';
import { SqlError, type SqlConnection, type SqlDriver, type SqlRow } from './types.js';

const DRIVER = 'pgsql';
/** libpq's DEFAULT_PGSOCKET_DIR on Debian */
const DEFAULT_SOCKET_DIR = '/var/run/postgresql';
const DEFAULT_PORT = '5432';
/** Dovecot's SQL_QUERY_TIMEOUT_SECS */
const QUERY_TIMEOUT_MS = 60_000;
/** how long close() waits for its goodbye to be sent */
const CLOSE_WAIT_MS = 1000;
/** ERRCODE_INVALID_PASSWORD: after it, libpq says where a password from the password file came from */
const INVALID_PASSWORD = '28P01';

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

/** Keywords honoured (or that shape the targets). */
const HONOURED = new Set([
  'host', 'hostaddr', 'port', 'dbname', 'user', 'password', 'passfile', 'connect_timeout', 'client_encoding', 'options',
  'application_name', 'fallback_application_name', 'keepalives', 'keepalives_idle', 'sslmode', 'sslrootcert',
  'sslcert', 'sslkey', 'sslsni',
]);

/** Keywords left aside because, with the value given, libpq would not act differently for one short lookup. */
const HARMLESS: Readonly<Record<string, (value: string) => boolean>> = {
  keepalives_interval: () => true,
  keepalives_count: () => true,
  tcp_user_timeout: () => true,
  sslcompression: () => true, // libpq 14+ never compresses
  sslnegotiation: (value) => value === 'postgres', // SSLRequest first, as we always do
  gssencmode: (value) => value !== 'require', // no GSSAPI: like a server without it
  channel_binding: (value) => value !== 'require', // SCRAM without binding, as `prefer` allows
  target_session_attrs: (value) => value === 'any',
  load_balance_hosts: (value) => value === 'disable',
  sslcertmode: (value) => value !== 'require',
};

/** Run-time settings libpq sends in the start-up message when these variables are set (and not "default"). */
const ENVIRONMENT_SETTINGS: Readonly<Record<string, string>> = { PGDATESTYLE: 'datestyle', PGTZ: 'timezone', PGGEQO: 'geqo' };

/** What one server is connected with. */
interface PgTargetConfig {
  /** a host name or address, or the socket's directory */
  host: string;
  port: number;
  user: string;
  /** password= or PGPASSWORD; without it, the password file's, read when the server asks */
  password: string | undefined;
  /** the password file (passfile=, PGPASSFILE, ~/.pgpass) */
  passfile: string;
  /** the host name a password file line must match: host= (else hostaddr=), the default socket directory as localhost */
  passfileHost: string;
  database: string | undefined;
  /** TLS the server must agree to (sslmode require, verify-ca, verify-full), or false */
  ssl: false | ConnectionOptions;
  /** sslmode prefer or allow over TCP: TLS with these options when the server offers it (prefer) or refuses a plain login (allow) */
  sslIfOffered: { mode: 'prefer' | 'allow'; options: ConnectionOptions } | undefined;
  options: string | undefined;
  /** application_name, else fallback_application_name */
  application_name: string | undefined;
  keepAlive: boolean;
  keepAliveInitialDelayMillis: number;
  /** datestyle, timezone, geqo from libpq's environment variables */
  settings: Record<string, string>;
}

/** One server: a host (or socket directory) and port, with the settings its conninfo string gave. */
interface PgTarget extends ConnectTarget {
  config: PgTargetConfig;
  /** connect_timeout in ms, 0 = none of its own */
  timeoutMs: number;
}

export const pgsqlDriver: SqlDriver = {
  async connect(connect, timeoutMs) {
    const targets = pgsqlTargets(connect, process.env);
    return connectInOrder(DRIVER, targets, timeoutMs, (target, timeMs) =>
      connectTo(target, target.timeoutMs > 0 ? Math.min(timeMs, target.timeoutMs) : timeMs),
    );
  },
  escape: escapePgsql,
};

/** PQescapeStringConn with standard_conforming_strings on: each ' doubled, nothing else changed. */
export function escapePgsql(value: string): string {
  return value.replaceAll("'", "''");
}

/**
 * The servers a connect string names, in the order they are tried, each with
 * the settings of its conninfo string. Throws an SqlError for what libpq
 * or Dovecot would refuse, or for a libpq option Dovetail does not honour.
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

function clientConfig(settings: Map<string, string>, env: NodeJS.ProcessEnv, host: string, hostName: string, port: number): PgTargetConfig {
  const keepalives = setting(settings, env, 'keepalives');
  const keepalivesIdle = setting(settings, env, 'keepalives_idle');
  const clientEncoding = setting(settings, env, 'client_encoding', 'PGCLIENTENCODING');
  if (clientEncoding !== undefined && !/^(utf-?8|unicode|auto)$/i.test(clientEncoding)) {
    throw new SqlError(`${DRIVER}: client_encoding=${clientEncoding} is not supported by Dovetail (it reads UTF8)`);
  }
  const passHost = hostName || host;
  const environmentSettings: Record<string, string> = {};
  for (const [variable, name] of Object.entries(ENVIRONMENT_SETTINGS)) {
    const value = env[variable];
    if (value !== undefined && value !== '' && value.toLowerCase() !== 'default') environmentSettings[name] = value;
  }
  return {
    host,
    port,
    user: setting(settings, env, 'user', 'PGUSER') ?? localUserName(),
    password: setting(settings, env, 'password', 'PGPASSWORD'),
    passfile: setting(settings, env, 'passfile', 'PGPASSFILE') ?? join(homedir(), '.pgpass'),
    passfileHost: passHost === DEFAULT_SOCKET_DIR ? 'localhost' : passHost,
    database: setting(settings, env, 'dbname', 'PGDATABASE'),
    ...sslOptions(settings, env, host, hostName || host),
    options: setting(settings, env, 'options', 'PGOPTIONS'),
    application_name: setting(settings, env, 'application_name', 'PGAPPNAME') ?? setting(settings, env, 'fallback_application_name'),
    keepAlive: keepalives !== '0',
    keepAliveInitialDelayMillis: keepalivesIdle === undefined ? 0 : integerOption('keepalives_idle', keepalivesIdle) * 1000,
    settings: environmentSettings,
  };
}

/**
 * sslmode as libpq applies it, never on a Unix socket (`host` a directory):
 * disable connects in the clear; allow in the clear, then with TLS if the
 * server refuses that login; prefer (the default) with TLS if the server
 * offers it, else in the clear; require, verify-ca and verify-full only with
 * TLS. verify-ca checks the certificate chain, verify-full the chain and the
 * host name, the other modes the chain only when a root certificate is given
 * (as libpq does when it has one). The files are read when the connect
 * string is; one that cannot be read is an SqlError.
 */
function sslOptions(settings: Map<string, string>, env: NodeJS.ProcessEnv, host: string, serverName: string): Pick<PgTargetConfig, 'ssl' | 'sslIfOffered'> {
  const mode = setting(settings, env, 'sslmode', 'PGSSLMODE') ?? 'prefer';
  if (!['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'].includes(mode)) throw new SqlError(`${DRIVER}: invalid sslmode value: "${mode}"`);
  if (mode === 'disable' || host.startsWith('/')) return { ssl: false, sslIfOffered: undefined };
  const verifying = mode === 'verify-ca' || mode === 'verify-full';
  const rootCertPath = setting(settings, env, 'sslrootcert', 'PGSSLROOTCERT') ?? join(homedir(), '.postgresql', 'root.crt');
  const given = settings.has('sslrootcert') || env.PGSSLROOTCERT !== undefined;
  const ca = rootCertPath === 'system' || (!verifying && !given) ? undefined : readSslFile('sslrootcert', rootCertPath);
  const options: ConnectionOptions = { rejectUnauthorized: verifying || ca !== undefined, ca, host: serverName };
  if (isIP(serverName) === 0 && setting(settings, env, 'sslsni', 'PGSSLSNI') !== '0') options.servername = serverName;
  if (mode !== 'verify-full') options.checkServerIdentity = () => undefined;
  const cert = setting(settings, env, 'sslcert', 'PGSSLCERT');
  const key = setting(settings, env, 'sslkey', 'PGSSLKEY');
  if (cert !== undefined) options.cert = readSslFile('sslcert', cert);
  if (key !== undefined) options.key = readSslFile('sslkey', key);
  return mode === 'allow' || mode === 'prefer' ? { ssl: false, sslIfOffered: { mode, options } } : { ssl: options, sslIfOffered: undefined };
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

/**
 * libpq's passwordFromFile: the password of the first line
 * `host:port:database:user:password` of the file at `path` whose fields
 * match (`*` matching anything, `\\` escaping the next character), or
 * undefined. A file that is missing, not a plain file, or open to the group
 * or others (libpq warns, then ignores it) gives none.
 */
export function passwordFromFile(path: string, host: string, port: string, database: string, user: string): string | undefined {
  let text: string;
  try {
    const stats = statSync(path);
    if (!stats.isFile() || (stats.mode & 0o077) !== 0) return undefined;
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const entry = line.replace(/\r$/, '');
    if (entry === '' || entry.startsWith('#')) continue;
    let at = 0;
    /** the field at `at`, unescaped, up to the next unescaped colon or the end; moves past them */
    const field = (): string => {
      let value = '';
      while (at < entry.length && entry[at] !== ':') {
        if (entry[at] === '\\' && at + 1 < entry.length) at++;
        value += entry[at++];
      }
      at++;
      return value;
    };
    /** whether the next field is `*` or `wanted` (and not the last one) */
    const matches = (wanted: string): boolean => {
      if (entry.startsWith('*:', at)) {
        at += 2;
        return true;
      }
      return field() === wanted && at <= entry.length;
    };
    if (matches(host) && matches(port) && matches(database) && matches(user)) return field();
  }
  return undefined;
}

/** Connects to one server within timeMs; the session is then set up for escapePgsql and UTF8 text if it is not already. */
function connectTo(target: PgTarget, timeMs: number): Promise<SqlConnection> {
  const { config } = target;
  let passwordFile: string | undefined;
  const password = () => {
    if (config.password !== undefined) return config.password;
    const database = config.database ?? config.user;
    const found = passwordFromFile(config.passfile, config.passfileHost, String(config.port), database, config.user);
    if (found !== undefined) passwordFile = config.passfile;
    return found;
  };
  const attempt = connectPg({
    host: config.host,
    port: config.port,
    parameters: {
      user: config.user,
      database: config.database,
      options: config.options,
      application_name: config.application_name,
      client_encoding: 'UTF8',
      ...config.settings,
      standard_conforming_strings: 'on',
    },
    password,
    sslmode: sslMode(config),
    tls: config.ssl || config.sslIfOffered?.options,
    keepAlive: config.keepAlive,
    keepAliveInitialDelayMs: config.keepAliveInitialDelayMillis,
  });
  const connecting = attempt.connection.then(
    async (wire) => {
      await setUpSession(wire);
      return pgsqlConnection(wire);
    },
    (error: unknown) => {
      if (passwordFile !== undefined && error instanceof PgServerError && error.code === INVALID_PASSWORD) {
        throw new SqlError(`${error.message}; password retrieved from file "${passwordFile}"`, { cause: error });
      }
      throw error;
    },
  );
  return withinTime(connecting, timeMs, () => attempt.abort(), (connection) => void connection.close());
}

function sslMode(config: PgTargetConfig): PgSslMode {
  return config.ssl ? 'require' : (config.sslIfOffered?.mode ?? 'disable');
}

/** standard_conforming_strings on and client_encoding UTF8, set now if the server did not take them from the start-up message. */
async function setUpSession(wire: PgWireConnection): Promise<void> {
  const ready = () => wire.parameters.get('standard_conforming_strings') === 'on' && wire.parameters.get('client_encoding') === 'UTF8';
  if (ready()) return;
  try {
    await wire.query("SET standard_conforming_strings = on; SET client_encoding = 'UTF8'", QUERY_TIMEOUT_MS);
  } catch (error) {
    wire.destroy();
    throw error;
  }
  if (!ready()) {
    wire.destroy();
    throw new SqlError('could not set standard_conforming_strings = on and client_encoding = UTF8 for the session');
  }
}

function pgsqlConnection(wire: PgWireConnection): SqlConnection {
  return {
    async query(sql) {
      // the protocol ends a query at NUL: refuse it rather than let the server read less
      if (sql.includes('\0')) throw new SqlError(`${DRIVER}: Query failed: the query contains a NUL character`);
      let result: PgResult;
      try {
        result = await wire.query(sql, QUERY_TIMEOUT_MS);
      } catch (error) {
        throw new SqlError(`${DRIVER}: Query failed: ${failureReason(error)}`, { cause: error });
      }
      // several statements: the first one's rows, as Dovecot reads the first PGresult
      return rowsOf(result);
    },
    // Terminate, then FIN: done once those are sent. The server closing its end takes it
    // milliseconds more (the backend exits), which no delivery needs to wait for.
    close: () => wire.close(CLOSE_WAIT_MS),
  };
}

/** Rows as column → text records in column order; a statement without rows (SET, or none at all) gives none. */
function rowsOf(result: PgResult): SqlRow[] {
  return result.rows.map((values) => {
    const row: Record<string, string | null> = {};
    result.fields.forEach((name, index) => (row[name] = values[index] ?? null));
    return row;
  });
}
