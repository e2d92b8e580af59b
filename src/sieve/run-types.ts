// What the interpreter (./interpreter.ts) is given and what it returns. It
// reads the message through a MessageView and asks the host the few questions
// that need I/O through SieveHost (synchronous answers); it returns the
// actions, and the host (src/deliver/sieve-delivery.ts) carries them out.

import type { CompiledScript } from './compiled.js';

export interface MessageView {
  /** the raw header section (up to, not including, the blank line), LF line ends */
  header: Buffer;
  /** RFC 5228 size test: the message size in octets as delivered */
  size: number;
  /**
   * The body (after the blank line), loaded by the host only when a script
   * uses the body test; may be cut at a size limit. undefined: not loaded.
   */
  body?: Buffer;
}

export interface SieveEnvelope {
  /** return path without <>; "" for the null sender */
  from: string;
  /** the original recipient (envelope "to") */
  to: string;
  /** authenticated user, when known (envelope "auth") */
  auth?: string;
}

export interface SieveHost {
  /** mailboxexists (RFC 5490): true when the named mailbox exists and can take mail */
  mailboxExists(name: string): boolean;
  /** duplicate (RFC 7352): true when this id was seen within periodSeconds; the id is recorded by the host after the delivery succeeds */
  duplicateSeen(id: string, periodSeconds: number): boolean;
}

export interface SieveLimits {
  /** sieve_max_actions (default 32; 0 = unlimited) */
  maxActions: number;
  /** sieve_max_redirects (default 4) */
  maxRedirects: number;
  /** CPU budget for one script run, ms (hostile scripts stop with a runtime error) */
  maxCpuMs: number;
  /** sieve_vacation_min_period / _default_period / _max_period, seconds (0 max = no cap) */
  vacationMinPeriodSeconds: number;
  vacationDefaultPeriodSeconds: number;
  vacationMaxPeriodSeconds: number;
}

export interface SieveRunInput {
  script: CompiledScript;
  message: MessageView;
  envelope: SieveEnvelope;
  host: SieveHost;
  limits: SieveLimits;
  /** the -m mailbox: where keep (implicit or explicit) stores, "INBOX" by default */
  defaultMailbox: string;
  /** recipient_delimiter (subaddress :user/:detail); may hold several characters, any of which splits */
  recipientDelimiter: string;
  /** extensions this user may require (ihave answers from it) */
  enabledExtensions: ReadonlySet<string>;
  /** "environment" items: domain, host, location, name, phase, version, ... */
  environment: Readonly<Record<string, string>>;
  /** now, for currentdate and vacation (injectable for tests) */
  now: Date;
  /** the local time zone offset in minutes east of UTC at `now` (date :zone default) */
  localZoneOffsetMinutes: number;
}

export type SieveAction =
  /** explicit keep: store into the default mailbox */
  | { type: 'keep'; flags: string[] | undefined }
  | { type: 'fileinto'; mailbox: string; flags: string[] | undefined; copy: boolean; create: boolean }
  | { type: 'redirect'; address: string; copy: boolean }
  | { type: 'discard' }
  /** reject (extended=false) or ereject (extended=true) */
  | { type: 'reject'; reason: string; extended: boolean }
  | {
      type: 'vacation';
      reason: string;
      /** :subject, already variable-expanded; undefined = "Auto: <original subject>" */
      subject?: string;
      /** :from */
      from?: string;
      /** :addresses */
      addresses: string[];
      /** :mime: reason is a MIME entity (headers + body) */
      mime: boolean;
      /** :handle, or the default handle derived from reason/subject/from/mime */
      handle: string;
      /** :days or :seconds, clamped to sieve_vacation_min/max, in seconds */
      periodSeconds: number;
    };

export interface SieveResult {
  /** actions in script order, duplicates already merged (RFC 5228 4.1/4.2 and Pigeonhole) */
  actions: SieveAction[];
  /** true when no action cancelled the implicit keep */
  implicitKeep: boolean;
  /** imap4flags internal variable at the end, for the implicit keep */
  implicitKeepFlags: string[] | undefined;
  /** duplicate ids to record once the delivery has succeeded */
  duplicateIds: { id: string; periodSeconds: number }[];
  /** the script ran `stop` (a sieve_before script's stop ends the sequence) */
  stopped: boolean;
}

/** A runtime failure (limits, bad values at run time); the host keeps the message in INBOX and logs `message`. */
export class SieveRuntimeError extends Error {
  constructor(
    message: string,
    readonly line?: number,
  ) {
    super(message);
    this.name = 'SieveRuntimeError';
  }
}
