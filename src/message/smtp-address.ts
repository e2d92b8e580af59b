// SMTP addresses given on the command line (-a, -r, -f) and in a leading
// From_ line, parsed as Dovecot 2.3's lib-smtp does (smtp_address_parse_path
// and _parse_mailbox with the flags dovecot-lda passes), and written back as
// smtp_address_encode does. Pure. Unusable -a/-r/-f values throw
// DeliveryFailure('usage', 'Invalid -x parameter: <reason>') with Dovecot's
// reason texts; a From_ line sender that does not parse is reported as a value.
//
// Syntax (RFC 5321, with Dovecot's leniency):
//   path      = ["<"] [source-route ":"] mailbox [">"]   brackets optional here
//   mailbox   = localpart ["@" (domain / address-literal)]
//   localpart = quoted-string / dot-string  (dots anywhere: "a..b", ".a", "a.")
//   domain    = labels of [A-Za-z0-9_-] separated by single dots
// A source route (<@a,@b:user@dom>) is checked and dropped; it is only
// recognised inside brackets. Non-ASCII is never valid in an address.

import { DeliveryFailure } from '../deliver/failure.js';

export interface SmtpAddress {
  /** unquoted; "" is a real (quoted-empty) local part, not the null sender */
  localpart: string;
  /** a domain or an address literal with its brackets, e.g. "[192.0.2.1]"; absent for a bare local part */
  domain?: string;
}

export interface SenderPath {
  /** null: the null sender <> (also what a broken address becomes) */
  address: SmtpAddress | null;
  /** the text was not a valid address but recognisable enough to deliver with <> */
  broken: boolean;
  /** why a broken address was rejected, for the debug log */
  reason?: string;
}

/**
 * -a / -r (or any recipient given as text): brackets optional, a bare local
 * part allowed, <> refused. `option` names the source in the error, e.g. "-a".
 */
export function parseRecipientPath(text: string, option: string): SmtpAddress {
  const result = parsePath(text, false);
  if (!result.ok) throw new DeliveryFailure('usage', `Invalid ${option} parameter: ${result.reason}`);
  return result.address;
}

/**
 * -f: like a recipient, but "" and <> are the null sender, and a broken
 * address that is still delimited sanely (e.g. "foo@", "a b@c") becomes the
 * null sender instead of an error (Dovecot's IGNORE_BROKEN).
 */
export function parseSenderPath(text: string): SenderPath {
  const result = parsePath(text, true);
  if (result.ok) return { address: result.address, broken: false };
  if (isBrokenButDelimited(text)) return { address: null, broken: true, reason: result.reason };
  throw new DeliveryFailure('usage', `Invalid -f parameter: ${result.reason}`);
}

/**
 * The sender of a leading From_ line: a plain mailbox with a domain, no
 * brackets (so "<>" and "MAILER-DAEMON" do not parse). dovecot-lda logs
 * "Failed to parse address from `From_'-line: <error>" and goes on without it.
 */
export function parseFromLineSender(text: string): { address: SmtpAddress } | { error: string } {
  if (text === '') return { error: 'Mailbox is empty string' };
  const parser = new AddressParser(text);
  const mailbox = parser.mailbox({ allowLocalpartOnly: false, inBrackets: false });
  if (mailbox.status === 'none') return { error: 'Invalid character in localpart' };
  if (mailbox.status === 'error') return { error: mailbox.reason };
  if (!parser.atEnd()) return { error: 'Invalid character in mailbox' };
  return { address: mailbox.address };
}

/** A MAIL FROM / RCPT TO path and where the text after it begins. */
export type CommandPath =
  | { ok: true; address: SmtpAddress | null; broken: boolean; end: number }
  | { ok: false; reason: string };

/**
 * The path at the start of the argument of `MAIL FROM:` or `RCPT TO:`, as
 * Dovecot's SMTP server reads it (smtp_address_parse_path_full with an end
 * pointer). Brackets are required. `end` is where the path stops; the caller
 * checks what follows.
 * - 'mail': <> is the null sender and a domain is required; a path that does
 *   not parse but is delimited sanely ("<a>", "<a@>", a non-ASCII local part) is taken
 *   as the null sender, marked broken (Dovecot's lmtp sets
 *   mail_path_allow_broken), and a valid path must end the text or be
 *   followed by a space.
 * - 'rcpt': a bare local part is allowed, <> is refused.
 */
export function parseCommandPath(text: string, command: 'mail' | 'rcpt'): CommandPath {
  if (text === '') return { ok: false, reason: 'Path is empty string' };
  if (text[0] !== '<') return { ok: false, reason: "Missing '<' at beginning of path" };
  const parsed = parseBracketedPath(text, command);
  if (parsed.ok || command === 'rcpt') return parsed;
  const token = scanAddressToken(text);
  if (token === undefined || token.raw === '') return parsed;
  return { ok: true, address: null, broken: true, end: token.end };
}

function parseBracketedPath(text: string, command: 'mail' | 'rcpt'): CommandPath {
  const parser = new AddressParser(text);
  parser.pos = 1;
  const route = parser.sourceRoute();
  if (route.status === 'error') return { ok: false, reason: route.reason };
  const mailbox = parser.mailbox({ allowLocalpartOnly: command === 'rcpt', inBrackets: true });
  if (mailbox.status === 'error') return { ok: false, reason: mailbox.reason };
  if (mailbox.status === 'none') {
    if (!parser.is('>')) return { ok: false, reason: 'Invalid character in localpart' };
    if (route.status === 'ok') return { ok: false, reason: 'Path only consists of source route' };
    if (command === 'rcpt') return { ok: false, reason: 'Null path not allowed' };
  }
  if (!parser.is('>')) return { ok: false, reason: "Missing '>' at end of path" };
  parser.pos++;
  if (command === 'mail' && !parser.atEnd() && !parser.is(' ')) return { ok: false, reason: 'Invalid character in path' };
  const address = mailbox.status === 'ok' ? mailbox.address : null;
  return { ok: true, address, broken: false, end: parser.pos };
}

/** The address as SMTP writes it (no brackets): local part quoted when it is not a dot-atom. */
export function formatAddress(address: SmtpAddress): string {
  const localpart = isDotAtom(address.localpart) ? address.localpart : quoteLocalpart(address.localpart);
  return address.domain ? `${localpart}@${address.domain}` : localpart;
}

// ---------------------------------------------------------------------------
// Character classes (RFC 5321), on UTF-16 code units: anything >= 0x80 is in
// none of them, exactly as every byte >= 0x80 is in none for Dovecot.

export function isAtext(code: number): boolean {
  return (
    code === 0x21 ||
    (code >= 0x23 && code <= 0x27) ||
    code === 0x2a ||
    code === 0x2b ||
    code === 0x2d ||
    (code >= 0x2f && code <= 0x39) ||
    code === 0x3d ||
    code === 0x3f ||
    (code >= 0x41 && code <= 0x5a) ||
    (code >= 0x5e && code <= 0x7e)
  );
}

export function isQtext(code: number): boolean {
  return code === 0x20 || code === 0x21 || (code >= 0x23 && code <= 0x5b) || (code >= 0x5d && code <= 0x7e);
}

/** what may follow a backslash in a quoted string */
function isQuotedPairChar(code: number): boolean {
  return code >= 0x20 && code <= 0x7e;
}

/** address-literal content: printable ASCII but [ \ ] */
function isDcontent(code: number): boolean {
  return (code >= 0x21 && code <= 0x5a) || (code >= 0x5e && code <= 0x7e);
}

function isAlnum(code: number): boolean {
  return (code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a);
}

function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}

/** Dovecot's domain characters: letters, digits, '-' and '_' anywhere */
function isDomainChar(code: number): boolean {
  return isAlnum(code) || code === 0x2d || code === 0x5f;
}

// ---------------------------------------------------------------------------
// The parser. Each step returns 'none' (nothing of that kind here, cursor
// unmoved), a value, or an error with Dovecot's reason text.

type Step<T> = { status: 'none' } | { status: 'ok'; value: T } | { status: 'error'; reason: string };
type MailboxStep = { status: 'none' } | { status: 'ok'; address: SmtpAddress } | { status: 'error'; reason: string };
type PathResult<Address> = { ok: true; address: Address } | { ok: false; reason: string };

const NONE = { status: 'none' } as const;
const fail = (reason: string) => ({ status: 'error', reason }) as const;

class AddressParser {
  pos = 0;

  constructor(readonly text: string) {}

  atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  /** the current code unit; NaN at the end, which is in no character class */
  code(): number {
    return this.text.charCodeAt(this.pos);
  }

  is(char: string): boolean {
    return this.text[this.pos] === char;
  }

  /** Local-part ["@" (Domain / address-literal)] */
  mailbox(options: { allowLocalpartOnly: boolean; inBrackets: boolean }): MailboxStep {
    const localpart = this.localpart();
    if (localpart.status !== 'ok') return localpart;
    if (!this.is('@')) {
      if (options.allowLocalpartOnly) return { status: 'ok', address: { localpart: localpart.value } };
      return fail(this.atEnd() || (options.inBrackets && this.is('>')) ? 'Missing domain' : 'Invalid character in localpart');
    }
    this.pos++;
    let domain = this.domain();
    if (domain.status === 'none') domain = this.addressLiteral();
    if (domain.status === 'none') {
      return fail(this.atEnd() || (options.inBrackets && this.is('>')) ? "Missing domain after '@'" : 'Invalid domain');
    }
    if (domain.status === 'error') return domain;
    return { status: 'ok', address: { localpart: localpart.value, domain: domain.value } };
  }

  localpart(): Step<string> {
    const quoted = this.quotedString();
    return quoted.status === 'none' ? this.dotString() : quoted;
  }

  /** atext and dots in any order (Dovecot accepts "a..b", ".a" and "a." for some Japanese providers) */
  dotString(): Step<string> {
    const start = this.pos;
    while (isAtext(this.code()) || this.is('.')) this.pos++;
    return this.pos === start ? NONE : { status: 'ok', value: this.text.slice(start, this.pos) };
  }

  quotedString(): Step<string> {
    if (!this.is('"')) return NONE;
    this.pos++;
    let value = '';
    for (;;) {
      const start = this.pos;
      while (isQtext(this.code())) this.pos++;
      value += this.text.slice(start, this.pos);
      if (!this.is('\\')) break;
      this.pos++;
      if (!isQuotedPairChar(this.code())) return fail("Invalid character after '\\' in quoted string");
      value += this.text[this.pos];
      this.pos++;
    }
    if (this.atEnd()) return fail('Premature end of quoted string');
    if (!this.is('"')) return fail('Invalid character in quoted string');
    this.pos++;
    return { status: 'ok', value };
  }

  domain(): Step<string> {
    if (!isDomainChar(this.code())) return NONE;
    const start = this.pos;
    for (;;) {
      if (this.atEnd() || this.is('.')) return fail('Empty sub-domain');
      if (!isDomainChar(this.code())) return fail('Invalid character in domain');
      while (isDomainChar(this.code())) this.pos++;
      if (!this.is('.')) break;
      this.pos++;
    }
    return { status: 'ok', value: this.text.slice(start, this.pos) };
  }

  /** "[" (IPv4 / "IPv6:" IPv6 / tag ":" dcontent) "]", kept with its brackets */
  addressLiteral(): Step<string> {
    if (!this.is('[')) return NONE;
    const start = this.pos;
    this.pos++;
    const ipv4 = this.ipv4();
    if (ipv4 === 'invalid') return fail('Invalid IPv4 address literal');
    if (ipv4 === 'none') {
      const tagStart = this.pos;
      if (!this.ldhString() || !this.is(':')) return fail('Invalid address literal');
      const isIpv6 = this.text.slice(tagStart, this.pos).toLowerCase() === 'ipv6';
      this.pos++;
      const contentStart = this.pos;
      while (isDcontent(this.code())) this.pos++;
      if (this.pos === contentStart) return fail('Empty address literal');
      if (isIpv6 && !isIpv6Address(this.text.slice(contentStart, this.pos))) {
        return fail('Invalid IPv6 address literal');
      }
    }
    if (this.atEnd()) return fail("Missing ']' at end of address literal");
    if (!this.is(']')) return fail('Invalid character in address literal');
    this.pos++;
    return { status: 'ok', value: this.text.slice(start, this.pos) };
  }

  /** up to four dotted octets (Dovecot stops early at the end of input: "[1.2" then lacks its "]") */
  ipv4(): 'none' | 'ok' | 'invalid' {
    const first = this.octet();
    if (first !== 'ok') return first;
    for (let i = 0; i < 3 && !this.atEnd(); i++) {
      if (!this.is('.')) return 'invalid';
      this.pos++;
      if (this.octet() !== 'ok') return 'invalid';
    }
    return 'ok';
  }

  /** 1*DIGIT with a value of at most 255 */
  octet(): 'none' | 'ok' | 'invalid' {
    if (!isDigit(this.code())) return 'none';
    let value = 0;
    while (isDigit(this.code())) {
      value = value * 10 + (this.code() - 0x30);
      if (value > 255) return 'invalid';
      this.pos++;
    }
    return 'ok';
  }

  /** letters, digits and '-', ending in a letter or digit; false (cursor unmoved) when there is none */
  ldhString(): boolean {
    const start = this.pos;
    let lastAlnum = -1;
    for (let pos = start; pos < this.text.length; pos++) {
      const code = this.text.charCodeAt(pos);
      if (isAlnum(code)) lastAlnum = pos;
      else if (code !== 0x2d) break;
    }
    if (lastAlnum < 0) return false;
    this.pos = lastAlnum + 1;
    return true;
  }

  /** "@" Domain *("," "@" Domain) ":"; 'none' when there is no source route */
  sourceRoute(): Step<true> {
    if (!this.is('@')) return NONE;
    this.pos++;
    for (;;) {
      if (this.domain().status !== 'ok') return fail("Missing domain after '@' in source route");
      if (!this.is(',')) break;
      this.pos++;
      if (!this.is('@')) return fail("Missing '@' after ',' in source route");
      this.pos++;
    }
    if (!this.is(':')) return fail("Missing ':' at end of source route");
    this.pos++;
    return { status: 'ok', value: true };
  }
}

/** smtp_address_parse_path with BRACKETS_OPTIONAL | ALLOW_LOCALPART [| ALLOW_EMPTY: "" and <> give null] */
function parsePath(text: string, allowEmpty: false): PathResult<SmtpAddress>;
function parsePath(text: string, allowEmpty: true): PathResult<SmtpAddress | null>;
function parsePath(text: string, allowEmpty: boolean): PathResult<SmtpAddress | null> {
  if (text === '') return allowEmpty ? { ok: true, address: null } : { ok: false, reason: 'Path is empty string' };
  const parser = new AddressParser(text);
  const inBrackets = parser.is('<');
  if (inBrackets) parser.pos++;
  const route = inBrackets ? parser.sourceRoute() : NONE;
  if (route.status === 'error') return { ok: false, reason: route.reason };
  const mailbox = parser.mailbox({ allowLocalpartOnly: true, inBrackets });
  if (mailbox.status === 'error') return { ok: false, reason: mailbox.reason };
  if (mailbox.status === 'none') {
    if (!parser.is('>')) return { ok: false, reason: 'Invalid character in localpart' };
    if (route.status === 'ok') return { ok: false, reason: 'Path only consists of source route' };
    if (!allowEmpty) return { ok: false, reason: 'Null path not allowed' };
  }
  if (inBrackets) {
    if (!parser.is('>')) return { ok: false, reason: "Missing '>' at end of path" };
    parser.pos++;
  } else if (parser.is('>')) {
    return { ok: false, reason: "Unmatched '>' at end of path" };
  }
  if (!parser.atEnd()) return { ok: false, reason: 'Invalid character in path' };
  return { ok: true, address: mailbox.status === 'ok' ? mailbox.address : null };
}

/**
 * Dovecot's smtp_address_parse_any as IGNORE_BROKEN uses it: true when the
 * text reads as one address token that is not empty — no control characters,
 * no unterminated quote, a "<" closed by ">" with no unquoted space before it.
 */
function isBrokenButDelimited(text: string): boolean {
  const token = scanAddressToken(text);
  return token !== undefined && token.raw !== '';
}

/**
 * smtp_address_parse_any: the address token at the start of `text`, without
 * its brackets (`raw`), and where it ends (after the ">" or at the space);
 * undefined when there is none (a control character, an unterminated quote,
 * a "<" not closed before a space or the end).
 */
function scanAddressToken(text: string): { raw: string; end: number } | undefined {
  let pos = 0;
  const inBrackets = text[0] === '<';
  if (inBrackets) pos++;
  const start = pos;
  let quoted = text[pos] === '"';
  if (quoted) pos++;
  while (pos < text.length) {
    if (quoted && text[pos] === '\\') {
      pos++;
      if (pos === text.length || text.charCodeAt(pos) < 0x20) return undefined;
      pos++;
      if (pos === text.length) break;
    }
    const char = text[pos];
    if (char === '"') {
      quoted = false;
    } else if (!quoted && char === ' ') {
      return inBrackets ? undefined : { raw: text.slice(start, pos), end: pos };
    } else if (!quoted && char === '>') {
      return { raw: text.slice(start, pos), end: pos + 1 };
    } else if (text.charCodeAt(pos) < 0x20) {
      return undefined;
    }
    pos++;
  }
  return quoted || inBrackets ? undefined : { raw: text.slice(start, pos), end: pos };
}

function isDotAtom(localpart: string): boolean {
  return /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+(\.[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+)*$/.test(localpart);
}

function quoteLocalpart(localpart: string): string {
  return `"${localpart.replace(/["\\]/g, '\\$&')}"`;
}

/** inet_pton(AF_INET6) as glibc accepts it: hex groups, one "::", an optional dotted IPv4 tail, no zone */
function isIpv6Address(text: string): boolean {
  const halves = text.split('::');
  if (halves.length > 2) return false;
  const groups = (part: string): string[] | undefined => {
    if (part === '') return [];
    const items = part.split(':');
    return items.every((item, i) => /^[0-9A-Fa-f]{1,4}$/.test(item) || (i === items.length - 1 && isIpv4Tail(item)))
      ? items
      : undefined;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (head === undefined || tail === undefined) return false;
  if (halves.length === 2 && head.length > 0 && isIpv4Tail(head[head.length - 1]!)) return false;
  const count = [...head, ...tail].reduce((sum, item) => sum + (item.includes('.') ? 2 : 1), 0);
  return halves.length === 2 ? count <= 7 : count === 8;
}

/** dotted quad without leading zeros, as glibc's inet_pton4 wants it */
function isIpv4Tail(text: string): boolean {
  const octets = text.split('.');
  return octets.length === 4 && octets.every((octet) => /^(0|[1-9][0-9]{0,2})$/.test(octet) && Number(octet) <= 255);
}
