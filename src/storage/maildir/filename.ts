// Maildir base names as Dovecot makes them (maildir_filename_generate):
// `<sec>.M<usec>P<pid>.<hostname>`, strictly increasing within the process —
// when the clock has not moved past the last name, the microseconds are bumped
// (carrying into the seconds). Never fails.

let lastMicroseconds = 0;

/** Wall-clock time in microseconds: milliseconds from the clock, the rest from the high-resolution timer. */
function nowMicroseconds(): number {
  return Date.now() * 1000 + Number((process.hrtime.bigint() / 1000n) % 1000n);
}

/** The next unique base name; `now` (microseconds since the epoch) is for tests. */
export function nextMaildirBaseName(hostname: string, pid: number = process.pid, now: number = nowMicroseconds()): string {
  lastMicroseconds = now > lastMicroseconds ? now : lastMicroseconds + 1;
  const seconds = Math.floor(lastMicroseconds / 1_000_000);
  const microseconds = lastMicroseconds % 1_000_000;
  return `${seconds}.M${microseconds}P${pid}.${hostname}`;
}

/** Dovecot's final name in new/: `<base>,S=<size>,W=<vsize>`. */
export function maildirFileName(baseName: string, size: number, vsize: number): string {
  return `${baseName},S=${size},W=${vsize}`;
}
