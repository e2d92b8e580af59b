import { describe, it, expect } from 'vitest';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { hostname } from 'node:os';
import { openMailStorage } from '../../../src/storage/index.js';
import { MailboxError, type MailboxErrorKind } from '../../../src/storage/errors.js';
import type { MailStorage, OpenMailboxOptions, StorageOptions } from '../../../src/storage/types.js';
import type { MessageSource } from '../../../src/message/types.js';
import { implicitInboxNamespace } from '../../../src/config/settings.js';
import { memoryMessage, TEST_MBOX_OPTIONS, useTempDirs } from '../helpers/fixtures.js';

const tempDir = useTempDirs();
const AUTO: OpenMailboxOptions = { autocreate: true, autosubscribe: true };
const NO_AUTO: OpenMailboxOptions = { autocreate: false, autosubscribe: false };
const DATE = new Date(2026, 10, 3, 9, 5, 7);
const FROM_LINE = 'From a@b.c  Tue Nov 03 09:05:07 2026\n';

function storage(home: string, overrides: Partial<StorageOptions> = {}): MailStorage {
  return openMailStorage({
    mailLocation: `mbox:~/mail:INBOX=${home}/spool/inbox`,
    user: { username: 'ann', home, uid: process.getuid!(), gid: process.getgid!() },
    namespaces: [implicitInboxNamespace()],
    mailFsync: 'optimized',
    hostname: 'testhost',
    mbox: TEST_MBOX_OPTIONS,
    ...overrides,
  });
}

async function deliver(store: MailStorage, mailbox: string, options = NO_AUTO, message: MessageSource = memoryMessage('Subject: x\n\nbody\n')) {
  const box = await store.openMailbox(mailbox, options);
  const transaction = await box.beginSave({ receivedDate: DATE, envelopeSender: { localpart: 'a', domain: 'b.c' } });
  try {
    await transaction.write(message);
    return await transaction.commit();
  } catch (error) {
    await transaction.rollback();
    throw error;
  }
}

async function failure(promise: Promise<unknown>): Promise<MailboxError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof MailboxError) return error;
    throw error;
  }
  throw new Error('expected a MailboxError');
}

function homeWithSpool(): string {
  const home = tempDir();
  mkdirSync(`${home}/spool`);
  return home;
}

/** A message whose second reading (the writing pass) fails after `good` bytes. */
function failingMessage(good: string): MessageSource {
  const base = memoryMessage(`${good}more\n`);
  let reads = 0;
  return {
    ...base,
    async *chunks() {
      reads++;
      yield Buffer.from(good);
      if (reads > 1) throw Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' });
      yield Buffer.from('more\n');
    },
  };
}

const RECORD = `${FROM_LINE}Subject: x\nContent-Length: 5\n\nbody\n\n`;

describe('mbox INBOX', () => {
  it('creates the spool file 0600 and appends one record', async () => {
    const home = homeWithSpool();
    const saved = await deliver(storage(home), 'INBOX');
    expect(saved).toMatchObject({ mailbox: 'INBOX', path: `${home}/spool/inbox` });
    expect(readFileSync(saved.path, 'utf8')).toBe(RECORD);
    expect(statSync(saved.path).mode & 0o777).toBe(0o600);
    expect(existsSync(`${home}/mail`)).toBe(false); // only Dovecot's index would live there
    expect(existsSync(`${saved.path}.lock`)).toBe(false);
    await deliver(storage(home), 'inbox');
    expect(readFileSync(saved.path, 'utf8')).toBe(RECORD + RECORD);
  });

  it('without INBOX= the INBOX is ROOT/inbox, the root made as needed', async () => {
    const home = tempDir();
    const saved = await deliver(storage(home, { mailLocation: 'mbox:~/mail' }), 'INBOX');
    expect(saved.path).toBe(`${home}/mail/inbox`);
    expect(statSync(`${home}/mail`).mode & 0o777).toBe(0o700);
  });

  it('INBOX= in directories not made yet: makes them 0700, as dovecot-lda 2.3.19 does', async () => {
    const home = tempDir();
    chmodSync(home, 0o755);
    const saved = await deliver(storage(home, { mailLocation: 'mbox:~/mail:INBOX=~/other/deep/inbox' }), 'INBOX');
    expect(saved.path).toBe(`${home}/other/deep/inbox`);
    expect(readFileSync(saved.path, 'utf8')).toBe(RECORD);
    for (const directory of [`${home}/other`, `${home}/other/deep`]) expect(statSync(directory).mode & 0o777).toBe(0o700);
  });

  it('adds the newline a previous writer left out', async () => {
    const home = homeWithSpool();
    writeFileSync(`${home}/spool/inbox`, 'From x  Tue Nov 03 09:05:07 2026\n\nold');
    await deliver(storage(home), 'INBOX');
    expect(readFileSync(`${home}/spool/inbox`, 'utf8')).toBe(`From x  Tue Nov 03 09:05:07 2026\n\nold\n${RECORD}`);
  });

  it('a failure while writing truncates back to the original bytes and releases the lock', async () => {
    const home = homeWithSpool();
    const before = `${RECORD}`;
    writeFileSync(`${home}/spool/inbox`, before);
    const error = await failure(deliver(storage(home), 'INBOX', NO_AUTO, failingMessage('Subject: y\n\n')));
    expect(error.kind).toBe('temporary');
    expect(error.message).toMatch(/EIO/);
    expect(readFileSync(`${home}/spool/inbox`, 'utf8')).toBe(before);
    expect(existsSync(`${home}/spool/inbox.lock`)).toBe(false);
  });

  it('an abort stops the save and truncates', async () => {
    const home = homeWithSpool();
    writeFileSync(`${home}/spool/inbox`, RECORD);
    const abort = new AbortController();
    const message = memoryMessage(`Subject: big\n\n${'x'.repeat(100_000)}\n`, { chunkSize: 1000 });
    const chunks = message.chunks.bind(message);
    let reads = 0;
    const aborting: MessageSource = {
      ...message,
      async *chunks() {
        reads++;
        let count = 0;
        for await (const chunk of chunks()) {
          if (reads > 1 && ++count === 10) abort.abort(new Error('Killed with signal SIGTERM'));
          yield chunk;
        }
      },
    };
    const error = await failure(deliver(storage(home, { signal: abort.signal }), 'INBOX', NO_AUTO, aborting));
    expect(error.message).toMatch(/Killed with signal SIGTERM/);
    expect(readFileSync(`${home}/spool/inbox`, 'utf8')).toBe(RECORD);
  });

  it('a lock that never goes away is a temporary failure, the mbox untouched', async () => {
    const home = homeWithSpool();
    writeFileSync(`${home}/spool/inbox`, RECORD);
    writeFileSync(`${home}/spool/inbox.lock`, `${process.pid}:${hostname()}`);
    const store = storage(home, { mbox: { ...TEST_MBOX_OPTIONS, lockTimeoutSeconds: 1 } });
    const error = await failure(deliver(store, 'INBOX'));
    expect({ kind: error.kind, message: error.message }).toEqual({
      kind: 'temporary',
      message: `Timeout while waiting for lock (dotlock ${home}/spool/inbox.lock)`,
    });
    expect(readFileSync(`${home}/spool/inbox`, 'utf8')).toBe(RECORD);
    expect(existsSync(`${home}/spool/inbox.lock`)).toBe(true);
  });

  it('a file replaced while we waited for its lock is reopened: the mail goes into the new one', async () => {
    const home = homeWithSpool();
    const path = `${home}/spool/inbox`;
    writeFileSync(path, 'old file\n');
    writeFileSync(`${path}.lock`, `${process.pid}:${hostname()}`);
    const delivery = deliver(storage(home), 'INBOX');
    await new Promise((resolve) => setTimeout(resolve, 300));
    writeFileSync(`${home}/spool/replacement`, '');
    renameSync(`${home}/spool/replacement`, path);
    execFileSync('rm', [`${path}.lock`]);
    await delivery;
    expect(readFileSync(path, 'utf8')).toBe(RECORD);
  });

  it('refuses to append to a file that is not an mbox, as Dovecot refuses to open it', async () => {
    const home = homeWithSpool();
    writeFileSync(`${home}/spool/inbox`, 'not an mbox\n');
    const error = await failure(deliver(storage(home), 'INBOX'));
    expect({ kind: error.kind, message: error.message }).toEqual({
      kind: 'temporary',
      message: `Mailbox isn't a valid mbox file: ${home}/spool/inbox`,
    });
    expect(readFileSync(`${home}/spool/inbox`, 'utf8')).toBe('not an mbox\n');
  });

  it('refuses a mailbox that is not a regular file', async () => {
    const home = homeWithSpool();
    execFileSync('mkfifo', [`${home}/spool/inbox`]);
    const error = await failure(deliver(storage(home), 'INBOX'));
    expect({ kind: error.kind, message: error.message }).toEqual({ kind: 'temporary', message: `${home}/spool/inbox is not a regular file` });
  });
});

describe('mbox folders', () => {
  it.each<[string, string, OpenMailboxOptions, (home: string) => void, MailboxErrorKind, string]>([
    ['missing, without autocreate', 'Foo', NO_AUTO, () => {}, 'not-found', "Mailbox doesn't exist: Foo"],
    ['a directory', 'Foo', AUTO, (home) => mkdirSync(`${home}/mail/Foo`, { recursive: true }), 'not-found', "Mailbox isn't selectable"],
    [
      'below a mailbox file',
      'Foo/Bar/Baz',
      AUTO,
      (home) => {
        mkdirSync(`${home}/mail/Foo`, { recursive: true });
        writeFileSync(`${home}/mail/Foo/Bar`, '');
      },
      'not-found',
      "Mailbox doesn't allow inferior mailboxes",
    ],
  ])('%s: %s', async (_name, mailbox, options, setup, kind, message) => {
    const home = homeWithSpool();
    setup(home);
    const error = await failure(deliver(storage(home), mailbox, options));
    expect({ kind: error.kind, message: error.message }).toEqual({ kind, message });
  });

  it('autocreate makes the file 0600 with its parent directories, and subscribes it', async () => {
    const home = homeWithSpool();
    const saved = await deliver(storage(home), 'Foo/Bar', AUTO);
    expect(saved.path).toBe(`${home}/mail/Foo/Bar`);
    expect(readFileSync(saved.path, 'utf8')).toBe(RECORD);
    expect(statSync(saved.path).mode & 0o777).toBe(0o600);
    expect(statSync(`${home}/mail/Foo`).mode & 0o777).toBe(0o700);
    expect(readFileSync(`${home}/mail/.subscriptions`, 'utf8')).toBe('V\t2\n\nFoo\tBar\n');
  });

  it('an existing folder file is appended to without autocreate', async () => {
    const home = homeWithSpool();
    mkdirSync(`${home}/mail`);
    writeFileSync(`${home}/mail/Work`, '');
    await deliver(storage(home), 'Work');
    expect(readFileSync(`${home}/mail/Work`, 'utf8')).toBe(RECORD);
    expect(existsSync(`${home}/mail/.subscriptions`)).toBe(false);
  });
});

describe('flags (Sieve imap4flags), as dovecot-lda 2.3.19 writes them', () => {
  const spaces = (count: number) => ' '.repeat(count);
  const DOVECOT_FIRST = `From MAILER-DAEMON  Mon Nov 30 22:11:53 2026\nFrom: a@example.org\nTo: b@example.org\nSubject: test\nX-IMAPbase: 1796076713 0000000001\nX-UID: 1\nStatus: \nX-Keywords:${spaces(73)}\nContent-Length: 6\n\nhello\n\n`;

  async function begin(home: string, flags: string[]) {
    const box = await storage(home).openMailbox('INBOX', NO_AUTO);
    const transaction = await box.beginSave({ receivedDate: DATE, envelopeSender: { localpart: 'a', domain: 'b.c' }, flags });
    await transaction.write(memoryMessage('Subject: x\nStatus: RO\nX-Keywords: forged\n\nbody\n'));
    return transaction;
  }

  async function deliverFlagged(home: string, flags: string[]) {
    return (await begin(home, flags)).commit();
  }

  /** True when another process can take an fcntl lock on the file now. */
  function fcntlFree(path: string): boolean {
    const addon = `${__dirname}/../../../build/Release/dovetail_native.node`;
    const script = `const fs=require('fs');process.exit(require(${JSON.stringify(addon)}).tryLock(fs.openSync(${JSON.stringify(path)},'r+'),'fcntl')?0:1)`;
    try {
      execFileSync(process.execPath, ['-e', script]);
      return true;
    } catch {
      return false;
    }
  }

  it('a flagged first message brings X-IMAPbase declaring its keywords, then Status, X-Status, X-Keywords', async () => {
    const home = homeWithSpool();
    const saved = await deliverFlagged(home, ['\\Seen', '\\Flagged', '$Label1', 'Junk']);
    const content = readFileSync(saved.path, 'latin1');
    const uidValidity = /X-IMAPbase: (\d+) /.exec(content)?.[1];
    expect(Math.abs(Number(uidValidity) - Date.now() / 1000)).toBeLessThan(60);
    expect(content).toBe(
      `${FROM_LINE}Subject: x\nX-IMAPbase: ${uidValidity} 0000000001 $Label1 Junk\nStatus: R\nX-Status: F\nX-Keywords: $Label1 Junk${spaces(60)}\nContent-Length: 5\n\nbody\n\n`,
    );
  });

  it.each([[['\\Recent']], [['bad word', '\\Foo']], [[]]])('%j: written as unflagged mail', async (flags) => {
    const home = homeWithSpool();
    const saved = await deliverFlagged(home, flags);
    expect(readFileSync(saved.path, 'latin1')).toBe(RECORD);
  });

  it('declares new keywords in a Dovecot-written first message in place, and lists them', async () => {
    const home = homeWithSpool();
    const path = `${home}/spool/inbox`;
    writeFileSync(path, DOVECOT_FIRST);
    await deliverFlagged(home, ['Junk', 'Work']);
    // dovecot-lda 2.3.19: the same first message (with its next UID raised to 2), and the same flag headers
    expect(readFileSync(path, 'latin1')).toBe(
      DOVECOT_FIRST.replace('0000000001', '0000000001 Junk Work').replace(`X-Keywords:${spaces(73)}`, `X-Keywords:${spaces(63)}`) +
        `${FROM_LINE}Subject: x\nStatus: \nX-Keywords: Junk Work${spaces(73)}\nContent-Length: 5\n\nbody\n\n`,
    );
  });

  it('keeps the fcntl lock while the first message is edited; a rollback keeps the declaration only', async () => {
    const home = homeWithSpool();
    const path = `${home}/spool/inbox`;
    writeFileSync(path, DOVECOT_FIRST);
    const transaction = await begin(home, ['Junk']);
    expect(fcntlFree(path)).toBe(false);
    await transaction.rollback();
    expect(fcntlFree(path)).toBe(true);
    expect(readFileSync(path, 'latin1')).toBe(DOVECOT_FIRST.replace('0000000001', '0000000001 Junk').replace(`X-Keywords:${spaces(73)}`, `X-Keywords:${spaces(68)}`));
  });

  it('a first message without room: only declared keywords are listed, nothing else changes', async () => {
    const home = homeWithSpool();
    const path = `${home}/spool/inbox`;
    const pseudo = `From MAILER_DAEMON  Mon Nov 30 22:08:34 2026\nSubject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\nX-IMAP: 1796076514 0000000001 junk\nStatus: RO\n\ntext\n\n`;
    writeFileSync(path, pseudo);
    await deliverFlagged(home, ['Work', 'Junk', '\\Seen']);
    expect(readFileSync(path, 'latin1')).toBe(`${pseudo}${FROM_LINE}Subject: x\nStatus: R\nX-Keywords: junk${spaces(73)}\nContent-Length: 5\n\nbody\n\n`);
  });

  it('a file without X-IMAPbase (Dovecot never opened it): all keywords listed, the first message untouched', async () => {
    const home = homeWithSpool();
    const path = `${home}/spool/inbox`;
    const foreign = 'From someone@example.org  Mon Nov 30 22:05:49 2026\nSubject: foreign\n\nhi\n\n';
    writeFileSync(path, foreign);
    await deliverFlagged(home, ['Junk', '\\Answered']);
    expect(readFileSync(path, 'latin1')).toBe(`${foreign}${FROM_LINE}Subject: x\nStatus: \nX-Status: A\nX-Keywords: Junk${spaces(73)}\nContent-Length: 5\n\nbody\n\n`);
  });
});
