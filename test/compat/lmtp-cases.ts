// The LMTP rows of the side-by-side table (./lmtp.test.ts runs them): one
// entry per session (or per set of interleaved sessions), each with its
// users (passwd-file entries in example.com, Maildir or mbox, uid/gid of the
// mail user), extra config lines, the client's steps (../helpers/lmtp-client.ts:
// lines or raw bytes, one command at a time or pipelined), an optional set-up
// of the homes and Sieve scripts, and what Dovecot's lmtp does with it
// (`dovecot`: the reply codes in order and where messages landed), checked
// before Dovetail is compared so that a case cannot silently test nothing.
// Setup helpers run as root and chown what they make.

import { mkdirSync, chownSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import type { LmtpStep } from '../helpers/lmtp-client.js';
import { mailUid, mailGid, MAIL_USER } from '../e2e/harness.js';

export const DOMAIN = 'example.com';

export interface LmtpUser {
  /** the local part; the user is NAME@example.com, home HOMES/NAME */
  name: string;
  /** default maildir (mail_location = maildir:~/Maildir); mbox: userdb_mail=mbox:~/mail:INBOX=~/inbox */
  format?: 'maildir' | 'mbox';
  /** more passwd-file extra fields (space-separated key=value) */
  fields?: string[];
  /** uid and gid in the passwd-file; default the mail user's */
  uid?: number;
  /** the home is not made before the session (default: made, owned by the mail user, mode 0700) */
  noHome?: boolean;
  /** the user's active Sieve script (~/.dovecot.sieve); enables Pigeonhole in protocol lmtp {} */
  sieve?: string;
}

export interface DovecotLmtpOutcome {
  /**
   * the code of every reply in order, space-separated, the greeting first
   * (`220 250 250 250 354 250 221`); a reply on connection N > 0 as `N:250`,
   * a close as `closed`
   */
  codes: string;
  /** where messages landed (harness landedMessages over all homes): "alice/Maildir/new", "bob/inbox" */
  landed: string[];
  /** how many messages went through sendmail_path; default 0 */
  sent?: number;
}

export interface LmtpCase {
  name: string;
  /** default: USERS (alice Maildir, bob mbox, carol Maildir) */
  users?: LmtpUser[];
  /** config lines after the common ones */
  config?: string[];
  steps: LmtpStep[];
  /** prepares the homes before the servers start (HOMES holds one directory per user) */
  setup?: (homes: string) => void;
  /** what Dovecot's lmtp does: the case's name must say the same */
  dovecot: DovecotLmtpOutcome;
  /** set when the difference is intentional; the text names the docs/compatibility.md section */
  intentional?: string;
}

export const USERS: LmtpUser[] = [{ name: 'alice' }, { name: 'bob', format: 'mbox' }, { name: 'carol' }];

const ALICE = `alice@${DOMAIN}`;
const BOB = `bob@${DOMAIN}`;
const CAROL = `carol@${DOMAIN}`;
const SENDER = 'sender@example.org';

/** TEXT with every line end as CRLF. */
export function crlf(text: string): string {
  return text.replace(/\r?\n/g, '\r\n');
}

const SIMPLE = crlf('From: sender@example.org\nTo: alice@example.com\nSubject: hello\nMessage-ID: <m1@example.org>\n\nbody\n');

/** One command line, one reply. */
function command(line: string, session?: number): LmtpStep {
  return { send: [line], replies: 1, ...(session === undefined ? {} : { session }) };
}

/** Commands sent in one write (PIPELINING), REPLIES replies awaited (default one per line). */
function pipelined(lines: string[], replies = lines.length, session?: number): LmtpStep {
  return { send: lines, replies, ...(session === undefined ? {} : { session }) };
}

/** The message (CRLF lines, dot-stuffed here) and the final dot, then REPLIES replies (one per accepted recipient). */
function message(text: string, replies: number, session?: number): LmtpStep {
  return { send: `${text.replace(/^\./gm, '..')}.\r\n`, replies, ...(session === undefined ? {} : { session }) };
}

/** A BDAT command with its chunk (sent in one write), then REPLIES replies (LAST: one per accepted recipient). */
function bdat(chunk: string, last: boolean, replies = 1): LmtpStep {
  return { send: `BDAT ${Buffer.byteLength(chunk, 'latin1')}${last ? ' LAST' : ''}\r\n${chunk}`, replies };
}

const LHLO = command('LHLO client.example.org');
const MAIL = command(`MAIL FROM:<${SENDER}>`);
const QUIT = command('QUIT');
const rcpt = (address: string, session?: number) => command(`RCPT TO:<${address}>`, session);

/**
 * A whole session one command at a time: LHLO, MAIL, a RCPT for each of
 * RECIPIENTS, DATA, the message (ACCEPTED replies), QUIT.
 */
function delivery(recipients: string[], accepted: number, text = SIMPLE, mail = MAIL): LmtpStep[] {
  return [LHLO, mail, ...recipients.map((address) => rcpt(address)), command('DATA'), message(text, accepted), QUIT];
}

/** Codes of `delivery` when every recipient is accepted and delivered. */
function deliveredCodes(recipients: number): string {
  return ['220 250 250', ...Array<string>(recipients).fill('250'), '354', ...Array<string>(recipients).fill('250'), '221', 'closed'].join(' ');
}

/** HOMES/NAME/Maildir/.FOLDER/{cur,new,tmp}, owned by the mail user. */
function maildirFolder(homes: string, user: string, folder: string): void {
  const root = join(homes, user, 'Maildir');
  for (const path of [root, join(root, `.${folder}`), ...['cur', 'new', 'tmp'].map((sub) => join(root, `.${folder}`, sub))]) {
    mkdirSync(path, { recursive: true, mode: 0o700 });
    chownSync(path, mailUid!, mailGid!);
  }
}

/** HOMES/NAME/Maildir made by root, mode 0555: the mail user can neither write it nor make new/ cur/ tmp/ in it. */
function unwritableMaildir(homes: string, user: string): void {
  const path = join(homes, user, 'Maildir');
  mkdirSync(path, { mode: 0o555 });
  chmodSync(path, 0o555);
}

const DETAIL = ['recipient_delimiter = +', 'lmtp_save_to_detail_mailbox = yes'];
/** The limit, and anvil's socket opened to the mail user: Dovecot's lmtp (running as the mail user) asks anvil for the count. */
const CONCURRENCY_LIMIT = ['lmtp_user_concurrency_limit = 1', 'service anvil {', '  unix_listener anvil {', `    user = ${MAIL_USER}`, '  }', '}'];
const REJECT = 'require "reject";\nreject "not wanted";\n';
const BIG_LINE = 'x'.repeat(200 * 1024);

export const LMTP_CASES: LmtpCase[] = [
  // recipients
  { name: 'known recipient', steps: delivery([ALICE], 1), dovecot: { codes: deliveredCodes(1), landed: ['alice/Maildir/new'] } },
  { name: 'known mbox recipient', steps: delivery([BOB], 1), dovecot: { codes: deliveredCodes(1), landed: ['bob/inbox'] } },
  {
    name: 'unknown recipient refused at RCPT, DATA then has no recipients',
    steps: [LHLO, MAIL, rcpt(`nobody@${DOMAIN}`), command('DATA'), QUIT],
    dovecot: { codes: '220 250 250 550 503 221 closed', landed: [] },
  },
  {
    name: 'unknown domain refused at RCPT',
    steps: [LHLO, MAIL, rcpt('alice@example.net'), QUIT],
    dovecot: { codes: '220 250 250 550 221 closed', landed: [] },
  },
  {
    name: 'known and unknown recipients: the known one gets the message',
    steps: [LHLO, MAIL, rcpt(`nobody@${DOMAIN}`), rcpt(ALICE), command('DATA'), message(SIMPLE, 1), QUIT],
    dovecot: { codes: '220 250 250 550 250 354 250 221 closed', landed: ['alice/Maildir/new'] },
  },
  {
    name: 'three recipients, Maildir and mbox, one transaction (no Delivered-To, no "for" in Received)',
    steps: delivery([ALICE, BOB, CAROL], 3),
    dovecot: { codes: deliveredCodes(3), landed: ['alice/Maildir/new', 'bob/inbox', 'carol/Maildir/new'] },
  },
  {
    name: 'three recipients pipelined in one write',
    steps: [LHLO, pipelined([`MAIL FROM:<${SENDER}>`, `RCPT TO:<${ALICE}>`, `RCPT TO:<${BOB}>`, `RCPT TO:<${CAROL}>`, 'DATA']), message(SIMPLE, 3), QUIT],
    dovecot: { codes: deliveredCodes(3), landed: ['alice/Maildir/new', 'bob/inbox', 'carol/Maildir/new'] },
  },
  {
    name: 'whole session in one write, QUIT included',
    steps: [
      {
        send: `LHLO client.example.org\r\nMAIL FROM:<${SENDER}>\r\nRCPT TO:<${ALICE}>\r\nRCPT TO:<${BOB}>\r\nDATA\r\n${SIMPLE}.\r\nQUIT\r\n`,
        replies: 8,
      },
    ],
    dovecot: { codes: deliveredCodes(2), landed: ['alice/Maildir/new', 'bob/inbox'] },
  },
  {
    name: 'one recipient failing temporarily (unwritable Maildir), the others delivered',
    steps: delivery([ALICE, CAROL, BOB], 3),
    setup: (homes) => unwritableMaildir(homes, 'carol'),
    dovecot: { codes: '220 250 250 250 250 250 354 250 451 250 221 closed', landed: ['alice/Maildir/new', 'bob/inbox'] },
  },
  {
    name: 'home missing and not creatable (parent owned by root): temporary failure',
    users: [{ name: 'alice' }, { name: 'dave', noHome: true }],
    steps: delivery([ALICE, `dave@${DOMAIN}`], 2),
    dovecot: { codes: '220 250 250 250 250 354 250 451 221 closed', landed: ['alice/Maildir/new'] },
  },
  {
    name: 'duplicate recipient: delivered once, the reply repeated',
    steps: delivery([ALICE, ALICE], 2),
    dovecot: { codes: deliveredCodes(2), landed: ['alice/Maildir/new'] },
  },
  {
    name: 'the same user in another case: a second recipient, delivered twice',
    steps: delivery([ALICE, `Alice@Example.COM`], 2),
    dovecot: { codes: deliveredCodes(2), landed: ['alice/Maildir/new', 'alice/Maildir/new'] },
  },
  {
    name: 'upper-case recipient folded by auth_username_format (%Lu), reply keeps its case',
    steps: delivery([`ALICE@EXAMPLE.COM`], 1),
    dovecot: { codes: deliveredCodes(1), landed: ['alice/Maildir/new'] },
  },
  {
    name: 'auth_username_format = %u: upper-case recipient unknown',
    config: ['auth_username_format = %u'],
    steps: [LHLO, MAIL, rcpt('ALICE@example.com'), QUIT],
    dovecot: { codes: '220 250 250 550 221 closed', landed: [] },
  },
  {
    name: 'quoted local part and a source route in RCPT',
    steps: delivery([`"alice"@${DOMAIN}`, `@relay.example.net:bob@${DOMAIN}`], 2),
    dovecot: { codes: deliveredCodes(2), landed: ['alice/Maildir/new', 'bob/inbox'] },
  },
  {
    name: 'pipelined RCPTs with an unknown one between known ones',
    steps: [LHLO, pipelined([`MAIL FROM:<${SENDER}>`, `RCPT TO:<${ALICE}>`, `RCPT TO:<nobody@${DOMAIN}>`, `RCPT TO:<${BOB}>`, 'DATA']), message(SIMPLE, 2), QUIT],
    dovecot: { codes: '220 250 250 250 550 250 354 250 250 221 closed', landed: ['alice/Maildir/new', 'bob/inbox'] },
  },
  {
    name: 'user without domain in the userdb, recipient without domain',
    users: [{ name: 'alice' }],
    steps: [LHLO, MAIL, command('RCPT TO:<alice>'), QUIT],
    dovecot: { codes: '220 250 250 550 221 closed', landed: [] },
  },

  // detail mailboxes
  {
    name: 'detail mailbox: existing folder',
    config: DETAIL,
    setup: (homes) => maildirFolder(homes, 'alice', 'work'),
    steps: delivery([`alice+work@${DOMAIN}`], 1),
    dovecot: { codes: deliveredCodes(1), landed: ['alice/Maildir/.work/new'] },
  },
  {
    name: 'detail mailbox: missing folder without autocreate falls back to INBOX',
    config: DETAIL,
    steps: delivery([`alice+work@${DOMAIN}`], 1),
    dovecot: { codes: deliveredCodes(1), landed: ['alice/Maildir/new'] },
  },
  {
    name: 'detail mailbox: missing folder with lda_mailbox_autocreate',
    config: [...DETAIL, 'lda_mailbox_autocreate = yes'],
    steps: delivery([`alice+work@${DOMAIN}`], 1),
    dovecot: { codes: deliveredCodes(1), landed: ['alice/Maildir/.work/new'] },
  },
  {
    name: 'detail mailbox in an mbox user, autocreated',
    config: [...DETAIL, 'lda_mailbox_autocreate = yes'],
    steps: delivery([`bob+lists@${DOMAIN}`], 1),
    dovecot: { codes: deliveredCodes(1), landed: ['bob/mail/lists'] },
  },
  {
    name: 'lmtp_save_to_detail_mailbox = no: detail ignored, INBOX',
    config: ['recipient_delimiter = +', 'lmtp_save_to_detail_mailbox = no'],
    setup: (homes) => maildirFolder(homes, 'alice', 'work'),
    steps: delivery([`alice+work@${DOMAIN}`], 1),
    dovecot: { codes: deliveredCodes(1), landed: ['alice/Maildir/new'] },
  },
  {
    name: 'no recipient_delimiter: user+detail is an unknown user',
    config: ['recipient_delimiter =', 'lmtp_save_to_detail_mailbox = yes'],
    steps: [LHLO, MAIL, rcpt(`alice+work@${DOMAIN}`), QUIT],
    dovecot: { codes: '220 250 250 550 221 closed', landed: [] },
  },
  {
    name: 'several delimiter characters (+-): the first one found splits',
    config: ['recipient_delimiter = +-', 'lmtp_save_to_detail_mailbox = yes', 'lda_mailbox_autocreate = yes'],
    steps: delivery([`alice-a+b@${DOMAIN}`], 1),
    dovecot: { codes: deliveredCodes(1), landed: ['alice/Maildir/.a+b/new'] },
  },
  {
    name: 'detail mailbox for two recipients of one transaction',
    config: [...DETAIL, 'lda_mailbox_autocreate = yes'],
    steps: delivery([`alice+work@${DOMAIN}`, `carol+home@${DOMAIN}`], 2),
    dovecot: { codes: deliveredCodes(2), landed: ['alice/Maildir/.work/new', 'carol/Maildir/.home/new'] },
  },

  // senders
  {
    name: 'null sender',
    steps: delivery([ALICE, BOB], 2, SIMPLE, command('MAIL FROM:<>')),
    dovecot: { codes: deliveredCodes(2), landed: ['alice/Maildir/new', 'bob/inbox'] },
  },
  {
    name: 'MAIL FROM with BODY=8BITMIME and an 8-bit message',
    steps: delivery([ALICE], 1, crlf(Buffer.from('Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\nContent-Type: text/plain; charset=utf-8\n\nGrüße\n', 'utf8').toString('latin1')), command(`MAIL FROM:<${SENDER}> BODY=8BITMIME`)),
    dovecot: { codes: deliveredCodes(1), landed: ['alice/Maildir/new'] },
  },

  // protocol errors: the session goes on
  {
    name: 'commands out of order: RCPT and DATA before MAIL, MAIL twice, DATA without recipients',
    steps: [LHLO, rcpt(ALICE), command('DATA'), MAIL, command(`MAIL FROM:<${SENDER}>`), command('DATA'), rcpt(ALICE), command('DATA'), message(SIMPLE, 1), QUIT],
    dovecot: { codes: '220 250 503 503 250 503 503 250 354 250 221 closed', landed: ['alice/Maildir/new'] },
  },
  {
    name: 'MAIL before LHLO is accepted, LHLO ends that transaction (the next is :T2)',
    steps: [MAIL, LHLO, command('DATA'), MAIL, rcpt(ALICE), command('DATA'), message(SIMPLE, 1), QUIT],
    dovecot: { codes: '220 250 250 503 250 250 354 250 221 closed', landed: ['alice/Maildir/new'] },
  },
  {
    name: 'unknown commands, HELO and EHLO, then a delivery',
    steps: [command('FOO bar'), command('HELO client.example.org'), command('EHLO client.example.org'), command('STARTTLS'), command('AUTH PLAIN'), ...delivery([ALICE], 1)],
    dovecot: { codes: `220 500 500 500 502 502 ${deliveredCodes(1).slice(4)}`, landed: ['alice/Maildir/new'] },
  },
  {
    name: 'LHLO without a name, LHLO twice',
    steps: [command('LHLO'), LHLO, LHLO, QUIT],
    dovecot: { codes: '220 501 250 250 221 closed', landed: [] },
  },
  {
    name: 'bad MAIL syntax: no brackets, no colon, empty, garbage after the path',
    steps: [LHLO, command(`MAIL FROM:${SENDER}`), command(`MAIL FROM <${SENDER}>`), command('MAIL'), command(`MAIL FROM:<${SENDER}> junk`), command('MAIL FROM:<a b@example.org>'), QUIT],
    dovecot: { codes: '220 250 501 501 501 555 501 221 closed', landed: [] },
  },
  {
    name: 'bad RCPT syntax: empty path, no brackets, no domain part, junk',
    steps: [LHLO, MAIL, command('RCPT TO:<>'), command(`RCPT TO:${ALICE}`), command('RCPT TO:<@example.com>'), command(`RCPT TO:<${ALICE}> junk`), command('RCPT'), QUIT],
    dovecot: { codes: '220 250 250 501 501 501 555 501 221 closed', landed: [] },
  },
  {
    name: 'MAIL parameters: SIZE, BODY=7BIT, unknown, BODY=BINARYMIME, SIZE=abc',
    steps: [
      LHLO,
      command(`MAIL FROM:<${SENDER}> SIZE=1000`),
      command('RSET'),
      command(`MAIL FROM:<${SENDER}> BODY=7BIT`),
      command('RSET'),
      command(`MAIL FROM:<${SENDER}> FOO=bar`),
      command(`MAIL FROM:<${SENDER}> BODY=BINARYMIME`),
      command(`MAIL FROM:<${SENDER}> SIZE=abc`),
      command(`MAIL FROM:<${SENDER}> AUTH=<>`),
      QUIT,
    ],
    dovecot: { codes: '220 250 555 250 250 250 555 555 555 555 221 closed', landed: [] },
  },
  {
    name: 'RCPT parameters: NOTIFY (DSN not offered), unknown, ORCPT malformed',
    steps: [LHLO, MAIL, command(`RCPT TO:<${ALICE}> NOTIFY=NEVER`), command(`RCPT TO:<${ALICE}> FOO=bar`), command(`RCPT TO:<${ALICE}> ORCPT=bogus`), QUIT],
    dovecot: { codes: '220 250 250 555 555 501 221 closed', landed: [] },
  },
  {
    name: 'lower-case commands',
    steps: [command('lhlo client.example.org'), command(`mail from:<${SENDER}>`), command(`rcpt to:<${ALICE}>`), command('data'), message(SIMPLE, 1), command('quit')],
    dovecot: { codes: deliveredCodes(1), landed: ['alice/Maildir/new'] },
  },
  {
    name: 'a space after the colon is refused; a message after a refused DATA is read as commands',
    steps: [LHLO, command(`MAIL FROM: <${SENDER}>`), MAIL, command(`RCPT TO: <${ALICE}>`), command('DATA'), message(SIMPLE, 7), QUIT],
    dovecot: { codes: '220 250 501 250 501 503 500 500 500 500 500 500 500 221 closed', landed: [] },
  },
  {
    name: 'a 200 KB command line, then the session goes on',
    steps: [LHLO, command(`NOOP ${BIG_LINE}`), ...delivery([ALICE], 1).slice(1)],
    dovecot: { codes: `220 250 500 ${deliveredCodes(1).slice(8)}`, landed: ['alice/Maildir/new'] },
  },
  {
    name: 'a 200 KB RCPT line',
    steps: [LHLO, MAIL, command(`RCPT TO:<${'a'.repeat(200 * 1024)}@example.com>`), rcpt(ALICE), command('DATA'), message(SIMPLE, 1), QUIT],
    dovecot: { codes: '220 250 250 500 250 354 250 221 closed', landed: ['alice/Maildir/new'] },
  },
  {
    name: 'a 200 KB line inside DATA',
    steps: delivery([ALICE, BOB], 2, crlf(`Subject: long line\n\n${BIG_LINE}\nend\n`)),
    dovecot: { codes: deliveredCodes(2), landed: ['alice/Maildir/new', 'bob/inbox'] },
  },
  {
    name: 'VRFY (a user, a quoted address, a bare address, nothing), NOOP, RSET, HELP',
    steps: [LHLO, command('VRFY alice'), command(`VRFY "${ALICE}"`), command(`VRFY ${ALICE}`), command('VRFY'), command('NOOP'), command('NOOP anything'), command('RSET'), command('HELP'), QUIT],
    dovecot: { codes: '220 250 252 252 501 501 250 250 250 500 221 closed', landed: [] },
  },
  {
    name: 'commands after QUIT are not answered',
    steps: [LHLO, pipelined(['QUIT', 'NOOP'], 1)],
    dovecot: { codes: '220 250 221 closed', landed: [] },
  },

  // transactions
  {
    name: 'RSET mid-transaction, then another transaction delivers',
    steps: [LHLO, MAIL, rcpt(ALICE), command('RSET'), command('DATA'), MAIL, rcpt(BOB), command('DATA'), message(SIMPLE, 1), QUIT],
    dovecot: { codes: '220 250 250 250 250 503 250 250 354 250 221 closed', landed: ['bob/inbox'] },
  },
  {
    name: 'two transactions in one session (second id :T2)',
    steps: [LHLO, MAIL, rcpt(ALICE), command('DATA'), message(SIMPLE, 1), MAIL, rcpt(ALICE), rcpt(BOB), command('DATA'), message(SIMPLE, 2), QUIT],
    dovecot: { codes: '220 250 250 250 354 250 250 250 250 354 250 250 221 closed', landed: ['alice/Maildir/new', 'alice/Maildir/new', 'bob/inbox'] },
  },
  {
    name: 'QUIT mid-transaction: nothing delivered',
    steps: [LHLO, MAIL, rcpt(ALICE), QUIT],
    dovecot: { codes: '220 250 250 250 221 closed', landed: [] },
  },
  {
    name: 'client gone mid-DATA: nothing delivered, nothing left behind',
    steps: [LHLO, MAIL, rcpt(ALICE), rcpt(BOB), command('DATA'), { send: crlf('Subject: cut\n\nfirst half\n'), replies: 0, close: true }],
    dovecot: { codes: '220 250 250 250 250 354', landed: [] },
  },
  {
    name: 'client gone after RCPT',
    steps: [LHLO, MAIL, rcpt(ALICE), { send: '', replies: 0, close: true }],
    dovecot: { codes: '220 250 250 250', landed: [] },
  },

  // BDAT
  {
    name: 'BDAT in two chunks, the second LAST',
    steps: [LHLO, MAIL, rcpt(ALICE), rcpt(BOB), bdat(SIMPLE.slice(0, 20), false), bdat(SIMPLE.slice(20), true, 2), QUIT],
    dovecot: { codes: '220 250 250 250 250 250 250 250 221 closed', landed: ['alice/Maildir/new', 'bob/inbox'] },
  },
  {
    name: 'BDAT with the message, then BDAT 0 LAST',
    steps: [LHLO, MAIL, rcpt(ALICE), bdat(SIMPLE, false), bdat('', true), QUIT],
    dovecot: { codes: '220 250 250 250 250 250 221 closed', landed: ['alice/Maildir/new'] },
  },
  {
    name: 'BDAT chunks pipelined in one write, a line split across chunks, no dot-stuffing, bare LF kept',
    steps: [LHLO, MAIL, rcpt(ALICE), { send: ['Subject', ': x\r\n\r\n.\r\n.dot\n', ''].map((chunk, i, all) => bdat(chunk, i === all.length - 1).send).join(''), replies: 3 }, QUIT],
    dovecot: { codes: '220 250 250 250 250 250 250 221 closed', landed: ['alice/Maildir/new'] },
  },
  {
    name: 'BDAT before MAIL: refused, and every chunk after it until RSET',
    steps: [LHLO, bdat('hello', true), MAIL, rcpt(ALICE), bdat('hello', true), command('RSET'), MAIL, rcpt(ALICE), bdat(SIMPLE, true), QUIT],
    dovecot: { codes: '220 250 503 250 250 503 250 250 250 250 221 closed', landed: ['alice/Maildir/new'] },
  },
  {
    name: 'BDAT without recipients',
    steps: [LHLO, MAIL, bdat('hello', true), rcpt(ALICE), bdat(SIMPLE, true), QUIT],
    dovecot: { codes: '220 250 250 503 250 503 221 closed', landed: [] },
  },
  {
    name: 'BDAT with a bad size: 501, later chunks refused until RSET',
    steps: [LHLO, MAIL, rcpt(ALICE), command('BDAT x'), bdat(SIMPLE, true), command('RSET'), MAIL, rcpt(ALICE), command('BDAT'), command('RSET'), MAIL, rcpt(ALICE), bdat(SIMPLE, true), QUIT],
    dovecot: { codes: '220 250 250 250 501 503 250 250 250 501 250 250 250 250 221 closed', landed: ['alice/Maildir/new'] },
  },
  {
    name: 'BDAT with a bad end marker: 501, its chunk skipped',
    steps: [LHLO, MAIL, rcpt(ALICE), { send: 'BDAT 5 FIRST\r\nhello', replies: 1 }, command('RSET'), MAIL, rcpt(ALICE), bdat(SIMPLE, true), QUIT],
    dovecot: { codes: '220 250 250 250 501 250 250 250 250 221 closed', landed: ['alice/Maildir/new'] },
  },
  {
    name: 'DATA after a BDAT chunk, then BDAT LAST',
    steps: [LHLO, MAIL, rcpt(ALICE), bdat(SIMPLE.slice(0, 20), false), command('DATA'), bdat(SIMPLE.slice(20), true), QUIT],
    dovecot: { codes: '220 250 250 250 250 503 250 221 closed', landed: ['alice/Maildir/new'] },
  },

  // message bytes
  {
    name: 'dot-stuffing: a body line of one dot and lines starting with dots',
    steps: delivery([ALICE, BOB], 2, crlf('Subject: dots\n\n.\n..\n.hidden\nend\n')),
    dovecot: { codes: deliveredCodes(2), landed: ['alice/Maildir/new', 'bob/inbox'] },
  },
  {
    name: 'bare LF line ends in DATA, ended by a bare-LF dot line',
    steps: [LHLO, MAIL, rcpt(ALICE), rcpt(BOB), command('DATA'), { send: 'Subject: lf\n\nline 1\n..line 2\n.\n', replies: 2 }, QUIT],
    dovecot: { codes: deliveredCodes(2), landed: ['alice/Maildir/new', 'bob/inbox'] },
  },
  {
    name: 'what follows a bare-LF dot line is read as commands',
    steps: [LHLO, MAIL, rcpt(ALICE), command('DATA'), { send: 'Subject: lf\r\n\r\nline 1\r\n.\nstill data\r\n.\r\n', replies: 3 }, QUIT],
    dovecot: { codes: '220 250 250 250 354 250 500 500 221 closed', landed: ['alice/Maildir/new'] },
  },
  {
    name: 'mixed CRLF, bare LF and lone CR in DATA',
    steps: [LHLO, MAIL, rcpt(ALICE), command('DATA'), { send: 'Subject: mixed\r\n\nline a\r\nline b\nc\rd\r\n.\r\n', replies: 1 }, QUIT],
    dovecot: { codes: deliveredCodes(1), landed: ['alice/Maildir/new'] },
  },
  {
    name: 'NUL and 8-bit bytes in DATA',
    steps: delivery([ALICE, BOB], 2, crlf('Subject: bin\n\na\u0000b \u00ff\u00e9\n')),
    dovecot: { codes: deliveredCodes(2), landed: ['alice/Maildir/new', 'bob/inbox'] },
  },
  {
    name: 'a 2 MB message to a Maildir and an mbox user',
    steps: delivery([ALICE, BOB], 2, crlf(`Subject: big\n\n${`${'z'.repeat(79)}\n`.repeat(26_000)}`)),
    dovecot: { codes: deliveredCodes(2), landed: ['alice/Maildir/new', 'bob/inbox'] },
  },
  {
    name: 'empty message',
    steps: [LHLO, MAIL, rcpt(ALICE), command('DATA'), { send: '.\r\n', replies: 1 }, QUIT],
    dovecot: { codes: deliveredCodes(1), landed: ['alice/Maildir/new'] },
  },
  {
    name: 'message without a header, body only',
    steps: delivery([ALICE, BOB], 2, crlf('no header here\nsecond line\n')),
    dovecot: { codes: deliveredCodes(2), landed: ['alice/Maildir/new', 'bob/inbox'] },
  },
  {
    name: 'body line starting with "From " to an mbox user',
    steps: delivery([BOB], 1, crlf('Subject: from\n\nFrom here on\n>From there\n')),
    dovecot: { codes: deliveredCodes(1), landed: ['bob/inbox'] },
    intentional: 'mbox From_ quoting',
  },

  // headers
  {
    name: 'ORCPT with lmtp_hdr_delivery_address = original',
    config: ['lmtp_hdr_delivery_address = original'],
    steps: [LHLO, MAIL, command(`RCPT TO:<${ALICE}> ORCPT=rfc822;orig+2Buser@example.net`), command('DATA'), message(SIMPLE, 1), QUIT],
    dovecot: { codes: deliveredCodes(1), landed: ['alice/Maildir/new'] },
  },
  {
    name: 'ORCPT with the default lmtp_hdr_delivery_address (final)',
    steps: [LHLO, MAIL, command(`RCPT TO:<${ALICE}> ORCPT=rfc822;orig@example.net`), command('DATA'), message(SIMPLE, 1), QUIT],
    dovecot: { codes: deliveredCodes(1), landed: ['alice/Maildir/new'] },
  },
  {
    name: 'lmtp_hdr_delivery_address = original without ORCPT',
    config: ['lmtp_hdr_delivery_address = original'],
    steps: delivery([ALICE], 1),
    dovecot: { codes: deliveredCodes(1), landed: ['alice/Maildir/new'] },
  },
  {
    name: 'lmtp_hdr_delivery_address = none',
    config: ['lmtp_hdr_delivery_address = none'],
    steps: delivery([ALICE], 1),
    dovecot: { codes: deliveredCodes(1), landed: ['alice/Maildir/new'] },
  },
  {
    name: 'lmtp_add_received_header = no',
    config: ['lmtp_add_received_header = no'],
    steps: delivery([ALICE, BOB], 2),
    dovecot: { codes: deliveredCodes(2), landed: ['alice/Maildir/new', 'bob/inbox'] },
  },
  {
    name: 'lda_original_recipient_header: no Delivered-To from it, Sieve reject reports it',
    users: [{ name: 'alice', sieve: REJECT }],
    config: ['lda_original_recipient_header = X-Original-To', 'lmtp_hdr_delivery_address = original'],
    steps: delivery([ALICE], 1, crlf('X-Original-To: first@example.net\nSubject: orig\nMessage-ID: <orig@example.org>\n\nbody\n')),
    dovecot: { codes: deliveredCodes(1), landed: [], sent: 1 },
  },
  {
    name: 'Sieve reject reports the ORCPT address',
    users: [{ name: 'alice', sieve: REJECT }],
    steps: [LHLO, MAIL, command(`RCPT TO:<${ALICE}> ORCPT=rfc822;orig@example.net`), command('DATA'), message(SIMPLE, 1), QUIT],
    dovecot: { codes: deliveredCodes(1), landed: [], sent: 1 },
  },
  {
    name: 'LHLO name with odd characters in the Received header',
    steps: [command('LHLO [192.0.2.1]'), MAIL, rcpt(ALICE), command('DATA'), message(SIMPLE, 1), QUIT],
    dovecot: { codes: deliveredCodes(1), landed: ['alice/Maildir/new'] },
  },

  // Sieve
  {
    name: 'Sieve fileinto for an LMTP user, plain delivery for the others',
    users: [{ name: 'alice', sieve: 'require ["fileinto", "mailbox"];\nfileinto :create "Filed";\n' }, { name: 'bob', format: 'mbox' }],
    steps: delivery([ALICE, BOB], 2),
    dovecot: { codes: deliveredCodes(2), landed: ['alice/Maildir/.Filed/new', 'bob/inbox'] },
  },
  {
    name: 'Sieve reject: a rejection mail through sendmail_path, 250 to the client',
    users: [{ name: 'alice', sieve: REJECT }, { name: 'bob', format: 'mbox' }],
    steps: delivery([ALICE, BOB], 2),
    dovecot: { codes: deliveredCodes(2), landed: ['bob/inbox'], sent: 1 },
  },
  {
    name: 'Sieve reject of the null sender: nothing sent',
    users: [{ name: 'alice', sieve: REJECT }],
    steps: delivery([ALICE], 1, SIMPLE, command('MAIL FROM:<>')),
    dovecot: { codes: deliveredCodes(1), landed: [] },
  },
  {
    name: 'Sieve discard and keep in one transaction',
    users: [{ name: 'alice', sieve: 'discard;\n' }, { name: 'carol', sieve: 'keep;\n' }],
    steps: delivery([ALICE, CAROL], 2),
    dovecot: { codes: deliveredCodes(2), landed: ['carol/Maildir/new'] },
  },

  // limits
  {
    name: 'lmtp_user_concurrency_limit = 1: the same user twice in one transaction',
    config: CONCURRENCY_LIMIT,
    steps: [LHLO, MAIL, rcpt(ALICE), rcpt(ALICE), rcpt(BOB), command('DATA'), message(SIMPLE, 2), QUIT],
    dovecot: { codes: '220 250 250 250 451 250 354 250 250 221 closed', landed: ['alice/Maildir/new', 'bob/inbox'] },
  },
  {
    name: 'lmtp_user_concurrency_limit = 1: a second session for the same user while the first holds it',
    config: CONCURRENCY_LIMIT,
    steps: [
      LHLO,
      MAIL,
      rcpt(ALICE),
      command('LHLO other.example.org', 1),
      command(`MAIL FROM:<${SENDER}>`, 1),
      rcpt(ALICE, 1),
      rcpt(BOB, 1),
      command('DATA'),
      message(SIMPLE, 1),
      QUIT,
      rcpt(ALICE, 1),
      command('DATA', 1),
      message(SIMPLE, 2, 1),
      command('QUIT', 1),
    ],
    dovecot: { codes: '220 250 250 250 1:220 1:250 1:250 1:451 1:250 354 250 221 1:250 1:354 1:250 1:250 1:221 closed 1:closed', landed: ['alice/Maildir/new', 'alice/Maildir/new', 'bob/inbox'] },
  },

  // users
  {
    name: 'user with another uid than the server runs as',
    users: [{ name: 'alice' }, { name: 'erin', uid: 5001 }],
    steps: [LHLO, MAIL, rcpt(ALICE), rcpt(`erin@${DOMAIN}`), command('DATA'), message(SIMPLE, 1), QUIT],
    dovecot: { codes: '220 250 250 250 451 354 250 221 closed', landed: ['alice/Maildir/new'] },
  },
  {
    name: 'userdb_mail extra field pointing elsewhere',
    users: [{ name: 'alice', fields: ['userdb_mail=maildir:~/Other'] }],
    steps: delivery([ALICE], 1),
    dovecot: { codes: deliveredCodes(1), landed: ['alice/Other/new'] },
  },
];
