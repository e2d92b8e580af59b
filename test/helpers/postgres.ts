// A private PostgreSQL server for the tests, from Debian's postgresql
// package (the newest /usr/lib/postgresql/VERSION/bin): initdb into a temp
// dir, trust authentication (after any pg_hba.conf lines a test puts first),
// listening on 127.0.0.1 only, on a free port, with its Unix socket in the
// temp dir, optionally TLS with a self-signed certificate. As root it runs as
// the `postgres` system user (PostgreSQL refuses root); otherwise as the
// current user. Nothing is synced to disk. Starting throws, with the end of
// the server's log, when initdb or pg_ctl fails; stop() stops the server and
// removes the temp dir.
//
// postgresUnavailable says why this cannot run here (the tests then skip
// with that reason).

import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, runAsSystemUser, runProgram, selfSignedCertificate } from './private-server.js';
import { pgsqlDriver } from '../../src/userdb/sql/pgsql.js';
import type { SqlRow } from '../../src/userdb/sql/types.js';

const POSTGRESQL_LIB = '/usr/lib/postgresql';
const SUPERUSER = 'postgres';

export interface PostgresOptions {
  /** pg_hba.conf lines put before the trust lines (e.g. a scram-sha-256 line for one role) */
  hbaLines?: string[];
  /** postgresql.conf settings, e.g. { standard_conforming_strings: 'off' } (quoted by the helper) */
  settings?: Record<string, string>;
  /** TLS on, with a self-signed certificate for localhost and 127.0.0.1 (PostgresServer.certFile) */
  tls?: boolean;
}

export interface PostgresServer {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** the directory of the Unix socket (a `host=` value for it) */
  readonly socketDir: string;
  /** the server's major version, e.g. "15" */
  readonly version: string;
  /** with `tls`: the server's certificate, its own CA */
  readonly certFile: string | undefined;
  /** runs SQL with psql as the superuser `postgres` (in `database`, default postgres); returns psql's unaligned, tuples-only output */
  sql(statements: string, database?: string): string;
  /** stops the server (fast shutdown) and removes its files */
  stop(): void;
}

/** The bin directory of the newest installed major version, or undefined. */
function binDirectory(): string | undefined {
  if (!existsSync(POSTGRESQL_LIB)) return undefined;
  const versions = readdirSync(POSTGRESQL_LIB)
    .filter((version) => /^[0-9.]+$/.test(version) && existsSync(join(POSTGRESQL_LIB, version, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length === 0 ? undefined : join(POSTGRESQL_LIB, versions[0]!, 'bin');
}

const BIN = binDirectory();
const RUN_AS = runAsSystemUser(SUPERUSER);

/** Why no private PostgreSQL can run here, or undefined when it can. */
export const postgresUnavailable: string | undefined =
  BIN === undefined
    ? `PostgreSQL is not installed (no ${POSTGRESQL_LIB}/*/bin/initdb; .ci/run installs the postgresql package)`
    : RUN_AS === undefined
      ? `running as root, and there is no "${SUPERUSER}" system user to run PostgreSQL as`
      : undefined;

/** Starts a private server; see the top of this file. */
export async function startPostgres(options: PostgresOptions = {}): Promise<PostgresServer> {
  if (postgresUnavailable !== undefined) throw new Error(postgresUnavailable);
  const bin = BIN!;
  const runAs = RUN_AS!;
  const dir = mkdtempSync('/tmp/dovetail-postgres-');
  const data = join(dir, 'data');
  const log = join(dir, 'server.log');
  chmodSync(dir, 0o755); // the certificate is read from here by the tests
  if ('uid' in runAs) chownSync(dir, runAs.uid, runAs.gid);
  const run = (program: string, args: string[], input?: string) => runProgram(join(bin, program), args, runAs, { cwd: dir, input, what: program });
  const logTail = () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').slice(-5).join(' | ') : '(no log)');
  try {
    run('initdb', ['-D', data, '-U', SUPERUSER, '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions']);
    const hba = join(data, 'pg_hba.conf');
    writeFileSync(hba, [...(options.hbaLines ?? []), readFileSync(hba, 'utf8')].join('\n'));
    const certificate = options.tls ? selfSignedCertificate(dir, runAs) : undefined;
    const settings: Record<string, string> = {
      listen_addresses: '127.0.0.1',
      unix_socket_directories: dir,
      fsync: 'off',
      synchronous_commit: 'off',
      full_page_writes: 'off',
      max_connections: '30',
      ...(certificate ? { ssl: 'on', ssl_cert_file: certificate.certFile, ssl_key_file: certificate.keyFile } : {}),
      ...options.settings,
    };
    const lines = Object.entries(settings).map(([key, value]) => `${key} = '${value}'\n`);
    writeFileSync(join(data, 'postgresql.conf'), lines.join(''), { flag: 'a' });
    // the port is only free until someone takes it: try another if the server cannot bind
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      try {
        run('pg_ctl', ['-D', data, '-l', log, '-o', `-p ${port}`, '-w', '-t', '30', 'start']);
      } catch (error) {
        if (attempt < 3 && /could not bind|already in use/i.test(logTail())) continue;
        throw new Error(`${(error as Error).message}; server log: ${logTail()}`);
      }
      return {
        host: '127.0.0.1',
        port,
        socketDir: dir,
        version: readFileSync(join(data, 'PG_VERSION'), 'utf8').trim(),
        certFile: certificate?.certFile,
        sql: (statements, database = 'postgres') =>
          run('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', dir, '-p', String(port), '-U', SUPERUSER, '-d', database, '-f', '-'], statements),
        stop() {
          try {
            run('pg_ctl', ['-D', data, '-m', 'fast', '-w', '-t', '30', 'stop']);
          } finally {
            rmSync(dir, { recursive: true, force: true });
          }
        },
      };
    }
  } catch (error) {
    // a server that did start is stopped; one that did not makes pg_ctl fail, which changes nothing
    spawnSync(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', 'stop'], { cwd: dir, stdio: 'ignore', ...runAs });
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/** Whether a connection made by Dovetail's pgsql driver with `connect` runs over TLS: [{ ssl: 't' }] or [{ ssl: 'f' }]. */
export async function connectionSslInUse(connect: string): Promise<SqlRow[]> {
  const connection = await pgsqlDriver.connect(connect, 5000);
  try {
    return await connection.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
  } finally {
    await connection.close();
  }
}
