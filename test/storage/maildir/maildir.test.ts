import { describe, it, expect } from 'vitest';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { openMailStorage } from '../../../src/storage/index.js';
import { MailboxError, type MailboxErrorKind } from '../../../src/storage/errors.js';
import type { MailStorage, OpenMailboxOptions, StorageOptions } from '../../../src/storage/types.js';
import type { NamespaceConfig } from '../../../src/config/types.js';
import type { MessageSource } from '../../../src/message/types.js';
import { memoryMessage, TEST_MBOX_OPTIONS, useTempDirs } from '../helpers/fixtures.js';
import { implicitInboxNamespace } from '../../../src/config/settings.js';
import { thrown } from '../../helpers/thrown.js';

const tempDir = useTempDirs();
const HOST = 'testhost';
const AUTO: OpenMailboxOptions = { autocreate: true, autosubscribe: true };
const NO_AUTO: OpenMailboxOptions = { autocreate: false, autosubscribe: false };
const BASE_NAME = new RegExp(`^\\d+\\.M\\d+P${process.pid}\\.${HOST},S=(\\d+),W=(\\d+)$`);

function inboxNamespace(overrides: Partial<NamespaceConfig> = {}): NamespaceConfig {
  return { ...implicitInboxNamespace(), ...overrides };
}

function storage(home: string, overrides: Partial<StorageOptions> = {}): MailStorage {
  return openMailStorage({
    mailLocation: 'maildir:~/Maildir',
    user: { username: 'ann', home, uid: process.getuid!(), gid: process.getgid!() },
    namespaces: [inboxNamespace()],
    mailFsync: 'optimized',
    hostname: HOST,
    mbox: TEST_MBOX_OPTIONS,
    ...overrides,
  });
}

async function deliver(store: MailStorage, mailbox: string, options = NO_AUTO, message: MessageSource = memoryMessage('Subject: x\n\nbody\n')) {
  const box = await store.openMailbox(mailbox, options);
  const transaction = await box.beginSave({ receivedDate: message.receivedDate });
  await transaction.write(message);
  return transaction.commit();
}

/** Every path under `root`, relative, directories ending in '/', files in new/ shown as new/*. */
function tree(root: string): string[] {
  const entries: string[] = [];
  const walk = (dir: string, prefix: string) => {
    for (const name of readdirSync(dir, { withFileTypes: true })) {
      const relative = `${prefix}${name.name}`;
      if (name.isDirectory()) {
        entries.push(`${relative}/`);
        walk(`${dir}/${name.name}`, `${relative}/`);
      } else {
        entries.push(prefix.endsWith('new/') ? `${prefix}*` : relative);
      }
    }
  };
  walk(root, '');
  return entries.sort();
}

async function failure(promise: Promise<unknown>): Promise<MailboxError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!(error instanceof MailboxError)) throw new Error(`expected a MailboxError, got ${String(error)}`);
  return error;
}

function newFiles(directory: string): string[] {
  return readdirSync(`${directory}/new`);
}

describe('INBOX', () => {
  it('creates a fresh Maildir and saves the message into new/ with S= and W=', async () => {
    const home = tempDir();
    const saved = await deliver(storage(home), 'INBOX');
    const root = `${home}/Maildir`;
    expect(tree(home)).toEqual(['Maildir/', 'Maildir/cur/', 'Maildir/new/', 'Maildir/new/*', 'Maildir/tmp/']);
    const [file] = newFiles(root);
    expect(file).toMatch(BASE_NAME);
    expect(saved).toEqual({ mailbox: 'INBOX', path: `${root}/new/${file}`, size: 17, vsize: 20 });
    expect(readFileSync(saved.path, 'latin1')).toBe('Subject: x\n\nbody\n');
    expect(statSync(root).mode & 0o7777).toBe(0o700);
    expect(statSync(`${root}/tmp`).mode & 0o7777).toBe(0o700);
    expect(statSync(saved.path).mode & 0o7777).toBe(0o600);
  });

  it.each(['inbox', 'InBoX', 'INBOX'])('%s is the INBOX whatever the options', async (name) => {
    const home = tempDir();
    const saved = await deliver(storage(home), name, NO_AUTO);
    expect(saved.mailbox).toBe(name);
    expect(saved.path.startsWith(`${home}/Maildir/new/`)).toBe(true);
  });

  it('recreates missing cur/ new/ tmp/ in an existing root', async () => {
    const home = tempDir();
    mkdirSync(`${home}/Maildir/cur`, { recursive: true, mode: 0o755 });
    chmodSync(`${home}/Maildir`, 0o750);
    const saved = await deliver(storage(home), 'INBOX');
    expect(tree(`${home}/Maildir`)).toEqual(['cur/', 'new/', 'new/*', 'tmp/']);
    expect(statSync(`${home}/Maildir/tmp`).mode & 0o777).toBe(0o750);
    expect(statSync(saved.path).mode & 0o777).toBe(0o640);
  });

  it('lives at INBOX= when given', async () => {
    const home = tempDir();
    const saved = await deliver(storage(home, { mailLocation: 'maildir:~/Maildir:INBOX=~/Inbox' }), 'INBOX');
    expect(saved.path.startsWith(`${home}/Inbox/new/`)).toBe(true);
  });

  it('is the root with LAYOUT=fs too', async () => {
    const home = tempDir();
    const saved = await deliver(storage(home, { mailLocation: 'maildir:~/Maildir:LAYOUT=fs' }), 'INBOX');
    expect(saved.path.startsWith(`${home}/Maildir/new/`)).toBe(true);
  });
});

describe('other mailboxes, Maildir++', () => {
  it('opens an existing folder and recreates its missing cur/ new/ tmp/, nothing else', async () => {
    const home = tempDir();
    mkdirSync(`${home}/Maildir/.foo`, { recursive: true });
    const saved = await deliver(storage(home), 'foo', NO_AUTO);
    expect(tree(`${home}/Maildir`)).toEqual(['.foo/', '.foo/cur/', '.foo/new/', '.foo/new/*', '.foo/tmp/']);
    expect(saved.path.startsWith(`${home}/Maildir/.foo/new/`)).toBe(true);
  });

  it('a missing folder without autocreate is not found and nothing is created', async () => {
    const home = tempDir();
    mkdirSync(`${home}/Maildir/cur`, { recursive: true });
    const error = await failure(storage(home).openMailbox('foo', NO_AUTO));
    expect({ kind: error.kind, message: error.message }).toEqual({ kind: 'not-found', message: "Mailbox doesn't exist: foo" });
    expect(tree(`${home}/Maildir`)).toEqual(['cur/']);
  });

  it('autocreate makes .foo with maildirfolder; autosubscribe writes subscriptions', async () => {
    const home = tempDir();
    mkdirSync(`${home}/Maildir/cur`, { recursive: true });
    await deliver(storage(home), 'foo', AUTO);
    expect(tree(`${home}/Maildir`)).toEqual([
      '.foo/', '.foo/cur/', '.foo/maildirfolder', '.foo/new/', '.foo/new/*', '.foo/tmp/', 'cur/', 'new/', 'subscriptions', 'tmp/',
    ]);
    expect(readFileSync(`${home}/Maildir/subscriptions`, 'latin1')).toBe('V\t2\n\nfoo\n');
    expect(statSync(`${home}/Maildir/.foo/maildirfolder`).size).toBe(0);
  });

  it('autocreate without autosubscribe leaves subscriptions alone; a second open does not subscribe', async () => {
    const home = tempDir();
    const store = storage(home);
    await deliver(store, 'foo', { autocreate: true, autosubscribe: false });
    expect(existsSync(`${home}/Maildir/subscriptions`)).toBe(false);
    await deliver(store, 'foo', AUTO);
    expect(existsSync(`${home}/Maildir/subscriptions`)).toBe(false);
  });

  it('a missing root is created as a Maildir too, as dovecot-lda leaves it', async () => {
    const home = tempDir();
    await deliver(storage(home), 'foo', AUTO);
    expect(tree(`${home}/Maildir`)).toEqual([
      '.foo/', '.foo/cur/', '.foo/maildirfolder', '.foo/new/', '.foo/new/*', '.foo/tmp/', 'cur/', 'new/', 'subscriptions', 'tmp/',
    ]);
  });

  it('nested names with separator /: only .a.b.c is created, subscribed as levels', async () => {
    const home = tempDir();
    mkdirSync(`${home}/Maildir/cur`, { recursive: true });
    const store = storage(home, { namespaces: [inboxNamespace({ separator: '/' })] });
    const saved = await deliver(store, 'a/b/c', AUTO);
    expect(saved.mailbox).toBe('a/b/c');
    expect(tree(`${home}/Maildir`).filter((entry) => entry.startsWith('.'))).toEqual([
      '.a.b.c/', '.a.b.c/cur/', '.a.b.c/maildirfolder', '.a.b.c/new/', '.a.b.c/new/*', '.a.b.c/tmp/',
    ]);
    expect(readFileSync(`${home}/Maildir/subscriptions`, 'latin1')).toBe('V\t2\n\na\tb\tc\n');
  });

  it('a new folder takes its permissions from its parent folder', async () => {
    const home = tempDir();
    mkdirSync(`${home}/Maildir/.a/cur`, { recursive: true });
    chmodSync(`${home}/Maildir`, 0o700);
    chmodSync(`${home}/Maildir/.a`, 0o750);
    const saved = await deliver(storage(home), 'a.b', AUTO);
    expect(statSync(`${home}/Maildir/.a.b`).mode & 0o7777).toBe(0o750);
    expect(statSync(`${home}/Maildir/.a.b/tmp`).mode & 0o7777).toBe(0o750);
    expect(statSync(`${home}/Maildir/.a.b/maildirfolder`).mode & 0o7777).toBe(0o640);
    expect(statSync(saved.path).mode & 0o7777).toBe(0o640);
    expect(statSync(`${home}/Maildir/subscriptions`).mode & 0o7777).toBe(0o600);
  });

  it('UTF-8 names are modified UTF-7 on disk, unless :UTF-8', async () => {
    const home = tempDir();
    const namespaces = [inboxNamespace({ separator: '/' })];
    await deliver(storage(home, { namespaces }), 'Ünï/ä', AUTO);
    expect(existsSync(`${home}/Maildir/.&ANw-n&AO8-.&AOQ-/maildirfolder`)).toBe(true);
    expect(readFileSync(`${home}/Maildir/subscriptions`, 'latin1')).toBe('V\t2\n\n&ANw-n&AO8-\t&AOQ-\n');
    await deliver(storage(home, { namespaces, mailLocation: 'maildir:~/Utf8:UTF-8' }), 'Ünï/ä', AUTO);
    expect(existsSync(`${home}/Utf8/.Ünï.ä/maildirfolder`)).toBe(true);
  });

  it('a folder directory may be a symlink', async () => {
    const home = tempDir();
    mkdirSync(`${home}/elsewhere`, { recursive: true });
    mkdirSync(`${home}/Maildir/cur`, { recursive: true });
    symlinkSync(`${home}/elsewhere`, `${home}/Maildir/.foo`);
    await deliver(storage(home), 'foo', NO_AUTO);
    expect(newFiles(`${home}/elsewhere`)).toHaveLength(1);
  });

  it('a folder path that is a file fails temporarily', async () => {
    const home = tempDir();
    mkdirSync(`${home}/Maildir`, { recursive: true });
    writeFileSync(`${home}/Maildir/.foo`, '');
    const error = await failure(storage(home).openMailbox('foo', AUTO));
    expect(error.kind).toBe('temporary');
    expect(error.message).toBe(`Mailbox foo: ${home}/Maildir/.foo is not a directory`);
  });
});

describe('LAYOUT=fs', () => {
  const location = 'maildir:~/Maildir:LAYOUT=fs';

  it('nested names are nested directories, parents without cur/ new/ tmp/, no maildirfolder', async () => {
    const home = tempDir();
    mkdirSync(`${home}/Maildir/cur`, { recursive: true });
    await deliver(storage(home, { mailLocation: location }), 'a/b/c', AUTO);
    expect(tree(`${home}/Maildir`)).toEqual([
      'a/', 'a/b/', 'a/b/c/', 'a/b/c/cur/', 'a/b/c/new/', 'a/b/c/new/*', 'a/b/c/tmp/', 'cur/', 'new/', 'subscriptions', 'tmp/',
    ]);
    expect(readFileSync(`${home}/Maildir/subscriptions`, 'latin1')).toBe('V\t2\n\na\tb\tc\n');
  });

  it('a directory with tmp/ is a mailbox; one without is only a parent', async () => {
    const home = tempDir();
    mkdirSync(`${home}/Maildir/box/tmp`, { recursive: true });
    mkdirSync(`${home}/Maildir/parent`, { recursive: true });
    const store = storage(home, { mailLocation: location });
    await deliver(store, 'box', NO_AUTO);
    expect(tree(`${home}/Maildir/box`)).toEqual(['cur/', 'new/', 'new/*', 'tmp/']);
    expect((await failure(store.openMailbox('parent', NO_AUTO))).kind).toBe('not-found');
    await deliver(store, 'parent', AUTO);
    expect(tree(`${home}/Maildir/parent`)).toEqual(['cur/', 'new/', 'new/*', 'tmp/']);
    expect(readFileSync(`${home}/Maildir/subscriptions`, 'latin1')).toBe('V\t2\n\nparent\n');
  });
});

describe('namespaces', () => {
  const namespaces = [inboxNamespace({ prefix: 'INBOX/', separator: '/' })];

  it.each<[string, string]>([
    ['INBOX/a/b', '.a.b'],
    ['inbox/a/b', '.a.b'],
    ['INBOX/', ''],
    ['INBOX', ''],
    ['INBOX/INBOX', ''],
  ])('prefix INBOX/ separator /: %s → Maildir/%s', async (name, folder) => {
    const home = tempDir();
    const saved = await deliver(storage(home, { namespaces }), name, AUTO);
    expect(saved.path.startsWith(`${home}/Maildir/${folder === '' ? '' : `${folder}/`}new/`)).toBe(true);
  });

  it('a name outside every namespace is not found', async () => {
    const home = tempDir();
    const error = await failure(storage(home, { namespaces }).openMailbox('foo', AUTO));
    expect({ kind: error.kind, message: error.message }).toEqual({ kind: 'not-found', message: "Mailbox doesn't exist: foo" });
  });

  it('a namespace with its own location', async () => {
    const home = tempDir();
    const store = storage(home, {
      namespaces: [
        inboxNamespace({ separator: '/' }),
        inboxNamespace({ name: 'archive', inbox: false, prefix: 'Archive/', separator: '/', location: 'maildir:~/Archive:LAYOUT=fs' }),
      ],
    });
    const saved = await deliver(store, 'Archive/2024/q1', AUTO);
    expect(saved.path.startsWith(`${home}/Archive/2024/q1/new/`)).toBe(true);
    expect(readFileSync(`${home}/Archive/subscriptions`, 'latin1')).toBe('V\t2\n\n2024\tq1\n');
  });

  it('shared namespaces are refused', async () => {
    const home = tempDir();
    const store = storage(home, {
      namespaces: [inboxNamespace(), inboxNamespace({ name: 'shared', type: 'shared', inbox: false, prefix: 'shared/', separator: '/' })],
    });
    expect((await failure(store.openMailbox('shared/bob/INBOX', AUTO))).kind).toBe('not-found');
  });
});

describe('invalid names create nothing', () => {
  it.each<[string, string]>([
    ['..', "Character not allowed in mailbox name: '.'"],
    ['a/../b', "Character not allowed in mailbox name: '.'"],
    ['a//b', 'Invalid mailbox name: Has adjacent hierarchy separators'],
    ['/abs', 'Invalid mailbox name: Begins with hierarchy separator'],
    ['~x', "Invalid mailbox name: Begins with '~'"],
    ['a/', 'Invalid mailbox name: Ends with hierarchy separator'],
    ['a\tb', 'Control characters not allowed in new mailbox names'],
    ['x'.repeat(256), 'Mailbox name too long'],
  ])('%j', async (name, message) => {
    const home = tempDir();
    mkdirSync(`${home}/Maildir/cur`, { recursive: true });
    const error = await failure(storage(home, { namespaces: [inboxNamespace({ separator: '/' })] }).openMailbox(name, AUTO));
    expect({ kind: error.kind, message: error.message }).toEqual({ kind: 'invalid-name', message });
    expect(tree(`${home}/Maildir`)).toEqual(['cur/']);
  });
});

describe('the save transaction', () => {
  // S= and W= as dovecot-lda 2.3.19 named these stored bytes
  it.each<[string, string, number, number]>([
    ['LF', 'Subject: x\n\nbody\n', 17, 20],
    ['no final newline', 'Subject: x\n\nbody', 16, 18],
    ['empty', '', 0, 0],
    ['several lines', 'Subject: x\n\nmixed\nline\n', 23, 27],
    ['a bare CR', 'Subject: x\n\nbare\rcr\n', 20, 23],
  ])('%s: S=%i W=%i, bytes as given', async (_case, content, size, vsize) => {
    const home = tempDir();
    const saved = await deliver(storage(home), 'INBOX', NO_AUTO, memoryMessage(content, { chunkSize: 5 }));
    expect(saved.path.endsWith(`,S=${size},W=${vsize}`)).toBe(true);
    expect(readFileSync(saved.path, 'latin1')).toBe(content);
  });

  it('200 saves get 200 distinct, well-formed names', async () => {
    const home = tempDir();
    const store = storage(home);
    const paths = new Set<string>();
    for (let count = 0; count < 200; count++) paths.add((await deliver(store, 'INBOX')).path);
    expect(paths.size).toBe(200);
    const files = newFiles(`${home}/Maildir`);
    expect(files).toHaveLength(200);
    for (const file of files) expect(file).toMatch(BASE_NAME);
    expect(readdirSync(`${home}/Maildir/tmp`)).toEqual([]);
  });

  it('sets the received date as mtime', async () => {
    const home = tempDir();
    const receivedDate = new Date('2024-11-21T10:00:00Z');
    const saved = await deliver(storage(home), 'INBOX', NO_AUTO, memoryMessage('x\n', { receivedDate }));
    expect(statSync(saved.path).mtime.toISOString()).toBe(receivedDate.toISOString());
  });

  it('works with mail_fsync=never', async () => {
    const home = tempDir();
    const saved = await deliver(storage(home, { mailFsync: 'never' }), 'INBOX');
    expect(existsSync(saved.path)).toBe(true);
  });

  it('rollback after write leaves nothing in tmp/ or new/', async () => {
    const home = tempDir();
    const box = await storage(home).openMailbox('INBOX', NO_AUTO);
    const transaction = await box.beginSave({});
    await transaction.write(memoryMessage('Subject: x\n\nbody\n'));
    expect(readdirSync(`${home}/Maildir/tmp`)).toHaveLength(1);
    await transaction.rollback();
    await transaction.rollback();
    expect(readdirSync(`${home}/Maildir/tmp`)).toEqual([]);
    expect(newFiles(`${home}/Maildir`)).toEqual([]);
    expect((await failure(transaction.commit())).kind).toBe('temporary');
  });

  it('write() twice, or commit() before write(), is refused', async () => {
    const home = tempDir();
    const box = await storage(home).openMailbox('INBOX', NO_AUTO);
    const early = await box.beginSave({});
    expect((await failure(early.commit())).kind).toBe('temporary');
    const twice = await box.beginSave({});
    await twice.write(memoryMessage('x\n'));
    expect((await failure(twice.write(memoryMessage('x\n')))).kind).toBe('temporary');
    await twice.rollback();
    expect(readdirSync(`${home}/Maildir/tmp`)).toEqual([]);
  });

  it('a tmp/ that is not a directory fails temporarily, nothing in new/', async () => {
    const home = tempDir();
    mkdirSync(`${home}/Maildir/cur`, { recursive: true });
    mkdirSync(`${home}/Maildir/new`);
    writeFileSync(`${home}/Maildir/tmp`, 'not a directory');
    const box = await storage(home).openMailbox('INBOX', NO_AUTO);
    const transaction = await box.beginSave({});
    const error = await failure(transaction.write(memoryMessage('Subject: x\n\nbody\n')));
    expect(error.kind).toBe<MailboxErrorKind>('temporary');
    expect(error.message).toMatch(/ENOTDIR/);
    await transaction.rollback();
    expect(newFiles(`${home}/Maildir`)).toEqual([]);
  });

  it('a message that fails while being read leaves nothing behind', async () => {
    const home = tempDir();
    const box = await storage(home).openMailbox('INBOX', NO_AUTO);
    const transaction = await box.beginSave({});
    const broken: MessageSource = {
      ...memoryMessage('Subject: x\n\nbody\n'),
      async *chunks() {
        yield Buffer.from('Subject: x\n');
        throw Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' });
      },
    };
    const error = await failure(transaction.write(broken));
    expect(error.kind).toBe('temporary');
    expect(readdirSync(`${home}/Maildir/tmp`)).toEqual([]);
    expect(newFiles(`${home}/Maildir`)).toEqual([]);
  });

  it('a message shorter than its announced size is refused', async () => {
    const home = tempDir();
    const box = await storage(home).openMailbox('INBOX', NO_AUTO);
    const transaction = await box.beginSave({});
    const error = await failure(transaction.write({ ...memoryMessage('abc\n'), size: 10 }));
    expect(error.kind).toBe('temporary');
    expect(error.message).toMatch(/^Wrote 4 bytes to .*, but the message has 10$/);
    expect(readdirSync(`${home}/Maildir/tmp`)).toEqual([]);
  });

  it('a new/ that vanished before commit fails temporarily and cleans up tmp/', async () => {
    const home = tempDir();
    const box = await storage(home).openMailbox('INBOX', NO_AUTO);
    const transaction = await box.beginSave({});
    await transaction.write(memoryMessage('x\n'));
    writeFileSync(`${home}/Maildir/new.file`, '');
    const { renameSync, rmdirSync } = await import('node:fs');
    rmdirSync(`${home}/Maildir/new`);
    renameSync(`${home}/Maildir/new.file`, `${home}/Maildir/new`);
    expect((await failure(transaction.commit())).kind).toBe('temporary');
    expect(readdirSync(`${home}/Maildir/tmp`)).toEqual([]);
  });
});

describe('filesystem refusals', () => {
  /** Runs `body` with the effective uid of nobody (65534); needs root. */
  async function asNobody<T>(body: () => Promise<T>): Promise<T> {
    process.seteuid!(65534);
    try {
      return await body();
    } finally {
      process.seteuid!(0);
    }
  }

  it.skipIf(process.getuid!() !== 0)('EACCES on tmp/ or on a new folder is no-permission, nothing in new/', async () => {
    const home = tempDir();
    chmodSync(home, 0o755);
    mkdirSync(`${home}/Maildir/cur`, { recursive: true, mode: 0o755 });
    mkdirSync(`${home}/Maildir/new`, { mode: 0o755 });
    mkdirSync(`${home}/Maildir/tmp`, { mode: 0o755 });
    const store = storage(home, { user: { username: 'nobody', home, uid: 65534, gid: 65534 } });
    const writeError = await asNobody(async () => {
      const box = await store.openMailbox('INBOX', NO_AUTO);
      return failure((await box.beginSave({})).write(memoryMessage('x\n')));
    });
    expect(writeError.kind).toBe('no-permission');
    expect(writeError.message).toMatch(/^open\(.*\/Maildir\/tmp\) failed: EACCES/);
    const createError = await asNobody(() => failure(store.openMailbox('foo', AUTO)));
    expect(createError.kind).toBe('no-permission');
    expect(newFiles(`${home}/Maildir`)).toEqual([]);
  });

  it('a level too long for the filesystem is an invalid name', async () => {
    const home = tempDir();
    const error = await failure(storage(home).openMailbox('x'.repeat(255), AUTO));
    expect(error.kind).toBe('invalid-name');
    expect(error.message).toMatch(/ENAMETOOLONG/);
  });
});

describe('setup errors', () => {
  const setupError = (run: () => unknown): MailboxError => thrown(MailboxError, run);

  it.each<[string, string]>([
    ['mbox:~/mail:LAYOUT=maildir++', 'Initializing mail storage from mail_location setting failed: LAYOUT=maildir++ is not supported for mbox'],
    ['foo:~/x', 'Initializing mail storage from mail_location setting failed: Unknown mail storage driver foo'],
    ['maildir:', 'Initializing mail storage from mail_location setting failed: Root mail directory not given'],
    ['maildir:~/M:FOO=1', 'Initializing mail storage from mail_location setting failed: Unknown setting: FOO'],
    ['maildir:~/M:LAYOUT=index', 'Initializing mail storage from mail_location setting failed: LAYOUT=index is not supported'],
    ['maildir:~/M:ALT=/alt', 'Initializing mail storage from mail_location setting failed: mail_location option ALT is not supported'],
  ])('%s', (mailLocation, message) => {
    const error = setupError(() => storage(tempDir(), { mailLocation }));
    expect({ kind: error.kind, message: error.message }).toEqual({ kind: 'temporary', message });
  });

  it('an empty mail_location in an empty home fails like dovecot-lda (exit 75)', () => {
    const home = tempDir();
    const error = setupError(() => storage(home, { mailLocation: '' }));
    expect(error.kind).toBe('temporary');
    expect(error.message).toBe(`mail_location not set and autodetection failed: Mail storage autodetection failed with home=${home}`);
  });

  it.each([
    ['dotlock bogus', 'fcntl', 'mbox_write_locks: Invalid value bogus'],
    ['dotlock fcntl', 'flock', 'mbox read/write lock list settings are invalid. Lock ordering must be the same with both, and write locks must contain all read locks (and possibly more)'],
  ])('mbox_write_locks=%j with mbox_read_locks=%j fails as in dovecot-lda', (writeLocks, readLocks, reason) => {
    const error = setupError(() => storage(tempDir(), { mailLocation: 'mbox:~/mail', mbox: { ...TEST_MBOX_OPTIONS, writeLocks, readLocks } }));
    expect(error.message).toBe(`Initializing mail storage from mail_location setting failed: ${reason}`);
  });

  it('an empty mail_location finds ~/mail with .imap/ as mbox, INBOX in it', async () => {
    const home = tempDir();
    mkdirSync(`${home}/mail/.imap`, { recursive: true });
    const saved = await deliver(storage(home, { mailLocation: '' }), 'INBOX');
    expect(saved.path).toBe(`${home}/mail/inbox`);
    expect(readFileSync(saved.path, 'utf8')).toMatch(/^From MAILER-DAEMON  .*\nSubject: x\nContent-Length: 5\n\nbody\n\n$/);
  });

  it('an empty mail_location finds ~/Maildir', async () => {
    const home = tempDir();
    mkdirSync(`${home}/Maildir/cur`, { recursive: true });
    const saved = await deliver(storage(home, { mailLocation: '' }), 'INBOX');
    expect(saved.path.startsWith(`${home}/Maildir/new/`)).toBe(true);
  });

  it('no inbox namespace, or a hostname with a slash, is refused', () => {
    expect(setupError(() => storage(tempDir(), { namespaces: [inboxNamespace({ inbox: false })] })).message).toBe(
      'namespace configuration error: inbox=yes namespace missing',
    );
    expect(setupError(() => storage(tempDir(), { hostname: 'a/b' })).kind).toBe('temporary');
  });

  it('no namespaces at all means the implicit inbox namespace', async () => {
    const home = tempDir();
    const saved = await deliver(storage(home, { namespaces: [] }), 'INBOX');
    expect(saved.path.startsWith(`${home}/Maildir/new/`)).toBe(true);
  });
});

describe('subscriptions location', () => {
  it('CONTROL= and SUBSCRIPTIONS= move the file', async () => {
    const home = tempDir();
    const store = storage(home, {
      mailLocation: 'maildir:~/Maildir:CONTROL=~/ctl:SUBSCRIPTIONS=subs.txt',
      namespaces: [inboxNamespace({ separator: '/' })],
    });
    await deliver(store, 'a/b', AUTO);
    expect(readFileSync(`${home}/ctl/subs.txt`, 'latin1')).toBe('V\t2\n\na\tb\n');
    expect(existsSync(`${home}/Maildir/subscriptions`)).toBe(false);
  });

  it('creating a folder leaves a missing INBOX= alone', async () => {
    const home = tempDir();
    await deliver(storage(home, { mailLocation: 'maildir:~/Maildir:INBOX=~/Inbox' }), 'foo', AUTO);
    expect(existsSync(`${home}/Inbox`)).toBe(false);
    expect(tree(`${home}/Maildir`)).toContain('.foo/maildirfolder');
  });
});

describe('flags (Sieve imap4flags), as dovecot-lda 2.3.19 stores them', () => {
  async function deliverFlagged(store: MailStorage, mailbox: string, flags: string[], options = AUTO) {
    const box = await store.openMailbox(mailbox, options);
    const transaction = await box.beginSave({ flags });
    await transaction.write(memoryMessage('Subject: x\n\nbody\n'));
    return transaction.commit();
  }

  /** The saved file's name without its unique base. */
  function shownName(path: string, root: string): string {
    return path.slice(root.length + 1).replace(/\d+\.M\d+P\d+\.testhost/, '<base>');
  }

  it.each<[string, string[], string, string | undefined]>([
    ['flags and keywords', ['\\Seen', '\\Flagged', '$Label1', 'Junk'], 'cur/<base>,S=17,W=20:2,FSab', '0 $Label1\n1 Junk\n'],
    ['a keyword only', ['Junk'], 'cur/<base>,S=17,W=20:2,a', '0 Junk\n'],
    ['\\Seen only: no dovecot-keywords', ['\\Seen'], 'cur/<base>,S=17,W=20:2,S', undefined],
    ['all system flags, in ASCII order', ['\\Seen', '\\Answered', '\\Draft', '\\Deleted', '\\Flagged'], 'cur/<base>,S=17,W=20:2,DFRST', undefined],
    ['\\Recent only: new/ as without flags', ['\\Recent'], 'new/<base>,S=17,W=20', undefined],
    ['invalid names only: new/', ['foo]bar', '\\Foo', 'two words'], 'new/<base>,S=17,W=20', undefined],
    ['keywords numbered in the order given', ['Zeta', 'alpha', '$Label1', '\\Seen'], 'cur/<base>,S=17,W=20:2,Sabc', '0 Zeta\n1 alpha\n2 $Label1\n'],
  ])('%s', async (_name, flags, name, keywordsFile) => {
    const home = tempDir();
    const root = `${home}/Maildir`;
    const saved = await deliverFlagged(storage(home), 'INBOX', flags);
    expect(shownName(saved.path, root)).toBe(name);
    expect(readFileSync(saved.path, 'latin1')).toBe('Subject: x\n\nbody\n');
    expect(existsSync(`${root}/dovecot-keywords`) ? readFileSync(`${root}/dovecot-keywords`, 'latin1') : undefined).toBe(keywordsFile);
    expect(existsSync(`${root}/dovecot-uidlist.lock`)).toBe(false);
    expect(readdirSync(`${root}/tmp`)).toEqual([]);
  });

  it('past 26 keywords the rest are left out; with none placeable the mail still goes to cur/ with ":2,"', async () => {
    const home = tempDir();
    const root = `${home}/Maildir`;
    const thirty = Array.from({ length: 30 }, (_, index) => `k${String(index + 1).padStart(2, '0')}`);
    const first = await deliverFlagged(storage(home), 'INBOX', thirty);
    expect(shownName(first.path, root)).toBe('cur/<base>,S=17,W=20:2,abcdefghijklmnopqrstuvwxyz');
    expect(readFileSync(`${root}/dovecot-keywords`, 'latin1').split('\n')).toHaveLength(27);
    const second = await deliverFlagged(storage(home), 'INBOX', ['k27']);
    expect(shownName(second.path, root)).toBe('cur/<base>,S=17,W=20:2,');
  });

  it('a Maildir++ folder keeps its own dovecot-keywords; the file takes the folder mode', async () => {
    const home = tempDir();
    mkdirSync(`${home}/Maildir`, { mode: 0o750 });
    chmodSync(`${home}/Maildir`, 0o750);
    const saved = await deliverFlagged(storage(home), 'work.sub', ['\\Seen', 'Junk']);
    expect(shownName(saved.path, `${home}/Maildir`)).toBe('.work.sub/cur/<base>,S=17,W=20:2,Sa');
    expect(readFileSync(`${home}/Maildir/.work.sub/dovecot-keywords`, 'latin1')).toBe('0 Junk\n');
    expect(statSync(`${home}/Maildir/.work.sub/dovecot-keywords`).mode & 0o777).toBe(0o640);
    expect(existsSync(`${home}/Maildir/dovecot-keywords`)).toBe(false);
  });

  it.each<[string, string, string, string]>([
    ['Maildir++', 'maildir:~/Maildir:CONTROL=~/control', 'INBOX', 'control/.INBOX'],
    ['Maildir++', 'maildir:~/Maildir:CONTROL=~/control', 'work', 'control/.work'],
    ['fs', 'maildir:~/Maildir:LAYOUT=fs:CONTROL=~/control', 'INBOX', 'control/INBOX'],
    ['fs', 'maildir:~/Maildir:LAYOUT=fs:CONTROL=~/control', 'work/sub', 'control/work/sub'],
    ['INBOX=', 'maildir:~/Maildir:INBOX=~/inbox', 'INBOX', 'inbox'],
    ['fs', 'maildir:~/Maildir:LAYOUT=fs', 'work/sub', 'Maildir/work/sub'],
  ])('%s, %s: %s keeps dovecot-keywords in %s', async (_layout, mailLocation, mailbox, directory) => {
    const home = tempDir();
    await deliverFlagged(storage(home, { mailLocation }), mailbox, ['Junk']);
    expect(readFileSync(`${home}/${directory}/dovecot-keywords`, 'latin1')).toBe('0 Junk\n');
  });

  it('a keyword file it cannot write fails the save temporarily and leaves nothing in cur/ or tmp/', async () => {
    const home = tempDir();
    const root = `${home}/Maildir`;
    mkdirSync(`${root}/dovecot-keywords.lock`, { recursive: true }); // a directory where the new file must go
    mkdirSync(`${root}/dovecot-keywords.lock/x`);
    const error = await failure(deliverFlagged(storage(home), 'INBOX', ['Junk']));
    expect(error.kind).toBe('temporary');
    expect(readdirSync(`${root}/cur`)).toEqual([]);
    expect(readdirSync(`${root}/tmp`)).toEqual([]);
  });
});
