// Sieve side by side: each case of ./sieve-cases.ts runs through dovecot-lda
// with Pigeonhole and through bin/dovetail, with the same config, script,
// arguments, input and user. First Dovecot's side must do what the case says
// (exit statuses, where mail landed, how many messages went out), so that a
// case cannot silently test nothing; then Dovetail's exit statuses, home tree
// (flags in Maildir names and mbox headers) and sent mail must equal Dovecot's,
// unless the case names an intentional difference.
//
// DOVETAIL_COMPAT_SIDE=dovecot runs only Dovecot's side and prints each result
// (statuses, tree, sent mail, delivery log, Sieve user log) for checking the
// cases themselves. A failing comparison shows Dovetail's two logs.

import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { hostname } from 'node:os';
import { existsSync } from 'node:fs';
import { CompatSuite, CompatTally, compatUnavailable, describeSentMessage, landedMessages, type SideResult } from './harness.js';
import { SIEVE_CASES, type SieveCase } from './sieve-cases.js';

const onlyDovecot = process.env.DOVETAIL_COMPAT_SIDE === 'dovecot';
const PIGEONHOLE_PLUGIN = '/usr/lib/dovecot/modules/lib90_sieve_plugin.so';
const sieveUnavailable = compatUnavailable ?? (existsSync(PIGEONHOLE_PLUGIN) ? undefined : 'Pigeonhole is not installed (apt-get install dovecot-sieve; .ci/run does)');

/** What Dovecot's side did, in the terms of SieveCase.dovecot. */
function outcome(result: SideResult) {
  return {
    statuses: result.statuses,
    landed: landedMessages(result.tree),
    sent: result.sent.filter((line) => /^sent \d+ argv /.test(line)).length,
    userLog: result.tree.some((line) => line.startsWith('f ./.dovecot.sieve.log ')),
  };
}

/** What the case says Dovecot does, defaults filled in; sentLines are checked separately. */
function expectedOutcome(testCase: SieveCase) {
  const { statuses, landed, sent = 0, userLog = false } = testCase.dovecot;
  return { statuses: statuses ?? Array<number>(testCase.repeat ?? 1).fill(0), landed: [...landed].sort(), sent, userLog };
}

function printed(testCase: SieveCase, result: SideResult): string {
  return [`=== ${testCase.name}`, `statuses ${JSON.stringify(result.statuses)}`, ...result.tree, ...result.sent, '--- log', result.log.trimEnd(), '--- sieve log', result.sieveLog.trimEnd(), '--- stderr', result.stderr.trimEnd()].join('\n');
}

const summary = new CompatTally();

describe('the normalised description of sent mail', () => {
  const reply = (boundary: string, date: string, messageId: string) =>
    Buffer.from(
      [
        'X-Sieve: Pigeonhole Sieve 0.5.19',
        `Message-ID: ${messageId}`,
        `Date: ${date}`,
        `From: Postmaster <postmaster@${hostname()}>`,
        'Subject: =?utf-8?q?Auto=3A_Gr=C3=BC=C3=9Fe?=',
        `Content-Type: multipart/report; report-type=disposition-notification;\r\n\tboundary="${boundary}"`,
        'X-Other: anything',
        '',
        `--${boundary}`,
        `Reporting-UA: ${hostname()}; x`,
        `--${boundary}--`,
        '',
      ].join('\r\n'),
    );
  const pigeonhole = describeSentMessage(1, ['-i', '-f', '<>', '--', 'a@example.org'], reply('123/host', 'Mon, 30 Nov 2026 22:04:36 +0000', `<dovecot-1@${hostname()}>`));

  it('keeps what matters and normalises what each implementation makes up', () => {
    expect(pigeonhole).toEqual([
      'sent 1 argv ["-i","-f","<>","--","a@example.org"]',
      'sent 1 content-type: multipart/report; report-type=disposition-notification',
      'sent 1 date: <valid date>',
      'sent 1 from: Postmaster <postmaster@{HOST}>',
      'sent 1 message-id: <valid id>',
      'sent 1 subject: Auto: Grüße (encoded)',
      'sent 1 x-other: …',
      'sent 1 x-sieve: present',
      'sent 1 body| --{BOUNDARY1}',
      'sent 1 body| Reporting-UA: {HOST}; x',
      'sent 1 body| --{BOUNDARY1}--',
    ]);
  });

  it('makes no difference of another boundary, date, Message-ID or X-Sieve text', () => {
    expect(describeSentMessage(1, ['-i', '-f', '<>', '--', 'a@example.org'], reply('=_other', 'Tue, 1 Dec 2026 01:00 +0100', '<x.y@example.org>'))).toEqual(pigeonhole);
  });

  it.each([
    ['a malformed Date', (text: string) => text.replace(/^Date: .*$/m, 'Date: yesterday'), 'sent 1 date: malformed "yesterday"'],
    ['a malformed Message-ID', (text: string) => text.replace(/^Message-ID: .*$/m, 'Message-ID: none'), 'sent 1 message-id: malformed "none"'],
    ['another subject', (text: string) => text.replace(/^Subject: .*$/m, 'Subject: Auto: Grusse'), 'sent 1 subject: Auto: Grusse'],
    ['another body', (text: string) => text.replace('; x', '; y'), 'sent 1 body| Reporting-UA: {HOST}; y'],
    ['no final newline', (text: string) => text.slice(0, -2), 'sent 1 body ends without a newline'],
  ])('shows %s', (_what, change, line) => {
    const changed = Buffer.from(change(reply('123/host', 'Mon, 30 Nov 2026 22:04:36 +0000', '<a@b>').toString('utf8')));
    expect(describeSentMessage(1, [], changed)).toContain(line);
  });

  it('lists where messages landed, with their flags', () => {
    const tree = [
      'd ./Maildir 700 mail',
      'f Maildir/cur/<msg>,S=491,W=507:2,FS 600 mail ea7465435818',
      'f Maildir/.work/new/<msg>,S=491,W=507 600 mail ea7465435818',
      'm ./inbox #0001 header ["Subject: x","Status: RO","X-Keywords: $Label1"]',
      'm ./inbox #0001 body 5 bytes "body\\n"',
    ];
    expect(landedMessages(tree)).toEqual(['Maildir/.work/new', 'Maildir/cur FS', 'inbox Status: RO|X-Keywords: $Label1']);
  });
});

describe.skipIf(sieveUnavailable !== undefined)(`Sieve: dovetail beside dovecot-lda + Pigeonhole${sieveUnavailable ? ` (skipped: ${sieveUnavailable})` : ''}`, () => {
  // made in beforeAll, so that a run that filters every case out leaves no directory behind
  let suite: CompatSuite;
  beforeAll(() => {
    suite = new CompatSuite('sieve');
  });
  afterAll(() => {
    suite?.stop();
    if (!onlyDovecot) {
      console.log(summary.line('Sieve cases', 'dovecot-lda + Pigeonhole'));
    }
  });

  it('has at least 60 cases with distinct names', () => {
    expect(SIEVE_CASES.length).toBeGreaterThanOrEqual(60);
    expect(new Set(SIEVE_CASES.map((testCase) => testCase.name)).size).toBe(SIEVE_CASES.length);
  });

  SIEVE_CASES.forEach((testCase, index) => {
    it(testCase.name, () => {
      const dovecot = suite.run(testCase, 'dovecot', index);
      if (onlyDovecot) console.log(printed(testCase, dovecot));
      expect(outcome(dovecot), `dovecot-lda + Pigeonhole do what "${testCase.name}" says\n${printed(testCase, dovecot)}`).toEqual(expectedOutcome(testCase));
      for (const line of testCase.dovecot.sentLines ?? []) expect(dovecot.sent, 'a line of what Dovecot sent').toContain(line);
      if (onlyDovecot) return;

      const dovetail = suite.run(testCase, 'dovetail', index);
      const compared = (result: SideResult) => ({ statuses: result.statuses, tree: result.tree, sent: result.sent });
      const same = JSON.stringify(compared(dovecot)) === JSON.stringify(compared(dovetail));
      if (!summary.record(testCase, same)) return;
      expect({ ...compared(dovetail), stderr: dovetail.stderr }, `Dovetail's logs:\n${dovetail.log}${dovetail.sieveLog}`).toEqual({ ...compared(dovecot), stderr: expect.any(String) });
    });
  });
});
