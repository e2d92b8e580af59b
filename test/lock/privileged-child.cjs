// Child process for the EACCES tests of dotlock.test.ts, started as root:
//   node privileged-child.cjs <dotlock bundle> <mailbox> <excl|link> <wrapped|bare> <privileged gid>
// It gives up root the way a delivery does (euid and egid vmail, no
// supplementary groups) but keeps root as real and saved uid, so that its
// withPrivilegedGroup can switch the effective gid to the privileged group
// for the wrapped calls only — Dovecot keeps that gid as its saved gid.
// Inside the wrapper the calls run as uid vmail with gid <privileged gid>.
// Prints one JSON line: {code} when acquireDotlock rejects, {timedOut} when it
// resolves undefined, else the lock's gid, whether release() removed it, and
// what the directory holds afterwards.

const { existsSync, lstatSync, readdirSync } = require('node:fs');
const { dirname } = require('node:path');

const [bundle, mailbox, method, wrapped, privilegedGid] = process.argv.slice(2);
const { acquireDotlock } = require(bundle);
const VMAIL = 5000;

process.setgroups([]);
process.setegid(VMAIL);
process.seteuid(VMAIL);

function withPrivilegedGroup(fn) {
  process.seteuid(0);
  process.setegid(Number(privilegedGid));
  process.seteuid(VMAIL);
  try {
    return fn();
  } finally {
    process.seteuid(0);
    process.setegid(VMAIL);
    process.seteuid(VMAIL);
  }
}

acquireDotlock(mailbox, {
  useExcl: method === 'excl',
  staleTimeoutMs: 60_000,
  deadline: Date.now() + 5_000,
  hostname: 'testhost',
  withPrivilegedGroup: wrapped === 'wrapped' ? withPrivilegedGroup : undefined,
}).then(
  (lock) => {
    if (lock === undefined) return console.log(JSON.stringify({ timedOut: true }));
    const gid = lstatSync(lock.path).gid;
    lock.release();
    console.log(JSON.stringify({ gid, removed: !existsSync(lock.path), files: readdirSync(dirname(mailbox)) }));
  },
  (error) => console.log(JSON.stringify({ code: error.code })),
);
