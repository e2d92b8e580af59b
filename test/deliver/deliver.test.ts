import { describe, it, expect } from 'vitest';
import { deliverMessage, stageSave } from '../../src/deliver/deliver.js';
import type { QuotaGuard } from '../../src/quota/enforce.js';
import { MailboxError, type MailboxErrorKind } from '../../src/storage/errors.js';
import type { MailStorage, SavedMail } from '../../src/storage/types.js';
import type { MessageSource } from '../../src/message/types.js';
import { DeliveryFailure } from '../../src/deliver/failure.js';

const message: MessageSource = {
  size: 3,
  vsize: 4,
  header: Buffer.alloc(0),
  async *chunks() {
    yield Buffer.from('hi\n');
  },
  async close() {},
};

/** A storage whose mailboxes fail on open or on write as the table says. */
function fakeStorage(failures: Record<string, { at: 'open' | 'write' | 'commit'; kind: MailboxErrorKind }>, events: string[] = []) {
  const saved: string[] = [];
  const rolledBack: string[] = [];
  const storage: MailStorage = {
    mailboxExists: () => false,
    async openMailbox(name) {
      const failure = failures[name];
      if (failure?.at === 'open') throw new MailboxError(failure.kind, `cannot open ${name}`);
      return {
        name,
        async beginSave() {
          return {
            async write() {
              if (failure?.at === 'write') throw new MailboxError(failure.kind, `cannot write ${name}`);
            },
            async commit(): Promise<SavedMail> {
              events.push(`commit ${name}`);
              if (failure?.at === 'commit') throw new MailboxError(failure.kind, `cannot commit ${name}`);
              saved.push(name);
              return { mailbox: name, path: `/m/${name}`, size: 3, vsize: 4 };
            },
            async rollback() {
              rolledBack.push(name);
            },
          };
        },
      };
    },
  };
  return { storage, saved, rolledBack };
}

async function run(mailbox: string, failures: Parameters<typeof fakeStorage>[0]) {
  const { storage, saved, rolledBack } = fakeStorage(failures);
  const log: string[] = [];
  let outcome: SavedMail | DeliveryFailure;
  try {
    outcome = await deliverMessage({ storage, message, envelopeSender: undefined, mailbox, autocreate: false, autosubscribe: false, log: (t) => log.push(t) });
  } catch (error) {
    outcome = error as DeliveryFailure;
  }
  return { outcome, saved, rolledBack, log };
}

describe('deliverMessage', () => {
  it('saves to the default mailbox', async () => {
    const { saved, log } = await run('work', {});
    expect(saved).toEqual(['work']);
    expect(log).toEqual(['saved mail to work']);
  });

  it.each<MailboxErrorKind>(['not-found', 'invalid-name', 'no-permission', 'over-quota'])(
    'falls back to INBOX after %s',
    async (kind) => {
      const { saved, log } = await run('work', { work: { at: 'open', kind } });
      expect(saved).toEqual(['INBOX']);
      expect(log).toEqual(['save failed to open mailbox work: cannot open work', 'saved mail to INBOX']);
    },
  );

  it('never falls back after a temporary failure', async () => {
    const { outcome, saved, rolledBack } = await run('work', { work: { at: 'write', kind: 'temporary' } });
    expect(saved).toEqual([]);
    expect(rolledBack).toEqual(['work']);
    expect(outcome).toBeInstanceOf(DeliveryFailure);
    expect((outcome as DeliveryFailure).kind).toBe('temporary');
  });

  it('does not retry INBOX when INBOX itself failed, in any case', async () => {
    const { outcome, saved } = await run('inbox', { inbox: { at: 'open', kind: 'not-found' } });
    expect(saved).toEqual([]);
    expect((outcome as DeliveryFailure).kind).toBe('temporary');
  });

  it('reports over quota from the last attempt', async () => {
    const { outcome, log } = await run('work', {
      work: { at: 'open', kind: 'not-found' },
      INBOX: { at: 'write', kind: 'over-quota' },
    });
    expect((outcome as DeliveryFailure).kind).toBe('over-quota');
    expect(log[1]).toBe('save failed to INBOX: cannot write INBOX');
  });

  it('sanitises mailbox names in the log', async () => {
    const { log } = await run('a\tb', { 'a\tb': { at: 'open', kind: 'not-found' } });
    expect(log[0]).toBe('save failed to open mailbox a?b: cannot open a\tb');
  });
});

describe('the quota guard around a commit', () => {
  /** a guard that records its calls among the storage's */
  function recordingGuard(events: string[]): QuotaGuard {
    return {
      check: async (mailbox) => void events.push(`check ${mailbox}`),
      beforeCommit: async () => void events.push('lock'),
      record: async (mailbox) => void events.push(`record ${mailbox}, unlock`),
      release: async () => void events.push('release'),
    };
  }

  it.each<[string, Parameters<typeof fakeStorage>[0], string[]]>([
    ['a commit that succeeds', {}, ['check work', 'lock', 'commit work', 'record work, unlock', 'release']],
    [
      'a commit that fails, then the INBOX fallback',
      { work: { at: 'commit', kind: 'no-permission' } },
      ['check work', 'lock', 'commit work', 'release', 'check INBOX', 'lock', 'commit INBOX', 'record INBOX, unlock', 'release'],
    ],
    ['a write that fails: never locked', { work: { at: 'write', kind: 'temporary' } }, ['check work']],
  ])('%s', async (_, failures, expected) => {
    const events: string[] = [];
    const { storage } = fakeStorage(failures, events);
    await deliverMessage({ storage, message, envelopeSender: undefined, mailbox: 'work', autocreate: false, autosubscribe: false, log: () => undefined, quota: recordingGuard(events) }).catch(() => undefined);
    expect(events).toEqual(expected);
  });

  it("locks each of several staged saves (Sieve's) in turn, one at a time", async () => {
    const events: string[] = [];
    const { storage } = fakeStorage({}, events);
    const request = { storage, message, envelopeSender: undefined, mailbox: 'INBOX', autocreate: false, autosubscribe: false, log: () => undefined, quota: recordingGuard(events) };
    const staged = [await stageSave(request, 'a'), await stageSave(request, 'b')];
    for (const save of staged) await save.commit();
    expect(events).toEqual(['check a', 'check b', 'lock', 'commit a', 'record a, unlock', 'release', 'lock', 'commit b', 'record b, unlock', 'release']);
  });
});
