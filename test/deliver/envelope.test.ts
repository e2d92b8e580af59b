import { describe, it, expect } from 'vitest';
import { resolveEnvelope, firstAddressIn, type EnvelopeSources } from '../../src/deliver/envelope.js';
import { DeliveryFailure } from '../../src/deliver/failure.js';

function sources(overrides: Partial<EnvelopeSources> = {}): EnvelopeSources {
  return {
    request: {},
    message: { header: Buffer.from('X-Original-To: orig@example.org\nSubject: s\n') },
    username: 'bob',
    hostname: 'mx.example.org',
    settings: { lda_original_recipient_header: '' },
    ...overrides,
  };
}

describe('resolveEnvelope', () => {
  it('-a, then header, then user@hostname', () => {
    const a = { localpart: 'a', domain: 'example.org' };
    expect(resolveEnvelope(sources({ request: { originalRecipient: a } })).originalRecipient).toEqual(a);
    expect(
      resolveEnvelope(sources({ settings: { lda_original_recipient_header: 'x-original-to' } })).originalRecipient,
    ).toEqual({ localpart: 'orig', domain: 'example.org' });
    expect(resolveEnvelope(sources()).originalRecipient).toEqual({ localpart: 'bob', domain: 'mx.example.org' });
    expect(resolveEnvelope(sources({ username: 'bob@dom.example' })).originalRecipient).toEqual({
      localpart: 'bob',
      domain: 'dom.example',
    });
  });

  it('-r is the final recipient, else the original one', () => {
    const r = { localpart: 'r', domain: 'example.org' };
    expect(resolveEnvelope(sources({ request: { finalRecipient: r } })).finalRecipient).toEqual(r);
    expect(resolveEnvelope(sources()).finalRecipient).toEqual({ localpart: 'bob', domain: 'mx.example.org' });
  });

  it('sender: -f wins over the From_ line, which wins over nothing', () => {
    const f = { localpart: 'f', domain: 'example.org' };
    const fromLine = { header: Buffer.alloc(0), fromLineSender: 'line@example.org' };
    expect(resolveEnvelope(sources({ request: { sender: f }, message: fromLine })).sender).toEqual(f);
    expect(resolveEnvelope(sources({ request: { sender: null }, message: fromLine })).sender).toBeNull();
    expect(resolveEnvelope(sources({ message: fromLine })).sender).toEqual({ localpart: 'line', domain: 'example.org' });
    expect(resolveEnvelope(sources()).sender).toBeUndefined();
  });

  // dovecot-lda 2.3.19 (seen: USER='a b', 'x@y@example.org', '@example.org' deliver; 'bad@dom ain' exits 64)
  it.each([
    ['a b', { localpart: 'a b', domain: 'host.example' }],
    ['x@y@example.org', { localpart: 'x@y', domain: 'example.org' }],
    ['a b@example.org', { localpart: 'a b', domain: 'example.org' }],
    ['@example.org', { localpart: '', domain: 'example.org' }],
  ])('the username %j becomes an address as dovecot-lda splits it: at the last @', (username, address) => {
    expect(resolveEnvelope(sources({ username, hostname: 'host.example' })).originalRecipient).toEqual(address);
  });

  it('a username whose domain is no domain is a usage error', () => {
    expect(() => resolveEnvelope(sources({ username: 'bad@dom ain' }))).toThrow(DeliveryFailure);
  });
});

describe('firstAddressIn', () => {
  it.each([
    ['a@b', 'a@b'],
    ['Name <a@b>, c@d', 'a@b'],
    ['  x@y (comment)', 'x@y'],
    ['no address', undefined],
  ])('%s', (value, address) => {
    expect(firstAddressIn(value)).toBe(address);
  });
});
