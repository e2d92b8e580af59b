// The LMTP backend over real storage in a temp dir, with a passwd-file userdb.
// The process pretends (processIdentity) to run as the users' uid and gid, so
// every delivery here is in-process; as root the files are simply root's.
// The worker route is in worker.test.ts.

import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { Readable } from 'node:stream';
import { loadSettings } from '../../src/config/settings.js';
import { createLocalBackend, type LocalBackend, type LocalBackendConfig } from '../../src/lmtp/backend.js';
import { formatMessageDate } from '../../src/message/dates.js';
import type { AcceptedRecipient, LmtpBackend, LmtpReply, LmtpTransaction, RcptRequest } from '../../src/lmtp/types.js';
import type { Log, LogLevel } from '../../src/log/log.js';
import { parseRecipientPath } from '../../src/message/smtp-address.js';
import { DeliveryFailure } from '../../src/deliver/failure.js';

const euid = process.geteuid!();
/** the users' uid and gid: the test process's own, or vmail's numbers when root (root never delivers) */
const UID = euid === 0 ? 5000 : euid;
const GID = euid === 0 ? 5000 : process.getegid!();
const MESSAGE = 'Subject: hello\r\nMessage-ID: <m1@example.org>\r\n\r\nbody line\r\n';
const STARTED = new Date(Date.UTC(2026, 11, 1, 0, 16, 55));

class RecordingLog implements Log {
  prefix = 'lmtp(1): ';
  lines: string[] = [];
  setPrefix(prefix: string): void {
    this.prefix = prefix;
  }
  write(level: LogLevel, text: string): void {
    this.lines.push(`${this.prefix}${level}: ${text}`);
  }
  withPrefix(prefix: string): Log {
    return { setPrefix() {}, write: (level, text) => this.lines.push(`${prefix}${level}: ${text}`), withPrefix: (other) => this.withPrefix(other), close: async () => {} };
  }
  async close(): Promise<void> {}
}

let dir: string;
let log: RecordingLog;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'dovetail-lmtp-backend-'));
  log = new RecordingLog();
  for (const user of ['alice', 'bob', 'carol', 'broken', 'low', 'other']) mkdirSync(join(dir, 'home', user), { recursive: true });
  writeFileSync(join(dir, 'home', 'broken', 'file'), 'a regular file where a directory should be\n');
  mkdirSync(join(dir, 'spool'));
  writeFileSync(
    join(dir, 'users'),
    [
      `alice@example.com::${UID}:${GID}::${dir}/home/alice::`,
      `bob@example.com::${UID}:${GID}::${dir}/home/bob::userdb_mail=mbox:~/mail:INBOX=~/inbox`,
      `carol@example.com::${UID}:${GID}::${dir}/home/carol::`,
      `broken@example.com::${UID}:${GID}::${dir}/home/broken::userdb_mail=maildir:~/file/Maildir`,
      `low@example.com::${UID}:${GID}::${dir}/home/low::`,
      `other@example.com::${UID + 1}:${GID + 1}::${dir}/home/other::`,
      '',
    ].join('\n'),
  );
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function backend(extraConfig: string[] = [], overrides: Partial<LocalBackendConfig> = {}): LmtpBackend {
  const configPath = join(dir, 'dovecot.conf');
  writeFileSync(
    configPath,
    [
      'mail_location = maildir:~/Maildir',
      `mail_temp_dir = ${dir}/spool`,
      'first_valid_uid = 100',
      'userdb {',
      '  driver = passwd-file',
      `  args = ${dir}/users`,
      '}',
      ...extraConfig,
      '',
    ].join('\n'),
  );
  const settings = loadSettings({ configPath, protocol: 'lmtp', overrides: [] });
  return createLocalBackend({
    settings,
    configPath,
    overrides: [],
    hostname: 'mx.example.com',
    fileHostname: 'host',
    log,
    processIdentity: { euid: UID, egid: GID },
    ...overrides,
  });
}

let transactionCount = 0;
function transaction(sender: string | null = 's@x.org', id = `TRANS${++transactionCount}`): LmtpTransaction {
  return {
    id,
    client: { helo: 'client.example', remoteAddress: '127.0.0.1', remotePort: 40000, sessionId: id },
    sender: sender === null ? null : parseRecipientPath(sender, 'test'),
    params: {},
    started: STARTED,
  };
}

/** RCPT for each address in order (index = position + 1); returns the replies and the accepted recipients. */
async function rcpts(b: LmtpBackend, t: LmtpTransaction, addresses: string[]): Promise<{ replies: LmtpReply[]; accepted: AcceptedRecipient[] }> {
  const replies: LmtpReply[] = [];
  const accepted: AcceptedRecipient[] = [];
  for (const [position, text] of addresses.entries()) {
    const [path, orcpt] = text.split(' ORCPT=');
    const request: RcptRequest = { address: parseRecipientPath(path!, 'test'), index: position + 1, ...(orcpt !== undefined && { orcpt }) };
    const verdict = await b.checkRecipient(t, request);
    replies.push(verdict.reply);
    if (verdict.accepted) accepted.push(verdict.accepted);
  }
  return { replies, accepted };
}

const reply = (r: LmtpReply) => `${r.code} ${r.enhanced} ${r.text}`;

async function session(b: LmtpBackend, addresses: string[], message = MESSAGE, t = transaction()): Promise<{ rcpt: string[]; data: string[] }> {
  const { replies, accepted } = await rcpts(b, t, addresses);
  const data = await b.deliver(t, accepted, Readable.from([Buffer.from(message)]));
  return { rcpt: replies.map(reply), data: data.map(reply) };
}

function maildirFiles(user: string, folder = ''): string[] {
  const path = join(dir, 'home', user, 'Maildir', folder, 'new');
  return existsSync(path) ? readdirSync(path).map((name) => readFileSync(join(path, name), 'utf8')) : [];
}

describe('RCPT', () => {
  it.each([
    ['<alice@example.com>', '250 2.1.5 OK'],
    ['<Alice+anything@EXAMPLE.com>', '250 2.1.5 OK'],
    ['<nobody@example.com>', "550 5.1.1 <nobody@example.com> User doesn't exist: nobody@example.com"],
    ['<Nobody+x@Example.com>', "550 5.1.1 <Nobody+x@Example.com> User doesn't exist: Nobody@Example.com"],
    ['<"no body"@example.com>', '550 5.1.1 <"no body"@example.com> User doesn\'t exist: no body@example.com'],
    ['<other@example.com>', '451 4.3.0 <other@example.com> Temporary internal error'],
  ])('%s → %s', async (address, expected) => {
    const { replies } = await rcpts(backend(), transaction(), [address]);
    expect(replies.map(reply)).toEqual([expected]);
  });

  it('a uid the server cannot deliver as: the reason goes to the log, not to the client (as Dovecot)', async () => {
    await rcpts(backend(), transaction(), ['<other@example.com>']);
    expect(log.lines).toEqual([`lmtp(1): Error: Cannot deliver as UID ${UID + 1} GID ${GID + 1}: running as UID ${UID} GID ${GID}, not root (user other@example.com)`]);
  });

  it('a userdb that fails: 451 4.3.0 Temporary internal error, and the reason in the log', async () => {
    rmSync(join(dir, 'users'));
    const { replies, accepted } = await rcpts(backend(), transaction(), ['<alice@example.com>']);
    expect(replies.map(reply)).toEqual(['451 4.3.0 <alice@example.com> Temporary internal error']);
    expect(accepted).toEqual([]);
    expect(log.lines).toEqual([expect.stringMatching(/^lmtp\(1\): Error: Failed to lookup user alice@example.com: .*users/)]);
  });

  it('lmtp_user_concurrency_limit counts one user over transactions until they end', async () => {
    const b = backend(['lmtp_user_concurrency_limit = 1']);
    const first = transaction();
    const second = transaction();
    const busy = '451 4.3.0 <alice@example.com> Too many concurrent deliveries for user';
    const held = await rcpts(b, first, ['<alice@example.com>', '<alice@example.com>', '<carol@example.com>']);
    expect(held.replies.map(reply)).toEqual(['250 2.1.5 OK', busy, '250 2.1.5 OK']);
    expect((await rcpts(b, second, ['<Alice+x@example.com>'])).replies.map(reply)).toEqual([busy.replace('alice@', 'Alice+x@')]);
    b.release(first, held.accepted);
    b.release(first, held.accepted); // twice is harmless
    const again = await rcpts(b, second, ['<alice@example.com>']);
    expect(again.replies.map(reply)).toEqual(['250 2.1.5 OK']);
    await b.deliver(second, again.accepted, Readable.from([Buffer.from(MESSAGE)]));
    expect((await rcpts(b, transaction(), ['<alice@example.com>'])).replies.map(reply)).toEqual(['250 2.1.5 OK']);
  });
});

describe('DATA', () => {
  it('one recipient: the headers as Dovecot writes them, then the message with LF line ends', async () => {
    const t = transaction(null, 'mBfqFfURDmvvdgAAg+zDdQ');
    expect(await session(backend(), ['<Alice@Example.com>'], MESSAGE, t)).toEqual({
      rcpt: ['250 2.1.5 OK'],
      data: ['250 2.0.0 <Alice@Example.com> mBfqFfURDmvvdgAAg+zDdQ Saved'],
    });
    expect(maildirFiles('alice')).toEqual([
      'Return-Path: <>\n' +
        'Delivered-To: Alice@Example.com\n' +
        'Received: from client.example ([127.0.0.1])\n' +
        '\tby mx.example.com with LMTP\n' +
        '\tid mBfqFfURDmvvdgAAg+zDdQ\n' +
        '\t(envelope-from <>)\n' +
        `\tfor <Alice@Example.com>; ${formatMessageDate(STARTED)}\n` +
        'Subject: hello\nMessage-ID: <m1@example.org>\n\nbody line\n',
    ]);
    expect(log.lines).toEqual([`lmtp(alice@example.com)<${process.pid}><mBfqFfURDmvvdgAAg+zDdQ>: Info: msgid=<m1@example.org>: saved mail to INBOX`]);
    expect(log.prefix).toBe('lmtp(1): ');
  });

  it('several recipients, Maildir and mbox: one reply each in order, ids with :R<n> after the first RCPT', async () => {
    const t = transaction('s@x.org', 'ID');
    const result = await session(backend(), ['<nobody@example.com>', '<alice@example.com>', '<bob@example.com>'], MESSAGE, t);
    expect(result.data).toEqual(['250 2.0.0 <alice@example.com> ID:R2 Saved', '250 2.0.0 <bob@example.com> ID:R3 Saved']);
    const headers = 'Return-Path: <s@x.org>\nReceived: from client.example ([127.0.0.1])\n\tby mx.example.com with LMTP\n\tid ID\n' + `\t(envelope-from <s@x.org>); ${formatMessageDate(STARTED)}\n`;
    expect(maildirFiles('alice')).toEqual([`${headers}Subject: hello\nMessage-ID: <m1@example.org>\n\nbody line\n`]);
    const mbox = readFileSync(join(dir, 'home', 'bob', 'inbox'), 'utf8');
    expect(mbox).toMatch(/^From s@x\.org {2}\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\n/);
    expect(mbox.slice(mbox.indexOf('\n') + 1)).toBe(`${headers}Subject: hello\nMessage-ID: <m1@example.org>\nContent-Length: 10\n\nbody line\n\n`);
  });

  it('a repeated RCPT gets a copy of the first reply and no second delivery; another spelling of the user is delivered again', async () => {
    const t = transaction('s@x.org', 'ID');
    const result = await session(backend(), ['<carol@example.com>', '<carol@EXAMPLE.COM>', '<Carol@example.com>'], MESSAGE, t);
    expect(result.data).toEqual([
      '250 2.0.0 <carol@example.com> ID Saved',
      '250 2.0.0 <carol@example.com> ID Saved',
      '250 2.0.0 <Carol@example.com> ID:R3 Saved',
    ]);
    expect(maildirFiles('carol')).toHaveLength(2);
  });

  it('one recipient failing does not touch the others', async () => {
    const result = await session(backend(), ['<alice@example.com>', '<broken@example.com>', '<carol@example.com>']);
    expect(result.data[0]).toMatch(/^250 2\.0\.0 <alice@example\.com> /);
    expect(result.data[1]).toMatch(/^451 4\.2\.0 <broken@example\.com> \S/);
    expect(result.data[2]).toMatch(/^250 2\.0\.0 <carol@example\.com> /);
    expect(maildirFiles('alice')).toHaveLength(1);
    expect(maildirFiles('carol')).toHaveLength(1);
    expect(log.lines.filter((line) => line.includes(': Error: '))).toEqual([expect.stringMatching(/^lmtp\(broken@example\.com\)<\d+><TRANS\d+:R2>: Error: /)]);
  });

  it('a uid below first_valid_uid: 250 at RCPT, 451 4.3.0 after DATA, as Dovecot', async () => {
    const result = await session(backend([`first_valid_uid = ${UID + 1}`]), ['<low@example.com>', '<alice@example.com>']);
    expect(result.rcpt).toEqual(['250 2.1.5 OK', '250 2.1.5 OK']);
    expect(result.data).toEqual(['451 4.3.0 <low@example.com> Temporary internal error', '451 4.3.0 <alice@example.com> Temporary internal error']);
    expect(log.lines[0]).toBe(`lmtp(low@example.com)<${process.pid}><TRANS${transactionCount}>: Error: Mail access for users with UID ${UID} not permitted (see first_valid_uid=${UID + 1} / last_valid_uid=0 in config)`);
    expect(maildirFiles('low')).toEqual([]);
  });

  it('lmtp_save_to_detail_mailbox: the detail names the mailbox, under the inbox namespace prefix', async () => {
    const b = backend(['lmtp_save_to_detail_mailbox = yes', 'lda_mailbox_autocreate = yes', 'recipient_delimiter = +-', 'namespace inbox {', '  inbox = yes', '  prefix = INBOX.', '  separator = .', '}']);
    const result = await session(b, ['<alice-work@example.com>', '<carol+@example.com>']);
    expect(result.data).toEqual([expect.stringMatching(/^250 2\.0\.0 <alice-work@example\.com> /), expect.stringMatching(/^250 2\.0\.0 <carol\+@example\.com> /)]);
    expect(maildirFiles('alice', '.work')).toHaveLength(1);
    expect(maildirFiles('alice')).toEqual([]);
    expect(maildirFiles('carol')).toHaveLength(1);
  });

  it('without lmtp_save_to_detail_mailbox, a detail still goes to INBOX', async () => {
    await session(backend(['lda_mailbox_autocreate = yes']), ['<alice+work@example.com>']);
    expect(maildirFiles('alice')).toHaveLength(1);
  });

  it('lmtp_hdr_delivery_address = original: the ORCPT in Delivered-To; lda_original_recipient_header is not consulted for it', async () => {
    await session(backend(['lmtp_hdr_delivery_address = original', 'lmtp_add_received_header = no']), ['<alice@example.com> ORCPT=orig+x@example.org']);
    expect(maildirFiles('alice')).toEqual([expect.stringMatching(/^Return-Path: <s@x\.org>\nDelivered-To: orig\+x@example\.org\nSubject: hello\n/)]);
  });

  it('a client gone mid-DATA: nothing delivered, every recipient 451, no temp file left', async () => {
    const b = backend();
    const t = transaction();
    const { accepted } = await rcpts(b, t, ['<alice@example.com>', '<bob@example.com>']);
    const big = Buffer.alloc(512 * 1024, 'x');
    const data = new Readable({ read() {} });
    data.push(Buffer.from('Subject: cut\r\n\r\n'));
    data.push(big);
    setImmediate(() => data.destroy(new Error('client went away')));
    const replies = await b.deliver(t, accepted, data);
    expect(replies.map(reply)).toEqual(['451 4.3.0 <alice@example.com> Temporary internal error', '451 4.3.0 <bob@example.com> Temporary internal error']);
    expect(maildirFiles('alice')).toEqual([]);
    expect(existsSync(join(dir, 'home', 'bob', 'inbox'))).toBe(false);
    expect(readdirSync(join(dir, 'spool'))).toEqual([]);
    expect(log.lines).toEqual([]);
  });

  it('a spool that cannot be written: 451 for all, the rest of the data still read', async () => {
    const b = backend();
    rmSync(join(dir, 'spool'), { recursive: true });
    const t = transaction();
    const { accepted } = await rcpts(b, t, ['<alice@example.com>']);
    const data = Readable.from([Buffer.from('Subject: big\r\n\r\n'), Buffer.alloc(300 * 1024, 'y'), Buffer.alloc(300 * 1024, 'z')]);
    const replies = await b.deliver(t, accepted, data);
    expect(replies.map(reply)).toEqual(['451 4.3.0 <alice@example.com> Temporary internal error']);
    expect(data.readableEnded).toBe(true);
    expect(log.lines).toEqual([expect.stringMatching(/^lmtp\(1\): Error: Can't create a temp file/)]);
  });

  it('a server stopping for good (its signal aborted): deliveries roll back, 451 for each, nothing on disk; settled() then resolves', async () => {
    const cutoff = new AbortController();
    cutoff.abort(new Error('Killed with signal SIGTERM'));
    const b = backend([], { signal: cutoff.signal }) as LocalBackend;
    const result = await session(b, ['<alice@example.com>', '<bob@example.com>']);
    expect(result.data).toEqual([expect.stringMatching(/^451 4\.2\.0 <alice@example\.com> /), expect.stringMatching(/^451 4\.2\.0 <bob@example\.com> /)]);
    expect(maildirFiles('alice')).toEqual([]);
    expect(existsSync(join(dir, 'home', 'bob', 'inbox'))).toBe(false);
    await b.settled();
  });

  it('a big message goes through the spool intact', async () => {
    const body = 'x'.repeat(998) + '\r\n';
    const message = 'Subject: big\r\n\r\n' + body.repeat(600);
    const result = await session(backend(), ['<alice@example.com>', '<carol@example.com>'], message);
    expect(result.data).toEqual([expect.stringMatching(/^250 /), expect.stringMatching(/^250 /)]);
    for (const user of ['alice', 'carol']) {
      const [stored] = maildirFiles(user);
      expect(stored!.endsWith('Subject: big\n\n' + ('x'.repeat(998) + '\n').repeat(600))).toBe(true);
    }
    expect(readdirSync(join(dir, 'spool'))).toEqual([]);
  });
});

describe('settings', () => {
  it('greeting and hostname', () => {
    expect(backend()).toMatchObject({ greeting: 'Dovecot ready.', hostname: 'mx.example.com' });
    expect(backend(['login_greeting = Hello there.', 'hostname = lmtp.example.com'], { hostname: undefined })).toMatchObject({
      greeting: 'Hello there.',
      hostname: 'lmtp.example.com',
    });
  });

  it.each([
    ['lmtp_hdr_delivery_address = both', /lmtp_hdr_delivery_address: Invalid value: both/],
    ['lmtp_save_to_detail_mailbox = maybe', /lmtp_save_to_detail_mailbox: Invalid boolean value: maybe/],
    ['lmtp_user_concurrency_limit = -1', /lmtp_user_concurrency_limit: Invalid number -1/],
  ])('a bad %s is refused when the backend is made', (line, reason) => {
    let error: unknown;
    try {
      backend([line]);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(DeliveryFailure);
    expect((error as Error).message).toMatch(reason);
  });
});
