// One user's delivery once the user is known and the process runs as them:
// open their storage, then save the message — through their Sieve scripts
// when they have any, else into the default mailbox. The LDA runs it once per
// process; the LMTP server once per recipient, in-process or in a worker.
// Throws DeliveryFailure; what it means for the MTA is decided by the caller
// through src/deliver/outcomes.ts.

import type { Settings } from '../config/types.js';
import type { MessageSource } from '../message/types.js';
import type { Log } from '../log/log.js';
import { formatDeliverLogLine } from '../log/deliver-log.js';
import { openMailStorage } from '../storage/index.js';
import { storageOptionsFor } from './storage-options.js';
import { sieveSettingsFor, hasSieveScripts, DEFAULT_SENDMAIL_PATH } from './user-plugin-settings.js';
import { deliverMessage, type DeliveryRequest } from './deliver.js';
import type { Envelope } from './envelope.js';
import type { MailUser } from './lda-user.js';
import type { PrivilegedGroup } from './privileges.js';
import type { ServerCaches } from './server-caches.js';

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
}

/** Saves the message for the user; throws DeliveryFailure. */
export async function deliverToUser(delivery: UserDelivery): Promise<void> {
  const { settings, user, home, hostname, message, envelope, log } = delivery;
  const storage = openMailStorage(
    storageOptionsFor(settings, user, home, {
      hostname,
      fileHostname: delivery.fileHostname,
      service: delivery.service,
      uid: process.geteuid!(),
      gid: process.getegid!(),
      privilegedGroup: delivery.privilegedGroup,
      signal: delivery.signal,
    }),
  );
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
    sendmailPath: settings.raw.get('sendmail_path') || DEFAULT_SENDMAIL_PATH,
    postmasterAddress: settings.postmaster_address,
    now: new Date(),
    rejectAtProtocol: delivery.rejectAtProtocol,
    ...(delivery.caches && { caches: delivery.caches }),
    logInfo: (text) => log.write('Info', text),
    logError: (text) => log.write('Error', text),
  });
}
