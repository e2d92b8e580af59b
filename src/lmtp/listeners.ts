// What `dovetail lmtp` reads from dovecot.conf's `service lmtp {}` and from
// the few settings around it, as Dovecot 2.3's master does (master-settings.c,
// service.c, checked with doveconf 2.3.19): where to listen, the identity to
// run as, how many clients at once, and the limits of one connection. Pure:
// config tree and settings in, values out; binding is server.ts's business.
//
// Dovecot's rules kept here:
// - The service always has its default `unix_listener lmtp` (mode 0666) under
//   base_dir (default /run/dovecot), besides those the config adds;
//   `unix_listener NAME { mode = 0 }` disables one. A relative path is under
//   base_dir. A mode starting with 0 is octal, any other is decimal.
// - `inet_listener NAME { address port }`: port 0 (the default) disables it;
//   an empty address means the `listen` setting (default "*, ::"); addresses
//   are split on spaces and commas; "*" is every IPv4 address, "::" (or
//   "[::]") every IPv6 one, anything else an address or a host name.
// - Several `service lmtp {}` blocks, and listener blocks of the same name,
//   merge, later values winning.
// - Clients at once: process_limit (0 = default_process_limit, 100) times
//   client_limit (0 = default_client_limit, 1000; lmtp's own default is 1),
//   so 100 by default, the number of lmtp processes Dovecot would run.
//
// Limits of one connection (Dovecot 2.3's lmtp, lmtp-client.c and lib-smtp):
// no recipient limit in Dovecot (we stop at 1000 per transaction), 5 minutes
// idle, a command's parameters up to 4096 bytes (`VRFY` + 4096 bytes passes,
// one more byte is "500 5.5.2 Line too long"), and no message size limit.
// A size limit is a Dovetail-only setting, `lmtp_max_message_size` (a size:
// "50M", "1 G", bytes; 0 = none, the default). Dovecot 2.3 refuses a file
// holding a setting it does not know, so give it as
// `-o lmtp_max_message_size=50M` on dovetail's command line (the systemd
// unit's ExecStart), or in a config file only Dovetail reads.
//
// Fails with a temporary DeliveryFailure naming the file and line, as
// settings.ts does ("Error in configuration file F line N: Invalid number:
// 09", "Invalid port number 70000"), or naming the -o parameter.

import type { ConfigEntry, ConfigSection } from '../config/parse.js';
import { configError } from '../config/parse.js';
import { valueProblem } from '../config/settings.js';
import { temporary } from '../deliver/failure.js';
import type { ConnectionLimits } from './types.js';

export type ListenerSpec = UnixListenerSpec | InetListenerSpec;

export interface UnixListenerSpec {
  kind: 'unix';
  /** absolute */
  path: string;
  /** permission bits of the socket file */
  mode: number;
  /** owner and group to give the socket file; "" = leave as created */
  user: string;
  group: string;
}

export interface InetListenerSpec {
  kind: 'inet';
  /** the inet_listener's name, for messages */
  name: string;
  /** one address as configured: "*", "::", an IP address (IPv6 without brackets) or a host name */
  address: string;
  port: number;
}

export interface LmtpServiceConfig {
  listeners: ListenerSpec[];
  /** `service lmtp { user }`: the account to run as after binding; "" = stay as started */
  user: string;
  /** `service lmtp { group }`: overrides the user's primary group; "" = the user's */
  group: string;
  /** clients served at once (process_limit × client_limit) */
  maxClients: number;
  /** what maxClients came from, for the log: "process_limit (100) × client_limit (1)" */
  maxClientsOrigin: string;
}

export const DEFAULT_BASE_DIR = '/run/dovecot';
export const DEFAULT_LISTEN = '*, ::';

/** Dovecot's `service lmtp {}` defaults (doveconf -d service/lmtp). */
const DEFAULT_UNIX_LISTENER = { name: 'lmtp', mode: 0o666 };
const DEFAULT_LISTENER_MODE = 0o600;
const LMTP_CLIENT_LIMIT = 1;
const DEFAULT_PROCESS_LIMIT = 100;
const DEFAULT_CLIENT_LIMIT = 1000;

/** Recipients per transaction (Dovecot has no limit; a bound keeps one transaction's memory bounded). */
export const MAX_RECIPIENTS = 1000;
/** Dovecot's lmtp closes a client idle for 5 minutes (CLIENT_IDLE_TIMEOUT_MSECS). */
export const IDLE_TIMEOUT_MS = 5 * 60 * 1000;
/** A 4-letter verb, a space and lib-smtp's 4096 bytes of parameters (SMTP_COMMAND_DEFAULT_MAX_PARAMETERS_SIZE). */
export const MAX_COMMAND_LENGTH = 4 + 1 + 4096;

/** A listener block after merging: its settings by key, the origin of each for messages. */
interface MergedBlock {
  name: string;
  entries: Map<string, ConfigEntry>;
}

/** Every `service lmtp {}` at top level, merged; listener blocks merged by type and name. */
function mergedService(root: ConfigSection): { entries: Map<string, ConfigEntry>; unix: MergedBlock[]; inet: MergedBlock[] } {
  const entries = new Map<string, ConfigEntry>();
  // the default socket is always there, first
  const unix = new Map<string, MergedBlock>([[DEFAULT_UNIX_LISTENER.name, { name: DEFAULT_UNIX_LISTENER.name, entries: new Map() }]]);
  const inet = new Map<string, MergedBlock>();
  for (const service of root.sections) {
    if (service.type !== 'service' || service.name !== 'lmtp') continue;
    for (const entry of service.entries) entries.set(entry.key, entry);
    for (const listener of service.sections) {
      const blocks = listener.type === 'unix_listener' ? unix : listener.type === 'inet_listener' ? inet : undefined;
      if (blocks === undefined) continue;
      const block = blocks.get(listener.name) ?? { name: listener.name, entries: new Map() };
      blocks.set(listener.name, block);
      for (const entry of listener.entries) block.entries.set(entry.key, entry);
    }
  }
  return { entries, unix: [...unix.values()], inet: [...inet.values()] };
}

/** A whole number setting, checked as Dovecot checks it. */
function numberOf(entry: ConfigEntry | undefined, fallback: number): number {
  if (entry === undefined) return fallback;
  const problem = valueProblem(entry.value, 'number');
  if (problem !== undefined) throw configError(entry.origin, problem);
  return Number(entry.value);
}

/** Dovecot's octal settings: octal when written with a leading 0, else decimal. */
function modeOf(entry: ConfigEntry | undefined, fallback: number): number {
  if (entry === undefined) return fallback;
  if (!entry.value.startsWith('0')) return numberOf(entry, fallback);
  if (!/^0[0-7]*$/.test(entry.value)) throw configError(entry.origin, `Invalid number: ${entry.value}`);
  return parseInt(entry.value, 8);
}

/** A port: 0 (disabled, the default) to 65535. */
function portOf(entry: ConfigEntry | undefined): number {
  if (entry === undefined) return 0;
  if (!/^\d+$/.test(entry.value) || Number(entry.value) > 65535) throw configError(entry.origin, `Invalid port number ${entry.value}`);
  return Number(entry.value);
}

function textOf(entry: ConfigEntry | undefined): string {
  return entry?.value ?? '';
}

/** The listeners, identity and client limit of `service lmtp` in `root`; `raw` holds the top-level settings (base_dir, listen, default_*_limit). */
export function lmtpServiceConfig(root: ConfigSection, raw: ReadonlyMap<string, string>): LmtpServiceConfig {
  const service = mergedService(root);
  const baseDir = raw.get('base_dir') || DEFAULT_BASE_DIR;
  const listen = raw.get('listen') ?? DEFAULT_LISTEN;
  const listeners: ListenerSpec[] = [];
  for (const block of service.unix) {
    const isDefault = block.name === DEFAULT_UNIX_LISTENER.name;
    const mode = modeOf(block.entries.get('mode'), isDefault ? DEFAULT_UNIX_LISTENER.mode : DEFAULT_LISTENER_MODE);
    if (mode === 0) continue; // disabled
    listeners.push({
      kind: 'unix',
      path: block.name.startsWith('/') ? block.name : `${baseDir.replace(/\/+$/, '')}/${block.name}`,
      mode: mode & 0o7777,
      user: textOf(block.entries.get('user')),
      group: textOf(block.entries.get('group')),
    });
  }
  for (const block of service.inet) {
    const port = portOf(block.entries.get('port'));
    if (port === 0) continue; // disabled
    const addresses = textOf(block.entries.get('address')) || listen;
    for (const address of splitAddresses(addresses)) listeners.push({ kind: 'inet', name: block.name, address, port });
  }
  const processLimit = numberOf(service.entries.get('process_limit'), 0) || defaultLimit(raw, 'default_process_limit', DEFAULT_PROCESS_LIMIT);
  const clientLimit = numberOf(service.entries.get('client_limit'), LMTP_CLIENT_LIMIT) || defaultLimit(raw, 'default_client_limit', DEFAULT_CLIENT_LIMIT);
  return {
    listeners,
    user: textOf(service.entries.get('user')),
    group: textOf(service.entries.get('group')),
    maxClients: processLimit * clientLimit,
    maxClientsOrigin: `process_limit (${processLimit}) × client_limit (${clientLimit})`,
  };
}

function defaultLimit(raw: ReadonlyMap<string, string>, key: string, fallback: number): number {
  const value = raw.get(key);
  if (value === undefined) return fallback;
  const problem = valueProblem(value, 'number');
  if (problem !== undefined) throw temporary(`${key}: ${problem}`);
  return Number(value) || fallback;
}

/** `address` split as Dovecot splits it; "[::]" is "::", brackets around other IPv6 addresses dropped. */
export function splitAddresses(addresses: string): string[] {
  return addresses
    .split(/[ ,]+/)
    .filter((address) => address !== '')
    .map((address) => (address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address));
}

/** The limits of each connection; `raw` holds the effective settings, -o included. */
export function connectionLimits(raw: ReadonlyMap<string, string>): ConnectionLimits {
  const size = raw.get('lmtp_max_message_size');
  return {
    maxRecipients: MAX_RECIPIENTS,
    maxMessageSize: size === undefined ? 0 : parseSize(size, 'lmtp_max_message_size'),
    idleTimeoutMs: IDLE_TIMEOUT_MS,
    maxCommandLength: MAX_COMMAND_LENGTH,
  };
}

const SIZE_UNITS: Readonly<Record<string, number>> = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** A Dovecot size ("0", "4096", "50M", "10 kB", "1G"; units of 1024), in bytes. */
export function parseSize(value: string, key: string): number {
  const match = /^(\d+) *(?:([kmgtKMGT])[bB]?|[bB])?$/.exec(value);
  const bytes = match === null ? NaN : Number(match[1]) * SIZE_UNITS[(match[2] ?? 'b').toLowerCase()];
  if (!Number.isSafeInteger(bytes)) throw temporary(`${key}: Invalid size: ${value}`);
  return bytes;
}

/** How a listener is named in the log: unix:/path, inet:127.0.0.1:24, inet:[::1]:24. */
export function describeListener(spec: ListenerSpec): string {
  if (spec.kind === 'unix') return `unix:${spec.path}`;
  return `inet:${spec.address.includes(':') ? `[${spec.address}]` : spec.address}:${spec.port}`;
}
