import { describe, it, expect } from 'vitest';
import { recipientUser, isSameRecipient } from '../../src/lmtp/recipient.js';
import { parseRecipientPath } from '../../src/message/smtp-address.js';
import type { RcptRequest } from '../../src/lmtp/types.js';

const path = (text: string) => parseRecipientPath(text, 'RCPT');

describe('recipientUser', () => {
  // the usernames in Dovecot 2.3.19's "User doesn't exist: <username>" replies
  it.each([
    ['<alice@example.com>', '+', 'alice@example.com', ''],
    ['<Nobody+x@Example.com>', '+', 'Nobody@Example.com', 'x'],
    ['<alice-x+y@example.com>', '+-', 'alice@example.com', 'x+y'],
    ['<alice+x-y@example.com>', '+-', 'alice@example.com', 'x-y'],
    ['<carol+@example.com>', '+', 'carol@example.com', ''],
    ['<+x@example.com>', '+', '@example.com', 'x'],
    ['<"no body+x"@example.com>', '+', 'no body@example.com', 'x'],
    ['<"alice+q r"@example.com>', '+', 'alice@example.com', 'q r'],
    ['<"no\\"b"@example.com>', '+', 'no"b@example.com', ''],
    ['<nodomain>', '+', 'nodomain', ''],
    ['<user+d>', '+', 'user', 'd'],
    ['<alice@[127.0.0.1]>', '+', 'alice@[127.0.0.1]', ''],
    ['<alice+x@example.com>', '', 'alice+x@example.com', ''],
    ['<"a@b+c"@example.com>', '+', '"a@b"@example.com', 'c'],
  ])('%s with delimiter %j → %j, detail %j', (rcpt, delimiters, username, detail) => {
    expect(recipientUser(path(rcpt), delimiters)).toEqual({ username, detail });
  });
});

describe('isSameRecipient', () => {
  const rcpt = (text: string, orcpt?: string, index = 1): RcptRequest => ({ address: path(text), index, ...(orcpt !== undefined && { orcpt }) });

  // Dovecot: carol@EXAMPLE.COM repeats carol@example.com (one delivery, a copied reply); Carol@example.com does not
  it.each([
    ['<carol@example.com>', '<carol@example.com>', true],
    ['<carol@example.com>', '<carol@EXAMPLE.COM>', true],
    ['<carol@example.com>', '<Carol@example.com>', false],
    ['<carol@example.com>', '<carol+x@example.com>', false],
    ['<carol>', '<carol>', true],
    ['<carol>', '<carol@example.com>', false],
  ])('%s and %s → %s', (a, b, same) => {
    expect(isSameRecipient(rcpt(a, undefined, 1), rcpt(b, undefined, 2))).toBe(same);
  });

  it('a different ORCPT makes a different recipient', () => {
    expect(isSameRecipient(rcpt('<c@x.org>', 'o@x.org'), rcpt('<c@x.org>', 'o@x.org', 2))).toBe(true);
    expect(isSameRecipient(rcpt('<c@x.org>', 'o@x.org'), rcpt('<c@x.org>', undefined, 2))).toBe(false);
    expect(isSameRecipient(rcpt('<c@x.org>', 'o@x.org'), rcpt('<c@x.org>', 'p@x.org', 2))).toBe(false);
  });
});
