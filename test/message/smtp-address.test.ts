// Expected results were observed with the real dovecot-lda 2.3.19: exit 64 and
// the "Invalid -x parameter: ..." text on stderr, or the address it logged
// (mail_debug "Destination address: <...>" for -a, %{from_envelope} for -f).
import { describe, it, expect } from 'vitest';
import {
  formatAddress,
  parseFromLineSender,
  parseRecipientPath,
  parseSenderPath,
  type SmtpAddress,
} from '../../src/message/smtp-address.js';
import { DeliveryFailure } from '../../src/deliver/failure.js';
import { thrown } from '../helpers/thrown.js';

function usageError(run: () => unknown): string {
  const failure = thrown(DeliveryFailure, run);
  expect(failure.kind).toBe('usage');
  return failure.message;
}

describe('parseRecipientPath (-a / -r)', () => {
  const accepted: [string, SmtpAddress, string][] = [
    ['user@dom', { localpart: 'user', domain: 'dom' }, 'user@dom'],
    ['<user@dom>', { localpart: 'user', domain: 'dom' }, 'user@dom'],
    ['user', { localpart: 'user' }, 'user'],
    ['<@a,@b:user@dom>', { localpart: 'user', domain: 'dom' }, 'user@dom'],
    ['"quoted local"@x', { localpart: 'quoted local', domain: 'x' }, '"quoted local"@x'],
    ['"a.b"@x', { localpart: 'a.b', domain: 'x' }, 'a.b@x'],
    ['a..b@c', { localpart: 'a..b', domain: 'c' }, '"a..b"@c'],
    ['.a@c', { localpart: '.a', domain: 'c' }, '".a"@c'],
    ['a.@x', { localpart: 'a.', domain: 'x' }, '"a."@x'],
    ['"a\\"b"@c', { localpart: 'a"b', domain: 'c' }, '"a\\"b"@c'],
    ['"a\\\\b"@c', { localpart: 'a\\b', domain: 'c' }, '"a\\\\b"@c'],
    ['"a "@x', { localpart: 'a ', domain: 'x' }, '"a "@x'],
    ['""@x', { localpart: '', domain: 'x' }, '""@x'],
    ['""', { localpart: '' }, '""'],
    ['a+b=c@d', { localpart: 'a+b=c', domain: 'd' }, 'a+b=c@d'],
    ['a@B.Example.COM', { localpart: 'a', domain: 'B.Example.COM' }, 'a@B.Example.COM'],
    ['a@b_c-d', { localpart: 'a', domain: 'b_c-d' }, 'a@b_c-d'],
    ['a@-b', { localpart: 'a', domain: '-b' }, 'a@-b'],
    ['a@[1.2.3.4]', { localpart: 'a', domain: '[1.2.3.4]' }, 'a@[1.2.3.4]'],
    ['a@[01.2.3.4]', { localpart: 'a', domain: '[01.2.3.4]' }, 'a@[01.2.3.4]'],
    ['a@[IPv6:::1]', { localpart: 'a', domain: '[IPv6:::1]' }, 'a@[IPv6:::1]'],
    ['a@[ipv6:::1]', { localpart: 'a', domain: '[ipv6:::1]' }, 'a@[ipv6:::1]'],
    ['a@[IPv6:::]', { localpart: 'a', domain: '[IPv6:::]' }, 'a@[IPv6:::]'],
    ['a@[IPv6:::ffff:1.2.3.4]', { localpart: 'a', domain: '[IPv6:::ffff:1.2.3.4]' }, 'a@[IPv6:::ffff:1.2.3.4]'],
    ['a@[IPv6:1:2:3:4:5:6:7::]', { localpart: 'a', domain: '[IPv6:1:2:3:4:5:6:7::]' }, 'a@[IPv6:1:2:3:4:5:6:7::]'],
    ['a@[IPv6:1:2:3:4:5:6:1.2.3.4]', { localpart: 'a', domain: '[IPv6:1:2:3:4:5:6:1.2.3.4]' }, 'a@[IPv6:1:2:3:4:5:6:1.2.3.4]'],
    ['a@[foo:bar]', { localpart: 'a', domain: '[foo:bar]' }, 'a@[foo:bar]'],
    ['a@[-x:y]', { localpart: 'a', domain: '[-x:y]' }, 'a@[-x:y]'],
  ];
  it.each(accepted)('accepts %j', (text, address, formatted) => {
    const parsed = parseRecipientPath(text, '-a');
    expect(parsed).toEqual(address);
    expect(formatAddress(parsed)).toBe(formatted);
  });

  const rejected: [string, string][] = [
    ['', 'Path is empty string'],
    ['<>', 'Null path not allowed'],
    ['a b', 'Invalid character in path'],
    ['@x', 'Invalid character in localpart'],
    ['@a,@b:user@dom', 'Invalid character in localpart'],
    ['<@a:>', 'Path only consists of source route'],
    ['<@a>', "Missing ':' at end of source route"],
    ['<@a,b:x@y>', "Missing '@' after ',' in source route"],
    ['üser@dom', 'Invalid character in localpart'],
    ['a@dömain', 'Invalid character in path'],
    ['a@b.', 'Empty sub-domain'],
    ['a@b..c', 'Empty sub-domain'],
    ['<a@b.>', 'Invalid character in domain'],
    ['<a@b', "Missing '>' at end of path"],
    ['a@b>', "Unmatched '>' at end of path"],
    ['<<a@b>', 'Invalid character in localpart'],
    ['<a@b>>', 'Invalid character in path'],
    ['a@b c', 'Invalid character in path'],
    ['<a@b> x', 'Invalid character in path'],
    ['a@b@c', 'Invalid character in path'],
    ['"a"b@c', 'Invalid character in path'],
    [' a@b', 'Invalid character in localpart'],
    ['"unterminated', 'Premature end of quoted string'],
    ['<"a b>', 'Premature end of quoted string'],
    ['"a\\', "Invalid character after '\\' in quoted string"],
    ['a@[1.2]', 'Invalid IPv4 address literal'],
    ['a@[1]', 'Invalid IPv4 address literal'],
    ['a@[1.2.3.256]', 'Invalid IPv4 address literal'],
    ['a@[1.2.3.4.5]', 'Invalid character in address literal'],
    ['a@[1.2.3', "Missing ']' at end of address literal"],
    ['a@[x-:y]', 'Invalid address literal'],
    ['a@[:y]', 'Invalid address literal'],
    ['a@[]', 'Invalid address literal'],
    ['a@[x:]', 'Empty address literal'],
    ['a@[IPv6:1::2::3]', 'Invalid IPv6 address literal'],
    ['a@[IPv6:fe80::1%eth0]', 'Invalid IPv6 address literal'],
    ['a@[IPv6:1:2:3:4:5:6:7:8:9]', 'Invalid IPv6 address literal'],
    ['a@[IPv6:1.2.3.4::]', 'Invalid IPv6 address literal'],
    ['a@[IPv6::1]', 'Invalid IPv6 address literal'],
    ['a@[IPv6:1::2:]', 'Invalid IPv6 address literal'],
    ['a@[IPv6:::1.2.3.04]', 'Invalid IPv6 address literal'],
    ['a@[IPv6:gg::1]', 'Invalid IPv6 address literal'],
  ];
  it.each(rejected)('rejects %j: %s', (text, reason) => {
    expect(usageError(() => parseRecipientPath(text, '-a'))).toBe(`Invalid -a parameter: ${reason}`);
  });

  it('names the option it was given', () => {
    expect(usageError(() => parseRecipientPath('<>', '-r'))).toBe('Invalid -r parameter: Null path not allowed');
  });
});

describe('parseSenderPath (-f)', () => {
  const accepted: [string, SmtpAddress | null][] = [
    ['', null],
    ['<>', null],
    ['MAILER-DAEMON', { localpart: 'MAILER-DAEMON' }],
    ['"quoted local"@x', { localpart: 'quoted local', domain: 'x' }],
    ['<""@x>', { localpart: '', domain: 'x' }],
    ['""', { localpart: '' }],
    ['" "@x', { localpart: ' ', domain: 'x' }],
  ];
  it.each(accepted)('accepts %j', (text, address) => {
    expect(parseSenderPath(text)).toEqual({ address, broken: false });
  });

  // dovecot-lda delivers these with <> as the sender
  const broken: [string, string][] = [
    ['foo@', "Missing domain after '@'"],
    ['a b@c', 'Invalid character in path'],
    ['üser@dom', 'Invalid character in localpart'],
    ['<üser@dom>', 'Invalid character in localpart'],
    ['@x', 'Invalid character in localpart'],
    ['<@x>', "Missing ':' at end of source route"],
    ['<@a:>', 'Path only consists of source route'],
    ['a@b>', "Unmatched '>' at end of path"],
    ['a@b.', 'Empty sub-domain'],
    ['<a@b.>', 'Invalid character in domain'],
    ['"a b" c', 'Invalid character in path'],
    ['<a@b> ', 'Invalid character in path'],
    ['a@[1.2]', 'Invalid IPv4 address literal'],
    ['"a\\\\"b c"@d', 'Invalid character in path'],
  ];
  it.each(broken)('takes %j as broken (<>)', (text, reason) => {
    expect(parseSenderPath(text)).toEqual({ address: null, broken: true, reason });
  });

  const rejected: [string, string][] = [
    ['<a b@c>', "Missing '>' at end of path"],
    ['<', 'Invalid character in localpart'],
    ['"unterminated', 'Premature end of quoted string'],
    ['a\tb@c', 'Invalid character in path'],
    ['<> x', 'Invalid character in path'],
    ['>', "Unmatched '>' at end of path"],
    ['"a\\', "Invalid character after '\\' in quoted string"],
    ['<"a b>', 'Premature end of quoted string'],
    [' a@b', 'Invalid character in localpart'],
  ];
  it.each(rejected)('rejects %j: %s', (text, reason) => {
    expect(usageError(() => parseSenderPath(text))).toBe(`Invalid -f parameter: ${reason}`);
  });
});

describe('parseFromLineSender', () => {
  // dovecot-lda: "Failed to parse address from `From_'-line: <error>", then MAILER-DAEMON in mbox
  const cases: [string, SmtpAddress | string][] = [
    ['a@b', { localpart: 'a', domain: 'b' }],
    ['"quoted local"@x', { localpart: 'quoted local', domain: 'x' }],
    ['a..b@c', { localpart: 'a..b', domain: 'c' }],
    ['x@[1.2.3.4]', { localpart: 'x', domain: '[1.2.3.4]' }],
    ['<>', 'Invalid character in localpart'],
    ['<a@b>', 'Invalid character in localpart'],
    ['@a:x@y', 'Invalid character in localpart'],
    ['MAILER-DAEMON', 'Missing domain'],
    ['user', 'Missing domain'],
    ['', 'Mailbox is empty string'],
    ['a@b@c', 'Invalid character in mailbox'],
  ];
  it.each(cases)('%j', (text, expected) => {
    expect(parseFromLineSender(text)).toEqual(typeof expected === 'string' ? { error: expected } : { address: expected });
  });
});

describe('formatAddress', () => {
  const cases: [SmtpAddress, string][] = [
    [{ localpart: 'user', domain: 'example.com' }, 'user@example.com'],
    [{ localpart: 'user' }, 'user'],
    [{ localpart: 'first.last', domain: 'x' }, 'first.last@x'],
    [{ localpart: 'two words', domain: 'x' }, '"two words"@x'],
    [{ localpart: 'say "hi"\\', domain: 'x' }, '"say \\"hi\\"\\\\"@x'],
    [{ localpart: '', domain: 'x' }, '""@x'],
    [{ localpart: 'a..b', domain: 'x' }, '"a..b"@x'],
    [{ localpart: 'a@b', domain: 'x' }, '"a@b"@x'],
    [{ localpart: 'MAILER-DAEMON', domain: '' }, 'MAILER-DAEMON'],
  ];
  it.each(cases)('%j → %s', (address, text) => {
    expect(formatAddress(address)).toBe(text);
  });
});
