import { describe, it, expect } from 'vitest';
import {
  findNamespace,
  mailboxDirectory,
  resolveMailboxName,
  verifyCreateName,
  type NamespaceView,
} from '../../src/storage/mailbox-name.js';
import { MailboxError, type MailboxErrorKind } from '../../src/storage/errors.js';
import { thrown } from '../helpers/thrown.js';

function namespace(overrides: Partial<NamespaceView>): NamespaceView {
  return { prefix: '', inbox: true, separator: '.', storageSeparator: '.', utf8: false, layout: 'maildir++', ...overrides };
}

// The configurations used against dovecot-lda 2.3.19 (/tmp experiments): the
// messages below are the ones it logged.
const PLAIN = [namespace({})];
const SLASH = [namespace({ separator: '/' })];
const INBOX_PREFIX = [namespace({ prefix: 'INBOX/', separator: '/' })];
const FS = [namespace({ separator: '/', storageSeparator: '/', layout: 'fs' })];
const FS_DOT = [namespace({ separator: '.', storageSeparator: '/', layout: 'fs' })];
const UTF8 = [namespace({ separator: '/', utf8: true })];
const MBOX = [namespace({ separator: '/', storageSeparator: '/', layout: 'fs', format: 'mbox' })];

const caught = (run: () => unknown): MailboxError => thrown(MailboxError, run);

describe('resolveMailboxName: accepted names', () => {
  it.each<[string, string, NamespaceView[], { name: string; storageName: string; isInbox: boolean }]>([
    ['plain', 'INBOX', PLAIN, { name: 'INBOX', storageName: 'INBOX', isInbox: true }],
    ['plain', '', PLAIN, { name: 'INBOX', storageName: 'INBOX', isInbox: true }],
    ['mbox', 'cur', MBOX, { name: 'cur', storageName: 'cur', isInbox: false }],
    ['mbox', 'a/new', MBOX, { name: 'a/new', storageName: 'a/new', isInbox: false }],
    ['mbox', 'a.imap', MBOX, { name: 'a.imap', storageName: 'a.imap', isInbox: false }],
    ['mbox', 'inbox/x', MBOX, { name: 'INBOX/x', storageName: 'INBOX/x', isInbox: false }],
    ['plain', 'inbox', PLAIN, { name: 'INBOX', storageName: 'INBOX', isInbox: true }],
    ['plain', 'InBoX', PLAIN, { name: 'INBOX', storageName: 'INBOX', isInbox: true }],
    ['plain', 'foo', PLAIN, { name: 'foo', storageName: 'foo', isInbox: false }],
    ['plain', 'a.b.c', PLAIN, { name: 'a.b.c', storageName: 'a.b.c', isInbox: false }],
    ['plain', 'INBOX.foo', PLAIN, { name: 'INBOX.foo', storageName: 'INBOX.foo', isInbox: false }],
    ['plain', 'inbox.foo', PLAIN, { name: 'INBOX.foo', storageName: 'INBOX.foo', isInbox: false }],
    ['plain', 'a.~x', PLAIN, { name: 'a.~x', storageName: 'a.~x', isInbox: false }],
    ['plain', 'a.cur', PLAIN, { name: 'a.cur', storageName: 'a.cur', isInbox: false }],
    ['slash', 'a/b/c', SLASH, { name: 'a/b/c', storageName: 'a.b.c', isInbox: false }],
    ['slash', 'inbox/x', SLASH, { name: 'INBOX/x', storageName: 'INBOX.x', isInbox: false }],
    ['slash', 'Ünï/ä', SLASH, { name: 'Ünï/ä', storageName: '&ANw-n&AO8-.&AOQ-', isInbox: false }],
    ['slash', 'a&b', SLASH, { name: 'a&b', storageName: 'a&-b', isInbox: false }],
    ['slash', 'x*y', SLASH, { name: 'x*y', storageName: 'x*y', isInbox: false }],
    ['slash', 'cur', SLASH, { name: 'cur', storageName: 'cur', isInbox: false }],
    ['slash', 'a\tb', SLASH, { name: 'a\tb', storageName: 'a&AAk-b', isInbox: false }],
    ['INBOX/', 'INBOX', INBOX_PREFIX, { name: 'INBOX', storageName: 'INBOX', isInbox: true }],
    ['INBOX/', 'Inbox', INBOX_PREFIX, { name: 'INBOX', storageName: 'INBOX', isInbox: true }],
    ['INBOX/', 'INBOX/', INBOX_PREFIX, { name: 'INBOX', storageName: 'INBOX', isInbox: true }],
    ['INBOX/', 'INBOX/a/b/c', INBOX_PREFIX, { name: 'INBOX/a/b/c', storageName: 'a.b.c', isInbox: false }],
    ['INBOX/', 'inbox/foo', INBOX_PREFIX, { name: 'INBOX/foo', storageName: 'foo', isInbox: false }],
    ['INBOX/', 'INBOX/inbox', INBOX_PREFIX, { name: 'INBOX/inbox', storageName: 'inbox', isInbox: false }],
    ['INBOX/', 'INBOX/INBOX', INBOX_PREFIX, { name: 'INBOX/INBOX', storageName: 'INBOX', isInbox: true }],
    ['INBOX/', 'INBOX/Ünï', INBOX_PREFIX, { name: 'INBOX/Ünï', storageName: '&ANw-n&AO8-', isInbox: false }],
    ['fs', 'a/b/c', FS, { name: 'a/b/c', storageName: 'a/b/c', isInbox: false }],
    ['fs', 'a/~b', FS, { name: 'a/~b', storageName: 'a/~b', isInbox: false }],
    ['fs dot', 'x.y', FS_DOT, { name: 'x.y', storageName: 'x/y', isInbox: false }],
    ['utf8', 'Ünï/ä', UTF8, { name: 'Ünï/ä', storageName: 'Ünï.ä', isInbox: false }],
  ])('%s: %j', (_config, name, namespaces, expected) => {
    expect(resolveMailboxName(name, namespaces)).toMatchObject(expected);
  });
});

describe('resolveMailboxName: rejected names', () => {
  it.each<[string, string, NamespaceView[], MailboxErrorKind, string]>([
    ['plain', 'a/b', PLAIN, 'invalid-name', "Invalid mailbox name: Name must not have '/' characters"],
    ['plain', '.a', PLAIN, 'invalid-name', 'Invalid mailbox name: Begins with hierarchy separator'],
    ['plain', 'a..b', PLAIN, 'invalid-name', 'Invalid mailbox name: Has adjacent hierarchy separators'],
    ['plain', 'a.', PLAIN, 'invalid-name', 'Invalid mailbox name: Ends with hierarchy separator'],
    ['plain', '~x', PLAIN, 'invalid-name', "Invalid mailbox name: Begins with '~'"],
    ['slash', '..', SLASH, 'invalid-name', "Character not allowed in mailbox name: '.'"],
    ['slash', 'a/../b', SLASH, 'invalid-name', "Character not allowed in mailbox name: '.'"],
    ['slash', 'a.b', SLASH, 'invalid-name', "Character not allowed in mailbox name: '.'"],
    ['slash', 'INBOX.x', SLASH, 'invalid-name', "Character not allowed in mailbox name: '.'"],
    ['slash', 'a//b', SLASH, 'invalid-name', 'Invalid mailbox name: Has adjacent hierarchy separators'],
    ['slash', '/abs', SLASH, 'invalid-name', 'Invalid mailbox name: Begins with hierarchy separator'],
    ['slash', '~x', SLASH, 'invalid-name', "Invalid mailbox name: Begins with '~'"],
    ['slash', 'a/', SLASH, 'invalid-name', 'Invalid mailbox name: Ends with hierarchy separator'],
    ['slash', 'bad \uD800', SLASH, 'invalid-name', 'Mailbox name is not valid UTF-8'],
    ['INBOX/', 'INBOX/a.b', INBOX_PREFIX, 'invalid-name', "Character not allowed in mailbox name: '.'"],
    ['INBOX/', 'foo', INBOX_PREFIX, 'not-found', "Mailbox doesn't exist: foo"],
    ['INBOX/', 'INBOX.foo', INBOX_PREFIX, 'not-found', "Mailbox doesn't exist: INBOX.foo"],
    ['fs', 'cur', FS, 'invalid-name', 'Invalid mailbox name: Contains reserved name'],
    ['fs', 'a/new', FS, 'invalid-name', 'Invalid mailbox name: Contains reserved name'],
    ['fs', 'tmp/x', FS, 'invalid-name', 'Invalid mailbox name: Contains reserved name'],
    ['fs', 'a/./b', FS, 'invalid-name', "Invalid mailbox name: Contains '.' part"],
    ['fs', './a', FS, 'invalid-name', "Invalid mailbox name: Contains '.' part"],
    ['fs', 'a/..', FS, 'invalid-name', "Invalid mailbox name: Contains '..' part"],
    ['fs', '~b', FS, 'invalid-name', "Invalid mailbox name: Begins with '~'"],
    ['fs dot', 'a/b', FS_DOT, 'invalid-name', "Character not allowed in mailbox name: '/'"],
    ['mbox', 'x.lock/y', MBOX, 'invalid-name', 'Invalid mailbox name: Contains reserved name'],
    ['mbox', 'Foo/x.lock', MBOX, 'invalid-name', 'Invalid mailbox name: Contains reserved name'],
    ['mbox', '.imap/z', MBOX, 'invalid-name', 'Invalid mailbox name: Contains reserved name'],
    ['mbox', 'a/.imap', MBOX, 'invalid-name', 'Invalid mailbox name: Contains reserved name'],
  ])('%s: %j', (_config, name, namespaces, kind, message) => {
    const error = caught(() => resolveMailboxName(name, namespaces));
    expect({ kind: error.kind, message: error.message }).toEqual({ kind, message });
  });

  it('a namespace prefix that is a lowercase inbox is a configuration error', () => {
    const error = caught(() => resolveMailboxName('inbox/x', [namespace({ prefix: 'inbox/', separator: '/', inbox: false }), ...PLAIN]));
    expect(error.kind).toBe('temporary');
    expect(error.message).toBe('Invalid server configuration: Namespace prefix=inbox/ must be uppercase INBOX');
  });
});

describe('findNamespace', () => {
  const root = namespace({ prefix: '', inbox: true, separator: '/' });
  const archive = namespace({ prefix: 'Archive/', inbox: false, separator: '/' });
  const archiveOld = namespace({ prefix: 'Archive/old/', inbox: false, separator: '/' });
  const all = [root, archive, archiveOld];

  it.each([
    ['INBOX', root],
    ['inbox', root],
    ['foo', root],
    ['Archive/x', archive],
    ['Archive', archive],
    ['Archive/old/y', archiveOld],
    ['Archive/older', archive],
    ['archive/x', root],
  ])('%s', (name, expected) => {
    expect(findNamespace(name, all)).toBe(expected);
  });

  it('a prefix namespace without inbox: the prefix itself is its root, "prefix/" is invalid', () => {
    expect(resolveMailboxName('Archive', all)).toMatchObject({ namespace: archive, storageName: '', isInbox: false });
    expect(caught(() => resolveMailboxName('Archive/', all)).message).toBe('Invalid mailbox name');
  });

  it('INBOX goes to the inbox namespace even when another has the empty prefix', () => {
    const shared = namespace({ prefix: '', inbox: false });
    const inbox = namespace({ prefix: 'INBOX.', inbox: true });
    expect(resolveMailboxName('inbox', [shared, inbox])).toMatchObject({ namespace: inbox, isInbox: true });
    expect(resolveMailboxName('INBOX.x', [shared, inbox])).toMatchObject({ namespace: inbox, storageName: 'x' });
  });
});

describe('verifyCreateName', () => {
  const long = 'x'.repeat(256);
  it.each([
    [SLASH, 'a\tb', 'Control characters not allowed in new mailbox names'],
    [SLASH, long, 'Mailbox name too long'],
    [SLASH, `a/${long}`, 'Mailbox name too long'],
    [SLASH, `${'y'.repeat(200)}/`.repeat(21).slice(0, 4097), 'Mailbox name too long'],
  ])('%#: %s', (namespaces, name, message) => {
    const error = caught(() => verifyCreateName(resolveMailboxName(name, namespaces)));
    expect({ kind: error.kind, message: error.message }).toEqual({ kind: 'invalid-name', message });
  });

  it.each([
    [SLASH, 'x'.repeat(255)],
    [SLASH, `${'y'.repeat(200)}/`.repeat(21).slice(0, 4096).replace(/\/$/, '')],
    [SLASH, 'a\x7fb'],
    [SLASH, 'Ünï/ä'],
  ])('%#: accepts %s', (namespaces, name) => {
    expect(() => verifyCreateName(resolveMailboxName(name, namespaces))).not.toThrow();
  });
});

describe('mailboxDirectory', () => {
  it.each<[NamespaceView[], string, string | undefined, string]>([
    [PLAIN, 'INBOX', undefined, '/m'],
    [PLAIN, 'INBOX', '/in', '/in'],
    [PLAIN, 'a.b', undefined, '/m/.a.b'],
    [SLASH, 'Ünï/ä', undefined, '/m/.&ANw-n&AO8-.&AOQ-'],
    [INBOX_PREFIX, 'INBOX/', undefined, '/m'],
    [INBOX_PREFIX, 'INBOX/INBOX', '/in', '/in'],
    [FS, 'a/b/c', undefined, '/m/a/b/c'],
    [FS, 'INBOX', undefined, '/m'],
    [[namespace({ prefix: 'Archive/', inbox: false, separator: '/' }), ...PLAIN], 'Archive', undefined, '/m'],
  ])('%#: %s', (namespaces, name, inboxPath, directory) => {
    expect(mailboxDirectory('/m', inboxPath, resolveMailboxName(name, namespaces))).toBe(directory);
  });
});
