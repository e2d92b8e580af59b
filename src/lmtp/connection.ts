// One LMTP client (RFC 2033), answered as Dovecot 2.3's lmtp answers on the
// wire: the greeting, LHLO, MAIL, RCPT (asking the backend), DATA and BDAT
// (streaming the message to the backend), one reply per recipient after the
// message, RSET, NOOP, VRFY, QUIT, and Dovecot's replies to commands out of
// order, broken lines, too long lines and too many bad commands in a row.
// Commands are handled strictly one at a time in the order sent; replies to
// pipelined commands go out together, when the next command has to be
// waited for.
//
// How it fails: never by throwing. A client gone mid-message makes the
// message stream fail (the backend delivers nothing) and nothing more is
// written; a backend that rejects or answers with the wrong number of
// replies is logged and every recipient gets 451 4.3.0; an idle client gets
// 421 4.4.2 and is closed; shutdown() lets a transaction in flight finish.
// Deliberately unlike Dovecot: shutdown waits for the transaction in flight
// (Dovecot aborts it with 421), a RCPT after the first BDAT chunk gets 503
// (the message is already streaming to the backend with its recipients), and
// a BDAT LAST over the size limit gets one 552 per recipient.

import type { Socket } from 'node:net';
import type {
  AcceptedRecipient,
  ConnectionLimits,
  LmtpBackend,
  LmtpClient,
  LmtpConnection,
  LmtpReply,
  LmtpTransaction,
  RcptVerdict,
} from './types.js';
import { LINE_TOO_LONG, MESSAGE_TOO_BIG, parseCommandLine, type LmtpCommand, type RejectedCommand } from './commands.js';
import { BodyStream, ClientInput, type TransferEnd } from './data-reader.js';
import { formatAddress, type SmtpAddress } from '../message/smtp-address.js';
import { newSessionId } from '../log/deliver-log.js';

export interface ServeOptions {
  log?: (level: 'Info' | 'Error', text: string) => void;
  /** the session id (default: a new one, as Dovecot makes them) */
  sessionId?: string;
}

/** Serves the client on `socket` until it quits, goes away, idles out or is shut down. */
export function serveConnection(socket: Socket, backend: LmtpBackend, limits: ConnectionLimits, options: ServeOptions): LmtpConnection {
  return new Connection(socket, backend, limits, options);
}

const reply = (code: number, enhanced: string, text: string): LmtpReply => ({ code, enhanced, text });

const OK = reply(250, '2.0.0', 'OK');
const MAIL_OK = reply(250, '2.1.0', 'OK');
const MAIL_ALREADY_GIVEN = reply(503, '5.5.0', 'MAIL already given');
const MAIL_NEEDED = reply(503, '5.5.0', 'MAIL needed first');
const NO_VALID_RECIPIENTS = reply(503, '5.5.0', 'No valid recipients');
const BAD_SEQUENCE = reply(503, '5.5.0', 'Bad sequence of commands');
const CHUNK_FAILED = reply(503, '5.5.0', 'Previous data chunk failed, issue RSET first');
const TOO_MANY_RECIPIENTS = reply(452, '4.5.3', 'Too many recipients');
const TRY_RCPT = reply(252, '2.3.3', 'Try RCPT instead');
const BYE = reply(221, '2.0.0', 'Bye');

/** Dovecot's max_bad_commands: one more 500/501/503 in a row and the client is shown the door */
const MAX_BAD_COMMANDS = 10;
/** how long a closed session waits for the client to close its side */
const CLOSE_GRACE_MS = 10_000;

interface Body {
  stream: BodyStream;
  /** the backend's answer; settles (never rejects) when deliver() does */
  delivery: Promise<{ replies: unknown } | { error: unknown }>;
  /** the recipients deliver() was given */
  recipients: readonly AcceptedRecipient[];
  /** message bytes so far */
  size: number;
  /** passed limits.maxMessageSize: the stream has failed, the rest is discarded */
  oversize: boolean;
}

interface Transaction {
  info: LmtpTransaction;
  /** RCPT commands that reached the backend (Dovecot's :R<n> counts them) */
  rcptCommands: number;
  recipients: AcceptedRecipient[];
  /** set once the message started streaming to the backend (DATA, or the first BDAT chunk) */
  body?: Body;
}

class Connection implements LmtpConnection {
  readonly closed: Promise<void>;
  private readonly input: ClientInput;
  private readonly sessionId: string;
  /** the client's IP address, "" for a UNIX socket */
  private readonly remoteAddress: string;
  private readonly remotePort: number;
  private helo: string | undefined;
  private transaction: Transaction | undefined;
  private transactions = 0;
  /** BDAT commands since the last reset, and whether one failed (Dovecot keeps both across MAIL) */
  private chunks = 0;
  private chunkFailed = false;
  private badCommands = 0;
  /** reply lines not written yet */
  private output: string[] = [];
  private shuttingDown = false;
  /** the session is over: no more commands are read */
  private finished = false;
  /** what the command being read/handled is, for the disconnect log line */
  private unfinished: 'DATA' | 'BDAT' | undefined;

  constructor(
    private readonly socket: Socket,
    private readonly backend: LmtpBackend,
    private readonly limits: ConnectionLimits,
    private readonly options: ServeOptions,
  ) {
    this.sessionId = options.sessionId ?? newSessionId();
    // an IPv4 client of an IPv6 listener is an IPv4 client (Dovecot unmaps the address too)
    this.remoteAddress = (socket.remoteAddress ?? '').replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
    this.remotePort = socket.remotePort ?? 0;
    socket.on('error', () => {}); // a reset is a disconnection like any other
    socket.setNoDelay(true);
    this.input = new ClientInput(socket, {
      idleTimeoutMs: limits.idleTimeoutMs,
      onIdle: () => this.idleTimeout(),
      beforeWait: () => this.flush(),
    });
    const socketClosed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const served = this.serve().catch((error: unknown) => {
      this.log('Error', `${this.sessionId}: Internal error: ${describe(error)}`);
      socket.destroy();
    });
    this.closed = Promise.all([socketClosed, served]).then(() => undefined);
  }

  get inTransaction(): boolean {
    return this.transaction !== undefined;
  }

  shutdown(): void {
    this.shuttingDown = true;
    if (this.transaction === undefined) this.input.interrupt();
  }

  // ---- the session ----

  private async serve(): Promise<void> {
    this.output.push(`220 ${oneLine(this.backend.hostname)} ${oneLine(this.backend.greeting)}`);
    try {
      while (!this.finished) {
        if (this.shuttingDown && this.transaction === undefined) {
          this.terminate('4.3.2', 'Shutting down');
          break;
        }
        const read = await this.input.readLine(this.limits.maxCommandLength);
        if (this.finished) break;
        if (read.kind === 'closed') {
          this.clientGone();
          break;
        }
        if (read.kind === 'interrupted') continue;
        if (read.kind === 'too-long') this.answer([LINE_TOO_LONG]);
        else await this.handle(read.line.toString('latin1'));
      }
    } finally {
      await this.endSession();
    }
  }

  private async handle(line: string): Promise<void> {
    const parsed = parseCommandLine(line, { maxMessageSize: this.limits.maxMessageSize });
    if (!parsed.ok) return this.rejected(parsed);
    const command = parsed.command;
    switch (command.verb) {
      case 'LHLO':
        await this.reset();
        this.helo = command.domain;
        return this.answer([reply(250, '', '')], this.lhloLines());
      case 'MAIL':
        return this.mail(command);
      case 'RCPT':
        return this.rcpt(command.address, command.orcpt);
      case 'DATA':
        return this.data();
      case 'BDAT':
        return this.bdat(command.size, command.last);
      case 'RSET':
        await this.reset();
        return this.answer([OK]);
      case 'NOOP':
        return this.answer([OK]);
      case 'VRFY':
        return this.answer([TRY_RCPT]);
      case 'QUIT': {
        const state = this.stateName();
        await this.reset();
        this.answer([BYE]);
        return this.close('Logged out', state);
      }
    }
  }

  /** A command whose arguments were refused: MAIL and RCPT check the state first, as Dovecot does; a BDAT's bytes are skipped. */
  private async rejected(rejected: RejectedCommand): Promise<void> {
    if (rejected.verb === 'MAIL' && this.transaction !== undefined) return this.answer([MAIL_ALREADY_GIVEN]);
    if (rejected.verb === 'RCPT') {
      const refusal = this.rcptRefusal();
      if (refusal !== undefined) return this.answer([refusal]);
    }
    if (rejected.verb === 'BDAT') return this.chunkRefused(rejected.reply, rejected.chunkSize ?? 0);
    this.answer([rejected.reply]);
  }

  // ---- MAIL, RCPT ----

  private mail(command: Extract<LmtpCommand, { verb: 'MAIL' }>): void {
    if (this.transaction !== undefined) return this.answer([MAIL_ALREADY_GIVEN]);
    this.transactions++;
    const client: LmtpClient = {
      helo: this.helo ?? '',
      remoteAddress: this.remoteAddress,
      remotePort: this.remotePort,
      sessionId: this.sessionId,
    };
    const id = this.transactions === 1 ? this.sessionId : `${this.sessionId}:T${this.transactions}`;
    this.transaction = {
      info: { id, client, sender: command.sender, params: command.params, started: new Date() },
      rcptCommands: 0,
      recipients: [],
    };
    this.answer([MAIL_OK]);
  }

  private rcptRefusal(): LmtpReply | undefined {
    const transaction = this.transaction;
    if (transaction === undefined) return MAIL_NEEDED;
    if (this.limits.maxRecipients > 0 && transaction.recipients.length >= this.limits.maxRecipients) return TOO_MANY_RECIPIENTS;
    if (transaction.body !== undefined) return BAD_SEQUENCE;
    return undefined;
  }

  private async rcpt(address: SmtpAddress, orcpt: string | undefined): Promise<void> {
    const refusal = this.rcptRefusal();
    if (refusal !== undefined) return this.answer([refusal]);
    const transaction = this.transaction!;
    const request = { address, index: ++transaction.rcptCommands, ...(orcpt === undefined ? {} : { orcpt }) };
    let verdict: RcptVerdict;
    try {
      verdict = await this.backend.checkRecipient(transaction.info, request);
    } catch (error) {
      this.log('Error', `${transaction.info.id}: checkRecipient(${formatAddress(address)}) failed: ${describe(error)}`);
      return this.answer([internalError(address)]);
    }
    const answer = verdict?.reply;
    const accepted = verdict?.accepted;
    if (!isReply(answer) || (isSuccess(answer) && accepted === undefined)) {
      this.log('Error', `${transaction.info.id}: checkRecipient(${formatAddress(address)}) gave an unusable verdict: ${describe(verdict)}`);
      return this.answer([internalError(address)]);
    }
    if (isSuccess(answer)) transaction.recipients.push(accepted!);
    this.answer([answer]);
  }

  // ---- DATA, BDAT ----

  private async data(): Promise<void> {
    const transaction = this.transaction;
    const refusal = this.chunks > 0 && this.chunkFailed ? CHUNK_FAILED : this.dataRefusal() ?? (this.chunks > 0 ? BAD_SEQUENCE : undefined);
    if (refusal !== undefined || transaction === undefined) return this.answer([refusal ?? MAIL_NEEDED]);
    this.output.push('354 OK');
    const body = this.startBody(transaction);
    this.unfinished = 'DATA';
    const end = await this.input.readDotBody((data) => this.feed(body, data));
    await this.finishBody(transaction, body, end);
    this.unfinished = undefined;
  }

  private async bdat(size: number, last: boolean): Promise<void> {
    const refusal = this.chunkFailed ? CHUNK_FAILED : this.dataRefusal();
    if (refusal !== undefined) return this.chunkRefused(refusal, size);
    const transaction = this.transaction!;
    const sizeSoFar = transaction.body?.size ?? 0;
    if (this.limits.maxMessageSize > 0 && sizeSoFar + size > this.limits.maxMessageSize) {
      if (!last) return this.chunkRefused(MESSAGE_TOO_BIG, size);
      return this.lastChunkTooBig(transaction, size);
    }
    this.chunks++;
    const body = transaction.body ?? this.startBody(transaction);
    this.unfinished = 'BDAT';
    const end = await this.input.readChunk(size, (data) => this.feed(body, data));
    if (last || end === 'closed') await this.finishBody(transaction, body, end);
    else this.answer([reply(250, '2.0.0', `Added ${size} octets`)]);
    this.unfinished = undefined;
  }

  /** BDAT LAST past the size limit: its bytes are skipped, each recipient gets 552 as after a message, and the transaction is over. */
  private async lastChunkTooBig(transaction: Transaction, size: number): Promise<void> {
    this.chunks++;
    this.unfinished = 'BDAT';
    const end = await this.input.readChunk(size, async () => {});
    if (end === 'closed') return this.clientGone();
    this.unfinished = undefined;
    const recipients = transaction.body?.recipients ?? transaction.recipients;
    await this.reset();
    this.answer(recipients.map(() => MESSAGE_TOO_BIG));
  }

  /** Why DATA/BDAT cannot start now (the checks they share), or undefined. */
  private dataRefusal(): LmtpReply | undefined {
    if (this.transaction === undefined) return MAIL_NEEDED;
    if (this.transaction.recipients.length === 0) return NO_VALID_RECIPIENTS;
    return undefined;
  }

  /** A refused BDAT: its bytes are skipped, the chunk sequence has failed (only RSET helps), and a message already streaming fails. */
  private async chunkRefused(refusal: LmtpReply, size: number): Promise<void> {
    this.chunks++;
    this.chunkFailed = true;
    this.unfinished = 'BDAT';
    const end = await this.input.readChunk(size, async () => {});
    const body = this.transaction?.body;
    if (body !== undefined) await this.abandonBody(body, 'the chunk sequence failed');
    if (end === 'closed') return this.clientGone();
    this.unfinished = undefined;
    this.answer([refusal]);
  }

  /** Starts streaming the message to the backend, for the recipients accepted so far. */
  private startBody(transaction: Transaction): Body {
    const stream = new BodyStream();
    const recipients = [...transaction.recipients];
    const delivery = Promise.resolve()
      .then(() => this.backend.deliver(transaction.info, recipients, stream.readable))
      .then(
        (replies: unknown) => ({ replies }),
        (error: unknown) => ({ error }),
      );
    const body: Body = { stream, delivery, recipients, size: 0, oversize: false };
    // a backend that answers before reading everything gets no more bytes (and the client is not held up)
    void delivery.then(() => stream.abandon());
    transaction.body = body;
    return body;
  }

  private async feed(body: Body, data: Buffer): Promise<void> {
    if (body.oversize) return;
    body.size += data.length;
    if (this.limits.maxMessageSize > 0 && body.size > this.limits.maxMessageSize) return this.overflow(body);
    await body.stream.write(data);
  }

  private overflow(body: Body): void {
    body.oversize = true;
    body.stream.fail(new Error(`message size exceeds the limit of ${this.limits.maxMessageSize} bytes`));
  }

  /** The message has been read (or the client is gone): the backend's replies, or ours. */
  private async finishBody(transaction: Transaction, body: Body, end: TransferEnd): Promise<void> {
    if (end === 'closed') {
      body.stream.fail(new Error('the client disconnected during the message'));
      await body.delivery;
      return this.clientGone();
    }
    if (!body.oversize) body.stream.end();
    const outcome = await body.delivery;
    const replies = body.oversize ? body.recipients.map(() => MESSAGE_TOO_BIG) : this.recipientReplies(transaction, body.recipients, outcome);
    // the transaction is over whatever the replies: nothing to release
    this.transaction = undefined;
    this.resetChunks();
    this.answer(replies);
  }

  /** Exactly one usable reply per recipient from the backend, else 451 for all (and the log says why). */
  private recipientReplies(
    transaction: Transaction,
    recipients: readonly AcceptedRecipient[],
    outcome: { replies: unknown } | { error: unknown },
  ): LmtpReply[] {
    const allFailed = (why: string) => {
      this.log('Error', `${transaction.info.id}: deliver ${why}: every recipient gets 451`);
      return recipients.map((recipient) => internalError(recipient.request.address));
    };
    if ('error' in outcome) return allFailed(`failed: ${describe(outcome.error)}`);
    const replies = outcome.replies;
    if (!Array.isArray(replies) || replies.length !== recipients.length) {
      return allFailed(`gave ${Array.isArray(replies) ? replies.length : describe(replies)} replies for ${recipients.length} recipients`);
    }
    if (!replies.every(isReply)) return allFailed(`gave an unusable reply: ${describe(replies.find((answer) => !isReply(answer)))}`);
    return replies;
  }

  /** Makes a message in flight fail and waits for the backend to let go of it (its replies are dropped). */
  private async abandonBody(body: Body, why: string): Promise<void> {
    body.stream.fail(new Error(`the transaction was aborted: ${why}`));
    await body.delivery;
  }

  // ---- ends ----

  /** RSET, LHLO, QUIT, and any end of session: the transaction (if any) ends undelivered. */
  private async reset(): Promise<void> {
    const transaction = this.transaction;
    this.transaction = undefined;
    this.resetChunks();
    if (transaction === undefined) return;
    if (transaction.body !== undefined) return this.abandonBody(transaction.body, 'reset');
    try {
      this.backend.release(transaction.info, transaction.recipients);
    } catch (error) {
      this.log('Error', `${transaction.info.id}: release failed: ${describe(error)}`);
    }
  }

  private resetChunks(): void {
    this.chunks = 0;
    this.chunkFailed = false;
  }

  /** 421 and close (the transaction, if any, is dropped when the session ends). */
  private terminate(enhanced: string, text: string): void {
    this.output.push(`421 ${enhanced} ${oneLine(this.backend.hostname)} ${text}`);
    this.close(text);
  }

  private idleTimeout(): void {
    if (this.finished) return;
    this.terminate('4.4.2', 'Disconnected for inactivity');
  }

  /** The client closed the connection (replies still pending go out if the socket can take them). */
  private clientGone(): void {
    this.close('Connection closed');
  }

  /** Writes what is pending, ends our side and stops reading; `state` is the log's, when it was taken before a reset. */
  private close(reason: string, state = this.stateName()): void {
    if (this.finished) return;
    this.log('Info', `Disconnect from ${this.remoteAddress || 'local'}: ${reason}${this.unfinished === undefined ? '' : ` (unfinished ${this.unfinished} command)`} (state=${state})`);
    this.finished = true;
    this.input.stop();
    this.writePending();
    this.socket.end();
    const timer = setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS);
    this.socket.once('close', () => clearTimeout(timer));
  }

  private async endSession(): Promise<void> {
    const body = this.transaction?.body;
    if (body !== undefined) body.stream.fail(new Error('the session ended during the message'));
    await this.reset();
  }

  /** Dovecot's state names, for the log */
  private stateName(): string {
    const transaction = this.transaction;
    if (transaction === undefined) return this.helo === undefined ? 'GREETING' : 'READY';
    if (transaction.body !== undefined || this.unfinished !== undefined) return 'DATA';
    return transaction.rcptCommands > 0 ? 'RCPT TO' : 'MAIL FROM';
  }

  // ---- replies ----

  /**
   * The final reply (or replies, after a message) to a command. 500, 501 and
   * 503 count as bad; the eleventh bad one in a row gets 421 instead.
   */
  private answer(replies: readonly LmtpReply[], lines?: readonly string[]): void {
    const bad = replies.some((answer) => answer.code === 500 || answer.code === 501 || answer.code === 503);
    this.badCommands = bad ? this.badCommands + 1 : 0;
    if (this.badCommands > MAX_BAD_COMMANDS) return this.terminate('4.7.0', 'Too many invalid commands.');
    this.output.push(...(lines ?? replies.map(formatReply)));
  }

  private lhloLines(): string[] {
    const capabilities = ['8BITMIME', 'CHUNKING', 'ENHANCEDSTATUSCODES', 'PIPELINING'];
    if (this.limits.maxMessageSize > 0) capabilities.push(`SIZE ${this.limits.maxMessageSize}`);
    const lines = [oneLine(this.backend.hostname), ...capabilities];
    return lines.map((line, index) => `250${index === lines.length - 1 ? ' ' : '-'}${line}`);
  }

  /** Writes the pending replies in one go; waits while the client is not reading them. */
  private async flush(): Promise<void> {
    if (!this.writePending()) return;
    if (this.socket.writableNeedDrain) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.socket.off('drain', done);
          this.socket.off('close', done);
          resolve();
        };
        this.socket.on('drain', done);
        this.socket.on('close', done);
      });
    }
  }

  private writePending(): boolean {
    if (this.output.length === 0) return false;
    const text = this.output.join('\r\n') + '\r\n';
    this.output = [];
    if (this.socket.destroyed || !this.socket.writable) return false;
    this.socket.write(text, 'utf8');
    return true;
  }

  private log(level: 'Info' | 'Error', text: string): void {
    this.options.log?.(level, text);
  }
}

function formatReply(answer: LmtpReply): string {
  return [String(answer.code), answer.enhanced, oneLine(answer.text)].filter((part) => part !== '').join(' ');
}

/** Reply text is one line: CR and LF are removed. */
function oneLine(text: string): string {
  return text.replace(/[\r\n]/g, '');
}

/** Dovecot's per-recipient wording for a failure nobody foresaw. */
function internalError(address: SmtpAddress): LmtpReply {
  return reply(451, '4.3.0', `<${formatAddress(address)}> Temporary internal error`);
}

const isSuccess = (answer: LmtpReply) => answer.code >= 200 && answer.code < 300;

/** A reply the connection can write: a code 200-599, an enhanced code of the same class (or none), a text. */
function isReply(value: unknown): value is LmtpReply {
  if (typeof value !== 'object' || value === null) return false;
  const { code, enhanced, text } = value as Partial<LmtpReply>;
  if (typeof code !== 'number' || !Number.isInteger(code) || code < 200 || code > 599) return false;
  if (typeof text !== 'string' || typeof enhanced !== 'string') return false;
  return enhanced === '' || new RegExp(`^${Math.floor(code / 100)}\\.\\d{1,3}\\.\\d{1,3}$`).test(enhanced);
}

function describe(value: unknown): string {
  if (value instanceof Error) return value.message;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
