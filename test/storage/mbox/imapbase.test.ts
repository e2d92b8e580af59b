import { describe, expect, it } from 'vitest';
import { declareKeywords } from '../../../src/storage/mbox/imapbase.js';

const FROM = 'From MAILER-DAEMON  Mon Nov 30 22:11:53 2026\n';
const spaces = (count: number) => ' '.repeat(count);

/** A first message as dovecot-lda 2.3.19 wrote it, with `declared` in its X-IMAPbase and `padding` spaces in X-Keywords. */
function dovecotFirstMessage(declared: string, padding: number): string {
  return `${FROM}From: a@example.org\nSubject: test\nX-IMAPbase: 1796076713 0000000001${declared}\nX-UID: 1\nStatus: \nX-Keywords:${spaces(padding)}\nContent-Length: 6\n\nhello\n\n`;
}

/** The file after the edit is applied. */
function edited(head: string, keywords: string[]): string {
  const declaration = declareKeywords(Buffer.from(head, 'latin1'), keywords);
  if (declaration?.edit === undefined) return head;
  const bytes = Buffer.from(head, 'latin1');
  declaration.edit.bytes.copy(bytes, declaration.edit.offset);
  return bytes.toString('latin1');
}

describe('declareKeywords', () => {
  it('adds missing keywords to X-IMAPbase, taking the room from X-Keywords padding, as Dovecot does', () => {
    const head = dovecotFirstMessage('', 73);
    expect(declareKeywords(Buffer.from(head), ['Junk', 'Work'])?.keywords).toEqual(['Junk', 'Work']);
    // dovecot-lda 2.3.19 gave the same bytes (and also raised the next UID, which Dovetail leaves alone)
    expect(edited(head, ['Junk', 'Work'])).toBe(dovecotFirstMessage(' Junk Work', 63));
  });

  it('declared keywords need no edit and keep the mailbox spelling', () => {
    const head = dovecotFirstMessage(' junk $Label1', 60);
    expect(declareKeywords(Buffer.from(head), ['JUNK', '$label1'])).toEqual({ keywords: ['junk', '$Label1'] });
  });

  it('only the missing ones are added, after the declared ones', () => {
    const head = dovecotFirstMessage(' Junk', 68);
    expect(declareKeywords(Buffer.from(head), ['New', 'junk'])?.keywords).toEqual(['Junk', 'New']);
    expect(edited(head, ['New', 'junk'])).toBe(dovecotFirstMessage(' Junk New', 64));
  });

  it('uses trailing spaces of the X-IMAP line itself (Dovecot pads it in its pseudo message)', () => {
    const head = `${FROM}Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\nX-IMAP: 1796076514 0000000002 Junk${spaces(34)}\nStatus: RO\n\ntext\n\n`;
    expect(edited(head, ['Work'])).toBe(
      `${FROM}Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\nX-IMAP: 1796076514 0000000002 Junk Work${spaces(29)}\nStatus: RO\n\ntext\n\n`,
    );
  });

  it('uses the padding of X-UID when there is no X-Keywords (Dovecot pads a foreign first message so)', () => {
    const head = `${FROM}Subject: first\nStatus: R\nContent-Length: 6\nX-IMAPbase: 1796076398 0000000001\nX-UID: 1${spaces(50)}\n\nhello\n\n`;
    expect(edited(head, ['Junk'])).toBe(
      `${FROM}Subject: first\nStatus: R\nContent-Length: 6\nX-IMAPbase: 1796076398 0000000001 Junk\nX-UID: 1${spaces(45)}\n\nhello\n\n`,
    );
  });

  it('without room the undeclared keywords are left out (Dovecot would drop the whole X-Keywords field)', () => {
    const head = `${FROM}Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\nX-IMAP: 1796076514 0000000001 Junk\nStatus: RO\n\ntext\n\n`;
    expect(declareKeywords(Buffer.from(head), ['Work', 'Junk'])).toEqual({ keywords: ['Junk'] });
    expect(declareKeywords(Buffer.from(dovecotFirstMessage('', 3)), ['Junk', 'Work'])).toEqual({ keywords: [] });
  });

  it('padding before the X-IMAPbase line, or in other fields, is not used', () => {
    const head = `${FROM}X-Keywords:${spaces(40)}\nSubject: x${spaces(40)}\nX-IMAPbase: 1 0000000001\nStatus: \n\nbody\n`;
    expect(declareKeywords(Buffer.from(head), ['Junk'])).toEqual({ keywords: [] });
  });

  it.each([
    ['no X-IMAPbase (a file Dovecot never opened)', `${FROM}Subject: foreign\n\nhi\n\n`],
    ['a folded X-IMAPbase', `${FROM}X-IMAPbase: 1 0000000001\n Junk\nX-Keywords:${spaces(40)}\n\nhi\n`],
    ['an X-IMAPbase that is not "<number> <number> ..."', `${FROM}X-IMAPbase: yes\nX-Keywords:${spaces(40)}\n\nhi\n`],
    ['an X-IMAPbase in the body only', `${FROM}Subject: a\n\nX-IMAPbase: 1 0000000001\n`],
    ['a header that does not end within what was read', `${FROM}Subject: a\nX-IMAPbase: 1 0000000001\nX-Keywords:${spaces(40)}`],
  ])('%s: declares nothing', (_name, head) => {
    expect(declareKeywords(Buffer.from(head), ['Junk'])).toBeUndefined();
  });
});
