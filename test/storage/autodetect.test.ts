import { describe, it, expect } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { autodetectMailLocation } from '../../src/storage/autodetect.js';
import { parseMailLocation } from '../../src/storage/mail-location.js';
import { MailboxError } from '../../src/storage/errors.js';
import type { StorageUser } from '../../src/storage/types.js';
import { useTempDirs } from './helpers/fixtures.js';
import { thrown } from '../helpers/thrown.js';

const tempDir = useTempDirs();

interface Fixture {
  home: string;
  spool: string;
  user: StorageUser;
  detect(text?: string): ReturnType<typeof autodetectMailLocation>;
}

/** A home and a spool directory; `setup` lists directories (ending in '/') and files to create under the home, "spool:" for the spool. */
function fixture(setup: string[], home?: string): Fixture {
  const base = tempDir();
  const userHome = home ?? `${base}/home`;
  const spool = `${base}/spool`;
  mkdirSync(spool);
  if (userHome !== '') mkdirSync(userHome);
  for (const entry of setup) {
    const path = entry.startsWith('spool:') ? `${spool}/${entry.slice(6)}` : `${userHome}/${entry}`;
    if (path.endsWith('/')) mkdirSync(path, { recursive: true });
    else {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, '');
    }
  }
  const user: StorageUser = { username: 'ann', home: userHome, uid: process.getuid!(), gid: process.getgid!() };
  return {
    home: userHome,
    spool,
    user,
    detect: (text = '') => autodetectMailLocation(text, parseMailLocation(text, userHome, () => undefined), user, [spool]),
  };
}

const failure = (run: () => unknown): MailboxError => thrown(MailboxError, run);

describe('autodetectMailLocation with an empty mail_location', () => {
  it('finds ~/Maildir with a cur/ directory', () => {
    const { home, detect } = fixture(['Maildir/cur/']);
    expect(detect()).toMatchObject({ driver: 'maildir', root: `${home}/Maildir` });
  });

  it('does not take ~/Maildir without cur/', () => {
    const { home, detect } = fixture(['Maildir/', 'mail/mbox']);
    expect(detect()).toMatchObject({ driver: 'mbox', root: `${home}/mail` });
  });

  it.each([['mail/.imap/'], ['mail/inbox'], ['mail/mbox'], ['Mail/mbox'], ['Mail/.imap/']])('finds an mbox root by %s', (entry) => {
    const { home, detect } = fixture([entry]);
    expect(detect()).toMatchObject({ driver: 'mbox', root: `${home}/${entry.split('/')[0]}`, inbox: undefined });
  });

  it('prefers ~/mail to ~/Mail, and Maildir to both', () => {
    expect(fixture(['mail/mbox', 'Mail/mbox']).detect().root).toMatch(/\/mail$/);
    expect(fixture(['mail/mbox', 'Maildir/cur/']).detect().driver).toBe('maildir');
  });

  it('takes the spool file as the mbox INBOX when it exists', () => {
    const { spool, detect } = fixture(['Mail/.imap/', 'spool:ann']);
    expect(detect()).toMatchObject({ driver: 'mbox', inbox: `${spool}/ann` });
  });

  it('a spool file alone is not enough (no mbox root)', () => {
    const { home, detect } = fixture(['spool:ann']);
    const error = failure(() => detect());
    expect(error.kind).toBe('temporary');
    expect(error.message).toBe(`Mail storage autodetection failed with home=${home}`);
  });

  it('fails for a fresh, empty home as dovecot-lda does', () => {
    const { home, detect } = fixture([]);
    expect(failure(() => detect()).message).toBe(`Mail storage autodetection failed with home=${home}`);
  });

  it('says (not set) when there is no home', () => {
    const { detect } = fixture([], '');
    expect(failure(() => detect()).message).toBe('Mail storage autodetection failed with home=(not set)');
  });
});

describe('autodetectMailLocation with a path but no driver', () => {
  it('a Maildir path', () => {
    const { home, detect } = fixture(['box/cur/']);
    expect(detect('~/box:LAYOUT=fs')).toMatchObject({ driver: 'maildir', root: `${home}/box`, layout: 'fs' });
  });

  it('an mbox root directory', () => {
    const { home, detect } = fixture(['mbox-dir/inbox']);
    expect(detect('~/mbox-dir')).toMatchObject({ driver: 'mbox', root: `${home}/mbox-dir` });
  });

  it('an mbox file is the INBOX, the root is found in the home', () => {
    const { home, detect } = fixture(['Mail/mbox', 'inbox-file']);
    expect(detect('~/inbox-file')).toMatchObject({ driver: 'mbox', root: `${home}/Mail`, inbox: `${home}/inbox-file` });
  });

  it('anything else is ambiguous', () => {
    const { home, detect } = fixture(['nothing/']);
    expect(failure(() => detect('~/nothing')).message).toBe(
      "Ambiguous mail location setting, don't know what to do with it: ~/nothing (try prefixing it with mbox: or maildir:)",
    );
    expect(failure(() => detect(`${home}/missing`)).message).toMatch(/^Ambiguous mail location setting/);
  });

  it('the auto driver', () => {
    const { home, detect } = fixture(['Maildir/cur/']);
    expect(detect('auto:')).toMatchObject({ driver: 'maildir', root: `${home}/Maildir` });
    expect(failure(() => detect('auto:~/none')).message).toBe(`Autodetection failed for auto:~/none (home=${home})`);
  });
});
