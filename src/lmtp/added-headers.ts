// The header block Dovecot 2.3's lmtp puts in front of every message it
// delivers (lmtp-local.c lmtp_local_add_headers, smtp-server-transaction.c
// write_trace_record), in CRLF, in this order:
//
//   Return-Path: <sender>
//   Delivered-To: rcpt              only with exactly one accepted recipient
//   Received: from helo ([ip])      "unknown" for a LHLO that is not a domain
//   \tby hostname with LMTP         or an address literal; no "([ip])" on a
//   \tid transaction-id             UNIX socket
//   \t(envelope-from <sender>)
//   \tfor <rcpt>; date              "for" only with exactly one recipient
//
// Delivered-To and "for" name the RCPT path (lmtp_hdr_delivery_address =
// final), the ORCPT (original: no Delivered-To without one, while "for" falls
// back to the path) or nobody (none). lmtp_add_received_header = no drops the
// Received field. The date is when MAIL was accepted, in local time, as
// Dovecot's message_date_create writes it. Pure; nothing here fails.

import { formatAddress, parseRecipientPath, type SmtpAddress } from '../message/smtp-address.js';
import { formatMessageDate } from '../message/dates.js';

export type DeliveryAddressSetting = 'final' | 'original' | 'none';

export interface AddedHeadersInput {
  /** null: the null sender <> */
  sender: SmtpAddress | null;
  /** every accepted recipient of the transaction (duplicates too), with its ORCPT when given */
  recipients: readonly { address: SmtpAddress; orcpt?: SmtpAddress }[];
  deliveryAddress: DeliveryAddressSetting;
  addReceived: boolean;
  /** the LHLO argument as given */
  helo: string;
  /** the client's IP address; "" on a UNIX socket */
  remoteAddress: string;
  /** Dovecot's hostname setting */
  hostname: string;
  transactionId: string;
  /** when MAIL was accepted */
  date: Date;
  /** minutes east of UTC; default: the local zone at `date` */
  zoneOffsetMinutes?: number;
}

export function buildAddedHeaders(input: AddedHeadersInput): string {
  const only = input.recipients.length === 1 ? input.recipients[0] : undefined;
  const sender = input.sender === null ? '' : formatAddress(input.sender);
  let headers = `Return-Path: <${sender}>\r\n`;
  const delivered = only && (input.deliveryAddress === 'final' ? only.address : input.deliveryAddress === 'original' ? only.orcpt : undefined);
  if (delivered) headers += `Delivered-To: ${formatAddress(delivered)}\r\n`;
  if (!input.addReceived) return headers;
  const forAddress = only && input.deliveryAddress !== 'none' ? (input.deliveryAddress === 'original' ? (only.orcpt ?? only.address) : only.address) : undefined;
  const ip = clientIp(input.remoteAddress);
  headers +=
    `Received: from ${heloDomain(input.helo) ?? 'unknown'}${ip === '' ? '' : ` ([${ip}])`}\r\n` +
    `\tby ${input.hostname} with LMTP\r\n` +
    `\tid ${input.transactionId}\r\n` +
    `\t(envelope-from <${sender}>)` +
    (forAddress ? `\r\n\tfor <${formatAddress(forAddress)}>` : '') +
    `; ${formatMessageDate(input.date, input.zoneOffsetMinutes)}\r\n`;
  return headers;
}

/**
 * The LHLO domain as Dovecot's smtp_helo_domain_parse takes it: a domain (its
 * lenient form: letters, digits, "-" and "_" in non-empty labels) or an
 * address literal, up to the end or a space; undefined when it is neither.
 * The grammar is the domain part of an SMTP address, so that parser decides.
 */
export function heloDomain(helo: string): string | undefined {
  const space = helo.indexOf(' ');
  const domain = space < 0 ? helo : helo.slice(0, space);
  if (domain === '') return undefined;
  try {
    parseRecipientPath(`x@${domain}`, 'LHLO');
    return domain;
  } catch {
    return undefined;
  }
}

/** Node writes an IPv4 client of a dual-stack socket as ::ffff:a.b.c.d; Dovecot, listening per family, sees a.b.c.d. */
function clientIp(remoteAddress: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(remoteAddress);
  return mapped ? mapped[1]! : remoteAddress;
}
