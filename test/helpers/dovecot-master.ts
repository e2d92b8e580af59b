// A private Dovecot master (`dovecot -c CONFIG`) for the tests that run
// Debian's dovecot-lda with -d: dovecot-lda asks the auth service under the
// master's base_dir for the user, and that service answers from a passwd-file
// or from the userdb blocks it is given (e.g. `driver = sql`, which needs
// Debian's dovecot-sqlite or dovecot-pgsql). With `protocols = lmtp` and a
// `service lmtp {}` listener in extraConfig it also runs Dovecot's lmtp
// server (test/compat/lmtp.test.ts); its inet listeners are bound by the time
// `dovecot` returns, as the master binds them before it daemonizes.
// By default nothing else runs (no protocols, no SSL), every password is accepted, and
// the master's stdio is ignored, as it daemonizes and its children would hold
// a pipe open for ever. Starting throws when `dovecot` fails or its auth
// socket and pid file do not appear within five seconds; stopping throws when
// the master is still alive five seconds after SIGTERM. Both are synchronous.
// A master takes about three seconds to exit after SIGTERM: a test that
// replaces one can terminate() it and start the next in another runDir.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface DovecotMasterOptions {
  /** base_dir and state_dir: the sockets, master.pid, master.conf and master.log go here (created if missing) */
  runDir: string;
  /** the passwd-file the auth service answers userdb lookups from; or: */
  usersFile?: string;
  /** userdb blocks (config lines) in place of the passwd-file one, e.g. `userdb {`, `driver = sql`, `args = FILE`, `}` */
  userdbBlocks?: string[];
  /** config lines after the common ones */
  extraConfig?: string[];
  /** the `protocols` setting; default none (only the auth service runs) */
  protocols?: string;
}

export interface DovecotMaster {
  /** the base_dir a dovecot-lda config names to reach this master's auth service */
  readonly baseDir: string;
  /** SIGTERM, without waiting for the exit: the runDir stays in use until then */
  terminate(): void;
  /** SIGTERM (unless terminate() sent it), then waits until the master has exited */
  stop(): void;
}

const WAIT_MS = 5000;
const POLL_SECONDS = '0.05';

/** Polls (synchronously) until `done` holds; throws when WAIT_MS pass first. */
function waitFor(done: () => boolean, what: string): void {
  for (const deadline = Date.now() + WAIT_MS; !done(); spawnSync('sleep', [POLL_SECONDS])) {
    if (Date.now() > deadline) throw new Error(`waited ${WAIT_MS} ms for ${what} in vain`);
  }
}

/** The pid in RUNDIR/master.pid, or undefined while the master has not written it. */
function masterPid(runDir: string): number | undefined {
  const pidFile = join(runDir, 'master.pid');
  const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8')) : 0;
  return pid > 0 ? pid : undefined;
}

/** Linux: a process is gone once /proc has no entry for it. */
const hasExited = (pid: number) => !existsSync(`/proc/${pid}`);

/**
 * The master's config (RUNDIR/master.conf): base_dir, state_dir and log_path
 * under RUNDIR, then the rest from the options. A test can write the config of
 * another server (Dovetail's) from the same function with another RUNDIR.
 */
export function dovecotMasterConfig({ runDir, usersFile, userdbBlocks, extraConfig = [], protocols = '' }: DovecotMasterOptions): string[] {
  if ((usersFile === undefined) === (userdbBlocks === undefined)) throw new Error('startDovecotMaster: give exactly one of usersFile and userdbBlocks');
  return [
    `base_dir = ${runDir}`,
    `state_dir = ${runDir}`,
    `protocols =${protocols ? ` ${protocols}` : ''}`,
    'ssl = no',
    `log_path = ${join(runDir, 'master.log')}`,
    'passdb {',
    '  driver = static',
    '  args = nopassword=y',
    '}',
    ...(userdbBlocks ?? ['userdb {', '  driver = passwd-file', `  args = ${usersFile}`, '}']),
    ...extraConfig,
    '',
  ];
}

/**
 * Writes RUNDIR/master.conf, starts the master and returns once the
 * auth-userdb socket that dovecot-lda -d connects to is there. RUNDIR may be
 * one a stopped master used: its socket is removed first, so that the wait is
 * for the new one.
 */
export function startDovecotMaster(options: DovecotMasterOptions): DovecotMaster {
  const { runDir } = options;
  mkdirSync(runDir, { recursive: true });
  const config = join(runDir, 'master.conf');
  writeFileSync(config, dovecotMasterConfig(options).join('\n'));
  const authSocket = join(runDir, 'auth-userdb');
  rmSync(authSocket, { force: true });
  const started = spawnSync('dovecot', ['-c', config], { stdio: 'ignore' });
  if (started.status !== 0) throw new Error(`dovecot -c ${config} failed with status ${started.status}`);
  // the socket and the pid file are made at different moments; stop() needs the pid
  waitFor(() => existsSync(authSocket) && masterPid(runDir) !== undefined, `${authSocket} and master.pid (see master.log)`);
  const pid = masterPid(runDir)!;
  let terminated = false;
  const terminate = () => {
    if (!terminated) process.kill(pid, 'SIGTERM');
    terminated = true;
  };
  return {
    baseDir: runDir,
    terminate,
    stop() {
      terminate();
      waitFor(() => hasExited(pid), `the Dovecot master (pid ${pid}) to exit after SIGTERM`);
    },
  };
}
