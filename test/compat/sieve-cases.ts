// The Sieve rows of the side-by-side table (./sieve.test.ts runs them): every
// RFC 5228 command and test, the extensions Pigeonhole enables by default,
// outgoing mail (redirect, reject, vacation) through the recording sendmail,
// the script sequence (sieve_before/_after/_default, include), and errors and
// limits that must leave the message in INBOX. Each case says what dovecot-lda
// + Pigeonhole do with it (`dovecot`), checked before Dovetail is compared.
// Setup helpers run as root and chown what they make.

import { mkdirSync, chownSync, lchownSync, readFileSync, writeFileSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { CompatCase } from './harness.js';
import { mailUid, mailGid, MAIL_USER } from '../e2e/harness.js';

export interface DovecotOutcome {
  /** exit status of each delivery; default 0 for each */
  statuses?: number[];
  /** where the messages landed (harness landedMessages): "Maildir/new", "Maildir/.work/cur FS", "inbox Status: RO" */
  landed: string[];
  /** how many messages went to sendmail; default 0 */
  sent?: number;
  /** lines that must be among the description of what was sent (harness describeSentMessage) */
  sentLines?: string[];
  /** a Sieve user log (~/.dovecot.sieve.log) was written; default false */
  userLog?: boolean;
}

export interface SieveCase extends CompatCase {
  /** what dovecot-lda + Pigeonhole do: the case's name must say the same */
  dovecot: DovecotOutcome;
}

const FIXTURES = resolve(__dirname, '../fixtures/sieve/compat');
const fixture = (name: string) => readFileSync(join(FIXTURES, name));

/** Alice's report to the user: To vmail@, Cc bob@, two Received fields, X-Spam-Score 7, text/plain, under 1 KB. */
const PLAIN = fixture('plain.eml');
/** A mailing-list post (List-Id, Precedence: list) with the user in Cc. */
const LIST = fixture('list.eml');
/** multipart/mixed: text/plain (quoted-printable, Latin-1), text/html (base64), an application/octet-stream part. */
const MULTIPART = fixture('multipart.eml');
/** RFC 2047 encoded From and Subject ("Grüße aus Köln"). */
const ENCODED = fixture('encoded.eml');

const USER = `${MAIL_USER}@example.org`;
const SENDER = 'alice@example.org';
/** The envelope most cases use: Alice to the user. */
const ENVELOPE = ['-f', SENDER, '-a', USER];
const AUTOCREATE = 'lda_mailbox_autocreate = yes';
const MBOX = 'mail_location = mbox:~/mail:INBOX=~/inbox';

/** PLAIN with more header fields in front. */
function plainWith(...fields: string[]): Buffer {
  return Buffer.concat([Buffer.from(fields.map((field) => `${field}\n`).join('')), PLAIN]);
}

/** PLAIN with its To field replaced. */
function plainTo(to: string): Buffer {
  return Buffer.from(PLAIN.toString('utf8').replace(/^To: .*$/m, `To: ${to}`));
}

/** Creates home/Maildir/.NAME/{cur,new,tmp}, owned by the mail user. */
function maildirFolder(home: string, name: string): void {
  for (const path of [join(home, 'Maildir'), join(home, 'Maildir', `.${name}`), ...['cur', 'new', 'tmp'].map((sub) => join(home, 'Maildir', `.${name}`, sub))]) {
    mkdirSync(path, { recursive: true, mode: 0o700 });
    chownSync(path, mailUid!, mailGid!);
  }
}

/** A case: SCRIPT as the user's active script, PLAIN from Alice to the user, as the user. */
function sieve(name: string, script: string, dovecot: DovecotOutcome, extra: Partial<SieveCase> = {}): SieveCase {
  return { name, as: 'user', args: ENVELOPE, input: PLAIN, sieve: script, dovecot, ...extra };
}

/** A case delivering to an mbox INBOX (~/inbox, folders under ~/mail). */
function mbox(name: string, script: string, dovecot: DovecotOutcome, extra: Partial<SieveCase> = {}): SieveCase {
  return sieve(`mbox: ${name}`, script, dovecot, { ...extra, config: [MBOX, ...(extra.config ?? [])] });
}

const INBOX = ['Maildir/new'];
/** Where a message kept in INBOX after an error lands, with the error in the user log. */
const KEPT_AFTER_ERROR: DovecotOutcome = { landed: INBOX, userLog: true };
const VACATION = 'require "vacation";\n';

// Header lines of sent messages, as describeSentMessage shows them.
const ARGV_NULL_TO_ALICE = `sent 1 argv ["-i","-f","<>","--","${SENDER}"]`;
const ARGV_REDIRECT = (from: string, to = 'bob@example.net') => `sent 1 argv ["-i","-f","${from}","--","${to}"]`;

const CORE: SieveCase[] = [
  sieve('keep', 'keep;\n', { landed: INBOX }),
  sieve('an empty script keeps implicitly', '# nothing to do\n', { landed: INBOX }),
  sieve('discard stores nothing', 'discard;\n', { landed: [] }),
  sieve('stop ends the script before a discard', 'stop;\ndiscard;\n', { landed: INBOX }),
  sieve(
    'if/elsif/else takes the elsif branch',
    'require "fileinto";\nif header :is "subject" "nope" { fileinto "A"; }\nelsif header :contains "subject" "report" { fileinto "B"; }\nelse { fileinto "C"; }\n',
    { landed: ['Maildir/.B/new'] },
    { config: [AUTOCREATE] },
  ),
  sieve(
    'header :matches with wildcards; an escaped * is literal',
    'require "fileinto";\nif allof(header :matches "subject" "Quar*y re?ort", not header :matches "subject" "Quarterly\\\\*") { fileinto "matched"; }\n',
    { landed: ['Maildir/.matched/new'] },
    { config: [AUTOCREATE] },
  ),
  sieve(
    'header :is: i;ascii-casemap ignores case, i;octet does not',
    'require "fileinto";\nif header :is :comparator "i;octet" "subject" "quarterly report" { fileinto "octet"; }\nelsif header :is "Subject" "QUARTERLY REPORT" { fileinto "casemap"; }\n',
    { landed: ['Maildir/.casemap/new'] },
    { config: [AUTOCREATE] },
  ),
  sieve(
    'address :localpart, :domain and :all through display names',
    'require "fileinto";\nif allof(address :localpart "from" "alice", address :domain "to" "EXAMPLE.ORG", address :all :is "cc" "bob@example.net") { fileinto "addr"; }\n',
    { landed: ['Maildir/.addr/new'] },
    { config: [AUTOCREATE] },
  ),
  sieve(
    'exists with present and missing fields',
    'require "fileinto";\nif exists ["x-spam-score", "subject"] { if not exists "x-no-such-field" { fileinto "exists"; } }\n',
    { landed: ['Maildir/.exists/new'] },
    { config: [AUTOCREATE] },
  ),
  sieve('size :over and :under with a K suffix', 'require "fileinto";\nif allof(size :over 100, size :under 1K) { fileinto "sized"; }\n', { landed: ['Maildir/.sized/new'] }, { config: [AUTOCREATE] }),
  sieve('size :over 1M is false for a small message', 'if size :over 1M { discard; }\n', { landed: INBOX }),
  sieve('anyof, allof, not, true and false', 'require "fileinto";\nif anyof(false, allof(true, not false)) { fileinto "logic"; }\n', { landed: ['Maildir/.logic/new'] }, { config: [AUTOCREATE] }),
  sieve('comments: hash and bracketed', '/* a bracketed\n   comment */ keep; # a hash comment\n', { landed: INBOX }),
  sieve('unknown extension in require: compile error, INBOX', 'require "x-no-such-extension";\ndiscard;\n', KEPT_AFTER_ERROR),
  sieve('syntax error: INBOX', 'if true {\n  discard;\n', KEPT_AFTER_ERROR),
  sieve('command of a missing require: compile error, INBOX', 'fileinto "work";\n', KEPT_AFTER_ERROR),
  sieve('two identical fileintos store once', 'require "fileinto";\nfileinto "work";\nfileinto "work";\n', { landed: ['Maildir/.work/new'] }, { setup: (home) => maildirFolder(home, 'work') }),
  sieve('discard, then keep: stored', 'discard;\nkeep;\n', { landed: INBOX }),
  sieve('unknown comparator: compile error, INBOX', 'if header :is :comparator "i;no-such" "subject" "x" { discard; }\n', KEPT_AFTER_ERROR),
  sieve('a folded field is unfolded, its blanks kept', 'require ["fileinto", "mailbox", "variables"];\nif header :matches "x-folded" "*" { fileinto :create "f[${1}]"; }\n', { landed: ['Maildir/.f[one  two]/new'] }, {
    input: plainWith('X-Folded: one', '  two'),
  }),
  sieve('a runtime error drops the actions before it: INBOX only', 'require ["fileinto", "mailbox", "ihave"];\nfileinto :create "first";\nerror "stop here";\n', KEPT_AFTER_ERROR),
  sieve('keep and fileinto "INBOX" store once', 'require "fileinto";\nkeep;\nfileinto "INBOX";\n', { landed: INBOX }),
];

const FILEINTO: SieveCase[] = [
  sieve('fileinto an existing folder', 'require "fileinto";\nfileinto "work";\n', { landed: ['Maildir/.work/new'] }, { setup: (home) => maildirFolder(home, 'work') }),
  sieve('fileinto a missing folder without autocreate: INBOX', 'require "fileinto";\nfileinto "work";\n', { landed: INBOX, userLog: true }),
  sieve('fileinto a missing folder with lda_mailbox_autocreate', 'require "fileinto";\nfileinto "work";\n', { landed: ['Maildir/.work/new'] }, { config: [AUTOCREATE] }),
  sieve(
    'fileinto with lda_mailbox_autosubscribe',
    'require "fileinto";\nfileinto "work";\n',
    { landed: ['Maildir/.work/new'] },
    { config: [AUTOCREATE, 'lda_mailbox_autosubscribe = yes'] },
  ),
  sieve('fileinto :create (mailbox) without autocreate', 'require ["fileinto", "mailbox"];\nfileinto :create "work";\n', { landed: ['Maildir/.work/new'] }),
  sieve('fileinto "INBOX"', 'require "fileinto";\nfileinto "INBOX";\n', { landed: INBOX }),
  sieve('fileinto "inbox" in lower case', 'require "fileinto";\nfileinto "inbox";\n', { landed: INBOX }),
  sieve('fileinto an unsafe name "../escape": INBOX', 'require "fileinto";\nfileinto "../escape";\n', { landed: INBOX, userLog: true }, { config: [AUTOCREATE] }),
  sieve('fileinto a nested folder "lists.dev" with autocreate', 'require "fileinto";\nfileinto "lists.dev";\n', { landed: ['Maildir/.lists.dev/new'] }, { config: [AUTOCREATE] }),
  sieve('fileinto a UTF-8 folder name', 'require "fileinto";\nfileinto "Entwürfe";\n', { landed: ['Maildir/.Entw&APw-rfe/new'] }, { config: [AUTOCREATE] }),
  sieve('fileinto :copy keeps the implicit keep', 'require ["fileinto", "copy"];\nfileinto :copy "work";\n', { landed: ['Maildir/.work/new', ...INBOX] }, { config: [AUTOCREATE] }),
  sieve('-m folder takes the implicit keep', 'require ["fileinto", "copy"];\nfileinto :copy "other";\n', { landed: ['Maildir/.other/new', 'Maildir/.work/new'] }, {
    args: [...ENVELOPE, '-m', 'work'],
    config: [AUTOCREATE],
  }),
  sieve('-m folder takes an explicit keep', 'keep;\n', { landed: ['Maildir/.work/new'] }, { args: [...ENVELOPE, '-m', 'work'], setup: (home) => maildirFolder(home, 'work') }),
  sieve('-m missing folder without autocreate: keep goes to INBOX', 'keep;\n', { landed: INBOX, userLog: true }, { args: [...ENVELOPE, '-m', 'work'] }),
  sieve('as root with -d: the user\'s script runs', 'require "fileinto";\nfileinto "work";\n', { landed: ['Maildir/.work/new'] }, { as: 'root', args: ['-d', USER, ...ENVELOPE], config: [AUTOCREATE] }),
];

const REDIRECT: SieveCase[] = [
  sieve('redirect sends the message on and stores nothing', 'redirect "bob@example.net";\n', {
    landed: [],
    sent: 1,
    sentLines: [ARGV_REDIRECT(SENDER), 'sent 1 x-sieve: present', `sent 1 x-sieve-redirected-from: ${USER}`],
  }),
  sieve('redirect :copy keeps', 'require "copy";\nredirect :copy "bob@example.net";\n', { landed: INBOX, sent: 1 }),
  sieve('redirect to two addresses', 'redirect "bob@example.net";\nredirect "carol@example.net";\n', { landed: [], sent: 2 }),
  sieve('redirect to the same address twice sends once', 'redirect "bob@example.net";\nredirect "bob@example.net";\n', { landed: [], sent: 1 }),
  sieve('redirect of a null-sender message', 'redirect "bob@example.net";\n', { landed: [], sent: 1, sentLines: [ARGV_REDIRECT('<>')] }, { args: ['-f', '<>', '-a', USER] }),
  sieve('redirect with sieve_redirect_envelope_from = recipient', 'redirect "bob@example.net";\n', { landed: [], sent: 1, sentLines: [ARGV_REDIRECT('final@example.org')] }, {
    args: ['-f', SENDER, '-a', 'orig@example.org', '-r', 'final@example.org'],
    sieveSettings: ['sieve_redirect_envelope_from = recipient'],
  }),
  sieve('redirect with sieve_redirect_envelope_from = orig_recipient', 'redirect "bob@example.net";\n', { landed: [], sent: 1, sentLines: [ARGV_REDIRECT('orig@example.org')] }, {
    args: ['-f', SENDER, '-a', 'orig@example.org', '-r', 'final@example.org'],
    sieveSettings: ['sieve_redirect_envelope_from = orig_recipient'],
  }),
  sieve('redirect with sieve_redirect_envelope_from = <address>', 'redirect "bob@example.net";\n', { landed: [], sent: 1, sentLines: [ARGV_REDIRECT('bounces@example.org')] }, {
    sieveSettings: ['sieve_redirect_envelope_from = "<bounces@example.org>"'],
  }),
  sieve('redirect with sieve_redirect_envelope_from = user_email', 'redirect "bob@example.net";\n', { landed: [], sent: 1, sentLines: [ARGV_REDIRECT('me@example.org')] }, {
    sieveSettings: ['sieve_redirect_envelope_from = user_email', 'sieve_user_email = me@example.org'],
  }),
  sieve('redirect of a null-sender message keeps <> whatever sieve_redirect_envelope_from says', 'redirect "bob@example.net";\n', { landed: [], sent: 1, sentLines: [ARGV_REDIRECT('<>')] }, {
    args: ['-f', '<>', '-a', USER],
    sieveSettings: ['sieve_redirect_envelope_from = "<bounces@example.org>"'],
  }),
  sieve('redirect with sendmail failing temporarily: 75, nothing stored', 'redirect "bob@example.net";\n', { statuses: [75], landed: [], sent: 1, userLog: true }, { sendmailExit: 75 }),
  sieve('redirect with sendmail failing permanently: 75 too', 'redirect "bob@example.net";\n', { statuses: [75], landed: [], sent: 1, userLog: true }, { sendmailExit: 1 }),
  sieve('redirect :copy with sendmail failing: 75, nothing stored', 'require "copy";\nredirect :copy "bob@example.net";\n', { statuses: [75], landed: [], sent: 1, userLog: true }, { sendmailExit: 75 }),
  sieve('the same message delivered twice: redirected once, then kept', 'redirect "bob@example.net";\n', { landed: INBOX, sent: 1 }, { repeat: 2 }),
  sieve(
    'more redirects than sieve_max_redirects: INBOX',
    'redirect "a@example.net";\nredirect "b@example.net";\nredirect "c@example.net";\n',
    KEPT_AFTER_ERROR,
    { sieveSettings: ['sieve_max_redirects = 2'] },
  ),
  sieve('redirect to an invalid address: compile error, INBOX', 'redirect "not an address";\n', KEPT_AFTER_ERROR),
  sieve('redirect to an invalid address from a variable: runtime error, INBOX', 'require "variables";\nset "to" "not an address";\nredirect "${to}";\n', KEPT_AFTER_ERROR),
];

const REJECT: SieveCase[] = [
  sieve('reject sends a rejection and stores nothing', 'require "reject";\nreject "Not wanted here.";\n', {
    landed: [],
    sent: 1,
    sentLines: [ARGV_NULL_TO_ALICE, 'sent 1 subject: Rejected: Quarterly report', 'sent 1 auto-submitted: auto-replied (rejected)'],
  }),
  sieve('reject with a multi-line reason and dot-stuffing', 'require "reject";\nreject text:\nline one\n..starts with a dot\n.\n;\n', { landed: [], sent: 1 }),
  sieve('reject of a null-sender message sends nothing', 'require "reject";\nreject "Not wanted.";\n', { landed: [] }, { args: ['-f', '<>', '-a', USER] }),
  sieve('reject with sendmail failing keeps the message in INBOX', 'require "reject";\nreject "Not wanted.";\n', { landed: INBOX, sent: 1 }, { sendmailExit: 75 }),
  sieve('ereject, unknown to Pigeonhole 0.5.19 even with +ereject: compile error, INBOX', 'require "ereject";\nereject "Not wanted.";\n', KEPT_AFTER_ERROR, {
    sieveSettings: ['sieve_extensions = +ereject'],
    intentional: 'Sieve: ereject (RFC 5429) is implemented',
  }),
  sieve('reject with -e', 'require "reject";\nreject "Not wanted.";\n', { landed: [], sent: 1 }, { args: [...ENVELOPE, '-e'] }),
  sieve('reject and fileinto together: error, INBOX', 'require ["reject", "fileinto"];\nreject "No.";\nfileinto "INBOX";\n', KEPT_AFTER_ERROR),
];

const VACATION_CASES: SieveCase[] = [
  sieve('vacation: first reply', `${VACATION}vacation "I am away until Monday.";\n`, {
    landed: INBOX,
    sent: 1,
    sentLines: [
      ARGV_NULL_TO_ALICE,
      'sent 1 subject: Auto: Quarterly report',
      'sent 1 auto-submitted: auto-replied (vacation)',
      'sent 1 in-reply-to: <report-1@example.org>',
      'sent 1 body| I am away until Monday.',
    ],
  }),
  sieve('vacation: a second message within :days gets no reply', `${VACATION}vacation :days 3 "I am away.";\n`, { landed: [...INBOX, ...INBOX], sent: 1 }, { repeat: 2 }),
  sieve('vacation-seconds: :seconds 0 replies every time', 'require "vacation-seconds";\nvacation :seconds 0 "I am away.";\n', { landed: [...INBOX, ...INBOX], sent: 2 }, {
    repeat: 2,
    sieveSettings: ['sieve_extensions = +vacation-seconds', 'sieve_vacation_min_period = 0'],
  }),
  sieve('vacation :subject', `${VACATION}vacation :subject "Out of office" "I am away.";\n`, { landed: INBOX, sent: 1, sentLines: ['sent 1 subject: Out of office'] }),
  sieve('vacation: default subject of an encoded subject', `${VACATION}vacation "Ich bin weg.";\n`, { landed: INBOX, sent: 1, sentLines: ['sent 1 subject: Auto: Grüße aus Köln (encoded)'] }, {
    input: ENCODED,
    args: ['-f', 'juergen@example.de', '-a', USER],
  }),
  sieve('vacation: non-ASCII :subject and reason', `${VACATION}vacation :subject "Abwesend – Grüße" "Zurück am Montag.";\n`, { landed: INBOX, sent: 1 }),
  sieve('vacation :from', `${VACATION}vacation :from "Vmail User <office@example.org>" "I am away.";\n`, { landed: INBOX, sent: 1, sentLines: ['sent 1 from: Vmail User <office@example.org>'] }),
  sieve('vacation :addresses: an alias counts as the user', `${VACATION}vacation :addresses ["alias@example.org"] "I am away.";\n`, { landed: INBOX, sent: 1 }, {
    input: plainTo('alias@example.org'),
  }),
  sieve('vacation: mail not addressed to the user gets no reply', `${VACATION}vacation "I am away.";\n`, { landed: INBOX }, { input: plainTo('someone@example.net') }),
  sieve('vacation: a mailing list post gets no reply', `${VACATION}vacation "I am away.";\n`, { landed: INBOX }, { input: LIST, args: ['-f', 'dev-bounces@lists.example.org', '-a', USER] }),
  sieve('vacation: Precedence: bulk gets no reply', `${VACATION}vacation "I am away.";\n`, { landed: INBOX }, { input: plainWith('Precedence: bulk') }),
  sieve('vacation: Auto-Submitted mail gets no reply', `${VACATION}vacation "I am away.";\n`, { landed: INBOX }, { input: plainWith('Auto-Submitted: auto-replied') }),
  sieve('vacation: Auto-Submitted: no gets a reply', `${VACATION}vacation "I am away.";\n`, { landed: INBOX, sent: 1 }, { input: plainWith('Auto-Submitted: no') }),
  sieve('vacation: the null sender gets no reply', `${VACATION}vacation "I am away.";\n`, { landed: INBOX }, { args: ['-f', '<>', '-a', USER] }),
  sieve('vacation: MAILER-DAEMON gets no reply', `${VACATION}vacation "I am away.";\n`, { landed: INBOX }, { args: ['-f', 'MAILER-DAEMON@example.org', '-a', USER] }),
  sieve('vacation: an owner- sender gets no reply', `${VACATION}vacation "I am away.";\n`, { landed: INBOX }, { args: ['-f', 'owner-dev@example.org', '-a', USER] }),
  sieve('vacation :mime', `${VACATION}vacation :mime text:\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nIch bin weg.\n.\n;\n`, { landed: INBOX, sent: 1 }),
  sieve(
    'vacation :mime with a multipart reason',
    `${VACATION}vacation :mime text:\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary="AA"\n\n--AA\nContent-Type: text/plain\n\nAway.\n--AA\nContent-Type: text/html\n\n<p>Away.</p>\n--AA--\n.\n;\n`,
    { landed: INBOX, sent: 1, sentLines: ['sent 1 content-type: multipart/alternative', 'sent 1 body| --{BOUNDARY1}'] },
  ),
  sieve('vacation with sendmail failing still stores', `${VACATION}vacation "I am away.";\n`, { landed: INBOX, sent: 1, userLog: true }, { sendmailExit: 75 }),
  sieve('vacation with sieve_vacation_send_from_recipient', `${VACATION}vacation "I am away.";\n`, { landed: INBOX, sent: 1, sentLines: [`sent 1 argv ["-i","-f","${USER}","--","${SENDER}"]`] }, {
    sieveSettings: ['sieve_vacation_send_from_recipient = yes'],
  }),
  sieve('vacation: To is the -r final recipient, -a another', `${VACATION}vacation "I am away.";\n`, { landed: INBOX, sent: 1 }, {
    input: plainTo('final@example.org'),
    args: ['-f', SENDER, '-a', 'orig@example.org', '-r', 'final@example.org'],
  }),
  sieve('vacation reason from variables', 'require ["vacation", "variables"];\nset "who" "Vmail";\nif header :matches "subject" "*" { set "subject" "${1}"; }\nvacation "${who} is away; about ${subject} later.";\n', {
    landed: INBOX,
    sent: 1,
    sentLines: ['sent 1 body| Vmail is away; about Quarterly report later.'],
  }),
  sieve('vacation and discard: reply, nothing stored', `${VACATION}vacation "I am away.";\ndiscard;\n`, { landed: [], sent: 1 }),
];

const FLAGS: SieveCase[] = [
  sieve('keep :flags puts flags into the Maildir name (cur/)', 'require "imap4flags";\nkeep :flags ["\\\\Seen", "\\\\Flagged"];\n', { landed: ['Maildir/cur FS'] }),
  sieve('fileinto :flags into a folder', 'require ["fileinto", "imap4flags"];\nfileinto :flags "\\\\Answered" "work";\n', { landed: ['Maildir/.work/cur R'] }, { config: [AUTOCREATE] }),
  sieve('addflag and removeflag, then the implicit keep', 'require "imap4flags";\naddflag ["\\\\Seen", "\\\\Flagged", "\\\\Answered"];\nremoveflag "\\\\Flagged";\n', { landed: ['Maildir/cur RS'] }),
  sieve('addflag, then an explicit keep carries the flags', 'require "imap4flags";\naddflag "\\\\Seen";\nkeep;\n', { landed: ['Maildir/cur S'] }),
  sieve('setflag replaces the flags', 'require "imap4flags";\naddflag "\\\\Deleted";\nsetflag "\\\\Draft";\n', { landed: ['Maildir/cur D'] }),
  sieve(
    'hasflag on a variable, flags from a variable',
    'require ["imap4flags", "variables", "fileinto"];\nset "f" "";\naddflag "f" ["\\\\Seen", "\\\\Flagged"];\nif hasflag :is "f" "\\\\flagged" { fileinto :flags "${f}" "flagged"; }\n',
    { landed: ['Maildir/.flagged/cur FS'] },
    { config: [AUTOCREATE] },
  ),
  sieve('keywords: dovecot-keywords and letters', 'require "imap4flags";\nkeep :flags ["$Label1", "work", "\\\\Seen"];\n', { landed: ['Maildir/cur Sab'] }),
  sieve('flags on a fileinto :copy and the implicit keep differ', 'require ["fileinto", "imap4flags", "copy"];\nfileinto :copy :flags "\\\\Seen" "work";\naddflag "\\\\Flagged";\n', {
    landed: ['Maildir/.work/cur S', 'Maildir/cur F'],
  }, { config: [AUTOCREATE] }),
  mbox('keep :flags writes Status and X-Status', 'require "imap4flags";\nkeep :flags ["\\\\Seen", "\\\\Answered", "\\\\Flagged"];\n', { landed: ['inbox Status: R|X-Status: AF'] }),
  mbox('keywords in X-Keywords', 'require "imap4flags";\nkeep :flags ["$Label1", "work"];\n', { landed: ['inbox X-Keywords: $Label1 work'] }),
];

const MBOX_CASES: SieveCase[] = [
  mbox('fileinto an existing folder', 'require "fileinto";\nfileinto "work";\n', { landed: ['mail/work'] }, {
    setup: (home) => {
      mkdirSync(join(home, 'mail'), { mode: 0o700 });
      chownSync(join(home, 'mail'), mailUid!, mailGid!);
      writeFileSync(join(home, 'mail', 'work'), '', { mode: 0o600 });
      chownSync(join(home, 'mail', 'work'), mailUid!, mailGid!);
    },
  }),
  mbox('fileinto a missing folder without autocreate: INBOX', 'require "fileinto";\nfileinto "work";\n', { landed: ['inbox'], userLog: true }),
  mbox('fileinto :create a nested folder', 'require ["fileinto", "mailbox"];\nfileinto :create "lists/dev";\n', { landed: ['mail/lists/dev'] }),
  mbox('fileinto :copy :flags and keep', 'require ["fileinto", "imap4flags", "copy"];\nfileinto :copy :flags "\\\\Seen" "work";\n', { landed: ['inbox', 'mail/work Status: R'] }, { config: [AUTOCREATE] }),
  mbox('discard leaves no INBOX file', 'discard;\n', { landed: [] }),
];

const VARIABLES: SieveCase[] = [
  sieve('set with :lower and :upperfirst names a folder', 'require ["variables", "fileinto", "mailbox"];\nset :lower :upperfirst "f" "WORK";\nfileinto :create "${f}";\n', { landed: ['Maildir/.Work/new'] }),
  sieve('match variables from :matches', 'require ["variables", "fileinto", "mailbox"];\nif header :matches "subject" "* report" { fileinto :create "reports.${1}"; }\n', { landed: ['Maildir/.reports.Quarterly/new'] }),
  sieve('string test and :length', 'require ["variables", "fileinto", "mailbox"];\nset :length "n" "Quarterly";\nif string :is "${n}" "9" { fileinto :create "nine"; }\n', { landed: ['Maildir/.nine/new'] }),
  sieve('encoded-character in a folder name', 'require ["encoded-character", "fileinto", "mailbox"];\nfileinto :create "${hex:57 6f 72 6b}-${unicode:e9}";\n', { landed: ['Maildir/.Work-&AOk-/new'] }),
  sieve('an unknown variable expands to nothing', 'require ["variables", "fileinto", "mailbox"];\nfileinto :create "x${nosuch}y";\n', { landed: ['Maildir/.xy/new'] }),
];

const TESTS: SieveCase[] = [
  sieve('envelope from and to (-f, -a)', 'require ["envelope", "fileinto"];\nif allof(envelope :is "from" "alice@example.org", envelope :domain "to" "example.org") { fileinto "env"; }\n', { landed: ['Maildir/.env/new'] }, { config: [AUTOCREATE] }),
  sieve(
    'envelope "to" is the -a address, not -r',
    'require ["envelope", "fileinto"];\nif envelope :is "to" "orig@example.org" { fileinto "orig"; } elsif envelope :is "to" "final@example.org" { fileinto "final"; }\n',
    { landed: ['Maildir/.orig/new'] },
    { args: ['-f', SENDER, '-a', 'orig@example.org', '-r', 'final@example.org'], config: [AUTOCREATE] },
  ),
  sieve('envelope from of the null sender is empty', 'require ["envelope", "fileinto"];\nif envelope :is "from" "" { fileinto "null"; }\n', { landed: ['Maildir/.null/new'] }, { args: ['-f', '<>', '-a', USER], config: [AUTOCREATE] }),
  sieve(
    'relational :count and :value with i;ascii-numeric',
    'require ["relational", "comparator-i;ascii-numeric", "fileinto"];\nif allof(header :count "eq" :comparator "i;ascii-numeric" "received" "2", header :value "ge" :comparator "i;ascii-numeric" "x-spam-score" "5", not header :value "gt" :comparator "i;ascii-numeric" "x-spam-score" "10") { fileinto "spam"; }\n',
    { landed: ['Maildir/.spam/new'] },
    { config: [AUTOCREATE] },
  ),
  sieve('subaddress :detail of the envelope recipient', 'require ["envelope", "subaddress", "fileinto"];\nif envelope :detail "to" "work" { fileinto "work"; }\n', { landed: ['Maildir/.work/new'] }, {
    args: ['-f', SENDER, '-a', `${MAIL_USER}+work@example.org`],
    config: [AUTOCREATE],
  }),
  sieve(
    'subaddress with recipient_delimiter "-+"',
    'require ["envelope", "subaddress", "fileinto", "variables"];\nif envelope :matches :detail "to" "*" { fileinto "d-${1}"; }\nif envelope :is :user "to" "vmail" { fileinto "user-ok"; }\n',
    { landed: ['Maildir/.d-lists/new', 'Maildir/.user-ok/new'] },
    { args: ['-f', SENDER, '-a', `${MAIL_USER}-lists@example.org`], config: [AUTOCREATE, 'recipient_delimiter = -+'] },
  ),
  sieve('subaddress :detail without a delimiter does not match', 'require ["envelope", "subaddress", "fileinto"];\nif envelope :matches :detail "to" "*" { fileinto "detail"; }\n', { landed: INBOX }, { config: [AUTOCREATE] }),
  sieve('body :raw sees the MIME structure', 'require ["body", "fileinto"];\nif body :raw :contains "Content-Transfer-Encoding: base64" { fileinto "raw"; }\n', { landed: ['Maildir/.raw/new'] }, {
    input: MULTIPART,
    config: [AUTOCREATE],
  }),
  sieve(
    'body :content "text/plain" decodes quoted-printable and Latin-1',
    'require ["body", "fileinto"];\nif body :content "text/plain" :contains "Grüße" { fileinto "plain"; }\n',
    { landed: ['Maildir/.plain/new'] },
    { input: MULTIPART, config: [AUTOCREATE] },
  ),
  sieve(
    'body :content "text" decodes base64 HTML; octet-stream is not searched',
    'require ["body", "fileinto"];\nif body :content "text" :contains "<b>discount</b>" { if not body :content "text" :contains "secret payload" { fileinto "html"; } }\n',
    { landed: ['Maildir/.html/new'] },
    { input: MULTIPART, config: [AUTOCREATE] },
  ),
  sieve('body :text', 'require ["body", "fileinto"];\nif body :text :contains "discount" { fileinto "text"; }\n', { landed: ['Maildir/.text/new'] }, { input: MULTIPART, config: [AUTOCREATE] }),
  sieve('body of a plain message, default :text', 'require ["body", "fileinto"];\nif body :contains "quarterly numbers" { fileinto "body"; }\n', { landed: ['Maildir/.body/new'] }, { config: [AUTOCREATE] }),
  sieve('header test decodes RFC 2047 words', 'require "fileinto";\nif allof(header :contains "subject" "Köln", address :localpart "from" "juergen", header :contains "from" "Jürgen") { fileinto "decoded"; }\n', {
    landed: ['Maildir/.decoded/new'],
  }, { input: ENCODED, args: ['-f', 'juergen@example.de', '-a', USER], config: [AUTOCREATE] }),
  sieve(
    'regex with capture groups',
    'require ["regex", "variables", "fileinto", "mailbox"];\nif header :regex "subject" "^([a-z]+) (rep.*)$" { fileinto :create "${2}-${1}"; }\n',
    { landed: ['Maildir/.report-Quarterly/new'] },
  ),
  sieve('regex on an address :domain', 'require ["regex", "fileinto"];\nif address :regex :domain "from" "^ex[a-z]+\\\\.org$" { fileinto "regex"; }\n', { landed: ['Maildir/.regex/new'] }, { config: [AUTOCREATE] }),
  sieve('mailboxexists of an existing and a missing folder', 'require ["mailbox", "fileinto"];\nif mailboxexists "work" { if not mailboxexists "nosuch" { fileinto "work"; } }\n', { landed: ['Maildir/.work/new'] }, {
    setup: (home) => maildirFolder(home, 'work'),
  }),
  sieve(
    'date: year, zone and :originalzone hour of the Date field',
    'require ["date", "fileinto"];\nif allof(date :is "date" "year" "2026", date :originalzone :is "date" "zone" "+0100", date :originalzone :is "date" "hour" "09", date :zone "+0000" :is "date" "hour" "08") { fileinto "dated"; }\n',
    { landed: ['Maildir/.dated/new'] },
    { config: [AUTOCREATE] },
  ),
  sieve('currentdate with :value', 'require ["date", "relational", "fileinto"];\nif currentdate :value "ge" "year" "2024" { fileinto "current"; }\n', { landed: ['Maildir/.current/new'] }, { config: [AUTOCREATE] }),
  sieve(
    'index: header :index and :last on Received',
    'require ["index", "fileinto"];\nif allof(header :index 1 :contains "received" "from relay", header :index 2 :contains "received" "from laptop", header :index 1 :last :contains "received" "from laptop", not header :index 3 :contains "received" "") { fileinto "indexed"; }\n',
    { landed: ['Maildir/.indexed/new'] },
    { config: [AUTOCREATE] },
  ),
  sieve(
    'index: date :index 2 of Received (Pigeonhole reads the first field)',
    'require ["index", "date", "variables", "fileinto", "mailbox"];\nif date :index 2 :zone "+0000" :matches "received" "time" "*" { fileinto :create "t${1}"; }\n',
    { landed: ['Maildir/.t08:59:30/new'] },
    { intentional: 'Sieve: date :index counts every field (RFC 5260)' },
  ),
  sieve(
    'environment: location and phase',
    'require ["environment", "variables", "fileinto", "mailbox"];\nif environment :matches "location" "*" { set "l" "${1}"; }\nif environment :matches "phase" "*" { set "p" "${1}"; }\nfileinto :create "env-${l}-${p}";\n',
    { landed: ['Maildir/.env-MDA-during/new'] },
  ),
  sieve(
    'ihave of an enabled and an unknown extension',
    'require ["ihave", "fileinto"];\nif allof(ihave "fileinto", not ihave "x-no-such-extension") { fileinto "ihave"; }\n',
    { landed: ['Maildir/.ihave/new'] },
    { config: [AUTOCREATE] },
  ),
  sieve('error: runtime error, INBOX', 'require "ihave";\nerror "this script gives up";\ndiscard;\n', KEPT_AFTER_ERROR),
  sieve('duplicate: the second delivery of a Message-ID is discarded', 'require "duplicate";\nif duplicate { discard; }\n', { landed: INBOX }, { repeat: 2 }),
  sieve(
    'duplicate :uniqueid from a variable, :seconds',
    'require ["duplicate", "variables", "fileinto"];\nif header :matches "subject" "*" { set "s" "${1}"; }\nif duplicate :uniqueid "${s}" :seconds 3600 { fileinto "dupes"; }\n',
    { landed: ['Maildir/.dupes/new', ...INBOX] },
    { repeat: 2, config: [AUTOCREATE] },
  ),
];

const SEQUENCE: SieveCase[] = [
  sieve('include :personal', 'require "include";\ninclude :personal "spam";\n', { landed: ['Maildir/.spam/new'] }, {
    personalScripts: { spam: 'require ["fileinto", "relational", "comparator-i;ascii-numeric"];\nif header :value "ge" :comparator "i;ascii-numeric" "x-spam-score" "5" { fileinto "spam"; }\n' },
    config: [AUTOCREATE],
  }),
  sieve('include :global', 'require "include";\ninclude :global "lists";\n', { landed: ['Maildir/.lists/new'] }, {
    sieveGlobal: { lists: 'require "fileinto";\nif header :contains "cc" "vmail" { fileinto "lists"; }\n' },
    input: LIST,
    config: [AUTOCREATE],
  }),
  sieve(
    'include :once of the same script twice runs it once',
    'require ["include", "variables", "fileinto", "mailbox"];\nglobal "n";\nset "n" "";\ninclude :personal :once "count";\ninclude :personal :once "count";\nfileinto :create "n${n}";\n',
    { landed: ['Maildir/.nx/new'] },
    { personalScripts: { count: 'require ["include", "variables"];\nglobal "n";\nset "n" "${n}x";\n' },
  }),
  sieve('include :optional of a missing script', 'require "include";\ninclude :optional "nosuch";\ndiscard;\n', { landed: [] }, { personalScripts: {} }),
  sieve('include of a missing script: compile error, INBOX', 'require "include";\ninclude "nosuch";\ndiscard;\n', KEPT_AFTER_ERROR, { personalScripts: {} }),
  sieve('include :optional without a ~/sieve directory (Pigeonhole: circular include), INBOX', 'require "include";\ninclude :optional "nosuch";\ndiscard;\n', KEPT_AFTER_ERROR, {
    intentional: 'Sieve: include :optional of a missing script',
  }),
  sieve('include: return ends the included script only', 'require ["include", "fileinto", "mailbox"];\ninclude :personal "early";\nfileinto :create "after-include";\n', {
    landed: ['Maildir/.after-include/new'],
  }, { personalScripts: { early: 'require "include";\nreturn;\ndiscard;\n' } }),
  sieve('include of itself: compile error, INBOX', 'require "include";\ninclude :personal "loop";\n', KEPT_AFTER_ERROR, {
    personalScripts: { loop: 'require "include";\ninclude :personal "loop";\ndiscard;\n' },
  }),
  sieve('sieve_before with stop ends everything', 'discard;\n', { landed: ['Maildir/.reports/new'] }, {
    sieveBefore: ['require ["fileinto", "mailbox"];\nif header :contains "subject" "report" { fileinto :create "reports"; stop; }\n'],
  }),
  sieve('sieve_before keeps, then the personal script files', 'require "fileinto";\nfileinto "work";\n', { landed: ['Maildir/.work/new'] }, {
    sieveBefore: ['keep;\n'],
    config: [AUTOCREATE],
  }),
  sieve('sieve_before and sieve_before2 both run', 'keep;\n', { landed: ['Maildir/.one/new', 'Maildir/.two/new', ...INBOX] }, {
    sieveBefore: ['require ["fileinto", "copy", "mailbox"];\nfileinto :copy :create "one";\n', 'require ["fileinto", "copy", "mailbox"];\nfileinto :copy :create "two";\n'],
  }),
  sieve('sieve_after runs while the keep stands', 'keep;\n', { landed: ['Maildir/.after/new', ...INBOX] }, {
    sieveAfter: ['require ["fileinto", "copy", "mailbox"];\nfileinto :copy :create "after";\n'],
  }),
  sieve('sieve_after does not run after a fileinto', 'require "fileinto";\nfileinto "work";\n', { landed: ['Maildir/.work/new'] }, {
    sieveAfter: ['require ["fileinto", "copy", "mailbox"];\nfileinto :copy :create "after";\n'],
    config: [AUTOCREATE],
  }),
  {
    name: 'sieve_default runs when the user has no script',
    as: 'user',
    args: ENVELOPE,
    input: PLAIN,
    sieveDefault: 'require ["fileinto", "mailbox"];\nfileinto :create "default";\n',
    dovecot: { landed: ['Maildir/.default/new'] },
  },
  sieve('sieve_default does not run when the user has a script', 'keep;\n', { landed: INBOX }, { sieveDefault: 'discard;\n' }),
  {
    name: 'Sieve enabled, no script at all: INBOX',
    as: 'user',
    args: ENVELOPE,
    input: PLAIN,
    sieveSettings: [],
    dovecot: { landed: INBOX },
  },
  sieve('a compile error in a sieve_before script: nothing runs, INBOX', 'require ["fileinto", "mailbox"];\nfileinto :create "personal";\n', { landed: INBOX }, { sieveBefore: ['if true {\n'] }),
  sieve('sieve_discard runs for a discarded message', 'discard;\n', { landed: ['Maildir/.discarded/new'] }, {
    sieveSettings: ['sieve_discard = {DIR}/discard.sieve'],
    setup: (_home, dir) => writeFileSync(join(dir, 'discard.sieve'), 'require ["fileinto", "mailbox"];\nfileinto :create "discarded";\n', { mode: 0o644 }),
  }),
  {
    name: 'the active script is a symlink into ~/sieve (the ManageSieve layout)',
    as: 'user',
    args: ENVELOPE,
    input: PLAIN,
    personalScripts: { main: 'require ["fileinto", "mailbox"];\nfileinto :create "main";\n' },
    setup: (home) => {
      symlinkSync('sieve/main.sieve', join(home, '.dovecot.sieve'));
      lchownSync(join(home, '.dovecot.sieve'), mailUid!, mailGid!);
    },
    dovecot: { landed: ['Maildir/.main/new'] },
  },
  {
    name: 'userdb extra field sieve= names another script',
    as: 'root',
    args: ['-d', USER, ...ENVELOPE],
    input: PLAIN,
    users: [`${USER}::${mailUid}:${mailGid}::{HOME}::userdb_sieve=file:~/sieve;active=~/other.sieve`],
    sieve: 'keep;\n',
    personalScripts: {},
    setup: (home) => {
      writeFileSync(join(home, 'other.sieve'), 'require ["fileinto", "mailbox"];\nfileinto :create "other";\n', { mode: 0o600 });
      chownSync(join(home, 'other.sieve'), mailUid!, mailGid!);
    },
    dovecot: { landed: ['Maildir/.other/new'] },
  },
];

const LIMITS: SieveCase[] = [
  sieve('sieve_extensions = -fileinto: compile error, INBOX', 'require "fileinto";\nfileinto "work";\n', KEPT_AFTER_ERROR, {
    sieveSettings: ['sieve_extensions = -fileinto'],
    config: [AUTOCREATE],
  }),
  sieve('vacation-seconds is off by default: compile error, INBOX', 'require "vacation-seconds";\nvacation :seconds 60 "away";\n', KEPT_AFTER_ERROR),
  sieve(
    'sieve_max_actions exceeded: runtime error, INBOX',
    'require ["fileinto", "copy", "mailbox"];\nfileinto :copy :create "a";\nfileinto :copy :create "b";\nfileinto :copy :create "c";\n',
    KEPT_AFTER_ERROR,
    { sieveSettings: ['sieve_max_actions = 2'] },
  ),
  sieve('sieve_max_script_size exceeded: INBOX', `# ${'x'.repeat(200)}\ndiscard;\n`, KEPT_AFTER_ERROR, { sieveSettings: ['sieve_max_script_size = 100'] }),
  sieve('fileinto a folder Dovecot may not open (permission denied): 75', 'require ["fileinto", "mailbox"];\nfileinto :create "work";\n', { statuses: [75], landed: [], userLog: true }, {
    setup: (home) => {
      mkdirSync(join(home, 'Maildir'), { mode: 0o700 });
      chownSync(join(home, 'Maildir'), mailUid!, mailGid!);
      for (const sub of ['cur', 'new', 'tmp']) {
        mkdirSync(join(home, 'Maildir', sub), { mode: 0o700 });
        chownSync(join(home, 'Maildir', sub), mailUid!, mailGid!);
      }
      mkdirSync(join(home, 'Maildir', '.work'), { mode: 0o500 });
    },
  }),
];

export const SIEVE_CASES: SieveCase[] = [...CORE, ...FILEINTO, ...REDIRECT, ...REJECT, ...VACATION_CASES, ...FLAGS, ...MBOX_CASES, ...VARIABLES, ...TESTS, ...SEQUENCE, ...LIMITS];
