// docs/sieve.md's examples are real: each ```sieve block compiles and, run
// with `dovetail sieve-test` against the message the page shows, prints the
// line its `<!-- expect: ... -->` comment names; the ```conf block loads and
// gives the Sieve settings the page describes.

import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSieveTest } from '../../src/cli/sieve-tools.js';
import { loadSettings } from '../../src/config/settings.js';
import { sieveSettingsFor } from '../../src/deliver/user-plugin-settings.js';

const page = readFileSync(join(__dirname, '../../docs/sieve.md'), 'utf8');

/** The indented message under "Each example runs against this message". */
function exampleMessage(): string {
  const start = page.indexOf('\n    From: Alice');
  const end = page.indexOf('\n\n', page.indexOf('\n\n', start + 1) + 2);
  return page.slice(start + 1, end).replace(/^ {4}/gm, '') + '\n';
}

const examples = [...page.matchAll(/<!-- expect: (.*?) -->\n```sieve\n([^]*?)```/g)].map((match) => ({ expect: match[1]!, script: match[2]! }));

describe('docs/sieve.md', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dovetail-sieve-doc-'));
  const messagePath = join(dir, 'message.eml');
  writeFileSync(messagePath, exampleMessage());

  it('has examples, each with an expectation', () => {
    expect(examples.length).toBeGreaterThanOrEqual(6);
    expect(page.match(/```sieve/g)?.length).toBe(examples.length);
  });

  it.each(examples.map((example, index) => [index + 1, example.expect, example] as const))('example %i: %s', (index, _expect, example) => {
    const scriptPath = join(dir, `example${index}.sieve`);
    writeFileSync(scriptPath, example.script);
    let out = '';
    const errors: string[] = [];
    const status = runSieveTest({
      argv: ['-a', 'bob+lists@example.org', '-f', 'alice@example.org', scriptPath, messagePath],
      writeOut: (text) => (out += text),
      writeError: (line) => errors.push(line),
    });
    expect({ status, errors }).toEqual({ status: 0, errors: [] });
    expect(out).toContain(example.expect);
  });

  it('the configuration block loads and turns Sieve on as described', () => {
    const block = /```conf\n([^]*?)```/.exec(page)![1]!;
    const configPath = join(dir, 'dovecot.conf');
    writeFileSync(configPath, `mail_location = maildir:~/Maildir\n${block}`);
    const settings = loadSettings({ configPath, skipConfig: false, protocol: 'lda', overrides: [] });
    const sieve = sieveSettingsFor(settings, { username: 'bob', home: '/home/bob', fields: new Map() }, '/home/bob', 'mail.example.org');
    expect(sieve).toMatchObject({
      enabled: true,
      personal: { activePath: '/home/bob/.dovecot.sieve', scriptDirectory: '/home/bob/sieve' },
      before: [{ setting: 'sieve_before', path: '/etc/dovetail/sieve/before.d' }],
      defaultScript: '/etc/dovetail/sieve/default.sieve',
      userLogPath: '/home/bob/.dovecot.sieve.log',
    });
    rmSync(dir, { recursive: true, force: true });
  });
});
