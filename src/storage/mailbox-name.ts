// Mailbox names, pure: which namespace a user-visible name belongs to
// (mail_namespace_find), INBOX in any case, a delivery to a namespace prefix
// meaning INBOX (mailbox_alloc_delivery), the storage name on disk (prefix
// dropped, modified UTF-7 unless UTF-8, separators converted) and Dovecot's
// name checks (mailbox_verify_name, mailbox_list_is_valid_name,
// mailbox_verify_create_name) with Dovecot's messages. Failures are
// MailboxError: 'invalid-name', 'not-found' (no namespace matches) or
// 'temporary' (a namespace prefix that is a lowercase "inbox").

import { MailboxError } from './errors.js';
import type { MailboxLayout } from './mail-location.js';
import { encodeModifiedUtf7, isWellFormedText } from './mutf7.js';

/** What name resolution needs to know about a namespace. */
export interface NamespaceView {
  /** e.g. "" or "INBOX/" */
  prefix: string;
  /** inbox = yes: this namespace holds the user's INBOX */
  inbox: boolean;
  /** the hierarchy separator users see: the namespace's own, else the layout's */
  separator: string;
  /** the separator in storage names: '.' for Maildir++, '/' for fs */
  storageSeparator: string;
  /** mail_location's UTF-8 option: storage names in UTF-8, not modified UTF-7 */
  utf8: boolean;
  layout: MailboxLayout;
  /** the storage format; mbox reserves other names than Maildir (default 'maildir') */
  format?: 'maildir' | 'mbox';
}

export interface ResolvedMailboxName<N extends NamespaceView> {
  namespace: N;
  /** the name after INBOX normalisation, prefix included ("INBOX/a/b") */
  name: string;
  /** the name inside the storage: "INBOX", "" (the namespace root) or e.g. "a.b" */
  storageName: string;
  /** the user's INBOX (or a name whose storage name is INBOX in the inbox namespace) */
  isInbox: boolean;
}

/** Dovecot's MAILBOX_LIST_NAME_MAX_LENGTH and MAILBOX_MAX_HIERARCHY_NAME_LENGTH, in bytes. */
const MAX_NAME_BYTES = 4096;
const MAX_LEVEL_BYTES = 255;
const MAILDIR_RESERVED_NAMES = new Set(['cur', 'new', 'tmp']);
/** mbox keeps Dovecot's index directories (.imap) and dotlocks (*.lock) beside its mailbox files. */
const MBOX_INDEX_DIRECTORY = '.imap';
const DOTLOCK_SUFFIX = '.lock';

function isReservedLevel(level: string, namespace: NamespaceView): boolean {
  if (namespace.format === 'mbox') return level === MBOX_INDEX_DIRECTORY || level.endsWith(DOTLOCK_SUFFIX);
  return namespace.layout !== 'maildir++' && MAILDIR_RESERVED_NAMES.has(level);
}

function invalid(reason: string): MailboxError {
  return new MailboxError('invalid-name', reason);
}

function startsWithInbox(name: string): boolean {
  return name.slice(0, 5).toUpperCase() === 'INBOX';
}

function isUsablePrefix(namespace: NamespaceView, name: string, inboxCase: boolean): boolean {
  const { prefix } = namespace;
  if (name.startsWith(prefix)) return true;
  if (inboxCase && prefix.startsWith('INBOX') && name.slice(5, prefix.length) === prefix.slice(5)) return true;
  return prefix !== '' && name === prefix.slice(0, -1) && prefix.endsWith(namespace.separator);
}

/** mail_namespace_find: INBOX → the inbox namespace; otherwise the longest matching prefix (later wins ties). */
export function findNamespace<N extends NamespaceView>(name: string, namespaces: readonly N[]): N | undefined {
  const inboxCase = startsWithInbox(name);
  if (inboxCase && name.length === 5) {
    const inboxNamespace = namespaces.find((namespace) => namespace.inbox);
    return inboxNamespace ?? [...namespaces].reverse().find((namespace) => namespace.prefix === '');
  }
  let best: N | undefined;
  for (const namespace of namespaces) {
    if (namespace.prefix.length >= (best?.prefix.length ?? 0) && isUsablePrefix(namespace, name, inboxCase)) {
      best = namespace;
    }
  }
  return best;
}

/** mailbox_alloc: "inbox" → "INBOX", "inbox/x" → "INBOX/x" when '/' is the namespace separator. */
function normalizeInboxCase(name: string, namespace: NamespaceView): string {
  if (!startsWithInbox(name) || name.startsWith('INBOX')) return name;
  if (name.length === 5) return 'INBOX';
  if (name[5] !== namespace.separator) return name;
  if (namespace.prefix.slice(0, 6).toUpperCase() === name.slice(0, 6).toUpperCase() && !namespace.prefix.startsWith('INBOX')) {
    throw new MailboxError('temporary', `Invalid server configuration: Namespace prefix=${namespace.prefix} must be uppercase INBOX`);
  }
  return `INBOX${name.slice(5)}`;
}

/** mailbox_list_default_get_storage_name. */
export function toStorageName(name: string, namespace: NamespaceView): string {
  if (namespace.inbox && name.toUpperCase() === 'INBOX') return 'INBOX';
  let storageName = name;
  const { prefix, separator, storageSeparator } = namespace;
  if (prefix !== '' && storageName.startsWith(prefix)) storageName = storageName.slice(prefix.length);
  else if (prefix !== '' && storageName === prefix.slice(0, -1) && prefix.endsWith(separator)) storageName = '';
  if (!namespace.utf8) storageName = encodeModifiedUtf7(storageName);
  return separator === storageSeparator ? storageName : storageName.replaceAll(separator, storageSeparator);
}

/** mailbox_name_verify_separators. */
function separatorProblem(name: string, separator: string): string | undefined {
  if (name.includes(separator + separator)) return 'Has adjacent hierarchy separators';
  if (name.endsWith(separator)) return 'Ends with hierarchy separator';
  return undefined;
}

/** mailbox_list_is_valid_name and mailbox_list_is_valid_fs_name, on the storage name. */
function storageNameProblem(storageName: string, namespace: NamespaceView): string | undefined {
  if (storageName === '') return namespace.prefix === '' ? 'Name is empty' : undefined;
  if (namespace.storageSeparator !== '/' && storageName.includes('/')) return "Name must not have '/' characters";
  if (storageName.startsWith('/')) return "Begins with '/'";
  if (storageName.startsWith('~')) return "Begins with '~'";
  for (const level of storageName.split('/')) {
    if (level === '') return "Has adjacent '/' chars";
    if (level === '.') return "Contains '.' part";
    if (level === '..') return "Contains '..' part";
    if (isReservedLevel(level, namespace)) return 'Contains reserved name';
  }
  return undefined;
}

/** mailbox_verify_name for anything but the user's INBOX. */
function verifyName(name: string, storageName: string, namespace: NamespaceView): void {
  const { prefix, separator, storageSeparator } = namespace;
  if (prefix !== '' && name === prefix) throw invalid('Invalid mailbox name');
  const relative = name.startsWith(prefix) ? name.slice(prefix.length) : '';
  if (separator !== storageSeparator && relative.includes(storageSeparator)) {
    throw invalid(`Character not allowed in mailbox name: '${storageSeparator}'`);
  }
  if (relative.startsWith(separator)) throw invalid('Invalid mailbox name: Begins with hierarchy separator');
  const problem = separatorProblem(relative, separator) ?? storageNameProblem(storageName, namespace);
  if (problem !== undefined) throw invalid(`Invalid mailbox name: ${problem}`);
}

/**
 * Resolves a name as given to -m or fileinto. Throws MailboxError:
 * 'invalid-name' with Dovecot's reason, 'not-found' when no namespace
 * matches, 'temporary' for a misconfigured INBOX prefix.
 */
export function resolveMailboxName<N extends NamespaceView>(requested: string, namespaces: readonly N[]): ResolvedMailboxName<N> {
  if (!isWellFormedText(requested)) throw invalid('Mailbox name is not valid UTF-8');
  const namespace = findNamespace(requested, namespaces);
  if (namespace === undefined) throw new MailboxError('not-found', `Mailbox doesn't exist: ${requested}`);
  let name = requested;
  if (namespace.inbox && name === namespace.prefix) name = 'INBOX'; // delivering to the prefix means INBOX
  name = normalizeInboxCase(name, namespace);
  const storageName = toStorageName(name, namespace);
  if (!(namespace.inbox && name === 'INBOX')) verifyName(name, storageName, namespace);
  return { namespace, name, storageName, isInbox: namespace.inbox && storageName === 'INBOX' };
}

/** mailbox_verify_create_name's extra checks, for a mailbox about to be created. */
export function verifyCreateName(resolved: ResolvedMailboxName<NamespaceView>): void {
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f]/.test(resolved.name)) throw invalid('Control characters not allowed in new mailbox names');
  const tooLong =
    Buffer.byteLength(resolved.name) > MAX_NAME_BYTES ||
    resolved.storageName.split(resolved.namespace.storageSeparator).some((level) => Buffer.byteLength(level) > MAX_LEVEL_BYTES);
  if (tooLong) throw invalid('Mailbox name too long');
}

/** The mailbox's directory: INBOX = the INBOX path (or the root), Maildir++ `<root>/.a.b`, fs `<root>/a/b`. */
export function mailboxDirectory(
  root: string,
  inboxPath: string | undefined,
  resolved: ResolvedMailboxName<NamespaceView>,
): string {
  if (resolved.isInbox) return inboxPath ?? root;
  if (resolved.storageName === '') return root;
  return resolved.namespace.layout === 'maildir++' ? `${root}/.${resolved.storageName}` : `${root}/${resolved.storageName}`;
}
