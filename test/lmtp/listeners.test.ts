// `service lmtp {}` → listener specs, identity and client limit, and the
// per-connection limits; expectations checked against doveconf 2.3.19 -a on
// the same input (default `unix_listener lmtp` mode 0666 kept beside the
// configured ones, mode 600 read as decimal 01130, port 0 disabled, "Invalid
// port number 70000", "Invalid number: 09").

import { describe, it, expect } from 'vitest';
import { parseConfigFile } from '../../src/config/parse.js';
import { resolveSettings } from '../../src/config/settings.js';
import {
  connectionLimits,
  describeListener,
  lmtpServiceConfig,
  parseSize,
  splitAddresses,
  IDLE_TIMEOUT_MS,
  MAX_COMMAND_LENGTH,
  MAX_RECIPIENTS,
  type ListenerSpec,
  type LmtpServiceConfig,
  type UnixListenerSpec,
} from '../../src/lmtp/listeners.js';
import { DeliveryFailure } from '../../src/deliver/failure.js';
import { memoryFs } from '../config/memory-fs.js';
import { thrown } from '../helpers/thrown.js';

const CONF = '/etc/dovecot/dovecot.conf';

function serviceFor(text: string, overrides: string[] = [], more: Record<string, string> = {}): LmtpServiceConfig {
  const fs = memoryFs({ [CONF]: text, ...more });
  const tree = parseConfigFile(CONF, { fs });
  return lmtpServiceConfig(tree, resolveSettings(tree, 'lmtp', overrides, fs).raw);
}

const defaultSocket = (baseDir = '/run/dovecot'): UnixListenerSpec => ({ kind: 'unix', path: `${baseDir}/lmtp`, mode: 0o666, user: '', group: '' });

describe('listeners', () => {
  it.each<[string, string, ListenerSpec[]]>([
    ['no service block: the default socket under the default base_dir', '', [defaultSocket()]],
    ['base_dir moves the default socket', 'base_dir = /var/run/dc/', [defaultSocket('/var/run/dc')]],
    [
      "Postfix's private socket beside the default one, mode 0600 by default",
      'service lmtp {\n unix_listener /var/spool/postfix/private/dovecot-lmtp {\n  user = postfix\n  group = postfix\n }\n}',
      [defaultSocket(), { kind: 'unix', path: '/var/spool/postfix/private/dovecot-lmtp', mode: 0o600, user: 'postfix', group: 'postfix' }],
    ],
    [
      'a relative path is under base_dir',
      'base_dir = /srv/run\nservice lmtp {\n unix_listener sub/lmtp-in {\n  mode = 0660\n }\n}',
      [defaultSocket('/srv/run'), { kind: 'unix', path: '/srv/run/sub/lmtp-in', mode: 0o660, user: '', group: '' }],
    ],
    ['mode = 0 disables the default socket', 'service lmtp {\n unix_listener lmtp {\n  mode = 0\n }\n}', []],
    ['mode without a leading 0 is decimal, as Dovecot reads it', 'service lmtp {\n unix_listener lmtp {\n  mode = 600\n }\n}', [{ ...defaultSocket(), mode: 0o1130 }]],
    [
      'an inet listener with one address',
      'service lmtp {\n inet_listener lmtp {\n  address = 127.0.0.1\n  port = 24\n }\n}',
      [defaultSocket(), { kind: 'inet', name: 'lmtp', address: '127.0.0.1', port: 24 }],
    ],
    [
      'several addresses, commas and spaces, brackets dropped',
      'service lmtp {\n inet_listener lmtp {\n  address = 127.0.0.1, [::1]  localhost\n  port = 2424\n }\n}',
      [
        defaultSocket(),
        { kind: 'inet', name: 'lmtp', address: '127.0.0.1', port: 2424 },
        { kind: 'inet', name: 'lmtp', address: '::1', port: 2424 },
        { kind: 'inet', name: 'lmtp', address: 'localhost', port: 2424 },
      ],
    ],
    [
      'no address: the listen setting (default "*, ::")',
      'service lmtp {\n inet_listener lmtp {\n  port = 24\n }\n}',
      [defaultSocket(), { kind: 'inet', name: 'lmtp', address: '*', port: 24 }, { kind: 'inet', name: 'lmtp', address: '::', port: 24 }],
    ],
    [
      'no address: listen as set',
      'listen = 192.0.2.1\nservice lmtp {\n inet_listener lmtp {\n  port = 24\n }\n}',
      [defaultSocket(), { kind: 'inet', name: 'lmtp', address: '192.0.2.1', port: 24 }],
    ],
    ['port 0 or none disables an inet listener', 'service lmtp {\n inet_listener a {\n  port = 0\n }\n inet_listener b {\n  address = 127.0.0.1\n }\n}', [defaultSocket()]],
    [
      'blocks merge, later values winning',
      'service lmtp {\n inet_listener lmtp {\n  address = 127.0.0.1\n  port = 24\n }\n}\nservice lmtp {\n inet_listener lmtp {\n  port = 2525\n }\n unix_listener lmtp {\n  mode = 0600\n }\n}',
      [{ ...defaultSocket(), mode: 0o600 }, { kind: 'inet', name: 'lmtp', address: '127.0.0.1', port: 2525 }],
    ],
    [
      'other services and protocol sections are not read',
      'service imap-login {\n inet_listener imap {\n  port = 143\n }\n}\nprotocol lmtp {\n service lmtp {\n  inet_listener x {\n   port = 1\n  }\n }\n}',
      [defaultSocket()],
    ],
  ])('%s', (_name, text, expected) => {
    expect(serviceFor(text).listeners).toEqual(expected);
  });

  it('reads listeners from !include files where they stand', () => {
    const service = serviceFor('!include conf.d/*.conf', [], {
      '/etc/dovecot/conf.d/10-master.conf': 'service lmtp {\n inet_listener lmtp {\n  address = ::1\n  port = 24\n }\n}',
    });
    expect(service.listeners).toEqual([defaultSocket(), { kind: 'inet', name: 'lmtp', address: '::1', port: 24 }]);
  });

  it.each([
    ['port = 70000', 'inet_listener x {\n  port = 70000\n }', 'Error in configuration file /etc/dovecot/dovecot.conf line 3: Invalid port number 70000'],
    ['port = abc', 'inet_listener x {\n  port = abc\n }', 'Error in configuration file /etc/dovecot/dovecot.conf line 3: Invalid port number abc'],
    ['mode = 09', 'unix_listener x {\n  mode = 09\n }', 'Error in configuration file /etc/dovecot/dovecot.conf line 3: Invalid number: 09'],
    ['mode = rw', 'unix_listener x {\n  mode = rw\n }', 'Error in configuration file /etc/dovecot/dovecot.conf line 3: Invalid number rw: Not a valid number'],
    ['process_limit = x', 'process_limit = x', 'Error in configuration file /etc/dovecot/dovecot.conf line 2: Invalid number x: Not a valid number'],
    ['client_limit = -1', 'client_limit = -1', 'Error in configuration file /etc/dovecot/dovecot.conf line 2: Invalid number -1: Number too small'],
  ])('refuses %s as doveconf does', (_name, body, message) => {
    const failure = thrown(DeliveryFailure, () => serviceFor(`service lmtp {\n ${body}\n}`));
    expect(failure.kind).toBe('temporary');
    expect(failure.message).toBe(message);
  });
});

describe('identity and client limit', () => {
  it.each<[string, string, Omit<LmtpServiceConfig, 'listeners'>]>([
    ['defaults: stay as started, 100 × 1 clients', '', { user: '', group: '', maxClients: 100, maxClientsOrigin: 'process_limit (100) × client_limit (1)' }],
    [
      'user, group and limits',
      'service lmtp {\n user = vmail\n group = mail\n process_limit = 20\n client_limit = 5\n}',
      { user: 'vmail', group: 'mail', maxClients: 100, maxClientsOrigin: 'process_limit (20) × client_limit (5)' },
    ],
    [
      '0 means the default_* settings',
      'default_process_limit = 7\ndefault_client_limit = 3\nservice lmtp {\n process_limit = 0\n client_limit = 0\n}',
      { user: '', group: '', maxClients: 21, maxClientsOrigin: 'process_limit (7) × client_limit (3)' },
    ],
  ])('%s', (_name, text, expected) => {
    const { listeners: _listeners, ...rest } = serviceFor(text);
    expect(rest).toEqual(expected);
  });
});

describe('connection limits', () => {
  it.each<[string, string[], number]>([
    ['no size limit by default', [], 0],
    ['-o lmtp_max_message_size in bytes', ['lmtp_max_message_size=4096'], 4096],
    ['with a unit', ['lmtp_max_message_size=50M'], 50 * 1024 * 1024],
    ['0 is none', ['lmtp_max_message_size=0'], 0],
  ])('%s', (_name, overrides, maxMessageSize) => {
    const fs = memoryFs({ [CONF]: '' });
    const raw = resolveSettings(parseConfigFile(CONF, { fs }), 'lmtp', overrides, fs).raw;
    expect(connectionLimits(raw)).toEqual({ maxRecipients: MAX_RECIPIENTS, maxMessageSize, idleTimeoutMs: IDLE_TIMEOUT_MS, maxCommandLength: MAX_COMMAND_LENGTH });
  });

  it("matches Dovecot's lmtp: 5 minutes idle, VRFY with 4096 bytes of parameters passes", () => {
    expect(IDLE_TIMEOUT_MS).toBe(300_000);
    expect(MAX_COMMAND_LENGTH).toBe(`VRFY ${'x'.repeat(4096)}`.length);
  });

  it.each<[string, number]>([
    ['0', 0],
    ['4096', 4096],
    ['10k', 10240],
    ['10 kB', 10240],
    ['10KB', 10240],
    ['3M', 3 * 1024 ** 2],
    ['1G', 1024 ** 3],
    ['2 T', 2 * 1024 ** 4],
    ['512B', 512],
  ])('size %s', (text, bytes) => {
    expect(parseSize(text, 'x')).toBe(bytes);
  });

  it.each(['', 'M', '10 X', '-1', '1.5M', '10 MiB'])('refuses size %j', (text) => {
    const failure = thrown(DeliveryFailure, () => parseSize(text, 'lmtp_max_message_size'));
    expect(failure.message).toBe(`lmtp_max_message_size: Invalid size: ${text}`);
  });
});

describe('names', () => {
  it.each<[ListenerSpec, string]>([
    [defaultSocket(), 'unix:/run/dovecot/lmtp'],
    [{ kind: 'inet', name: 'x', address: '127.0.0.1', port: 24 }, 'inet:127.0.0.1:24'],
    [{ kind: 'inet', name: 'x', address: '::1', port: 24 }, 'inet:[::1]:24'],
    [{ kind: 'inet', name: 'x', address: '*', port: 24 }, 'inet:*:24'],
  ])('%j is %s', (spec, text) => {
    expect(describeListener(spec)).toBe(text);
  });

  it.each<[string, string[]]>([
    ['*, ::', ['*', '::']],
    ['[::]', ['::']],
    [' a,,b  c ', ['a', 'b', 'c']],
    ['', []],
  ])('splits %j', (text, addresses) => {
    expect(splitAddresses(text)).toEqual(addresses);
  });
});
