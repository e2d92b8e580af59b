import { describe, it, expect } from 'vitest';
import { parseMailLocation, splitLocationFields, type MailLocation } from '../../src/storage/mail-location.js';
import { MailboxError } from '../../src/storage/errors.js';

const HOME = '/home/ann';
const systemHome = (user: string) => ({ bob: '/srv/bob' })[user];

function parse(text: string, home = HOME): MailLocation {
  return parseMailLocation(text, home, systemHome);
}

describe('splitLocationFields', () => {
  it.each([
    ['a:b:c', ['a', 'b', 'c']],
    ['a::b', ['a:b']],
    ['a:::b', ['a:', 'b']],
    ['a:', ['a']],
    ['a::', ['a:']],
    ['a::b::c:d', ['a:b:c', 'd']],
  ])('%s', (text, fields) => {
    expect(splitLocationFields(text)).toEqual(fields);
  });
});

describe('parseMailLocation', () => {
  it.each<[string, Partial<MailLocation>]>([
    ['maildir:~/Maildir', { driver: 'maildir', root: '/home/ann/Maildir', utf8: false }],
    ['Maildir:~/MD', { driver: 'maildir', root: '/home/ann/MD' }],
    ['maildir:~/Maildir/', { root: '/home/ann/Maildir' }],
    ['maildir:/var/vmail/x//', { root: '/var/vmail/x/' }],
    ['maildir:/', { root: '/' }],
    ['maildir:~', { root: '/home/ann' }],
    ['maildir:~bob/Maildir', { root: '/srv/bob/Maildir' }],
    ['maildir:~/M::x/', { root: '/home/ann/M:x' }],
    ['maildir:~/Maildir:LAYOUT=fs', { layout: 'fs' }],
    ['maildir:~/Maildir:LAYOUT=FS', { layout: 'fs' }],
    ['maildir:~/Maildir:LAYOUT=Maildir++', { layout: 'maildir++' }],
    ['maildir:~/Maildir:LAYOUT=index', { layout: 'index' }],
    ['maildir:~/Maildir:INBOX=~/Inbox/', { inbox: '/home/ann/Inbox' }],
    ['maildir:~/Maildir:CONTROL=~/ctl:SUBSCRIPTIONS=subs', { control: '/home/ann/ctl', subscriptionsFile: 'subs' }],
    ['maildir:~/Maildir:INDEX=MEMORY', { index: '' }],
    ['maildir:~/Maildir:INDEX=/var/idx/%u', { index: '/var/idx/%u' }],
    ['maildir:~/Maildir:UTF-8', { utf8: true }],
    ['mbox:~/mail:INBOX=/var/mail/ann', { driver: 'mbox', root: '/home/ann/mail', inbox: '/var/mail/ann' }],
    ['~/Maildir', { driver: '', root: '/home/ann/Maildir' }],
    ['/var/mail/ann', { driver: '', root: '/var/mail/ann' }],
    ['', { driver: '', root: '' }],
    ['auto:', { driver: 'auto', root: '' }],
    ['maildir:', { driver: 'maildir', root: '' }],
  ])('%s', (text, expected) => {
    expect(parse(text)).toMatchObject(expected);
  });

  it('leaves what is not given unset, for the driver to default', () => {
    expect(parse('maildir:/x')).toEqual({ driver: 'maildir', root: '/x', utf8: false, options: new Map() });
  });

  it('keeps every option, flags with an empty value', () => {
    const location = parse('maildir:~/M:ALTNOCHECK:NO-FS-VALIDATION:VOLATILEDIR=~/v:LISTINDEX=x:BROKENCHAR=%:NO-NOSELECT');
    expect(Object.fromEntries(location.options)).toEqual({
      ALTNOCHECK: '',
      'NO-FS-VALIDATION': '',
      VOLATILEDIR: '/home/ann/v',
      LISTINDEX: 'x',
      BROKENCHAR: '%',
      'NO-NOSELECT': '',
    });
  });

  it.each([
    ['maildir:~/Maildir:FOO=bar', 'Unknown setting: FOO'],
    ['maildir:~/Maildir:layout=fs', 'Unknown setting: layout'],
    ['maildir:INBOX=/x', 'Mail root directory not given: INBOX=/x'],
    ['maildir:~nosuchuser/Maildir', "No home directory for system user. Can't expand ~nosuchuser for mail root dir in: ~nosuchuser/Maildir"],
    ['maildir:~/Maildir:BROKENCHAR=ab', 'BROKENCHAR value must be a single character'],
    ['maildir:~/Maildir:LAYOUT=bogus', 'Mailbox list driver bogus: Unknown driver name'],
    ['maildir:~/Maildir:ITERINDEX', 'ITERINDEX requires INDEX to be explicitly set'],
    ['maildir:/x:INBOX=~zed/in', "No home directory for system user. Can't expand ~zed for INBOX in: /x:INBOX=~zed/in"],
  ])('%s fails: %s', (text, reason) => {
    expect(() => parse(text)).toThrow(new MailboxError('temporary', reason));
  });

  it('a ~/ with no home is a temporary error', () => {
    let caught: unknown;
    try {
      parse('maildir:~/Maildir', '');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(MailboxError);
    expect(caught).toMatchObject({
      kind: 'temporary',
      message: "Home directory not set for user. Can't expand ~/ for mail root dir in: ~/Maildir",
    });
  });

  it('a path without ~ needs no home', () => {
    expect(parse('maildir:/var/vmail/ann', '').root).toBe('/var/vmail/ann');
  });
});
