// The mail side of the LMTP server (see ./types.ts), as Dovecot 2.3's lmtp
// answers (lmtp-local.c, lmtp-commands.c; replies checked against the real
// one):
//
// RCPT  the path is split into username and detail (./recipient.ts), the
//       userdb is asked (auth_username_format applies):
//         250 2.1.5 OK
//         550 5.1.1 <path> User doesn't exist: <username>
//         451 4.3.0 <path> Temporary internal error          the lookup failed
//         451 4.3.0 <path> Too many concurrent deliveries for user
//                                       lmtp_user_concurrency_limit, counted
//                                       per user from RCPT to the end of the
//                                       transaction, over all connections
//         451 4.3.0 <path> Temporary internal error          a uid this process
//                                       cannot deliver as (see "identity")
//         552 5.2.2 <path> <quota_exceeded_message>          lmtp_rcpt_check_quota
//                                       = yes and the user is over quota
//                                       (452 4.2.2 with quota_full_tempfail);
//                                       checked for in-process deliveries only:
//                                       a worker's user is checked after DATA
// DATA  the added headers (./added-headers.ts) and the data go to one spool;
//       if the data cannot be read to its end (client gone, size limit) or
//       spooled, nothing is delivered and every recipient gets 451 4.3.0.
//       Then each recipient in order, into INBOX or, with
//       lmtp_save_to_detail_mailbox, the detail mailbox:
//         250 2.0.0 <path> <id> Saved   id: the transaction id for the first
//                                       RCPT command, else <id>:R<n> (n = its
//                                       RCPT command's number)
//         451 4.3.0 <path> Temporary internal error
//                                       could not get as far as the storage
//                                       (uid not allowed, the worker failed)
//         451 4.2.0 <path> Internal error occurred. Refer to server log for
//                   more information. [YYYY-MM-DD HH:MM:SS]
//                                       the storage failed; the reason (paths,
//                                       errno) goes to the log only, as Dovecot
//         other failures                the one table, lmtpStatusFor(kind,
//                                       'data', quota_full_tempfail), with
//                                       their reason (over quota, rejected)
//       A RCPT that repeats an earlier one (./recipient.ts isSameRecipient)
//       gets a copy of its reply and no delivery of its own. One recipient's
//       failure, even an exception, never touches the others' replies.
//
// Identity: a uid belongs to the whole process. Running as root, each
// recipient is delivered by a worker process that becomes the user
// (./worker-client.ts); running as the user's uid and gid (vmail, the usual
// virtual set-up), in-process; anything else is refused at RCPT, as Dovecot's
// lmtp running as vmail refuses a user with another uid. first_valid_uid and
// friends are checked before every delivery; root never delivers.

import { hostname as systemHostname } from 'node:os';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { parseBoolean, valueProblem } from '../config/settings.js';
import type { Settings } from '../config/types.js';
import { asDeliveryFailure } from '../deliver/deliver.js';
import { recipientFromHeader, type Envelope } from '../deliver/envelope.js';
import { temporary } from '../deliver/failure.js';
import { lookupMailUser, type MailUser } from '../deliver/lda-user.js';
import { lmtpStatusFor } from '../deliver/outcomes.js';
import { checkUidAllowed, keepPrivilegedGroup, nodeProcessIdentity, privilegedGroupId, type PrivilegedGroup } from '../deliver/privileges.js';
import { userHome } from '../deliver/storage-options.js';
import { deliverToUser, overQuotaAlready } from '../deliver/user-delivery.js';
import type { ServerCaches } from '../deliver/server-caches.js';
import type { Log, LogLevel } from '../log/log.js';
import { readMessage } from '../message/read.js';
import { formatAddress, parseRecipientPath, type SmtpAddress } from '../message/smtp-address.js';
import type { MessageSource } from '../message/types.js';
import { buildAddedHeaders, type DeliveryAddressSetting } from './added-headers.js';
import { isSameRecipient, recipientUser } from './recipient.js';
import type { AcceptedRecipient, LmtpBackend, LmtpReply, LmtpTransaction, RcptRequest, RcptVerdict } from './types.js';
import { DEFAULT_WORKER_TIMEOUT_MS, defaultWorkerCommand, deliverInWorker, WorkerFailure, type WorkerCommand, type WorkerJob } from './worker-client.js';

export interface LocalBackendConfig {
  settings: Settings;
  /** how `settings` were loaded (-c, -o): a worker process loads them the same way */
  configPath?: string;
  overrides: readonly string[];
  /** Dovecot's hostname (greeting, LHLO, Received); default: the hostname setting, else the system's */
  hostname?: string;
  /** for Maildir file names and dotlocks; default: the system's host name */
  fileHostname?: string;
  /** the server's log; recipient lines are written through log.withPrefix() */
  log: Log;
  /** what the server keeps between deliveries (SQL connections, compiled Sieve scripts), across reloads too */
  caches?: ServerCaches;
  /** aborted when the server stops for good: deliveries in progress roll back (in a worker too) */
  signal?: AbortSignal;
  /** the uid and gid deliveries would run as; default the process's (tests pretend) */
  processIdentity?: { euid: number; egid: number };
  /** the worker program and its timeout; default `dovetail lmtp-worker`, 5 minutes */
  worker?: { command?: WorkerCommand; timeoutMs?: number; killGraceMs?: number };
}

/** What RCPT found, kept until the transaction ends. */
interface RecipientState {
  user: MailUser;
  detail: string;
  orcpt?: SmtpAddress;
  /** holds one of the user's lmtp_user_concurrency_limit places */
  counted: boolean;
}

/** The lmtp settings the backend reads, checked as Dovecot checks them when it starts. */
interface LmtpSettings {
  greeting: string;
  saveToDetailMailbox: boolean;
  deliveryAddress: DeliveryAddressSetting;
  addReceived: boolean;
  userConcurrencyLimit: number;
  quotaFullTempfail: boolean;
  rcptCheckQuota: boolean;
}

/** Dovecot's login_greeting default; Debian's build says "Dovecot (Debian) ready." */
const DEFAULT_GREETING = 'Dovecot ready.';

/** Throws a temporary DeliveryFailure when a setting has a value Dovecot would refuse. */
/** The backend, and a way to wait until no delivery is running (after a stop, before the process exits). */
export interface LocalBackend extends LmtpBackend {
  settled(): Promise<void>;
}

export function createLocalBackend(config: LocalBackendConfig): LocalBackend {
  const { settings, log } = config;
  const lmtp = lmtpSettings(settings);
  const hostname = config.hostname ?? (settings.hostname || systemHostname());
  const fileHostname = config.fileHostname ?? systemHostname();
  const identity = () => config.processIdentity ?? { euid: process.geteuid!(), egid: process.getegid!() };
  const worker = {
    command: config.worker?.command ?? defaultWorkerCommand(),
    timeoutMs: config.worker?.timeoutMs ?? DEFAULT_WORKER_TIMEOUT_MS,
    killGraceMs: config.worker?.killGraceMs,
  };
  /** deliveries per username, from RCPT to the end of the transaction */
  const inFlight = new Map<string, number>();
  /** in-process deliveries share the process's privileged group, set up once (it changes the process's gids) */
  let ownPrivilegedGroup: Promise<PrivilegedGroup | undefined> | undefined;

  /** A line about a failure whose reply already tells the client: a log that fails cannot make it worse. */
  const writeLog = (target: Log, level: LogLevel, text: string) => {
    try {
      target.write(level, text);
    } catch {
      // nothing better to do
    }
  };

  const release = (_transaction: LmtpTransaction, recipients: readonly AcceptedRecipient[]) => {
    for (const recipient of recipients) {
      const state = recipient.state as RecipientState;
      if (!state.counted) continue;
      state.counted = false;
      const count = (inFlight.get(state.user.username) ?? 1) - 1;
      if (count > 0) inFlight.set(state.user.username, count);
      else inFlight.delete(state.user.username);
    }
  };

  async function checkRecipient(_transaction: LmtpTransaction, rcpt: RcptRequest): Promise<RcptVerdict> {
    const path = bracketed(rcpt.address);
    const { username, detail } = recipientUser(rcpt.address, settings.recipient_delimiter);
    try {
      const user = await lookupMailUser(username, settings, hostname, 'lmtp', config.caches);
      if (user === null) return { reply: failureReply('no-such-user', 'rcpt', `${path} User doesn't exist: ${username}`) };
      const route = deliveryRoute(user, identity());
      if (route.kind === 'refused') {
        writeLog(log, 'Error', `${route.reason} (user ${user.username})`);
        return { reply: internalError(rcpt.address) };
      }
      if (lmtp.rcptCheckQuota && route.kind === 'in-process') {
        const overQuota = await overQuotaReply(user, path);
        if (overQuota !== undefined) return { reply: overQuota };
      }
      let counted = false;
      if (lmtp.userConcurrencyLimit > 0) {
        const count = inFlight.get(user.username) ?? 0;
        if (count >= lmtp.userConcurrencyLimit) {
          return { reply: { code: 451, enhanced: '4.3.0', text: `${path} Too many concurrent deliveries for user` } };
        }
        inFlight.set(user.username, count + 1);
        counted = true;
      }
      const state: RecipientState = { user, detail, orcpt: parseOrcpt(rcpt.orcpt), counted };
      return { reply: { code: 250, enhanced: '2.1.5', text: 'OK' }, accepted: { request: rcpt, state } };
    } catch (error) {
      const failure = asDeliveryFailure(error);
      writeLog(log, 'Error', `Failed to lookup user ${username}: ${failure.message}`);
      const text = failure.kind === 'temporary' ? 'Temporary internal error' : failure.message;
      return { reply: failureReply(failure.kind, 'rcpt', `${path} ${text}`) };
    }
  }

  /** lmtp_rcpt_check_quota: the reply refusing a user who is over quota already (in-process deliveries: run as the user) */
  async function overQuotaReply(user: MailUser, path: string): Promise<LmtpReply | undefined> {
    const home = userHome(settings, user, hostname, 'lmtp');
    const failure = await overQuotaAlready({ settings, user, home, hostname, fileHostname, service: 'lmtp', log });
    return failure && failureReply('over-quota', 'rcpt', `${path} ${failure.message}`, lmtp.quotaFullTempfail);
  }

  /** deliveries not finished yet, for settled() */
  const running = new Set<Promise<LmtpReply[]>>();

  function deliver(transaction: LmtpTransaction, recipients: readonly AcceptedRecipient[], data: Readable): Promise<LmtpReply[]> {
    const delivery = deliverAll(transaction, recipients, data);
    running.add(delivery);
    const forget = () => running.delete(delivery);
    delivery.then(forget, forget);
    return delivery;
  }

  async function deliverAll(transaction: LmtpTransaction, recipients: readonly AcceptedRecipient[], data: Readable): Promise<LmtpReply[]> {
    try {
      let message: MessageSource;
      try {
        message = await spoolMessage(addedHeaders(transaction, recipients), data, settings.mail_temp_dir);
      } catch (error) {
        // a client gone or over the size limit is the connection's to report; a spool that fails is ours
        if (!data.errored) writeLog(log, 'Error', asDeliveryFailure(error).message);
        return recipients.map((recipient) => internalError(recipient.request.address));
      }
      try {
        const replies: LmtpReply[] = [];
        for (const [index, recipient] of recipients.entries()) {
          const first = recipients.findIndex((other) => isSameRecipient(other.request, recipient.request));
          replies.push(first < index ? { ...replies[first]! } : await deliverOne(transaction, recipient, message));
        }
        return replies;
      } finally {
        await message.close().catch(() => {});
      }
    } catch (error) {
      writeLog(log, 'Error', `Delivery failed: ${asDeliveryFailure(error).message}`);
      return recipients.map((recipient) => internalError(recipient.request.address));
    } finally {
      release(transaction, recipients);
    }
  }

  function addedHeaders(transaction: LmtpTransaction, recipients: readonly AcceptedRecipient[]): string {
    return buildAddedHeaders({
      sender: transaction.sender,
      recipients: recipients.map((recipient) => ({ address: recipient.request.address, orcpt: (recipient.state as RecipientState).orcpt })),
      deliveryAddress: lmtp.deliveryAddress,
      addReceived: lmtp.addReceived,
      helo: transaction.client.helo,
      remoteAddress: transaction.client.remoteAddress,
      hostname,
      transactionId: transaction.id,
      date: transaction.started,
    });
  }

  /** One recipient's delivery and reply; never throws. */
  async function deliverOne(transaction: LmtpTransaction, recipient: AcceptedRecipient, message: MessageSource): Promise<LmtpReply> {
    const { address, index } = recipient.request;
    const state = recipient.state as RecipientState;
    const path = bracketed(address);
    const sessionId = index === 1 ? transaction.id : `${transaction.id}:R${index}`;
    const logPrefix = `lmtp(${state.user.username})<${process.pid}><${sessionId}>: `;
    try {
      const envelope: Envelope = {
        sender: transaction.sender,
        originalRecipient: state.orcpt ?? recipientFromHeader(message, settings.lda_original_recipient_header) ?? address,
        finalRecipient: address,
      };
      const mailbox = lmtp.saveToDetailMailbox && state.detail !== '' ? `${inboxPrefix(settings)}${state.detail}` : 'INBOX';
      let run: () => Promise<void>;
      try {
        run = await prepareDelivery(state.user, envelope, mailbox, message, logPrefix);
      } catch (error) {
        writeLog(log.withPrefix(logPrefix), 'Error', asDeliveryFailure(error).message);
        return internalError(address);
      }
      await run();
      return { code: 250, enhanced: '2.0.0', text: `${path} ${sessionId} Saved` };
    } catch (error) {
      const failure = asDeliveryFailure(error);
      if (failure.kind === 'temporary') writeLog(log.withPrefix(logPrefix), 'Error', failure.message);
      if (error instanceof WorkerFailure) return internalError(address);
      // as Dovecot, a temporary failure's reason (paths, errno) stays in the log; the client gets a pointer to it
      const text = failure.kind === 'temporary' ? storageErrorText(new Date()) : failure.message;
      return failureReply(failure.kind, 'data', `${path} ${text}`, lmtp.quotaFullTempfail);
    }
  }

  /** Everything that must hold before the storage is touched; returns the delivery itself. */
  async function prepareDelivery(user: MailUser, envelope: Envelope, mailbox: string, message: MessageSource, logPrefix: string): Promise<() => Promise<void>> {
    const ids = identity();
    const uid = user.uid ?? ids.euid;
    const gid = user.gid ?? ids.egid;
    checkUidAllowed(uid, gid, settings);
    const route = deliveryRoute(user, ids);
    if (route.kind === 'refused') throw temporary(route.reason);
    if (route.kind === 'worker') {
      const job: WorkerJob = {
        settings: { configPath: config.configPath, overrides: config.overrides },
        user: { ...user, uid, gid },
        hostname,
        fileHostname,
        envelope: { ...envelope, sender: envelope.sender ?? null },
        mailbox,
        logPrefix,
        message: { size: message.size, vsize: message.vsize, header: message.header },
      };
      return () => deliverInWorker(job, message, { ...worker, signal: config.signal });
    }
    const home = userHome(settings, user, hostname, 'lmtp');
    ownPrivilegedGroup ??= privilegedGroupId(settings).then((groupId) => keepPrivilegedGroup(nodeProcessIdentity, groupId));
    const privilegedGroup = await ownPrivilegedGroup;
    return () =>
      deliverToUser({
        settings,
        user,
        home,
        hostname,
        fileHostname,
        service: 'lmtp',
        message,
        envelope,
        mailbox,
        privilegedGroup,
        signal: config.signal,
        log: log.withPrefix(logPrefix),
        reportLogFailure: (text) => process.stderr.write(`${text}\n`),
        rejectAtProtocol: true,
        caches: config.caches,
      });
  }

  return {
    hostname,
    greeting: lmtp.greeting,
    checkRecipient,
    deliver,
    release,
    settled: async () => {
      while (running.size > 0) await Promise.allSettled([...running]);
    },
  };
}

type DeliveryRoute = { kind: 'in-process' } | { kind: 'worker' } | { kind: 'refused'; reason: string };

/**
 * Root hands every recipient to a worker; a process running as the user's
 * uid and gid delivers itself; any other process cannot become the user.
 * A user without uid (or gid) in the userdb gets the process's.
 */
function deliveryRoute(user: MailUser, ids: { euid: number; egid: number }): DeliveryRoute {
  if (ids.euid === 0) return { kind: 'worker' };
  const uid = user.uid ?? ids.euid;
  const gid = user.gid ?? ids.egid;
  if (uid === ids.euid && gid === ids.egid) return { kind: 'in-process' };
  return { kind: 'refused', reason: `Cannot deliver as UID ${uid} GID ${gid}: running as UID ${ids.euid} GID ${ids.egid}, not root` };
}

/**
 * The added headers, then the data, through readMessage (LF line ends, big
 * messages in a temp file). When that fails, the rest of the data is still
 * read, so that the connection stays in step with its client.
 */
async function spoolMessage(headers: string, data: Readable, tempDir: string): Promise<MessageSource> {
  async function* withHeaders(): AsyncGenerator<Buffer> {
    yield Buffer.from(headers);
    for await (const chunk of data.iterator({ destroyOnReturn: false })) yield chunk as Buffer;
  }
  try {
    return await readMessage(Readable.from(withHeaders()), { fromStdin: false, tempDir });
  } catch (error) {
    if (!data.readableEnded && !data.destroyed) {
      data.resume();
      await finished(data).catch(() => {});
    }
    throw error;
  }
}

function lmtpSettings(settings: Settings): LmtpSettings {
  const value = (key: string, fallback: string, type: Parameters<typeof valueProblem>[1]): string => {
    const text = settings.raw.get(key) ?? fallback;
    const problem = valueProblem(text, type);
    if (problem !== undefined) throw temporary(`${key}: ${problem}`);
    return text;
  };
  return {
    greeting: settings.raw.get('login_greeting') ?? DEFAULT_GREETING,
    saveToDetailMailbox: parseBoolean(value('lmtp_save_to_detail_mailbox', 'no', 'boolean')) === true,
    deliveryAddress: value('lmtp_hdr_delivery_address', 'final', ['final', 'original', 'none']) as DeliveryAddressSetting,
    addReceived: parseBoolean(value('lmtp_add_received_header', 'yes', 'boolean')) === true,
    userConcurrencyLimit: Number(value('lmtp_user_concurrency_limit', '0', 'number')),
    quotaFullTempfail: parseBoolean(value('quota_full_tempfail', 'no', 'boolean')) === true,
    rcptCheckQuota: parseBoolean(value('lmtp_rcpt_check_quota', 'no', 'boolean')) === true,
  };
}

/** The prefix of the namespace that holds INBOX ("" without namespaces). */
function inboxPrefix(settings: Settings): string {
  return settings.namespaces.find((namespace) => namespace.inbox)?.prefix ?? '';
}

/** The ORCPT address, when it is one (the connection passes it xtext-decoded). */
function parseOrcpt(orcpt: string | undefined): SmtpAddress | undefined {
  if (orcpt === undefined) return undefined;
  try {
    return parseRecipientPath(orcpt, 'ORCPT');
  } catch {
    return undefined;
  }
}

function bracketed(address: SmtpAddress): string {
  return `<${formatAddress(address)}>`;
}

function failureReply(kind: Parameters<typeof lmtpStatusFor>[0], phase: 'rcpt' | 'data', text: string, quotaFullTempfail = false): LmtpReply {
  return { ...lmtpStatusFor(kind, phase, quotaFullTempfail), text };
}

/** Dovecot's MAIL_ERRSTR_CRITICAL_MSG_STAMP: what a client is told of a storage failure, the time pointing into the log. */
function storageErrorText(now: Date): string {
  const two = (value: number) => String(value).padStart(2, '0');
  const stamp = `${now.getFullYear()}-${two(now.getMonth() + 1)}-${two(now.getDate())} ${two(now.getHours())}:${two(now.getMinutes())}:${two(now.getSeconds())}`;
  return `Internal error occurred. Refer to server log for more information. [${stamp}]`;
}

/** A failure before the storage (a lookup, the uid, the worker): the reason is in the log only. */
function internalError(address: SmtpAddress): LmtpReply {
  return { code: 451, enhanced: '4.3.0', text: `${bracketed(address)} Temporary internal error` };
}
