// The envelope of an LDA delivery (dovecot-lda lda_set_rcpt_to): sender from
// -f, else the From_ line; original recipient from -a, else the first address
// of lda_original_recipient_header, else user@hostname; final recipient from
// -r, else the original one.

import type { Settings } from '../config/types.js';
import type { MessageSource } from '../message/types.js';
import { getFirstHeader } from '../message/header.js';
import { parseRecipientPath, parseFromLineSender, formatAddress, type SmtpAddress } from '../message/smtp-address.js';
import { DeliveryFailure } from './failure.js';

export interface Envelope {
  /** undefined: no sender known; null: the null sender <> */
  sender: SmtpAddress | null | undefined;
  originalRecipient: SmtpAddress;
  finalRecipient: SmtpAddress;
}

export interface EnvelopeSources {
  /** what the command line said (-f, -a, -r); undefined = not given */
  request: { sender?: SmtpAddress | null; originalRecipient?: SmtpAddress; finalRecipient?: SmtpAddress };
  message: Pick<MessageSource, 'fromLineSender' | 'header'>;
  username: string;
  hostname: string;
  settings: Pick<Settings, 'lda_original_recipient_header'>;
}

export function resolveEnvelope(sources: EnvelopeSources): Envelope {
  const { request } = sources;
  const originalRecipient =
    request.originalRecipient ?? recipientFromHeader(sources.message, sources.settings.lda_original_recipient_header) ?? userAddress(sources);
  return {
    sender: request.sender !== undefined ? request.sender : senderFromFromLine(sources.message.fromLineSender),
    originalRecipient,
    finalRecipient: request.finalRecipient ?? originalRecipient,
  };
}

/** dovecot-lda parses the From_ line's sender strictly; a failure ("Failed to parse address from From_-line") just leaves no sender. */
function senderFromFromLine(text: string | undefined): SmtpAddress | undefined {
  if (text === undefined) return undefined;
  const parsed = parseFromLineSender(text);
  return 'address' in parsed ? parsed.address : undefined;
}

/** The first address in the message's `name` header (lda_original_recipient_header; "" = none), when it is a usable recipient. */
export function recipientFromHeader(message: Pick<MessageSource, 'header'>, name: string): SmtpAddress | undefined {
  if (name === '') return undefined;
  const value = getFirstHeader(message.header, name);
  if (value === undefined) return undefined;
  const candidate = firstAddressIn(value);
  if (candidate === undefined) return undefined;
  try {
    const address = parseRecipientPath(candidate, name);
    return address.localpart !== '' && address.domain ? address : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Where a rejection or a vacation reply goes, as SMTP writes it: the
 * envelope sender, else the message's Return-Path field; "" for the null
 * sender or none at all.
 */
export function returnPathOf(sender: Envelope['sender'], header: Buffer): string {
  if (sender === null) return '';
  if (sender !== undefined) return formatAddress(sender);
  const value = getFirstHeader(header, 'Return-Path');
  return (value && firstAddressIn(value)) ?? '';
}

/** The first address of an address-list header value: inside <...>, else the first token with an @. */
export function firstAddressIn(value: string): string | undefined {
  const bracketed = /<([^<>]*)>/.exec(value);
  if (bracketed) return bracketed[1]!.trim();
  return value.split(/[\s,]+/).find((token) => token.includes('@'));
}

/**
 * The user's own address, as dovecot-lda makes it from the username (with
 * SMTP_ADDRESS_PARSE_FLAG_ALLOW_BAD_LOCALPART): split at the last "@",
 * anything before it is the local part (spaces, more "@", nothing at all);
 * only the domain must be valid. No "@": the hostname is the domain.
 */
function userAddress(sources: EnvelopeSources): SmtpAddress {
  const text = sources.username.includes('@') ? sources.username : `${sources.username}@${sources.hostname}`;
  const at = text.lastIndexOf('@');
  try {
    const { domain } = parseRecipientPath(`x${text.slice(at)}`, 'username');
    return { localpart: text.slice(0, at), domain };
  } catch {
    throw new DeliveryFailure('usage', `Username ${sources.username} can't be converted to an address`);
  }
}
