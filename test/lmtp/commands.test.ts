// The replies were observed with Dovecot 2.3.19.1's lmtp (protocols = lmtp,
// a passwd-file userdb with alice and bob): each line sent in a state where
// only its arguments could be wrong (MAIL after LHLO, RCPT after MAIL).
// Lines are one character per byte, as they come off the wire.
import { describe, expect, it } from 'vitest';
import { parseCommandLine, type LmtpCommand, type ParsedLine } from '../../src/lmtp/commands.js';

const noLimit = { maxMessageSize: 0 };

function replyOf(parsed: ParsedLine): string {
  if (parsed.ok) return `accepted ${parsed.command.verb}`;
  const { code, enhanced, text } = parsed.reply;
  return [String(code), enhanced, text].filter((part) => part !== '').join(' ');
}

describe('parseCommandLine: lines Dovecot refuses', () => {
  const cases: [string, string][] = [
    // the line itself
    ['', '500 5.5.1 Unknown command'],
    [' NOOP', '500 5.5.1 Unknown command'],
    ['HELO x', '500 5.5.1 Unknown command'],
    ['EHLO x', '500 5.5.1 Unknown command'],
    ['HELP', '500 5.5.1 Unknown command'],
    ['A'.repeat(32), '500 5.5.1 Unknown command'],
    ['A'.repeat(33), '500 5.5.2 Invalid command syntax'],
    ['N0OP', '500 5.5.2 Invalid command syntax'],
    ['NOOP:', '500 5.5.2 Invalid command syntax'],
    ['NO\x00OP', '500 5.5.2 Invalid command syntax'],
    ['NOOP\x00', '500 5.5.2 Invalid command syntax'],
    ['NOOP\tx', '500 5.5.2 Invalid command syntax'],
    ['DATA\t', '500 5.5.2 Invalid command syntax'],
    ['NOOP\r', '500 5.5.2 Invalid command syntax'],
    ['NOOP\rX', '500 5.5.2 Invalid command syntax'],
    ['NOOP a\x01b', '500 5.5.2 Invalid command syntax'],
    ['NOOP a\x7fb', '500 5.5.2 Invalid command syntax'],
    ['NOOP \x80', '500 5.5.2 Invalid command syntax'],
    ['NOOP  x', '500 5.5.2 Invalid command syntax'],
    ['LHLO \x80', '500 5.5.2 Invalid command syntax'],
    ['MAIL  FROM:<a@b>', '500 5.5.2 Invalid command syntax'],
    ['MAIL FROM:<a\x01b@c>', '500 5.5.2 Invalid command syntax'],
    // verbs Dovecot knows but does not offer here
    ['AUTH PLAIN', '502 5.5.1 Unsupported command'],
    ['STARTTLS', '502 5.5.1 TLS support is not enabled.'],
    ['XCLIENT ADDR=x', '550 5.7.14 You are not from trusted IP'],
    // arguments
    ['LHLO', '501 Missing hostname'],
    ['LHLO ', '501 Missing hostname'],
    ['QUIT x', '501 5.5.4 Invalid parameters'],
    ['RSET x', '501 5.5.4 Invalid parameters'],
    ['DATA x', '501 5.5.4 Invalid parameters'],
    ['VRFY', '501 5.5.4 Invalid parameters'],
    ['VRFY a.b', '501 5.5.4 Invalid string parameter: Invalid character in string'],
    ['VRFY <alice@x>', '501 5.5.4 Invalid string parameter: Invalid character in string'],
    ['NOOP x y', '501 5.5.4 Invalid string parameter: Invalid character in string'],
    ['NOOP "a', '501 5.5.4 Invalid string parameter: Premature end of quoted string'],
    ['NOOP "a\\"', '501 5.5.4 Invalid string parameter: Premature end of quoted string'],
    ['NOOP a"b', '501 5.5.4 Invalid string parameter: Invalid character in string'],
    ['NOOP \xc3\xa9', '501 5.5.4 Invalid string parameter: Invalid character in string'],
    ['NOOP \tx', '501 5.5.4 Invalid string parameter: Invalid character in string'],
    ['NOOP "a"b', '501 5.5.4 Invalid string parameter: Invalid character in string'],
    // MAIL
    ['MAIL', '501 5.5.4 Invalid parameters'],
    ['MAIL FROM', '501 5.5.4 Invalid parameters'],
    ['MAIL TO:<a@b>', '501 5.5.4 Invalid parameters'],
    ['MAIL FROM:', '501 5.5.4 Invalid FROM: Path is empty string'],
    ['MAIL FROM: <a@b>', '501 5.5.4 Invalid FROM: Unexpected whitespace before path'],
    ['MAIL FROM:\t<a@b>', '501 5.5.4 Invalid FROM: Unexpected whitespace before path'],
    ['MAIL FROM:a@b', "501 5.5.4 Invalid FROM: Missing '<' at beginning of path"],
    ['MAIL FROM:<a@b', "501 5.5.4 Invalid FROM: Missing '>' at end of path"],
    ['MAIL FROM:<a b>', '501 5.5.4 Invalid FROM: Invalid character in localpart'],
    ['MAIL FROM:<"a>', '501 5.5.4 Invalid FROM: Premature end of quoted string'],
    ['MAIL FROM:<a@b>x', '501 5.5.4 Invalid FROM: Invalid character in path'],
    ['MAIL FROM:<a@b>>', '501 5.5.4 Invalid FROM: Invalid character in path'],
    ['MAIL FROM:<<a@b>>', '501 5.5.4 Invalid FROM: Invalid character in path'],
    ['MAIL FROM:<>x', '501 5.5.4 Invalid FROM: Invalid character in path'],
    ['MAIL FROM:<a@b>\tBODY=7BIT', '501 5.5.4 Invalid FROM: Invalid character in path'],
    ['MAIL FROM:<a@b> BODY', '501 5.5.4 Missing BODY= parameter value'],
    ['MAIL FROM:<a@b> BODY=7BIT BODY=7BIT', '501 5.5.4 Duplicate BODY= parameter'],
    ['MAIL FROM:<a@b> BODY=BINARYMIME', '555 5.5.4 Unsupported mail BODY type'],
    ['MAIL FROM:<a@b> BODY=', '555 5.5.4 Unsupported mail BODY type'],
    ['MAIL FROM:<a@b> BODY=7BIT-x', '555 5.5.4 Unsupported mail BODY type'],
    ['MAIL FROM:<a@b> BODY==', '501 5.5.4 Invalid MAIL parameter: Unexpected character in parameter value'],
    ['MAIL FROM:<a@b> BODY=\xc3\xa9', '501 5.5.4 Invalid MAIL parameter: Unexpected character in parameter value'],
    ['MAIL FROM:<a@b> =x', '501 5.5.4 Invalid MAIL parameter: Unexpected character in parameter keyword'],
    ['MAIL FROM:<a@b> b_x=1', '501 5.5.4 Invalid MAIL parameter: Unexpected character in parameter keyword'],
    ['MAIL FROM:<a@b> B\xc3\xa9=1', '501 5.5.4 Invalid MAIL parameter: Unexpected character in parameter keyword'],
    ['MAIL FROM:<a@b>  BODY=7BIT', '501 5.5.4 Invalid MAIL parameter: Parameter is empty'],
    ['MAIL FROM:<a@b> BODY=7BIT  SIZE=1', '501 5.5.4 Invalid MAIL parameter: Parameter is empty'],
    ['MAIL FROM:<a@b> SIZE=100', '555 5.5.4 Unsupported parameters'],
    ['MAIL FROM:<a@b> FOO=bar', '555 5.5.4 Unsupported parameters'],
    ['MAIL FROM:<a@b> BODY=7BIT x', '555 5.5.4 Unsupported parameters'],
    ['MAIL FROM:<a@b> AUTH=<>', '555 5.5.4 Unsupported parameters'],
    ['MAIL FROM:<a@b> ENVID=x', '555 5.5.4 Unsupported parameters'],
    ['MAIL FROM:<a@b> RET=FULL', '555 5.5.4 Unsupported parameters'],
    ['MAIL FROM:<a@b> SMTPUTF8', '555 5.5.4 Unsupported parameters'],
    // RCPT
    ['RCPT', '501 5.5.4 Invalid parameters'],
    ['RCPT TO', '501 5.5.4 Invalid parameters'],
    ['RCPT FROM:<alice>', '501 5.5.4 Invalid parameters'],
    ['RCPT TO:', '501 5.5.4 Invalid TO: Path is empty string'],
    ['RCPT TO: <alice>', '501 5.5.4 Invalid TO: Unexpected whitespace before path'],
    ['RCPT TO:alice', "501 5.5.4 Invalid TO: Missing '<' at beginning of path"],
    ['RCPT TO:<>', '501 5.5.4 Invalid TO: Null path not allowed'],
    ['RCPT TO:<alice>x', '501 5.5.4 Invalid TO: Invalid character in path'],
    ['RCPT TO:<alice>\tX=1', '501 5.5.4 Invalid TO: Invalid character in path'],
    ['RCPT TO:<alice@>', "501 5.5.4 Invalid TO: Missing domain after '@'"],
    ['RCPT TO:<@x:>', '501 5.5.4 Invalid TO: Path only consists of source route'],
    ['RCPT TO:<a b>', "501 5.5.4 Invalid TO: Missing '>' at end of path"],
    ['RCPT TO:<al\xc3\xa9ce>', "501 5.5.4 Invalid TO: Missing '>' at end of path"],
    ['RCPT TO:<alice> NOTIFY=NEVER', '555 5.5.4 Unsupported parameters'],
    ['RCPT TO:<alice> FOO=bar', '555 5.5.4 Unsupported parameters'],
    ['RCPT TO:<alice>  ORCPT=rfc822;a@b', '501 5.5.4 Invalid RCPT parameter: Parameter is empty'],
    ['RCPT TO:<alice> =x', '501 5.5.4 Invalid RCPT parameter: Unexpected character in parameter keyword'],
    ['RCPT TO:<alice> ORCPT', '501 5.5.4 Missing ORCPT= parameter value'],
    ['RCPT TO:<alice> ORCPT=', '501 5.5.4 Invalid addr-type for ORCPT= parameter'],
    ['RCPT TO:<alice> ORCPT=rfc822', '501 5.5.4 Invalid addr-type for ORCPT= parameter'],
    ['RCPT TO:<alice> ORCPT=;a', '501 5.5.4 Invalid addr-type for ORCPT= parameter'],
    ['RCPT TO:<alice> ORCPT=a.b;c', '501 5.5.4 Invalid addr-type for ORCPT= parameter'],
    ['RCPT TO:<alice> ORCPT=rfc822;', '501 5.5.4 Invalid ORCPT= parameter: Empty address value'],
    ['RCPT TO:<alice> ORCPT=x;', '501 5.5.4 Invalid ORCPT= parameter: Empty address value'],
    ['RCPT TO:<alice> ORCPT=rfc822;bob+4', "501 5.5.4 Invalid ORCPT= parameter: Invalid hexchar after '+' in xtext"],
    ['RCPT TO:<alice> ORCPT=rfc822;a+2b@x', "501 5.5.4 Invalid ORCPT= parameter: Invalid hexchar after '+' in xtext"],
    ['RCPT TO:<alice> ORCPT=rfc822;+00', '501 5.5.4 Invalid ORCPT= address value: Contains non-printable characters'],
    ['RCPT TO:<alice> ORCPT=rfc822;a+C3+A9@x', '501 5.5.4 Invalid ORCPT= address value: Contains non-printable characters'],
    ['RCPT TO:<alice> ORCPT=RFC822;a@x ORCPT=rfc822;b@x', '501 5.5.4 Duplicate ORCPT= parameter'],
    ...['a@b+2Cc@d', 'a@x+2Cb@y', 'a+09b@x', 'a+20b@x', '@x:a@y', '@x', 'g:a@b;', 'a(c'].map(
      (xtext): [string, string] => [`RCPT TO:<alice> ORCPT=rfc822;${xtext}`, '501 5.5.4 Invalid ORCPT= address value: Invalid RFC822 address'],
    ),
    // BDAT (the chunk's bytes follow whatever the reply: see below)
    ['BDAT', '501 5.5.4 Invalid chunk size parameter'],
    ['BDAT x', '501 5.5.4 Invalid chunk size parameter'],
    ['BDAT -1', '501 5.5.4 Invalid chunk size parameter'],
    ['BDAT +1', '501 5.5.4 Invalid chunk size parameter'],
    ['BDAT 18446744073709551616', '501 5.5.4 Invalid chunk size parameter'],
    ['BDAT 1 FOO', '501 5.5.4 Invalid end marker parameter'],
    ['BDAT 1 LAST X', '501 5.5.4 Invalid parameters'],
    ['BDAT 3  LAST', '501 5.5.4 Invalid parameters'],
  ];
  it.each(cases)('%j → %s', (line, expected) => {
    expect(replyOf(parseCommandLine(line, noLimit))).toBe(expected);
  });
});

describe('parseCommandLine: what the refusal carries for the connection', () => {
  it.each([
    ['MAIL FROM:x', 'MAIL'],
    ['RCPT TO:x', 'RCPT'],
    ['DATA x', 'DATA'],
    ['BDAT x', 'BDAT'],
    ['FOO', undefined],
    ['NOOP:', undefined],
    ['AUTH', undefined],
  ])('%j is a refused %s', (line, verb) => {
    const parsed = parseCommandLine(line, noLimit);
    expect(parsed.ok || parsed.verb).toBe(verb);
  });

  it.each([
    ['BDAT 1 FOO', 1],
    ['BDAT 3  LAST', 3],
    ['BDAT 007 LAST X', 7],
    ['BDAT x', undefined],
    ['BDAT', undefined],
  ])('%j: %s bytes of chunk to skip', (line, size) => {
    const parsed = parseCommandLine(line, noLimit);
    expect(parsed.ok ? 'accepted' : parsed.chunkSize).toBe(size);
  });
});

describe('parseCommandLine: accepted commands', () => {
  const cases: [string, LmtpCommand][] = [
    ['LHLO x', { verb: 'LHLO', domain: 'x' }],
    ['lhlo x', { verb: 'LHLO', domain: 'x' }],
    ['LHLO a b', { verb: 'LHLO', domain: 'a b' }],
    ['LHLO x\ty', { verb: 'LHLO', domain: 'x\ty' }],
    ['LHLO [1.2.3.4]', { verb: 'LHLO', domain: '[1.2.3.4]' }],
    ['LHLO mx.example  ', { verb: 'LHLO', domain: 'mx.example' }],
    ['LHLO \xc3\xa9', { verb: 'LHLO', domain: 'é' }],
    ['NOOP', { verb: 'NOOP' }],
    ['NOOP  ', { verb: 'NOOP' }],
    ['NOOP x', { verb: 'NOOP' }],
    ['NOOP "a b"', { verb: 'NOOP' }],
    ['NOOP "a\\\\"', { verb: 'NOOP' }],
    ['noop', { verb: 'NOOP' }],
    ['VRFY alice', { verb: 'VRFY' }],
    ['VRFY "a b"', { verb: 'VRFY' }],
    ['VRFY ""', { verb: 'VRFY' }],
    ['RSET', { verb: 'RSET' }],
    ['RSET  ', { verb: 'RSET' }],
    ['QUIT', { verb: 'QUIT' }],
    ['DATA', { verb: 'DATA' }],
    ['data \t', { verb: 'DATA' }],
    ['BDAT 0', { verb: 'BDAT', size: 0, last: false }],
    ['BDAT 003 LAST', { verb: 'BDAT', size: 3, last: true }],
    ['bdat 1 last', { verb: 'BDAT', size: 1, last: true }],
    ['BDAT 18446744073709551615', { verb: 'BDAT', size: 18446744073709551615, last: false }],
    ['MAIL FROM:<a@b>', { verb: 'MAIL', sender: { localpart: 'a', domain: 'b' }, params: {} }],
    ['mail from:<a@b>', { verb: 'MAIL', sender: { localpart: 'a', domain: 'b' }, params: {} }],
    ['MAIL FROM:<>', { verb: 'MAIL', sender: null, params: {} }],
    ['MAIL FROM:<a@b>\t', { verb: 'MAIL', sender: { localpart: 'a', domain: 'b' }, params: {} }],
    ['MAIL FROM:<@x:a@b>', { verb: 'MAIL', sender: { localpart: 'a', domain: 'b' }, params: {} }],
    ['MAIL FROM:<"a b"@c>', { verb: 'MAIL', sender: { localpart: 'a b', domain: 'c' }, params: {} }],
    ['MAIL FROM:<""@b>', { verb: 'MAIL', sender: { localpart: '', domain: 'b' }, params: {} }],
    ['MAIL FROM:<a@[1.2.3.4]>', { verb: 'MAIL', sender: { localpart: 'a', domain: '[1.2.3.4]' }, params: {} }],
    ['MAIL FROM:<a@b> BODY=7BIT', { verb: 'MAIL', sender: { localpart: 'a', domain: 'b' }, params: { body: '7BIT' } }],
    ['MAIL FROM:<a@b> body=8bitmime', { verb: 'MAIL', sender: { localpart: 'a', domain: 'b' }, params: { body: '8BITMIME' } }],
    ['MAIL FROM:<> BODY=8BITMIME', { verb: 'MAIL', sender: null, params: { body: '8BITMIME' } }],
    // broken senders Dovecot's lmtp takes as the null sender (the message's Return-Path is <>)
    ...['<a>', '<a@>', '<"">', '<@x:>', '<@x>', '<@>', '<a@b.>', '<a@.b>', '<a@[1.2.3.400]>', '<a@[IPv6:zz]>', '<\xc3\xa9@b>'].map(
      (path): [string, LmtpCommand] => [`MAIL FROM:${path}`, { verb: 'MAIL', sender: null, params: {} }],
    ),
    ['RCPT TO:<alice>', { verb: 'RCPT', address: { localpart: 'alice' } }],
    ['rcpt to:<alice@x>', { verb: 'RCPT', address: { localpart: 'alice', domain: 'x' } }],
    ['RCPT TO:<"alice">', { verb: 'RCPT', address: { localpart: 'alice' } }],
    ['RCPT TO:<@x:alice@y>', { verb: 'RCPT', address: { localpart: 'alice', domain: 'y' } }],
    ['RCPT TO:<Postmaster>', { verb: 'RCPT', address: { localpart: 'Postmaster' } }],
    // ORCPT: the rfc822 address, xtext-decoded and as SMTP writes it; other types are checked and dropped
    ...(
      [
        ['rfc822;bob@x', 'bob@x'],
        ['RFC822;bob@x', 'bob@x'],
        ['rfc822;bob+40x@y', 'bob@x'],
        ['rfc822;bob', 'bob'],
        ['rfc822;bob@', 'bob'],
        ['rfc822;<bob@x>', 'bob@x'],
        ['rfc822;Bob+20<bob@x>', 'bob@x'],
        ['rfc822;+22Bob+22+20+3Ca@b+3E', 'a@b'],
        ['rfc822;B.o.b+20+3Ca@b+3E', 'a@b'],
        ['rfc822;+3Ca@b', 'a@b'],
        ['rfc822;+3C@x:a@y>', 'a@y'],
        ['rfc822;+22a+20b+22@x', '"a b"@x'],
        ['rfc822;(c)a@x', 'a@x'],
        ['rfc822;a@b+20(c)', 'a@b'],
        ['rfc822;a@[1.2.3.4]', 'a@[1.2.3.4]'],
        ['rfc822;a.b@x', 'a.b@x'],
        ['rfc822;a..b@x', '"a..b"@x'],
        ['rfc822;.a@x', '".a"@x'],
        ['rfc822;a@x.', 'a@x'],
        ['rfc822;a@b+3E', 'a@b'],
        ['rfc822;a@b+3B', 'a@b'],
      ] as const
    ).map(([value, orcpt]): [string, LmtpCommand] => [`RCPT TO:<alice> ORCPT=${value}`, { verb: 'RCPT', address: { localpart: 'alice' }, orcpt }]),
    ['RCPT TO:<alice> ORCPT=x-foo;bar', { verb: 'RCPT', address: { localpart: 'alice' } }],
    ['RCPT TO:<alice> ORCPT=utf-8;a', { verb: 'RCPT', address: { localpart: 'alice' } }],
  ];
  it.each(cases)('%j', (line, command) => {
    expect(parseCommandLine(line, noLimit)).toEqual({ ok: true, command });
  });
});

describe('parseCommandLine: MAIL SIZE=, only with a message size limit (SIZE advertised)', () => {
  const limit = { maxMessageSize: 1000 };
  it.each([
    ['MAIL FROM:<a@b> SIZE=1000', { size: 1000 }],
    ['MAIL FROM:<a@b> size=0 SIZE=0', { size: 0 }],
    ['MAIL FROM:<a@b> SIZE=5 BODY=8BITMIME', { size: 5, body: '8BITMIME' }],
  ])('%j is accepted', (line, params) => {
    expect(parseCommandLine(line, limit)).toEqual({ ok: true, command: { verb: 'MAIL', sender: { localpart: 'a', domain: 'b' }, params } });
  });

  it.each([
    ['MAIL FROM:<a@b> SIZE=1001', '552 5.3.4 Message size exceeds administrative limit'],
    ['MAIL FROM:<a@b> SIZE=1 SIZE=2', '501 5.5.4 Duplicate SIZE= parameter'],
    ['MAIL FROM:<a@b> SIZE', '501 5.5.4 Missing SIZE= parameter value'],
    ['MAIL FROM:<a@b> SIZE=', '555 5.5.4 Unsupported SIZE parameter value'],
    ['MAIL FROM:<a@b> SIZE=1k', '555 5.5.4 Unsupported SIZE parameter value'],
    ['MAIL FROM:<a@b> SIZE=9223372036854775808', '555 5.5.4 Unsupported SIZE parameter value'],
  ])('%j → %s', (line, expected) => {
    expect(replyOf(parseCommandLine(line, limit))).toBe(expected);
  });
});
