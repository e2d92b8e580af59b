// A private Postfix instance for end-to-end tests, and an SMTP client to feed
// it. The instance has its own config, queue and data directories under one
// temp directory, listens only on 127.0.0.1:<free port>, runs no chroot, and
// sends nothing out (default and relay transports are error:). It never reads
// or writes /etc/postfix's main.cf, the system queue or /var/mail.
// startPostfix rejects, with the instance's log, when Postfix does not come up;
// sendMail rejects on any SMTP reply that is not the expected one;
// openSmtpSession hands back every reply, whatever its code, for tests that
// expect refusals; waitFor rejects, naming what it waited for, when its probe
// (synchronous or not) stays undefined.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, chownSync, chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const POSTFIX = '/usr/sbin/postfix';
const POSTQUEUE = '/usr/sbin/postqueue';
const POSTSUPER = '/usr/sbin/postsuper';

/** Why a private Postfix cannot run here, or undefined when it can. */
export const postfixUnavailable: string | undefined = !existsSync(POSTFIX)
  ? `${POSTFIX} is missing (.ci/run installs Debian's postfix)`
  : spawnSync('id', ['-u', 'postfix']).status !== 0
    ? 'the postfix user does not exist'
    : undefined;

/** Output of a command that must succeed; throws with its stderr otherwise. */
export function run(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 20_000 });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} → ${result.status ?? result.signal}: ${result.stderr}`);
  return result.stdout;
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Calls probe every 100 ms until it returns (or resolves to) something other than undefined. */
export async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

export interface PostfixOptions {
  /** an existing root-owned directory to hold etc/, queue/, data/ and maillog */
  dir: string;
  /** main.cf lines added after the instance's own */
  main: string[];
  /** master.cf lines added after the instance's own services */
  master: string[];
}

/** One message in the queue, as `postqueue -j` reports it. */
export interface QueuedMessage {
  queue_name: string;
  queue_id: string;
  sender: string;
  recipients: { address: string; delay_reason?: string }[];
}

export interface PostfixInstance {
  port: number;
  configDir: string;
  /** the instance's whole log so far (maillog_file) */
  log(): string;
  /** the log lines that name a queue id */
  logFor(queueId: string): string[];
  /** the delivery attempts (lines with status=) the log records for one recipient of a queued message, oldest first */
  deliveries(queueId: string, recipient: string): string[];
  /** everything in the queue */
  queue(): QueuedMessage[];
  /** postqueue -f: deliver deferred mail now */
  flush(): void;
  /** postsuper -d ALL: forget every queued message */
  emptyQueue(): void;
  /** postfix stop, then wait until the master process has gone */
  stop(): Promise<void>;
}

/** main.cf of an instance that accepts mail on 127.0.0.1 only and never relays. */
function mainLines(dir: string): string[] {
  return [
    'compatibility_level = 3.6',
    `queue_directory = ${join(dir, 'queue')}`,
    `data_directory = ${join(dir, 'data')}`,
    'mail_owner = postfix',
    'setgid_group = postdrop',
    `maillog_file = ${join(dir, 'maillog')}`,
    `maillog_file_prefixes = ${dir}`,
    'inet_interfaces = loopback-only',
    'inet_protocols = ipv4',
    'mynetworks = 127.0.0.0/8',
    'myhostname = mx.dovetail.test',
    'mydomain = dovetail.test',
    'relayhost =',
    'relay_domains =',
    'default_transport = error:this test instance sends no mail out',
    'relay_transport = error:this test instance sends no mail out',
    'alias_maps =',
    'alias_database =',
    'biff = no',
  ];
}

const NO_CHROOT_SERVICES = [
  'pickup    unix  n - n 60 1 pickup',
  'cleanup   unix  n - n - 0 cleanup',
  'qmgr      unix  n - n 300 1 qmgr',
  'rewrite   unix  - - n - - trivial-rewrite',
  'bounce    unix  - - n - 0 bounce',
  'defer     unix  - - n - 0 bounce',
  'trace     unix  - - n - 0 bounce',
  'verify    unix  - - n - 1 verify',
  'flush     unix  n - n 1000? 0 flush',
  'proxymap  unix  - - n - - proxymap',
  'showq     unix  n - n - - showq',
  'error     unix  - - n - - error',
  'retry     unix  - - n - - error',
  'discard   unix  - - n - - discard',
  'local     unix  - n n - - local',
  'anvil     unix  - - n - 1 anvil',
  'scache    unix  - - n - 1 scache',
  'postlog   unix-dgram n - n - 1 postlogd',
];

/** Writes the instance's files and starts it; resolves once smtpd answers. */
export async function startPostfix(options: PostfixOptions): Promise<PostfixInstance> {
  const { dir } = options;
  const configDir = join(dir, 'etc');
  const dataDir = join(dir, 'data');
  mkdirSync(configDir, { mode: 0o755 });
  mkdirSync(join(dir, 'queue'), { mode: 0o755 });
  mkdirSync(dataDir, { mode: 0o700 });
  chownSync(dataDir, Number(run('id', ['-u', 'postfix'])), Number(run('id', ['-g', 'postfix'])));
  const port = await freePort();
  writeFileSync(join(configDir, 'main.cf'), [...mainLines(dir), ...options.main, ''].join('\n'), { mode: 0o644 });
  const smtpd = `127.0.0.1:${port} inet n - n - - smtpd`;
  writeFileSync(join(configDir, 'master.cf'), [smtpd, ...NO_CHROOT_SERVICES, ...options.master, ''].join('\n'), { mode: 0o644 });
  const maillog = join(dir, 'maillog');
  const log = () => (existsSync(maillog) ? readFileSync(maillog, 'utf8') : '');
  const start = spawnSync(POSTFIX, ['-c', configDir, 'start'], { encoding: 'utf8', timeout: 30_000 });
  if (start.status !== 0) throw new Error(`postfix start failed (${start.status}): ${start.stderr}\n${log()}`);
  await waitFor(`smtpd on 127.0.0.1:${port}`, () => (log().includes('daemon started') ? true : undefined));
  const pidFile = join(dir, 'queue', 'pid', 'master.pid');
  const logFor = (queueId: string) => log().split('\n').filter((line) => line.includes(` ${queueId}: `));
  return {
    port,
    configDir,
    log,
    logFor,
    deliveries: (queueId, recipient) => logFor(queueId).filter((line) => line.includes(`to=<${recipient}>`) && / status=\w+/.test(line)),
    queue: () =>
      run(POSTQUEUE, ['-c', configDir, '-j'])
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as QueuedMessage),
    flush: () => void run(POSTQUEUE, ['-c', configDir, '-f']),
    emptyQueue: () => void spawnSync(POSTSUPER, ['-c', configDir, '-d', 'ALL'], { encoding: 'utf8' }),
    async stop() {
      const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : undefined;
      spawnSync(POSTFIX, ['-c', configDir, 'stop'], { encoding: 'utf8', timeout: 30_000 });
      if (pid) await waitFor('the Postfix master to exit', () => (isRunning(pid) ? undefined : true));
    },
  };
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A directory DIR (mode MODE) owned by uid:gid, created if missing. */
export function ownedDir(path: string, uid: number, gid: number, mode: number): string {
  mkdirSync(path, { recursive: true });
  chownSync(path, uid, gid);
  chmodSync(path, mode);
  return path;
}

export interface Envelope {
  from: string;
  to: string[];
  /** the message, with \n line ends; sent with CRLF and dot-stuffed */
  data: string;
}

/** Reads SMTP replies off a socket, one whole (possibly multi-line) reply at a time. */
class ReplyReader {
  private buffered = '';
  private waiting: ((reply: string) => void) | undefined;
  private waitingReject: ((error: Error) => void) | undefined;
  private failure: Error | undefined;

  constructor(socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffered += chunk;
      this.deliver();
    });
    socket.on('error', (error: Error) => this.fail(error));
    socket.on('close', () => this.fail(new Error(`connection closed; unread: ${JSON.stringify(this.buffered)}`)));
  }

  next(): Promise<string> {
    return new Promise((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      this.waiting = resolve;
      this.waitingReject = reject;
      this.deliver();
    });
  }

  private deliver(): void {
    const end = /^\d{3} .*\r\n/m.exec(this.buffered);
    if (!end || !this.waiting) return;
    const reply = this.buffered.slice(0, end.index + end[0].length);
    this.buffered = this.buffered.slice(reply.length);
    const resolve = this.waiting;
    this.waiting = this.waitingReject = undefined;
    resolve(reply.trimEnd());
  }

  private fail(error: Error): void {
    this.failure ??= error;
    this.waitingReject?.(error);
    this.waiting = this.waitingReject = undefined;
  }
}

/** One SMTP client session on 127.0.0.1; each call resolves with the server's whole reply, whatever its code. */
export interface SmtpSession {
  /** the server's greeting */
  readonly greeting: string;
  /** sends LINE, CRLF appended */
  command(line: string): Promise<string>;
  /** sends a message after a 354: CRLF line ends, dot-stuffed, ended by "." */
  data(message: string): Promise<string>;
  close(): void;
}

/** Connects and waits for the greeting; rejects when the connection fails or closes first. */
export async function openSmtpSession(port: number): Promise<SmtpSession> {
  const socket = createConnection({ host: '127.0.0.1', port });
  const replies = new ReplyReader(socket);
  const command = (line: string) => {
    socket.write(`${line}\r\n`);
    return replies.next();
  };
  try {
    const greeting = await replies.next();
    return {
      greeting,
      command,
      data(message) {
        const body = message.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..');
        return command(`${body.endsWith('\r\n') ? body : `${body}\r\n`}.`);
      },
      close: () => void socket.destroy(),
    };
  } catch (error) {
    socket.destroy();
    throw error;
  }
}

/** Sends one message over SMTP; resolves with the queue id from the reply to DATA. */
export async function sendMail(port: number, envelope: Envelope): Promise<string> {
  const session = await openSmtpSession(port);
  const expect = (code: string, sent: string, reply: string) => {
    if (!reply.startsWith(code)) throw new Error(`SMTP: after ${sent} expected ${code}, got ${reply}`);
    return reply;
  };
  const command = async (line: string, code: string) => expect(code, line, await session.command(line));
  try {
    expect('220', 'connect', session.greeting);
    await command('EHLO client.dovetail.test', '250');
    await command(`MAIL FROM:<${envelope.from}>`, '250');
    for (const to of envelope.to) await command(`RCPT TO:<${to}>`, '250');
    await command('DATA', '354');
    const queued = expect('250', 'the message', await session.data(envelope.data));
    const id = /queued as ([0-9A-Za-z]+)/.exec(queued);
    if (!id) throw new Error(`SMTP: no queue id in ${queued}`);
    await command('QUIT', '221');
    return id[1]!;
  } finally {
    session.close();
  }
}
