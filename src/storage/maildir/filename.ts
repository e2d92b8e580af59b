// Maildir file names as Dovecot makes them (maildir_filename_generate):
// `<sec>.M<usec>P<pid>.<hostname>`, strictly increasing within the process —
// when the clock has not moved past the last name, the microseconds are bumped
// (carrying into the seconds) — then `,S=<size>,W=<vsize>`, and for a message
// with flags the info `:2,` + its flag letters. Never fails.

import type { MessageFlags, SystemFlag } from '../flags.js';

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

/** Dovecot's final name: `<base>,S=<size>,W=<vsize>`, plus `:2,<letters>` when `flagLetters` is given (even ""). */
export function maildirFileName(baseName: string, size: number, vsize: number, flagLetters?: string): string {
  const name = `${baseName},S=${size},W=${vsize}`;
  return flagLetters === undefined ? name : `${name}:2,${flagLetters}`;
}

/** Dovecot's letters for the system flags, in ASCII order (\\Recent has none). */
const FLAG_LETTERS: readonly [SystemFlag, string][] = [
  ['draft', 'D'],
  ['flagged', 'F'],
  ['answered', 'R'],
  ['seen', 'S'],
  ['deleted', 'T'],
];

/** The info after `:2,`: system flag letters, then the keyword letters (already in order), e.g. "FSab". */
export function maildirFlagLetters(system: MessageFlags['system'], keywordLetters: string): string {
  return FLAG_LETTERS.filter(([flag]) => system.has(flag))
    .map(([, letter]) => letter)
    .join('') + keywordLetters;
}
