// Parses a mail_location ("maildir:~/Maildir:LAYOUT=fs:INBOX=/var/inbox") the
// way Dovecot's mailbox_list_settings_parse does: "::" is an escaped ':', one
// trailing '/' is dropped, "~/" is the user's home and "~user/" a system
// user's. Pure apart from the injected system-user lookup. A config problem
// is never a bounce: every error is a MailboxError('temporary', reason) with
// Dovecot's wording.

import { MailboxError } from './errors.js';

export type MailboxLayout = 'maildir++' | 'fs' | 'index';

export interface MailLocation {
  /** storage driver, lowercased ("maildir", "mbox", "auto", ...); "" when the text names none */
  driver: string;
  /** mail root directory, ~ expanded, without a trailing '/'; "" when not given */
  root: string;
  /** INBOX=: where the INBOX lives instead of the root */
  inbox?: string;
  /** LAYOUT=; undefined = the driver's default (maildir++ for Maildir, fs for mbox) */
  layout?: MailboxLayout;
  /** CONTROL=: where the subscriptions file (and Dovecot's uidlists) live */
  control?: string;
  /** INDEX=; "" for INDEX=MEMORY */
  index?: string;
  /** SUBSCRIPTIONS=: file name; undefined = the driver's default */
  subscriptionsFile?: string;
  /** the bare UTF-8 option: names on disk in UTF-8 instead of modified UTF-7 */
  utf8: boolean;
  /** every KEY=value as given (values ~ expanded), flags with value "" */
  options: Map<string, string>;
}

/** Home directory of a system user, or undefined when there is no such user. */
export type SystemHomeLookup = (username: string) => string | undefined;

const VALUE_KEYS = new Set([
  'INBOX', 'INDEX', 'INDEXPVT', 'INDEXCACHE', 'CONTROL', 'ALT', 'LAYOUT', 'SUBSCRIPTIONS',
  'DIRNAME', 'MAILBOXDIR', 'VOLATILEDIR', 'LISTINDEX', 'FULLDIRNAME', 'BROKENCHAR',
]);
const FLAG_KEYS = new Set(['ALTNOCHECK', 'ITERINDEX', 'NO-NOSELECT', 'NO-FS-VALIDATION']);
const LAYOUTS: readonly MailboxLayout[] = ['maildir++', 'fs', 'index'];

/** Splits on ':' where "::" stands for a literal ':' (Dovecot's split_next_arg). */
export function splitLocationFields(text: string): string[] {
  const parts = text.split(':');
  const fields: string[] = [];
  let index = 0;
  while (index < parts.length) {
    let field = parts[index++];
    while (index < parts.length && parts[index] === '') {
      index++;
      if (index === parts.length) break; // a trailing ':' is ignored
      field += `:${parts[index++]}`;
    }
    fields.push(field);
  }
  return fields;
}

/** "maildir:..." → ["maildir", "..."]; a text not starting with [A-Za-z0-9_]+: has no driver. */
function splitDriver(text: string): [driver: string, rest: string] {
  const match = /^([A-Za-z0-9_]+):/.exec(text);
  return match ? [match[1].toLowerCase(), text.slice(match[0].length)] : ['', text];
}

function expandPath(path: string, home: string, systemHome: SystemHomeLookup, what: string, text: string): string {
  const trimmed = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  if (!trimmed.startsWith('~')) return trimmed;
  const slash = trimmed.indexOf('/');
  const owner = trimmed.slice(1, slash === -1 ? undefined : slash);
  const tail = slash === -1 ? '' : trimmed.slice(slash);
  if (owner !== '') {
    const ownerHome = systemHome(owner);
    if (ownerHome === undefined) {
      throw new MailboxError('temporary', `No home directory for system user. Can't expand ~${owner} for ${what} in: ${text}`);
    }
    return ownerHome + tail;
  }
  if (home === '') {
    throw new MailboxError('temporary', `Home directory not set for user. Can't expand ~/ for ${what} in: ${text}`);
  }
  return home + tail;
}

function parseLayout(value: string): MailboxLayout {
  const layout = LAYOUTS.find((name) => name === value.toLowerCase());
  if (layout === undefined) throw new MailboxError('temporary', `Mailbox list driver ${value}: Unknown driver name`);
  return layout;
}

/**
 * Parses `[driver:]root[:KEY=value...]`. `home` expands "~/" ("" = the user
 * has none); `systemHome` expands "~user/".
 */
export function parseMailLocation(text: string, home: string, systemHome: SystemHomeLookup): MailLocation {
  const [driver, rest] = splitDriver(text);
  const [rootField = '', ...fields] = rest === '' ? [] : splitLocationFields(rest);
  const root = expandPath(rootField, home, systemHome, 'mail root dir', rest);
  if (root.startsWith('INBOX=')) throw new MailboxError('temporary', `Mail root directory not given: ${rest}`);
  const location: MailLocation = { driver, root, utf8: false, options: new Map() };
  for (const field of fields) {
    if (field === 'UTF-8') {
      location.utf8 = true;
      continue;
    }
    const equals = field.indexOf('=');
    const key = equals === -1 ? field : field.slice(0, equals);
    const rawValue = equals === -1 ? '' : field.slice(equals + 1);
    if (FLAG_KEYS.has(key)) {
      location.options.set(key, '');
      continue;
    }
    if (!VALUE_KEYS.has(key)) throw new MailboxError('temporary', `Unknown setting: ${key}`);
    if (key === 'BROKENCHAR' && rawValue.length !== 1) {
      throw new MailboxError('temporary', 'BROKENCHAR value must be a single character');
    }
    const value = expandPath(rawValue, home, systemHome, key, rest);
    location.options.set(key, value);
    if (key === 'INBOX') location.inbox = value;
    else if (key === 'CONTROL') location.control = value;
    else if (key === 'INDEX') location.index = value === 'MEMORY' ? '' : value;
    else if (key === 'SUBSCRIPTIONS') location.subscriptionsFile = value;
    else if (key === 'LAYOUT') location.layout = parseLayout(value);
  }
  if (location.options.has('ITERINDEX') && !location.index) {
    throw new MailboxError('temporary', 'ITERINDEX requires INDEX to be explicitly set');
  }
  return location;
}
