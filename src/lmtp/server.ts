// The LMTP server's sockets and its set of connections: binds the listeners
// of `service lmtp {}` (or takes systemd's), becomes the service user, hands
// every accepted socket to the protocol layer with the backend of the moment,
// and stops gracefully. It knows neither the protocol nor mailboxes.
//
// - UNIX sockets: a stale socket file (nothing accepts on it) is removed and
//   bound again, as Dovecot's master does; one something still listens on
//   fails ("Socket already exists"), and so does a path that is not a socket
//   (Dovecot would unlink any file there) or whose directory is missing
//   (Dovecot skips such a listener silently; a server Postfix cannot reach
//   should not look healthy). Mode, owner and group are set as configured.
// - Clients at once are limited (maxClients); beyond, a new connection waits
//   unanswered until one ends, as it waits in Dovecot's listen queue; as many
//   again may wait, and one more gets `421 4.3.2` and is closed.
// - stop(): listeners close (Node removes the socket files it bound, when
//   the directory lets the service user: else the file stays, and the next
//   start replaces it as stale), connections waiting for their turn get 421,
//   and every live connection is asked to shut down: an idle one says 421
//   at once, a busy one finishes its transaction first. After the grace
//   period, or destroyConnections() (a second SIGTERM), what is left is
//   closed: a client whose DATA got no reply retries, so nothing is lost.
// - serve() again (SIGHUP): new connections get the new backend and limits;
//   connections in progress keep theirs.
// Binding failures are temporary DeliveryFailures (exit 75); once serving,
// a connection's failure is logged and never reaches the listeners.

import { createServer, createConnection, isIP, type Server, type Socket } from 'node:net';
import { lookup } from 'node:dns/promises';
import { chmodSync, chownSync, existsSync, lstatSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ConnectionLimits, LmtpBackend, LmtpConnection } from './types.js';
import { describeListener, type InetListenerSpec, type ListenerSpec, type UnixListenerSpec } from './listeners.js';
import { temporary } from '../deliver/failure.js';
import { switchToMailUser, type ProcessIdentity } from '../deliver/privileges.js';
import { getgrnam, getpwnam } from '../userdb/system-accounts.js';
import type { LogLevel } from '../log/log.js';

export interface ServerLog {
  write(level: LogLevel, text: string): void;
}

/**
 * A log whose write never throws: a line that cannot be written (a full
 * disk) goes to stderr instead, and a server must not die of its log.
 */
export function unfailingLog(log: ServerLog): ServerLog {
  return {
    write(level, text) {
      try {
        log.write(level, text);
      } catch (error) {
        process.stderr.write(`${level}: ${text} (log failed: ${reasonOf(error)})\n`);
      }
    },
  };
}

/** The protocol layer's entry point (connection.ts serveConnection), passed in so tests can use a fake. */
export type ServeConnection = (
  socket: Socket,
  backend: LmtpBackend,
  limits: ConnectionLimits,
  options: { log?: (level: 'Info' | 'Error', text: string) => void },
) => LmtpConnection;

/** A socket accepting connections, and how the log names it. */
export interface BoundListener {
  readonly description: string;
  readonly server: Server;
  /**
   * Connections accepted before an LmtpServer took the listener (between
   * listen() and the switch to the service user): kept, in order, with
   * whatever they sent, so that a client connecting the moment the socket
   * listens (Postfix with queued mail, systemd's first client) is served.
   */
  readonly early: Socket[];
}

/** A server that keeps what it accepts in `early` until LmtpServer takes over its 'connection' event. */
function queueingServer(): { server: Server; early: Socket[] } {
  const early: Socket[] = [];
  const server = createServer((socket) => {
    socket.on('error', () => {}); // one that resets before it is served is nobody's error
    early.push(socket);
  });
  return { server, early };
}

// ---- binding ----

/** Dovecot's listen backlog: clients at once, at least 4, at most 511. */
export function listenBacklog(maxClients: number): number {
  return Math.min(511, Math.max(4, maxClients));
}

/** Binds every listener in order; on any failure closes those already bound and throws a temporary DeliveryFailure. */
export async function bindListeners(specs: readonly ListenerSpec[], backlog: number): Promise<BoundListener[]> {
  const bound: BoundListener[] = [];
  try {
    for (const spec of specs) {
      if (spec.kind === 'unix') bound.push(await bindUnix(spec, backlog));
      else bound.push(...(await bindInet(spec, backlog)));
    }
    return bound;
  } catch (error) {
    for (const listener of bound) listener.server.close();
    throw error;
  }
}

/** server.listen(), settled; with `umask`, the socket file is created under it (the bind is synchronous) and the old umask restored at once. */
function listenOn(server: Server, options: { path: string } | { host: string; port: number; ipv6Only: boolean }, backlog: number, umask?: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (error: Error) => reject(error);
    server.once('error', fail);
    const previousUmask = umask === undefined ? undefined : process.umask(umask);
    try {
      server.listen({ ...options, backlog }, () => {
        server.off('error', fail);
        resolve();
      });
    } finally {
      if (previousUmask !== undefined) process.umask(previousUmask);
    }
  });
}

const errnoOf = (error: unknown) => (error as NodeJS.ErrnoException).code ?? '';
const reasonOf = (error: unknown) => (error as Error).message;

/** Whether something accepts connections on the UNIX socket at `path`. */
function socketIsLive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createConnection({ path });
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    // ECONNREFUSED: a socket file nobody listens on; anything else we cannot tell, so it counts as live
    probe.once('error', (error) => resolve(errnoOf(error) !== 'ECONNREFUSED'));
  });
}

async function bindUnix(spec: UnixListenerSpec, backlog: number): Promise<BoundListener> {
  const description = describeListener(spec);
  const fail = (reason: string) => temporary(`service(lmtp): Can't listen on ${description}: ${reason}`);
  const owner = await socketOwner(spec);
  const { server, early } = queueingServer();
  for (let attempt = 0; ; attempt++) {
    try {
      // born with its final mode, not the umask's, so nobody can connect before chmod
      await listenOn(server, { path: spec.path }, backlog, (spec.mode ^ 0o777) & 0o777);
      break;
    } catch (error) {
      const code = errnoOf(error);
      // libuv reports a missing directory as EACCES
      if ((code === 'ENOENT' || code === 'EACCES') && !existsSync(dirname(spec.path))) throw fail(`directory ${dirname(spec.path)} does not exist`);
      if (code !== 'EADDRINUSE' || attempt > 0) throw fail(reasonOf(error));
      if (!isSocketFile(spec.path)) throw fail(`${spec.path} exists and is not a socket`);
      if (await socketIsLive(spec.path)) throw fail(`Socket already exists: ${spec.path} (another server is listening on it)`);
      try {
        unlinkSync(spec.path); // stale: left by a server that is gone
      } catch (unlinkError) {
        if (errnoOf(unlinkError) !== 'ENOENT') throw fail(`unlink(${spec.path}) failed: ${reasonOf(unlinkError)}`);
      }
    }
  }
  try {
    chmodSync(spec.path, spec.mode);
    if (owner !== undefined) chownSync(spec.path, owner.uid, owner.gid);
  } catch (error) {
    server.close();
    throw fail(reasonOf(error));
  }
  return { description, server, early };
}

function isSocketFile(path: string): boolean {
  try {
    return lstatSync(path).isSocket();
  } catch {
    return true; // gone meanwhile: binding again will tell
  }
}

/** The owner a unix_listener's `user`/`group` ask for (user alone: also the user's primary group, as Dovecot); undefined when neither is set. */
async function socketOwner(spec: UnixListenerSpec): Promise<{ uid: number; gid: number } | undefined> {
  if (spec.user === '' && spec.group === '') return undefined;
  let uid = -1;
  let gid = -1;
  if (spec.user !== '') {
    const entry = await getpwnam(spec.user);
    if (entry === null) throw temporary(`service(lmtp): User doesn't exist: ${spec.user} (See service lmtp { unix_listener ${spec.path} { user } } setting)`);
    uid = entry.uid;
    gid = entry.gid;
  }
  if (spec.group !== '') {
    const group = await getgrnam(spec.group);
    if (group === null) throw temporary(`service(lmtp): Group doesn't exist: ${spec.group} (See service lmtp { unix_listener ${spec.path} { group } } setting)`);
    gid = group.gid;
  }
  return { uid, gid };
}

/** "*" and "::" are the wildcard addresses; an IP literal is itself; a host name is each of its addresses, as Dovecot binds them all. */
async function addressesOf(spec: InetListenerSpec): Promise<string[]> {
  if (spec.address === '*') return ['0.0.0.0'];
  if (isIP(spec.address) !== 0) return [spec.address];
  try {
    return (await lookup(spec.address, { all: true })).map((entry) => entry.address);
  } catch (error) {
    throw temporary(`service(lmtp): Can't resolve address ${spec.address}: ${reasonOf(error)} (See service lmtp { inet_listener ${spec.name} { address } } setting)`);
  }
}

async function bindInet(spec: InetListenerSpec, backlog: number): Promise<BoundListener[]> {
  const bound: BoundListener[] = [];
  for (const host of await addressesOf(spec)) {
    const { server, early } = queueingServer();
    // IPv6 sockets take no IPv4 connections, so that "*, ::" can bind both on one port
    try {
      await listenOn(server, { host, port: spec.port, ipv6Only: isIP(host) === 6 }, backlog);
    } catch (error) {
      for (const listener of bound) listener.server.close();
      throw temporary(`service(lmtp): listen(${host}, ${spec.port}) failed: ${reasonOf(error)}`);
    }
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : spec.port; // port 0 in tests: the one given
    bound.push({ description: describeListener({ ...spec, address: host, port }), server, early });
  }
  return bound;
}

// ---- systemd socket activation ----

/** sd_listen_fds(3): the fds systemd passed us (3, 4, ...), when LISTEN_PID is our pid; undefined when not socket-activated. */
export function systemdListenFds(env: NodeJS.ProcessEnv, pid: number): number[] | undefined {
  if (env.LISTEN_PID !== String(pid)) return undefined;
  const count = Number(env.LISTEN_FDS);
  if (!Number.isSafeInteger(count) || count <= 0) return undefined;
  return Array.from({ length: count }, (_, index) => 3 + index);
}

/** Listens on sockets systemd already bound (their files belong to systemd: closing them removes nothing). */
export async function adoptListeners(fds: readonly number[], backlog: number): Promise<BoundListener[]> {
  const adopted: BoundListener[] = [];
  try {
    for (const fd of fds) {
      const { server, early } = queueingServer();
      await new Promise<void>((resolve, reject) => {
        server.once('error', (error) => reject(temporary(`systemd socket fd ${fd}: ${reasonOf(error)}`)));
        server.listen({ fd, backlog }, resolve);
      });
      const address = server.address();
      const where =
        typeof address === 'string' ? `unix:${address}` : address === null ? 'unknown' : describeListener({ kind: 'inet', name: '', address: address.address, port: address.port });
      adopted.push({ description: `${where} (systemd fd ${fd})`, server, early });
    }
    return adopted;
  } catch (error) {
    for (const listener of adopted) listener.server.close();
    throw error;
  }
}

// ---- the service user ----

/**
 * After binding: becomes `service lmtp { user, group }` for good (its groups,
 * its gid or `group`, its uid), so deliveries happen in-process as that
 * user. No user (or root) keeps the process as it is. Returns a line for the
 * log, or undefined when nothing changed. Fails (temporary) for an unknown
 * user or group, or when not root and not already that user.
 */
export async function becomeServiceUser(service: { user: string; group: string }, proc: ProcessIdentity): Promise<string | undefined> {
  if (service.user === '') return undefined;
  const entry = await getpwnam(service.user);
  if (entry === null) throw temporary(`service(lmtp): User doesn't exist: ${service.user} (See service lmtp { user } setting)`);
  let gid = entry.gid;
  if (service.group !== '') {
    const group = await getgrnam(service.group);
    if (group === null) throw temporary(`service(lmtp): Group doesn't exist: ${service.group} (See service lmtp { group } setting)`);
    gid = group.gid;
  }
  if (entry.uid === 0) return undefined;
  const euid = proc.geteuid();
  if (euid === entry.uid) return undefined; // started as the user already (systemd's User=)
  if (euid !== 0) {
    throw temporary(`service(lmtp): running as UID ${euid}, not root: cannot become ${service.user} (UID ${entry.uid}) as service lmtp { user } asks`);
  }
  switchToMailUser({ username: entry.name, uid: entry.uid, gid, systemGroupsUser: entry.name }, { first_valid_uid: 0, last_valid_uid: 0 }, proc);
  return `running as ${entry.name} (UID ${entry.uid}, GID ${gid})`;
}

// ---- serving ----

/** How long transactions in flight may take to finish after SIGTERM (the systemd unit's TimeoutStopSec leaves room for it). */
export const STOP_GRACE_MS = 30_000;

export interface LmtpServerOptions {
  listeners: readonly BoundListener[];
  /** live connections at once; more wait */
  maxClients: number;
  /** what maxClients came from, for the log */
  maxClientsOrigin?: string;
  log: ServerLog;
  serve: ServeConnection;
}

interface LiveConnection {
  socket: Socket;
  connection: LmtpConnection;
}

/** Dovecot's wording for a client whose address is not IP (a UNIX socket). */
const remoteId = (socket: Socket) => socket.remoteAddress || 'local';

export class LmtpServer {
  private readonly listeners: readonly BoundListener[];
  private readonly maxClients: number;
  private readonly log: ServerLog;
  private readonly serveConnection: ServeConnection;
  private readonly limitOrigin: string;
  private current: { backend: LmtpBackend; limits: ConnectionLimits } | undefined;
  private readonly live = new Set<LiveConnection>();
  /** accepted, not yet served: before serve(), or while maxClients are live */
  private readonly waiting: Socket[] = [];
  private saturated = false;
  private stopping: Promise<void> | undefined;
  private allClosed: (() => void) | undefined;

  constructor(options: LmtpServerOptions) {
    this.listeners = options.listeners;
    this.maxClients = Math.max(1, options.maxClients);
    this.limitOrigin = options.maxClientsOrigin ?? `${this.maxClients}`;
    this.log = unfailingLog(options.log);
    this.serveConnection = options.serve;
    for (const listener of this.listeners) {
      listener.server.removeAllListeners('connection');
      listener.server.on('connection', (socket) => this.accepted(socket));
      for (const socket of listener.early.splice(0)) if (!socket.destroyed) this.accepted(socket);
      // accept() failing (EMFILE, ...) must not end the server; the client is not lost, it retries
      listener.server.on('error', (error) => this.log.write('Error', `${listener.description}: ${reasonOf(error)}`));
    }
  }

  /** The listeners' names, for the log. */
  get descriptions(): string[] {
    return this.listeners.map((listener) => listener.description);
  }

  /** Connections being served now. */
  get connectionCount(): number {
    return this.live.size;
  }

  /** Starts serving, or (again, on reload) switches what new connections get. */
  serve(backend: LmtpBackend, limits: ConnectionLimits): void {
    this.current = { backend, limits };
    this.admitWaiting();
  }

  private accepted(socket: Socket): void {
    socket.on('error', () => {}); // a client resetting the connection is no server error
    if (this.stopping !== undefined) {
      this.refuse(socket, 'Shutting down');
      return;
    }
    if (this.current !== undefined && this.live.size < this.maxClients && this.waiting.length === 0) {
      this.start(socket);
      return;
    }
    if (this.waiting.length >= this.maxClients) {
      this.refuse(socket, 'Too many connections, try again later');
      return;
    }
    if (this.current !== undefined && !this.saturated) {
      this.saturated = true;
      this.log.write('Warning', `service(lmtp): client limit ${this.limitOrigin} reached, new connections wait`);
    }
    this.waiting.push(socket);
    socket.once('close', () => {
      const index = this.waiting.indexOf(socket);
      if (index >= 0) this.waiting.splice(index, 1);
    });
  }

  /** 421 to a client we will not serve (not yet greeted), then close. */
  private refuse(socket: Socket, text: string): void {
    const hostname = this.current?.backend.hostname;
    socket.end(`421 4.3.2 ${hostname === undefined ? '' : `${hostname} `}${text}\r\n`);
    socket.setTimeout(10_000, () => socket.destroy());
  }

  private admitWaiting(): void {
    while (this.current !== undefined && this.stopping === undefined && this.live.size < this.maxClients && this.waiting.length > 0) {
      const socket = this.waiting.shift()!;
      if (!socket.destroyed) this.start(socket);
    }
    if (this.waiting.length === 0 && this.live.size < this.maxClients) this.saturated = false;
  }

  private start(socket: Socket): void {
    const { backend, limits } = this.current!;
    const remote = remoteId(socket);
    this.log.write('Info', `Connect from ${remote}`);
    let connection: LmtpConnection;
    try {
      connection = this.serveConnection(socket, backend, limits, { log: (level, text) => this.log.write(level, text) });
    } catch (error) {
      this.log.write('Error', `Disconnect from ${remote}: Internal error: ${reasonOf(error)}`);
      socket.destroy();
      return;
    }
    const entry: LiveConnection = { socket, connection };
    this.live.add(entry);
    const ended = () => this.ended(entry);
    connection.closed.then(ended, (error: unknown) => {
      this.log.write('Error', `Disconnect from ${remote}: Internal error: ${reasonOf(error)}`);
      socket.destroy();
      ended();
    });
  }

  private ended(entry: LiveConnection): void {
    if (!this.live.delete(entry)) return;
    if (this.stopping !== undefined) {
      if (this.live.size === 0) this.allClosed?.();
      return;
    }
    this.admitWaiting();
  }

  /**
   * Stops accepting, turns away waiting clients and asks every connection to
   * shut down; resolves once all have closed, or after `graceMs` when the
   * rest are closed by force. Calling it again returns the same promise.
   */
  stop(graceMs: number): Promise<void> {
    this.stopping ??= this.stopNow(graceMs);
    return this.stopping;
  }

  private async stopNow(graceMs: number): Promise<void> {
    for (const listener of this.listeners) listener.server.close();
    for (const socket of this.waiting.splice(0)) this.refuse(socket, 'Shutting down');
    if (this.live.size === 0) return;
    const closed = new Promise<void>((resolve) => (this.allClosed = resolve));
    for (const { connection } of this.live) connection.shutdown();
    const timer = setTimeout(() => {
      this.log.write('Warning', `Still ${this.live.size} connection(s) after ${Math.round(graceMs / 1000)} s: closing them`);
      this.destroyConnections();
    }, graceMs);
    await closed;
    clearTimeout(timer);
  }

  /** Closes every live connection now; a transaction in flight gets no reply, so its client retries. */
  destroyConnections(): void {
    for (const entry of [...this.live]) {
      entry.socket.destroy();
      this.ended(entry);
    }
  }
}
