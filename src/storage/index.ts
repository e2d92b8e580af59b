// openMailStorage: the user's mail storage as the delivery pipeline sees it.
// Each namespace gets its location (its own, else mail_location; empty or
// driverless → autodetection) and the store of that location's format; a
// mailbox name is resolved to a namespace and checked (mailbox-name.ts), then
// opened by that store (Maildir or mbox). Setup problems (a bad mail_location, nothing autodetected, no
// inbox namespace) throw MailboxError('temporary') right here, with Dovecot's
// wording, like dovecot-lda's fatal start-up errors (exit 75).

import type { NamespaceConfig } from '../config/types.js';
import { autodetectMailLocation } from './autodetect.js';
import { MailboxError } from './errors.js';
import { parseMailLocation, type MailLocation } from './mail-location.js';
import { resolveMailboxName, type NamespaceView } from './mailbox-name.js';
import { createMaildirStore } from './maildir/store.js';
import { createMboxStore } from './mbox/store.js';
import { lookupPasswdHome } from './passwd-home.js';
import type { MailboxStore } from './store.js';
import type { MailStorage, StorageOptions } from './types.js';
import { implicitInboxNamespace } from '../config/settings.js';

interface StorageNamespace extends NamespaceView {
  type: NamespaceConfig['type'];
  store: MailboxStore;
}

const SETUP_FAILED = 'Initializing mail storage from mail_location setting failed';
const AUTODETECTION_FAILED = 'mail_location not set and autodetection failed';

/** A set-up MailboxError with Dovecot's words in front; anything else unchanged. */
function setupFailure(context: string, error: unknown): unknown {
  return error instanceof MailboxError ? new MailboxError('temporary', `${context}: ${error.message}`) : error;
}

function openStore(location: MailLocation, options: StorageOptions): MailboxStore {
  if (location.root === '') throw new MailboxError('temporary', 'Root mail directory not given');
  switch (location.driver) {
    case 'maildir':
      return createMaildirStore(location, {
        user: options.user,
        mailFsync: options.mailFsync,
        hostname: options.hostname,
        signal: options.signal,
      });
    case 'mbox':
      return createMboxStore(location, {
        user: options.user,
        mailFsync: options.mailFsync,
        hostname: options.hostname,
        mbox: options.mbox,
        signal: options.signal,
      });
    default:
      throw new MailboxError('temporary', `Unknown mail storage driver ${location.driver}`);
  }
}

interface LocationStore {
  location: MailLocation;
  store: MailboxStore;
}

/** The location `text` names (its driver detected when it names none) and the store for it. */
function openLocation(text: string, options: StorageOptions): LocationStore {
  let location: MailLocation;
  try {
    const parsed = parseMailLocation(text, options.user.home, (username) => lookupPasswdHome(username));
    location = parsed.driver === '' || parsed.driver === 'auto' ? autodetectMailLocation(text, parsed, options.user) : parsed;
  } catch (error) {
    throw setupFailure(text === '' ? AUTODETECTION_FAILED : SETUP_FAILED, error);
  }
  try {
    return { location, store: openStore(location, options) };
  } catch (error) {
    throw setupFailure(SETUP_FAILED, error);
  }
}

function openNamespace(config: NamespaceConfig, { location, store }: LocationStore): StorageNamespace {
  const layout = location.layout ?? (location.driver === 'mbox' ? 'fs' : 'maildir++');
  const storageSeparator = layout === 'maildir++' ? '.' : '/';
  return {
    format: location.driver === 'mbox' ? 'mbox' : 'maildir',
    prefix: config.prefix,
    inbox: config.inbox,
    separator: config.separator === '' ? storageSeparator : config.separator[0],
    storageSeparator,
    utf8: location.utf8,
    layout,
    type: config.type,
    store,
  };
}

export function openMailStorage(options: StorageOptions): MailStorage {
  const configs = options.namespaces.length > 0 ? options.namespaces : [implicitInboxNamespace()];
  if (!configs.some((config) => config.inbox)) {
    throw new MailboxError('temporary', 'namespace configuration error: inbox=yes namespace missing');
  }
  let userLocation: LocationStore | undefined;
  const namespaces = configs.map((config) =>
    openNamespace(
      config,
      config.location !== '' ? openLocation(config.location, options) : (userLocation ??= openLocation(options.mailLocation, options)),
    ),
  );
  return {
    async openMailbox(name, openOptions) {
      const target = resolveMailboxName(name, namespaces);
      if (target.namespace.type === 'shared') {
        throw new MailboxError('not-found', `Mailbox doesn't exist: ${target.name} (shared namespaces are not supported)`);
      }
      return target.namespace.store.openMailbox(target, name, openOptions);
    },
    mailboxExists(name) {
      try {
        const target = resolveMailboxName(name, namespaces);
        return target.namespace.type !== 'shared' && target.namespace.store.mailboxExists(target);
      } catch (error) {
        if (error instanceof MailboxError) return false;
        throw error;
      }
    },
  };
}
