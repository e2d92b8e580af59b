// Shared set-up for the interpreter tests: compile Sieve source with the real
// front end, run it against a message with fixed defaults, and describe the
// result in one line per action (close to what Pigeonhole's sieve-test
// prints), so test tables can say what Pigeonhole said.

import { compileSieve } from '../../src/sieve/compile.js';
import { ALL_EXTENSIONS } from '../../src/sieve/extensions.js';
import { isSameMailbox, runSieve } from '../../src/sieve/interpreter.js';
import type { SieveAction, SieveResult, SieveRunInput } from '../../src/sieve/run-types.js';

/** The message most tests read (m1.eml of the Pigeonhole runs). */
export const MESSAGE = [
  'Return-Path: <alice@example.com>',
  'From: Alice <alice@example.com>',
  'To: Bob <bob+box@example.org>, carol@example.net',
  'Cc: dave@example.net',
  'Subject: Hello =?UTF-8?Q?W=C3=B6rld?=',
  'Date: Tue, 1 Apr 2025 10:20:30 +0200',
  'Message-ID: <abc123@example.com>',
  'X-Spam: yes',
  'X-Spam: no',
  '',
  'Hello body text.',
  '',
].join('\n');

export interface RunOptions {
  /** the whole message, header and body, LF line ends */
  message?: string;
  envelope?: Partial<SieveRunInput['envelope']>;
  limits?: Partial<SieveRunInput['limits']>;
  defaultMailbox?: string;
  recipientDelimiter?: string;
  /** extensions the script may require (compile) and ihave answers from; default all */
  enabledExtensions?: readonly string[];
  environment?: Record<string, string>;
  now?: Date;
  localZoneOffsetMinutes?: number;
  /** scripts for include, by "personal:NAME" / "global:NAME" */
  includes?: Record<string, string>;
  /** mailboxes mailboxexists finds */
  mailboxes?: readonly string[];
  /** duplicate ids the host has seen */
  seenIds?: readonly string[];
  /** leave the body out of the view (as when no script needs it) */
  withoutBody?: boolean;
}

export interface Run {
  result: SieveResult;
  /** duplicateSeen calls, in order */
  duplicateQueries: { id: string; periodSeconds: number }[];
}

export const DEFAULT_LIMITS: SieveRunInput['limits'] = {
  maxActions: 32,
  maxRedirects: 4,
  maxCpuMs: 5000,
  vacationMinPeriodSeconds: 24 * 60 * 60,
  vacationDefaultPeriodSeconds: 7 * 24 * 60 * 60,
  vacationMaxPeriodSeconds: 0,
};

export function compile(source: string, includes: Record<string, string> = {}, extensions: readonly string[] = ALL_EXTENSIONS) {
  return compileSieve(source, {
    scriptName: 'script',
    enabledExtensions: new Set(extensions),
    maxScriptSize: 1 << 20,
    loadInclude: (location, name) => includes[`${location}:${name}`],
  });
}

export function runScript(source: string, options: RunOptions = {}): Run {
  const text = options.message ?? MESSAGE;
  const split = text.indexOf('\n\n');
  const header = Buffer.from(split < 0 ? text : text.slice(0, split + 1));
  const body = Buffer.from(split < 0 ? '' : text.slice(split + 2));
  const duplicateQueries: Run['duplicateQueries'] = [];
  const result = runSieve({
    script: compile(source, options.includes, options.enabledExtensions),
    message: { header, size: Buffer.byteLength(text), body: options.withoutBody ? undefined : body },
    envelope: { from: 'alice@example.com', to: 'bob+box@example.org', ...options.envelope },
    host: {
      mailboxExists: (name) => (options.mailboxes ?? ['INBOX']).includes(name),
      duplicateSeen: (id, periodSeconds) => {
        duplicateQueries.push({ id, periodSeconds });
        return (options.seenIds ?? []).includes(id);
      },
    },
    limits: { ...DEFAULT_LIMITS, ...options.limits },
    defaultMailbox: options.defaultMailbox ?? 'INBOX',
    recipientDelimiter: options.recipientDelimiter ?? '+',
    enabledExtensions: new Set(options.enabledExtensions ?? ALL_EXTENSIONS),
    environment: options.environment ?? {
      domain: 'example.org',
      host: 'mx.example.org',
      location: 'MDA',
      name: 'Pigeonhole Sieve',
      phase: 'during',
      version: '0.5.19',
    },
    now: options.now ?? new Date('2025-04-01T08:20:30Z'),
    localZoneOffsetMinutes: options.localZoneOffsetMinutes ?? 0,
  });
  return { result, duplicateQueries };
}

function withFlags(text: string, flags: string[] | undefined): string {
  return flags && flags.length > 0 ? `${text} +flags ${flags.join(' ')}` : text;
}

/** One line per action, sieve-test style: "fileinto X :copy +flags \\Seen", "redirect a@b.c", ... */
export function describeAction(action: SieveAction): string {
  switch (action.type) {
    case 'keep':
      return withFlags('keep', action.flags);
    case 'fileinto':
      return withFlags(`fileinto ${action.mailbox}${action.copy ? ' :copy' : ''}${action.create ? ' :create' : ''}`, action.flags);
    case 'redirect':
      return `redirect ${action.address}${action.copy ? ' :copy' : ''}`;
    case 'discard':
      return 'discard';
    case 'reject':
      return `${action.extended ? 'ereject' : 'reject'} ${action.reason}`;
    case 'vacation':
      return `vacation ${action.handle}`;
  }
}

/** The actions, then "implicit keep" (with its flags) when it is still in effect. */
export function describe(result: SieveResult): string[] {
  const lines = result.actions.map(describeAction);
  if (result.implicitKeep) lines.push(withFlags('implicit keep', result.implicitKeepFlags));
  return lines;
}

/** Runs the script and describes the result. */
export function outcome(source: string, options?: RunOptions): string[] {
  return describe(runScript(source, options).result);
}

/**
 * Where the message lands when the host runs the result as dovecot-lda
 * does: the stores in order, the implicit keep last, a mailbox that already
 * got the message skipped. "MAILBOX flag flag" per store.
 */
export function stored(result: SieveResult, defaultMailbox = 'INBOX'): string[] {
  const stores: { mailbox: string; flags: string[] | undefined }[] = [];
  const store = (mailbox: string, flags: string[] | undefined) => {
    if (!stores.some((earlier) => isSameMailbox(earlier.mailbox, mailbox))) stores.push({ mailbox, flags });
  };
  for (const action of result.actions) {
    if (action.type === 'keep') store(defaultMailbox, action.flags);
    if (action.type === 'fileinto') store(action.mailbox, action.flags);
  }
  if (result.implicitKeep) store(defaultMailbox, result.implicitKeepFlags);
  return stores.map(({ mailbox, flags }) => [mailbox, ...(flags ?? [])].join(' '));
}
