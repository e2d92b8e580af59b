// A PostgreSQL client of our own for the SQL userdb (./pgsql.ts): the
// frontend/backend protocol 3.0 (PostgreSQL 7.4 and later), only what a user
// lookup needs, so that a delivery loads a few kilobytes of code instead of a
// client library and is ready as soon as the server is.
//
// Supported: TCP or a Unix socket (`host` a directory: DIR/.s.PGSQL.PORT);
// SSLRequest and TLS (node:tls, loaded only then) negotiated as libpq does
// for each sslmode (./pgsql.ts turns verify-ca and verify-full into
// `require` with node:tls checking the certificate); a StartupMessage with
// any parameters; authentication trust, cleartext password, MD5 and
// SCRAM-SHA-256 (RFC 5802 and 7677, without channel binding, the password
// SASLprep'd as libpq does; node:crypto loaded only then); ParameterStatus,
// BackendKeyData, NoticeResponse; the simple Query protocol with rows as
// text and NULL as null, several statements in one query string giving the
// first one's result (the others are read and dropped, as Dovecot's
// driver-pgsql drops them); a query timeout; Terminate on close.
//
// Refused with libpq's words: Kerberos, GSSAPI, SSPI and SCM-credential
// authentication, SASL mechanisms other than SCRAM-SHA-256; COPY (a COPY FROM
// STDIN is answered with CopyFail, a COPY TO STDOUT's data dropped). Not
// implemented at all: the extended query protocol, replication,
// cancellation, GSS encryption.
//
// Failure: a connect or query rejects with the socket's own error (with its
// `code`, ECONNREFUSED...), a PgServerError (the server's ErrorResponse; its
// message is the M field, "relation \"x\" does not exist") or a PgWireError
// (what libpq would say, "server closed the connection unexpectedly"). A
// query the server refused leaves the connection usable; any other failure
// closes it, and every later query rejects with the same reason.

import { createConnection, type Socket } from 'node:net';
import type { ConnectionOptions, TLSSocket } from 'node:tls';

/** How TLS is negotiated, as libpq's sslmode (verify-ca and verify-full negotiate as require). */
export type PgSslMode = 'disable' | 'allow' | 'prefer' | 'require';

export interface PgWireOptions {
  /** a host name or IP address, or a directory (starting with "/") holding the server's socket */
  host: string;
  port: number;
  /** the StartupMessage's parameters: user (required), database, options, application_name, any run-time setting; undefined or "" left out */
  parameters: Readonly<Record<string, string | undefined>>;
  /** the password, or what gives it when the server first asks for one */
  password?: string | (() => string | undefined);
  /** default disable; TLS is never negotiated on a Unix socket, as libpq */
  sslmode?: PgSslMode;
  /** node:tls options when TLS is used (host, servername, ca, rejectUnauthorized, checkServerIdentity, cert, key...) */
  tls?: ConnectionOptions;
  /** TCP keepalives, and the idle time before the first probe (0: the system's) */
  keepAlive?: boolean;
  keepAliveInitialDelayMs?: number;
  /** each NoticeResponse (and WARNING) the server sends */
  onNotice?: (notice: PgNotice) => void;
}

/** One query's result: the first statement's column names, rows (text, null for NULL) and command tag. */
export interface PgResult {
  fields: string[];
  rows: (string | null)[][];
  /** CommandComplete's tag, "SELECT 2"; undefined for an empty query */
  command: string | undefined;
}

/** An ErrorResponse or NoticeResponse: its fields by their one-letter code (S, V, C, M, D, H, P...). */
export interface PgNotice {
  severity: string;
  code: string;
  message: string;
  fields: Readonly<Record<string, string>>;
}

/** The server's ErrorResponse. */
export class PgServerError extends Error implements PgNotice {
  readonly severity: string;
  readonly code: string;
  readonly detail: string | undefined;
  readonly hint: string | undefined;
  readonly fields: Readonly<Record<string, string>>;
  constructor(notice: PgNotice) {
    super(notice.message);
    this.name = 'PgServerError';
    this.severity = notice.severity;
    this.code = notice.code;
    this.detail = notice.fields.D;
    this.hint = notice.fields.H;
    this.fields = notice.fields;
  }
}

/** A failure this side of the protocol sees, worded as libpq words it. */
export class PgWireError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PgWireError';
  }
}

/** A connect under way: the connection it gives, and abort(), which closes whatever socket it has open. */
export interface PgConnectAttempt {
  readonly connection: Promise<PgWireConnection>;
  abort(): void;
}

/** SSLRequest's code, 1234 << 16 | 5679 */
const SSL_REQUEST_CODE = 80877103;
/** protocol 3.0 */
const PROTOCOL_VERSION = 3 << 16;
/** AuthenticationRequest codes libpq refuses by name (fe-auth.c) */
const REFUSED_AUTHENTICATION: Readonly<Record<number, string>> = {
  2: 'Kerberos 5 authentication not supported',
  6: 'SCM_CRED authentication method not supported',
  7: 'GSSAPI authentication not supported',
  8: 'GSSAPI authentication not supported',
  9: 'SSPI authentication not supported',
};
const SCRAM_SHA_256 = 'SCRAM-SHA-256';
const TERMINATE = Buffer.from([0x58, 0, 0, 0, 4]);

/**
 * Connects as libpq does for `options.sslmode`: disable and require in one
 * try; prefer asks for TLS, goes on in the clear if the server says 'N', and
 * tries once more in the clear if TLS fails or the server refuses the login
 * over it; allow logs in in the clear and tries once more with TLS if the
 * server refuses that. Resolves once the server is ready for a query.
 */
export function connectPg(options: PgWireOptions): PgConnectAttempt {
  const mode = options.host.startsWith('/') ? 'disable' : (options.sslmode ?? 'disable');
  let current: PgWireConnection | undefined;
  let aborted = false;
  const open = (tls: TlsNegotiation): Promise<PgWireConnection> => {
    if (aborted) return Promise.reject(new PgWireError('connection attempt aborted'));
    current = new PgWireConnection(options, tls);
    return current.ready;
  };
  const connect = async (): Promise<PgWireConnection> => {
    switch (mode) {
      case 'disable':
        return open('no');
      case 'require':
        return open('required');
      case 'allow':
        try {
          return await open('no');
        } catch (error) {
          if (!(error instanceof PgServerError) || current!.authenticated) throw error;
          return open('if-offered');
        }
      case 'prefer':
        try {
          return await open('if-offered');
        } catch (error) {
          const session = current!;
          const refusedOverTls = error instanceof PgServerError && session.usesTls && !session.authenticated;
          if (!refusedOverTls && !session.tlsHandshakeFailed) throw error;
          return open('no');
        }
    }
  };
  return {
    connection: connect(),
    abort() {
      aborted = true;
      current?.destroy(new PgWireError('connection attempt aborted'));
    },
  };
}

/** One connection's TLS: none, asked for and used if the server agrees, or asked for and required. */
type TlsNegotiation = 'no' | 'if-offered' | 'required';

type Phase = 'connecting' | 'ssl-response' | 'tls-handshake' | 'startup' | 'idle' | 'query' | 'closed';

interface PendingQuery {
  resolve(result: PgResult): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout | undefined;
  /** the first statement's result, once its RowDescription (or completion) came */
  result: PgResult | undefined;
  /** whether the first statement is complete (later results are dropped) */
  firstDone: boolean;
  error: Error | undefined;
}

/** One session with the server; made by connectPg. */
export class PgWireConnection {
  /** the ParameterStatus values the server reported, as they stand (standard_conforming_strings, client_encoding, server_version...) */
  readonly parameters = new Map<string, string>();
  /** BackendKeyData: the backend's process id and cancel key (0 until sent) */
  processId = 0;
  secretKey = 0;
  /** whether the session runs over TLS */
  usesTls = false;
  /** whether the server accepted the login (AuthenticationOk) */
  authenticated = false;
  /** whether TLS was agreed to and its handshake failed */
  tlsHandshakeFailed = false;
  /** settles once the server is ready for the first query, or the connect failed */
  readonly ready: Promise<PgWireConnection>;

  private socket: Socket;
  private phase: Phase = 'connecting';
  private readonly reader = new MessageReader();
  private readonly onData = (chunk: Buffer) => this.receive(chunk);
  private settleReady!: { resolve(connection: PgWireConnection): void; reject(error: Error): void };
  /** why the connection can no longer be used */
  private failure: Error | undefined;
  /** a FATAL error the server sent before closing */
  private fatal: PgServerError | undefined;
  private pending: PendingQuery | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private scram: ScramExchange | undefined;

  constructor(
    private readonly options: PgWireOptions,
    private readonly negotiation: TlsNegotiation,
  ) {
    this.ready = new Promise((resolve, reject) => (this.settleReady = { resolve, reject }));
    const { host, port } = options;
    this.socket = host.startsWith('/')
      ? createConnection({ path: `${host}/.s.PGSQL.${port}` })
      : createConnection({ host, port, noDelay: true, keepAlive: options.keepAlive ?? false, keepAliveInitialDelay: options.keepAliveInitialDelayMs ?? 0 });
    this.watch(this.socket);
    this.socket.once('connect', () => {
      if (this.negotiation === 'no') {
        this.phase = 'startup';
        this.socket.write(startupMessage(options.parameters));
      } else {
        this.phase = 'ssl-response';
        this.socket.write(sslRequest());
      }
    });
  }

  /**
   * Runs `sql` with the simple Query protocol; resolves with the first
   * statement's result. Queries wait for the one before. After `timeoutMs`
   * (0: none) the connection is closed and the query rejects.
   */
  query(sql: string, timeoutMs = 0): Promise<PgResult> {
    const run = () => this.send(sql, timeoutMs);
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => {});
    return result;
  }

  /** Sends Terminate and closes; resolves once that is sent, or after waitMs. Never rejects. */
  close(waitMs = 1000): Promise<void> {
    if (this.phase === 'closed' || this.failure !== undefined || this.socket.destroyed) {
      this.destroy(new PgWireError('connection closed'));
      return Promise.resolve();
    }
    this.fail(new PgWireError('connection closed'));
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.socket.destroy();
        resolve();
      };
      const timer = setTimeout(done, waitMs);
      this.socket.once('close', done);
      this.socket.end(TERMINATE, done);
    });
  }

  /** Closes at once; what is pending rejects with `reason`. */
  destroy(reason: Error = new PgWireError('connection closed')): void {
    this.fail(reason);
    this.socket.destroy();
  }

  private send(sql: string, timeoutMs: number): Promise<PgResult> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (sql.includes('\0')) return Promise.reject(new PgWireError('the query contains a NUL character'));
    return new Promise((resolve, reject) => {
      const pending: PendingQuery = { resolve, reject, timer: undefined, result: undefined, firstDone: false, error: undefined };
      if (timeoutMs > 0) {
        pending.timer = setTimeout(() => this.destroy(new PgWireError(`timed out after ${timeoutMs} ms`)), timeoutMs);
      }
      this.pending = pending;
      this.phase = 'query';
      this.socket.write(frame(0x51, cstring(sql)));
    });
  }

  private watch(socket: Socket): void {
    socket.on('data', this.onData);
    socket.on('error', (error: Error) => {
      if (this.phase === 'tls-handshake') this.tlsHandshakeFailed = true;
      this.fail(error);
    });
    socket.on('close', () => this.fail(this.fatal ?? new PgWireError('server closed the connection unexpectedly')));
  }

  /** Marks the connection unusable (the first reason stays) and rejects whatever waits. */
  private fail(error: Error): void {
    if (this.failure === undefined) this.failure = error;
    const reason = this.failure;
    this.settleReady.reject(reason); // nothing once it is ready
    const pending = this.pending;
    this.pending = undefined;
    if (pending !== undefined) {
      clearTimeout(pending.timer);
      pending.reject(pending.error ?? reason);
    }
    this.phase = 'closed';
  }

  private receive(chunk: Buffer): void {
    if (this.phase === 'ssl-response') {
      chunk = this.sslResponse(chunk);
      if (chunk.length === 0) return;
    }
    this.reader.push(chunk);
    try {
      for (let message = this.reader.next(); message !== undefined && this.phase !== 'closed'; message = this.reader.next()) {
        this.dispatch(message.type, message.body);
      }
    } catch (error) {
      this.destroy(error instanceof Error ? error : new PgWireError(String(error)));
    }
  }

  /** The server's one-byte answer to SSLRequest; returns what followed it. */
  private sslResponse(chunk: Buffer): Buffer {
    const answer = String.fromCharCode(chunk[0]!);
    const rest = chunk.subarray(1);
    if (answer === 'S') {
      // a man in the middle could put bytes here that would read as the server's once TLS is up
      if (rest.length > 0) this.destroy(new PgWireError('received unencrypted data after SSL response'));
      else this.startTls();
      return Buffer.alloc(0);
    }
    if (answer === 'N') {
      if (this.negotiation === 'required') {
        this.destroy(new PgWireError('server does not support SSL, but SSL was required'));
        return Buffer.alloc(0);
      }
      this.phase = 'startup';
      this.socket.write(startupMessage(this.options.parameters));
      return rest;
    }
    // 'E': not to be trusted, as the server has not been authenticated (libpq 16)
    this.destroy(
      new PgWireError(answer === 'E' ? 'server sent an error response during SSL exchange' : `received invalid response to SSL negotiation: ${answer}`),
    );
    return Buffer.alloc(0);
  }

  private startTls(): void {
    this.phase = 'tls-handshake';
    const raw = this.socket;
    raw.removeListener('data', this.onData);
    const secure: TLSSocket = process.getBuiltinModule('node:tls').connect({ ...this.options.tls, socket: raw });
    this.socket = secure;
    this.watch(secure);
    secure.once('secureConnect', () => {
      this.usesTls = true;
      this.phase = 'startup';
      secure.write(startupMessage(this.options.parameters));
    });
  }

  private dispatch(type: number, body: Buffer): void {
    switch (type) {
      case 0x45: // E ErrorResponse
        this.serverError(new PgServerError(parseNotice(body)));
        return;
      case 0x4e: // N NoticeResponse
        this.options.onNotice?.(parseNotice(body));
        return;
      case 0x53: {
        // S ParameterStatus
        const fields = new BodyReader(body);
        this.parameters.set(fields.cstring(), fields.cstring());
        return;
      }
      case 0x41: // A NotificationResponse: nobody listens
        return;
    }
    if (this.phase === 'startup') this.startupReply(type, body);
    else if (this.phase === 'query') this.queryMessage(type, body);
    else throw new PgWireError(`unexpected response from server; first received character was "${String.fromCharCode(type)}"`);
  }

  private serverError(error: PgServerError): void {
    if (error.severity === 'FATAL' || error.severity === 'PANIC') this.fatal = error;
    if (this.phase === 'startup') {
      this.destroy(error);
    } else if (this.phase === 'query') {
      // an error in a later statement is dropped with its result, as Dovecot drops it
      if (this.pending !== undefined && !this.pending.firstDone) this.pending.error ??= error;
    }
  }

  private startupReply(type: number, body: Buffer): void {
    const fields = new BodyReader(body);
    switch (type) {
      case 0x52: // R Authentication*
        this.authenticate(fields.int32(), fields);
        return;
      case 0x4b: // K BackendKeyData
        this.processId = fields.int32();
        this.secretKey = fields.int32();
        return;
      case 0x76: // v NegotiateProtocolVersion: we ask for 3.0 and no options, so nothing to change
        return;
      case 0x5a: // Z ReadyForQuery
        if (!this.authenticated) throw new PgWireError('server sent ReadyForQuery before authentication completed');
        this.phase = 'idle';
        this.settleReady.resolve(this);
        return;
    }
    if (!this.authenticated) throw new PgWireError(`expected authentication request from server, but received ${String.fromCharCode(type)}`);
    throw new PgWireError(`unexpected message type "${String.fromCharCode(type)}" from server during startup`);
  }

  private authenticate(request: number, fields: BodyReader): void {
    if (this.authenticated) throw new PgWireError('server sent an authentication request after authentication completed');
    switch (request) {
      case 0: // AuthenticationOk
        if (this.scram !== undefined && !this.scram.verified) throw new PgWireError('server accepted the login before completing the SCRAM exchange');
        this.authenticated = true;
        return;
      case 3: // AuthenticationCleartextPassword
        this.socket.write(frame(0x70, cstring(this.password())));
        return;
      case 5: {
        // AuthenticationMD5Password
        const user = this.options.parameters.user ?? '';
        this.socket.write(frame(0x70, cstring(md5Password(user, this.password(), fields.bytes(4)))));
        return;
      }
      case 10: {
        // AuthenticationSASL: the mechanisms the server offers
        const mechanisms: string[] = [];
        for (let name = fields.cstring(); name !== ''; name = fields.cstring()) mechanisms.push(name);
        if (!mechanisms.includes(SCRAM_SHA_256)) throw new PgWireError("none of the server's SASL authentication mechanisms are supported");
        if (this.scram !== undefined) throw new PgWireError('duplicate SASL authentication request');
        this.scram = new ScramExchange(this.password());
        const first = Buffer.from(this.scram.clientFirstMessage());
        this.socket.write(frame(0x70, Buffer.concat([cstring(SCRAM_SHA_256), int32(first.length), first])));
        return;
      }
      case 11: // AuthenticationSASLContinue: server-first-message
        if (this.scram === undefined) throw new PgWireError('SASL authentication continued before it began');
        this.socket.write(frame(0x70, Buffer.from(this.scram.clientFinalMessage(fields.rest().toString('utf8')))));
        return;
      case 12: // AuthenticationSASLFinal: server-final-message
        if (this.scram === undefined) throw new PgWireError('SASL authentication completed before it began');
        this.scram.verifyServerFinal(fields.rest().toString('utf8'));
        return;
    }
    throw new PgWireError(REFUSED_AUTHENTICATION[request] ?? `authentication method ${request} not supported`);
  }

  private password(): string {
    const { password } = this.options;
    const value = typeof password === 'function' ? password() : password;
    if (value === undefined || value === '') throw new PgWireError('fe_sendauth: no password supplied');
    return value;
  }

  private queryMessage(type: number, body: Buffer): void {
    const pending = this.pending!;
    const fields = new BodyReader(body);
    switch (type) {
      case 0x54: // T RowDescription
        if (!pending.firstDone) pending.result = { fields: rowDescription(fields), rows: [], command: undefined };
        return;
      case 0x44: // D DataRow
        if (!pending.firstDone && pending.result !== undefined) pending.result.rows.push(dataRow(fields));
        return;
      case 0x43: // C CommandComplete
        if (!pending.firstDone) {
          pending.result ??= { fields: [], rows: [], command: undefined };
          pending.result.command = fields.cstring();
          pending.firstDone = true;
        }
        return;
      case 0x49: // I EmptyQueryResponse
        pending.firstDone = true;
        return;
      case 0x47: // G CopyInResponse: refuse to send anything
        this.socket.write(frame(0x66, cstring('COPY FROM STDIN is not supported')));
        return;
      case 0x48: // H CopyOutResponse, d CopyData, c CopyDone: the data is dropped
      case 0x64:
      case 0x63:
        return;
      case 0x5a: // Z ReadyForQuery
        this.pending = undefined;
        this.phase = 'idle';
        clearTimeout(pending.timer);
        if (pending.error !== undefined) pending.reject(pending.error);
        else pending.resolve(pending.result ?? { fields: [], rows: [], command: undefined });
        return;
    }
    throw new PgWireError(`unexpected response from server; first received character was "${String.fromCharCode(type)}"`);
  }
}

/** Splits the server's byte stream into messages: a type byte, then an int32 length that counts itself, then the body. */
export class MessageReader {
  private chunks: Buffer[] = [];
  private size = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  /** The next whole message, or undefined until more bytes come. */
  next(): { type: number; body: Buffer } | undefined {
    if (this.size < 5) return undefined;
    let head = this.chunks[0]!;
    if (head.length < 5) head = this.flatten();
    const length = head.readInt32BE(1);
    if (length < 4) throw new PgWireError(`invalid message length ${length} from server`);
    const total = 1 + length;
    if (this.size < total) return undefined;
    if (head.length < total) head = this.flatten();
    const message = { type: head[0]!, body: head.subarray(5, total) };
    if (head.length === total) this.chunks.shift();
    else this.chunks[0] = head.subarray(total);
    this.size -= total;
    return message;
  }

  private flatten(): Buffer {
    const whole = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.size);
    this.chunks = [whole];
    return whole;
  }
}

/** Reads a message body field by field; reading past its end is a protocol error. */
class BodyReader {
  private at = 0;

  constructor(private readonly body: Buffer) {}

  int16(): number {
    this.need(2);
    const value = this.body.readInt16BE(this.at);
    this.at += 2;
    return value;
  }

  int32(): number {
    this.need(4);
    const value = this.body.readInt32BE(this.at);
    this.at += 4;
    return value;
  }

  bytes(count: number): Buffer {
    this.need(count);
    const value = this.body.subarray(this.at, this.at + count);
    this.at += count;
    return value;
  }

  /** a NUL-terminated string, as UTF-8 */
  cstring(): string {
    const end = this.body.indexOf(0, this.at);
    if (end < 0) throw new PgWireError('invalid string in message from server');
    const value = this.body.toString('utf8', this.at, end);
    this.at = end + 1;
    return value;
  }

  rest(): Buffer {
    const value = this.body.subarray(this.at);
    this.at = this.body.length;
    return value;
  }

  private need(count: number): void {
    if (this.at + count > this.body.length) throw new PgWireError('message from server too short');
  }
}

/** RowDescription: the column names. */
function rowDescription(fields: BodyReader): string[] {
  const count = fields.int16();
  const names: string[] = [];
  for (let index = 0; index < count; index++) {
    names.push(fields.cstring());
    fields.bytes(18); // table oid, column number, type oid, type size, type modifier, format
  }
  return names;
}

/** DataRow: each column's text, null for SQL NULL (length -1). */
function dataRow(fields: BodyReader): (string | null)[] {
  const count = fields.int16();
  const values: (string | null)[] = [];
  for (let index = 0; index < count; index++) {
    const length = fields.int32();
    values.push(length < 0 ? null : fields.bytes(length).toString('utf8'));
  }
  return values;
}

/** An ErrorResponse or NoticeResponse body: fields by code; severity from V (never localised) or S. */
export function parseNotice(body: Buffer): PgNotice {
  const fields: Record<string, string> = {};
  const reader = new BodyReader(body);
  for (;;) {
    const code = reader.bytes(1)[0]!;
    if (code === 0) break;
    fields[String.fromCharCode(code)] = reader.cstring();
  }
  return { severity: fields.V ?? fields.S ?? '', code: fields.C ?? '', message: fields.M ?? '', fields };
}

function int32(value: number): Buffer {
  const buffer = Buffer.allocUnsafe(4);
  buffer.writeInt32BE(value);
  return buffer;
}

function cstring(text: string): Buffer {
  return Buffer.from(`${text}\0`);
}

/** A message: type byte, length (counting itself), body. */
export function frame(type: number, body: Buffer): Buffer {
  const message = Buffer.allocUnsafe(5 + body.length);
  message[0] = type;
  message.writeInt32BE(4 + body.length, 1);
  body.copy(message, 5);
  return message;
}

function sslRequest(): Buffer {
  const message = Buffer.allocUnsafe(8);
  message.writeInt32BE(8);
  message.writeInt32BE(SSL_REQUEST_CODE, 4);
  return message;
}

/** StartupMessage: length, protocol 3.0, name/value pairs (those unset or empty left out), a final NUL. */
export function startupMessage(parameters: Readonly<Record<string, string | undefined>>): Buffer {
  const pairs = Object.entries(parameters).filter((pair): pair is [string, string] => pair[1] !== undefined && pair[1] !== '');
  for (const [name, value] of pairs) {
    if (name.includes('\0') || value.includes('\0')) throw new PgWireError(`connection parameter ${name} contains a NUL character`);
  }
  const body = Buffer.from(`${pairs.map(([name, value]) => `${name}\0${value}\0`).join('')}\0`);
  const message = Buffer.allocUnsafe(8 + body.length);
  message.writeInt32BE(message.length);
  message.writeInt32BE(PROTOCOL_VERSION, 4);
  body.copy(message, 8);
  return message;
}

/** AuthenticationMD5Password's answer: "md5" + md5hex(md5hex(password + user) + salt). */
export function md5Password(user: string, password: string, salt: Buffer): string {
  const { createHash } = process.getBuiltinModule('node:crypto');
  const inner = createHash('md5').update(password).update(user).digest('hex');
  return `md5${createHash('md5').update(inner).update(salt).digest('hex')}`;
}

/**
 * The client side of SCRAM-SHA-256 (RFC 5802, RFC 7677) as libpq runs it:
 * no channel binding (gs2 header "n,,"), the user name left empty (the
 * server takes the StartupMessage's), the password SASLprep'd when it can be
 * (else used as it is, as the server does when it stores it).
 */
export class ScramExchange {
  verified = false;
  private readonly nonce: string;
  private readonly clientFirstBare: string;
  private serverSignature: Buffer | undefined;

  constructor(
    private readonly password: string,
    nonce?: string,
    user = '',
  ) {
    this.nonce = nonce ?? process.getBuiltinModule('node:crypto').randomBytes(18).toString('base64');
    this.clientFirstBare = `n=${user},r=${this.nonce}`;
  }

  clientFirstMessage(): string {
    return `n,,${this.clientFirstBare}`;
  }

  /** The client-final-message for the server-first-message `serverFirst`. */
  clientFinalMessage(serverFirst: string): string {
    const { createHash, createHmac, pbkdf2Sync } = process.getBuiltinModule('node:crypto');
    const attributes = scramAttributes(serverFirst, ['r', 's', 'i'], 'server-first-message');
    const nonce = attributes.r!;
    if (!nonce.startsWith(this.nonce)) throw new PgWireError('invalid SCRAM response (nonce mismatch)');
    if (!isBase64(attributes.s!)) throw new PgWireError('malformed SCRAM message (invalid salt)');
    const iterations = /^[0-9]+$/.test(attributes.i!) ? Number(attributes.i) : 0;
    if (!(iterations >= 1 && iterations <= 0x7fffffff)) throw new PgWireError('malformed SCRAM message (invalid iteration count)');
    const withoutProof = `c=biws,r=${nonce}`;
    const authMessage = `${this.clientFirstBare},${serverFirst},${withoutProof}`;
    const saltedPassword = pbkdf2Sync(saslPrep(this.password) ?? this.password, Buffer.from(attributes.s!, 'base64'), iterations, 32, 'sha256');
    const hmac = (key: Buffer, text: string) => createHmac('sha256', key).update(text).digest();
    const clientKey = hmac(saltedPassword, 'Client Key');
    const clientSignature = hmac(createHash('sha256').update(clientKey).digest(), authMessage);
    const proof = Buffer.alloc(clientKey.length);
    for (let index = 0; index < proof.length; index++) proof[index] = clientKey[index]! ^ clientSignature[index]!;
    this.serverSignature = hmac(hmac(saltedPassword, 'Server Key'), authMessage);
    return `${withoutProof},p=${proof.toString('base64')}`;
  }

  /** Checks the server-final-message: the server proves it knows the password too. */
  verifyServerFinal(serverFinal: string): void {
    if (this.serverSignature === undefined) throw new PgWireError('SASL authentication completed before it began');
    if (serverFinal.startsWith('e=')) throw new PgWireError(`error received from server in SCRAM exchange: ${serverFinal.slice(2)}`);
    const { v } = scramAttributes(serverFinal, ['v'], 'server-final-message');
    const signature = isBase64(v!) ? Buffer.from(v!, 'base64') : Buffer.alloc(0);
    if (signature.length !== this.serverSignature.length) throw new PgWireError('malformed SCRAM message (invalid server signature)');
    if (!process.getBuiltinModule('node:crypto').timingSafeEqual(signature, this.serverSignature)) throw new PgWireError('incorrect server signature');
    this.verified = true;
  }
}

/** `a=...,b=...` with exactly the attributes `names`, in order, as libpq reads them. */
function scramAttributes(message: string, names: string[], what: string): Record<string, string> {
  if (message === '') throw new PgWireError('malformed SCRAM message (empty message)');
  const parts = message.split(',');
  const attributes: Record<string, string> = {};
  names.forEach((name, index) => {
    const part = parts[index];
    if (part === undefined || part[0] !== name) throw new PgWireError(`malformed SCRAM message (attribute "${name}" expected)`);
    if (part[1] !== '=') throw new PgWireError(`malformed SCRAM message (expected character "=" for attribute "${name}")`);
    attributes[name] = part.slice(2);
  });
  if (parts.length > names.length) throw new PgWireError(`malformed SCRAM message (garbage at end of ${what})`);
  return attributes;
}

function isBase64(text: string): boolean {
  return text.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(text);
}

// SASLprep (RFC 4013) with the tables of stringprep (RFC 3454), as PostgreSQL's
// pg_saslprep: ASCII passes as it is; else non-ASCII spaces become spaces,
// the "commonly mapped to nothing" characters go, NFKC, then prohibited
// characters and the bidirectional rule fail it. Unassigned code points are
// those Unicode now leaves unassigned (RFC 3454 lists Unicode 3.2's), and a
// "left-to-right" character is a letter or spacing mark not written right to
// left: close approximations of tables A.1 and D.2 for what passwords hold.

/** The tables, made on first use: parsed when the module loads, they cost every connect most of a millisecond. */
let saslPrepTables: { space: RegExp; nothing: RegExp; prohibited: RegExp; randAl: RegExp; l: RegExp } | undefined;

function tables(): NonNullable<typeof saslPrepTables> {
  return (saslPrepTables ??= {
    space: new RegExp('[\\u00a0\\u1680\\u2000-\\u200b\\u202f\\u205f\\u3000]', 'gu'),
    nothing: new RegExp('[\\u00ad\\u034f\\u1806\\u180b-\\u180d\\u200c\\u200d\\u2060\\ufe00-\\ufe0f\\ufeff]', 'gu'),
    prohibited: new RegExp(
      '[\\u0000-\\u001f\\u007f-\\u009f\\u00a0\\u0340\\u0341\\u06dd\\u070f\\u1680\\u180e\\u2000-\\u200f\\u2028-\\u202f\\u205f-\\u2063' +
        '\\u206a-\\u206f\\u2ff0-\\u2ffb\\u3000\\ud800-\\udfff\\ue000-\\uf8ff\\ufdd0-\\ufdef\\ufeff\\ufff9-\\ufffd' +
        '\\u{1d173}-\\u{1d17a}\\u{e0001}\\u{e0020}-\\u{e007f}\\u{f0000}-\\u{ffffd}\\u{100000}-\\u{10fffd}]|[\\ufffe\\uffff]|\\p{Cn}',
      'u',
    ),
    randAl: new RegExp(
      '[\\u05be\\u05c0\\u05c3\\u05d0-\\u05ea\\u05f0-\\u05f4\\u061b\\u061f\\u0621-\\u063a\\u0640-\\u064a\\u066d-\\u066f\\u0671-\\u06d5\\u06dd' +
        '\\u06e5\\u06e6\\u06fa-\\u06fe\\u0700-\\u070d\\u0710\\u0712-\\u072c\\u0780-\\u07a5\\u07b1\\u200f\\ufb1d\\ufb1f-\\ufb28\\ufb2a-\\ufb36' +
        '\\ufb38-\\ufb3c\\ufb3e\\ufb40\\ufb41\\ufb43\\ufb44\\ufb46-\\ufbb1\\ufbd3-\\ufd3d\\ufd50-\\ufd8f\\ufd92-\\ufdc7\\ufdf0-\\ufdfc' +
        '\\ufe70-\\ufe74\\ufe76-\\ufefc]',
      'u',
    ),
    l: new RegExp('[\\p{L}\\p{Mc}]', 'u'),
  });
}

/** The SASLprep'd `text`, or undefined where SASLprep fails (the caller then uses `text` as it is). */
export function saslPrep(text: string): string | undefined {
  if (!/[^\u0000-\u007f]/.test(text)) return text;
  const { space, nothing, prohibited, randAl, l } = tables();
  // a lone surrogate (not UTF-8) is prohibited below
  const prepared = text.replace(space, ' ').replace(nothing, '').normalize('NFKC');
  if (prohibited.test(prepared)) return undefined;
  const characters = [...prepared];
  if (characters.some((character) => randAl.test(character))) {
    if (characters.some((character) => l.test(character) && !randAl.test(character))) return undefined;
    if (!randAl.test(characters[0]!) || !randAl.test(characters.at(-1)!)) return undefined;
  }
  return prepared;
}
