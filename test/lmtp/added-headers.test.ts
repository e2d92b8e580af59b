import { describe, it, expect } from 'vitest';
import { buildAddedHeaders, heloDomain, type AddedHeadersInput } from '../../src/lmtp/added-headers.js';
import { parseRecipientPath, type SmtpAddress } from '../../src/message/smtp-address.js';

const address = (text: string): SmtpAddress => parseRecipientPath(text, 'test');
const DATE = new Date(Date.UTC(2026, 11, 1, 0, 16, 55));

function input(overrides: Partial<AddedHeadersInput> = {}): AddedHeadersInput {
  return {
    sender: null,
    recipients: [{ address: address('Alice@Example.com') }],
    deliveryAddress: 'final',
    addReceived: true,
    helo: 'client.example',
    remoteAddress: '127.0.0.1',
    hostname: 'mx.example.com',
    transactionId: 'mBfqFfURDmvvdgAAg+zDdQ',
    date: DATE,
    zoneOffsetMinutes: 0,
    ...overrides,
  };
}

const lines = (...parts: string[]) => parts.map((part) => `${part}\r\n`).join('');

// Each expectation is what Dovecot 2.3.19's lmtp stored on disk for the same session (LF there, CRLF here before readMessage).
describe('buildAddedHeaders', () => {
  it.each<[string, Partial<AddedHeadersInput>, string]>([
    [
      'one recipient, the null sender',
      {},
      lines(
        'Return-Path: <>',
        'Delivered-To: Alice@Example.com',
        'Received: from client.example ([127.0.0.1])',
        '\tby mx.example.com with LMTP',
        '\tid mBfqFfURDmvvdgAAg+zDdQ',
        '\t(envelope-from <>)',
        '\tfor <Alice@Example.com>; Tue, 01 Dec 2026 00:16:55 +0000',
      ),
    ],
    [
      'two recipients: no Delivered-To, no "for"',
      { sender: address('s@x.org'), recipients: [{ address: address('a@x.org') }, { address: address('b@x.org') }] },
      lines(
        'Return-Path: <s@x.org>',
        'Received: from client.example ([127.0.0.1])',
        '\tby mx.example.com with LMTP',
        '\tid mBfqFfURDmvvdgAAg+zDdQ',
        '\t(envelope-from <s@x.org>); Tue, 01 Dec 2026 00:16:55 +0000',
      ),
    ],
    [
      'the same recipient twice counts as two',
      { recipients: [{ address: address('a@x.org') }, { address: address('a@x.org') }], addReceived: false },
      lines('Return-Path: <>'),
    ],
    [
      'a sender and a recipient that need quotes; a LHLO that is no domain',
      { sender: address('"a b"@x.org'), recipients: [{ address: address('"alice+q r"@example.com') }], helo: 'foo!bar', transactionId: 'T:T2' },
      lines(
        'Return-Path: <"a b"@x.org>',
        'Delivered-To: "alice+q r"@example.com',
        'Received: from unknown ([127.0.0.1])',
        '\tby mx.example.com with LMTP',
        '\tid T:T2',
        '\t(envelope-from <"a b"@x.org>)',
        '\tfor <"alice+q r"@example.com>; Tue, 01 Dec 2026 00:16:55 +0000',
      ),
    ],
    [
      'a UNIX socket: no address',
      { remoteAddress: '', helo: 'me.example', addReceived: true },
      lines(
        'Return-Path: <>',
        'Delivered-To: Alice@Example.com',
        'Received: from me.example',
        '\tby mx.example.com with LMTP',
        '\tid mBfqFfURDmvvdgAAg+zDdQ',
        '\t(envelope-from <>)',
        '\tfor <Alice@Example.com>; Tue, 01 Dec 2026 00:16:55 +0000',
      ),
    ],
    [
      'IPv6, and an IPv4 client of a dual-stack socket',
      { remoteAddress: '::1', recipients: [], addReceived: true },
      lines('Return-Path: <>', 'Received: from client.example ([::1])', '\tby mx.example.com with LMTP', '\tid mBfqFfURDmvvdgAAg+zDdQ', '\t(envelope-from <>); Tue, 01 Dec 2026 00:16:55 +0000'),
    ],
    [
      'lmtp_hdr_delivery_address = original with an ORCPT',
      { deliveryAddress: 'original', recipients: [{ address: address('carol@example.com'), orcpt: address('orig+x@example.org') }], helo: '[127.0.0.1]' },
      lines(
        'Return-Path: <>',
        'Delivered-To: orig+x@example.org',
        'Received: from [127.0.0.1] ([127.0.0.1])',
        '\tby mx.example.com with LMTP',
        '\tid mBfqFfURDmvvdgAAg+zDdQ',
        '\t(envelope-from <>)',
        '\tfor <orig+x@example.org>; Tue, 01 Dec 2026 00:16:55 +0000',
      ),
    ],
    [
      'original without an ORCPT: no Delivered-To, "for" the RCPT path',
      { deliveryAddress: 'original', recipients: [{ address: address('carol@example.com') }] },
      lines(
        'Return-Path: <>',
        'Received: from client.example ([127.0.0.1])',
        '\tby mx.example.com with LMTP',
        '\tid mBfqFfURDmvvdgAAg+zDdQ',
        '\t(envelope-from <>)',
        '\tfor <carol@example.com>; Tue, 01 Dec 2026 00:16:55 +0000',
      ),
    ],
    [
      'none: neither Delivered-To nor "for"',
      { deliveryAddress: 'none' },
      lines(
        'Return-Path: <>',
        'Received: from client.example ([127.0.0.1])',
        '\tby mx.example.com with LMTP',
        '\tid mBfqFfURDmvvdgAAg+zDdQ',
        '\t(envelope-from <>); Tue, 01 Dec 2026 00:16:55 +0000',
      ),
    ],
    ['lmtp_add_received_header = no', { addReceived: false }, lines('Return-Path: <>', 'Delivered-To: Alice@Example.com')],
  ])('%s', (_name, overrides, expected) => {
    expect(buildAddedHeaders(input(overrides))).toBe(expected);
  });

  it('writes an IPv4-mapped client address as IPv4', () => {
    expect(buildAddedHeaders(input({ remoteAddress: '::ffff:192.0.2.7' }))).toContain('Received: from client.example ([192.0.2.7])\r\n');
  });
});

describe('heloDomain', () => {
  // Dovecot writes the domain or literal, else "unknown"
  it.each([
    ['client.example', 'client.example'],
    ['x_y.example', 'x_y.example'],
    ['-odd-', '-odd-'],
    ['[127.0.0.1]', '[127.0.0.1]'],
    ['[IPv6:::1]', '[IPv6:::1]'],
    ['client.example trailing words', 'client.example'],
    ['foo!bar', undefined],
    ['a..b', undefined],
    ['example.com.', undefined],
    ['a@b', undefined],
    ['a>b', undefined],
    ['[1.2.3.999]', undefined],
    ['[IPv6:zz]', undefined],
    ['tab\there', undefined],
    [' leading', undefined],
    ['', undefined],
    ['bücher.example', undefined],
  ])('%j → %j', (helo, domain) => {
    expect(heloDomain(helo)).toBe(domain);
  });
});
