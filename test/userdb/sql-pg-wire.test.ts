// src/userdb/sql/pg-wire.ts, our PostgreSQL protocol client: message framing
// whatever the chunks the bytes come in, against fake servers on 127.0.0.1:0
// that speak exactly what a case needs (start-up, authentication, SSLRequest
// answers, errors and notices, NULLs, several statements, COPY, a server
// closing mid-query or never answering); SCRAM-SHA-256 against RFC 7677's
// test vector, SASLprep against RFC 4013's examples; and against a private
// PostgreSQL (test/helpers/postgres.ts; skipped, with the reason, where it
// cannot run) the logins a pg_hba.conf can ask for (md5, password, SCRAM
// with a SASLprep'd password, a password file) and sslmode prefer and allow.

import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import {
  connectPg,
  MessageReader,
  parseNotice,
  PgServerError,
  PgWireError,
  saslPrep,
  ScramExchange,
  startupMessage,
  type PgNotice,
  type PgWireConnection,
  type PgWireOptions,
} from '../../src/userdb/sql/pg-wire.js';
import { passwordFromFile, pgsqlDriver } from '../../src/userdb/sql/pgsql.js';
import { SqlError } from '../../src/userdb/sql/types.js';
import { connectionSslInUse, postgresUnavailable, startPostgres, type PostgresServer } from '../helpers/postgres.js';

// ---- what the fake servers send, built here independently of the client's own framing

type Part = string | number | Buffer | { int16: number } | null;

/** A backend message: type, int32 length, then parts: strings NUL-terminated, numbers int32, Buffers as they are. */
function message(type: string, ...parts: Part[]): Buffer {
  const body = Buffer.concat(
    parts.map((part) => {
      if (part === null) return Buffer.alloc(0);
      if (typeof part === 'string') return Buffer.from(`${part}\0`);
      if (Buffer.isBuffer(part)) return part;
      const buffer = Buffer.alloc(typeof part === 'number' ? 4 : 2);
      if (typeof part === 'number') buffer.writeInt32BE(part);
      else buffer.writeInt16BE(part.int16);
      return buffer;
    }),
  );
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(4 + body.length, 1);
  return Buffer.concat([head, body]);
}

const authenticationOk = () => message('R', 0);
const parameterStatus = (name: string, value: string) => message('S', name, value);
const readyForQuery = () => message('Z', Buffer.from('I'));
const rowDescription = (...names: string[]) =>
  message('T', { int16: names.length }, ...names.flatMap((name): Part[] => [name, 0, { int16: 0 }, 25, { int16: -1 }, -1, { int16: 0 }]));
const dataRow = (...values: (string | null)[]) =>
  message('D', { int16: values.length }, ...values.flatMap((value): Part[] => (value === null ? [-1] : [Buffer.byteLength(value), Buffer.from(value)])));
const commandComplete = (tag: string) => message('C', tag);
const errorResponse = (fields: Record<string, string>) =>
  message('E', ...Object.entries(fields).map(([code, value]) => Buffer.from(`${code}${value}\0`)), Buffer.from([0]));
const noticeResponse = (fields: Record<string, string>) =>
  message('N', ...Object.entries(fields).map(([code, value]) => Buffer.from(`${code}${value}\0`)), Buffer.from([0]));
/** What a trust login answers: AuthenticationOk, the parameters the session fixes look at, BackendKeyData, ReadyForQuery. */
const trustLogin = () =>
  Buffer.concat([authenticationOk(), parameterStatus('client_encoding', 'UTF8'), parameterStatus('standard_conforming_strings', 'on'), message('K', 4242, 77), readyForQuery()]);

/** One client connection as the fake server sees it: the client's messages in order, and the socket to answer on. */
class FakeClient {
  private buffered = Buffer.alloc(0);
  private waiting: (() => void) | undefined;
  ended = false;

  constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      this.waiting?.();
    });
    socket.on('close', () => {
      this.ended = true;
      this.waiting?.();
    });
    socket.on('error', () => {});
  }

  /** the start-up packet (or SSLRequest): int32 length, then the rest */
  async startup(): Promise<{ code: number; parameters: Record<string, string> }> {
    const packet = await this.take(4, (head) => head.readInt32BE(0));
    const code = packet.readInt32BE(4);
    const parameters: Record<string, string> = {};
    const words = packet.subarray(8).toString('utf8').split('\0');
    for (let index = 0; index + 1 < words.length && words[index] !== ''; index += 2) parameters[words[index]!] = words[index + 1]!;
    return { code, parameters };
  }

  /** the next typed message: type letter and body */
  async message(): Promise<{ type: string; body: Buffer }> {
    const whole = await this.take(5, (head) => 1 + head.readInt32BE(1));
    return { type: String.fromCharCode(whole[0]!), body: whole.subarray(5) };
  }

  /** whether the client closed its end (after reading whatever it sent first) */
  async closed(): Promise<boolean> {
    while (!this.ended) await new Promise<void>((resolve) => (this.waiting = resolve));
    return true;
  }

  private async take(headLength: number, total: (head: Buffer) => number): Promise<Buffer> {
    for (;;) {
      if (this.buffered.length >= headLength) {
        const length = total(this.buffered);
        if (this.buffered.length >= length) {
          const whole = this.buffered.subarray(0, length);
          this.buffered = this.buffered.subarray(length);
          return whole;
        }
      }
      if (this.ended) throw new Error('client went away');
      await new Promise<void>((resolve) => (this.waiting = resolve));
    }
  }
}

/** A fake server on 127.0.0.1:0 that runs `script` for each connection; close() ends it. */
async function fakeServer(script: (client: FakeClient) => Promise<void>): Promise<{ port: number; close(): Promise<void>; failures: unknown[] }> {
  const failures: unknown[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.setNoDelay(true);
    script(new FakeClient(socket)).catch((error: unknown) => {
      if (!(error instanceof Error && error.message === 'client went away')) failures.push(error);
      socket.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    failures,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Writes `bytes` in the pieces `cuts` makes (offsets), each reaching the client on its own. */
async function writeInPieces(socket: Socket, bytes: Buffer, cuts: number[]): Promise<void> {
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    if (cut <= from) continue;
    await new Promise<void>((resolve) => socket.write(bytes.subarray(from, cut), () => resolve()));
    await new Promise((resolve) => setTimeout(resolve, 1));
    from = cut;
  }
}

const options = (port: number, more: Partial<PgWireOptions> = {}): PgWireOptions => ({
  host: '127.0.0.1',
  port,
  parameters: { user: 'alice', database: 'mail' },
  ...more,
});

async function connect(port: number, more: Partial<PgWireOptions> = {}): Promise<PgWireConnection> {
  return connectPg(options(port, more)).connection;
}

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('it succeeded');
    },
    (error: unknown) => error as Error,
  );

/** The response to a query of two statements, the first with a NULL and a non-ASCII value. */
const TWO_STATEMENTS = Buffer.concat([
  rowDescription('username', 'quota_rule', 'home'),
  dataRow('alice@example.org', null, '/var/vmail/é'),
  dataRow('bob@example.org', '*:storage=1G', ''),
  commandComplete('SELECT 2'),
  rowDescription('other'),
  dataRow('dropped'),
  commandComplete('SELECT 1'),
  readyForQuery(),
]);
const TWO_STATEMENTS_RESULT = {
  fields: ['username', 'quota_rule', 'home'],
  rows: [
    ['alice@example.org', null, '/var/vmail/é'],
    ['bob@example.org', '*:storage=1G', ''],
  ],
  command: 'SELECT 2',
};

describe('MessageReader', () => {
  const stream = Buffer.concat([authenticationOk(), parameterStatus('client_encoding', 'UTF8'), message('K', 1, 2), TWO_STATEMENTS]);
  const expected = (() => {
    const reader = new MessageReader();
    reader.push(stream);
    const all: { type: number; body: Buffer }[] = [];
    for (let next = reader.next(); next; next = reader.next()) all.push({ type: next.type, body: Buffer.from(next.body) });
    return all;
  })();

  const readAll = (pieces: Buffer[]) => {
    const reader = new MessageReader();
    const all: { type: number; body: Buffer }[] = [];
    for (const piece of pieces) {
      reader.push(piece);
      for (let next = reader.next(); next; next = reader.next()) all.push({ type: next.type, body: Buffer.from(next.body) });
    }
    return all;
  };

  it('reads coalesced messages one by one', () => {
    expect(expected.map((entry) => String.fromCharCode(entry.type)).join('')).toBe('RSKTDDCTDCZ');
  });

  it('gives the same messages whichever byte the stream is split at', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      expect(readAll([stream.subarray(0, cut), stream.subarray(cut)])).toEqual(expected);
    }
  });

  it('gives the same messages a byte at a time', () => {
    expect(readAll([...stream].map((byte) => Buffer.from([byte])))).toEqual(expected);
  });

  it('refuses a length below 4', () => {
    const reader = new MessageReader();
    reader.push(Buffer.from([0x5a, 0, 0, 0, 3]));
    expect(() => reader.next()).toThrow(new PgWireError('invalid message length 3 from server'));
  });
});

describe('startupMessage', () => {
  it('writes protocol 3.0 and the parameters that are set, then a NUL', () => {
    const packet = startupMessage({ user: 'alice', database: undefined, options: '', application_name: 'dovetail' });
    expect(packet.readInt32BE(0)).toBe(packet.length);
    expect(packet.readInt32BE(4)).toBe(196608);
    expect(packet.subarray(8).toString()).toBe('user\0alice\0application_name\0dovetail\0\0');
  });

  it('refuses a NUL inside a parameter', () => {
    expect(() => startupMessage({ user: 'a\0b' })).toThrow(new PgWireError('connection parameter user contains a NUL character'));
  });
});

describe('parseNotice', () => {
  it('reads every field by its code, the severity from V before S', () => {
    const body = errorResponse({ S: 'FEHLER', V: 'ERROR', C: '42P01', M: 'relation "x" does not exist', P: '15' }).subarray(5);
    expect(parseNotice(body)).toEqual({
      severity: 'ERROR',
      code: '42P01',
      message: 'relation "x" does not exist',
      fields: { S: 'FEHLER', V: 'ERROR', C: '42P01', M: 'relation "x" does not exist', P: '15' },
    });
  });
});

describe('SCRAM-SHA-256', () => {
  // RFC 7677 section 3: user "user", password "pencil"
  const CLIENT_NONCE = 'rOprNGfwEbeRWgbNEkqO';
  const SERVER_FIRST = 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096';
  const CLIENT_FINAL = 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=';
  const SERVER_FINAL = 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=';

  it("computes RFC 7677's test vector", () => {
    const scram = new ScramExchange('pencil', CLIENT_NONCE, 'user');
    expect(scram.clientFirstMessage()).toBe('n,,n=user,r=rOprNGfwEbeRWgbNEkqO');
    expect(scram.clientFinalMessage(SERVER_FIRST)).toBe(CLIENT_FINAL);
    scram.verifyServerFinal(SERVER_FINAL);
    expect(scram.verified).toBe(true);
  });

  it('leaves the user name empty and makes a fresh nonce, as libpq', () => {
    const [first, second] = [new ScramExchange('x').clientFirstMessage(), new ScramExchange('x').clientFirstMessage()];
    expect(first).toMatch(/^n,,n=,r=[A-Za-z0-9+/]{24}$/);
    expect(first).not.toBe(second);
  });

  it.each([
    ['a server signature that does not match', SERVER_FIRST, 'v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=', 'incorrect server signature'],
    ['a nonce not starting with ours', 'r=someoneelse,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096', undefined, 'invalid SCRAM response (nonce mismatch)'],
    ['a salt that is not base64', `r=${CLIENT_NONCE}x,s=%%%,i=4096`, undefined, 'malformed SCRAM message (invalid salt)'],
    ['no iteration count', `r=${CLIENT_NONCE}x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0`, undefined, 'malformed SCRAM message (invalid iteration count)'],
    ['attributes out of order', `s=W22ZaJ0SNY7soEsUEjb6gQ==,r=${CLIENT_NONCE}x,i=1`, undefined, 'malformed SCRAM message (attribute "r" expected)'],
    ['the server refusing', SERVER_FIRST, 'e=invalid-proof', 'error received from server in SCRAM exchange: invalid-proof'],
    ['a short server signature', SERVER_FIRST, 'v=AAAA', 'malformed SCRAM message (invalid server signature)'],
  ])('fails, as libpq words it, on %s', (_what, serverFirst, serverFinal, reason) => {
    const scram = new ScramExchange('pencil', CLIENT_NONCE, 'user');
    const run = () => {
      scram.clientFinalMessage(serverFirst);
      scram.verifyServerFinal(serverFinal!);
    };
    expect(run).toThrow(new PgWireError(reason));
    expect(scram.verified).toBe(false);
  });
});

describe('saslPrep (RFC 4013 section 3, PostgreSQL passing ASCII as it is)', () => {
  it.each([
    ['I\u00adX', 'IX'],
    ['user', 'user'],
    ['USER', 'USER'],
    ['\u00aa', 'a'],
    ['\u2168', 'IX'],
    ['a\u00a0b', 'a b'],
    ['\u0007', '\u0007'], // ASCII: as it is (pg_saslprep's quick path)
    ['\u0007é', undefined], // prohibited: the password is then used as it is
    ['\u0627\u0031', undefined], // RandALCat not at both ends
    ['\u0627\u0031\u0628', '\u0627\u0031\u0628'],
    ['\u0627a\u0628', undefined], // RandALCat with LCat
    ['\ue000é', undefined], // private use
  ])('%j → %j', (input, output) => {
    expect(saslPrep(input)).toBe(output);
  });
});

describe('a session with a fake server', () => {
  const servers: { close(): Promise<void>; failures: unknown[] }[] = [];
  const serve = async (script: (client: FakeClient) => Promise<void>) => {
    const server = await fakeServer(script);
    servers.push(server);
    return server.port;
  };

  afterAll(async () => {
    for (const server of servers) await server.close();
    expect(servers.flatMap((server) => server.failures)).toEqual([]);
  });

  it('sends the start-up parameters, keeps ParameterStatus and BackendKeyData, and sends Terminate on close', async () => {
    let seen: Record<string, string> = {};
    let terminated = false;
    const port = await serve(async (client) => {
      seen = (await client.startup()).parameters;
      client.socket.write(trustLogin());
      terminated = (await client.message()).type === 'X';
      await client.closed();
    });
    const connection = await connect(port, { parameters: { user: 'alice', database: 'mail', application_name: 'dovetail', client_encoding: 'UTF8' } });
    expect(seen).toEqual({ user: 'alice', database: 'mail', application_name: 'dovetail', client_encoding: 'UTF8' });
    expect(connection.parameters.get('standard_conforming_strings')).toBe('on');
    expect([connection.processId, connection.secretKey]).toEqual([4242, 77]);
    await connection.close();
    await waitUntil(() => terminated);
  });

  it('reads the same rows whichever byte the answers are split at, and when they come all at once', async () => {
    const login = trustLogin();
    const port = await serve(async (client) => {
      await client.startup();
      await writeInPieces(client.socket, login, [...login.keys()]); // a byte at a time
      for (let cut = 0; cut <= TWO_STATEMENTS.length; cut++) {
        await client.message();
        await writeInPieces(client.socket, TWO_STATEMENTS, [cut]);
      }
      await client.message();
      client.socket.write(Buffer.concat([TWO_STATEMENTS]));
      await client.closed();
    });
    const connection = await connect(port);
    for (let cut = 0; cut <= TWO_STATEMENTS.length + 1; cut++) {
      expect(await connection.query('SELECT ...; SELECT ...')).toEqual(TWO_STATEMENTS_RESULT);
    }
    await connection.close();
  });

  it('turns an ErrorResponse into a PgServerError and stays usable; notices go to onNotice', async () => {
    const port = await serve(async (client) => {
      await client.startup();
      client.socket.write(trustLogin());
      await client.message();
      client.socket.write(
        Buffer.concat([
          noticeResponse({ S: 'WARNING', V: 'WARNING', C: '01000', M: 'careful' }),
          errorResponse({ S: 'ERROR', V: 'ERROR', C: '42P01', M: 'relation "nosuch" does not exist', D: 'detail', H: 'hint' }),
          readyForQuery(),
        ]),
      );
      await client.message();
      client.socket.write(Buffer.concat([rowDescription('two'), dataRow('2'), commandComplete('SELECT 1'), readyForQuery()]));
      await client.closed();
    });
    const notices: PgNotice[] = [];
    const connection = await connect(port, { onNotice: (notice) => notices.push(notice) });
    const error = await failure(connection.query('SELECT home FROM nosuch'));
    expect(error).toBeInstanceOf(PgServerError);
    expect(error).toMatchObject({ message: 'relation "nosuch" does not exist', severity: 'ERROR', code: '42P01', detail: 'detail', hint: 'hint' });
    expect(notices.map((notice) => notice.message)).toEqual(['careful']);
    expect(await connection.query('SELECT 2 AS two')).toEqual({ fields: ['two'], rows: [['2']], command: 'SELECT 1' });
    await connection.close();
  });

  it("drops a later statement's error with its result, as Dovecot does, and gives no rows for an empty query or a SET", async () => {
    const port = await serve(async (client) => {
      await client.startup();
      client.socket.write(trustLogin());
      await client.message();
      client.socket.write(Buffer.concat([rowDescription('a'), dataRow('1'), commandComplete('SELECT 1'), errorResponse({ S: 'ERROR', M: 'later' }), readyForQuery()]));
      await client.message();
      client.socket.write(Buffer.concat([message('I'), readyForQuery()]));
      await client.message();
      client.socket.write(Buffer.concat([commandComplete('SET'), rowDescription('b'), dataRow('2'), commandComplete('SELECT 1'), readyForQuery()]));
      await client.closed();
    });
    const connection = await connect(port);
    expect((await connection.query('SELECT 1 AS a; SELEC')).rows).toEqual([['1']]);
    expect(await connection.query('')).toEqual({ fields: [], rows: [], command: undefined });
    expect(await connection.query('SET x = 1; SELECT 2 AS b')).toEqual({ fields: [], rows: [], command: 'SET' });
    await connection.close();
  });

  it('answers COPY FROM STDIN with CopyFail and drops COPY TO STDOUT data', async () => {
    let copyFail = '';
    const port = await serve(async (client) => {
      await client.startup();
      client.socket.write(trustLogin());
      await client.message();
      client.socket.write(message('G', Buffer.from([0]), { int16: 0 }));
      const reply = await client.message();
      copyFail = `${reply.type}:${reply.body.toString().replace(/\0$/, '')}`;
      client.socket.write(Buffer.concat([errorResponse({ S: 'ERROR', M: 'COPY from stdin failed: COPY FROM STDIN is not supported' }), readyForQuery()]));
      await client.message();
      client.socket.write(Buffer.concat([message('H', Buffer.from([0]), { int16: 0 }), message('d', Buffer.from('row\n')), message('c'), commandComplete('COPY 1'), readyForQuery()]));
      await client.closed();
    });
    const connection = await connect(port);
    await expect(connection.query('COPY t FROM STDIN')).rejects.toThrow('COPY from stdin failed: COPY FROM STDIN is not supported');
    expect(copyFail).toBe('f:COPY FROM STDIN is not supported');
    expect(await connection.query('COPY t TO STDOUT')).toEqual({ fields: [], rows: [], command: 'COPY 1' });
    await connection.close();
  });

  it('fails a query the server closes the connection in the middle of, and every query after it', async () => {
    const port = await serve(async (client) => {
      await client.startup();
      client.socket.write(trustLogin());
      await client.message();
      client.socket.write(Buffer.concat([rowDescription('a'), dataRow('1')]));
      client.socket.end();
    });
    const connection = await connect(port);
    const error = await failure(connection.query('SELECT 1 AS a'));
    expect(error).toEqual(new PgWireError('server closed the connection unexpectedly'));
    expect(await failure(connection.query('SELECT 1'))).toBe(error);
    await connection.close();
  });

  it('reports the FATAL error a server sent before closing an idle connection on the next query', async () => {
    const port = await serve(async (client) => {
      await client.startup();
      client.socket.write(trustLogin());
      client.socket.end(errorResponse({ S: 'FATAL', V: 'FATAL', C: '57P01', M: 'terminating connection due to administrator command' }));
    });
    const connection = await connect(port);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect((await failure(connection.query('SELECT 1'))).message).toBe('terminating connection due to administrator command');
  });

  it('gives up on a query after its timeout, closing the connection', async () => {
    const port = await serve(async (client) => {
      await client.startup();
      client.socket.write(trustLogin());
      await client.message();
      await client.closed();
    });
    const connection = await connect(port);
    const started = Date.now();
    expect(await failure(connection.query('SELECT pg_sleep(10)', 100))).toEqual(new PgWireError('timed out after 100 ms'));
    expect(Date.now() - started).toBeLessThan(1000);
    expect((await failure(connection.query('SELECT 1'))).message).toBe('timed out after 100 ms');
  });

  it('closes the socket of a connect that is aborted while the server says nothing', async () => {
    let clientClosed = false;
    const port = await serve(async (client) => {
      await client.startup();
      clientClosed = await client.closed();
    });
    const attempt = connectPg(options(port));
    setTimeout(() => attempt.abort(), 50);
    expect(await failure(attempt.connection)).toEqual(new PgWireError('connection attempt aborted'));
    await waitUntil(() => clientClosed);
  });

  it('fails the connect with the ErrorResponse the server sends instead of logging in', async () => {
    const port = await serve(async (client) => {
      await client.startup();
      client.socket.end(errorResponse({ S: 'FATAL', V: 'FATAL', C: '3D000', M: 'database "nodb" does not exist' }));
    });
    const error = await failure(connect(port));
    expect(error).toBeInstanceOf(PgServerError);
    expect(error.message).toBe('database "nodb" does not exist');
  });

  describe('authentication', () => {
    /** A server asking with `request`, handing the client's answers to `check`, then letting it in. */
    const asking = (request: Buffer, check: (answer: { type: string; body: Buffer }) => void) =>
      serve(async (client) => {
        await client.startup();
        client.socket.write(request);
        check(await client.message());
        client.socket.write(trustLogin());
        await client.closed();
      });

    it('answers AuthenticationMD5Password with md5(md5(password + user) + salt)', async () => {
      const salt = Buffer.from([0x01, 0x02, 0x03, 0xfe]);
      const md5 = (data: Buffer | string) => createHash('md5').update(data).digest('hex');
      let answer = '';
      const port = await asking(message('R', 5, salt), (reply) => (answer = `${reply.type}:${reply.body.toString('latin1')}`));
      const connection = await connect(port, { password: "it's" });
      expect(answer).toBe(`p:md5${md5(Buffer.concat([Buffer.from(md5("it'salice")), salt]))}\0`);
      await connection.close();
    });

    it('answers AuthenticationCleartextPassword with the password, asking for it only then', async () => {
      let asked = 0;
      let answer = '';
      const port = await asking(message('R', 3), (reply) => (answer = reply.body.toString()));
      const connection = await connect(port, { password: () => `secret${++asked}` });
      expect([answer, asked]).toEqual(['secret1\0', 1]);
      await connection.close();
    });

    it('runs SCRAM-SHA-256 when the server offers it among other mechanisms', async () => {
      // the server side of RFC 5802, with the salt and iterations of RFC 7677's vector
      const salt = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64');
      let mechanism = '';
      const port = await serve(async (client) => {
        const { createHmac, pbkdf2Sync } = await import('node:crypto');
        await client.startup();
        client.socket.write(message('R', 10, 'SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256', Buffer.from([0])));
        const initial = (await client.message()).body;
        mechanism = initial.subarray(0, initial.indexOf(0)).toString();
        const clientFirst = initial.subarray(initial.indexOf(0) + 5).toString();
        const clientNonce = /,r=(.*)$/.exec(clientFirst)![1]!;
        const serverFirst = `r=${clientNonce}server,s=${salt.toString('base64')},i=4096`;
        client.socket.write(message('R', 11, Buffer.from(serverFirst)));
        const clientFinal = (await client.message()).body.toString();
        const withoutProof = clientFinal.replace(/,p=.*$/, '');
        const authMessage = `${clientFirst.slice(3)},${serverFirst},${withoutProof}`;
        const salted = pbkdf2Sync('pencil', salt, 4096, 32, 'sha256');
        const hmac = (key: Buffer, text: string) => createHmac('sha256', key).update(text).digest();
        const clientKey = hmac(salted, 'Client Key');
        const signature = hmac(createHash('sha256').update(clientKey).digest(), authMessage);
        const proof = Buffer.from(/,p=(.*)$/.exec(clientFinal)![1]!, 'base64');
        expect(Buffer.from(proof.map((byte, index) => byte ^ signature[index]!))).toEqual(clientKey);
        client.socket.write(message('R', 12, Buffer.from(`v=${hmac(hmac(salted, 'Server Key'), authMessage).toString('base64')}`)));
        client.socket.write(trustLogin());
        await client.closed();
      });
      const connection = await connect(port, { password: 'pencil' });
      expect(mechanism).toBe('SCRAM-SHA-256');
      await connection.close();
    });

    it('refuses a server that lets the client in before proving it knows the password', async () => {
      const port = await serve(async (client) => {
        await client.startup();
        client.socket.write(message('R', 10, 'SCRAM-SHA-256', Buffer.from([0])));
        await client.message();
        client.socket.write(trustLogin());
        await client.closed();
      });
      expect(await failure(connect(port, { password: 'pencil' }))).toEqual(new PgWireError('server accepted the login before completing the SCRAM exchange'));
    });

    it.each([
      ['GSSAPI', message('R', 7), 'GSSAPI authentication not supported'],
      ['SSPI', message('R', 9), 'SSPI authentication not supported'],
      ['Kerberos 5', message('R', 2), 'Kerberos 5 authentication not supported'],
      ['an unknown method', message('R', 99), 'authentication method 99 not supported'],
      ['SASL without SCRAM-SHA-256', message('R', 10, 'OAUTHBEARER', Buffer.from([0])), "none of the server's SASL authentication mechanisms are supported"],
      ['something other than authentication', rowDescription('a'), 'expected authentication request from server, but received T'],
    ])('refuses %s with libpq\'s words', async (_what, request, reason) => {
      const port = await serve(async (client) => {
        await client.startup();
        client.socket.write(request);
        await client.closed();
      });
      expect(await failure(connect(port, { password: 'x' }))).toEqual(new PgWireError(reason));
    });

    it.each([
      ['none', undefined],
      ['an empty one', ''],
      ['none from the function', () => undefined],
    ])('says fe_sendauth: no password supplied when it has %s', async (_what, password) => {
      const port = await serve(async (client) => {
        await client.startup();
        client.socket.write(message('R', 3));
        await client.closed();
      });
      expect(await failure(connect(port, { password }))).toEqual(new PgWireError('fe_sendauth: no password supplied'));
    });
  });

  describe('SSLRequest answers', () => {
    /** A server that answers SSLRequest with `answer`, then (for 'N') lets a plain login in; records the first packet's code. */
    const answering = async (answer: Buffer) => {
      const codes: number[] = [];
      const port = await serve(async (client) => {
        const first = await client.startup();
        codes.push(first.code);
        client.socket.write(answer);
        if (answer.toString() !== 'N') return client.closed().then(() => undefined);
        codes.push((await client.startup()).code);
        client.socket.write(trustLogin());
        await client.closed();
      });
      return { port, codes };
    };

    it('goes on in the clear after N with sslmode prefer', async () => {
      const { port, codes } = await answering(Buffer.from('N'));
      const connection = await connect(port, { sslmode: 'prefer', tls: {} });
      expect(codes).toEqual([80877103, 196608]);
      expect(connection.usesTls).toBe(false);
      await connection.close();
    });

    it.each([
      ['N with sslmode require', 'N', 'require', 'server does not support SSL, but SSL was required'],
      ['E', 'E', 'prefer', 'server sent an error response during SSL exchange'],
      ['another byte', 'X', 'prefer', 'received invalid response to SSL negotiation: X'],
      ['S followed by bytes before the TLS handshake', 'SZ', 'require', 'received unencrypted data after SSL response'],
    ] as const)('fails on %s', async (_what, answer, sslmode, reason) => {
      const { port } = await answering(Buffer.from(answer));
      expect(await failure(connect(port, { sslmode, tls: {} }))).toEqual(new PgWireError(reason));
    });

    it('never asks for TLS on a Unix socket', async () => {
      const dir = mkdtempSync('/tmp/dovetail-pg-wire-');
      const codes: number[] = [];
      const server = createServer((socket) => {
        const client = new FakeClient(socket);
        void client.startup().then(({ code }) => {
          codes.push(code);
          socket.write(trustLogin());
        });
      });
      try {
        await new Promise<void>((resolve) => server.listen(join(dir, '.s.PGSQL.5432'), resolve));
        const connection = await connectPg({ host: dir, port: 5432, parameters: { user: 'alice' }, sslmode: 'require', tls: {} }).connection;
        expect(codes).toEqual([196608]);
        await connection.close();
      } finally {
        await new Promise((resolve) => server.close(resolve));
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});

describe('passwordFromFile (libpq ~/.pgpass)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync('/tmp/dovetail-pgpass-');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const file = (text: string, mode = 0o600) => {
    const path = join(dir, `pgpass-${Math.random()}`);
    writeFileSync(path, text);
    chmodSync(path, mode);
    return path;
  };
  const LINES = ['# comment', 'db1:5432:mail:alice:first', '*:*:*:bob:b\\:o\\\\b', 'db\\:2:*:mail:*:any', '*:5433:*:*:fallback\r', ''].join('\n');

  it.each([
    [['db1', '5432', 'mail', 'alice'], 'first'],
    [['db1', '5432', 'other', 'alice'], undefined],
    [['anywhere', '1', 'x', 'bob'], 'b:o\\b'],
    [['db:2', '5432', 'mail', 'carol'], 'any'],
    [['db2', '5433', 'mail', 'alice'], 'fallback'],
  ])('%j → %j', ([host, port, database, user], password) => {
    expect(passwordFromFile(file(LINES), host!, port!, database!, user!)).toBe(password);
  });

  it('ignores a file the group or others may read, or none at all, as libpq', () => {
    expect(passwordFromFile(file(LINES, 0o644), 'db1', '5432', 'mail', 'alice')).toBeUndefined();
    expect(passwordFromFile(join(dir, 'missing'), 'db1', '5432', 'mail', 'alice')).toBeUndefined();
    expect(passwordFromFile(dir, 'db1', '5432', 'mail', 'alice')).toBeUndefined();
  });
});

const MD5_PASSWORD = 'md5 secret';
const CLEAR_PASSWORD = 'clear secret';
/** stored by the server SASLprep'd, "IX": the client must prepare it the same way */
const PREPPED_PASSWORD = 'I\u00adX \u2168';

describe.skipIf(postgresUnavailable !== undefined)(`logins against a private PostgreSQL${postgresUnavailable ? ` (skipped: ${postgresUnavailable})` : ''}`, () => {
  let server: PostgresServer;
  let dir: string;
  const base = (user: string) => `host=127.0.0.1 port=${server.port} dbname=postgres user=${user}`;
  const who = async (connect: string) => {
    const connection = await pgsqlDriver.connect(connect, 5000);
    try {
      return await connection.query('SELECT current_user AS who');
    } finally {
      await connection.close();
    }
  };
  const refusal = (connect: string) => failure(who(connect));

  beforeAll(async () => {
    dir = mkdtempSync('/tmp/dovetail-pg-wire-logins-');
    server = await startPostgres({
      hbaLines: [
        'host all md5user 127.0.0.1/32 md5',
        'host all clearuser 127.0.0.1/32 password',
        'host all prepuser 127.0.0.1/32 scram-sha-256',
      ],
    });
    server.sql(
      [
        "SET password_encryption = 'md5';",
        `CREATE ROLE md5user LOGIN PASSWORD '${MD5_PASSWORD}';`,
        "SET password_encryption = 'scram-sha-256';",
        `CREATE ROLE clearuser LOGIN PASSWORD '${CLEAR_PASSWORD}';`,
        `CREATE ROLE prepuser LOGIN PASSWORD '${PREPPED_PASSWORD}';`,
      ].join('\n'),
    );
  }, 90_000);

  afterAll(() => {
    server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('logs in with md5, and fails with the server\'s reason for a wrong password', async () => {
    expect(await who(`${base('md5user')} password='${MD5_PASSWORD}'`)).toEqual([{ who: 'md5user' }]);
    expect((await refusal(`${base('md5user')} password=wrong`)).message).toBe(
      `pgsql: Connect failed: 127.0.0.1:${server.port}: password authentication failed for user "md5user"`,
    );
  });

  it('logs in with a cleartext password', async () => {
    expect(await who(`${base('clearuser')} password='${CLEAR_PASSWORD}'`)).toEqual([{ who: 'clearuser' }]);
    expect((await refusal(base('clearuser'))).message).toBe(`pgsql: Connect failed: 127.0.0.1:${server.port}: fe_sendauth: no password supplied`);
  });

  it('logs in with SCRAM and a password the server stored SASLprep\'d', async () => {
    expect(await who(`${base('prepuser')} password='${PREPPED_PASSWORD}'`)).toEqual([{ who: 'prepuser' }]);
    expect(await who(`${base('prepuser')} password='IX IX'`)).toEqual([{ who: 'prepuser' }]);
  });

  it('takes the password from passfile= when none is given, and says so when the server refuses it', async () => {
    const passfile = join(dir, 'pgpass');
    writeFileSync(passfile, `127.0.0.1:${server.port}:postgres:md5user:${MD5_PASSWORD}\n*:*:*:clearuser:wrong\n`, { mode: 0o600 });
    expect(await who(`${base('md5user')} passfile=${passfile}`)).toEqual([{ who: 'md5user' }]);
    expect((await refusal(`${base('clearuser')} passfile=${passfile}`)).message).toBe(
      `pgsql: Connect failed: 127.0.0.1:${server.port}: password authentication failed for user "clearuser"; password retrieved from file "${passfile}"`,
    );
  });
});

describe.skipIf(postgresUnavailable !== undefined)(`sslmode prefer and allow against a private PostgreSQL${postgresUnavailable ? ` (skipped: ${postgresUnavailable})` : ''}`, () => {
  let tlsServer: PostgresServer;
  let plainServer: PostgresServer;

  beforeAll(async () => {
    // TLS offered; user plainonly only in the clear, user tlsonly only over TLS
    [tlsServer, plainServer] = await Promise.all([
      startPostgres({ tls: true, hbaLines: ['hostnossl all plainonly 127.0.0.1/32 trust', 'host all plainonly 127.0.0.1/32 reject', 'hostssl all tlsonly 127.0.0.1/32 trust', 'host all tlsonly 127.0.0.1/32 reject'] }),
      startPostgres(),
    ]);
    tlsServer.sql('CREATE ROLE plainonly LOGIN; CREATE ROLE tlsonly LOGIN;');
  }, 90_000);

  afterAll(() => {
    tlsServer?.stop();
    plainServer?.stop();
  });

  it.each([
    ['prefer (the default) uses TLS when the server offers it', '', 'postgres', 't'],
    ['prefer tries again in the clear when the server refuses the login over TLS', 'sslmode=prefer', 'plainonly', 'f'],
    ['allow logs in in the clear', 'sslmode=allow', 'postgres', 'f'],
    ['allow tries again with TLS when the server refuses the login in the clear', 'sslmode=allow', 'tlsonly', 't'],
  ])('%s', async (_what, sslmode, user, ssl) => {
    expect(await connectionSslInUse(`host=127.0.0.1 port=${tlsServer.port} dbname=postgres user=${user} ${sslmode}`)).toEqual([{ ssl }]);
  });

  it('prefer goes on in the clear with a server without TLS', async () => {
    expect(await connectionSslInUse(`host=127.0.0.1 port=${plainServer.port} dbname=postgres user=postgres`)).toEqual([{ ssl: 'f' }]);
  });

  it('a refusal that was not about TLS is the connect failure', async () => {
    const error = await failure(connectionSslInUse(`host=127.0.0.1 port=${tlsServer.port} dbname=nodb user=postgres sslmode=allow`));
    expect(error).toBeInstanceOf(SqlError);
    expect(error.message).toBe(`pgsql: Connect failed: 127.0.0.1:${tlsServer.port}: database "nodb" does not exist`);
  });
});

/** Waits (up to 2 s) until `condition` holds. */
async function waitUntil(condition: () => boolean): Promise<void> {
  const until = Date.now() + 2000;
  while (!condition()) {
    if (Date.now() > until) throw new Error('condition never held');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
