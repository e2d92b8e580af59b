// serveConnection on real sockets (127.0.0.1:0, and a UNIX socket) with a
// fake backend that records its calls, reads every message to the end and
// answers as Dovecot's lmtp does; a raw client writes bytes and reads the
// exact reply lines. The expected replies were observed with Dovecot
// 2.3.19.1's lmtp (the same sessions sent to both, compared byte for byte);
// where Dovecot cannot be observed (limits it does not have) or where we
// differ on purpose (shutdown, RCPT after BDAT), the test says so.
import { afterEach, describe, expect, it } from 'vitest';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serveConnection } from '../../src/lmtp/connection.js';
import { formatAddress } from '../../src/message/smtp-address.js';
import type {
  AcceptedRecipient,
  ConnectionLimits,
  LmtpBackend,
  LmtpConnection,
  LmtpReply,
  LmtpTransaction,
  RcptRequest,
  RcptVerdict,
} from '../../src/lmtp/types.js';
import type { Readable } from 'node:stream';

// ---- the fake backend ----

interface Delivery {
  transaction: LmtpTransaction;
  recipients: readonly AcceptedRecipient[];
  data: Buffer;
  error?: Error;
}

class FakeBackend implements LmtpBackend {
  readonly hostname = 'mx.example';
  readonly greeting = 'Dovecot ready.';
  users = new Set(['alice', 'bob']);
  readonly checks: { transaction: LmtpTransaction; rcpt: RcptRequest }[] = [];
  readonly deliveries: Delivery[] = [];
  readonly releases: { transaction: LmtpTransaction; recipients: readonly AcceptedRecipient[] }[] = [];
  /** RCPT lookups in flight at once, at most */
  maxConcurrentChecks = 0;
  private checking = 0;
  /** replaces the usual verdict when set */
  verdict?: (rcpt: RcptRequest) => Promise<RcptVerdict>;
  /** replaces the usual replies when set (after the data was read) */
  replies?: (recipients: readonly AcceptedRecipient[]) => Promise<LmtpReply[]>;
  /** deliver() settles without reading the data */
  answerAtOnce = false;
  /** count the bytes only (big messages) */
  countOnly = false;
  bytesSeen = 0;
  private deliveryListeners: (() => void)[] = [];

  async checkRecipient(transaction: LmtpTransaction, rcpt: RcptRequest): Promise<RcptVerdict> {
    this.checks.push({ transaction, rcpt });
    this.checking++;
    this.maxConcurrentChecks = Math.max(this.maxConcurrentChecks, this.checking);
    try {
      await new Promise((resolve) => setImmediate(resolve)); // a lookup takes a turn of the loop at least
      if (this.verdict) return await this.verdict(rcpt);
      const address = formatAddress(rcpt.address);
      if (this.users.has(rcpt.address.localpart.toLowerCase())) {
        return { reply: { code: 250, enhanced: '2.1.5', text: 'OK' }, accepted: { request: rcpt, state: rcpt.address.localpart } };
      }
      return { reply: { code: 550, enhanced: '5.1.1', text: `<${address}> User doesn't exist: ${address}` } };
    } finally {
      this.checking--;
    }
  }

  async deliver(transaction: LmtpTransaction, recipients: readonly AcceptedRecipient[], data: Readable): Promise<LmtpReply[]> {
    const delivery: Delivery = { transaction, recipients, data: Buffer.alloc(0) };
    this.deliveries.push(delivery);
    this.deliveryListeners.splice(0).forEach((listener) => listener());
    if (!this.answerAtOnce) {
      const chunks: Buffer[] = [];
      try {
        for await (const chunk of data) {
          this.bytesSeen += (chunk as Buffer).length;
          if (!this.countOnly) chunks.push(chunk as Buffer);
        }
      } catch (error) {
        delivery.error = error as Error;
      }
      delivery.data = Buffer.concat(chunks);
      if (delivery.error) return recipients.map(() => ({ code: 451, enhanced: '4.3.0', text: 'read failed' }));
    }
    if (this.replies) return this.replies(recipients);
    return recipients.map((recipient) => ({
      code: 250,
      enhanced: '2.0.0',
      text: `<${formatAddress(recipient.request.address)}> ${transaction.id}${recipient.request.index > 1 ? `:R${recipient.request.index}` : ''} Saved`,
    }));
  }

  release(transaction: LmtpTransaction, recipients: readonly AcceptedRecipient[]): void {
    this.releases.push({ transaction, recipients });
  }

  /** Resolves once deliver() has been called `count` times. */
  async deliveryStarted(count = 1): Promise<void> {
    while (this.deliveries.length < count) await new Promise<void>((resolve) => this.deliveryListeners.push(resolve));
  }
}

// ---- the server and the raw client ----

const defaultLimits: ConnectionLimits = { maxRecipients: 0, maxMessageSize: 0, idleTimeoutMs: 60_000, maxCommandLength: 4101 };

interface Harness {
  limits: ConnectionLimits;
  backend: FakeBackend;
  connections: LmtpConnection[];
  log: string[];
  connect(): Promise<RawClient>;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startServer(limits: Partial<ConnectionLimits> = {}, unixPath?: string, remoteAddress?: string): Promise<Harness> {
  const backend = new FakeBackend();
  const connections: LmtpConnection[] = [];
  const log: string[] = [];
  const sockets = new Set<Socket>();
  let sessions = 0;
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    sessions++;
    if (remoteAddress !== undefined) Object.defineProperty(socket, 'remoteAddress', { value: remoteAddress });
    connections.push(
      serveConnection(socket, backend, { ...defaultLimits, ...limits }, { log: (level, text) => log.push(`${level}: ${text}`), sessionId: `SESSION${sessions}` }),
    );
  });
  await new Promise<void>((resolve) => (unixPath ? server.listen(unixPath, resolve) : server.listen(0, '127.0.0.1', resolve)));
  cleanups.push(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
    await Promise.all(connections.map((connection) => connection.closed));
  });
  const address = server.address();
  const target = unixPath ?? (typeof address === 'object' && address !== null ? address.port : 0);
  return {
    limits: { ...defaultLimits, ...limits },
    backend,
    connections,
    log,
    async connect() {
      const client = await RawClient.connect(target);
      cleanups.push(() => client.destroy());
      return client;
    },
  };
}

class RawClient {
  private received = '';
  private ended = false;
  private notify: (() => void) | undefined;
  readonly closed: Promise<void>;

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (text: string) => {
      this.received += text;
      this.notify?.();
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        this.ended = true;
        this.notify?.();
        resolve();
      }),
    );
  }

  static connect(target: number | string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = typeof target === 'number' ? createConnection(target, '127.0.0.1') : createConnection(target);
      socket.once('connect', () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  /** Writes, and waits until the bytes are handed to the kernel (so a huge write cannot pile up in memory). */
  send(data: string | Buffer): Promise<void> {
    return new Promise((resolve, reject) => this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data, (error) => (error ? reject(error) : resolve())));
  }

  /** The next `count` CRLF-terminated lines (without CRLF). */
  async lines(count: number): Promise<string[]> {
    const lines: string[] = [];
    while (lines.length < count) {
      const end = this.received.indexOf('\r\n');
      if (end >= 0) {
        lines.push(this.received.slice(0, end));
        this.received = this.received.slice(end + 2);
        continue;
      }
      if (this.ended) throw new Error(`connection closed after ${JSON.stringify(lines)}; left: ${JSON.stringify(this.received)}`);
      await new Promise<void>((resolve) => (this.notify = resolve));
    }
    return lines;
  }

  /** Everything still to come, once the server has closed the connection. */
  async rest(): Promise<string> {
    await this.closed;
    const rest = this.received;
    this.received = '';
    return rest;
  }

  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

const GREETING = '220 mx.example Dovecot ready.';
const LHLO_REPLY = ['250-mx.example', '250-8BITMIME', '250-CHUNKING', '250-ENHANCEDSTATUSCODES', '250 PIPELINING'];
const lhloReply = (maxMessageSize: number) =>
  maxMessageSize > 0 ? [...LHLO_REPLY.slice(0, -1), '250-PIPELINING', `250 SIZE ${maxMessageSize}`] : LHLO_REPLY;

/** Greeting and LHLO done. */
async function greeted(harness: Harness): Promise<RawClient> {
  const client = await harness.connect();
  await client.send('LHLO client.example\r\n');
  const reply = lhloReply(harness.limits.maxMessageSize);
  expect(await client.lines(reply.length + 1)).toEqual([GREETING, ...reply]);
  return client;
}

/** Writes a whole session at once and reads `count` reply lines, then expects the server to close. */
async function pipelined(harness: Harness, script: string, count: number): Promise<string[]> {
  const client = await harness.connect();
  await client.send(script);
  const lines = await client.lines(count);
  expect(await client.rest()).toBe('');
  return lines;
}

// ---- the tests ----

describe('greeting and LHLO', () => {
  it.each([
    [0, LHLO_REPLY],
    [10_485_760, ['250-mx.example', '250-8BITMIME', '250-CHUNKING', '250-ENHANCEDSTATUSCODES', '250-PIPELINING', '250 SIZE 10485760']],
  ])('with a message size limit of %d', async (maxMessageSize, reply) => {
    expect(lhloReply(maxMessageSize)).toEqual(reply);
    const harness = await startServer({ maxMessageSize });
    expect(await pipelined(harness, 'LHLO x\r\nQUIT\r\n', reply.length + 2)).toEqual([GREETING, ...reply, '221 2.0.0 Bye']);
  });
});

describe('command replies, as Dovecot gives them', () => {
  const H = 'LHLO x\r\n';
  const cases: [string, string, string[]][] = [
    [
      'a session',
      `${H}MAIL FROM:<a@b>\r\nRCPT TO:<alice>\r\nRCPT TO:<nobody>\r\nRCPT TO:<>\r\nVRFY x\r\nNOOP\r\nHELO x\r\nEHLO x\r\nRSET\r\n`,
      [
        '250 2.1.0 OK',
        '250 2.1.5 OK',
        "550 5.1.1 <nobody> User doesn't exist: nobody",
        '501 5.5.4 Invalid TO: Null path not allowed',
        '252 2.3.3 Try RCPT instead',
        '250 2.0.0 OK',
        '500 5.5.1 Unknown command',
        '500 5.5.1 Unknown command',
        '250 2.0.0 OK',
      ],
    ],
    ['MAIL before LHLO', 'MAIL FROM:<a@b>\r\nRCPT TO:<alice>\r\n', ['250 2.1.0 OK', '250 2.1.5 OK']],
    ['MAIL twice (the state is checked before the arguments)', `${H}MAIL FROM:<a@b>\r\nMAIL FROM:<c@d>\r\nMAIL FROM:x\r\n`, ['250 2.1.0 OK', '503 5.5.0 MAIL already given', '503 5.5.0 MAIL already given']],
    ['DATA without recipients', `${H}MAIL FROM:<a@b>\r\nDATA\r\n`, ['250 2.1.0 OK', '503 5.5.0 No valid recipients']],
    [
      'RCPT, DATA and BDAT before MAIL',
      `${H}DATA\r\nRCPT TO:<alice>\r\nRCPT TO:x\r\nBDAT 5\r\nhelloBDAT 0 LAST\r\n`,
      ['503 5.5.0 MAIL needed first', '503 5.5.0 MAIL needed first', '503 5.5.0 MAIL needed first', '503 5.5.0 MAIL needed first', '503 5.5.0 Previous data chunk failed, issue RSET first'],
    ],
    ['LHLO again ends the transaction', `${H}MAIL FROM:<a@b>\r\nRCPT TO:<alice>\r\nLHLO y\r\nRCPT TO:<alice>\r\n`, ['250 2.1.0 OK', '250 2.1.5 OK', ...LHLO_REPLY, '503 5.5.0 MAIL needed first']],
    ['an empty line, CRLF or LF', `${H}\r\n\n`, ['500 5.5.1 Unknown command', '500 5.5.1 Unknown command']],
    ['NUL bytes', `${H}NO\0OP\r\nNOOP\0\r\nNOOP \0\r\n`, ['500 5.5.2 Invalid command syntax', '500 5.5.2 Invalid command syntax', '500 5.5.2 Invalid command syntax']],
    ['line endings', 'NOOP\nNOOP\r\r\nNOOP\rX\r\nNOOP \n', ['250 2.0.0 OK', '500 5.5.2 Invalid command syntax', '500 5.5.2 Invalid command syntax', '250 2.0.0 OK']],
    ['LHLO arguments', 'LHLO\r\nLHLO \r\nLHLO a b\r\n', ['501 Missing hostname', '501 Missing hostname', ...LHLO_REPLY]],
    ['DATA after BDAT', `${H}MAIL FROM:<a@b>\r\nRCPT TO:<alice>\r\nBDAT 5\r\nhelloDATA\r\nRSET\r\n`, ['250 2.1.0 OK', '250 2.1.5 OK', '250 2.0.0 Added 5 octets', '503 5.5.0 Bad sequence of commands', '250 2.0.0 OK']],
    [
      'BDAT after a failed chunk, until RSET',
      `${H}MAIL FROM:<a@b>\r\nBDAT 5\r\nhelloBDAT 3\r\nabcMAIL FROM:<a@b>\r\nRSET\r\nMAIL FROM:<a@b>\r\nRCPT TO:<alice>\r\nBDAT 3 LAST\r\nabc`,
      [
        '250 2.1.0 OK',
        '503 5.5.0 No valid recipients',
        '503 5.5.0 Previous data chunk failed, issue RSET first',
        '503 5.5.0 MAIL already given',
        '250 2.0.0 OK',
        '250 2.1.0 OK',
        '250 2.1.5 OK',
        '250 2.0.0 <alice> SESSION1:T2 Saved',
      ],
    ],
    ['BDAT LAST without recipients', `${H}MAIL FROM:<a@b>\r\nBDAT 5 LAST\r\nhelloNOOP\r\nBDAT 0 LAST\r\n`, ['250 2.1.0 OK', '503 5.5.0 No valid recipients', '250 2.0.0 OK', '503 5.5.0 Previous data chunk failed, issue RSET first']],
    [
      'BDAT arguments (a chunk of known size is skipped)',
      `${H}MAIL FROM:<a@b>\r\nRCPT TO:<alice>\r\nBDAT\r\nBDAT x\r\nBDAT 1 LAST x\r\nBDAT 1 FIRST\r\nBDAT -1\r\nBDAT 1 last\r\nZRSET\r\nBDAT 3  LAST\r\nabc`,
      [
        '250 2.1.0 OK',
        '250 2.1.5 OK',
        '501 5.5.4 Invalid chunk size parameter',
        '501 5.5.4 Invalid chunk size parameter',
        '501 5.5.4 Invalid parameters',
        '500 5.5.1 Unknown command', // "DAT 1 FIRST": the B was the chunk
        '501 5.5.4 Invalid chunk size parameter',
        '503 5.5.0 Previous data chunk failed, issue RSET first',
        '250 2.0.0 OK',
        '501 5.5.4 Invalid parameters', // the arguments before the state, for BDAT
      ],
    ],
    ['arguments where none belong', 'RSET x\r\nNOOP x\r\nQUIT x\r\nDATA x\r\n', ['501 5.5.4 Invalid parameters', '250 2.0.0 OK', '501 5.5.4 Invalid parameters', '501 5.5.4 Invalid parameters']],
    ['VRFY', 'VRFY\r\nVRFY alice\r\nVRFY <alice@x>\r\n', ['501 5.5.4 Invalid parameters', '252 2.3.3 Try RCPT instead', '501 5.5.4 Invalid string parameter: Invalid character in string']],
    ['AUTH, STARTTLS, XCLIENT', 'AUTH PLAIN\r\nSTARTTLS\r\nXCLIENT ADDR=1.2.3.4\r\n', ['502 5.5.1 Unsupported command', '502 5.5.1 TLS support is not enabled.', '550 5.7.14 You are not from trusted IP']],
    ['a broken sender is the null sender', `${H}MAIL FROM:<a>\r\nRSET\r\nMAIL FROM:<a b>\r\nMAIL FROM:<a@>\r\n`, ['250 2.1.0 OK', '250 2.0.0 OK', '501 5.5.4 Invalid FROM: Invalid character in localpart', '250 2.1.0 OK']],
    ['MAIL SIZE= when SIZE is not advertised', `${H}MAIL FROM:<a@b> SIZE=100\r\n`, ['555 5.5.4 Unsupported parameters']],
  ];
  it.each(cases)('%s', async (_name, script, replies) => {
    const harness = await startServer();
    const expected = [GREETING, ...(script.startsWith(H) ? LHLO_REPLY : []), ...replies, '221 2.0.0 Bye'];
    expect(await pipelined(harness, `${script}QUIT\r\n`, expected.length)).toEqual(expected);
  });

  it('sent one command at a time, the same', async () => {
    const harness = await startServer();
    const client = await greeted(harness);
    for (const [command, reply] of [
      ['MAIL FROM:<a@b>', '250 2.1.0 OK'],
      ['RCPT TO:<bob>', '250 2.1.5 OK'],
      ['NOOP', '250 2.0.0 OK'],
      ['RSET', '250 2.0.0 OK'],
      ['QUIT', '221 2.0.0 Bye'],
    ]) {
      await client.send(`${command}\r\n`);
      expect(await client.lines(1)).toEqual([reply]);
    }
    expect(await client.rest()).toBe('');
    expect(harness.log).toEqual(['Info: Disconnect from 127.0.0.1: Logged out (state=READY)']);
  });

  it('QUIT: the commands after it are not read', async () => {
    const harness = await startServer();
    expect(await pipelined(harness, 'LHLO x\r\nQUIT\r\nNOOP\r\n', 7)).toEqual([GREETING, ...LHLO_REPLY, '221 2.0.0 Bye']);
  });
});

describe('pipelining', () => {
  it('a whole transaction in one write: in order, one RCPT lookup at a time, the message bytes never taken for commands', async () => {
    const harness = await startServer();
    const body = 'Subject: x\r\n\r\nQUIT\r\nRSET\r\n..\r\n';
    const lines = await pipelined(
      harness,
      `LHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<alice>\r\nRCPT TO:<nobody>\r\nRCPT TO:<bob>\r\nDATA\r\n${body}.\r\nNOOP\r\nQUIT\r\n`,
      15,
    );
    expect(lines).toEqual([
      GREETING,
      ...LHLO_REPLY,
      '250 2.1.0 OK',
      '250 2.1.5 OK',
      "550 5.1.1 <nobody> User doesn't exist: nobody",
      '250 2.1.5 OK',
      '354 OK',
      '250 2.0.0 <alice> SESSION1 Saved',
      '250 2.0.0 <bob> SESSION1:R3 Saved',
      '250 2.0.0 OK',
      '221 2.0.0 Bye',
    ]);
    expect(harness.backend.maxConcurrentChecks).toBe(1);
    expect(harness.backend.checks.map((check) => formatAddress(check.rcpt.address))).toEqual(['alice', 'nobody', 'bob']);
    expect(harness.backend.deliveries[0]!.data.toString()).toBe('Subject: x\r\n\r\nQUIT\r\nRSET\r\n.\r\n');
  });

  it('many sessions in one packet each, side by side', async () => {
    const harness = await startServer();
    const sessions = Array.from({ length: 20 }, (_, index) =>
      pipelined(harness, `LHLO x\r\nMAIL FROM:<>\r\nRCPT TO:<alice>\r\nDATA\r\nmessage ${index}\r\n.\r\nQUIT\r\n`, 11),
    );
    for (const lines of await Promise.all(sessions)) {
      expect(lines.slice(6)).toEqual(['250 2.1.0 OK', '250 2.1.5 OK', '354 OK', expect.stringMatching(/^250 2\.0\.0 <alice> SESSION\d+ Saved$/), '221 2.0.0 Bye']);
    }
    expect(harness.backend.deliveries.map((delivery) => delivery.data.toString()).sort()).toEqual(
      Array.from({ length: 20 }, (_, index) => `message ${index}\r\n`).sort(),
    );
  });
});

describe('transactions', () => {
  it('ids: the session id, then :T2, :T3 (a transaction ended by RSET counts)', async () => {
    const harness = await startServer();
    await pipelined(
      harness,
      'LHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<alice>\r\nDATA\r\nx\r\n.\r\nMAIL FROM:<>\r\nRSET\r\nMAIL FROM:<>\r\nRCPT TO:<bob>\r\nBDAT 1 LAST\r\nxQUIT\r\n',
      16,
    );
    expect(harness.backend.deliveries.map((delivery) => delivery.transaction.id)).toEqual(['SESSION1', 'SESSION1:T3']);
    expect(harness.backend.releases.map((release) => release.transaction.id)).toEqual(['SESSION1:T2']);
  });

  it('what the backend is told: client, sender, parameters, RCPT numbers counting refused RCPTs but not refused syntax', async () => {
    const harness = await startServer({ maxMessageSize: 1000 });
    const client = await harness.connect();
    await client.send(
      'LHLO client.example\r\nMAIL FROM:<"s r"@b> BODY=8BITMIME SIZE=10\r\nRCPT TO:<alice> FOO=1\r\nRCPT TO:<nobody>\r\nRCPT TO:<alice> ORCPT=rfc822;a+40x\r\nRCPT TO:<alice>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n',
    );
    expect((await client.lines(16)).slice(7)).toEqual([
      '250 2.1.0 OK',
      '555 5.5.4 Unsupported parameters',
      "550 5.1.1 <nobody> User doesn't exist: nobody",
      '250 2.1.5 OK',
      '250 2.1.5 OK',
      '354 OK',
      '250 2.0.0 <alice> SESSION1:R2 Saved',
      '250 2.0.0 <alice> SESSION1:R3 Saved',
      '221 2.0.0 Bye',
    ]);
    const delivery = harness.backend.deliveries[0]!;
    expect(delivery.transaction).toMatchObject({
      id: 'SESSION1',
      client: { helo: 'client.example', remoteAddress: '127.0.0.1', sessionId: 'SESSION1' },
      sender: { localpart: 's r', domain: 'b' },
      params: { body: '8BITMIME', size: 10 },
    });
    expect(delivery.transaction.client.remotePort).toBeGreaterThan(0);
    expect(delivery.transaction.started).toBeInstanceOf(Date);
    // a RCPT given twice is two recipients: two entries, two replies
    expect(delivery.recipients.map((recipient) => recipient.request)).toEqual([
      { address: { localpart: 'alice' }, index: 2, orcpt: 'a@x' },
      { address: { localpart: 'alice' }, index: 3 },
    ]);
  });

  it.each([
    ['RSET', 'RSET\r\n', ['250 2.0.0 OK']],
    ['LHLO', 'LHLO y\r\n', LHLO_REPLY],
    ['QUIT', 'QUIT\r\n', ['221 2.0.0 Bye']],
  ])('%s releases what RCPT reserved', async (_name, command, replies) => {
    const harness = await startServer();
    const client = await greeted(harness);
    await client.send(`MAIL FROM:<>\r\nRCPT TO:<alice>\r\nRCPT TO:<bob>\r\n${command}`);
    expect(await client.lines(3 + replies.length)).toEqual(['250 2.1.0 OK', '250 2.1.5 OK', '250 2.1.5 OK', ...replies]);
    await client.send('QUIT\r\n');
    await client.closed;
    await harness.connections[0]!.closed;
    expect(harness.backend.releases.map((release) => release.recipients.map((recipient) => recipient.state))).toEqual([['alice', 'bob']]);
    expect(harness.backend.deliveries).toEqual([]);
  });

  it('a client gone before DATA: released', async () => {
    const harness = await startServer();
    const client = await greeted(harness);
    await client.send('MAIL FROM:<>\r\nRCPT TO:<alice>\r\n');
    await client.lines(2);
    client.destroy();
    await harness.connections[0]!.closed;
    expect(harness.backend.releases).toHaveLength(1);
    expect(harness.log).toEqual(['Info: Disconnect from 127.0.0.1: Connection closed (state=RCPT TO)']);
  });

  it('recipient limit: accepted RCPTs are counted; one more gets 452 4.5.3 (Dovecot lib-smtp: 451 4.5.3)', async () => {
    const harness = await startServer({ maxRecipients: 2 });
    const lines = await pipelined(harness, 'LHLO x\r\nMAIL FROM:<>\r\nRCPT TO:<nobody>\r\nRCPT TO:<alice>\r\nRCPT TO:<bob>\r\nRCPT TO:<alice>\r\nRCPT TO:<x\r\nQUIT\r\n', 13);
    expect(lines.slice(6)).toEqual([
      '250 2.1.0 OK',
      "550 5.1.1 <nobody> User doesn't exist: nobody",
      '250 2.1.5 OK',
      '250 2.1.5 OK',
      '452 4.5.3 Too many recipients',
      '452 4.5.3 Too many recipients',
      '221 2.0.0 Bye',
    ]);
    expect(harness.backend.checks).toHaveLength(3);
  });
});

describe('DATA', () => {
  /** A transaction up to 354, one command at a time. */
  async function atData(harness: Harness, recipients = ['alice']): Promise<RawClient> {
    const client = await greeted(harness);
    await client.send(`MAIL FROM:<a@b>\r\n${recipients.map((rcpt) => `RCPT TO:<${rcpt}>\r\n`).join('')}DATA\r\n`);
    expect(await client.lines(recipients.length + 2)).toEqual(['250 2.1.0 OK', ...recipients.map(() => '250 2.1.5 OK'), '354 OK']);
    return client;
  }

  it('dot-stuffing undone, line endings kept, sent one byte per write', async () => {
    const harness = await startServer();
    const client = await atData(harness);
    const wire = 'S: x\r\n\r\n..a\r\n.b\r\nbare\nlf\n...\r\na\rb\r\n. \r\n\0\xff\r\n.\r\n';
    for (const byte of Buffer.from(wire, 'latin1')) await client.send(Buffer.from([byte]));
    expect(await client.lines(1)).toEqual(['250 2.0.0 <alice> SESSION1 Saved']);
    expect(harness.backend.deliveries[0]!.data.toString('latin1')).toBe('S: x\r\n\r\n.a\r\nb\r\nbare\nlf\n..\r\na\rb\r\n \r\n\0\xff\r\n');
  });

  it.each([
    ['LF . LF', 'a\n.\n', 'a\n'],
    ['CRLF . LF', 'a\r\n.\n', 'a\r\n'],
    ['LF . CRLF', 'a\n.\r\n', 'a\n'],
    ['at once', '.\r\n', ''],
  ])('the "." line ends the data: %s', async (_name, wire, data) => {
    const harness = await startServer();
    const client = await atData(harness);
    await client.send(`${wire}NOOP\r\n`);
    expect(await client.lines(2)).toEqual(['250 2.0.0 <alice> SESSION1 Saved', '250 2.0.0 OK']);
    expect(harness.backend.deliveries[0]!.data.toString()).toBe(data);
  });

  it('a 200 KB line inside DATA is delivered intact', async () => {
    const harness = await startServer();
    const client = await atData(harness);
    const line = 'x'.repeat(200_000);
    await client.send(`Subject: long\r\n\r\n${line}\r\n.\r\n`);
    expect(await client.lines(1)).toEqual(['250 2.0.0 <alice> SESSION1 Saved']);
    expect(harness.backend.deliveries[0]!.data.toString()).toBe(`Subject: long\r\n\r\n${line}\r\n`);
  });

  it('one reply per recipient in RCPT order, the backend\'s texts with CR and LF removed', async () => {
    const harness = await startServer();
    harness.backend.replies = async (recipients) =>
      recipients.map((recipient, index) => ({ code: index === 1 ? 451 : 250, enhanced: index === 1 ? '4.2.0' : '2.0.0', text: `<${formatAddress(recipient.request.address)}>\r\nline\nbreak` }));
    const client = await atData(harness, ['bob', 'alice', 'bob']);
    await client.send('x\r\n.\r\n');
    expect(await client.lines(3)).toEqual(['250 2.0.0 <bob>linebreak', '451 4.2.0 <alice>linebreak', '250 2.0.0 <bob>linebreak']);
  });

  it.each([
    ['too few replies', async () => [{ code: 250, enhanced: '2.0.0', text: 'OK' }], 'deliver gave 1 replies for 2 recipients'],
    ['a rejection', async () => Promise.reject(new Error('boom')), 'deliver failed: boom'],
    ['a reply that is no reply', async () => [{ code: 250, enhanced: '2.0.0', text: 'OK' }, { code: 99, enhanced: '', text: 'x' }], 'deliver gave an unusable reply'],
  ])('a backend bug (%s): 451 4.3.0 for every recipient, logged', async (_name, replies, logged) => {
    const harness = await startServer();
    harness.backend.replies = replies as FakeBackend['replies'];
    const client = await atData(harness, ['alice', 'bob']);
    await client.send('x\r\n.\r\nNOOP\r\n');
    expect(await client.lines(3)).toEqual(['451 4.3.0 <alice> Temporary internal error', '451 4.3.0 <bob> Temporary internal error', '250 2.0.0 OK']);
    expect(harness.log.join('\n')).toContain(`Error: SESSION1: ${logged}`);
  });

  it('a backend that answers without reading does not hold the client up', async () => {
    const harness = await startServer();
    harness.backend.answerAtOnce = true;
    const client = await atData(harness);
    await client.send(Buffer.alloc(4 * 1024 * 1024, 'a'));
    await client.send('\r\n.\r\nNOOP\r\n');
    expect(await client.lines(2)).toEqual(['250 2.0.0 <alice> SESSION1 Saved', '250 2.0.0 OK']);
  });

  it('over the size limit: read to the end, the backend sees an error, 552 5.3.4 per recipient, the session goes on', async () => {
    const harness = await startServer({ maxMessageSize: 100 });
    const client = await atData(harness, ['alice', 'bob']);
    await client.send(`${'y'.repeat(99)}\r\n${'z'.repeat(1000)}\r\n.\r\nNOOP\r\n`);
    expect(await client.lines(3)).toEqual([
      '552 5.3.4 Message size exceeds administrative limit',
      '552 5.3.4 Message size exceeds administrative limit',
      '250 2.0.0 OK',
    ]);
    expect(harness.backend.deliveries[0]!.error?.message).toMatch(/size/);
    expect(harness.backend.releases).toEqual([]);
  });

  it('exactly at the size limit: delivered', async () => {
    const harness = await startServer({ maxMessageSize: 100 });
    const client = await atData(harness);
    await client.send(`${'y'.repeat(98)}\r\n.\r\n`);
    expect(await client.lines(1)).toEqual(['250 2.0.0 <alice> SESSION1 Saved']);
  });

  it('MAIL SIZE= over the limit: 552 5.3.4', async () => {
    const harness = await startServer({ maxMessageSize: 100 });
    const lines = await pipelined(harness, 'LHLO x\r\nMAIL FROM:<a@b> SIZE=101\r\nMAIL FROM:<a@b> SIZE=100\r\nQUIT\r\n', 10);
    expect(lines.slice(7)).toEqual(['552 5.3.4 Message size exceeds administrative limit', '250 2.1.0 OK', '221 2.0.0 Bye']);
  });

  it('a client gone mid-DATA: the backend sees an error, nothing is released, nothing more is written', async () => {
    const harness = await startServer();
    const client = await atData(harness);
    await client.send('Subject: half\r\n\r\nsome of it');
    await harness.backend.deliveryStarted();
    client.end();
    expect(await client.rest()).toBe('');
    await harness.connections[0]!.closed;
    expect(harness.backend.deliveries[0]!.error).toBeInstanceOf(Error);
    expect(harness.backend.deliveries[0]!.data.toString()).toBe('Subject: half\r\n\r\nsome of it');
    expect(harness.backend.releases).toEqual([]);
    expect(harness.log).toEqual(['Info: Disconnect from 127.0.0.1: Connection closed (unfinished DATA command) (state=DATA)']);
  });
});

describe('BDAT', () => {
  const binary = Buffer.concat([Buffer.from('\r\n.\r\n..\n.\nQUIT\r\n', 'latin1'), Buffer.from(Array.from({ length: 256 }, (_, byte) => byte))]);

  it('chunks of any bytes, split across writes, taken as they are', async () => {
    const harness = await startServer();
    const client = await greeted(harness);
    await client.send('MAIL FROM:<>\r\nRCPT TO:<alice>\r\nRCPT TO:<bob>\r\n');
    await client.lines(3);
    const first = binary.subarray(0, 100);
    const last = binary.subarray(100);
    await client.send(Buffer.concat([Buffer.from(`BDAT ${first.length}\r\n`), first.subarray(0, 7)]));
    await client.send(first.subarray(7));
    expect(await client.lines(1)).toEqual([`250 2.0.0 Added ${first.length} octets`]);
    await client.send(Buffer.concat([Buffer.from(`BDAT ${last.length} LAST\r\n`), last, Buffer.from('NOOP\r\n')]));
    expect(await client.lines(3)).toEqual(['250 2.0.0 <alice> SESSION1 Saved', '250 2.0.0 <bob> SESSION1:R2 Saved', '250 2.0.0 OK']);
    expect(harness.backend.deliveries).toHaveLength(1);
    expect(harness.backend.deliveries[0]!.data.equals(binary)).toBe(true);
  });

  it('BDAT 0 LAST with a recipient delivers an empty message', async () => {
    const harness = await startServer();
    const lines = await pipelined(harness, 'MAIL FROM:<>\r\nRCPT TO:<alice>\r\nBDAT 0 LAST\r\nQUIT\r\n', 5);
    expect(lines).toEqual([GREETING, '250 2.1.0 OK', '250 2.1.5 OK', '250 2.0.0 <alice> SESSION1 Saved', '221 2.0.0 Bye']);
    expect(harness.backend.deliveries[0]!.data.length).toBe(0);
  });

  it('RCPT after the first chunk: 503 (deliberately: Dovecot accepts it)', async () => {
    const harness = await startServer();
    const lines = await pipelined(harness, 'MAIL FROM:<>\r\nRCPT TO:<alice>\r\nBDAT 1\r\nxRCPT TO:<bob>\r\nBDAT 1 LAST\r\nyQUIT\r\n', 7);
    expect(lines.slice(3)).toEqual(['250 2.0.0 Added 1 octets', '503 5.5.0 Bad sequence of commands', '250 2.0.0 <alice> SESSION1 Saved', '221 2.0.0 Bye']);
  });

  it.each([
    ['RSET', 'RSET\r\n', '250 2.0.0 OK'],
    ['a refused chunk', 'BDAT x\r\n', '501 5.5.4 Invalid chunk size parameter'],
  ])('%s after a chunk: the message fails in the backend (nothing is released)', async (_name, command, reply) => {
    const harness = await startServer();
    const lines = await pipelined(harness, `MAIL FROM:<>\r\nRCPT TO:<alice>\r\nBDAT 2\r\nab${command}QUIT\r\n`, 6);
    expect(lines.slice(3)).toEqual(['250 2.0.0 Added 2 octets', reply, '221 2.0.0 Bye']);
    expect(harness.backend.deliveries[0]!.error).toBeInstanceOf(Error);
    expect(harness.backend.releases).toEqual([]);
  });

  it('over the size limit: a chunk gets 552 (its bytes skipped), the next 503; a last chunk gets 552 per recipient', async () => {
    const harness = await startServer({ maxMessageSize: 10 });
    const lines = await pipelined(
      harness,
      'MAIL FROM:<>\r\nRCPT TO:<alice>\r\nBDAT 6\r\n123456BDAT 6\r\n123456BDAT 1 LAST\r\nxRSET\r\n' +
        'MAIL FROM:<>\r\nRCPT TO:<alice>\r\nRCPT TO:<bob>\r\nBDAT 11 LAST\r\n12345678901NOOP\r\nQUIT\r\n',
      14,
    );
    expect(lines.slice(1)).toEqual([
      '250 2.1.0 OK',
      '250 2.1.5 OK',
      '250 2.0.0 Added 6 octets',
      '552 5.3.4 Message size exceeds administrative limit',
      '503 5.5.0 Previous data chunk failed, issue RSET first',
      '250 2.0.0 OK',
      '250 2.1.0 OK',
      '250 2.1.5 OK',
      '250 2.1.5 OK',
      '552 5.3.4 Message size exceeds administrative limit',
      '552 5.3.4 Message size exceeds administrative limit',
      '250 2.0.0 OK',
      '221 2.0.0 Bye',
    ]);
    // the first message failed in the backend; the second never reached it
    expect(harness.backend.deliveries).toHaveLength(1);
    expect(harness.backend.deliveries[0]!.error).toBeInstanceOf(Error);
    expect(harness.backend.releases).toHaveLength(1);
  });

  it('a client gone mid-chunk: the backend sees an error, nothing more is written', async () => {
    const harness = await startServer();
    const client = await greeted(harness);
    await client.send('MAIL FROM:<>\r\nRCPT TO:<alice>\r\nBDAT 100\r\nonly some');
    await client.lines(2);
    await harness.backend.deliveryStarted();
    client.end();
    expect(await client.rest()).toBe('');
    await harness.connections[0]!.closed;
    expect(harness.backend.deliveries[0]!.error).toBeInstanceOf(Error);
    expect(harness.log).toEqual(['Info: Disconnect from 127.0.0.1: Connection closed (unfinished BDAT command) (state=DATA)']);
  });
});

describe('backend failures at RCPT', () => {
  it.each([
    ['a rejection', async () => Promise.reject(new Error('userdb down')), 'checkRecipient(carol) failed: userdb down'],
    ['250 without an accepted recipient', async () => ({ reply: { code: 250, enhanced: '2.1.5', text: 'OK' } }), 'checkRecipient(carol) gave an unusable verdict'],
    ['no verdict', async () => undefined as unknown as RcptVerdict, 'checkRecipient(carol) gave an unusable verdict'],
  ])('%s: 451 4.3.0 <rcpt> Temporary internal error, logged, the session goes on', async (_name, verdict, logged) => {
    const harness = await startServer();
    harness.backend.verdict = verdict;
    const lines = await pipelined(harness, 'MAIL FROM:<>\r\nRCPT TO:<carol>\r\nDATA\r\nQUIT\r\n', 5);
    expect(lines.slice(1)).toEqual(['250 2.1.0 OK', '451 4.3.0 <carol> Temporary internal error', '503 5.5.0 No valid recipients', '221 2.0.0 Bye']);
    expect(harness.log.join('\n')).toContain(`Error: SESSION1: ${logged}`);
  });

  it('a refusal with an accepted recipient attached does not add it', async () => {
    const harness = await startServer();
    harness.backend.verdict = async (rcpt) => ({ reply: { code: 550, enhanced: '5.1.1', text: 'no' }, accepted: { request: rcpt, state: null } });
    const lines = await pipelined(harness, 'MAIL FROM:<>\r\nRCPT TO:<alice>\r\nDATA\r\nQUIT\r\n', 5);
    expect(lines.slice(2, 4)).toEqual(['550 5.1.1 no', '503 5.5.0 No valid recipients']);
  });
});

describe('limits and timeouts', () => {
  it('a 200 KB command line: 500 5.5.2 Line too long, and the session goes on', async () => {
    const harness = await startServer();
    const lines = await pipelined(harness, `LHLO x\r\nNOOP ${'a'.repeat(200_000)}\r\nNOOP\r\nQUIT\r\n`, 9);
    expect(lines.slice(6)).toEqual(['500 5.5.2 Line too long', '250 2.0.0 OK', '221 2.0.0 Bye']);
  });

  it.each([
    [4101, '250 2.0.0 OK'],
    [4102, '500 5.5.2 Line too long'],
  ])('a line of %d bytes with maxCommandLength 4101 (Dovecot: 4096 bytes after "NOOP ")', async (length, reply) => {
    const harness = await startServer();
    const lines = await pipelined(harness, `NOOP ${'x'.repeat(length - 5)}\r\nQUIT\r\n`, 3);
    expect(lines).toEqual([GREETING, reply, '221 2.0.0 Bye']);
  });

  it('the 11th bad command in a row gets 421 4.7.0 and the connection is closed; a good one resets the count', async () => {
    const harness = await startServer();
    const lines = await pipelined(harness, `${'FOO\r\n'.repeat(9)}NOOP\r\n${'RCPT TO:<a>\r\n'.repeat(10)}NOOP:\r\nNOOP\r\n`, 22);
    expect(lines).toEqual([
      GREETING,
      ...Array(9).fill('500 5.5.1 Unknown command'),
      '250 2.0.0 OK',
      ...Array(10).fill('503 5.5.0 MAIL needed first'),
      '421 4.7.0 mx.example Too many invalid commands.',
    ]);
    expect(harness.log).toEqual(['Info: Disconnect from 127.0.0.1: Too many invalid commands. (state=GREETING)']);
  });

  it.each([
    ['idle', '', 'GREETING'],
    ['in a transaction', 'LHLO x\r\nMAIL FROM:<>\r\nRCPT TO:<alice>\r\n', 'RCPT TO'],
    ['mid-DATA', 'LHLO x\r\nMAIL FROM:<>\r\nRCPT TO:<alice>\r\nDATA\r\npartial', 'DATA'],
  ])('idle timeout (%s): 421 4.4.2 <host> Disconnected for inactivity, closed', async (_name, script, state) => {
    const harness = await startServer({ idleTimeoutMs: 100 });
    const client = await harness.connect();
    await client.send(script);
    const rest = await client.rest();
    expect(rest.endsWith('421 4.4.2 mx.example Disconnected for inactivity\r\n')).toBe(true);
    await harness.connections[0]!.closed;
    const unfinished = state === 'DATA' ? ' (unfinished DATA command)' : '';
    expect(harness.log).toEqual([`Info: Disconnect from 127.0.0.1: Disconnected for inactivity${unfinished} (state=${state})`]);
    if (state === 'RCPT TO') expect(harness.backend.releases).toHaveLength(1);
    if (state === 'DATA') expect(harness.backend.deliveries[0]!.error).toBeInstanceOf(Error);
  });

  it('the idle timer runs only while the client is awaited', async () => {
    const harness = await startServer({ idleTimeoutMs: 50 });
    harness.backend.verdict = async (rcpt) => {
      await new Promise((resolve) => setTimeout(resolve, 150)); // a slow lookup is no idle client
      return { reply: { code: 250, enhanced: '2.1.5', text: 'OK' }, accepted: { request: rcpt, state: null } };
    };
    const lines = await pipelined(harness, 'MAIL FROM:<>\r\nRCPT TO:<alice>\r\nQUIT\r\n', 4);
    expect(lines).toEqual([GREETING, '250 2.1.0 OK', '250 2.1.5 OK', '221 2.0.0 Bye']);
  });
});

describe('shutdown', () => {
  it('idle: 421 4.3.2 <host> Shutting down, closed', async () => {
    const harness = await startServer();
    const client = await greeted(harness);
    const connection = harness.connections[0]!;
    expect(connection.inTransaction).toBe(false);
    connection.shutdown();
    expect(await client.rest()).toBe('421 4.3.2 mx.example Shutting down\r\n');
    await connection.closed;
    expect(harness.log).toEqual(['Info: Disconnect from 127.0.0.1: Shutting down (state=READY)']);
  });

  it('in a transaction: the transaction finishes, replies included, then 421 (deliberately: Dovecot aborts it)', async () => {
    const harness = await startServer();
    const client = await greeted(harness);
    await client.send('MAIL FROM:<>\r\nRCPT TO:<alice>\r\n');
    await client.lines(2);
    const connection = harness.connections[0]!;
    expect(connection.inTransaction).toBe(true);
    connection.shutdown();
    await client.send('RCPT TO:<bob>\r\nDATA\r\n');
    expect(await client.lines(2)).toEqual(['250 2.1.5 OK', '354 OK']);
    await client.send('the message\r\n.\r\nNOOP\r\n');
    expect(await client.rest()).toBe('250 2.0.0 <alice> SESSION1 Saved\r\n250 2.0.0 <bob> SESSION1:R2 Saved\r\n421 4.3.2 mx.example Shutting down\r\n');
    expect(harness.backend.deliveries[0]!.data.toString()).toBe('the message\r\n');
  });

  it('mid-DATA: the message is read to its end and delivered first', async () => {
    const harness = await startServer();
    const client = await greeted(harness);
    await client.send('MAIL FROM:<>\r\nRCPT TO:<alice>\r\nDATA\r\nfirst half ');
    await client.lines(3);
    await harness.backend.deliveryStarted();
    harness.connections[0]!.shutdown();
    await client.send('second half\r\n.\r\n');
    expect(await client.rest()).toBe('250 2.0.0 <alice> SESSION1 Saved\r\n421 4.3.2 mx.example Shutting down\r\n');
    expect(harness.backend.deliveries[0]!.data.toString()).toBe('first half second half\r\n');
  });

  it('asked while a pipelined transaction is in flight: the transaction finishes, then 421; the commands after it are not read', async () => {
    const harness = await startServer();
    harness.backend.verdict = async (rcpt) => {
      harness.connections[0]!.shutdown();
      return { reply: { code: 250, enhanced: '2.1.5', text: 'OK' }, accepted: { request: rcpt, state: null } };
    };
    const lines = await pipelined(harness, 'MAIL FROM:<>\r\nRCPT TO:<alice>\r\nDATA\r\nhi\r\n.\r\nNOOP\r\nQUIT\r\n', 6);
    expect(lines).toEqual([GREETING, '250 2.1.0 OK', '250 2.1.5 OK', '354 OK', '250 2.0.0 <alice> SESSION1 Saved', '421 4.3.2 mx.example Shutting down']);
  });

  it('after RSET ends the transaction', async () => {
    const harness = await startServer();
    const client = await greeted(harness);
    await client.send('MAIL FROM:<>\r\n');
    await client.lines(1);
    harness.connections[0]!.shutdown();
    await client.send('RSET\r\n');
    expect(await client.rest()).toBe('250 2.0.0 OK\r\n421 4.3.2 mx.example Shutting down\r\n');
  });
});

describe('a UNIX socket', () => {
  it('the client has no address: remoteAddress "" and remotePort 0', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'lmtp-connection-'));
    cleanups.push(() => rmSync(directory, { recursive: true, force: true }));
    const harness = await startServer({}, join(directory, 'lmtp'));
    const lines = await pipelined(harness, 'LHLO x\r\nMAIL FROM:<>\r\nRCPT TO:<alice>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n', 11);
    expect(lines[9]).toBe('250 2.0.0 <alice> SESSION1 Saved');
    expect(harness.backend.deliveries[0]!.transaction.client).toEqual({ helo: 'x', remoteAddress: '', remotePort: 0, sessionId: 'SESSION1' });
    expect(harness.log).toEqual(['Info: Disconnect from local: Logged out (state=READY)']);
  });
});

describe('an IPv4 client of an IPv6 listener', () => {
  it('is known by its IPv4 address, as in Dovecot', async () => {
    const harness = await startServer({}, undefined, '::ffff:192.0.2.7');
    await pipelined(harness, 'MAIL FROM:<>\r\nRCPT TO:<alice>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n', 6);
    expect(harness.backend.deliveries[0]!.transaction.client.remoteAddress).toBe('192.0.2.7');
    expect(harness.log).toEqual(['Info: Disconnect from 192.0.2.7: Logged out (state=GREETING)']);
  });
});

describe('memory', () => {
  it('a 50 MB message streams through with flat memory', async () => {
    const harness = await startServer();
    harness.backend.countOnly = true;
    const client = await greeted(harness);
    await client.send('MAIL FROM:<>\r\nRCPT TO:<alice>\r\nDATA\r\n');
    await client.lines(3);
    const line = Buffer.from(`.${'x'.repeat(76)}\r\n`); // every line dot-stuffed
    const block = Buffer.concat(Array(13_000).fill(line)); // about 1 MB
    const blocks = 50;
    global.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
    try {
      for (let index = 0; index < blocks; index++) await client.send(block);
      await client.send('.\r\n');
      expect(await client.lines(1)).toEqual(['250 2.0.0 <alice> SESSION1 Saved']);
    } finally {
      clearInterval(sampler);
    }
    expect(harness.backend.bytesSeen).toBe(blocks * block.length - blocks * 13_000); // the stuffed dots removed
    expect(peak - before).toBeLessThan(64 * 1024 * 1024);
  });
});
