// The server without the protocol: real listeners (TCP on 127.0.0.1 and
// UNIX sockets in a temp dir) and a fake connection handler that speaks a
// tiny line protocol, so these tests see exactly what server.ts does —
// binding, stale and live sockets, the client limit, shutdown while idle and
// mid-transaction, reload — whatever connection.ts answers.
//
// The fake: greets "220 <backend hostname>"; "MAIL" opens a transaction
// ("250 mail"), "END" closes it ("250 end"), "WHO" answers the backend's
// hostname, "QUIT" says "221" and closes. shutdown(): 421 and close when
// idle, else after the next END.

import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { existsSync, lstatSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  LmtpServer,
  bindListeners,
  becomeServiceUser,
  listenBacklog,
  systemdListenFds,
  unfailingLog,
  type BoundListener,
  type ServeConnection,
} from '../../src/lmtp/server.js';
import type { ConnectionLimits, LmtpBackend, LmtpConnection } from '../../src/lmtp/types.js';
import type { ListenerSpec } from '../../src/lmtp/listeners.js';
import type { ProcessIdentity } from '../../src/deliver/privileges.js';
import { DeliveryFailure } from '../../src/deliver/failure.js';
import type { LogLevel } from '../../src/log/log.js';

const LIMITS: ConnectionLimits = { maxRecipients: 10, maxMessageSize: 0, idleTimeoutMs: 60_000, maxCommandLength: 4101 };

function fakeBackend(hostname: string): LmtpBackend {
  return {
    hostname,
    greeting: 'ready',
    checkRecipient: async () => ({ reply: { code: 250, enhanced: '2.1.5', text: 'OK' } }),
    deliver: async () => [],
    release: () => {},
  };
}

/** What the fake connections saw: shutdown() calls, by backend. */
interface FakeEvents {
  shutdowns: number;
  onShutdown?: () => void;
}

function fakeServe(events: FakeEvents): ServeConnection {
  return (socket, backend) => {
    let inTransaction = false;
    let shuttingDown = false;
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    const bye = () => socket.end('421 4.3.2 bye\r\n');
    socket.write(`220 ${backend.hostname}\r\n`);
    let buffer = '';
    socket.on('data', (chunk) => {
      buffer += chunk.toString('latin1');
      for (let end = buffer.indexOf('\r\n'); end >= 0; end = buffer.indexOf('\r\n')) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (line === 'MAIL') {
          inTransaction = true;
          socket.write('250 mail\r\n');
        } else if (line === 'END') {
          inTransaction = false;
          socket.write('250 end\r\n');
          if (shuttingDown) bye();
        } else if (line === 'WHO') socket.write(`250 ${backend.hostname}\r\n`);
        else if (line === 'QUIT') socket.end('221 bye\r\n');
      }
    });
    const connection: LmtpConnection = {
      closed,
      get inTransaction() {
        return inTransaction;
      },
      shutdown() {
        events.shutdowns++;
        shuttingDown = true;
        if (!inTransaction) bye();
        events.onShutdown?.();
      },
    };
    return connection;
  };
}

/** A log that keeps its lines and lets a test wait for one. */
function memoryLog() {
  const lines: string[] = [];
  const waiters: { match: RegExp; resolve: () => void }[] = [];
  return {
    lines,
    write(level: LogLevel, text: string) {
      const line = `${level}: ${text}`;
      lines.push(line);
      for (const waiter of waiters.filter((candidate) => candidate.match.test(line))) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    },
    waitFor(match: RegExp): Promise<void> {
      if (lines.some((line) => match.test(line))) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ match, resolve }));
    },
  };
}

/** A client reading CRLF lines. */
class Client {
  private buffer = '';
  private waiting: (() => void) | undefined;
  closed = false;
  readonly socket: Socket;

  constructor(target: { port: number } | { path: string }) {
    this.socket = 'port' in target ? connect(target.port, '127.0.0.1') : connect(target.path);
    this.socket.on('data', (chunk) => {
      this.buffer += chunk.toString('latin1');
      this.waiting?.();
    });
    this.socket.on('error', () => {});
    this.socket.on('close', () => {
      this.closed = true;
      this.waiting?.();
    });
  }

  /** The next line, or "<closed>" once the server closed and nothing is left. */
  async line(): Promise<string> {
    for (;;) {
      const end = this.buffer.indexOf('\r\n');
      if (end >= 0) {
        const line = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 2);
        return line;
      }
      if (this.closed) return '<closed>';
      await new Promise<void>((resolve) => (this.waiting = resolve));
      this.waiting = undefined;
    }
  }

  /** Whatever arrived and is not read yet. */
  get unread(): string {
    return this.buffer;
  }

  send(line: string): void {
    this.socket.write(`${line}\r\n`);
  }

  async ask(line: string): Promise<string> {
    this.send(line);
    return this.line();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** A free-at-the-moment TCP port, and the way to learn a bound listener's port. */
function portOf(listener: BoundListener): number {
  const address = listener.server.address();
  if (typeof address !== 'object' || address === null) throw new Error('not a TCP listener');
  return address.port;
}

const failureOf = async (promise: Promise<unknown>): Promise<DeliveryFailure> => {
  try {
    await promise;
  } catch (error) {
    if (error instanceof DeliveryFailure) return error;
    throw error;
  }
  throw new Error('expected a DeliveryFailure');
};

const isRoot = process.geteuid?.() === 0;

let dir: string;
const cleanups: (() => unknown)[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'dovetail-lmtp-server-'));
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

const unixSpec = (name: string, mode = 0o600, user = '', group = ''): ListenerSpec => ({ kind: 'unix', path: join(dir, name), mode, user, group });
const inetSpec = (port = 0): ListenerSpec => ({ kind: 'inet', name: 'lmtp', address: '127.0.0.1', port });

async function bound(specs: ListenerSpec[]): Promise<BoundListener[]> {
  const listeners = await bindListeners(specs, listenBacklog(10));
  cleanups.push(() => Promise.all(listeners.map((listener) => new Promise((resolve) => listener.server.close(resolve)))));
  return listeners;
}

function startServer(listeners: BoundListener[], maxClients = 10) {
  const log = memoryLog();
  const events: FakeEvents = { shutdowns: 0 };
  const server = new LmtpServer({ listeners, maxClients, maxClientsOrigin: `process_limit (${maxClients}) × client_limit (1)`, log, serve: fakeServe(events) });
  cleanups.push(() => server.stop(0));
  return { server, log, events };
}

function client(target: { port: number } | { path: string }): Client {
  const made = new Client(target);
  cleanups.push(() => made.destroy());
  return made;
}

/** A UNIX socket file that nothing listens on, as a server killed with SIGKILL leaves it. */
function staleSocket(path: string): void {
  const made = spawnSync('python3', ['-c', 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', path]);
  if (made.status !== 0) throw new Error(`python3 could not make ${path}: ${made.stderr}`);
}

function liveServer(path: string): Promise<Server> {
  return new Promise((resolve) => {
    const server = createServer((socket) => socket.on('error', () => {}).end('live\r\n'));
    server.listen(path, () => resolve(server));
    cleanups.push(() => new Promise((done) => server.close(done)));
  });
}

describe('binding', () => {
  it('listens on TCP and on a UNIX socket with the configured mode, and serves both', async () => {
    const listeners = await bound([unixSpec('lmtp', 0o660), inetSpec()]);
    expect(listeners.map((listener) => listener.description)).toEqual([`unix:${join(dir, 'lmtp')}`, `inet:127.0.0.1:${portOf(listeners[1])}`]);
    expect(lstatSync(join(dir, 'lmtp')).isSocket()).toBe(true);
    expect(lstatSync(join(dir, 'lmtp')).mode & 0o7777).toBe(0o660);
    const { server, log } = startServer(listeners);
    server.serve(fakeBackend('one.test'), LIMITS);
    expect(await client({ path: join(dir, 'lmtp') }).line()).toBe('220 one.test');
    expect(await client({ port: portOf(listeners[1]) }).line()).toBe('220 one.test');
    expect(log.lines).toEqual(['Info: Connect from local', 'Info: Connect from 127.0.0.1']);
  });

  it.runIf(isRoot)('gives a UNIX socket the configured owner and group (user alone: its primary group)', async () => {
    await bound([unixSpec('a', 0o600, 'nobody', 'root'), unixSpec('b', 0o600, 'nobody'), unixSpec('c', 0o600, '', 'nogroup')]);
    const owner = (name: string) => {
      const stat = lstatSync(join(dir, name));
      return [stat.uid, stat.gid];
    };
    expect([owner('a'), owner('b'), owner('c')]).toEqual([
      [65534, 0],
      [65534, 65534],
      [0, 65534],
    ]);
  });

  it('refuses an unknown socket owner', async () => {
    const failure = await failureOf(bindListeners([unixSpec('lmtp', 0o600, 'no-such-user-here')], 4));
    expect(failure.message).toBe(`service(lmtp): User doesn't exist: no-such-user-here (See service lmtp { unix_listener ${join(dir, 'lmtp')} { user } } setting)`);
  });

  it('removes a stale socket file and binds in its place', async () => {
    const path = join(dir, 'lmtp');
    staleSocket(path);
    const listeners = await bound([unixSpec('lmtp')]);
    const { server } = startServer(listeners);
    server.serve(fakeBackend('fresh.test'), LIMITS);
    expect(await client({ path }).line()).toBe('220 fresh.test');
  });

  it('refuses a socket another server listens on, and leaves it alone', async () => {
    const path = join(dir, 'lmtp');
    await liveServer(path);
    const failure = await failureOf(bindListeners([unixSpec('lmtp')], 4));
    expect(failure.kind).toBe('temporary');
    expect(failure.message).toBe(`service(lmtp): Can't listen on unix:${path}: Socket already exists: ${path} (another server is listening on it)`);
    expect(await client({ path }).line()).toBe('live');
  });

  it('refuses a path that is not a socket, and leaves the file alone', async () => {
    const path = join(dir, 'lmtp');
    writeFileSync(path, 'precious');
    const failure = await failureOf(bindListeners([unixSpec('lmtp')], 4));
    expect(failure.message).toBe(`service(lmtp): Can't listen on unix:${path}: ${path} exists and is not a socket`);
    expect(readFileSync(path, 'utf8')).toBe('precious');
  });

  it('refuses a socket in a directory that does not exist', async () => {
    const failure = await failureOf(bindListeners([unixSpec('missing/lmtp')], 4));
    expect(failure.message).toBe(`service(lmtp): Can't listen on unix:${join(dir, 'missing/lmtp')}: directory ${join(dir, 'missing')} does not exist`);
  });

  it('fails on a port in use and closes the listeners it had bound (their socket files go)', async () => {
    const [taken] = await bound([inetSpec()]);
    const port = portOf(taken);
    const failure = await failureOf(bindListeners([unixSpec('first'), inetSpec(port)], 4));
    expect(failure.message).toMatch(new RegExp(`^service\\(lmtp\\): listen\\(127\\.0\\.0\\.1, ${port}\\) failed: .*EADDRINUSE`));
    expect(existsSync(join(dir, 'first'))).toBe(false);
  });

  it.each<[string, Record<string, string>, number, number[] | undefined]>([
    ['our pid, two fds', { LISTEN_PID: '42', LISTEN_FDS: '2' }, 42, [3, 4]],
    ["another process's", { LISTEN_PID: '41', LISTEN_FDS: '2' }, 42, undefined],
    ['no LISTEN_PID', { LISTEN_FDS: '1' }, 42, undefined],
    ['zero fds', { LISTEN_PID: '42', LISTEN_FDS: '0' }, 42, undefined],
    ['garbage', { LISTEN_PID: '42', LISTEN_FDS: 'x' }, 42, undefined],
  ])('systemd socket activation: %s', (_name, env, pid, fds) => {
    expect(systemdListenFds(env, pid)).toEqual(fds);
  });

  it.each([
    [1, 4],
    [100, 100],
    [100_000, 511],
  ])('listen backlog for %i clients is %i, as Dovecot computes it', (clients, backlog) => {
    expect(listenBacklog(clients)).toBe(backlog);
  });
});

describe('serving', () => {
  it.each([
    ['TCP', () => inetSpec()],
    ['UNIX', () => unixSpec('early')],
  ])('a %s client that connects and talks before the server exists (bound, not yet switched user) is served in order, nothing lost', async (_kind, spec) => {
    const listeners = await bound([spec()]);
    const address = listeners[0].server.address();
    const target = typeof address === 'string' ? { path: address } : { port: portOf(listeners[0]) };
    const first = client(target);
    const second = client(target);
    await new Promise<void>((resolve) => {
      const check = () => (listeners[0].early.length === 2 ? resolve() : setTimeout(check, 5));
      check();
    });
    first.send('NOOP');
    const { server } = startServer(listeners);
    server.serve(fakeBackend('early.test'), LIMITS);
    expect(await first.line()).toBe('220 early.test');
    expect(await second.line()).toBe('220 early.test');
    expect(listeners[0].early).toEqual([]);
  });

  it('holds connections that arrive before serve() and greets them once it is called', async () => {
    const listeners = await bound([inetSpec()]);
    const { server, log } = startServer(listeners);
    const early = client({ port: portOf(listeners[0]) });
    await new Promise<void>((resolve) => listeners[0].server.once('connection', () => setImmediate(resolve)));
    expect(early.unread).toBe('');
    server.serve(fakeBackend('late.test'), LIMITS);
    expect(await early.line()).toBe('220 late.test');
    expect(log.lines).toEqual(['Info: Connect from 127.0.0.1']);
  });

  it('beyond the client limit a connection waits for a free slot, and one more is refused with 421', async () => {
    const listeners = await bound([inetSpec()]);
    const port = portOf(listeners[0]);
    const { server, log } = startServer(listeners, 1);
    server.serve(fakeBackend('busy.test'), LIMITS);
    const first = client({ port });
    expect(await first.line()).toBe('220 busy.test');
    const second = client({ port });
    await log.waitFor(/client limit/);
    expect(log.lines).toContain('Warning: service(lmtp): client limit process_limit (1) × client_limit (1) reached, new connections wait');
    const third = client({ port });
    expect([await third.line(), await third.line()]).toEqual(['421 4.3.2 busy.test Too many connections, try again later', '<closed>']);
    expect(second.unread).toBe('');
    expect(await first.ask('QUIT')).toBe('221 bye');
    expect(await second.line()).toBe('220 busy.test');
    expect(server.connectionCount).toBe(1);
  });

  it('a waiting client that gives up leaves the queue', async () => {
    const listeners = await bound([inetSpec()]);
    const port = portOf(listeners[0]);
    const { server, log } = startServer(listeners, 1);
    server.serve(fakeBackend('q.test'), LIMITS);
    const first = client({ port });
    await first.line();
    const accepted = new Promise<Socket>((resolve) => listeners[0].server.once('connection', resolve));
    const quitter = client({ port });
    const serverSide = await accepted;
    await log.waitFor(/client limit/);
    const closedOnServer = new Promise((resolve) => serverSide.once('close', resolve));
    quitter.destroy();
    await closedOnServer;
    const next = client({ port });
    await new Promise<void>((resolve) => listeners[0].server.once('connection', () => setImmediate(resolve)));
    expect(await first.ask('QUIT')).toBe('221 bye');
    expect(await next.line()).toBe('220 q.test');
  });

  it('reload: new connections get the new backend, a session in progress keeps its own', async () => {
    const listeners = await bound([inetSpec()]);
    const port = portOf(listeners[0]);
    const { server } = startServer(listeners);
    server.serve(fakeBackend('old.test'), LIMITS);
    const before = client({ port });
    expect(await before.line()).toBe('220 old.test');
    expect(await before.ask('MAIL')).toBe('250 mail');
    server.serve(fakeBackend('new.test'), LIMITS);
    const after = client({ port });
    expect(await after.line()).toBe('220 new.test');
    expect(await before.ask('WHO')).toBe('250 old.test');
    expect(await before.ask('END')).toBe('250 end');
    expect(await after.ask('WHO')).toBe('250 new.test');
  });

  it("one connection's failure (a throwing handler, a rejected closed promise) is logged and the server goes on", async () => {
    const listeners = await bound([inetSpec()]);
    const port = portOf(listeners[0]);
    const log = memoryLog();
    const events: FakeEvents = { shutdowns: 0 };
    const real = fakeServe(events);
    let calls = 0;
    const serve: ServeConnection = (socket, backend, limits, options) => {
      calls++;
      if (calls === 1) throw new Error('boom');
      const connection = real(socket, backend, limits, options);
      if (calls === 2) return { ...connection, closed: connection.closed.then(() => Promise.reject(new Error('late boom'))), shutdown: () => connection.shutdown() };
      return connection;
    };
    const server = new LmtpServer({ listeners, maxClients: 10, log, serve });
    cleanups.push(() => server.stop(0));
    server.serve(fakeBackend('sturdy.test'), LIMITS);
    expect(await client({ port }).line()).toBe('<closed>');
    const second = client({ port });
    expect(await second.line()).toBe('220 sturdy.test');
    expect(await second.ask('QUIT')).toBe('221 bye');
    await log.waitFor(/late boom/);
    expect(await client({ port }).line()).toBe('220 sturdy.test');
    expect(log.lines.filter((line) => line.startsWith('Error'))).toEqual([
      'Error: Disconnect from 127.0.0.1: Internal error: boom',
      'Error: Disconnect from 127.0.0.1: Internal error: late boom',
    ]);
  });
});

describe('stopping', () => {
  it('while idle: listeners close (the socket file goes), each connection says 421 and stop() settles', async () => {
    const listeners = await bound([unixSpec('lmtp'), inetSpec()]);
    const port = portOf(listeners[1]);
    const { server, events } = startServer(listeners);
    server.serve(fakeBackend('idle.test'), LIMITS);
    const idle = client({ port });
    expect(await idle.line()).toBe('220 idle.test');
    await server.stop(60_000);
    expect(events.shutdowns).toBe(1);
    expect([await idle.line(), await idle.line()]).toEqual(['421 4.3.2 bye', '<closed>']);
    expect(existsSync(join(dir, 'lmtp'))).toBe(false);
    const refused = await new Promise<string>((resolve) => connect(port, '127.0.0.1').on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? '')).on('connect', () => resolve('connected')));
    expect(refused).toBe('ECONNREFUSED');
  });

  it('mid-transaction: the transaction finishes with its reply, then 421; stop() settles only then', async () => {
    const listeners = await bound([inetSpec()]);
    const port = portOf(listeners[0]);
    const { server, events } = startServer(listeners);
    server.serve(fakeBackend('busy.test'), LIMITS);
    const busy = client({ port });
    await busy.line();
    expect(await busy.ask('MAIL')).toBe('250 mail');
    let stopped = false;
    const stopping = server.stop(60_000).then(() => (stopped = true));
    expect(events.shutdowns).toBe(1);
    expect(await busy.ask('WHO')).toBe('250 busy.test');
    expect(stopped).toBe(false);
    expect([await busy.ask('END'), await busy.line(), await busy.line()]).toEqual(['250 end', '421 4.3.2 bye', '<closed>']);
    await stopping;
    expect(stopped).toBe(true);
  });

  it('clients still waiting for a slot get 421 Shutting down', async () => {
    const listeners = await bound([inetSpec()]);
    const port = portOf(listeners[0]);
    const { server, log } = startServer(listeners, 1);
    server.serve(fakeBackend('full.test'), LIMITS);
    const first = client({ port });
    await first.line();
    const waiting = client({ port });
    await log.waitFor(/client limit/);
    await server.stop(60_000);
    expect([await waiting.line(), await waiting.line()]).toEqual(['421 4.3.2 full.test Shutting down', '<closed>']);
  });

  it('after the grace period, connections still busy are closed without a reply', async () => {
    const listeners = await bound([inetSpec()]);
    const { server, log } = startServer(listeners);
    server.serve(fakeBackend('slow.test'), LIMITS);
    const busy = client({ port: portOf(listeners[0]) });
    await busy.line();
    await busy.ask('MAIL');
    await server.stop(50);
    expect(await busy.line()).toBe('<closed>');
    expect(log.lines).toContain('Warning: Still 1 connection(s) after 0 s: closing them');
  });

  it('destroyConnections() (a second SIGTERM) ends the wait at once', async () => {
    const listeners = await bound([inetSpec()]);
    const { server, events } = startServer(listeners);
    server.serve(fakeBackend('slow.test'), LIMITS);
    const busy = client({ port: portOf(listeners[0]) });
    await busy.line();
    await busy.ask('MAIL');
    const stopping = server.stop(60_000);
    expect(events.shutdowns).toBe(1);
    server.destroyConnections();
    await stopping;
    expect(await busy.line()).toBe('<closed>');
    expect(server.connectionCount).toBe(0);
  });

  it('stop() twice is one stop', async () => {
    const listeners = await bound([inetSpec()]);
    const { server } = startServer(listeners);
    server.serve(fakeBackend('x.test'), LIMITS);
    expect(server.stop(10)).toBe(server.stop(10));
  });
});

describe('the log', () => {
  it('a log that fails never makes the server fail: the line goes to stderr', () => {
    const written: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((text: string) => written.push(text) > 0) as typeof process.stderr.write;
    try {
      unfailingLog({
        write() {
          throw new Error('ENOSPC: no space left on device');
        },
      }).write('Info', 'Connect from local');
    } finally {
      process.stderr.write = write;
    }
    expect(written).toEqual(['Info: Connect from local (log failed: ENOSPC: no space left on device)\n']);
  });
});

describe('the service user', () => {
  function fakeProcess(euid: number, egid = euid) {
    const calls: string[] = [];
    let uid = euid;
    let gid = egid;
    const proc: ProcessIdentity = {
      geteuid: () => uid,
      getgid: () => gid,
      getegid: () => gid,
      setgroups: (groups) => calls.push(`setgroups ${groups.join(',')}`),
      initgroups: (user, group) => calls.push(`initgroups ${user} ${group}`),
      setgid: (next) => {
        calls.push(`setgid ${next}`);
        gid = next;
      },
      setegid: (next) => calls.push(`setegid ${next}`),
      setresgid: (r, e, s) => calls.push(`setresgid ${r} ${e} ${s}`),
      setuid: (next) => {
        calls.push(`setuid ${next}`);
        uid = next;
      },
    };
    return { proc, calls };
  }

  it.each<[string, { user: string; group: string }, number, string[], string | undefined]>([
    ['no user: stays as started', { user: '', group: '' }, 0, [], undefined],
    ['root: becomes the user, groups first', { user: 'nobody', group: '' }, 0, ['initgroups nobody 65534', 'setgid 65534', 'setuid 65534'], 'running as nobody (UID 65534, GID 65534)'],
    ['group overrides the primary group', { user: 'nobody', group: 'mail' }, 0, ['initgroups nobody 8', 'setgid 8', 'setuid 65534'], 'running as nobody (UID 65534, GID 8)'],
    ['already the user (systemd User=)', { user: 'nobody', group: '' }, 65534, [], undefined],
    ['user = root: stays root', { user: 'root', group: '' }, 0, [], undefined],
  ])('%s', async (_name, service, euid, calls, line) => {
    const fake = fakeProcess(euid);
    expect(await becomeServiceUser(service, fake.proc)).toBe(line);
    expect(fake.calls).toEqual(calls);
  });

  it.each<[string, { user: string; group: string }, number, string]>([
    ['an unknown user', { user: 'no-such-user-here', group: '' }, 0, "service(lmtp): User doesn't exist: no-such-user-here (See service lmtp { user } setting)"],
    ['an unknown group', { user: 'nobody', group: 'no-such-group-here' }, 0, "service(lmtp): Group doesn't exist: no-such-group-here (See service lmtp { group } setting)"],
    ['the root group, as for a delivery', { user: 'nobody', group: 'root' }, 0, 'Mail access not allowed with GID 0'],
    ['not root and not the user', { user: 'nobody', group: '' }, 1000, 'service(lmtp): running as UID 1000, not root: cannot become nobody (UID 65534) as service lmtp { user } asks'],
  ])('refuses %s', async (_name, service, euid, message) => {
    const fake = fakeProcess(euid);
    const failure = await failureOf(becomeServiceUser(service, fake.proc));
    expect(failure.kind).toBe('temporary');
    expect(failure.message).toBe(message);
    expect(fake.calls).toEqual([]);
  });
});
