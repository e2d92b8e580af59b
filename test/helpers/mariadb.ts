// A private MariaDB (or MySQL) server for the tests, when `mariadbd` or
// `mysqld` is installed (Debian's mariadb-server): mariadb-install-db into a
// temp dir (root@localhost without a password, no test database), then the
// server on 127.0.0.1 only, on a free port, with its Unix socket in the temp
// dir, reading no my.cnf (--no-defaults), optionally TLS with a self-signed
// certificate. As root it runs as the `mysql` system user; otherwise as the
// current user. Starting throws, with the end of the server's error log, when
// the install or the server fails or the socket does not appear within 30 s;
// stop() stops the server (SIGTERM, waiting for it to exit) and removes the
// temp dir.
//
// mariadbUnavailable says why this cannot run here (the tests then skip with
// that reason).

import { spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, runAsSystemUser, runProgram, selfSignedCertificate } from './private-server.js';

const SERVER_USER = 'mysql';
const WAIT_MS = 30_000;

/** The first program of `names` found in the usual directories. */
function program(names: string[]): string | undefined {
  for (const name of names) {
    for (const dir of ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin']) {
      if (existsSync(join(dir, name))) return join(dir, name);
    }
  }
  return undefined;
}

const SERVER = program(['mariadbd', 'mysqld']);
const INSTALL_DB = program(['mariadb-install-db', 'mysql_install_db']);
const CLIENT = program(['mariadb', 'mysql']);
const RUN_AS = runAsSystemUser(SERVER_USER);

/** Why no private MariaDB can run here, or undefined when it can. */
export const mariadbUnavailable: string | undefined =
  SERVER === undefined
    ? 'MariaDB is not installed (no mariadbd or mysqld; .ci/run installs the mariadb-server package)'
    : INSTALL_DB === undefined || CLIENT === undefined
      ? 'mariadb-install-db or the mariadb client is missing (the mariadb-server package brings both)'
      : RUN_AS === undefined
        ? `running as root, and there is no "${SERVER_USER}" system user to run MariaDB as`
        : undefined;

export interface MariadbOptions {
  /** server options, e.g. ['--sql-mode=NO_BACKSLASH_ESCAPES'] */
  serverArgs?: string[];
  /** TLS on, with a self-signed certificate (MariadbServer.certFile) for localhost and 127.0.0.1, or for the subjectAltName entries given */
  tls?: boolean | string[];
}

export interface MariadbServer {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** the Unix socket (a `host=` value for it) */
  readonly socket: string;
  /** with `tls`: the server's certificate, its own CA */
  readonly certFile: string | undefined;
  /** runs SQL with the mariadb client as root (in `database`, if given); returns its tab-separated output without column names */
  sql(statements: string, database?: string): string;
  /** stops the server and removes its files */
  stop(): Promise<void>;
}

/** Starts a private server; see the top of this file. */
export async function startMariadb(options: MariadbOptions = {}): Promise<MariadbServer> {
  if (mariadbUnavailable !== undefined) throw new Error(mariadbUnavailable);
  const runAs = RUN_AS!;
  const dir = mkdtempSync('/tmp/dovetail-mariadb-');
  const data = join(dir, 'data');
  const socket = join(dir, 'mysqld.sock');
  const errorLog = join(dir, 'error.log');
  chmodSync(dir, 0o755); // the certificate is read from here by the tests
  if ('uid' in runAs) chownSync(dir, runAs.uid, runAs.gid);
  const logTail = () => (existsSync(errorLog) ? readFileSync(errorLog, 'utf8').trim().split('\n').slice(-5).join(' | ') : '(no log)');
  try {
    runProgram(INSTALL_DB!, ['--no-defaults', `--datadir=${data}`, '--auth-root-authentication-method=normal', '--skip-test-db'], runAs, { cwd: dir, what: 'mariadb-install-db' });
    const certificate = options.tls ? selfSignedCertificate(dir, runAs, options.tls === true ? undefined : options.tls) : undefined;
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const server = spawn(
        SERVER!,
        [
          '--no-defaults',
          `--datadir=${data}`,
          `--socket=${socket}`,
          `--port=${port}`,
          '--bind-address=127.0.0.1',
          `--pid-file=${join(dir, 'mysqld.pid')}`,
          `--log-error=${errorLog}`,
          '--skip-name-resolve',
          '--skip-log-bin',
          '--innodb-buffer-pool-size=16M',
          ...(certificate ? [`--ssl-cert=${certificate.certFile}`, `--ssl-key=${certificate.keyFile}`] : []),
          ...(options.serverArgs ?? []),
        ],
        { cwd: dir, stdio: 'ignore', env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' }, ...runAs },
      );
      let exit: string | undefined;
      const exited = new Promise<void>((resolve) =>
        server.once('exit', (code, signal) => {
          exit = `exit ${code ?? signal}`;
          resolve();
        }),
      );
      const deadline = Date.now() + WAIT_MS;
      while (exit === undefined && !existsSync(socket) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      if (exit !== undefined || !existsSync(socket)) {
        server.kill('SIGKILL');
        await exited;
        if (attempt < 3 && /Can't start server: Bind on TCP\/IP port|Address already in use/i.test(logTail())) continue;
        throw new Error(`mariadbd did not start (${exit ?? `no socket after ${WAIT_MS} ms`}): ${logTail()}`);
      }
      const client = (statements: string, database?: string) =>
        runProgram(CLIENT!, ['--no-defaults', `--socket=${socket}`, '--user=root', '--batch', '--skip-column-names', ...(database ? [database] : [])], runAs, {
          cwd: dir,
          input: statements,
          what: 'mariadb',
        });
      return {
        host: '127.0.0.1',
        port,
        socket,
        certFile: certificate?.certFile,
        sql: client,
        async stop() {
          try {
            if (exit === undefined) {
              server.kill('SIGTERM');
              const killer = setTimeout(() => server.kill('SIGKILL'), WAIT_MS);
              await exited;
              clearTimeout(killer);
            }
          } finally {
            rmSync(dir, { recursive: true, force: true });
          }
        },
      };
    }
  } catch (error) {
    // a server that failed to start was killed above
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
