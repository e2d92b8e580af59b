// The mail Sieve sends, as Pigeonhole sends it from the LDA: redirects,
// rejections and vacation replies, composed by src/sieve/outgoing/ and handed
// to sendmail_path. Each also keeps Pigeonhole's memory in the user's state
// file: a redirect already sent for this message (a retry by Postfix must
// not send it twice) and the senders a vacation reply already answered.
//
// Failure: a redirect that cannot be sent throws a temporary DeliveryFailure
// (the caller rolls back and defers); a rejection that cannot be sent returns
// false (the caller keeps the message in INBOX); a vacation reply that cannot
// be sent is only logged.

import { hostname as systemHostname } from 'node:os';
import { formatAddress } from '../message/smtp-address.js';
import { expandVariables, userVariables } from '../config/var-expand.js';
import { sendMail, SendmailError } from './sendmail.js';
import { temporary } from './failure.js';
import {
  redirectedMessage,
  redirectEnvelopeSender,
  messageIdOf,
  redirectLoopDetected,
  redirectDuplicateId,
  REDIRECT_DUPLICATE_PERIOD_SECONDS,
} from '../sieve/outgoing/redirect.js';
import { composeRejection, rejectionSkipReason, type Postmaster } from '../sieve/outgoing/reject.js';
import { formatDovecotMessageId } from '../sieve/outgoing/mail-format.js';
import { formatMessageDate } from '../message/dates.js';
import { vacationSkipReason, composeVacationReply, vacationStateKey, type VacationAction } from '../sieve/outgoing/vacation.js';
import type { SieveState } from '../sieve/outgoing/state.js';
import type { SieveDeliveryContext } from './sieve-delivery.js';

export interface SieveMessenger {
  /** true (and logged) when the message was already redirected to `address`, or the redirect would loop */
  redirectAlreadyDone(address: string, state: SieveState | undefined): boolean;
  /** sends the message on to `address` and remembers that it did */
  redirect(address: string, state: SieveState | undefined): Promise<void>;
  /** sends the rejection; false when it could not be sent */
  reject(reason: string): Promise<boolean>;
  /** answers, when Pigeonhole's rules say to; never throws: a reply that could not be sent gives the reason */
  vacation(action: VacationAction, state: SieveState | undefined): Promise<string | undefined>;
}

export function sieveMessenger(context: SieveDeliveryContext, returnPath: string): SieveMessenger {
  const { request, envelope, settings } = context;
  const header = request.message.header;
  const finalRecipient = formatAddress(envelope.finalRecipient);
  const originalRecipient = formatAddress(envelope.originalRecipient);
  const nowSeconds = context.now.getTime() / 1000;
  // expanded only when a message needs it: most deliveries send nothing
  let postmasterCache: Postmaster | undefined;
  const postmaster = () => (postmasterCache ??= postmasterAddress(context));
  let messageIds = 0;
  const newMessageId = (prefix: 'dovecot' | 'dovecot-sieve') =>
    formatDovecotMessageId(prefix, context.now.getTime() * 1000, ++messageIds, systemHostname());

  const existingId = messageIdOf(header);
  const duplicateKey = (messageId: string, address: string) => `redirect:${redirectDuplicateId(header, messageId, originalRecipient, address)}`;

  return {
    redirectAlreadyDone(address, state) {
      if (redirectLoopDetected(header, [finalRecipient, settings.userEmail])) {
        request.log(`not forwarding message to <${address}>: the \`x-sieve-redirected-from' header indicates a mail loop`);
        return true;
      }
      // a message without an id gets a new one for each attempt: nothing to recognise it by
      if (existingId === undefined || !state?.has(duplicateKey(existingId, address), nowSeconds)) return false;
      request.log(`discarded duplicate forward to <${address}>`);
      return true;
    },

    async redirect(address, state) {
      const messageId = existingId ?? newMessageId('dovecot-sieve');
      const sender = redirectEnvelopeSender(settings.redirectEnvelopeFrom, {
        sender: returnPath,
        recipient: finalRecipient,
        originalRecipient,
        userEmail: settings.userEmail,
        postmaster: `${postmaster().localpart}@${postmaster().domain}`,
      });
      try {
        await sendMail({
          sendmailPath: context.sendmailPath,
          sender,
          recipients: [address],
          message: redirectedMessage(request.message.chunks(), {
            redirectedFrom: settings.userEmail ?? finalRecipient,
            ...(existingId === undefined && { newMessageId: messageId }),
          }),
        });
      } catch (error) {
        throw temporary(`failed to redirect message to <${address}>: ${sendFailure(error)}`);
      }
      state?.add(duplicateKey(messageId, address), nowSeconds + REDIRECT_DUPLICATE_PERIOD_SECONDS);
      request.log(`forwarded to <${address}>`);
    },

    async reject(reason) {
      const skip = rejectionSkipReason(header, returnPath);
      if (skip !== undefined) {
        request.log(`not sending rejection (${skip === 'null-sender' ? 'null sender' : 'auto-submitted message'}); message discarded`);
        return true;
      }
      const rejection = composeRejection({
        header,
        returnPath,
        recipient: originalRecipient,
        reason,
        postmaster: postmaster(),
        hostname: context.hostname,
        pid: process.pid,
        messageId: newMessageId('dovecot'),
        date: formatMessageDate(context.now),
      });
      if (rejection.expansionError !== undefined) context.logError(rejection.expansionError);
      try {
        await sendMail({ sendmailPath: context.sendmailPath, sender: '', recipients: [rejection.recipient], message: rejection.message });
      } catch (error) {
        context.logError(`sieve: failed to send rejection to <${returnPath}>: ${sendFailure(error)}`);
        return false;
      }
      request.log(`rejected message from <${returnPath}> (reject)`);
      return true;
    },

    async vacation(action, state) {
      const key = vacationStateKey(returnPath, action.handle);
      const vacationContext = {
        action,
        header,
        returnPath,
        finalRecipient,
        originalRecipient,
        settings: settings.vacation,
        alreadyAnswered: state?.has(key, nowSeconds) ?? false,
      };
      const skip = vacationSkipReason(vacationContext);
      if (skip !== undefined) {
        request.log(`discarded vacation reply to <${returnPath}>: ${skip}`);
        return undefined;
      }
      const reply = composeVacationReply({
        ...vacationContext,
        messageId: newMessageId('dovecot-sieve'),
        date: formatMessageDate(context.now),
        postmaster: `${postmaster().localpart}@${postmaster().domain}`,
        implicitUserEmail: context.username.includes('@') ? context.username : `${context.username}@${context.hostname}`,
      });
      try {
        await sendMail({ sendmailPath: context.sendmailPath, sender: reply.sender, recipients: [reply.recipient], message: reply.message });
      } catch (error) {
        const reason = `failed to send vacation response to <${returnPath}>: ${sendFailure(error)}`;
        context.logError(`sieve: ${reason}`);
        return reason;
      }
      if (action.periodSeconds > 0) state?.add(key, nowSeconds + action.periodSeconds);
      request.log(`sent vacation response to <${returnPath}>`);
      return undefined;
    },
  };
}

function sendFailure(error: unknown): string {
  return error instanceof SendmailError ? error.message : `Internal error: ${(error as Error)?.message ?? String(error)}`;
}

/** postmaster_address with the user's variables, split into display name and address ("Name <a@b>", "a@b (Name)" or "a@b"). */
export function postmasterAddress(context: Pick<SieveDeliveryContext, 'postmasterAddress' | 'username' | 'home' | 'hostname'>): Postmaster {
  const text = expandVariables(
    context.postmasterAddress,
    userVariables({ user: context.username, home: context.home, service: 'lda', hostname: context.hostname, pid: process.pid }),
  ).trim();
  const angle = /^(.*?)\s*<([^<>]*)>\s*$/.exec(text);
  const comment = /^([^\s()]+)\s*\(([^()]*)\)\s*$/.exec(text);
  const [name, address] = angle ? [angle[1]!.replace(/\s*\([^()]*\)\s*/g, '').replace(/^"(.*)"$/, '$1') || undefined, angle[2]!] : comment ? [comment[2], comment[1]!] : [undefined, text];
  const at = address.lastIndexOf('@');
  return {
    ...(name !== undefined && { name }),
    localpart: at < 0 ? address : address.slice(0, at),
    domain: at < 0 ? context.hostname : address.slice(at + 1),
  };
}
