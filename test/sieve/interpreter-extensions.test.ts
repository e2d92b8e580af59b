// The interpreter on the other extensions: relational (RFC 5231), subaddress
// (5233), body (5173), date and index (5260), environment (5183), ihave and
// error (5463), mailbox (5490), duplicate (7352), vacation (5230/6131), copy
// (3894), reject/ereject (5429), with the RFCs' examples. Expected results
// are what Pigeonhole 0.5.19 printed (sieve-test) or did (dovecot-lda) for
// the same script and message; Pigeonhole 0.5.19 has no ereject, so
// ereject follows RFC 5429 with reject's rules.

import { describe as group, expect, it } from 'vitest';
import { SieveRuntimeError } from '../../src/sieve/run-types.js';
import { DEFAULT_LIMITS, outcome, runScript } from './interpreter-harness.js';

/** m4.eml of the Pigeonhole runs: two Received fields, a multipart body. */
const MULTIPART = [
  'Received: from a by b; Sat, 28 Jun 2025 10:00:00 +0000',
  'Received: from c by d; Mon, 30 Jun 2025 23:30:00 -0500',
  'Subject: example',
  'Date: Mon, 30 Jun 2025 09:15:00 -0700',
  'From: boss@example.com',
  'To: foo@example.com, baz@example.com',
  'CC: qux@example.com',
  'X-Priority: 2',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="b1"',
  '',
  '--b1',
  'Content-Type: text/plain; charset=utf-8',
  'Content-Transfer-Encoding: quoted-printable',
  '',
  'The missile =C3=A9 coordinates are secret.',
  '--b1',
  'Content-Type: text/html; charset=utf-8',
  '',
  '<html><body><p>The project schedule &amp; plan</p></body></html>',
  '--b1',
  'Content-Type: audio/mpeg',
  'Content-Transfer-Encoding: base64',
  '',
  'AAAA',
  '--b1--',
  '',
].join('\n');

function fileintos(extensions: string[], source: string, options?: Parameters<typeof outcome>[1]): string[] {
  return outcome(`require ${JSON.stringify(['fileinto', ...extensions])}; ${source}`, options);
}

group('relational (RFC 5231)', () => {
  it('section 6: the example script', () => {
    const script = `
      if header :value "lt" :comparator "i;ascii-numeric" ["x-priority"] ["3"] {
         fileinto "Priority";
      } elsif address :count "gt" :comparator "i;ascii-numeric" ["to"] ["5"] {
         fileinto "SPAM";
      } elsif address :value "gt" :all :comparator "i;ascii-casemap" ["from"] ["M"] {
         fileinto "From N-Z";
      } else {
         fileinto "From A-M";
      }
      if allof ( address :count "eq" :comparator "i;ascii-numeric" ["to", "cc"] ["1"],
                 address :all :comparator "i;ascii-casemap" ["to", "cc"] ["me@foo.example.com"] ) {
         fileinto "Only me";
      }`;
    const extensions = ['relational', 'comparator-i;ascii-numeric'];
    expect(fileintos(extensions, script, { message: MULTIPART })).toEqual(['fileinto Priority']);
    const noPriority = MULTIPART.replace('X-Priority: 2\n', '');
    expect(fileintos(extensions, script, { message: noPriority })).toEqual(['fileinto From A-M']);
    const onlyMe = 'From: zed@example.com\nTo: me@foo.example.com\nSubject: x\n\nbody\n';
    expect(fileintos(extensions, script, { message: onlyMe })).toEqual(['fileinto From N-Z', 'fileinto Only me']);
  });

  it.each([
    ['address :count "ge" :comparator "i;ascii-numeric" ["to", "cc"] ["3"]', true],
    ['header :count "ge" :comparator "i;ascii-numeric" ["received"] ["2"]', true],
    ['header :count "ge" :comparator "i;ascii-numeric" ["received", "subject"] ["3"]', true],
    ['header :count "ge" :comparator "i;ascii-numeric" ["to", "cc"] ["3"]', false],
  ])('section 6: %s', (test, expected) => {
    const source = `require ["relational", "comparator-i;ascii-numeric"]; if ${test} { discard; }`;
    expect(outcome(source, { message: MULTIPART })).toEqual(expected ? ['discard'] : ['implicit keep']);
  });
});

group('subaddress (RFC 5233)', () => {
  const script = `
    # File all messages to postmaster into a single mailbox, ignoring the :detail part.
    if envelope :user "to" "postmaster" {
        fileinto "inbox.postmaster";
        stop;
    }
    # File mailing list messages (subscribed as "ken+mta-filters").
    if envelope :detail "to" "mta-filters" {
        fileinto "inbox.ietf-mta-filters";
    }
    # Redirect all mail sent to "ken+foo".
    if envelope :detail "to" "foo" {
        redirect "ken@example.net";
    }`;

  it.each([
    ['postmaster@example.com', ['fileinto inbox.postmaster']],
    ['postmaster+x@example.com', ['fileinto inbox.postmaster']],
    ['ken+mta-filters@example.com', ['fileinto inbox.ietf-mta-filters']],
    ['ken+foo@example.com', ['redirect ken@example.net']],
    ['ken@example.com', ['implicit keep']],
  ])('section 6 example, envelope to %s', (to, expected) => {
    expect(fileintos(['envelope', 'subaddress'], script, { envelope: { to } })).toEqual(expected);
  });

  it.each([
    ['ken+@example.com', 'envelope :detail "to" ""', true],
    ['ken@example.com', 'envelope :detail :matches "to" "*"', false],
    ['ken-x@example.com', 'envelope :detail "to" "x"', false],
  ])('%s: %s', (to, test, expected) => {
    const source = `require ["envelope", "subaddress"]; if ${test} { discard; }`;
    expect(outcome(source, { envelope: { to } })).toEqual(expected ? ['discard'] : ['implicit keep']);
  });

  it('recipient_delimiter may hold several characters', () => {
    const source = 'require ["envelope", "subaddress"]; if envelope :detail "to" "x" { discard; }';
    expect(outcome(source, { envelope: { to: 'ken-x@example.com' }, recipientDelimiter: '+-' })).toEqual(['discard']);
  });

  it('address :detail and :user on a header', () => {
    const message = 'From: x@y.org\nTo: ken+mta-filters@example.com\nSubject: s\n\nb\n';
    const source = 'if address :detail "to" "mta-filters" { fileinto "d"; } if address :user "to" "ken" { fileinto "u"; }';
    expect(fileintos(['subaddress'], source, { message })).toEqual(['fileinto d', 'fileinto u']);
  });
});

group('body (RFC 5173)', () => {
  it.each([
    ['body :content "text" :contains ["missile", "coordinates"]', true],
    ['body :content "audio" :contains ""', true],
    ['body :content "image" :contains ""', false],
    ['body :text :contains "project schedule"', true],
    ['body :raw :contains "=C3=A9"', true],
    ['body :contains "é coordinates"', true],
    ['body :content "text/html" :contains "<p>"', true],
    ['body :text :contains "<p>"', false],
  ])('%s', (test, expected) => {
    expect(outcome(`require "body"; if ${test} { discard; }`, { message: MULTIPART })).toEqual(
      expected ? ['discard'] : ['implicit keep'],
    );
  });

  it('a body the host did not load reads as empty', () => {
    const source = 'require "body"; if body :contains "Hello" { discard; }';
    expect(outcome(source)).toEqual(['discard']);
    expect(outcome(source, { withoutBody: true })).toEqual(['implicit keep']);
  });
});

group('date and index (RFC 5260)', () => {
  it.each([
    ['std11 in the local zone (UTC here)', 'date :matches "date" "std11" "*"', 'Mon, 30 Jun 2025 16:15:00 +0000'],
    [':zone', 'date :zone "+0530" :matches "date" "iso8601" "*"', '2025-06-30T21:45:00+05:30'],
    [':originalzone zone', 'date :originalzone :matches "date" "zone" "*"', '-0700'],
    ['julian', 'date :matches "date" "julian" "*"', '60856'],
    ['an invalid :zone means the local zone', 'date :zone "bogus" :matches "date" "time" "*"', '16:15:00'],
    ['Received: the first field, after the last ";"', 'date :matches "received" "date" "*"', '2025-06-28'],
    [':index 2', 'date :index 2 :matches "received" "date" "*"', '2025-07-01'],
    [':index 1 :last', 'date :zone "-0500" :index 1 :last :matches "received" "iso8601" "*"', '2025-06-30T23:30:00-05:00'],
  ])('%s', (_name, test, expected) => {
    expect(fileintos(['date', 'index', 'variables'], `if ${test} { fileinto "\${0}"; }`, { message: MULTIPART })).toEqual([
      `fileinto ${expected}`,
    ]);
  });

  it.each([
    [
      'section 7: urgent during office hours',
      'if allof(header :is "from" "boss@example.com", date :value "ge" :originalzone "date" "hour" "09", date :value "lt" :originalzone "date" "hour" "17") { fileinto "urgent"; }',
      ['fileinto urgent'],
    ],
    [
      'section 7: received on a weekend',
      'if anyof(date :is "received" "weekday" "0", date :is "received" "weekday" "6") { fileinto "weekend"; }',
      ['fileinto weekend'],
    ],
    [
      'section 7: file by month and year',
      'if currentdate :matches "month" "*" { set "month" "${1}"; } if currentdate :matches "year" "*" { set "year" "${1}"; } fileinto "${month}-${year}";',
      ['fileinto 04-2025'],
    ],
    [
      'section 7: vacation in a date range',
      'if allof(currentdate :value "ge" "date" "2025-03-30", currentdate :value "le" "date" "2025-04-07") { vacation :days 7 "I\'m away during the first week in April."; }',
      ["vacation I'm away during the first week in April.<default-subject><default-from><NO-MIME>", 'implicit keep'],
    ],
    [
      'section 6 (index): a date of the second Received field',
      'if date :value "gt" :index 2 :zone "-0500" "received" "iso8601" "2025-06-30T09:00:00-05:00" { redirect "aftercutoff@example.org"; }',
      ['redirect aftercutoff@example.org'],
    ],
    ['a missing header', 'if date :matches "x-nope" "date" "*" { fileinto "no"; }', ['implicit keep']],
    ['an unknown date part', 'if date :matches "date" "fortnight" "*" { fileinto "no"; }', ['implicit keep']],
    ['an unparsable date', 'if date :matches "subject" "date" "*" { fileinto "no"; }', ['implicit keep']],
  ])('%s', (_name, source, expected) => {
    const extensions = ['date', 'index', 'variables', 'relational', 'vacation'];
    expect(fileintos(extensions, source, { message: MULTIPART })).toEqual(expected);
  });

  it.each([
    ['the local zone', {}, 'currentdate :matches "iso8601" "*"', '2025-04-01T08:20:30Z'],
    ['another local zone', { localZoneOffsetMinutes: 120 }, 'currentdate :matches "std11" "*"', 'Tue, 01 Apr 2025 10:20:30 +0200'],
    [':zone', {}, 'currentdate :zone "-0130" :matches "time" "*"', '06:50:30'],
  ])('currentdate: %s', (_name, options, test, expected) => {
    expect(fileintos(['date', 'variables'], `if ${test} { fileinto "\${0}"; }`, options)).toEqual([`fileinto ${expected}`]);
  });

  it.each([
    ['header :index 2', 'header :index 2 :matches ["x-spam", "subject"] "*"', 'no'],
    ['header :index 1', 'header :index 1 :matches ["x-spam", "subject"] "*"', 'yes'],
    ['header :index 1 :last', 'header :index 1 :last :matches ["x-spam", "subject"] "*"', 'Hello Wörld'],
    ['header :index 3 :last', 'header :index 3 :last :matches ["x-spam", "subject"] "*"', 'yes'],
    ['address :index 2 picks the second field', 'address :index 2 :all :matches ["to", "cc"] "*"', 'dave@example.net'],
    ['address :index 1 :last', 'address :index 1 :last :all :matches ["to", "cc"] "*"', 'dave@example.net'],
  ])('index: %s', (_name, test, expected) => {
    expect(fileintos(['index', 'variables'], `if ${test} { fileinto "\${0}"; }`)).toEqual([`fileinto ${expected}`]);
  });

  it('index out of range: no value', () => {
    expect(fileintos(['index'], 'if header :index 3 :matches "x-spam" "*" { fileinto "x"; }')).toEqual(['implicit keep']);
  });
});

group('environment (RFC 5183)', () => {
  it.each([
    ['environment :is "name" "Pigeonhole Sieve"', true],
    ['environment :matches "location" "M*"', true],
    ['environment :contains "phase" "during"', true],
    // names are case-sensitive; an unknown item fails whatever the match type
    ['environment :matches "NAME" "*"', false],
    ['environment :contains "nope" ""', false],
    ['environment :count "eq" :comparator "i;ascii-numeric" "nope" "0"', false],
  ])('%s', (test, expected) => {
    const source = `require ["environment", "relational", "comparator-i;ascii-numeric"]; if ${test} { discard; }`;
    expect(outcome(source)).toEqual(expected ? ['discard'] : ['implicit keep']);
  });
});

group('ihave and error (RFC 5463)', () => {
  it('ihave answers from the enabled extensions', () => {
    const source =
      'require ["ihave", "fileinto"]; if ihave "fileinto" { fileinto "has-fileinto"; } if ihave ["fileinto", "bogus"] { fileinto "has-bogus"; } if ihave "vacation-seconds" { fileinto "has-vs"; }';
    expect(outcome(source)).toEqual(['fileinto has-fileinto', 'fileinto has-vs']);
    expect(outcome(source, { enabledExtensions: ['fileinto', 'ihave'] })).toEqual(['fileinto has-fileinto']);
  });

  it('error ends the run with its message and no line (as Pigeonhole logs it)', () => {
    const source = 'require ["ihave", "variables"];\nset "x" "bogus";\nif not ihave "bogus" {\n  error "${x} is not supported";\n}\nkeep;';
    let error: unknown;
    try {
      runScript(source);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(SieveRuntimeError);
    expect((error as SieveRuntimeError).message).toBe('bogus is not supported');
    expect((error as SieveRuntimeError).line).toBeUndefined();
  });
});

group('mailbox (RFC 5490)', () => {
  const script =
    'if mailboxexists "Partners" { fileinto "Partners"; } else { reject "This message was not accepted by the Mailstore"; }';

  it.each([
    [['INBOX', 'Partners'], ['fileinto Partners']],
    [['INBOX'], ['reject This message was not accepted by the Mailstore']],
  ])('section 4 example with mailboxes %j', (mailboxes, expected) => {
    expect(fileintos(['mailbox', 'reject'], script, { mailboxes })).toEqual(expected);
  });

  it('every mailbox must exist', () => {
    const source = 'if mailboxexists ["INBOX", "Nope"] { discard; }';
    expect(fileintos(['mailbox'], source)).toEqual(['implicit keep']);
  });

  it('fileinto :create', () => {
    expect(fileintos(['mailbox'], 'fileinto :create "INBOX.foo";')).toEqual(['fileinto INBOX.foo :create']);
  });
});

group('duplicate (RFC 7352)', () => {
  /** Pigeonhole's id: MD5("sieve duplicate" + "+" or "0" (:last) + "default" or "h-" + handle + value). */
  function id(value: string, handle?: string, last = false): string {
    const { createHash } = process.getBuiltinModule('node:crypto');
    return createHash('md5')
      .update(`sieve duplicate${last ? '0' : '+'}${handle !== undefined ? `h-${handle}` : 'default'}${value}`)
      .digest('hex');
  }

  it('first time: not a duplicate, the Message-ID is marked for 12 hours', () => {
    const { result, duplicateQueries } = runScript('require "duplicate"; if duplicate { discard; }');
    expect(result.actions).toEqual([]);
    expect(duplicateQueries).toEqual([{ id: id('<abc123@example.com>'), periodSeconds: 43200 }]);
    expect(result.duplicateIds).toEqual([{ id: id('<abc123@example.com>'), periodSeconds: 43200 }]);
  });

  it('seen before: a duplicate, not marked again', () => {
    const seenIds = [id('<abc123@example.com>')];
    const { result } = runScript('require "duplicate"; if duplicate { discard; }', { seenIds });
    expect(result.actions).toEqual([{ type: 'discard' }]);
    expect(result.duplicateIds).toEqual([]);
  });

  it(':last marks a duplicate again and also finds a mark made without :last', () => {
    const seenIds = [id('<abc123@example.com>')];
    const { result, duplicateQueries } = runScript('require "duplicate"; if duplicate :last { discard; }', { seenIds });
    expect(result.actions).toEqual([{ type: 'discard' }]);
    expect(duplicateQueries.map((query) => query.id)).toEqual([id('<abc123@example.com>', undefined, true), id('<abc123@example.com>')]);
    expect(result.duplicateIds).toEqual([{ id: id('<abc123@example.com>', undefined, true), periodSeconds: 43200 }]);
  });

  it.each([
    ['duplicate :uniqueid "x" :handle "h"', id('x', 'h'), 43200],
    ['duplicate :header "subject"', id('Hello Wörld'), 43200],
    ['duplicate :header "subject" :seconds 60', id('Hello Wörld'), 60],
    ['duplicate :seconds 999999', id('<abc123@example.com>'), 172800],
  ])('%s', (test, expectedId, periodSeconds) => {
    const { result } = runScript(`require "duplicate"; if ${test} { discard; }`);
    expect(result.duplicateIds).toEqual([{ id: expectedId, periodSeconds }]);
  });

  it('no value to track: not a duplicate, nothing marked', () => {
    const { result, duplicateQueries } = runScript('require "duplicate"; if duplicate :header "x-nope" { discard; }');
    expect(result.implicitKeep).toBe(true);
    expect(duplicateQueries).toEqual([]);
    expect(result.duplicateIds).toEqual([]);
  });

  it('the same check twice in a run asks the host once', () => {
    const { result, duplicateQueries } = runScript('require "duplicate"; if duplicate { keep; } if duplicate { discard; }');
    expect(duplicateQueries).toHaveLength(1);
    expect(result.duplicateIds).toHaveLength(1);
  });

  it('the hidden mark counts against sieve_max_actions', () => {
    expect(() => runScript('require "duplicate";\nif duplicate {}\nkeep;', { limits: { maxActions: 1 } })).toThrow(
      'total number of actions exceeds policy limit (2 > 1)',
    );
  });

  it('section 3 example: alerts', () => {
    const source =
      'if header :matches "subject" "ALERT: *" { if duplicate :seconds 60 :uniqueid "${1}" { setflag "\\\\seen"; } fileinto "Alerts"; }';
    const message = 'From: monitor@example.com\nSubject: ALERT: disk full\n\nbody\n';
    const extensions = ['duplicate', 'variables', 'imap4flags'];
    expect(fileintos(extensions, source, { message })).toEqual(['fileinto Alerts']);
    expect(fileintos(extensions, source, { message, seenIds: [id('disk full')] })).toEqual(['fileinto Alerts +flags \\Seen']);
  });

  it('section 3 example: discard duplicates by handle', () => {
    const source = 'if duplicate :header "X-Event-ID" :handle "notifier" { discard; }';
    const message = 'From: a@b.c\nX-Event-ID: 1234\n\nbody\n';
    expect(fileintos(['duplicate'], source, { message, seenIds: [id('1234', 'notifier')] })).toEqual(['discard']);
  });
});

group('vacation (RFC 5230, RFC 6131)', () => {
  function vacationOf(source: string, options?: Parameters<typeof runScript>[1]) {
    const { result } = runScript(source, options);
    return result.actions.find((action) => action.type === 'vacation');
  }

  it('defaults: period 7 days, Pigeonhole default handle', () => {
    expect(vacationOf('require "vacation"; vacation "I am away";')).toEqual({
      type: 'vacation',
      reason: 'I am away',
      subject: undefined,
      from: undefined,
      addresses: [],
      mime: false,
      handle: 'I am away<default-subject><default-from><NO-MIME>',
      periodSeconds: 604800,
    });
  });

  it('all arguments', () => {
    const source =
      'require "vacation"; vacation :days 3 :subject "Away" :from "me@example.org" :addresses ["a@b.c", "bad address"] :mime "Content-Type: text/plain";';
    expect(vacationOf(source)).toEqual({
      type: 'vacation',
      reason: 'Content-Type: text/plain',
      subject: 'Away',
      from: 'me@example.org',
      addresses: ['a@b.c'],
      mime: true,
      handle: 'Content-Type: text/plainAwayme@example.org<MIME>',
      periodSeconds: 259200,
    });
  });

  it.each([
    ['vacation :days 0 "x";', 86400],
    ['vacation :days 100 "x";', 8640000],
    ['vacation :seconds 0 "x";', 86400],
    ['vacation :seconds 30 "x";', 86400],
    ['vacation :seconds 90000 "x";', 90000],
  ])('%s → %s s (sieve_vacation_min_period 1d, no max)', (command, periodSeconds) => {
    expect(vacationOf(`require "vacation-seconds"; ${command}`)?.periodSeconds).toBe(periodSeconds);
  });

  it('periods clamped by the configured limits', () => {
    const limits = { ...DEFAULT_LIMITS, vacationMinPeriodSeconds: 0, vacationMaxPeriodSeconds: 3600 };
    expect(vacationOf('require "vacation-seconds"; vacation :seconds 0 "x";', { limits })?.periodSeconds).toBe(0);
    expect(vacationOf('require "vacation-seconds"; vacation :days 2 "x";', { limits })?.periodSeconds).toBe(3600);
  });

  it('variables: strings expanded, the default handle is not', () => {
    const source = 'require ["vacation", "variables"]; set "r" "back soon"; vacation :subject "S ${r}" "R ${r}";';
    expect(vacationOf(source)).toMatchObject({ reason: 'R back soon', subject: 'S back soon', handle: 'R ${r}S ${r}<default-from><NO-MIME>' });
    const explicit = 'require ["vacation", "variables"]; set "r" "back"; vacation :handle "h-${r}" "x";';
    expect(vacationOf(explicit)?.handle).toBe('h-back');
  });

  it('an invalid :from from a variable is dropped; an empty :subject is no subject', () => {
    const source = 'require ["vacation", "variables"]; set "r" "not an address"; vacation :from "${r}" :subject "" "x";';
    expect(vacationOf(source)).toMatchObject({ from: undefined, subject: undefined });
  });

  it.each([
    [
      'section 4.1: subject-dependent reasons',
      'if header :contains "subject" "cyrus" { vacation "I\'m out -- send mail to cyrus-bugs"; } else { vacation "I\'m out -- call me at +1 304 555 0123"; }',
      ["vacation I'm out -- call me at +1 304 555 0123<default-subject><default-from><NO-MIME>", 'implicit keep'],
    ],
    [
      'section 4.5: :handle',
      'if header :contains "subject" "lunch" { vacation :handle "ran-away" "I\'m out and can\'t meet for lunch"; } else { vacation :handle "ran-away" "I\'m out"; }',
      ['vacation ran-away', 'implicit keep'],
    ],
    [
      'section 9: redirect for the boss, vacation for the rest',
      'if header :contains "from" "boss@example.edu" { redirect "pleeb@xanadu.example.com"; } else { vacation :handle "away" "Sorry, I\'m away, I\'ll read your message when I get around to it."; }',
      ['vacation away', 'implicit keep'],
    ],
  ])('%s', (_name, source, expected) => {
    expect(outcome(`require "vacation"; ${source}`)).toEqual(expected);
  });

  it('section 4.3: the subject from a match variable', () => {
    const source = 'require ["vacation", "variables"]; if header :matches "subject" "*" { vacation :subject "Automatic response to: ${1}" "I\'m away"; }';
    expect(vacationOf(source)?.subject).toBe('Automatic response to: Hello Wörld');
  });
});

group('copy (RFC 3894) and reject/ereject (RFC 5429)', () => {
  it.each([
    ['fileinto :copy keeps the implicit keep', 'fileinto :copy "incoming";', ['fileinto incoming :copy', 'implicit keep']],
    ['redirect :copy', 'redirect :copy "a@b.c";', ['redirect a@b.c :copy', 'implicit keep']],
  ])('%s', (_name, source, expected) => {
    expect(fileintos(['copy'], source)).toEqual(expected);
  });

  it('RFC 5429 section 2.1 example: reject a big message', () => {
    const source =
      'require ["reject"]; if size :over 100 { reject text:\nYour message is too big.  If you want to send me a big attachment,\nput it on a public web site and send me a URL.\n.\n; }';
    const [action] = runScript(source).result.actions;
    expect(action).toMatchObject({ type: 'reject', extended: false });
    expect(action?.type === 'reject' && action.reason).toMatch(
      /^Your message is too big\. {2}If you want to send me a big attachment,\r?\nput it on a public web site and send me a URL\.\r?\n$/,
    );
  });

  it('ereject', () => {
    const source = 'require "ereject"; if address :domain :is "from" "example.com" { ereject "I no longer accept mail from this domain."; }';
    expect(runScript(source).result).toMatchObject({
      actions: [{ type: 'reject', reason: 'I no longer accept mail from this domain.', extended: true }],
      implicitKeep: false,
    });
  });
});
