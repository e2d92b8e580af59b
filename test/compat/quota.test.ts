// Quota side by side: each case of ./quota-cases.ts runs through dovecot-lda
// with its quota plugin and through bin/dovetail, with the same config,
// arguments, input and user. First Dovecot's side must do what the case says
// (exit statuses, stderr, where mail landed, the maildirsize limits and
// totals, how many rejections went out, what the quota-warning script
// recorded), so that a case cannot silently test nothing; then Dovetail's
// must equal Dovecot's, unless the case names an intentional difference.
// maildirsize is compared as its limits line and totals, not line by line:
// when a file is rewritten rather than appended to is each one's own.
//
// DOVETAIL_COMPAT_SIDE=dovecot runs only Dovecot's side and prints each
// result. A failing comparison shows Dovetail's log.

import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CompatSuite, CompatTally, compatUnavailable, landedMessages, type SideResult } from './harness.js';
import { QUOTA_CASES, WARNINGS_FILE, MESSAGE, type QuotaCase } from './quota-cases.js';
import { MAIL_USER } from '../e2e/harness.js';

const onlyDovecot = process.env.DOVETAIL_COMPAT_SIDE === 'dovecot';
const QUOTA_PLUGIN = '/usr/lib/dovecot/modules/lib10_quota_plugin.so';
const PIGEONHOLE_PLUGIN = '/usr/lib/dovecot/modules/lib90_sieve_plugin.so';
const quotaUnavailable =
  compatUnavailable ??
  (!existsSync(QUOTA_PLUGIN) ? 'Dovecot\'s quota plugin is missing (dovecot-core ships it)' : !existsSync(PIGEONHOLE_PLUGIN) ? 'Pigeonhole is not installed (apt-get install dovecot-sieve)' : undefined);

/**
 * Maildir/maildirsize as "LIMITS totals BYTES COUNT" (the sums of every line
 * after the first), "unreadable …" when a line is not two integers, or
 * undefined when there is none.
 */
function maildirsizeSummary(content: string | undefined): string | undefined {
  if (content === undefined) return undefined;
  const [limits, ...deltas] = content.split('\n').filter((line) => line !== '');
  let bytes = 0;
  let count = 0;
  for (const line of deltas) {
    const match = /^\s*(-?\d+)\s+(-?\d+)\s*$/.exec(line);
    if (!match) return `unreadable ${JSON.stringify(content)}`;
    bytes += Number(match[1]);
    count += Number(match[2]);
  }
  return `${limits ?? ''} totals ${bytes} ${count}`;
}

function readIfThere(path: string): string | undefined {
  return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
}

/**
 * The home's listing with maildirsize's content replaced by its summary (mode
 * and owner kept) and without the warnings file, which Dovecot's script
 * service may write after dovecot-lda has exited (see recordedWarnings).
 */
function comparedTree(result: SideResult): string[] {
  const summary = maildirsizeSummary(readIfThere(join(result.home, 'Maildir', 'maildirsize')));
  return result.tree
    .filter((line) => !line.startsWith(`f ./${WARNINGS_FILE} `))
    .map((line) => {
      const match = /^(f Maildir\/maildirsize \S+ \S+) /.exec(line);
      return match ? `${match[1]} ${summary}` : line;
    });
}

const WARNING_WAIT_MS = 3000;

/**
 * The lines the quota-warning script recorded, once there are EXPECTED of
 * them or WARNING_WAIT_MS have passed: Dovecot's quota plugin hands the
 * command to its script service without waiting for it to finish.
 */
function recordedWarnings(result: SideResult, expected: number): string[] {
  const read = () => (readIfThere(join(result.home, WARNINGS_FILE)) ?? '').split('\n').filter((line) => line !== '');
  for (const deadline = Date.now() + WARNING_WAIT_MS; read().length < expected && Date.now() < deadline; ) spawnSync('sleep', ['0.05']);
  return read();
}

/** What a side did, in the terms of QuotaCase.dovecot. */
function outcome(testCase: QuotaCase, result: SideResult) {
  return {
    statuses: result.statuses,
    stderr: result.stderr.trim(),
    landed: landedMessages(result.tree),
    maildirsize: maildirsizeSummary(readIfThere(join(result.home, 'Maildir', 'maildirsize'))),
    sent: result.sent.filter((line) => /^sent \d+ argv /.test(line)).length,
    warnings: recordedWarnings(result, testCase.dovecot.warnings?.length ?? 0),
  };
}

/** What the case says Dovecot does, defaults filled in; sentLines are checked separately. */
function expectedOutcome(testCase: QuotaCase) {
  const { statuses, landed, sent = 0, stderr = '', maildirsize, warnings = [] } = testCase.dovecot;
  return { statuses: statuses ?? Array<number>(testCase.repeat ?? 1).fill(0), stderr, landed: [...landed].sort(), maildirsize, sent, warnings };
}

function printed(testCase: QuotaCase, result: SideResult): string {
  return [
    `=== ${testCase.name}`,
    `statuses ${JSON.stringify(result.statuses)}`,
    ...comparedTree(result),
    ...result.sent,
    '--- log',
    result.log.trimEnd(),
    '--- stderr',
    result.stderr.trimEnd(),
  ].join('\n');
}

/**
 * docs/quota.md's checked examples as cases: each ```conf block under a
 * `<!-- check: N deliveries[ to BOX][ with -e]; exit S S …; maildirsize "SUMMARY" -->`
 * comment (an empty SUMMARY: no maildirsize), delivering MESSAGE as the user.
 */
function documentedCases(page: string): QuotaCase[] {
  const checks = page.matchAll(/<!-- check: (\d+) deliver(?:y|ies)(?: to (\S+))?( with -e)?; exit ([\d ]+); maildirsize "([^"]*)" -->\n```conf\n([^]*?)```/g);
  return [...checks].map(([, count, mailbox, dashE, statuses, maildirsize, block], index) => ({
    name: `docs/quota.md example ${index + 1}`,
    as: 'user' as const,
    args: ['-f', 'alice@example.org', '-a', `${MAIL_USER}@example.org`, ...(mailbox ? ['-m', mailbox] : []), ...(dashE ? ['-e'] : [])],
    input: MESSAGE,
    recordSent: true,
    repeat: Number(count),
    config: block!.trimEnd().split('\n'),
    dovecot: {
      statuses: statuses!.trim().split(/\s+/).map(Number),
      landed: Array<string>(statuses!.trim().split(/\s+/).filter((status) => status === '0').length).fill(mailbox ? `Maildir/.${mailbox}/new` : 'Maildir/new'),
      stderr: dashE && statuses!.trim().endsWith('77') ? 'Quota exceeded (mailbox for user is full)' : '',
      maildirsize: maildirsize || undefined,
    },
  }));
}

const DOCUMENTED_CASES = documentedCases(readFileSync(join(__dirname, '../../docs/quota.md'), 'utf8'));
// first: the -d cases at the end of QUOTA_CASES start Dovecot's master, and
// dovecot-lda run as the user then complains on stderr that it cannot reach
// the master's stats-writer socket
const ALL_CASES = [...DOCUMENTED_CASES, ...QUOTA_CASES];

const summary = new CompatTally();

describe('the maildirsize summary', () => {
  it.each([
    ['1024S\n0 0\n96 1\n96 1\n', '1024S totals 192 2'],
    ['200S,5C\n300 3\n-100 -1\n', '200S,5C totals 200 2'],
    ['0S\n', '0S totals 0 0'],
    ['1024S\n96 x\n', 'unreadable "1024S\\n96 x\\n"'],
  ])('%j is %s', (content, expected) => {
    expect(maildirsizeSummary(content)).toBe(expected);
  });

  it('is undefined without a file', () => {
    expect(maildirsizeSummary(undefined)).toBeUndefined();
  });
});

describe.skipIf(quotaUnavailable !== undefined)(`Quota: dovetail beside dovecot-lda + quota plugin${quotaUnavailable ? ` (skipped: ${quotaUnavailable})` : ''}`, () => {
  // made in beforeAll, so that a run that filters every case out leaves no directory behind
  let suite: CompatSuite;
  beforeAll(() => {
    suite = new CompatSuite('quota');
  });
  afterAll(() => {
    suite?.stop();
    if (!onlyDovecot) console.log(summary.line('quota cases', 'dovecot-lda + quota plugin'));
  });

  it('has at least 20 cases with distinct names, and docs/quota.md every checked example it announces', () => {
    expect(QUOTA_CASES.length).toBeGreaterThanOrEqual(20);
    expect(new Set(ALL_CASES.map((testCase) => testCase.name)).size).toBe(ALL_CASES.length);
    expect(DOCUMENTED_CASES.length).toBeGreaterThanOrEqual(5);
    expect(DOCUMENTED_CASES.length).toBe(readFileSync(join(__dirname, '../../docs/quota.md'), 'utf8').match(/<!-- check:/g)?.length);
  });

  ALL_CASES.forEach((testCase, index) => {
    it(testCase.name, () => {
      const dovecot = suite.run(testCase, 'dovecot', index);
      if (onlyDovecot) console.log(printed(testCase, dovecot));
      expect(outcome(testCase, dovecot), `dovecot-lda + quota do what "${testCase.name}" says\n${printed(testCase, dovecot)}`).toEqual(expectedOutcome(testCase));
      for (const line of testCase.dovecot.sentLines ?? []) expect(dovecot.sent, 'a line of what Dovecot sent').toContain(line);
      if (onlyDovecot) return;

      const dovetail = suite.run(testCase, 'dovetail', index);
      // Dovetail writes the reason of every temporary failure on stderr, dovecot-lda only with -e
      // (docs/compatibility.md "Failure reasons on stderr"): stderr is compared where Dovecot wrote one
      const stderrCompared = dovecot.stderr.trim() !== '';
      const compared = (result: SideResult) => ({
        statuses: result.statuses,
        stderr: stderrCompared ? result.stderr.trim() : '(not compared)',
        tree: comparedTree(result),
        sent: result.sent,
        warnings: recordedWarnings(result, testCase.dovecot.warnings?.length ?? 0),
      });
      const same = JSON.stringify(compared(dovecot)) === JSON.stringify(compared(dovetail));
      if (!summary.record(testCase, same)) return;
      expect(compared(dovetail), `Dovetail's log:\n${dovetail.log}`).toEqual(compared(dovecot));
    });
  });
});
