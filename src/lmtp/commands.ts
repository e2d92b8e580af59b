// One LMTP command line (without its line ending) → a typed command, or the
// reply Dovecot 2.3's lmtp (lib-smtp's command parser and smtp-server-cmd-*)
// gives when the line or its arguments are unusable. Pure: no state, no I/O.
//
// The line is given as one character per byte (latin1), as it came off the
// wire. What a command means in the session's state (MAIL twice, RCPT before
// MAIL, ...) is the connection's business: a rejected MAIL or RCPT carries
// its verb, because Dovecot checks the state before the arguments for those,
// and a rejected BDAT carries its chunk size when that was readable, because
// the chunk's bytes follow the line whatever the reply.
//
// Capabilities assumed (those the connection advertises): 8BITMIME,
// CHUNKING, ENHANCEDSTATUSCODES, PIPELINING, and SIZE when a message size
// limit is set; no AUTH, STARTTLS, DSN, BINARYMIME or XCLIENT.

import { isUtf8 } from 'node:buffer';
import { formatAddress, isAtext, isQtext, parseCommandPath, type SmtpAddress } from '../message/smtp-address.js';
import type { LmtpReply, MailParams } from './types.js';

export type LmtpCommand =
  | { verb: 'LHLO'; domain: string }
  | { verb: 'MAIL'; sender: SmtpAddress | null; params: MailParams }
  | { verb: 'RCPT'; address: SmtpAddress; orcpt?: string }
  | { verb: 'DATA' }
  | { verb: 'BDAT'; size: number; last: boolean }
  | { verb: 'RSET' }
  | { verb: 'NOOP' }
  | { verb: 'QUIT' }
  | { verb: 'VRFY' };

export type LmtpVerb = LmtpCommand['verb'];

/** A line that is not a usable command, and the reply it gets (after the state checks of its verb, if any). */
export interface RejectedCommand {
  /** the command it was, when known; undefined for unknown verbs and broken lines */
  verb: LmtpVerb | undefined;
  reply: LmtpReply;
  /** BDAT: the chunk's size when it could be read; that many bytes follow the line and must be skipped */
  chunkSize?: number;
}

export type ParsedLine = { ok: true; command: LmtpCommand } | ({ ok: false } & RejectedCommand);

export interface ParseOptions {
  /** the message size limit, 0 = none; SIZE= is accepted only when there is one (SIZE is advertised) */
  maxMessageSize: number;
}

const reply = (code: number, enhanced: string, text: string): LmtpReply => ({ code, enhanced, text });

/** A line longer than the connection's limit (it is skipped to its end). */
export const LINE_TOO_LONG = reply(500, '5.5.2', 'Line too long');
const INVALID_SYNTAX = reply(500, '5.5.2', 'Invalid command syntax');
const UNKNOWN_COMMAND = reply(500, '5.5.1', 'Unknown command');
const INVALID_PARAMETERS = reply(501, '5.5.4', 'Invalid parameters');
/** MAIL SIZE= over the limit, and a message that turns out bigger (lib-smtp says 5.2.3; our contract 5.3.4) */
export const MESSAGE_TOO_BIG = reply(552, '5.3.4', 'Message size exceeds administrative limit');

/** Verbs Dovecot knows but does not offer here, with its fixed answers (whatever the arguments or state). */
const REFUSED_VERBS = new Map<string, LmtpReply>([
  ['AUTH', reply(502, '5.5.1', 'Unsupported command')],
  ['STARTTLS', reply(502, '5.5.1', 'TLS support is not enabled.')],
  ['XCLIENT', reply(550, '5.7.14', 'You are not from trusted IP')],
]);

/** lib-smtp's SMTP_COMMAND_PARSER_MAX_COMMAND_LENGTH */
const MAX_VERB_LENGTH = 32;

export function parseCommandLine(line: string, options: ParseOptions): ParsedLine {
  const split = splitLine(line);
  if (split === undefined) return rejected(undefined, INVALID_SYNTAX);
  const verb = split.verb.toUpperCase();
  const params = split.params;
  switch (verb) {
    case 'LHLO':
      // any non-empty argument will do; Dovecot only notes whether it is a valid domain
      if (params === '') return rejected('LHLO', reply(501, '', 'Missing hostname'));
      return accepted({ verb: 'LHLO', domain: Buffer.from(params, 'latin1').toString('utf8') });
    case 'MAIL':
      return parseMail(params, options);
    case 'RCPT':
      return parseRcpt(params);
    case 'DATA':
    case 'RSET':
    case 'QUIT':
      return params === '' ? accepted({ verb }) : rejected(verb, INVALID_PARAMETERS);
    case 'NOOP':
    case 'VRFY': {
      if (params === '') return verb === 'NOOP' ? accepted({ verb }) : rejected(verb, INVALID_PARAMETERS);
      const error = smtpStringError(params);
      return error === undefined ? accepted({ verb }) : rejected(verb, reply(501, '5.5.4', `Invalid string parameter: ${error}`));
    }
    case 'BDAT':
      return parseBdat(params);
    default:
      return rejected(undefined, REFUSED_VERBS.get(verb) ?? UNKNOWN_COMMAND);
  }
}

const accepted = (command: LmtpCommand): ParsedLine => ({ ok: true, command });
const rejected = (verb: LmtpVerb | undefined, answer: LmtpReply, chunkSize?: number): ParsedLine =>
  chunkSize === undefined ? { ok: false, verb, reply: answer } : { ok: false, verb, reply: answer, chunkSize };

// ---------------------------------------------------------------------------
// The line: verb [SP parameters]. The verb is letters only (an empty one is an
// unknown command); parameters are tab, printable ASCII and valid UTF-8;
// trailing blanks are dropped; a second space after the verb is an error.

function splitLine(line: string): { verb: string; params: string } | undefined {
  let pos = 0;
  while (pos < line.length && isLetter(line.charCodeAt(pos))) pos++;
  if (pos > MAX_VERB_LENGTH) return undefined;
  const verb = line.slice(0, pos);
  if (pos === line.length) return { verb, params: '' };
  if (line[pos] !== ' ') return undefined;
  const raw = line.slice(pos + 1);
  for (let index = 0; index < raw.length; index++) {
    const code = raw.charCodeAt(index);
    if (code < 0x80 && code !== 0x09 && (code < 0x20 || code > 0x7e)) return undefined;
  }
  if (/[\x80-\xff]/.test(raw) && !isUtf8(Buffer.from(raw, 'latin1'))) return undefined;
  let end = raw.length;
  while (end > 0 && (raw[end - 1] === ' ' || raw[end - 1] === '\t')) end--;
  if (end > 0 && raw[0] === ' ') return undefined;
  return { verb, params: raw.slice(0, end) };
}

function isLetter(code: number): boolean {
  return (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a);
}

// ---------------------------------------------------------------------------
// MAIL FROM:<path> [params]

function parseMail(params: string, options: ParseOptions): ParsedLine {
  const fail = (answer: LmtpReply) => rejected('MAIL', answer);
  const path = pathAndParams(params, 'mail');
  if ('code' in path) return fail(path);
  const mailParams: MailParams = {};
  for (const text of path.params) {
    const param = parseParam(text);
    if (typeof param === 'string') return fail(reply(501, '5.5.4', `Invalid MAIL parameter: ${param}`));
    const keyword = param.keyword.toUpperCase();
    if (keyword === 'BODY') {
      if (mailParams.body !== undefined) return fail(reply(501, '5.5.4', 'Duplicate BODY= parameter'));
      if (param.value === undefined) return fail(reply(501, '5.5.4', 'Missing BODY= parameter value'));
      const body = param.value.toUpperCase();
      if (body !== '7BIT' && body !== '8BITMIME') return fail(reply(555, '5.5.4', 'Unsupported mail BODY type'));
      mailParams.body = body;
    } else if (keyword === 'SIZE' && options.maxMessageSize > 0) {
      // Dovecot's duplicate check looks at the value, so SIZE=0 may come twice
      if (mailParams.size !== undefined && mailParams.size !== 0) return fail(reply(501, '5.5.4', 'Duplicate SIZE= parameter'));
      if (param.value === undefined) return fail(reply(501, '5.5.4', 'Missing SIZE= parameter value'));
      const size = parseUnsigned(param.value, 2n ** 63n - 1n);
      if (size === undefined) return fail(reply(555, '5.5.4', 'Unsupported SIZE parameter value'));
      mailParams.size = size;
    } else {
      return fail(reply(555, '5.5.4', 'Unsupported parameters'));
    }
  }
  if (mailParams.size !== undefined && mailParams.size > options.maxMessageSize) return fail(MESSAGE_TOO_BIG);
  return accepted({ verb: 'MAIL', sender: path.address, params: mailParams });
}

// ---------------------------------------------------------------------------
// RCPT TO:<path> [params]

function parseRcpt(params: string): ParsedLine {
  const fail = (answer: LmtpReply) => rejected('RCPT', answer);
  const path = pathAndParams(params, 'rcpt');
  if ('code' in path) return fail(path);
  let orcpt: { value: string | undefined } | undefined;
  for (const text of path.params) {
    const param = parseParam(text);
    if (typeof param === 'string') return fail(reply(501, '5.5.4', `Invalid RCPT parameter: ${param}`));
    if (param.keyword.toUpperCase() !== 'ORCPT') return fail(reply(555, '5.5.4', 'Unsupported parameters'));
    if (orcpt !== undefined) return fail(reply(501, '5.5.4', 'Duplicate ORCPT= parameter'));
    const value = parseOrcpt(param.value);
    if (typeof value === 'object') return fail(value);
    orcpt = { value };
  }
  const address = path.address!; // <> is refused for RCPT
  return accepted(orcpt?.value === undefined ? { verb: 'RCPT', address } : { verb: 'RCPT', address, orcpt: orcpt.value });
}

/** ORCPT=addr-type;xtext → the rfc822 address (formatted), undefined for other types, or the refusal. */
function parseOrcpt(value: string | undefined): string | undefined | LmtpReply {
  const invalid = (text: string) => reply(501, '5.5.4', text);
  if (value === undefined) return invalid('Missing ORCPT= parameter value');
  const typeEnd = atomEnd(value, 0);
  if (typeEnd === 0 || value[typeEnd] !== ';') return invalid('Invalid addr-type for ORCPT= parameter');
  const decoded = decodeXtext(value.slice(typeEnd + 1));
  if (typeof decoded === 'object') return invalid(`Invalid ORCPT= parameter: ${decoded.error}`);
  if (decoded === '') return invalid('Invalid ORCPT= parameter: Empty address value');
  if (!/^[\t\x20-\x7e]*$/.test(decoded)) return invalid('Invalid ORCPT= address value: Contains non-printable characters');
  if (value.slice(0, typeEnd).toLowerCase() !== 'rfc822') return undefined;
  const address = parseRfc822Address(decoded);
  if (address === undefined) return invalid('Invalid ORCPT= address value: Invalid RFC822 address');
  return formatAddress(address);
}

// ---------------------------------------------------------------------------
// BDAT size [LAST]

function parseBdat(params: string): ParsedLine {
  // split on single spaces, as Dovecot does: "3  LAST" has three arguments
  const args = params === '' ? [] : params.split(' ');
  const size = args.length > 0 ? parseUnsigned(args[0]!, 2n ** 64n - 1n) : undefined;
  if (size === undefined) return rejected('BDAT', reply(501, '5.5.4', 'Invalid chunk size parameter'));
  if (args.length > 2) return rejected('BDAT', INVALID_PARAMETERS, size);
  if (args.length === 2 && args[1]!.toUpperCase() !== 'LAST') {
    return rejected('BDAT', reply(501, '5.5.4', 'Invalid end marker parameter'), size);
  }
  return accepted({ verb: 'BDAT', size, last: args.length === 2 });
}

// ---------------------------------------------------------------------------
// Pieces shared by MAIL and RCPT

/**
 * "FROM:<path> params" / "TO:<path> params": the address and the parameters
 * (split on single spaces, so two spaces make an empty one), or the refusal.
 */
function pathAndParams(params: string, command: 'mail' | 'rcpt'): { address: SmtpAddress | null; params: string[] } | LmtpReply {
  const keyword = command === 'mail' ? 'FROM:' : 'TO:';
  const invalid = (reason: string) => reply(501, '5.5.4', `Invalid ${keyword} ${reason}`);
  if (params.slice(0, keyword.length).toUpperCase() !== keyword) return INVALID_PARAMETERS;
  const path = params.slice(keyword.length);
  if (path[0] === ' ' || path[0] === '\t') return invalid('Unexpected whitespace before path');
  const parsed = parseCommandPath(path, command);
  if (!parsed.ok) return invalid(parsed.reason);
  if (parsed.end === path.length) return { address: parsed.address, params: [] };
  if (path[parsed.end] !== ' ') return invalid('Invalid character in path');
  return { address: parsed.address, params: path.slice(parsed.end + 1).split(' ') };
}

/** esmtp-param = keyword ["=" value]: the parameter, or lib-smtp's error text. */
function parseParam(text: string): { keyword: string; value: string | undefined } | string {
  if (text === '') return 'Parameter is empty';
  const keywordEnd = /^[A-Za-z0-9][A-Za-z0-9-]*/.exec(text)?.[0].length ?? 0;
  if (keywordEnd === 0) return 'Unexpected character in parameter keyword';
  const keyword = text.slice(0, keywordEnd);
  if (keywordEnd === text.length) return { keyword, value: undefined };
  if (text[keywordEnd] !== '=') return 'Unexpected character in parameter keyword';
  const value = text.slice(keywordEnd + 1);
  // esmtp-value: printable ASCII but "="
  if (!/^[\x21-\x3c\x3e-\x7e]*$/.test(value)) return 'Unexpected character in parameter value';
  return { keyword, value };
}

/** 1*DIGIT up to `max` (str_to_uoff), else undefined. */
function parseUnsigned(text: string, max: bigint): number | undefined {
  if (!/^[0-9]+$/.test(text)) return undefined;
  const value = BigInt(text);
  return value > max ? undefined : Number(value);
}

/** Where the run of atext starting at `start` ends. */
function atomEnd(text: string, start: number): number {
  let pos = start;
  while (pos < text.length && isAtext(text.charCodeAt(pos))) pos++;
  return pos;
}

/** xtext (RFC 3461): "+" and two upper-case hex digits stand for a byte. */
function decodeXtext(text: string): string | { error: string } {
  let decoded = '';
  for (let pos = 0; pos < text.length; pos++) {
    if (text[pos] !== '+') {
      decoded += text[pos];
      continue;
    }
    const hex = text.slice(pos + 1, pos + 3);
    if (!/^[0-9A-F]{2}$/.test(hex)) return { error: "Invalid hexchar after '+' in xtext" };
    decoded += String.fromCharCode(parseInt(hex, 16));
    pos += 2;
  }
  return decoded;
}

/**
 * NOOP / VRFY argument: an SMTP String (atom or quoted string), whole.
 * undefined when it is one, else lib-smtp's error text.
 */
function smtpStringError(text: string): string | undefined {
  if (text[0] !== '"') return atomEnd(text, 0) === text.length ? undefined : 'Invalid character in string';
  let pos = 1;
  for (;;) {
    while (pos < text.length && isQtext(text.charCodeAt(pos))) pos++;
    if (text[pos] !== '\\') break;
    pos++;
    const code = text.charCodeAt(pos);
    if (!(code >= 0x20 && code <= 0x7e)) return "Invalid character after '\\' in quoted string";
    pos++;
  }
  if (pos >= text.length) return 'Premature end of quoted string';
  if (text[pos] !== '"') return 'Invalid character in quoted string';
  return pos + 1 === text.length ? undefined : 'Invalid character in string';
}

// ---------------------------------------------------------------------------
// The ORCPT rfc822 address, read as leniently as Dovecot's
// message_address_parse is (observed): the first addr-spec, in angle brackets
// after a display name or bare, comments anywhere; what follows the domain is
// ignored; a local part alone will do. Refused: a second address, group or
// route syntax outside brackets, no local part, two words before the "@",
// unbalanced quotes or comments, and characters an SMTP local part cannot hold.

function parseRfc822Address(text: string): SmtpAddress | undefined {
  const tokens = tokenize(text);
  if (tokens === undefined) return undefined;
  const comma = tokens.findIndex((token) => isSpecial(token, ','));
  if (comma >= 0 && tokens.slice(comma + 1).some((token) => token.kind !== 'special')) return undefined;
  const open = tokens.findIndex((token) => isSpecial(token, '<'));
  if (open < 0) return parseAddrSpec(tokens);
  if (tokens.slice(0, open).some((token) => token.kind !== 'word' && !isSpecial(token, '.'))) return undefined;
  const close = tokens.findIndex((token, index) => index > open && isSpecial(token, '>'));
  let spec = tokens.slice(open + 1, close < 0 ? tokens.length : close);
  const colon = spec.findIndex((token) => isSpecial(token, ':'));
  if (colon >= 0) {
    if (!isRoute(spec.slice(0, colon))) return undefined;
    spec = spec.slice(colon + 1);
  }
  return parseAddrSpec(spec);
}

type Rfc822Token = { kind: 'word'; text: string; quoted: boolean } | { kind: 'special'; text: string } | { kind: 'literal'; text: string };

/** Words (atoms, quoted strings), domain literals and specials; comments and blanks dropped; undefined when unbalanced or unreadable. */
function tokenize(text: string): Rfc822Token[] | undefined {
  const tokens: Rfc822Token[] = [];
  let pos = 0;
  while (pos < text.length) {
    const char = text[pos]!;
    if (char === ' ' || char === '\t') {
      pos++;
    } else if (char === '(') {
      let depth = 0;
      do {
        if (text[pos] === '\\') pos++;
        else if (text[pos] === '(') depth++;
        else if (text[pos] === ')') depth--;
        pos++;
      } while (depth > 0 && pos < text.length);
      if (depth > 0) return undefined;
    } else if (char === '"') {
      let value = '';
      pos++;
      while (pos < text.length && text[pos] !== '"') {
        if (text[pos] === '\\') pos++;
        if (pos < text.length) value += text[pos];
        pos++;
      }
      if (pos >= text.length) return undefined;
      pos++;
      tokens.push({ kind: 'word', text: value, quoted: true });
    } else if (char === '[') {
      const end = text.indexOf(']', pos);
      if (end < 0) return undefined;
      tokens.push({ kind: 'literal', text: text.slice(pos, end + 1) });
      pos = end + 1;
    } else if ('<>@,;:.'.includes(char)) {
      tokens.push({ kind: 'special', text: char });
      pos++;
    } else {
      const end = atomEnd(text, pos);
      if (end === pos) return undefined;
      tokens.push({ kind: 'word', text: text.slice(pos, end), quoted: false });
      pos = end;
    }
  }
  return tokens;
}

/** "@" domain *("," "@" domain) */
function isRoute(tokens: Rfc822Token[]): boolean {
  let pos = 0;
  for (;;) {
    if (!isSpecial(tokens[pos], '@')) return false;
    const domain = readDomain(tokens, pos + 1);
    if (domain.text === '') return false;
    pos = domain.end;
    if (pos === tokens.length) return true;
    if (!isSpecial(tokens[pos], ',')) return false;
    pos++;
  }
}

/** local-part ["@" domain] at the start of `tokens` */
function parseAddrSpec(tokens: Rfc822Token[]): SmtpAddress | undefined {
  let localpart = '';
  let pos = 0;
  while (pos < tokens.length) {
    const token = tokens[pos]!;
    if (token.kind === 'word') localpart += token.text;
    else if (isSpecial(token, '.')) localpart += '.';
    else break;
    pos++;
    if (token.kind === 'word' && tokens[pos]?.kind === 'word') return undefined;
  }
  if (localpart === '' || !/^[\x20-\x7e]*$/.test(localpart) || isSpecial(tokens[pos], ':')) return undefined;
  if (!isSpecial(tokens[pos], '@')) return { localpart };
  const domain = readDomain(tokens, pos + 1).text.replace(/\.$/, '');
  return domain === '' ? { localpart } : { localpart, domain };
}

/** sub-domain *("." sub-domain) from `start` (a trailing dot included): its text and where it ends */
function readDomain(tokens: Rfc822Token[], start: number): { text: string; end: number } {
  let text = '';
  let pos = start;
  while (pos < tokens.length) {
    const token = tokens[pos]!;
    if ((token.kind === 'word' && !token.quoted) || token.kind === 'literal') text += token.text;
    else if (isSpecial(token, '.') && text !== '') text += '.';
    else break;
    pos++;
  }
  return { text, end: pos };
}

function isSpecial(token: Rfc822Token | undefined, text: string): boolean {
  return token?.kind === 'special' && token.text === text;
}
