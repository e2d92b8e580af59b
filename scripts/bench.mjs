// Start-up benchmark: one 4 KB delivery into Maildir, and one into an mbox
// (growing as the runs go, dotlock + fcntl), repeated, timed side by side
// with a bare `node -e 0` and Debian's dovecot-lda in one run.
// Run as root (deliveries run as the mail user, default vmail):
//   node scripts/bench.mjs [runs]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, chownSync, chmodSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

const runs = Number(process.argv[2] ?? 40);
const mailUser = process.env.MAIL_USER ?? 'vmail';
const id = (flag) => Number(spawnSync('id', [flag, mailUser], { encoding: 'utf8' }).stdout.trim());
const uid = id('-u');
const gid = id('-g');
const dir = mkdtempSync('/tmp/dovetail-bench-');
chmodSync(dir, 0o755);
const home = join(dir, 'home');
mkdirSync(home);
chownSync(home, uid, gid);
const config = join(dir, 'dovecot.conf');
writeFileSync(config, `mail_location = maildir:~/Maildir\nlog_path = /dev/null\n`);
const spool = join(dir, 'spool');
mkdirSync(spool);
chownSync(spool, uid, gid);
const mbox = ['-o', `mail_location=mbox:~/mail:INBOX=${spool}/%u`];
const message = `Subject: bench\nMessage-ID: <bench@example.org>\n\n${'x'.repeat(71)}\n`.repeat(1).padEnd(4096, 'y') + '\n';

const commands = [
  ['node -e 0', 'node', ['-e', '0']],
  ['dovetail', resolve('bin/dovetail'), ['-c', config]],
  ['dovetail mbox', resolve('bin/dovetail'), ['-c', config, ...mbox]],
];
if (existsSync('/usr/lib/dovecot/dovecot-lda')) {
  commands.push(['dovecot-lda', '/usr/lib/dovecot/dovecot-lda', ['-c', config]]);
  commands.push(['dovecot-lda mbox', '/usr/lib/dovecot/dovecot-lda', ['-c', config, ...mbox]]);
}

const env = { PATH: '/usr/bin:/bin', HOME: home, USER: mailUser };
const median = (values) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];
console.log(`${runs} runs each, 4 KB message, as ${mailUser}`);
for (const [label, program, args] of commands) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const started = process.hrtime.bigint();
    const result = spawnSync(program, args, { input: message, env, uid, gid });
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
    if (result.status !== 0) throw new Error(`${label} exited ${result.status}: ${result.stderr}`);
  }
  console.log(`${label.padEnd(17)} median ${median(times).toFixed(1)} ms  min ${Math.min(...times).toFixed(1)} ms`);
}
rmSync(dir, { recursive: true, force: true });
