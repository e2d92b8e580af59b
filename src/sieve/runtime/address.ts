// Addresses for the Sieve address and envelope tests, redirect and vacation,
// as Pigeonhole 0.5 (over Dovecot 2.3's lib-mail) reads them. Pure; nothing
// throws: what does not parse comes back as undefined.
//
// - parseAddressHeader: an RFC 5322 address-list (display names, comments,
//   quoted strings, groups, obsolete routes), parsed with Dovecot's lenient
//   rules (dots anywhere in a local part, parsing resumes after a bad address
//   at the next comma). The valid addresses are returned; a value with none
//   is "unparsable" (undefined), and Pigeonhole then matches :all against the
//   raw value and nothing for the other parts.
// - addressPart: :all/:localpart/:domain and RFC 5233's :user/:detail.
// - isValidMailAddress: Pigeonhole's check of a redirect (or vacation) address.
// - Rfc822Scanner: the RFC 5322 tokens (CFWS, atoms, quoted strings, MIME
//   tokens) that ./date.ts and ./body.ts parse with too.

import type { AddressPart } from '../compiled.js';
import { formatAddress, parseRecipientPath } from '../../message/smtp-address.js';

export interface ParsedAddress {
  /** unquoted */
  localpart: string;
  /** as written (a domain literal keeps its brackets); "" when there is none */
  domain: string;
  /** the display name (words joined by one space, quoted strings unquoted), or an addr-spec's last comment */
  name?: string;
}

/** Dovecot's limit of addresses read from one header value. */
const MAX_ADDRESSES = 256;

/**
 * The addresses of one address header value (raw, unfolded), one per item
 * Pigeonhole counts for :count. undefined: not one valid address in it; the
 * value then counts as one item, and only :all matches it, as the raw value.
 * A value of only comments has no addresses; an empty value has one whose
 * every part is "", and a valid address with an empty local part ('""@b.c')
 * one with no parts at all (see addressPart).
 */
export function parseAddressHeader(value: string): ParsedAddress[] | undefined {
  if (value.trim() === '') return [{ localpart: '', domain: '' }];
  const scanner = new Rfc822Scanner(value);
  if (scanner.skipCfws() !== MORE) return [];
  const valid = new AddressListParser(scanner).parse();
  return valid.length > 0 ? valid : undefined;
}

/**
 * One part of an address; undefined: the address has no such part, and the
 * test does not match it. :user and :detail split the local part at the first
 * character that is in `delimiter` (recipient_delimiter: any one of its
 * characters separates); without one there is no :detail (RFC 5233), and
 * "user+" has the empty detail. An empty local part has no parts, unless the
 * domain is empty too (an empty header value): then every part is "".
 */
export function addressPart(address: ParsedAddress, part: AddressPart, delimiter: string): string | undefined {
  const { localpart, domain } = address;
  // Pigeonhole's two empty cases: an empty header value, and a null local part
  if (localpart === '') return domain === '' ? '' : undefined;
  switch (part) {
    case 'all':
      return formatAddress({ localpart, domain: domain === '' ? undefined : domain });
    case 'localpart':
      return localpart;
    case 'domain':
      return domain;
    case 'user': {
      const split = delimiterIndex(localpart, delimiter);
      return split < 0 ? localpart : localpart.slice(0, split);
    }
    case 'detail': {
      const split = delimiterIndex(localpart, delimiter);
      return split < 0 ? undefined : localpart.slice(split + 1);
    }
  }
}

/** An envelope address (SMTP path, brackets optional). "" (the null sender) is the caller's case. */
export function parseEnvelopeAddress(path: string): ParsedAddress | undefined {
  try {
    const address = parseRecipientPath(path, 'envelope');
    return { localpart: address.localpart, domain: address.domain ?? '' };
  } catch {
    // parseRecipientPath reports an unusable path by throwing
    return undefined;
  }
}

/**
 * Whether Pigeonhole accepts the text as a redirect address: exactly one
 * mailbox, `local@domain` or `Name <local@domain>` (comments allowed, no
 * source route), the local part printable ASCII and not empty.
 */
export function isValidMailAddress(text: string): boolean {
  const scanner = new Rfc822Scanner(text);
  if (scanner.skipCfws() !== MORE) return false;
  const start = scanner.pos;
  let address: ParsedAddress | undefined;
  const phrase = scanner.phrase();
  if (phrase.status === MORE && scanner.peek() === '<') {
    scanner.pos++;
    if (scanner.skipCfws() !== MORE) return false;
    address = strictAddrSpec(scanner);
    if (!address || scanner.peek() !== '>') return false;
    scanner.pos++;
    if (scanner.skipCfws() === BROKEN) return false;
  } else {
    scanner.pos = start;
    address = strictAddrSpec(scanner);
  }
  return (
    address !== undefined &&
    scanner.atEnd() &&
    address.domain !== '' &&
    address.localpart !== '' &&
    isPrintableAscii(address.localpart)
  );
}

/** local-part "@" domain, nothing left out; undefined when it is not that */
function strictAddrSpec(scanner: Rfc822Scanner): ParsedAddress | undefined {
  if (scanner.atEnd()) return undefined;
  const local = scanner.localPart();
  if (local.status !== MORE || scanner.peek() !== '@') return undefined;
  const domain = scanner.domain();
  if (domain.status === BROKEN) return undefined;
  return { localpart: local.text, domain: domain.text };
}

function delimiterIndex(localpart: string, delimiter: string): number {
  for (let index = 0; index < localpart.length; index++) {
    if (delimiter.includes(localpart[index]!)) return index;
  }
  return -1;
}

function isPrintableAscii(text: string): boolean {
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code < 0x20 || code > 0x7e) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------
// Dovecot's message_address_parse, reduced to what the address test needs:
// which mailboxes are valid, and where parsing resumes after a bad one.

interface MailboxState {
  localpart?: string;
  domain?: string;
  name?: string;
  invalid: boolean;
}

class AddressListParser {
  private readonly valid: ParsedAddress[] = [];
  private mailbox: MailboxState = { invalid: false };

  constructor(private readonly scanner: Rfc822Scanner) {}

  /** the valid mailboxes of the list (the scanner stands on its first token) */
  parse(): ParsedAddress[] {
    const { scanner } = this;
    for (let count = 0; count < MAX_ADDRESSES; count++) {
      if (this.address() === END) break;
      if (scanner.peek() !== ',') break;
      scanner.pos++;
      if (scanner.skipCfws() !== MORE) break;
    }
    return this.valid;
  }

  private address(): Status {
    const start = this.scanner.pos;
    const group = this.group();
    if (group !== undefined) return group;
    this.scanner.pos = start;
    return this.parseMailbox();
  }

  /** display-name ":" [mailbox-list] ";" — undefined when this is no group */
  private group(): Status | undefined {
    const { scanner } = this;
    const name = scanner.phrase();
    if (name.status !== MORE || scanner.peek() !== ':') return undefined;
    scanner.pos++;
    let status = scanner.skipCfws();
    if (status === MORE && scanner.peek() !== ';') {
      for (;;) {
        this.parseMailbox(); // a broken member does not end the group
        if (scanner.peek() !== ',') break;
        scanner.pos++;
        if (scanner.skipCfws() !== MORE) {
          status = BROKEN;
          break;
        }
      }
    }
    if (status !== BROKEN) {
      if (scanner.peek() === ';') {
        scanner.pos++;
        status = scanner.skipCfws();
      } else {
        status = BROKEN;
      }
    }
    return status === END ? END : MORE;
  }

  /** name-addr / addr-spec, recorded when valid */
  private parseMailbox(): Status {
    const { scanner } = this;
    const start = scanner.pos;
    this.mailbox = { invalid: false };
    let status = this.nameAddr();
    if (status === undefined) {
      scanner.pos = start;
      status = this.addrSpec();
    }
    const { localpart, domain, name, invalid } = this.mailbox;
    if (status !== BROKEN && !invalid && localpart !== undefined && domain !== undefined && domain !== '') {
      if (isPrintableAscii(localpart)) this.valid.push(name ? { localpart, domain, name } : { localpart, domain });
    }
    return status;
  }

  /** [display-name] angle-addr — undefined when the text is not in that form */
  private nameAddr(): Status | undefined {
    const { scanner } = this;
    const name = scanner.phrase();
    if (name.status !== MORE || scanner.peek() !== '<') return undefined;
    this.mailbox.name = name.text;
    if (this.angleAddr() === BROKEN) this.mailbox.invalid = true;
    return scanner.atEnd() ? END : MORE;
  }

  /** "<" [route ":"] local-part "@" domain ">" */
  private angleAddr(): Status {
    const { scanner, mailbox } = this;
    scanner.pos++;
    if (scanner.skipCfws() !== MORE) return BROKEN;
    if (scanner.peek() === '@') {
      if (this.route() === MORE && scanner.peek() === ':') scanner.pos++;
      else if (scanner.atEnd()) return BROKEN;
      if (scanner.skipCfws() !== MORE) return BROKEN;
    }
    if (scanner.peek() !== '>') {
      // "<>" is no address: the mailbox stays without a local part
      const local = scanner.localPart();
      if (local.status !== MORE) return BROKEN;
      mailbox.localpart = local.text;
      if (scanner.peek() === '@') {
        const domain = scanner.domain();
        if (domain.status !== MORE) return BROKEN;
        mailbox.domain = domain.text;
      }
    }
    if (scanner.peek() !== '>') return BROKEN;
    scanner.pos++;
    return scanner.skipCfws();
  }

  /** obs-domain-list: "@" domain *("," ["@" domain]) — only skipped */
  private route(): Status {
    const { scanner } = this;
    for (;;) {
      if (scanner.atEnd()) return END;
      if (scanner.peek() !== '@') return MORE;
      const domain = scanner.domain();
      if (domain.status !== MORE) return domain.status;
      while (scanner.skipCfws() === MORE && scanner.peek() === ',') scanner.pos++;
    }
  }

  /** local-part "@" domain; a lone word followed by more words is a display name */
  private addrSpec(): Status {
    const { scanner, mailbox } = this;
    scanner.lastComment = '';
    const local = scanner.localPart();
    let status = local.status;
    if (status !== BROKEN) mailbox.localpart = local.text;
    if (status !== MORE) mailbox.invalid = true;
    let triedDomain = false;
    if (status !== END && scanner.peek() === '@') {
      triedDomain = true;
      const domain = scanner.domain();
      if (domain.status !== BROKEN) mailbox.domain = domain.text;
      if (domain.status !== MORE) status = domain.status;
    }
    if (scanner.lastComment !== '') mailbox.name = scanner.lastComment;
    if (!triedDomain && scanner.lastComment === '') {
      // "user Name ...": the words are a display name; parsing resumes after them
      scanner.phrase();
      mailbox.invalid = true;
      status = BROKEN;
    }
    return status;
  }
}

// ---------------------------------------------------------------------------
// RFC 5322 tokens, with Dovecot's rfc822-parser conventions: every token skips
// the CFWS after it, and reports whether text follows (MORE), the text ended
// (END), or the syntax is broken (BROKEN).

export const MORE = 1;
export const END = 0;
export const BROKEN = -1;
export type Status = typeof MORE | typeof END | typeof BROKEN;

export interface Token {
  status: Status;
  text: string;
}

/** atext of RFC 5322, plus every non-ASCII character (UTF-8 in headers) */
export function isAtext(code: number): boolean {
  return (
    (code >= 0x5e && code <= 0x7e) || // ^ _ ` a-z { | } ~
    (code >= 0x41 && code <= 0x5a) || // A-Z
    (code >= 0x30 && code <= 0x39) || // 0-9
    (code >= 0x23 && code <= 0x27) || // # $ % & '
    code >= 0x80 ||
    code === 0x21 || // !
    code === 0x2a || // *
    code === 0x2b || // +
    code === 0x2d || // -
    code === 0x2f || // /
    code === 0x3d || // =
    code === 0x3f // ?
  );
}

function isAtextOrDot(code: number): boolean {
  return isAtext(code) || code === 0x2e;
}

/** RFC 2045 token characters: atext without "/", "=" and "?", plus "." */
function isMimeTokenChar(code: number): boolean {
  return code === 0x2e || (isAtext(code) && code !== 0x2f && code !== 0x3d && code !== 0x3f);
}

function isBlank(char: string | undefined): boolean {
  return char === ' ' || char === '\t' || char === '\r' || char === '\n';
}

export class Rfc822Scanner {
  pos = 0;
  /** the text of the last comment skipped (Dovecot takes it as a display name) */
  lastComment = '';

  constructor(readonly text: string) {}

  atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  /** the current character; undefined at the end */
  peek(): string | undefined {
    return this.text[this.pos];
  }

  /** skips blanks, line ends and (nested) comments */
  skipCfws(): Status {
    const { text } = this;
    while (this.pos < text.length) {
      const char = text[this.pos];
      if (isBlank(char)) {
        this.pos++;
      } else if (char === '(') {
        if (!this.skipComment()) return BROKEN;
      } else {
        break;
      }
    }
    return this.atEnd() ? END : MORE;
  }

  private skipComment(): boolean {
    const { text } = this;
    const start = this.pos + 1;
    let depth = 0;
    for (; this.pos < text.length; this.pos++) {
      const char = text[this.pos];
      if (char === '(') {
        depth++;
      } else if (char === ')') {
        if (--depth === 0) {
          this.lastComment = text.slice(start, this.pos);
          this.pos++;
          return true;
        }
      } else if (char === '\\') {
        this.pos++;
      }
    }
    return false;
  }

  /** a quoted string (the scanner is on its '"'): quoted pairs resolved, folding line ends dropped */
  quotedString(): Token {
    const { text } = this;
    let value = '';
    let start = ++this.pos;
    for (; this.pos < text.length; this.pos++) {
      const char = text[this.pos];
      if (char === '"') {
        value += text.slice(start, this.pos);
        this.pos++;
        return { status: this.skipCfws(), text: value };
      }
      if (char === '\r' || char === '\n') {
        value += text.slice(start, this.pos);
        start = this.pos + 1;
      } else if (char === '\\') {
        value += text.slice(start, this.pos);
        if (++this.pos >= text.length) break;
        start = this.pos;
      }
    }
    return { status: BROKEN, text: value };
  }

  /** 1*atext */
  atom(): Token {
    return this.run(isAtext, true);
  }

  /** an RFC 2045 token (may be empty) */
  mimeToken(): Token {
    return this.run(isMimeTokenChar, false);
  }

  private run(accepts: (code: number) => boolean, nonEmpty: boolean): Token {
    const { text } = this;
    const start = this.pos;
    while (this.pos < text.length && accepts(text.charCodeAt(this.pos))) this.pos++;
    if (nonEmpty && this.pos === start) return { status: BROKEN, text: '' };
    const value = text.slice(start, this.pos);
    return { status: this.atEnd() ? END : this.skipCfws(), text: value };
  }

  /** obs-phrase: words (atoms with dots, quoted strings) joined by one space; may be empty */
  phrase(): Token {
    if (this.atEnd()) return { status: END, text: '' };
    if (this.peek() === '.') return { status: BROKEN, text: '' };
    let value = '';
    for (;;) {
      const word = this.peek() === '"' ? this.quotedString() : this.run(isAtextOrDot, false);
      value += word.text;
      if (word.status !== MORE) return { status: word.status, text: value };
      const next = this.text.charCodeAt(this.pos);
      if (!isAtext(next) && next !== 0x22 && next !== 0x2e) break;
      value += ' ';
    }
    return { status: this.skipCfws(), text: value };
  }

  /** a local part: a quoted string, or atoms with dots anywhere ("a.", ".a", "a..b") */
  localPart(): Token {
    if (this.peek() === '"') return this.quotedString();
    let status: Status = BROKEN;
    let value = '';
    do {
      while (this.peek() === '.') {
        value += '.';
        this.pos++;
        if (this.atEnd()) return { status: END, text: value };
        status = MORE;
      }
      if (this.peek() === '@') break;
      const atom = this.atom();
      value += atom.text;
      status = atom.status;
    } while (status === MORE && this.peek() === '.');
    return { status, text: value };
  }

  /** "@" domain (the scanner is on the "@"): a dot-atom, or a domain literal kept with its brackets */
  domain(): Token {
    this.pos++;
    if (this.skipCfws() !== MORE) return { status: BROKEN, text: '' };
    return this.peek() === '[' ? this.domainLiteral() : this.dotAtom();
  }

  /** atoms separated by single dots (blanks around the dots allowed) */
  private dotAtom(): Token {
    let value = '';
    for (;;) {
      const atom = this.atom();
      if (atom.status === BROKEN) return atom;
      value += atom.text;
      if (atom.status === END || this.peek() !== '.') return { status: atom.status, text: value };
      this.pos++;
      value += '.';
      if (this.skipCfws() !== MORE) return { status: BROKEN, text: value };
    }
  }

  private domainLiteral(): Token {
    const { text } = this;
    const start = this.pos++;
    for (; this.pos < text.length; this.pos++) {
      const char = text[this.pos];
      if (char === '\\') {
        this.pos++;
      } else if (char === ']') {
        this.pos++;
        return { status: this.skipCfws(), text: text.slice(start, this.pos) };
      }
    }
    return { status: BROKEN, text: '' };
  }
}
