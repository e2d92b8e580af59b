// `bin/dovetail lmtp -c CONF` as a service manager runs it: started as root,
// it binds an inet listener on 127.0.0.1 and UNIX sockets, becomes
// `service lmtp { user = vmail }` and delivers in-process; or, without
// `user =`, stays root and delivers each recipient in a worker that becomes
// the user. Signals: SIGHUP reloads (a new session sees the new config, one
// in progress keeps the old), SIGTERM mid-DATA lets the transaction finish
// and exits 0. Also systemd socket activation, a socket already in use
// (exit 75) and a bad command line (exit 64). The server logs to its stderr
// (log_path = /dev/stderr), which the tests read to know when it is ready.

import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { DOVETAIL, e2eUnavailable, listMaildir, mailGid, mailUid, makeSandbox, runDovetail, type Sandbox } from './harness.js';
import { lmtpConversation } from '../helpers/lmtp-client.js';
import { freePort } from '../helpers/private-server.js';

const OTHER_UID = 5001;
const MESSAGE = ['From: a@example.org', 'Subject: hello', '', 'body line'];

/** The server as a child process, its stderr (= its log) collected. */
interface RunningServer {
  child: ChildProcess;
  output(): string;
  /** settles with the first log line matching `pattern`; rejects if the server exits first */
  waitForLog(pattern: RegExp): Promise<string>;
  exited: Promise<{ status: number | null; signal: NodeJS.Signals | null }>;
}

function startServer(command: string, args: string[], extra: { stdio?: (number | 'pipe' | 'ignore')[]; env?: Record<string, string> } = {}): RunningServer {
  const child = spawn(command, args, { stdio: extra.stdio ?? ['ignore', 'ignore', 'pipe'], env: { PATH: '/usr/bin:/bin', ...extra.env } });
  let output = '';
  const watchers: (() => void)[] = [];
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
    for (const watcher of [...watchers]) watcher();
  });
  const exited = new Promise<{ status: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (status, signal) => {
      resolve({ status, signal });
      for (const watcher of [...watchers]) watcher();
    }),
  );
  return {
    child,
    output: () => output,
    exited,
    waitForLog(pattern) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const line = output.split('\n').find((candidate) => pattern.test(candidate));
          if (line !== undefined) {
            watchers.splice(watchers.indexOf(check), 1);
            resolve(line);
          } else if (child.exitCode !== null || child.signalCode !== null) {
            watchers.splice(watchers.indexOf(check), 1);
            reject(new Error(`the server exited before logging ${pattern}:\n${output}`));
          }
        };
        watchers.push(check);
        check();
      });
    },
  };
}

/** One whole LMTP session over a UNIX socket, pipelined; resolves with everything the server said once it closes. */
function unixSession(path: string, lines: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let received = '';
    socket.on('data', (chunk) => (received += chunk.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => resolve(received));
    socket.write(lines.map((line) => `${line}\r\n`).join(''));
  });
}

/** The pid in a log line's `lmtp(<pid>): ` prefix. */
const refusedPid = (stderr: string) => /^lmtp\((\d+)\)/.exec(stderr)?.[1];

const transaction = (rcpt: string, helo = 'client.test') => [`LHLO ${helo}`, 'MAIL FROM:<a@example.org>', `RCPT TO:<${rcpt}>`, 'DATA', ...MESSAGE, '.', 'QUIT'];

describe.skipIf(e2eUnavailable !== undefined)(`dovetail lmtp as a service${e2eUnavailable ? ` (skipped: ${e2eUnavailable})` : ''}`, () => {
  let box: Sandbox;
  let otherHome: string;
  let runDir: string;
  let config: string;
  let port: number;
  const servers: RunningServer[] = [];

  /** dovecot.conf for the tests: `serviceLines` go inside `service lmtp {}` (after the inet listener). */
  function writeConfig(serviceLines: string[], more: string[] = []): void {
    writeFileSync(
      config,
      [
        `base_dir = ${runDir}`,
        'hostname = old.test',
        'mail_location = maildir:~/Maildir',
        'log_path = /dev/stderr',
        'userdb {',
        '  driver = passwd-file',
        `  args = ${join(box.dir, 'users')}`,
        '}',
        'service lmtp {',
        '  inet_listener lmtp {',
        '    address = 127.0.0.1',
        `    port = ${port}`,
        '  }',
        ...serviceLines.map((line) => `  ${line}`),
        '}',
        ...more,
        '',
      ].join('\n'),
    );
  }

  function server(args: string[] = []): RunningServer {
    const running = startServer(DOVETAIL, ['lmtp', '-c', config, ...args]);
    servers.push(running);
    return running;
  }

  beforeEach(async () => {
    box = makeSandbox();
    otherHome = join(box.dir, 'other');
    mkdirSync(otherHome, { mode: 0o700 });
    chownSync(otherHome, OTHER_UID, OTHER_UID);
    runDir = join(box.dir, 'run');
    mkdirSync(runDir);
    box.file('users', `alice::${mailUid}:${mailGid}::${box.home}::\nbob::${OTHER_UID}:${OTHER_UID}::${otherHome}::\n`);
    config = join(box.dir, 'dovecot.conf');
    port = await freePort();
  });

  afterEach(async () => {
    for (const running of servers.splice(0)) {
      if (running.child.exitCode === null && running.child.signalCode === null) running.child.kill('SIGKILL');
      await running.exited;
    }
    box.cleanup();
  });

  const delivered = (home: string) => listMaildir(join(home, 'Maildir'), 'new').map((name) => join(home, 'Maildir', 'new', name));

  it('binds as root, runs as vmail, delivers in-process over TCP and a UNIX socket with its mode and owner', async () => {
    const privateSocket = join(box.dir, 'private-lmtp');
    writeConfig(['user = vmail', `unix_listener ${privateSocket} {`, '  mode = 0660', '  user = nobody', '  group = mail', '}']);
    const running = server();
    const started = await running.waitForLog(/starting up/);
    expect(started).toMatch(/^lmtp\(\d+\): Info: Dovetail lmtp starting up, running as vmail \(UID 5000, GID 5000\): listening on unix:.*\/run\/lmtp, unix:.*\/private-lmtp, inet:127\.0\.0\.1:\d+$/);
    expect(readFileSync(`/proc/${running.child.pid}/status`, 'utf8')).toMatch(new RegExp(`^Uid:\\t${mailUid}\\t${mailUid}\\t${mailUid}\\t${mailUid}$`, 'm'));

    const stat = statSync(privateSocket);
    expect([stat.mode & 0o7777, stat.uid, stat.gid]).toEqual([0o660, 65534, 8]);
    expect(statSync(join(runDir, 'lmtp')).mode & 0o7777).toBe(0o666);

    const transcript = await lmtpConversation({ host: '127.0.0.1', port }, [{ send: transaction('alice'), replies: 7 }]);
    expect(transcript.filter((line) => line.startsWith('S:'))).toEqual([
      'S: 220 old.test Dovecot ready.',
      'S: 250-old.test',
      'S: 250-8BITMIME',
      'S: 250-CHUNKING',
      'S: 250-ENHANCEDSTATUSCODES',
      'S: 250 PIPELINING',
      'S: 250 2.1.0 OK',
      'S: 250 2.1.5 OK',
      'S: 354 OK',
      expect.stringMatching(/^S: 250 2\.0\.0 <alice> \S+ Saved$/),
      'S: 221 2.0.0 Bye',
      'S: <closed>',
    ]);
    const overUnix = await unixSession(privateSocket, transaction('alice', 'unix.test'));
    expect(overUnix).toMatch(/\r\n250 2\.0\.0 <alice> \S+ Saved\r\n221 2\.0\.0 Bye\r\n$/);

    const files = delivered(box.home);
    expect(files).toHaveLength(2);
    for (const file of files) expect(statSync(file).uid).toBe(mailUid);
    const texts = files.map((file) => readFileSync(file, 'utf8')).sort();
    expect(texts.some((text) => text.includes('Received: from client.test ([127.0.0.1])'))).toBe(true);
    expect(texts.some((text) => text.includes('Received: from unix.test'))).toBe(true);
    expect(running.output()).toMatch(/Info: Connect from 127\.0\.0\.1\n/);
    expect(running.output()).toMatch(/Info: Connect from local\n/);
  });

  it('without user =, stays root and delivers to a user with another uid through a worker', async () => {
    writeConfig([]);
    const running = server();
    expect(await running.waitForLog(/starting up/)).toMatch(/starting up: listening on/);
    const transcript = await lmtpConversation({ host: '127.0.0.1', port }, [{ send: transaction('bob'), replies: 7 }]);
    expect(transcript).toContainEqual(expect.stringMatching(/^S: 250 2\.0\.0 <bob> \S+ Saved$/));
    const [file, ...more] = delivered(otherHome);
    expect(more).toEqual([]);
    expect(statSync(file).uid).toBe(OTHER_UID);
    expect(statSync(file).gid).toBe(OTHER_UID);
  });

  it('as vmail, refuses a user with another uid at RCPT (no worker can become them)', async () => {
    writeConfig(['user = vmail']);
    const running = server();
    await running.waitForLog(/starting up/);
    const transcript = await lmtpConversation({ host: '127.0.0.1', port }, [{ send: ['LHLO x', 'MAIL FROM:<>', 'RCPT TO:<bob>', 'QUIT'], replies: 4 }]);
    expect(transcript).toContainEqual(expect.stringMatching(/^S: 451 4\.3\.0 <bob> /));
    expect(delivered(otherHome)).toEqual([]);
  });

  it('SIGHUP: a new session sees the changed config, a session in progress keeps the old one', async () => {
    writeConfig(['user = vmail']);
    const running = server();
    await running.waitForLog(/starting up/);
    const before = connect(port, '127.0.0.1');
    let beforeText = '';
    before.on('data', (chunk) => (beforeText += chunk.toString('latin1')));
    const greeted = new Promise<void>((resolve) => before.once('data', () => resolve()));
    await greeted;
    expect(beforeText).toBe('220 old.test Dovecot ready.\r\n');

    writeConfig(['user = vmail'], ['hostname = new.test', 'login_greeting = Reloaded.']);
    running.child.kill('SIGHUP');
    await running.waitForLog(/Configuration reloaded/);
    expect(running.output()).toMatch(/Warning: SIGHUP received - reloading configuration\n/);

    const after = await lmtpConversation({ host: '127.0.0.1', port }, [{ send: transaction('alice'), replies: 7 }]);
    expect(after[0]).toBe('S: 220 new.test Reloaded.');
    const closed = new Promise<void>((resolve) => before.on('close', () => resolve()));
    before.write(transaction('alice', 'before.test').map((line) => `${line}\r\n`).join(''));
    await closed;
    expect(beforeText).toMatch(/250 2\.0\.0 <alice> \S+ Saved\r\n221 2\.0\.0 Bye\r\n$/);

    const texts = delivered(box.home).map((file) => readFileSync(file, 'utf8'));
    expect(texts.find((text) => text.includes('from before.test'))).toMatch(/\tby old\.test with LMTP/);
    expect(texts.find((text) => text.includes('from client.test'))).toMatch(/\tby new\.test with LMTP/);
  });

  it('SIGHUP with a broken config: logged, the old config stays', async () => {
    writeConfig(['user = vmail']);
    const running = server();
    await running.waitForLog(/starting up/);
    writeFileSync(config, 'service lmtp {\n');
    running.child.kill('SIGHUP');
    expect(await running.waitForLog(/Reloading the configuration failed/)).toMatch(/Error: Reloading the configuration failed, keeping the previous one: .*Missing '}'/);
    const transcript = await lmtpConversation({ host: '127.0.0.1', port }, [{ send: transaction('alice'), replies: 7 }]);
    expect(transcript[0]).toBe('S: 220 old.test Dovecot ready.');
    expect(transcript).toContainEqual(expect.stringMatching(/^S: 250 2\.0\.0 <alice> \S+ Saved$/));
  });

  it('SIGHUP with other listeners: logged as needing a restart, the sockets stay as they were', async () => {
    writeConfig(['user = vmail']);
    const running = server();
    await running.waitForLog(/starting up/);
    const oldPort = port;
    port = await freePort();
    writeConfig(['user = vmail']);
    running.child.kill('SIGHUP');
    await running.waitForLog(/Configuration reloaded/);
    expect(running.output()).toMatch(/Warning: service lmtp \{\} changed: restart dovetail lmtp to apply\n/);
    const transcript = await lmtpConversation({ host: '127.0.0.1', port: oldPort }, [{ send: ['QUIT'], replies: 1 }]);
    expect(transcript.slice(0, 3)).toEqual(['S: 220 old.test Dovecot ready.', 'C: QUIT', 'S: 221 2.0.0 Bye']);
    const refused = await new Promise<string>((resolve) =>
      connect(port, '127.0.0.1')
        .on('connect', function (this: Socket) {
          this.destroy();
          resolve('connected');
        })
        .on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? '')),
    );
    expect(refused).toBe('ECONNREFUSED');
  });

  it('SIGTERM mid-DATA: the transaction finishes and is delivered, then 421, and the server exits 0', async () => {
    writeConfig(['user = vmail']);
    const running = server();
    await running.waitForLog(/starting up/);
    const socket = connect(port, '127.0.0.1');
    let text = '';
    const waitFor = (pattern: RegExp) =>
      new Promise<void>((resolve) => {
        const check = () => pattern.test(text) && (socket.off('data', check), resolve());
        socket.on('data', check);
        check();
      });
    socket.on('data', (chunk) => (text += chunk.toString('latin1')));
    socket.write(['LHLO x', 'MAIL FROM:<a@example.org>', 'RCPT TO:<alice>', 'DATA', 'Subject: in flight', ''].map((line) => `${line}\r\n`).join(''));
    await waitFor(/354 OK\r\n$/);
    running.child.kill('SIGTERM');
    await running.waitForLog(/Received SIGTERM/);
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.write('still coming\r\n.\r\n');
    await closed;
    expect(text).toMatch(/354 OK\r\n250 2\.0\.0 <alice> \S+ Saved\r\n421 4\.3\.2 old\.test Shutting down\r\n$/);
    expect(await running.exited).toEqual({ status: 0, signal: null });
    const [file] = delivered(box.home);
    expect(readFileSync(file, 'utf8')).toMatch(/Subject: in flight\n\nstill coming\n$/);
    expect(running.output()).toMatch(/Info: Received SIGTERM: shutting down, 1 connection\(s\) to finish\n/);
    expect(running.output()).toMatch(/Info: Dovetail lmtp stopped\n$/);
  });

  it('removes a stale socket at start; a second server on the same sockets fails with 75', async () => {
    writeConfig(['user = vmail']);
    writeFileSync(join(runDir, 'lmtp'), ''); // not a socket: refused, left alone
    const refused = runDovetail(['lmtp', '-c', config]);
    expect(refused.status).toBe(75);
    // the log (log_path = /dev/stderr here) and the line for whoever started it
    expect(refused.stderr).toBe(
      `lmtp(${refusedPid(refused.stderr)}): Error: service(lmtp): Can't listen on unix:${runDir}/lmtp: ${runDir}/lmtp exists and is not a socket\n` +
        `dovetail lmtp: service(lmtp): Can't listen on unix:${runDir}/lmtp: ${runDir}/lmtp exists and is not a socket\n`,
    );

    expect(readFileSync(join(runDir, 'lmtp'), 'utf8')).toBe('');
    rmSync(join(runDir, 'lmtp'));

    // a socket file left by a server killed with SIGKILL
    const first = server();
    await first.waitForLog(/starting up/);
    first.child.kill('SIGKILL');
    await first.exited;
    expect(statSync(join(runDir, 'lmtp')).isSocket()).toBe(true);
    const second = server();
    await second.waitForLog(/starting up/);
    const third = runDovetail(['lmtp', '-c', config]);
    expect(third.status).toBe(75);
    expect(third.stderr.split('\n').slice(-2)).toEqual([`dovetail lmtp: service(lmtp): Can't listen on unix:${runDir}/lmtp: Socket already exists: ${runDir}/lmtp (another server is listening on it)`, '']);
    expect(await unixSession(join(runDir, 'lmtp'), ['QUIT'])).toBe('220 old.test Dovecot ready.\r\n221 2.0.0 Bye\r\n');
  });

  it('systemd socket activation: serves the socket it is given on fd 3, not the configured ones', async () => {
    writeConfig(['user = vmail']);
    const listening = createServer();
    await new Promise<void>((resolve) => listening.listen(0, '127.0.0.1', resolve));
    const systemdPort = (listening.address() as AddressInfo).port;
    const fd = (listening as unknown as { _handle: { fd: number } })._handle.fd;
    const running = startServer('/bin/sh', ['-c', 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$@"', DOVETAIL, 'lmtp', '-c', config], { stdio: ['ignore', 'ignore', 'pipe', fd] });
    servers.push(running);
    try {
      expect(await running.waitForLog(/starting up/)).toMatch(new RegExp(`listening on inet:127\\.0\\.0\\.1:${systemdPort} \\(systemd fd 3\\)$`));
    } finally {
      listening.close(); // our copy; the server has its own
    }
    const transcript = await lmtpConversation({ host: '127.0.0.1', port: systemdPort }, [{ send: transaction('alice'), replies: 7 }]);
    expect(transcript).toContainEqual(expect.stringMatching(/^S: 250 2\.0\.0 <alice> \S+ Saved$/));
    expect(() => statSync(join(runDir, 'lmtp'))).toThrow(/ENOENT/);
  });

  it.each([
    [['-x'], "dovetail lmtp: invalid option -- 'x' (usage: dovetail lmtp [-c <config file>] [-o <key>=<value>]...)"],
    [['extra'], 'dovetail lmtp: Unknown argument: extra (usage: dovetail lmtp [-c <config file>] [-o <key>=<value>]...)'],
  ])('a bad command line %j exits 64', (args, message) => {
    const result = runDovetail(['lmtp', ...args]);
    expect(result.status).toBe(64);
    expect(result.stderr).toBe(`${message}\n`);
  });

  it('a config error exits 75 with the reason', () => {
    const result = runDovetail(['lmtp', '-c', join(box.dir, 'missing.conf')]);
    expect(result.status).toBe(75);
    expect(result.stderr).toMatch(/^dovetail lmtp: Error reading configuration file .*missing\.conf: /);
  });
});
