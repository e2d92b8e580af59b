// The MySQL/MariaDB driver of the SQL userdb (`driver = mysql`), through
// npm `mysql2` (plain JavaScript, no libmysqlclient), loaded on first connect.
//
// The connect string reads as Dovecot 2.3 reads it: driver-sqlpool takes out
// `maxconns` and the `host=` entries (./failover.ts), then driver-mysql.c
// reads each host's `host=H rest` as space-separated key=value words (no
// quoting) with its keys: host and hostaddr (the last one given wins; a value
// starting with "/" is a Unix socket, "localhost" means the default socket
// as in libmysqlclient), port, user, password, dbname, client_flags,
// connect_timeout, read_timeout (the query timeout, default 30 s),
// write_timeout, ssl_ca, ssl_ca_path, ssl_cert, ssl_key, ssl_cipher
// (default HIGH), ssl_verify_server_cert (yes/no, default no). TLS is on when
// ssl_ca or ssl_ca_path is given: the server's certificate must then chain to
// those CAs, and match the host name only with ssl_verify_server_cert=yes
// (a host= that is an IP address is checked once logged in: mysql2 checks
// names only).
// option_file and option_group, which make libmysqlclient read my.cnf files,
// are refused: Dovetail reads no my.cnf.
//
// Values come back as the server's text (numbers in decimal, dates as
// written), SQL NULL as null, from the first result set. Escaping is
// mysql_real_escape_string's on a UTF-8 connection (NUL, \n, \r, \, ', " and
// Ctrl-Z backslash-escaped); a server whose sql_mode has
// NO_BACKSLASH_ESCAPES (it says so in its greeting) has that mode taken off
// for the session when connecting, so the escaping holds (an init_connect
// that sets the mode after the greeting is not seen).
//
// Failure: an SqlError with a one-line reason (./failover.ts for connects;
// "mysql: Query failed: Table 'mail.users' doesn't exist" for queries).

import { readFileSync, readdirSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { isIP } from 'node:net';
import type { PeerCertificate } from 'node:tls';
import { connectInOrder, failureReason, splitConnectString, withinTime, type ConnectTarget } from './failover.js';
import { loadClientLibrary } from './load-library.js';
import { SqlError, type SqlConnection, type SqlDriver, type SqlRow } from './types.js';

const DRIVER = 'mysql';
/** libmariadb's MARIADB_UNIX_ADDR on Debian */
const DEFAULT_SOCKET = '/run/mysqld/mysqld.sock';
const DEFAULT_PORT = 3306;
/** driver-mysql.c's MYSQL_DEFAULT_READ_TIMEOUT_SECS */
const DEFAULT_READ_TIMEOUT_SECONDS = 30;
/** how long close() waits for its goodbye to be sent */
const CLOSE_WAIT_MS = 1000;
/** SERVER_STATUS_NO_BACKSLASH_ESCAPES in the server's status flags */
const NO_BACKSLASH_ESCAPES = 0x200;

/** The keys driver-mysql.c knows; any other is an error. */
const KEYS = new Set([
  'host', 'hostaddr', 'user', 'password', 'dbname', 'port', 'client_flags', 'connect_timeout', 'read_timeout',
  'write_timeout', 'ssl_cert', 'ssl_key', 'ssl_ca', 'ssl_ca_path', 'ssl_cipher', 'ssl_verify_server_cert',
  'option_file', 'option_group',
]);

/**
 * client_flags bits mysql2 can turn on, by its names; the other bits it sets
 * itself are accepted as they are. Any other bit is refused.
 */
const CLIENT_FLAGS: ReadonlyMap<number, string | undefined> = new Map([
  [0x1, undefined], // LONG_PASSWORD
  [0x2, 'FOUND_ROWS'],
  [0x4, undefined], // LONG_FLAG
  [0x8, undefined], // CONNECT_WITH_DB
  [0x20, 'COMPRESS'],
  [0x100, 'IGNORE_SPACE'],
  [0x200, undefined], // PROTOCOL_41
  [0x400, 'INTERACTIVE'],
  [0x2000, undefined], // TRANSACTIONS
  [0x8000, undefined], // SECURE_CONNECTION
  [0x10000, 'MULTI_STATEMENTS'],
  [0x20000, undefined], // MULTI_RESULTS, which Dovecot always sets
  [0x80000, undefined], // PLUGIN_AUTH
]);

/**
 * mysql2's defaults that libmysqlclient does not set: LOAD DATA LOCAL (a
 * server could ask for our files) and IGNORE_SPACE (it changes sql_mode,
 * making function names reserved words).
 */
const FLAGS_OFF = ['-LOCAL_FILES', '-IGNORE_SPACE'];

interface MysqlField {
  string(encoding: string): string | null;
}

/** What this driver uses of `mysql2`. */
interface MysqlConnection {
  connect(callback: (error: Error | null) => void): void;
  query(
    options: { sql: string; rowsAsArray: true; timeout: number; typeCast: (field: MysqlField) => string | null },
    callback: (error: Error | null, rows: unknown, fields: unknown) => void,
  ): unknown;
  end(): unknown;
  close(): void;
  on(event: 'error', listener: (error: Error) => void): unknown;
  _handshakePacket?: { statusFlags?: number } | null;
  stream: { writable: boolean; destroy(): void; unref(): void; once(event: 'finish', listener: () => void): unknown; getPeerCertificate?(): unknown };
}

interface MysqlConfig {
  host?: string;
  port?: number;
  socketPath?: string;
  user: string;
  password: string | undefined;
  database: string | undefined;
  flags: string[];
  ssl: MysqlSsl | undefined;
}

/** mysql2's TLS settings (it passes on no other tls.connect option). */
interface MysqlSsl {
  ca: Buffer[];
  cert?: Buffer;
  key?: Buffer;
  ciphers: string;
  rejectUnauthorized: true;
  /** mysql2 checks the host name itself, but an IP address against "localhost": see connectTo */
  verifyIdentity: boolean;
}

interface MysqlModule {
  createConnection(config: MysqlConfig & { connectTimeout: number }): MysqlConnection;
}

/** One server, with the settings of its connect words. */
interface MysqlTarget extends ConnectTarget {
  config: MysqlConfig;
  /** connect_timeout in ms (default: none beyond the caller's) */
  timeoutMs: number;
  readTimeoutMs: number;
  /** an IP address the server's certificate must name (ssl_verify_server_cert=yes with host= an address) */
  certificateAddress: string | undefined;
}

export const mysqlDriver: SqlDriver = {
  async connect(connect, timeoutMs) {
    const targets = mysqlTargets(connect, process.env);
    const mysql = loadClientLibrary<MysqlModule>('mysql2.js', () => require('mysql2'));
    return connectInOrder(DRIVER, targets, timeoutMs, (target, timeMs) =>
      connectTo(mysql, target, target.timeoutMs > 0 ? Math.min(timeMs, target.timeoutMs) : timeMs),
    );
  },
  escape: escapeMysql,
};

const ESCAPES: Readonly<Record<string, string>> = {
  '\0': '\\0',
  '\n': '\\n',
  '\r': '\\r',
  '\\': '\\\\',
  "'": "\\'",
  '"': '\\"',
  '\x1a': '\\Z',
};

/** mysql_real_escape_string on a UTF-8 connection without NO_BACKSLASH_ESCAPES. */
export function escapeMysql(value: string): string {
  // eslint-disable-next-line no-control-regex
  return value.replace(/[\0\n\r\\'"\x1a]/g, (char) => ESCAPES[char]!);
}

/**
 * The servers a connect string names, in order, each with its mysql2
 * settings. Throws an SqlError for what Dovecot would refuse (with its
 * words) or for what Dovetail cannot do.
 */
export function mysqlTargets(connect: string, env: NodeJS.ProcessEnv): MysqlTarget[] {
  const { hosts, driverWords } = splitConnectString(connect, DRIVER);
  if (hosts.length === 0) return [targetOf(driverWords, env)];
  return hosts.map((host) => targetOf([`host=${host}`, ...driverWords], env));
}

function targetOf(words: string[], env: NodeJS.ProcessEnv): MysqlTarget {
  const settings = new Map<string, string>();
  for (const word of words) {
    const equals = word.indexOf('=');
    if (equals < 0) throw new SqlError(`${DRIVER}: Missing value in connect string: ${word}`);
    let key = word.slice(0, equals);
    if (!KEYS.has(key)) throw new SqlError(`${DRIVER}: Unknown connect string: ${key}`);
    if (key === 'option_file' || key === 'option_group') {
      throw new SqlError(`${DRIVER}: ${key} is not supported by Dovetail (it reads no my.cnf files)`);
    }
    if (key === 'hostaddr') key = 'host';
    settings.set(key, word.slice(equals + 1));
  }
  const host = settings.get('host');
  if (host === undefined) throw new SqlError(`${DRIVER}: No hosts given in connect string`);
  const port = settings.has('port') ? portNumber(settings.get('port')!) : 0;
  // libmysqlclient: "/..." and "localhost" are Unix sockets; port 0 is MYSQL_TCP_PORT or 3306
  const socketPath = host.startsWith('/') ? host : host === 'localhost' || host === '' ? env.MYSQL_UNIX_PORT || DEFAULT_SOCKET : undefined;
  const tcpPort = port || Number(env.MYSQL_TCP_PORT) || DEFAULT_PORT;
  const label = socketPath ?? `${host.includes(':') ? `[${host}]` : host}:${tcpPort}`;
  const seconds = (key: string, fallback: number) => (settings.has(key) ? unsignedSetting(key, settings.get(key)!) : fallback);
  const ssl = sslOptions(settings);
  const config: MysqlConfig = {
    ...(socketPath === undefined ? { host, port: tcpPort } : { socketPath }),
    user: settings.get('user') || localUserName(),
    password: settings.get('password'),
    database: settings.get('dbname') || undefined,
    flags: [...FLAGS_OFF, ...clientFlags(settings.get('client_flags'))],
    ssl: ssl && { ...ssl, verifyIdentity: ssl.verifyIdentity && isIP(host) === 0 },
  };
  seconds('write_timeout', 0); // checked, as Dovecot does; a lookup writes one short query
  return {
    label,
    config,
    timeoutMs: seconds('connect_timeout', 0) * 1000,
    readTimeoutMs: seconds('read_timeout', DEFAULT_READ_TIMEOUT_SECONDS) * 1000,
    certificateAddress: ssl?.verifyIdentity && isIP(host) !== 0 ? host : undefined,
  };
}

/** net_str2port: 1..65535 */
function portNumber(value: string): number {
  const port = /^[0-9]+$/.test(value) ? Number(value) : 0;
  if (port < 1 || port > 65535) throw new SqlError(`${DRIVER}: Invalid port number: ${value}`);
  return port;
}

function unsignedSetting(key: string, value: string): number {
  if (!/^[0-9]+$/.test(value) || Number(value) > 0xffffffff) throw new SqlError(`${DRIVER}: Invalid ${key}: ${value}`);
  return Number(value);
}

/** client_flags as mysql2 flag names to add. */
function clientFlags(value: string | undefined): string[] {
  if (value === undefined) return [];
  let bits = unsignedSetting('client_flags', value);
  const names: string[] = [];
  for (let bit = 1; bits !== 0; bit *= 2) {
    if (bits % (bit * 2) === 0) continue;
    bits -= bit;
    if (!CLIENT_FLAGS.has(bit)) throw new SqlError(`${DRIVER}: client_flags bit 0x${bit.toString(16)} is not supported by Dovetail`);
    const name = CLIENT_FLAGS.get(bit);
    if (name !== undefined) names.push(`+${name}`);
  }
  return names;
}

/** TLS when a CA is given, as driver-mysql.c calls mysql_ssl_set only then. */
function sslOptions(settings: Map<string, string>): MysqlSsl | undefined {
  const caFile = settings.get('ssl_ca');
  const caDirectory = settings.get('ssl_ca_path');
  if (caFile === undefined && caDirectory === undefined) return undefined;
  const verifyHost = settings.get('ssl_verify_server_cert') ?? 'no';
  if (verifyHost !== 'yes' && verifyHost !== 'no') throw new SqlError(`${DRIVER}: Invalid boolean: ${verifyHost}`);
  const ca = [...(caFile === undefined ? [] : [readSslFile('ssl_ca', caFile)]), ...(caDirectory === undefined ? [] : caDirectoryFiles(caDirectory))];
  const options: MysqlSsl = { ca, rejectUnauthorized: true, ciphers: settings.get('ssl_cipher') ?? 'HIGH', verifyIdentity: verifyHost === 'yes' };
  const cert = settings.get('ssl_cert');
  const key = settings.get('ssl_key');
  if (cert !== undefined) options.cert = readSslFile('ssl_cert', cert);
  if (key !== undefined) options.key = readSslFile('ssl_key', key);
  return options;
}

/** The PEM certificates of an OpenSSL CA directory. */
function caDirectoryFiles(directory: string): Buffer[] {
  let names: string[];
  try {
    names = readdirSync(directory);
  } catch (error) {
    throw new SqlError(`${DRIVER}: cannot read ssl_ca_path "${directory}": ${failureReason(error)}`, { cause: error });
  }
  return names
    .sort()
    .flatMap((name) => {
      try {
        return [readFileSync(join(directory, name))];
      } catch {
        return []; // a subdirectory or unreadable entry, which OpenSSL would pass over too
      }
    })
    .filter((content) => content.includes('-----BEGIN CERTIFICATE-----'));
}

function readSslFile(key: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new SqlError(`${DRIVER}: cannot read ${key} file "${path}": ${failureReason(error)}`, { cause: error });
  }
}

/** libmysqlclient's default user: the process's. */
function localUserName(): string {
  try {
    return userInfo().username;
  } catch (error) {
    throw new SqlError(`${DRIVER}: could not look up local user ID ${process.geteuid?.()}: ${failureReason(error)}`, { cause: error });
  }
}

/** Connects to one server within timeMs; NO_BACKSLASH_ESCAPES is then taken off the session if the server has it on. */
function connectTo(mysql: MysqlModule, target: MysqlTarget, timeMs: number): Promise<SqlConnection> {
  // mysql2's own connect timer only backs up withinTime()'s
  const connection = mysql.createConnection({ ...target.config, connectTimeout: timeMs + 1000 });
  // close() stops mysql2's timer, destroy() the socket
  const abort = () => {
    connection.close();
    connection.stream.destroy();
  };
  // once connected, a dropped socket is an 'error' event: the next query reports it
  connection.on('error', () => {});
  const connecting = new Promise<SqlConnection>((resolve, reject) => {
    connection.connect((error) => {
      if (error) {
        abort();
        reject(error);
        return;
      }
      if (target.certificateAddress !== undefined) {
        // checked once logged in: the chain was checked before, so only a server the CA vouches for under another name saw the password
        const mismatch = process.getBuiltinModule('node:tls').checkServerIdentity(target.certificateAddress, connection.stream.getPeerCertificate?.() as PeerCertificate);
        if (mismatch) {
          abort();
          reject(mismatch);
          return;
        }
      }
      const session = mysqlConnection(connection, target.readTimeoutMs);
      if (((connection._handshakePacket?.statusFlags ?? 0) & NO_BACKSLASH_ESCAPES) === 0) {
        resolve(session);
        return;
      }
      session
        .query("SET SESSION sql_mode = TRIM(BOTH ',' FROM REPLACE(CONCAT(',', @@SESSION.sql_mode, ','), ',NO_BACKSLASH_ESCAPES,', ','))")
        .then(() => resolve(session), reject);
    });
  });
  return withinTime(connecting, timeMs, abort, (session) => void session.close());
}

/** Every value as text: the server sends text, read as UTF-8 (the connection's charset, utf8mb4). */
const asText = (field: MysqlField) => field.string('utf8');

function mysqlConnection(connection: MysqlConnection, readTimeoutMs: number): SqlConnection {
  return {
    query(sql) {
      return new Promise((resolve, reject) => {
        connection.query({ sql, rowsAsArray: true, timeout: readTimeoutMs || 2 ** 31 - 1, typeCast: asText }, (error, rows, fields) => {
          if (error) reject(new SqlError(`${DRIVER}: Query failed: ${failureReason(error)}`, { cause: error }));
          else resolve(rowsOf(rows, fields));
        });
      });
    },
    async close() {
      // COM_QUIT, then FIN: done once those are sent, not when the server has closed its end
      let timer: NodeJS.Timeout | undefined;
      if (!connection.stream.writable) {
        connection.stream.destroy(); // lost already: nothing to say goodbye on
        return;
      }
      try {
        const finished = new Promise<void>((resolve) => connection.stream.once('finish', () => resolve()));
        connection.end();
        connection.close();
        await Promise.race([finished, new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MS)))]);
      } catch {
        connection.stream.destroy();
      } finally {
        clearTimeout(timer);
        connection.stream.unref();
      }
    },
  };
}

/**
 * Rows as column → text records in column order. Several result sets (a
 * CALL): the first, as Dovecot stores only that one; a statement without a
 * result set gives no rows.
 */
function rowsOf(rows: unknown, fields: unknown): SqlRow[] {
  const multiple = Array.isArray(fields) && Array.isArray(fields[0]);
  const firstRows = multiple ? (rows as unknown[])[0] : rows;
  const firstFields = (multiple ? (fields as unknown[])[0] : fields) as { name: string }[] | undefined;
  if (!Array.isArray(firstRows) || !Array.isArray(firstFields)) return [];
  const names = firstFields.map((field) => field.name);
  return (firstRows as (string | null)[][]).map((values) => {
    const row: Record<string, string | null> = {};
    names.forEach((name, index) => (row[name] = values[index] ?? null));
    return row;
  });
}
