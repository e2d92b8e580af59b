// deliver_log_format lines (dovecot lib-lda mail-deliver.c): "%$" is the
// event ("saved mail to INBOX"), the other variables describe the message.
// The subject is decoded (RFC 2047) only when the format asks for it, so the
// usual "msgid=%m: %$" costs no MIME library at all.

import type { MessageSource } from '../message/types.js';
import type { Envelope } from '../deliver/envelope.js';
import { getFirstHeader } from '../message/header.js';
import { formatAddress } from '../message/smtp-address.js';
import { expandTemplate } from '../config/var-expand.js';
import { sanitizeForLog } from './sanitize.js';
import { firstAddressIn } from '../deliver/envelope.js';

export interface DeliverLogContext {
  message: Pick<MessageSource, 'header' | 'size' | 'vsize'>;
  envelope: Envelope;
  deliveryTimeMs: number;
}

/**
 * A Dovecot-style session id: 16 random bytes in base64 without padding (22
 * characters). It only ties one delivery's log lines together and is no
 * secret, so Math.random serves, and no delivery pays for loading node:crypto.
 */
export function newSessionId(): string {
  const bytes = Buffer.alloc(16);
  for (let index = 0; index < bytes.length; index++) bytes[index] = Math.floor(Math.random() * 256);
  return bytes.toString('base64').replace(/=+$/, '');
}

interface Libmime {
  decodeWords(text: string): string;
}

/**
 * libmime, loaded lazily: only formats with %s pay for it. Inside the single
 * executable it is the `libmime.js` asset (scripts/package.mjs), run as a
 * CommonJS module; elsewhere the npm package.
 */
function loadLibmime(): Libmime {
  const sea = process.getBuiltinModule('node:sea');
  if (!sea.isSea()) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('libmime') as Libmime;
  }
  const module = { exports: {} as Libmime };
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  new Function('module', 'exports', 'require', sea.getAsset('libmime.js', 'utf8'))(module, module.exports, require);
  return module.exports;
}

function decodeSubject(raw: string): string {
  const libmime = loadLibmime();
  try {
    return libmime.decodeWords(raw);
  } catch {
    return raw;
  }
}

/** Returns "" when the format is empty (logging disabled). */
export function formatDeliverLogLine(format: string, event: string, context: DeliverLogContext): string {
  if (format === '') return '';
  const { message, envelope } = context;
  const header = (name: string) => getFirstHeader(message.header, name);
  const wants = (short: string, long: string) => format.includes(`%${short}`) || format.includes(`{${long}`);
  const msgid = header('Message-ID');
  const subject = wants('s', 'subject') ? header('Subject') : undefined;
  const from = wants('f', 'from') ? header('From') : undefined;
  const table: Record<string, string | undefined> = {
    $: event,
    m: msgid === undefined ? 'unspecified' : sanitizeForLog(msgid.trim(), 200),
    s: subject === undefined ? '' : sanitizeForLog(decodeSubject(subject.trim()), 80),
    f: from === undefined ? '' : sanitizeForLog(firstAddressIn(from) ?? '', 80),
    e: envelope.sender ? sanitizeForLog(formatAddress(envelope.sender), 80) : '',
    p: String(message.size),
    w: String(message.vsize),
  };
  // Lenient, as Dovecot: an unknown variable must not fail a delivery that is already saved.
  return expandTemplate(format, {
    ...table,
    msgid: table.m,
    subject: table.s,
    from: table.f,
    from_envelope: table.e,
    size: table.p,
    vsize: table.w,
    delivery_time: String(context.deliveryTimeMs),
    session_time: String(Math.round(process.uptime() * 1000)),
    to_envelope: formatAddress(envelope.originalRecipient),
  }).text;
}
