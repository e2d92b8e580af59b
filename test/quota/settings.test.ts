// Quota settings: parsing as Dovecot 2.3.19's quota plugin does. The limits
// expected here are what `doveadm quota get` printed for the same rules
// (the mailbox-rule cases through a rule on the mailbox "", which doveadm
// asks about), and the error texts what it logged.

import { describe, expect, test } from 'vitest';
import { DEFAULT_QUOTA_EXCEEDED_MESSAGE, defaultRuleForced, graceBytes, isIgnoredMailbox, limitsFor, parseQuotaSettings, parseSize, rootLimits } from '../../src/quota/settings.js';
import { DeliveryFailure } from '../../src/deliver/failure.js';

const K = 1024;
const M = 1024 * K;

function settings(plugin: Record<string, string>, mailPlugins = 'quota', fullTempfail?: string) {
  return parseQuotaSettings((key) => plugin[key], mailPlugins, fullTempfail);
}
const withRules = (...rules: string[]) =>
  settings({ quota: 'maildir:User quota', ...Object.fromEntries(rules.map((rule, i) => [i === 0 ? 'quota_rule' : `quota_rule${i + 1}`, rule])) });

describe('the default rule', () => {
  test.each([
    ['*:storage=10M', { storageBytes: 10 * M }],
    ['*:storage=10', { storageBytes: 10 * K }], // kilobytes without a unit
    ['*:bytes=1000', { storageBytes: 1000 }],
    ['*:storage=10MB', { storageBytes: 10 * M }],
    ['*:storage=10m', { storageBytes: 10 * M }],
    ['*:storage=10Mxyz', { storageBytes: 10 * M }], // only the first letter of the unit counts
    ['*:storage=1T', { storageBytes: 1024 ** 4 }],
    ['*:storage=10M:messages=5', { storageBytes: 10 * M, messages: 5 }],
    ['*:messages=10k', { messages: 10 * K }],
    ['*:storage=0', {}],
    ['*:ignore', {}],
    ['*:backend=1000S,5C', { storageBytes: 1000, messages: 5 }],
    ['*:backend=NOQUOTA', {}],
  ])('%s', (rule, limits) => {
    const quota = withRules(rule);
    expect(rootLimits(quota)).toEqual(limits);
    expect(limitsFor(quota, 'INBOX')).toEqual({ limits, ignored: false });
  });

  test('lines on the same mask merge; a later value replaces an earlier one', () => {
    expect(rootLimits(withRules('*:storage=1G', '*:messages=100'))).toEqual({ storageBytes: 1024 * M, messages: 100 });
    expect(rootLimits(withRules('*:storage=1G', '*:storage=2M'))).toEqual({ storageBytes: 2 * M });
  });

  test('quota_rule, quota_rule2, ... stop at the first one missing', () => {
    const quota = settings({ quota: 'maildir:q', quota_rule: '*:storage=10M', quota_rule3: '*:storage=20M' });
    expect(rootLimits(quota)).toEqual({ storageBytes: 10 * M });
  });

  test('`?` sets the default limits without forcing them over maildirsize', () => {
    expect(defaultRuleForced(withRules('?:storage=5M'))).toBe(false);
    expect(rootLimits(withRules('?:storage=5M'))).toEqual({ storageBytes: 5 * M });
    expect(defaultRuleForced(withRules('*:storage=5M'))).toBe(true);
  });
});

describe('mailbox rules', () => {
  const base = '*:storage=10M:messages=100';
  test.each([
    [':storage=+10%', { storageBytes: 11 * M, messages: 100 }],
    [':storage=10%', { storageBytes: 11 * M, messages: 100 }], // the obsolete spelling of +10%
    [':storage=-1M:messages=+50%', { storageBytes: 9 * M, messages: 150 }],
    [':storage=-10%', { storageBytes: 9 * M, messages: 100 }],
    [':storage=-20M', { messages: 100 }],
    [':storage=+150%', { storageBytes: 25 * M, messages: 100 }],
    [':storage=+0%', { storageBytes: 10 * M, messages: 100 }],
    [':storage=+1M', { storageBytes: 11 * M, messages: 100 }],
  ])('%s', (rule, limits) => {
    expect(limitsFor(withRules(base, rule), '')).toEqual({ limits, ignored: false });
  });

  test('a percentage, once set on a mask, wins over a later absolute value (Dovecot keeps it)', () => {
    expect(limitsFor(withRules('*:storage=10M', ':storage=10%', ':storage=+1M'), '').limits).toEqual({ storageBytes: 11 * M });
  });

  test('lines on the same mailbox merge', () => {
    expect(limitsFor(withRules('*:storage=10M', ':storage=+1M', ':messages=+7'), '').limits).toEqual({ storageBytes: 11 * M, messages: 7 });
  });

  test('ignore, wildcards, INBOX in any case, and nothing without a default limit', () => {
    const quota = withRules('*:storage=10M', 'Trash:storage=+10%', 'Spam*:ignore', 'inbox:storage=+1M');
    expect(limitsFor(quota, 'Trash')).toEqual({ limits: { storageBytes: 11 * M }, ignored: false });
    expect(limitsFor(quota, 'trash')).toEqual({ limits: { storageBytes: 10 * M }, ignored: false });
    expect(limitsFor(quota, 'Spam/old')).toEqual({ limits: {}, ignored: true });
    expect(limitsFor(quota, 'Inbox')).toEqual({ limits: { storageBytes: 11 * M }, ignored: false });
    expect(isIgnoredMailbox(quota, 'Spam')).toBe(true);
    expect(isIgnoredMailbox(quota, 'Trash')).toBe(false);
    const unlimited = withRules('Trash:storage=+1M', 'Spam:ignore');
    expect(limitsFor(unlimited, 'Trash')).toEqual({ limits: {}, ignored: false });
    expect(isIgnoredMailbox(unlimited, 'Spam')).toBe(true);
  });

  test('percentages follow the limits maildirsize holds when the default rule is not forced', () => {
    expect(limitsFor(withRules('Trash:storage=+10%'), 'Trash', { storageBytes: 100 * K }).limits).toEqual({ storageBytes: 110 * K });
  });

  test('rules keep their kinds', () => {
    expect(withRules('*:storage=1G', 'Trash:storage=+10%', 'Sent:bytes=-5', 'Spam:ignore').rules).toEqual([
      { mailbox: '*', ignore: false, storage: { kind: 'absolute', value: 1024 * M } },
      { mailbox: 'Trash', ignore: false, storage: { kind: 'relative-percent', percent: 10 } },
      { mailbox: 'Sent', ignore: false, storage: { kind: 'relative-absolute', value: -5 } },
      { mailbox: 'Spam', ignore: true },
    ]);
  });
});

describe('malformed settings defer the delivery with doveadm/dovecot-lda wording', () => {
  const invalid = (rule: string, why: string) => `Failed to initialize quota: Invalid quota root quota: Invalid rule ${rule}: ${why}`;
  test.each([
    [{ quota_rule: '*:storage=10 M' }, invalid('*:storage=10 M', "Invalid rule limit value 'storage=10 M': Unknown unit:  M")],
    [{ quota_rule: '*:storage=' }, invalid('*:storage=', 'Invalid storage limit: ')],
    [{ quota_rule: '*:storage=10%' }, invalid('*:storage=10%', "Invalid rule limit value 'storage=10%': Default rule can't be a percentage")],
    [{ quota_rule: '*:storage=+10M' }, invalid('*:storage=+10M', "Rule limit cannot have '+'")],
    [{ quota_rule: '*:storage=-1' }, invalid('*:storage=-1', "Bytes limit can't be negative")],
    [{ quota_rule: '*:storage=10X' }, invalid('*:storage=10X', "Invalid rule limit value 'storage=10X': Unknown unit: X")],
    [{ quota_rule: '*:foo=1' }, invalid('*:foo=1', 'Unknown rule limit name: foo')],
    [{ quota_rule: '*:Storage=1M' }, invalid('*:Storage=1M', 'Unknown rule limit name: Storage')],
    [{ quota_rule: '*:storage=1M:' }, invalid('*:storage=1M:', 'Unknown rule limit name: ')],
    [{ quota_rule: 'nocolon' }, invalid('nocolon', 'Invalid rule')],
    [{ quota_rule: '' }, invalid('', 'Invalid rule')],
    [{ quota_rule: ':storage=-100%' }, invalid(':storage=-100%', "Invalid rule limit value 'storage=-100%': Invalid percentage")],
    [{ quota_rule: '*:backend=1000S,' }, invalid('*:backend=1000S,', 'quota-maildir: Invalid Maildir++ quota rule "1000S,"')],
    [{ quota_grace: '10X' }, "Failed to initialize quota: Invalid quota root quota: Invalid quota_grace value '10X': Unknown unit: X"],
    [{ quota_grace: '-100%' }, "Failed to initialize quota: Invalid quota root quota: Invalid quota_grace value '-100%': Invalid percentage"],
    [{ quota_max_mail_size: '1.5M' }, 'Failed to initialize quota: quota_max_mail_size: Invalid size: 1.5M'],
    [{ quota_max_mail_size: '' }, 'Failed to initialize quota: quota_max_mail_size: Invalid size: '],
    [{ quota_warning: 'storage=95%' }, 'Failed to initialize quota: Invalid quota root quota: Invalid warning rule: storage=95%'],
    [{ quota_warning: 'storage=+5 cmd' }, 'Failed to initialize quota: Invalid quota root quota: Invalid warning rule: storage=+5 cmd'],
    [{ quota_warning: 'storage=-5 cmd' }, 'Failed to initialize quota: Invalid quota root quota: Invalid warning rule: storage=-5 cmd'],
    [{ quota: 'nosuch:x' }, 'Failed to initialize quota: Invalid quota root quota: Unknown quota backend: nosuch'],
    [{ quota: 'count:User quota' }, 'Failed to initialize quota: quota backend count is not supported'],
    [{ quota: 'maildir:User quota:bogus' }, 'Failed to initialize quota: Quota root User quota: maildir quota init failed: Unknown parameter for backend maildir: bogus'],
    [{ quota: 'maildir:User quota:noenforcing:ignoreunlimited' }, 'Failed to initialize quota: Quota root User quota: maildir quota init failed: Unknown parameter for backend maildir: ignoreunlimited'],
    [{ quota: 'maildir:User quota:ns=:noenforcing' }, 'Failed to initialize quota: Quota root User quota: maildir quota init failed: Unknown parameter for backend maildir: noenforcing'],
    [{ quota: 'maildir:User quota:noenforcing ignoreunlimited' }, 'Failed to initialize quota: Quota root User quota: maildir quota init failed: Unknown parameter for backend maildir:  ignoreunlimited'],
  ])('%j', (plugin, message) => {
    let thrown: unknown;
    try {
      settings({ quota: 'maildir:User quota', quota_rule: '*:storage=10M', ...plugin });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(DeliveryFailure);
    expect((thrown as DeliveryFailure).kind).toBe('temporary');
    expect((thrown as DeliveryFailure).message).toBe(message);
  });

  test('a bad quota_full_tempfail', () => {
    expect(() => settings({}, 'quota', 'maybe')).toThrow('quota_full_tempfail: Invalid boolean value: maybe (use yes or no)');
  });
});

describe('the root and its parameters', () => {
  test.each([
    ['maildir:User quota', 'User quota', false, false],
    ['maildir', '', false, false],
    ['maildir:', '', false, false],
    ['maildir:q:noenforcing', 'q', true, false],
    ['maildir:q:ignoreunlimited:noenforcing', 'q', true, true],
    ['maildir:q:hidden:ignoreunlimited', 'q', false, true],
    ['maildir:q:noenforcing:noenforcing', 'q', true, false],
    ['maildir:q:noenforcing:ns=', 'q', true, false],
  ])('%s', (root, name, noEnforcing, ignoreUnlimited) => {
    expect(settings({ quota: root })).toMatchObject({ enabled: true, rootName: name, noEnforcing, ignoreUnlimited });
  });

  test('disabled without the plugin or without a root, whatever else is set', () => {
    expect(settings({ quota: 'maildir:q', quota_rule: 'broken' }, 'sieve').enabled).toBe(false);
    expect(settings({ quota_rule: 'broken' }, 'quota').enabled).toBe(false);
    expect(settings({ quota: '' }, 'acl quota').enabled).toBe(false);
    expect(settings({ quota: 'maildir:q' }, 'acl,quota').enabled).toBe(true);
  });
});

describe('grace, size, message, warnings, tempfail', () => {
  test.each([
    [undefined, 10 * M, 1 * M],
    ['10%', 10 * M, 1 * M],
    ['200%', 10 * M, 20 * M],
    ['10', 10 * M, 10], // bytes without a unit
    ['10M', 10 * M, 10 * M],
    ['-5', 10 * M, -5],
    ['10%', undefined, 0],
  ])('quota_grace %s of %s', (grace, limit, bytes) => {
    const quota = settings({ quota: 'maildir:q', ...(grace !== undefined && { quota_grace: grace }) });
    expect(graceBytes(quota, limit === undefined ? {} : { storageBytes: limit })).toBe(bytes);
  });

  test.each([
    ['10M', 10 * M],
    ['10', 10],
    ['10 M', 10 * M],
    ['10mb', 10 * M],
    ['10 KiB', 10 * K],
    ['10kib', 10 * K],
    ['10b', 10],
    ['0', 0],
    ['10bb', undefined],
    ['10Bk', undefined],
    ['x', undefined],
    ['-1', undefined],
  ])('size %s', (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  test('quota_max_mail_size and quota_exceeded_message', () => {
    expect(settings({ quota: 'maildir:q' })).toMatchObject({ maxMailSizeBytes: 0, exceededMessage: DEFAULT_QUOTA_EXCEEDED_MESSAGE });
    expect(settings({ quota: 'maildir:q', quota_max_mail_size: '10 M', quota_exceeded_message: 'Box full.' })).toMatchObject({
      maxMailSizeBytes: 10 * M,
      exceededMessage: 'Box full.',
    });
    expect(DEFAULT_QUOTA_EXCEEDED_MESSAGE).toBe('Quota exceeded (mailbox for user is full)');
  });

  test('warnings', () => {
    const quota = settings({
      quota: 'maildir:q',
      quota_rule: '*:storage=100M:messages=1000',
      quota_warning: 'storage=95% quota-warning 95 alice',
      quota_warning2: '-storage=100%  quota-warning   below alice',
      quota_warning3: '+messages=500:storage=25M cmd',
      quota_warning5: 'storage=1% never-read',
    });
    expect(quota.warnings).toEqual([
      { resource: 'storage', percent: 95, whenBelow: false, command: ['quota-warning', '95', 'alice'] },
      { resource: 'storage', percent: 100, whenBelow: true, command: ['quota-warning', 'below', 'alice'] },
      { resource: 'storage', percent: 25, whenBelow: false, command: ['cmd'] },
      { resource: 'messages', percent: 50, whenBelow: false, command: ['cmd'] },
    ]);
  });

  test.each([
    [undefined, false],
    ['yes', true],
    ['YES', true],
    ['no', false],
  ])('quota_full_tempfail %s', (value, expected) => {
    expect(settings({ quota: 'maildir:q' }, 'quota', value).fullTempfail).toBe(expected);
    expect(settings({}, '', value).fullTempfail).toBe(expected);
  });
});
