// `dovetail lmtp [-c CONF] [-o key=value]...`: the LMTP server in the
// foreground, replacing Dovecot's lmtp service on the same dovecot.conf.
// Steps: arguments, settings (protocol lmtp), log, `service lmtp {}`, bind
// (or take systemd's sockets), become `service lmtp { user }` when started as
// root, build the backend, serve until SIGTERM/SIGINT.
//
// Signals (main.ts's last-resort handlers for them, made for one LDA
// delivery, are replaced here): SIGTERM or SIGINT stops accepting and lets
// every transaction in flight finish; a second one, or 30 s, closes what is
// left, and a delivery still running then rolls back (storage is aborted, a
// worker is sent SIGTERM); then the status is 0. SIGHUP re-reads the config: new connections get
// a backend built from it, sessions in progress keep theirs, a broken config
// is logged and the old one stays; `service lmtp {}` and log_path changes
// need a restart (logged).
//
// Exit status: 64 for a bad command line, 75 when the server cannot start
// (config, log, a socket in use, an unknown service user), else 0. Log lines
// go to log_path with Dovecot's lmtp prefix, `lmtp(<pid>): `.

import { hostname as systemHostname } from 'node:os';
import { getopt } from './getopt.js';
import { loadSettingsWithTree } from '../config/settings.js';
import type { Settings } from '../config/types.js';
import { openLog, type Log } from '../log/log.js';
import { asDeliveryFailure } from '../deliver/deliver.js';
import { EX_OK, EX_TEMPFAIL, EX_USAGE } from '../deliver/outcomes.js';
import { nodeProcessIdentity } from '../deliver/privileges.js';
import { connectionLimits, lmtpServiceConfig, type LmtpServiceConfig } from '../lmtp/listeners.js';
import { LmtpServer, STOP_GRACE_MS, adoptListeners, becomeServiceUser, bindListeners, listenBacklog, systemdListenFds, unfailingLog, type BoundListener } from '../lmtp/server.js';
import { serveConnection } from '../lmtp/connection.js';
import { createLocalBackend, type LocalBackend } from '../lmtp/backend.js';
import type { ServerCaches } from '../deliver/server-caches.js';
import type { LmtpBackend } from '../lmtp/types.js';

/** After the connections are closed, how long deliveries cut off may take to roll back before the process exits. */
const ROLLBACK_GRACE_MS = 10_000;

export const LMTP_USAGE = 'dovetail lmtp [-c <config file>] [-o <key>=<value>]...';

const HANDLED_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;
type HandledSignal = (typeof HANDLED_SIGNALS)[number];

export interface LmtpIo {
  argv: readonly string[];
  env: NodeJS.ProcessEnv;
  /** one line, no newline */
  writeError(line: string): void;
}

interface LmtpArgs {
  configPath?: string;
  overrides: string[];
}

function parseLmtpArgs(argv: readonly string[]): LmtpArgs | { error: string } {
  const parsed = getopt(argv, 'c:o:');
  if (!parsed.ok) return { error: parsed.error };
  if (parsed.operands.length > 0) return { error: `Unknown argument: ${parsed.operands[0]}` };
  const args: LmtpArgs = { overrides: [] };
  for (const { letter, value = '' } of parsed.options) {
    if (letter === 'c') args.configPath = value;
    else args.overrides.push(value);
  }
  return args;
}

/** What one reading of the config gives. */
interface Loaded {
  settings: Settings;
  service: LmtpServiceConfig;
}

/** Runs the server until it is stopped; returns the exit status. Never throws. */
export async function runLmtp(io: LmtpIo): Promise<number> {
  const args = parseLmtpArgs(io.argv);
  if ('error' in args) {
    io.writeError(`dovetail lmtp: ${args.error} (usage: ${LMTP_USAGE})`);
    return EX_USAGE;
  }
  const signals = takeOverSignals();
  let log: Log | undefined;
  let listeners: BoundListener[] = [];
  try {
    const load = (): Loaded => {
      const { settings, tree } = loadSettingsWithTree({ configPath: args.configPath, protocol: 'lmtp', overrides: args.overrides, env: io.env });
      return { settings, service: lmtpServiceConfig(tree, settings.raw) };
    };
    // what the server was started with: a reload cannot change its sockets, identity or log
    const initial = load();
    const logPrefix = `lmtp(${process.pid}): `;
    const serverLog = openLog(initial.settings, logPrefix);
    log = serverLog;
    const note = unfailingLog(log);
    // kept across reloads: SQL connections and compiled Sieve scripts
    const caches: ServerCaches = {};
    // aborted once the server has stopped waiting: what is still delivering rolls back
    const cutoff = new AbortController();
    const backends: LocalBackend[] = [];
    const newBackend = (settings: Settings): LmtpBackend => {
      const backend = createLocalBackend({
        settings,
        configPath: args.configPath,
        overrides: args.overrides,
        hostname: settings.hostname || io.env.DOVECOT_HOSTDOMAIN || systemHostname(),
        fileHostname: io.env.DOVECOT_HOSTNAME || systemHostname(),
        log: serverLog,
        caches,
        signal: cutoff.signal,
      });
      backends.push(backend);
      return backend;
    };

    const limits = connectionLimits(initial.settings.raw);
    const backlog = listenBacklog(initial.service.maxClients);
    const inherited = systemdListenFds(io.env, process.pid);
    // sd_listen_fds(unset_environment): the workers we start must not take them for theirs
    delete process.env.LISTEN_PID;
    delete process.env.LISTEN_FDS;
    delete process.env.LISTEN_FDNAMES;
    listeners = inherited === undefined ? await bindListeners(initial.service.listeners, backlog) : await adoptListeners(inherited, backlog);
    const identity = await becomeServiceUser(initial.service, nodeProcessIdentity);
    const server = new LmtpServer({
      listeners,
      maxClients: initial.service.maxClients,
      maxClientsOrigin: initial.service.maxClientsOrigin,
      log: note,
      serve: serveConnection,
    });
    server.serve(newBackend(initial.settings), limits);
    note.write('Info', `Dovetail lmtp starting up${identity === undefined ? '' : `, ${identity}`}: listening on ${server.descriptions.join(', ') || 'nothing'}`);

    const reload = () => {
      note.write('Warning', 'SIGHUP received - reloading configuration');
      try {
        const next = load();
        const nextLimits = connectionLimits(next.settings.raw);
        const backend = newBackend(next.settings);
        const restartFor = restartNeededFor(initial, next);
        server.serve(backend, nextLimits);
        if (restartFor.length > 0) note.write('Warning', `${restartFor.join(' and ')} changed: restart dovetail lmtp to apply`);
        note.write('Info', 'Configuration reloaded; sessions in progress keep the previous one');
      } catch (error) {
        note.write('Error', `Reloading the configuration failed, keeping the previous one: ${asDeliveryFailure(error).message}`);
      }
    };
    await signals.serveUntilStopped({
      reload,
      stop: (signal) => {
        note.write('Info', `Received ${signal}: shutting down, ${server.connectionCount} connection(s) to finish`);
        return server.stop(STOP_GRACE_MS);
      },
      stopNow: (signal) => {
        note.write('Warning', `Received ${signal} again: closing ${server.connectionCount} connection(s) now`);
        server.destroyConnections();
      },
    });
    // connections are closed; a delivery still running (a client cut off after the grace time) rolls back
    cutoff.abort();
    await Promise.race([Promise.all(backends.map((backend) => backend.settled())), new Promise((resolve) => setTimeout(resolve, ROLLBACK_GRACE_MS).unref())]);
    caches.sqlPools?.close();
    note.write('Info', 'Dovetail lmtp stopped');
    return EX_OK;
  } catch (error) {
    const failure = asDeliveryFailure(error);
    for (const listener of listeners) listener.server.close();
    try {
      log?.write('Error', failure.message);
    } catch {
      // the log itself failed; stderr below still says why
    }
    io.writeError(`dovetail lmtp: ${oneLine(failure.message)}`);
    return EX_TEMPFAIL;
  } finally {
    signals.release();
    await log?.close();
  }
}

/** What a reload cannot apply to a running server: its sockets, identity and client limit, and where it logs. */
function restartNeededFor(before: Loaded, after: Loaded): string[] {
  const changed: string[] = [];
  if (JSON.stringify(before.service) !== JSON.stringify(after.service)) changed.push('service lmtp {}');
  const logOf = (settings: Settings) => `${settings.log_path}\n${settings.info_log_path}`;
  if (logOf(before.settings) !== logOf(after.settings)) changed.push('log_path/info_log_path');
  return changed;
}

interface SignalActions {
  reload(): void;
  /** the first SIGTERM/SIGINT: settles when the server has stopped */
  stop(signal: HandledSignal): Promise<void>;
  /** the second one */
  stopNow(signal: HandledSignal): void;
}

/**
 * Our own SIGTERM/SIGINT/SIGHUP handlers in place of main.ts's. A stop
 * asked for during start-up is carried out as soon as the server runs.
 */
function takeOverSignals() {
  const received: HandledSignal[] = [];
  let deliver: ((signal: HandledSignal) => void) | undefined;
  const onSignal = (signal: HandledSignal) => (deliver === undefined ? received.push(signal) : deliver(signal));
  const handlers = HANDLED_SIGNALS.map((signal) => [signal, () => onSignal(signal)] as const);
  for (const signal of HANDLED_SIGNALS) process.removeAllListeners(signal);
  for (const [signal, handler] of handlers) process.on(signal, handler);
  return {
    serveUntilStopped(actions: SignalActions): Promise<void> {
      return new Promise((resolve) => {
        let stopping = false;
        deliver = (signal) => {
          if (signal === 'SIGHUP') {
            if (!stopping) actions.reload();
            return;
          }
          if (stopping) {
            actions.stopNow(signal);
            return;
          }
          stopping = true;
          actions.stop(signal).then(resolve, resolve);
        };
        for (const signal of received.splice(0)) deliver(signal);
      });
    },
    release() {
      // still ours until the process exits: a late signal must not fall back to Node's default (death by signal)
      deliver = () => {};
    },
  };
}

function oneLine(text: string): string {
  return text.replace(/[\r\n\t]+/g, ' ');
}
