// One user's delivery once the user is known and the process runs as them:
// open their storage, then save the message — through their Sieve scripts
// when they have any, else into the default mailbox. The LDA runs it once per
// process; the LMTP server once per recipient, in-process or in a worker.
// A user whose mail_plugins names quota gets the quota code (loaded only
// then) to check and count every save. Throws DeliveryFailure; what it means
// for the MTA is decided by the caller through src/deliver/outcomes.ts —
// except that, when the caller asks (the LDA without -e), a message over
// quota is answered with Dovecot's rejection mail and counts as delivered.

import type { Settings } from '../config/types.js';
import type { MessageSource } from '../message/types.js';
import type { Log } from '../log/log.js';
import { formatDeliverLogLine } from '../log/deliver-log.js';
import { openMailStorage } from '../storage/index.js';
import { storageOptionsFor } from './storage-options.js';
import { sieveSettingsFor, hasSieveScripts, userPluginSettings, DEFAULT_SENDMAIL_PATH } from './user-plugin-settings.js';
import { asDeliveryFailure, deliverMessage, type DeliveryRequest } from './deliver.js';
import type { DeliveryFailure } from './failure.js';
import type { Envelope } from './envelope.js';
import type { MailUser } from './lda-user.js';
import type { PrivilegedGroup } from './privileges.js';
import type { ServerCaches } from './server-caches.js';
import type { StorageOptions } from '../storage/types.js';
import type { QuotaGuard } from '../quota/enforce.js';

export interface UserDelivery {
  settings: Settings;
  user: MailUser;
  /** the user's home, resolved (userHome) */
  home: string;
  /** %{hostname}, Sieve's own domain */
  hostname: string;
  /** for Maildir file names and dotlocks */
  fileHostname: string;
  /** %s in templates */
  service: 'lda' | 'lmtp';
  message: MessageSource;
  envelope: Envelope;
  /** -m, the detail mailbox, or INBOX */
  mailbox: string;
  privilegedGroup?: PrivilegedGroup;
  /** aborted when the delivery must stop: a save in progress rolls back */
  signal?: AbortSignal;
  /** the delivery log, its prefix already naming the user and session */
  log: Log;
  /** a log line could not be written: the delivery stands, this only reports it */
  reportLogFailure(text: string): void;
  /** LMTP: Sieve's ereject answers 550 5.7.1 instead of mailing a rejection */
  rejectAtProtocol: boolean;
  /** a server's caches (compiled Sieve scripts); the LDA has none */
  caches?: ServerCaches;
  /**
   * the LDA's refusal of a message over quota (outcomes.ts ldaQuotaRejection):
   * 'mail' mails Dovecot's rejection to the sender and succeeds, 'stderr'
   * only logs "rejected: REASON" and throws; undefined: the failure as it is
   */
  quotaRejection?: 'mail' | 'stderr';
}

/** Whether the user's mail_plugins (after a userdb override) names quota. */
function quotaPluginEnabled({ settings, user, home, hostname }: Pick<UserDelivery, 'settings' | 'user' | 'home' | 'hostname'>): boolean {
  return userPluginSettings(settings, user, home, hostname).mailPlugins.split(/[\s,]+/).includes('quota');
}

/**
 * lmtp_rcpt_check_quota: the over-quota failure when the user is over quota
 * already (a 0-byte save into INBOX would be refused, as Dovecot's
 * quota_test_alloc(0) says), else undefined. Runs as the user; reads
 * maildirsize, and rebuilds it when it must.
 */
export async function overQuotaAlready(
  user: Pick<UserDelivery, 'settings' | 'user' | 'home' | 'hostname' | 'fileHostname' | 'service' | 'log'>,
): Promise<DeliveryFailure | undefined> {
  if (!quotaPluginEnabled(user)) return undefined;
  const quota = await openQuota(user, storageOptionsFor(user.settings, user.user, user.home, {
    hostname: user.hostname,
    fileHostname: user.fileHostname,
    service: user.service,
    uid: process.geteuid!(),
    gid: process.getegid!(),
  }), () => {
    // the check goes on without its log line
  });
  try {
    await quota?.check('INBOX', 0);
    return undefined;
  } catch (error) {
    const failure = asDeliveryFailure(error);
    if (failure.kind !== 'over-quota') throw failure;
    return failure;
  }
}

/** Saves the message for the user (or, when asked, mails the over-quota rejection); throws DeliveryFailure. */
export async function deliverToUser(delivery: UserDelivery): Promise<void> {
  const { settings, user, home, hostname, message, envelope } = delivery;
  const request = await deliveryRequest(delivery);
  try {
    await deliverWithPlan(delivery, request);
  } catch (error) {
    const failure = asDeliveryFailure(error);
    if (failure.kind !== 'over-quota' || delivery.quotaRejection === undefined) throw failure;
    if (delivery.quotaRejection === 'stderr') {
      request.log(`rejected: ${failure.message}`);
      throw failure;
    }
    // loaded only now: rejections are rare
    const { mailQuotaRejection } = await import('../quota/rejection.js');
    await mailQuotaRejection({
      settings,
      username: user.username,
      home,
      hostname,
      header: message.header,
      envelope,
      reason: failure.message,
      sendmailPath: sendmailPathOf(settings),
      now: new Date(),
      log: request.log,
    });
  }
}

function sendmailPathOf(settings: Settings): string {
  return settings.raw.get('sendmail_path') || DEFAULT_SENDMAIL_PATH;
}

/** The user's storage, log and (with the quota plugin) quota guard, ready for saves. */
async function deliveryRequest(delivery: UserDelivery): Promise<DeliveryRequest> {
  const { settings, user, home, hostname, message, envelope, log } = delivery;
  const storageOptions = storageOptionsFor(settings, user, home, {
    hostname,
    fileHostname: delivery.fileHostname,
    service: delivery.service,
    uid: process.geteuid!(),
    gid: process.getegid!(),
    privilegedGroup: delivery.privilegedGroup,
    signal: delivery.signal,
  });
  const storage = openMailStorage(storageOptions);
  const started = Date.now();
  const request: DeliveryRequest = {
    storage,
    message,
    envelopeSender: envelope.sender,
    mailbox: delivery.mailbox,
    autocreate: settings.lda_mailbox_autocreate,
    autosubscribe: settings.lda_mailbox_autosubscribe,
    log: (text) => {
      // Once a message is saved, success is final: a log that fails now must
      // not turn into a failure and a second copy on the MTA's retry.
      try {
        const line = formatDeliverLogLine(settings.deliver_log_format, text, {
          message,
          envelope,
          deliveryTimeMs: Date.now() - started,
        });
        if (line !== '') log.write('Info', line);
      } catch (error) {
        delivery.reportLogFailure(`Logging failed: ${(error as Error).message}`);
      }
    },
  };
  if (quotaPluginEnabled(delivery)) {
    // the quota's errors never fail a delivery, not even when the log fails
    const quota = await openQuota(delivery, storageOptions, (error) => delivery.reportLogFailure(`Logging failed: ${(error as Error).message}`));
    if (quota !== undefined) request.quota = quota;
  }
  return request;
}

/** The user's quota guard (the quota code is loaded only now: deliveries without quota never pay for it); its errors go to the log. */
async function openQuota(
  target: Pick<UserDelivery, 'settings' | 'user' | 'home' | 'hostname' | 'log'>,
  storage: StorageOptions,
  logFailed: (error: unknown) => void,
): Promise<QuotaGuard | undefined> {
  const { openUserQuotaGuard } = await import('../quota/enforce.js');
  return openUserQuotaGuard({
    settings: target.settings,
    user: target.user,
    home: target.home,
    hostname: target.hostname,
    storage,
    logError: (text) => {
      try {
        target.log.write('Error', text);
      } catch (error) {
        logFailed(error);
      }
    },
  });
}

/** Through the user's Sieve scripts when they have any, else into the default mailbox. */
async function deliverWithPlan(delivery: UserDelivery, request: DeliveryRequest): Promise<void> {
  const { settings, user, home, hostname, envelope, log } = delivery;
  const sieve = sieveSettingsFor(settings, user, home, hostname);
  if (!sieve.enabled || !hasSieveScripts(sieve)) {
    await deliverMessage(request);
    return;
  }
  // loaded only for users with scripts: a delivery without them never pays for the interpreter
  const { deliverWithSieve } = await import('./sieve-delivery.js');
  await deliverWithSieve({
    request,
    settings: sieve,
    envelope,
    username: user.username,
    home,
    hostname,
    recipientDelimiter: settings.recipient_delimiter,
    sendmailPath: sendmailPathOf(settings),
    postmasterAddress: settings.postmaster_address,
    now: new Date(),
    rejectAtProtocol: delivery.rejectAtProtocol,
    ...(delivery.caches && { caches: delivery.caches }),
    logInfo: (text) => log.write('Info', text),
    logError: (text) => log.write('Error', text),
  });
}
