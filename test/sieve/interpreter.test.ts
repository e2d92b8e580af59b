// The interpreter on RFC 5228 (base language): control flow, the core tests,
// the implicit keep, action merging, conflicts and limits. Expected results
// are what Pigeonhole 0.5.19 printed (sieve-test) or did (dovecot-lda) for
// the same script and message (MESSAGE in ./interpreter-harness.ts).

import { describe as group, expect, it } from 'vitest';
import { SieveRuntimeError } from '../../src/sieve/run-types.js';
import { isSameMailbox } from '../../src/sieve/interpreter.js';
import { MESSAGE, outcome, runScript, stored } from './interpreter-harness.js';

function runtimeError(source: string, options?: Parameters<typeof runScript>[1]): SieveRuntimeError {
  try {
    runScript(source, options);
  } catch (error) {
    if (error instanceof SieveRuntimeError) return error;
    throw error;
  }
  throw new Error('the script ran without a runtime error');
}

group('control flow', () => {
  it.each([
    ['an empty script keeps implicitly', '', ['implicit keep']],
    ['keep', 'keep;', ['keep']],
    ['discard', 'discard;', ['discard']],
    ['fileinto', 'require "fileinto"; fileinto "X";', ['fileinto X']],
    ['redirect', 'redirect "a@b.c";', ['redirect a@b.c']],
    ['if true', 'if true { discard; } else { keep; }', ['discard']],
    ['if false → else', 'if false { discard; } else { keep; }', ['keep']],
    [
      'the first true elsif',
      'require "fileinto"; if false { fileinto "a"; } elsif true { fileinto "b"; } elsif true { fileinto "c"; } else { fileinto "d"; }',
      ['fileinto b'],
    ],
    ['no branch taken', 'if false { discard; } elsif false { keep; }', ['implicit keep']],
    ['stop ends the script', 'require "fileinto"; fileinto "a"; stop; fileinto "b";', ['fileinto a']],
    ['stop inside a block', 'require "fileinto"; if true { fileinto "a"; stop; } fileinto "b";', ['fileinto a']],
    ['stop keeps the implicit keep', 'stop; discard;', ['implicit keep']],
    ['keep and discard both stay (dovecot-lda stores); keep comes last', 'keep; discard;', ['discard', 'keep']],
    ['discard then keep', 'discard; keep;', ['discard', 'keep']],
    ['nested blocks', 'if true { if false { discard; } else { if true { keep; } } }', ['keep']],
  ])('%s', (_name, source, expected) => {
    expect(outcome(source)).toEqual(expected);
  });

  it('reports stop', () => {
    expect(runScript('stop;').result.stopped).toBe(true);
    expect(runScript('keep;').result.stopped).toBe(false);
  });
});

group('tests (RFC 5228 section 5)', () => {
  // each source discards when the test is true
  it.each([
    ['true', 'true', true],
    ['false', 'false', false],
    ['not false', 'not false', true],
    ['allof: all true', 'allof(true, true)', true],
    ['allof: one false', 'allof(true, false)', false],
    ['anyof: one true', 'anyof(false, true)', true],
    ['anyof: none', 'anyof(false, false)', false],
    ['header :is, decoded', 'header :is "subject" "Hello Wörld"', true],
    ['header :is, casemap (default comparator)', 'header :is "subject" "hello wörld"', true],
    ['header :is, i;octet', 'header :comparator "i;octet" :is "subject" "hello wörld"', false],
    ['header :contains on any field', 'header :contains "x-spam" "no"', true],
    ['header :contains "" on a missing header', 'header :contains "x-nope" ""', false],
    ['header :contains "" on a present header', 'header :contains "subject" ""', true],
    ['header :matches', 'header :matches "subject" "Hello *"', true],
    ['header: several names and keys', 'header :is ["x-nope", "x-spam"] ["maybe", "yes"]', true],
    ['header name case does not matter', 'header :is "SUBJECT" "Hello Wörld"', true],
    ['address :all', 'address :is "to" "carol@example.net"', true],
    ['address :localpart keeps the detail', 'address :is :localpart "to" "bob+box"', true],
    ['address :domain on two headers', 'address :matches :domain ["from", "to"] "*.net"', true],
    ['address: display names are not compared', 'address :is "from" "Alice"', false],
    ['envelope from', 'envelope :is "from" "alice@example.com"', true],
    ['envelope to :localpart', 'envelope :is :localpart "to" "bob+box"', true],
    ['envelope to :domain', 'envelope :is :domain "to" "EXAMPLE.ORG"', true],
    ['exists: all present', 'exists ["x-spam", "subject"]', true],
    ['exists: one missing', 'exists ["x-spam", "nope"]', false],
    ['size :over, one below the size', 'size :over 283', true],
    ['size :over the size', 'size :over 284', false],
    ['size :under the size', 'size :under 284', false],
    ['size :under, one above', 'size :under 285', true],
    ['size :over 1K', 'size :over 1K', false],
  ])('%s', (_name, test, expected) => {
    const source = `require "envelope"; if ${test} { discard; }`;
    expect(outcome(source)).toEqual(expected ? ['discard'] : ['implicit keep']);
  });

  it('MESSAGE is 284 octets, as m1.eml was for Pigeonhole', () => {
    expect(Buffer.byteLength(MESSAGE)).toBe(284);
  });

  it.each([
    ['anyof stops at the first true test', 'if anyof(true, duplicate) { keep; }', 0],
    ['allof stops at the first false test', 'if allof(false, duplicate) { keep; }', 0],
    ['anyof goes on past a false test', 'if anyof(false, duplicate) { keep; }', 1],
    ['allof goes on past a true test', 'if allof(true, duplicate) { keep; }', 1],
  ])('%s', (_name, test, queries) => {
    const { duplicateQueries } = runScript(`require "duplicate"; ${test}`);
    expect(duplicateQueries).toHaveLength(queries);
  });
});

group('address test on unusual header fields', () => {
  const message = [
    'From: "Joe Q." <joe@EXAMPLE.com>',
    'To: undisclosed-recipients:;',
    'Cc: group: a@b.c, "x y" <x.y@d.e>;, plain@f.g',
    'Sender: <>',
    'Reply-To: Weird <@route:joe@x.org>',
    'Subject: test',
    '',
    'body',
    '',
  ].join('\n');

  it.each([
    // Pigeonhole: an unparsable field is one value, its text, for :all only
    ['address :all :is "to" "undisclosed-recipients:;"', true],
    ['address :localpart :matches "to" "*"', false],
    ['address :all :is "sender" "<>"', true],
    ['address :localpart :matches "sender" "*"', false],
    ['address :count "eq" "to" "1"', true],
    // groups are opened up
    ['address :all :is "cc" "x.y@d.e"', true],
    ['address :localpart :is "cc" "plain"', true],
    ['address :count "eq" "cc" "3"', true],
    // the domain keeps its case; the casemap comparator ignores it
    ['address :domain :is :comparator "i;octet" "from" "EXAMPLE.com"', true],
    ['address :all :is "reply-to" "joe@x.org"', true],
  ])('%s', (test, expected) => {
    const source = `require ["relational", "comparator-i;ascii-numeric"]; if ${test} { discard; }`;
    expect(outcome(source, { message })).toEqual(expected ? ['discard'] : ['implicit keep']);
  });
});

group('envelope', () => {
  it.each([
    // dovecot-lda with -f "": the null sender is one empty value for every part
    ['null sender :all ""', '', 'envelope :all :is "from" ""', true],
    ['null sender :localpart ""', '', 'envelope :localpart :is "from" ""', true],
    ['null sender :domain ""', '', 'envelope :domain :is "from" ""', true],
    ['null sender :user ""', '', 'envelope :user :is "from" ""', true],
    ['null sender :detail ""', '', 'envelope :detail :is "from" ""', true],
    ['null sender counts once', '', 'envelope :count "eq" "from" "1"', true],
    ['a sender', 'alice@example.com', 'envelope :all :is "from" ""', false],
  ])('%s', (_name, from, test, expected) => {
    const source = `require ["envelope", "subaddress", "relational", "comparator-i;ascii-numeric"]; if ${test} { discard; }`;
    expect(outcome(source, { envelope: { from } })).toEqual(expected ? ['discard'] : ['implicit keep']);
  });

  it.each([
    ['auth is compared as it is', { auth: 'vmail' }, 'envelope :is "auth" "vmail"', true],
    ['no auth: no value', {}, 'envelope :matches "auth" "*"', false],
  ])('%s', (_name, envelope, test, expected) => {
    expect(outcome(`require "envelope"; if ${test} { discard; }`, { envelope })).toEqual(
      expected ? ['discard'] : ['implicit keep'],
    );
  });
});

group('implicit keep', () => {
  it.each([
    ['fileinto cancels it', 'require "fileinto"; fileinto "X";', ['fileinto X']],
    ['fileinto :copy does not', 'require ["fileinto", "copy"]; fileinto :copy "X";', ['fileinto X :copy', 'implicit keep']],
    ['redirect cancels it', 'redirect "a@b.c";', ['redirect a@b.c']],
    ['redirect :copy does not', 'require "copy"; redirect :copy "a@b.c";', ['redirect a@b.c :copy', 'implicit keep']],
    ['discard cancels it', 'discard;', ['discard']],
    ['reject cancels it', 'require "reject"; reject "no";', ['reject no']],
    ['vacation does not', 'require "vacation"; vacation :handle "h" "away";', ['vacation h', 'implicit keep']],
    ['explicit keep replaces it', 'keep;', ['keep']],
  ])('%s', (_name, source, expected) => {
    expect(outcome(source)).toEqual(expected);
  });
});

group('duplicate actions merge (Pigeonhole 0.5.19 / dovecot-lda)', () => {
  it.each([
    ['the same fileinto twice', 'require "fileinto"; fileinto "X"; fileinto "X";', ['fileinto X']],
    ['fileinto differing in case', 'require "fileinto"; fileinto "x"; fileinto "X";', ['fileinto x', 'fileinto X']],
    ['INBOX in any case, first name kept', 'require "fileinto"; fileinto "inbox"; fileinto "INBOX";', ['fileinto inbox']],
    ['INBOX/a is not inbox/a', 'require "fileinto"; fileinto "INBOX/a"; fileinto "inbox/a";', ['fileinto INBOX/a', 'fileinto inbox/a']],
    ['fileinto INBOX then keep: two actions, the keep deferred', 'require "fileinto"; fileinto "INBOX"; keep;', ['fileinto INBOX', 'keep']],
    ['keep then fileinto INBOX: the keep deferred', 'require "fileinto"; keep; fileinto "INBOX";', ['fileinto INBOX', 'keep']],
    ['keep twice', 'keep; keep;', ['keep']],
    ['discard twice', 'discard; discard;', ['discard']],
    ['the same redirect twice', 'redirect "a@b.c"; redirect "a@b.c";', ['redirect a@b.c']],
    ['redirect: forms of one address', 'redirect "a@b.c"; redirect "<a@b.c>"; redirect "Bob <a@B.C>"; redirect "a@b.c (x)";', ['redirect a@b.c']],
    ['redirect: local part case matters', 'redirect "A@b.c"; redirect "a@b.c";', ['redirect A@b.c', 'redirect a@b.c']],
    ['fileinto :copy then fileinto: :copy stays', 'require ["fileinto", "copy"]; fileinto :copy "X"; fileinto "X";', ['fileinto X :copy', 'implicit keep']],
    ['fileinto then fileinto :copy', 'require ["fileinto", "copy"]; fileinto "X"; fileinto :copy "X";', ['fileinto X']],
    ['fileinto then fileinto :create: no :create (dovecot-lda: "Mailbox doesn\'t exist")', 'require ["fileinto", "mailbox"]; fileinto "X"; fileinto :create "X";', ['fileinto X']],
    ['fileinto :create then fileinto', 'require ["fileinto", "mailbox"]; fileinto :create "X"; fileinto "X";', ['fileinto X :create']],
    ['redirect :copy then redirect', 'require "copy"; redirect :copy "a@b.c"; redirect "a@b.c";', ['redirect a@b.c :copy', 'implicit keep']],
    ['redirect then redirect :copy', 'require "copy"; redirect "a@b.c"; redirect :copy "a@b.c";', ['redirect a@b.c']],
    ['fileinto :copy INBOX and keep', 'require ["fileinto", "copy"]; fileinto :copy "INBOX"; keep;', ['fileinto INBOX :copy', 'keep']],
  ])('%s', (_name, source, expected) => {
    expect(outcome(source)).toEqual(expected);
  });

  it.each([
    ['fileinto INBOX and keep', 'require "fileinto"; fileinto "INBOX"; keep;', 'INBOX', ['INBOX']],
    ['keep and fileinto INBOX', 'require "fileinto"; keep; fileinto "INBOX";', 'INBOX', ['INBOX']],
    ['fileinto :copy INBOX', 'require ["fileinto", "copy"]; fileinto :copy "INBOX";', 'INBOX', ['INBOX']],
    ['keep goes to the -m mailbox', 'require "fileinto"; fileinto "Foo"; fileinto "INBOX"; keep;', 'Foo', ['Foo', 'INBOX']],
  ])('dovecot-lda stores once: %s', (_name, source, defaultMailbox, expected) => {
    expect(stored(runScript(source, { defaultMailbox }).result, defaultMailbox)).toEqual(expected);
  });

  it.each([
    ['INBOX', 'inbox', true],
    ['Inbox', 'INBOX', true],
    ['X', 'X', true],
    ['X', 'x', false],
    ['INBOX/a', 'inbox/a', false],
  ])('isSameMailbox(%s, %s) = %s', (a, b, expected) => {
    expect(isSameMailbox(a, b)).toBe(expected);
  });
});

group('conflicting actions are runtime errors', () => {
  it.each([
    [
      'reject after fileinto',
      'require ["reject", "fileinto"];\nfileinto "X";\nreject "no";',
      'reject/ereject action conflicts with other action: the store action (script: line 2) tries to deliver the message',
      3,
    ],
    [
      'fileinto after reject (reported at the reject)',
      'require ["reject", "fileinto"];\nreject "no";\n\nfileinto "X";',
      'reject/ereject action conflicts with other action: the store action (script: line 4) tries to deliver the message',
      2,
    ],
    [
      'reject after redirect',
      'require "reject";\nredirect "a@b.c";\nreject "no";',
      'reject/ereject action conflicts with other action: the redirect action (script: line 2) tries to deliver the message',
      3,
    ],
    [
      'reject after fileinto :copy',
      'require ["reject", "fileinto", "copy"];\nfileinto :copy "X";\nreject "no";',
      'reject/ereject action conflicts with other action: the store action (script: line 2) tries to deliver the message',
      3,
    ],
    [
      'two rejects',
      'require "reject";\nreject "a";\nreject "b";',
      'duplicate reject/ereject action not allowed (previously triggered one was here: script: line 2)',
      3,
    ],
    [
      'reject and ereject',
      'require ["reject", "ereject"];\nreject "a";\nereject "b";',
      'duplicate reject/ereject action not allowed (previously triggered one was here: script: line 2)',
      3,
    ],
    [
      'two vacations, even with other handles',
      'require "vacation";\nvacation :handle "a" "x";\nvacation :handle "b" "y";',
      'duplicate vacation action not allowed (previously triggered one was here: script: line 2)',
      3,
    ],
    [
      'reject after vacation',
      'require ["reject", "vacation"];\nvacation "x";\nreject "b";',
      'reject/ereject action conflicts with other action: the vacation action (script: line 2) also sends a response to the sender',
      3,
    ],
    [
      'vacation after reject',
      'require ["reject", "vacation"];\nreject "b";\nvacation "x";',
      'vacation action conflicts with other action: the reject action (script: line 2) also sends a response back to the sender',
      3,
    ],
  ])('%s', (_name, source, message, line) => {
    const error = runtimeError(source);
    expect(error.message).toBe(message);
    expect(error.line).toBe(line);
  });

  it.each([
    // dovecot-lda defers the explicit keep: it does not conflict with reject
    ['keep then reject', 'require "reject"; keep; reject "no";', ['reject no', 'keep']],
    ['reject then keep', 'require "reject"; reject "no"; keep;', ['reject no', 'keep']],
    ['discard and reject', 'require "reject"; discard; reject "b";', ['discard', 'reject b']],
  ])('%s go together', (_name, source, expected) => {
    expect(outcome(source)).toEqual(expected);
  });
});

group('limits', () => {
  it.each([
    [
      'more actions than sieve_max_actions',
      'require "fileinto";\nfileinto "a"; fileinto "b"; fileinto "c";\nfileinto "d";',
      { maxActions: 3 },
      'total number of actions exceeds policy limit (4 > 3)',
      3,
    ],
    [
      'keep and fileinto INBOX count as two (dovecot-lda)',
      'require "fileinto";\nfileinto "INBOX";\nkeep;\ndiscard;',
      { maxActions: 2 },
      'total number of actions exceeds policy limit (3 > 2)',
      4,
    ],
    [
      'more redirects than sieve_max_redirects',
      'redirect "a@b.c";\nredirect "b@b.c";\nredirect "c@b.c";',
      { maxRedirects: 2 },
      'number of redirect actions exceeds policy limit (3 > 2)',
      3,
    ],
    [
      'redirect :copy counts too',
      'require "copy";\nredirect "a@b.c"; redirect :copy "b@b.c"; redirect "a@b.c";\nredirect "c@b.c";',
      { maxRedirects: 2 },
      'number of redirect actions exceeds policy limit (3 > 2)',
      3,
    ],
  ])('%s', (_name, source, limits, message, line) => {
    const error = runtimeError(source, { limits });
    expect(error.message).toBe(message);
    expect(error.line).toBe(line);
  });

  it.each([
    ['merged duplicates do not count', 'require "fileinto"; fileinto "a"; fileinto "b"; fileinto "c"; fileinto "c"; keep; keep;', { maxActions: 4 }],
    ['merged keeps do not count', 'keep; keep; discard;', { maxActions: 2 }],
    ['0 means no limit', 'require "fileinto"; fileinto "a"; fileinto "b"; fileinto "c";', { maxActions: 0 }],
  ])('%s', (_name, source, limits) => {
    expect(() => runScript(source, { limits })).not.toThrow();
  });

  it('a script that runs past its CPU budget stops with a runtime error', () => {
    const source = 'if header :matches "subject" "*x*y*z*" { discard; }\n'.repeat(15000);
    expect(runtimeError(source, { limits: { maxCpuMs: 1 } }).message).toBe('execution exceeded CPU time limit');
  });

  it('10,000 distinct actions stop at sieve_max_actions', () => {
    const source = `require "fileinto";\n${Array.from({ length: 10000 }, (_, i) => `fileinto "f${i}";`).join('\n')}`;
    expect(runtimeError(source).message).toBe('total number of actions exceeds policy limit (33 > 32)');
  });
});

group('redirect addresses', () => {
  it.each([
    ['"a b"@X.y', 'redirect "a b"@x.y'],
    ['a@[1.2.3.4]', 'redirect a@[1.2.3.4]'],
  ])('%s', (address, expected) => {
    const source = `require "variables"; set "a" "${address.replace(/"/g, '\\"')}"; redirect "\${a}";`;
    expect(outcome(source)).toEqual([expected]);
  });

  it.each([
    ['', "specified redirect address '' is invalid: empty address"],
    ['a@b.c, d@e.f', "specified redirect address 'a@b.c, d@e.f' is invalid: not a single address (found ',')"],
  ])('an invalid address from a variable: %j', (address, message) => {
    const error = runtimeError(`require "variables";\nset "a" "${address}";\nredirect "\${a}";`);
    expect(error.message).toBe(message);
    expect(error.line).toBeUndefined();
  });

  it.each(['foo', 'a@', '@b.c'])('%j is invalid', (address) => {
    expect(runtimeError(`require "variables"; set "a" "${address}"; redirect "\${a}";`).message).toMatch(
      new RegExp(`^specified redirect address '${address}' is invalid: `),
    );
  });
});

group('RFC 5228 section 9: the example script', () => {
  const script = `
#
# Example Sieve Filter
# Declare any optional features or extension used by the script
#
require ["fileinto"];

#
# Handle messages from known mailing lists
# Move messages from IETF filter discussion list to filter mailbox
#
if header :is "Sender" "owner-ietf-mta-filters@imc.org"
        {
        fileinto "filter";  # move to "filter" mailbox
        }
#
# Keep all messages to or from people in my company
#
elsif address :DOMAIN :is ["From", "To"] "example.com"
        {
        keep;               # keep in "In" mailbox
        }

#
# Try and catch unsolicited email.  If a message is not to me,
# or it contains a subject known to be spam, file it away.
#
elsif anyof (NOT address :all :contains
               ["To", "Cc", "Bcc"] "me@example.com",
             header :matches "subject"
               ["*make*money*fast*", "*university*dipl*mas*"])
        {
        fileinto "spam";   # move to "spam" mailbox
        }
else
        {
        # Move all other (non-company) mail to "personal"
        # mailbox.
        fileinto "personal";
        }
`;
  const message = (fields: string) => `${fields}\nSubject: hi\n\nbody\n`;

  it.each([
    ['from the list', 'Sender: owner-ietf-mta-filters@imc.org\nFrom: x@y.org\nTo: me@example.com', ['fileinto filter']],
    ['from the company', 'From: boss@example.com\nTo: x@y.org', ['keep']],
    ['not to me', 'From: x@y.org\nTo: other@y.org', ['fileinto spam']],
    ['to me (Cc)', 'From: x@y.org\nTo: other@y.org\nCc: me@example.com', ['fileinto personal']],
  ])('%s', (_name, fields, expected) => {
    expect(outcome(script, { message: message(fields) })).toEqual(expected);
  });

  it.each([
    ['spam by subject', 'Make Money Fast now', ['fileinto spam']],
    ['no spam subject', 'hello', ['fileinto personal']],
  ])('to me at another domain: %s', (_name, subject, expected) => {
    const message = `From: x@y.org\nTo: me@example.com.au\nSubject: ${subject}\n\nbody\n`;
    expect(outcome(script, { message })).toEqual(expected);
  });
});
