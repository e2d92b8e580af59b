// The contracts of the LMTP server (RFC 2033), between its three layers:
//   connection.ts  the protocol: one client socket, commands, replies, DATA
//                  and BDAT, limits and timeouts; knows no users or mailboxes
//   backend.ts     the mail side: RCPT → userdb lookup, DATA → the added
//                  headers, the spool and one delivery per recipient
//   server.ts      listeners, the set of connections, shutdown and reload
// Replies are values (LmtpReply); only the connection writes them, so no
// layer can put client and server out of step.

import type { Readable } from 'node:stream';
import type { SmtpAddress } from '../message/smtp-address.js';

/** One reply line: `code enhanced text` (enhanced "" for the greeting, LHLO and 354). */
export interface LmtpReply {
  code: number;
  enhanced: string;
  /** one line, no CR/LF (the connection replaces any it finds) */
  text: string;
}

/** Who is talking, for the Received header and the logs. */
export interface LmtpClient {
  /** the LHLO argument as given */
  helo: string;
  /** "" for a UNIX socket */
  remoteAddress: string;
  remotePort: number;
  /** the session id (Dovecot: 22 characters of base64), also the first transaction's id */
  sessionId: string;
}

/** MAIL FROM parameters the server accepted. */
export interface MailParams {
  /** BODY=7BIT | 8BITMIME (| BINARYMIME never: it is not advertised) */
  body?: '7BIT' | '8BITMIME';
  /** SIZE=n, only when SIZE is advertised (a message size limit is set) */
  size?: number;
}

/** One MAIL ... DATA/BDAT LAST exchange. */
export interface LmtpTransaction {
  /** the session id for the first transaction of a session, then `<session>:T2`, `:T3`, ... as Dovecot */
  id: string;
  client: LmtpClient;
  /** null for the null sender <> */
  sender: SmtpAddress | null;
  params: MailParams;
  /** when MAIL was accepted */
  started: Date;
}

/** A RCPT command as the client gave it. */
export interface RcptRequest {
  address: SmtpAddress;
  /** the ORCPT parameter's address (rfc822;addr, xtext-decoded), when given */
  orcpt?: string;
  /** 1-based number of this RCPT command in the transaction (Dovecot's `:R<n>` suffix counts them) */
  index: number;
}

/** A recipient the backend accepted at RCPT time; `state` is the backend's own (the user it found). */
export interface AcceptedRecipient {
  request: RcptRequest;
  state: unknown;
}

export interface RcptVerdict {
  reply: LmtpReply;
  /** set when the reply is 250: the recipient joins the transaction */
  accepted?: AcceptedRecipient;
}

/** What the connection asks of the mail side. Every method resolves; failures are replies. */
export interface LmtpBackend {
  /** the host name in the greeting, LHLO and Received (Dovecot's `hostname` setting) */
  readonly hostname: string;
  /** the greeting after "220 <hostname> " (Dovecot's login_greeting: "Dovecot ready.") */
  readonly greeting: string;
  /** RCPT: look the recipient up (and check limits); the reply is 250 2.1.5 OK or the refusal */
  checkRecipient(transaction: LmtpTransaction, rcpt: RcptRequest): Promise<RcptVerdict>;
  /**
   * After DATA / BDAT LAST: `data` is the message as the client sent it
   * (dot-unstuffed, CRLF as sent, without the final "."). The backend reads
   * it to the end (or until it errors: the client went away mid-DATA, or the
   * size limit was passed; then nothing is delivered), delivers it to each
   * recipient and returns exactly one reply per entry of `recipients`, in
   * order. A recipient given twice gets a copy of the first one's reply.
   */
  deliver(transaction: LmtpTransaction, recipients: readonly AcceptedRecipient[], data: Readable): Promise<LmtpReply[]>;
  /** The transaction ended without delivery (RSET, MAIL again, QUIT, a lost connection): free what RCPT reserved. */
  release(transaction: LmtpTransaction, recipients: readonly AcceptedRecipient[]): void;
}

/** Limits and timers of one connection (from the settings, or the tests). */
export interface ConnectionLimits {
  /** RCPTs accepted per transaction; one more gets 452 4.5.3 Too many recipients */
  maxRecipients: number;
  /** bytes of message per transaction, 0 = none; when set, LHLO advertises SIZE and a bigger message gets 552 5.3.4 */
  maxMessageSize: number;
  /** a session with no complete command for this long gets 421 and is closed (Dovecot: 5 minutes) */
  idleTimeoutMs: number;
  /** longest command line in bytes; a longer one gets 500 5.5.2 Line too long and the session goes on */
  maxCommandLength: number;
}

/** The connection as the server sees it. */
export interface LmtpConnection {
  /** settles when the socket is closed */
  readonly closed: Promise<void>;
  /** true while a transaction has begun (MAIL accepted) and not ended */
  readonly inTransaction: boolean;
  /**
   * Stop: at once when idle, else after the transaction in flight ends —
   * replies `421 4.3.2 <hostname> Shutting down` (Dovecot's wording may
   * differ; see docs) and closes.
   */
  shutdown(): void;
}
