// The interpreter on variables (RFC 5229) and include (RFC 6609): string
// expansion, set and its modifiers, the string test, match variables,
// global variables, :once, :optional, return. Expected results are what
// Pigeonhole 0.5.19's sieve-test printed for the same script and message.

import { describe as group, expect, it } from 'vitest';
import { outcome, runScript } from './interpreter-harness.js';

/** The script's fileinto targets show the strings it built. */
function folders(source: string, options?: Parameters<typeof outcome>[1]): string[] {
  return outcome(`require ["variables", "fileinto"]; ${source}`, options);
}

group('variables: expansion and set', () => {
  it.each([
    // RFC 5229 section 4
    ['set "a" "juMBlEd lETteRS"; set :length "b" "${a}";', '15'],
    ['set "a" "juMBlEd lETteRS"; set :lower "b" "${a}";', 'jumbled letters'],
    ['set "a" "juMBlEd lETteRS"; set :upperfirst "b" "${a}";', 'JuMBlEd lETteRS'],
    ['set "a" "juMBlEd lETteRS"; set :upperfirst :lower "b" "${a}";', 'Jumbled letters'],
    ['set :quotewildcard "b" "Rock*";', 'Rock\\*'],
    // names ignore case
    ['set "B" "upper";', 'upper'],
    // unset → empty
    ['set "b" "[${never}]";', '[]'],
  ])('%s', (commands, expected) => {
    expect(folders(`${commands} fileinto "\${b}";`)).toEqual([`fileinto ${expected}`]);
  });

  it('RFC 5229 section 3: references, illegal names, nesting', () => {
    expect(
      folders('set "company" "ACME"; fileinto "[${full}][${company}][${BAD${Company}][${President, ${Company} Inc.}]";'),
    ).toEqual(['fileinto [][ACME][${BADACME][${President, ACME Inc.}]']);
    expect(folders('fileinto "&%${}!|${doh!}";')).toEqual(['fileinto &%${}!|${doh!}']);
  });

  it('a script without "variables" uses its strings verbatim', () => {
    expect(outcome('require "fileinto"; fileinto "${a}";')).toEqual(['fileinto ${a}']);
  });

  it('RFC 5229 section 5: the string test', () => {
    expect(
      folders('set "state" "${state} pending"; if string :matches " ${state} " "* pending *" { fileinto "ok[${state}]"; }'),
    ).toEqual(['fileinto ok[ pending]']);
  });

  it.each([
    ['string :is "" ""', true],
    ['string :matches "" "*"', true],
    ['string :contains "abc" ""', true],
    // Pigeonhole compares octets in the string test unless a comparator is named
    ['string :is "ABC" "abc"', false],
    ['string :is :comparator "i;ascii-casemap" "ABC" "abc"', true],
    // :count does not count empty strings
    ['string :count "eq" :comparator "i;ascii-numeric" ["a", "", "b"] "2"', true],
    ['string :count "eq" :comparator "i;ascii-numeric" ["a", "", "b"] "3"', false],
  ])('%s', (test, expected) => {
    const source = `require ["variables", "relational", "comparator-i;ascii-numeric"]; if ${test} { discard; }`;
    expect(outcome(source)).toEqual(expected ? ['discard'] : ['implicit keep']);
  });

  it('an expanded :matches key is still a pattern', () => {
    expect(folders('set "a" "Hel*"; if header :matches "subject" "${a}" { fileinto "wild"; }')).toEqual(['fileinto wild']);
    expect(folders('set "a" "x*"; if header :matches "subject" "${a}" { fileinto "wild"; }')).toEqual(['implicit keep']);
  });

  it('set values are cut at 4096 bytes', () => {
    const result = folders(`set "a" "${'x'.repeat(5000)}"; set :length "n" "\${a}"; fileinto "\${n}";`);
    expect(result).toEqual(['fileinto 4096']);
  });
});

group('match variables', () => {
  it.each([
    ['header :matches "from" "*<*@*>"', '[${0}][${1}][${2}][${3}][${4}][${10}][${01}]', '[Alice <alice@example.com>][Alice ][alice][example.com][][][Alice ]'],
    ['header :regex "subject" "^(H[a-z]+) (.*)$"', '[${0}][${1}][${2}]', '[Hello Wörld][Hello][Wörld]'],
    // the first value-key pair that matches: X-Spam "no" with "n*"
    ['header :matches ["x-spam", "subject"] ["n*", "H*"]', '${0}|${1}', 'no|o'],
    // anyof stops at the first true test, so its captures count
    ['anyof(header :matches "subject" "H*", header :matches "from" "A*")', '${1}', 'ello Wörld'],
    // allof: the last successful test's captures
    ['allof(header :matches "subject" "H*", header :matches "from" "A*")', '${1}', 'lice <alice@example.com>'],
  ])('%s', (test, template, expected) => {
    expect(outcome(`require ["variables", "fileinto", "regex"]; if ${test} { fileinto "${template}"; }`)).toEqual([
      `fileinto ${expected}`,
    ]);
  });

  it.each([
    ['a failed :matches leaves them', 'if header :matches "subject" "nomatch*" {}'],
    ['a successful :is leaves them', 'if header :is "subject" "Hello Wörld" {}'],
    ['a successful :contains leaves them', 'if header :contains "subject" "llo" {}'],
    ['not over a failed :matches leaves them', 'if not header :matches "subject" "x*" {}'],
  ])('%s', (_name, second) => {
    const source = `if header :matches "subject" "H* *" {} ${second} fileinto "a[\${1}]";`;
    expect(folders(source)).toEqual(['fileinto a[ello]']);
  });

  it('RFC 5229 section 3.2: the mailing list example', () => {
    const script = `
      if header :matches "List-ID" "*<*@*" {
          fileinto "INBOX.lists.\${2}"; stop;
      }
      # Subject: [acme-users] [fwd] version 1.0 is out
      if header :matches "Subject" "[*] *" {
          fileinto "INBOX.lists.\${1}"; stop;
      }
      # To: coyote@ACME.Example.COM
      if address :matches ["To", "Cc"] ["coyote@**.com", "wile@**.com"] {
          fileinto "INBOX.business.\${2}"; stop;
      }
      if anyof (true, address :domain :matches "To" "*.com") {
          fileinto "INBOX.none[\${1}]";
          stop;
      }`;
    const message = (fields: string) => `From: x@y.org\n${fields}\n\nbody\n`;
    expect(folders(script, { message: message('List-ID: Sieve list <sieve@example.org>\nSubject: x') })).toEqual([
      'fileinto INBOX.lists.sieve',
    ]);
    expect(folders(script, { message: message('Subject: [acme-users] [fwd] version 1.0 is out') })).toEqual([
      'fileinto INBOX.lists.acme-users',
    ]);
    expect(folders(script, { message: message('Subject: hi\nTo: coyote@ACME.Example.COM') })).toEqual([
      'fileinto INBOX.business.ACME.Example',
    ]);
    expect(folders(script, { message: message('Subject: hi\nTo: road.runner@example.com') })).toEqual([
      'fileinto INBOX.none[]',
    ]);
  });
});

group('include (RFC 6609)', () => {
  const includes = {
    'personal:inc1': [
      'require ["include", "variables", "fileinto"];',
      'global "g";',
      'set "g" "${g}+inc1";',
      'set "l" "local-in-inc1";',
      'fileinto "inc1-${g}-[${l}]";',
      'return;',
      'fileinto "after-return";',
    ].join('\n'),
    'personal:inc2': 'require ["fileinto"]; fileinto "inc2"; stop;',
    'personal:inc3': 'require ["variables", "fileinto"]; fileinto "inc3-[${g}]";',
    'personal:inc4': 'require ["variables", "fileinto"]; fileinto "[${l}]"; set "l" "set"; if header :matches "subject" "H*" {}',
    'personal:inc5': 'require ["variables", "fileinto"]; fileinto "inc5-m[${1}]";',
    'global:spam_tests': 'require "fileinto"; if header :contains "subject" "money" { fileinto "spam"; }',
    'personal:plain': 'require "fileinto"; fileinto "${no-variables-here}";',
  };

  it.each([
    [
      'globals are shared, locals are not; :once after a plain include skips',
      'global "g"; set "g" "main"; set "l" "mainlocal"; include "inc1"; include "inc1"; include :once "inc1"; fileinto "main-${g}-${l}";',
      ['fileinto inc1-main+inc1-[local-in-inc1]', 'fileinto inc1-main+inc1+inc1-[local-in-inc1]', 'fileinto main-main+inc1+inc1-mainlocal'],
    ],
    [
      ':once, :once, then a plain include',
      'include :once "inc1"; include :once "inc1"; include "inc1"; fileinto "end";',
      ['fileinto inc1-+inc1-[local-in-inc1]', 'fileinto inc1-+inc1+inc1-[local-in-inc1]', 'fileinto end'],
    ],
    [
      'a variable not declared global here stays local',
      'set "g" "x"; include "inc3"; include "inc1"; fileinto "main-${g}";',
      ['fileinto inc3-[]', 'fileinto inc1-+inc1-[local-in-inc1]', 'fileinto main-x'],
    ],
    ['stop in an included script ends everything', 'include "inc2"; fileinto "not-reached";', ['fileinto inc2']],
    ['return in the main script ends it', 'fileinto "a"; return; fileinto "b";', ['fileinto a']],
    ['a missing :optional script is skipped', 'include :optional "missing"; fileinto "ok";', ['fileinto ok']],
    ['each inclusion starts with fresh locals', 'include "inc4"; include "inc4";', ['fileinto []']],
    [
      'match variables belong to each script',
      'if header :matches "subject" "*o W*" {} include "inc5"; include "inc4"; fileinto "main-m[${1}]";',
      ['fileinto inc5-m[]', 'fileinto []', 'fileinto main-m[Hell]'],
    ],
    ['the global namespace', 'set "global.x" "gx"; include "inc3"; fileinto "m-${global.x}";', ['fileinto inc3-[]', 'fileinto m-gx']],
    ['an included script without "variables" keeps ${...} text', 'include "plain";', ['fileinto ${no-variables-here}']],
    ['include :global', 'include :global "spam_tests";', ['implicit keep']],
  ])('%s', (_name, source, expected) => {
    expect(outcome(`require ["include", "variables", "fileinto"]; ${source}`, { includes })).toEqual(expected);
  });

  it('a stop in an included script is reported; a return in the main script is not a stop', () => {
    expect(runScript('require "include"; include "inc2";', { includes }).result.stopped).toBe(true);
    expect(runScript('require "include"; return;').result.stopped).toBe(false);
  });

  it('RFC 6609 section 3.3: global variables for a shared test', () => {
    const shared = {
      'personal:subject_tests': [
        'require ["include", "variables"];',
        'global ["test", "test_mailbox"];',
        'if header :contains "Subject" "${test}" {',
        '    set "test_mailbox" "spam-${test}";',
        '}',
      ].join('\n'),
    };
    const script = `
      require ["variables", "include", "relational", "fileinto"];
      global "test";
      global "test_mailbox";

      set "test" "$$";
      include "subject_tests";

      set "test" "Make money";
      include "subject_tests";

      if string :count "eq" "\${test_mailbox}" "1" {
          fileinto "\${test_mailbox}";
          stop;
      }`;
    const message = 'From: a@b.c\nSubject: Make money fast\n\nbody\n';
    expect(outcome(script, { includes: shared, message })).toEqual(['fileinto spam-Make money']);
    expect(outcome(script, { includes: shared })).toEqual(['implicit keep']);
  });
});
