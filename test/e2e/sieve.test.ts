// Sieve scripts that go wrong, through bin/dovetail as Postfix runs it: a
// syntax error, a run-time error, an endless include loop, a 10 MB script,
// 10,000 actions, hostile patterns. Each must leave the message in INBOX
// within 5 seconds with exit 0, and the reason in the user's Sieve log or the
// delivery log. Also the Sieve tools' exit statuses and output.

import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { readFileSync, writeFileSync, chownSync, mkdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { e2eUnavailable, makeSandbox, runDovetail, listMaildir, mailUid, mailGid, DOVETAIL, type Sandbox } from './harness.js';

const LONG_SUBJECT = `${'a'.repeat(50_000)}!`;
const MESSAGE = `From: alice@example.org\nTo: vmail@example.org\nSubject: ${LONG_SUBJECT}\nMessage-ID: <m1@example.org>\n\nbody line\n`;
const MAX_SECONDS = 5;

const hostile: [string, string, RegExp][] = [
  ['a syntax error', 'require "fileinto";\nfileinto "x"\nkeep;\n', /line 2: error: missing semicolon.*validation failed/s],
  ['an unknown extension', 'require "nosuch";\nkeep;\n', /nosuch/],
  ['a run-time error (error command)', 'require "ihave";\nerror "stop here";\n', /stop here/],
  ['an endless include loop', 'require "include";\ninclude :personal "loop";\n', /include/],
  ['a 10 MB script', `# ${'x'.repeat(10 * 1024 * 1024)}\nkeep;\n`, /too large|size/i],
  ['a script with 10,000 actions', `require "fileinto";\n${Array.from({ length: 10_000 }, (_, n) => `fileinto "box${n}";`).join('\n')}\n`, /actions/],
  ['a hostile regular expression', 'require "regex";\nif header :regex "subject" "^(a+)+$" { discard; }\n', /./],
  ['a hostile :matches pattern', 'if header :matches "subject" "*a*a*a*a*a*a*a*a*a*b" { discard; }\n', /./],
];

describe.skipIf(e2eUnavailable !== undefined)(`Sieve through bin/dovetail${e2eUnavailable ? ` (skipped: ${e2eUnavailable})` : ''}`, () => {
  let box: Sandbox;
  let config: string;
  let logFile: string;

  beforeEach(() => {
    box = makeSandbox();
    logFile = join(box.dir, 'dovetail.log');
    writeFileSync(logFile, '');
    chownSync(logFile, mailUid!, mailGid!);
    config = box.file(
      'dovecot.conf',
      [
        'mail_location = maildir:~/Maildir',
        `log_path = ${logFile}`,
        'protocol lda {',
        '  mail_plugins = $mail_plugins sieve',
        '}',
        'plugin {',
        '  sieve = file:~/sieve;active=~/.dovecot.sieve',
        '}',
        '',
      ].join('\n'),
    );
  });
  afterEach(() => box.cleanup());

  const writeUserFile = (relative: string, content: string) => {
    const path = join(box.home, relative);
    writeFileSync(path, content);
    chownSync(path, mailUid!, mailGid!);
  };
  const deliver = () => {
    const started = Date.now();
    const result = runDovetail(['-c', config, '-f', 'alice@example.org', '-a', 'vmail@example.org'], { input: MESSAGE, asMailUser: { home: box.home } });
    return { ...result, seconds: (Date.now() - started) / 1000 };
  };

  it.each(hostile)('%s: delivered to INBOX within 5 s, the reason logged', (_name, script, reason) => {
    writeUserFile('.dovecot.sieve', script);
    const sieveDir = join(box.home, 'sieve');
    mkdirSync(sieveDir);
    chownSync(sieveDir, mailUid!, mailGid!);
    writeUserFile('sieve/loop.sieve', 'require "include";\ninclude :personal "loop";\n');
    const result = deliver();
    expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: '' });
    expect(result.seconds).toBeLessThan(MAX_SECONDS);
    expect(listMaildir(join(box.home, 'Maildir'), 'new')).toHaveLength(1);
    const userLog = join(box.home, '.dovecot.sieve.log');
    const logs = readFileSync(logFile, 'utf8') + (existsSync(userLog) ? readFileSync(userLog, 'utf8') : '');
    expect(logs).toMatch(reason);
  });

  it('a hostile pattern that never matches keeps the message without an error', () => {
    writeUserFile('.dovecot.sieve', 'require "regex";\nif header :regex "subject" "^(a|aa)+$" { discard; }\n');
    const result = deliver();
    expect(result.status).toBe(0);
    expect(result.seconds).toBeLessThan(MAX_SECONDS);
    expect(listMaildir(join(box.home, 'Maildir'), 'new')).toHaveLength(1);
    expect(existsSync(join(box.home, '.dovecot.sieve.log'))).toBe(false);
  });

  it('sieve = file:~/sieve (a directory, no active=) runs ~/.dovecot.sieve, as Pigeonhole does', () => {
    mkdirSync(join(box.home, 'sieve'));
    chownSync(join(box.home, 'sieve'), mailUid!, mailGid!);
    writeUserFile('.dovecot.sieve', 'require ["fileinto", "mailbox"];\nfileinto :create "sorted";\n');
    const result = runDovetail(['-c', config, '-o', 'plugin/sieve=file:~/sieve', '-f', 'alice@example.org'], { input: MESSAGE, asMailUser: { home: box.home } });
    expect(result.status).toBe(0);
    expect(listMaildir(join(box.home, 'Maildir', '.sorted'), 'new')).toHaveLength(1);
  });

  it('a compiled script is cached beside the script and used while the script is unchanged', () => {
    writeUserFile('.dovecot.sieve', 'require "fileinto";\nfileinto "INBOX";\n');
    expect(deliver().status).toBe(0);
    const cache = join(box.home, '.dovecot.dvbin');
    expect(existsSync(cache)).toBe(true);
    // a cache that no longer matches the script is not used: the edited script runs
    writeUserFile('.dovecot.sieve', 'discard;\n');
    expect(deliver().status).toBe(0);
    expect(listMaildir(join(box.home, 'Maildir'), 'new')).toHaveLength(1);
  });

  it('sievec prints each error as FILE:LINE:COLUMN and exits 1; a good script exits 0', () => {
    const bad = box.file('bad.sieve', 'require "fileinto";\nfileinto "x"\nkeep;\n');
    const failed = spawnSync(DOVETAIL, ['sievec', bad], { encoding: 'utf8' });
    expect(failed.status).toBe(1);
    expect(failed.stderr).toMatch(new RegExp(`^${bad}:2:\\d+: error: missing semicolon`, 'm'));
    const good = box.file('good.sieve', 'keep;\n');
    expect(spawnSync(DOVETAIL, ['sievec', good], { encoding: 'utf8' }).status).toBe(0);
  });

  it('sieve-test prints the actions a delivery would take', () => {
    const script = box.file('s.sieve', 'require ["fileinto", "imap4flags"];\naddflag "\\\\Flagged";\nfileinto "Work";\n');
    const message = box.file('m.eml', MESSAGE);
    const result = spawnSync(DOVETAIL, ['sieve-test', script, message], { encoding: 'utf8' });
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(' * store message in folder: Work\n        + add IMAP flags: \\Flagged');
    expect(result.stdout).toContain('Implicit keep:\n\n  (none)');
  });
});
