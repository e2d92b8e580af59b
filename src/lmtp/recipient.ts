// Who an LMTP recipient is, as Dovecot 2.3's lmtp works it out from the RCPT
// path (lib-smtp smtp_address_detail_parse, smtp_server_transaction
// find_rcpt_duplicate). Pure; nothing here fails.
//
// - The local part is split at the first character that is one of
//   recipient_delimiter's characters: "alice-x+y" with "+-" is user "alice",
//   detail "x+y"; "carol+" has the empty detail; no delimiter, no detail.
// - The username is the user part glued to the domain without any quoting
//   ("no body@example.com"), the user part alone when the path has no domain,
//   and the SMTP form (quoted) only when the user part itself holds an "@".
//   auth_username_format (%Lu) is applied later, by the userdb lookup.
// - Two RCPTs name the same recipient when their paths are equal (the domain
//   compared without case, the local part exactly) and so are their ORCPTs:
//   Dovecot then delivers once and copies the first reply. "Alice@x" and
//   "alice@x" are two deliveries, even to the same user.

import { formatAddress, type SmtpAddress } from '../message/smtp-address.js';
import type { RcptRequest } from './types.js';

export interface RecipientUser {
  /** what the userdb is asked for, before auth_username_format */
  username: string;
  /** the part after the delimiter; "" when there is none */
  detail: string;
}

export function recipientUser(address: SmtpAddress, delimiters: string): RecipientUser {
  const { localpart, domain } = address;
  const split = delimiterIndex(localpart, delimiters);
  const user = split < 0 ? localpart : localpart.slice(0, split);
  const detail = split < 0 ? '' : localpart.slice(split + 1);
  if (!domain) return { username: user, detail };
  if (!user.includes('@')) return { username: `${user}@${domain}`, detail };
  return { username: formatAddress({ localpart: user, domain }), detail };
}

/** Dovecot's duplicate test: same path (domain without case) and same ORCPT. */
export function isSameRecipient(a: RcptRequest, b: RcptRequest): boolean {
  return (
    a.address.localpart === b.address.localpart &&
    (a.address.domain ?? '').toLowerCase() === (b.address.domain ?? '').toLowerCase() &&
    a.orcpt === b.orcpt
  );
}

function delimiterIndex(localpart: string, delimiters: string): number {
  if (delimiters === '') return -1;
  for (let index = 0; index < localpart.length; index++) {
    if (delimiters.includes(localpart[index]!)) return index;
  }
  return -1;
}
