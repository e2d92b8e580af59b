// `dovetail quota get|recalc`: doveadm's table layout (the expected tables are
// what doveadm quota get printed, 80 columns, not a terminal), and whole runs
// against a passwd-file user with a Maildir (the table and maildirsize
// doveadm produced for the same folders and rules). A run drops privileges to the
// user for good, so runs happen in a child process: runQuotaTool bundled
// with esbuild, beside the native addon dist/ holds (node scripts/build.mjs).

import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildSync } from 'esbuild';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { formatQuotaTable, type QuotaRow } from '../../src/cli/quota-tools.js';

const ROOT = resolve(__dirname, '../..');
const ADDON = join(ROOT, 'dist/dovetail_native.node');

const rows = (root: string, storage: [number, number | undefined], messages: [number, number | undefined]): QuotaRow[] => [
  { root, type: 'STORAGE', value: storage[0], limit: storage[1] },
  { root, type: 'MESSAGE', value: messages[0], limit: messages[1] },
];

describe('the table', () => {
  test.each([
    [
      rows('User quota', [0, 10240], [0, undefined]),
      ['Quota name Type    Value Limit                         %', 'User quota STORAGE     0 10240                         0', 'User quota MESSAGE     0     -                         0'],
    ],
    [
      rows('User quota', [0, 1073741824], [0, 12345678]),
      ['Quota name Type    Value      Limit                      %', 'User quota STORAGE     0 1073741824                      0', 'User quota MESSAGE     0   12345678                      0'],
    ],
    [
      rows('', [0, 100], [0, undefined]),
      ['Quota name Type    Value Limit                         %', '           STORAGE     0   100                         0', '           MESSAGE     0     -                         0'],
    ],
    [[], ['Quota name Type Value Limit                          %']],
  ])('%#', (input, lines) => {
    expect(formatQuotaTable(input)).toBe(lines.map((line) => `${line}\n`).join(''));
  });

  test('percentages round down; an unlimited row says 0', () => {
    const table = formatQuotaTable(rows('q', [150, 100], [2, 3]));
    expect(table.split('\n')[1]).toMatch(/ 150 +100 +150$/);
    expect(table.split('\n')[2]).toMatch(/ 2 +3 +66$/);
  });
});

describe.skipIf(!existsSync(ADDON))('runs', () => {
  const runnerDir = mkdtempSync(join(tmpdir(), 'dovetail-quota-runner-'));
  // the tool drops to the user before it loads the lock addon beside the runner: they must reach it
  chmodSync(runnerDir, 0o755);
  const runner = join(runnerDir, 'runner.cjs');
  /** as root, the user is vmail (5000) and the run switches to it; otherwise ourselves */
  const uid = process.geteuid!() === 0 ? 5000 : process.geteuid!();
  const gid = process.geteuid!() === 0 ? 5000 : process.getegid!();
  let dir: string;

  beforeAll(() => {
    buildSync({
      stdin: {
        contents: [
          "import { runQuotaTool } from './src/cli/quota-tools.js';",
          'runQuotaTool({ argv: process.argv.slice(2), env: process.env, writeOut: (t) => process.stdout.write(t), writeError: (l) => process.stderr.write(l + "\\n") })',
          '  .then((status) => process.exit(status));',
        ].join('\n'),
        resolveDir: ROOT,
        loader: 'ts',
      },
      bundle: true,
      platform: 'node',
      format: 'cjs',
      outfile: runner,
      external: ['libmime', 'mysql2'],
      logLevel: 'error',
    });
    copyFileSync(ADDON, join(runnerDir, 'dovetail_native.node'));
  });
  afterAll(() => rmSync(runnerDir, { recursive: true, force: true }));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function setUp(plugin: string[]) {
    dir = mkdtempSync(join(tmpdir(), 'dovetail-quota-tool-'));
    const home = join(dir, 'home');
    for (const sub of ['new', 'cur', 'tmp', '.Trash/cur', '.Spam/new']) mkdirSync(join(home, 'Maildir', sub), { recursive: true });
    writeFileSync(join(home, 'Maildir/new/1.M1P1.host,S=2000'), 'x');
    writeFileSync(join(home, 'Maildir/cur/2.M2P2.host,S=1000:2,S'), 'x');
    writeFileSync(join(home, 'Maildir/.Trash/cur/3.M3P3.host,S=500:2,'), 'x');
    writeFileSync(join(home, 'Maildir/.Spam/new/4.M4P4.host,S=9000'), 'x');
    spawnSync('chown', ['-R', `${uid}:${gid}`, home]);
    chownSync(dir, uid, gid);
    writeFileSync(join(dir, 'users'), `alice:{plain}x:${uid}:${gid}::${home}::\n`);
    writeFileSync(
      join(dir, 'dovecot.conf'),
      [
        'mail_location = maildir:~/Maildir',
        `first_valid_uid = ${uid}`,
        'mail_plugins = quota',
        'userdb {',
        '  driver = passwd-file',
        `  args = ${join(dir, 'users')}`,
        '}',
        'plugin {',
        ...plugin,
        '}',
        '',
      ].join('\n'),
    );
    return { config: join(dir, 'dovecot.conf'), maildir: join(home, 'Maildir') };
  }

  async function run(argv: string[]) {
    const child = spawnSync(process.execPath, [runner, ...argv], { encoding: 'utf8', env: {} });
    return { status: child.status, out: child.stdout, errors: child.stderr.split('\n').filter((line) => line !== '') };
  }

  test('get creates maildirsize from a scan that leaves ignored folders out; recalc rewrites it', async () => {
    const { config, maildir } = setUp(['quota = maildir:User quota', 'quota_rule = *:storage=10:messages=10', 'quota_rule2 = Spam:ignore']);
    const got = await run(['get', '-u', 'alice', '-c', config]);
    expect(got.errors).toEqual([]);
    expect(got.status).toBe(0);
    expect(got.out.split('\n').slice(1, 3)).toEqual([
      'User quota STORAGE     4    10                        40',
      'User quota MESSAGE     3    10                        30',
    ]);
    expect(readFileSync(join(maildir, 'maildirsize'), 'latin1')).toBe('10240S,10C\n3500 3\n');
    writeFileSync(join(maildir, 'maildirsize'), '10240S,10C\n3500 3\n-500 -1\n');
    expect((await run(['get', '-u', 'alice', '-c', config])).out).toContain('User quota MESSAGE     2');
    const recalculated = await run(['recalc', '-u', 'alice', '-c', config]);
    expect(recalculated.status).toBe(0);
    expect(recalculated.out).toContain('User quota MESSAGE     3');
    expect(readFileSync(join(maildir, 'maildirsize'), 'latin1')).toBe('10240S,10C\n3500 3\n');
  });

  test('quota not enabled: 68 and the empty table', async () => {
    const { config } = setUp([]);
    const result = await run(['get', '-u', 'alice', '-c', config]);
    expect(result).toEqual({ status: 68, out: 'Quota name Type Value Limit                          %\n', errors: ['Error: Quota not enabled'] });
  });

  test('unknown user 67, bad settings 75, bad command line 64', async () => {
    const { config } = setUp(['quota = maildir:q', 'quota_rule = *:storage=10X']);
    expect((await run(['get', '-u', 'nobody-here', '-c', config])).status).toBe(67);
    const bad = await run(['get', '-u', 'alice', '-c', config]);
    expect(bad.status).toBe(75);
    expect(bad.errors[0]).toContain('Invalid rule *:storage=10X');
    expect((await run(['get', '-c', config])).status).toBe(64);
    expect((await run(['frob', '-u', 'alice'])).status).toBe(64);
  });
});
