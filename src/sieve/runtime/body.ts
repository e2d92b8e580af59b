// The body test's view of a message (RFC 5173), as Pigeonhole 0.5 builds it
// with Dovecot 2.3's MIME parser. Pure; never throws; time and memory linear
// in the body size (boundary lines cost at most one comparison per open
// multipart, nesting stops at 100 levels and parsing at 10000 parts).
//
// :raw is the body as it is (as a string: invalid UTF-8 becomes U+FFFD, where
// Pigeonhole compares the bytes). :content and :text walk the MIME tree:
// - each part's content is decoded (base64, quoted-printable with CRLF line
//   ends; an unknown Content-Transfer-Encoding gives no content) and read in
//   its charset as UTF-8 (an unknown charset as UTF-8; invalid sequences
//   become U+FFFD, a character cut off at the end is dropped);
// - a multipart's own content is its preamble, and its epilogue, when not
//   empty, follows its last child as one more content of the multipart's type;
//   the line end before a boundary belongs to the boundary; boundaries match
//   as line prefixes (the longest open one wins) and a boundary of an outer
//   multipart also closes the inner ones;
// - a message/rfc822 part's content is the header of the enclosed message
//   (its lines, each ended by CRLF), the enclosed parts follow as parts of
//   their own; only the exact lower-case type "message/rfc822" gets that header;
// - a part whose header is not ended by a blank line has no content at all;
// - :content "" selects every part, "text" every text/*, "text/plain" that
//   type (case-insensitive); a malformed Content-Type matches only "";
//   (RFC 2231 parameter continuations, boundary*0=..., are not joined);
// - :text selects text/* and application/xhtml+xml, and reduces text/html
//   and application/xhtml+xml to text as Dovecot's html2text does: tags become
//   a space, comments, <script> and <style> vanish, HTML 4 entities are
//   decoded (names case-sensitive; unknown ones vanish).

import { Rfc822Scanner, BROKEN, END, MORE, type Token } from './address.js';
import { decodeBase64, decodeCharset, isHexDigit, parseHeaderFields, type HeaderField } from './headers.js';

export type BodyTransform = { type: 'raw' } | { type: 'content'; contentTypes: string[] } | { type: 'text' };

/** what :text reads: every text/* and XHTML */
const TEXT_CONTENT_TYPES = ['application/xhtml+xml', 'text'];
/** Dovecot's message parser limits */
const MAX_NESTING = 100;
const MAX_PARTS = 10_000;

type TransferEncoding = 'identity' | 'base64' | 'quoted-printable' | 'unknown';

interface MimeEntry {
  /** the Content-Type as Pigeonhole labels the part: "type/subtype" as written, "" when malformed */
  label: string;
  /** the part's header ended with a blank line */
  hasBody: boolean;
  /** a part without children (only those are turned from HTML into text) */
  leaf: boolean;
  /** the content: a byte range of the body, or the enclosed header of a message/rfc822 part */
  start: number;
  end: number;
  enclosedHeader?: string;
  encoding: TransferEncoding;
  charset?: string;
  depth: number;
  /** multipart/digest: children without a Content-Type are messages */
  digest: boolean;
  /** the part is a child of a multipart/digest */
  inDigest: boolean;
}

/** The strings the body test compares for `transform` (RFC 5173 section 5). */
export function extractBodyParts(header: Buffer, body: Buffer, transform: BodyTransform): string[] {
  if (transform.type === 'raw') return body.length > 0 ? [body.toString('utf8')] : [];
  const wanted = transform.type === 'text' ? TEXT_CONTENT_TYPES : transform.contentTypes;
  const values: string[] = [];
  for (const entry of new MimeSplitter(body).split(header)) {
    if (!entry.hasBody || !isWantedType(wanted, entry.label)) continue;
    let text =
      entry.enclosedHeader ?? decodeContent(body.subarray(entry.start, entry.end), entry.encoding, entry.charset);
    if (transform.type === 'text' && entry.leaf && text !== '' && isHtmlType(entry.label)) text = htmlToText(text);
    values.push(text);
  }
  return values;
}

/** Pigeonhole's content type selection: "" is anything, "type" a main type, "type/subtype" exactly. */
function isWantedType(wanted: readonly string[], label: string): boolean {
  const full = label.toLowerCase();
  const slash = full.indexOf('/');
  const main = slash < 0 ? full : full.slice(0, slash);
  return wanted.some((type) => {
    const lower = type.toLowerCase();
    return lower === '' || lower === (lower.includes('/') ? full : main);
  });
}

function isHtmlType(label: string): boolean {
  const lower = label.toLowerCase();
  return lower === 'text/html' || lower === 'application/xhtml+xml';
}

// ---------------------------------------------------------------------------
// The MIME tree, flattened in document order, read line by line.

class MimeSplitter {
  private readonly entries: MimeEntry[] = [];
  /** open multiparts, innermost last */
  private readonly open: { boundary: Buffer; entry: MimeEntry }[] = [];
  /** the part whose header is being read, from headerStart */
  private headerOf: MimeEntry | undefined;
  private headerStart = 0;
  /** the message/rfc822 part collecting the enclosed header being read */
  private enclosing: MimeEntry | undefined;
  /** the entry whose content runs from regionStart, while a body is read */
  private region: MimeEntry | undefined;
  private regionStart = 0;
  /** the region is an epilogue, kept only when not empty */
  private regionIsEpilogue = false;

  constructor(private readonly body: Buffer) {}

  split(header: Buffer): MimeEntry[] {
    const { body } = this;
    this.startBody(this.newEntry(0, false), parseHeaderFields(header), 0);
    let lineStart = 0;
    while (lineStart < body.length) {
      const lf = body.indexOf(0x0a, lineStart);
      const lineEnd = lf < 0 ? body.length : lf;
      this.line(lineStart, lineEnd, lf >= 0);
      lineStart = lineEnd + 1;
    }
    this.endRegion(body.length, true);
    return this.entries;
  }

  private newEntry(depth: number, inDigest: boolean): MimeEntry {
    const entry: MimeEntry = {
      label: 'text/plain',
      hasBody: false,
      leaf: true,
      start: 0,
      end: 0,
      encoding: 'identity',
      depth,
      digest: false,
      inDigest,
    };
    this.entries.push(entry);
    return entry;
  }

  /** one line [start, end) of the body; `lf`: a line feed follows it */
  private line(start: number, end: number, lf: boolean): void {
    const { body } = this;
    if (this.open.length > 0 && this.entries.length < MAX_PARTS && body[start] === 0x2d && body[start + 1] === 0x2d) {
      const found = this.findBoundary(start + 2, end);
      if (found >= 0) {
        this.boundaryLine(found, start, end);
        return;
      }
    }
    if (!this.headerOf) return;
    const contentEnd = end > start && body[end - 1] === 0x0d ? end - 1 : end;
    if (contentEnd === start) {
      const entry = this.headerOf;
      this.headerOf = this.enclosing = undefined;
      this.startBody(entry, parseHeaderFields(body.subarray(this.headerStart, start)), end + 1);
    } else if (this.enclosing) {
      this.enclosing.enclosedHeader += body.toString('utf8', start, contentEnd) + (lf ? '\r\n' : '');
    }
  }

  /** the open multipart whose boundary begins at `from` (the longest; the innermost of equals), or -1 */
  private findBoundary(from: number, lineEnd: number): number {
    let best = -1;
    for (let index = this.open.length - 1; index >= 0; index--) {
      const { boundary } = this.open[index]!;
      if (boundary.length > lineEnd - from) continue;
      if (best >= 0 && boundary.length <= this.open[best]!.boundary.length) continue;
      if (this.body.compare(boundary, 0, boundary.length, from, from + boundary.length) === 0) best = index;
    }
    return best;
  }

  private boundaryLine(index: number, start: number, end: number): void {
    const { boundary, entry: multipart } = this.open[index]!;
    this.endRegion(start, false);
    const after = start + 2 + boundary.length;
    const close = after + 2 <= end && this.body[after] === 0x2d && this.body[after + 1] === 0x2d;
    // a boundary of an outer multipart also closes the inner ones
    this.open.length = close ? index : index + 1;
    if (close) {
      this.region = {
        label: multipart.label,
        hasBody: true,
        leaf: false,
        start: 0,
        end: 0,
        encoding: 'identity',
        depth: multipart.depth,
        digest: false,
        inDigest: false,
      };
      this.regionStart = end + 1;
      this.regionIsEpilogue = true;
    } else {
      this.headerOf = this.newEntry(multipart.depth + 1, multipart.digest);
      this.headerStart = end + 1;
    }
  }

  /** the part's header has ended (blank line) at `at`: read what its body is */
  private startBody(entry: MimeEntry, fields: readonly HeaderField[], at: number): void {
    const content = describeContent(fields);
    entry.label = content.label;
    entry.encoding = content.encoding;
    entry.charset = content.charset;
    entry.hasBody = true;
    const type = content.type ?? (entry.inDigest ? 'message/rfc822' : 'text/plain');
    const canNest = entry.depth < MAX_NESTING;
    if (canNest && type.startsWith('multipart/') && content.boundary !== undefined) {
      entry.leaf = false;
      entry.digest = type === 'multipart/digest';
      this.open.push({ boundary: Buffer.from(content.boundary, 'utf8'), entry });
      this.startRegion(entry, at);
    } else if (canNest && type === 'message/rfc822') {
      entry.leaf = false;
      entry.start = entry.end = at;
      if (entry.label === 'message/rfc822') {
        entry.enclosedHeader = '';
        this.enclosing = entry;
      }
      this.headerOf = this.newEntry(entry.depth + 1, false);
      this.headerStart = at;
    } else {
      this.startRegion(entry, at);
    }
  }

  private startRegion(entry: MimeEntry, at: number): void {
    this.region = entry;
    this.regionStart = at;
    this.regionIsEpilogue = false;
  }

  /** a boundary line begins at `at` (or the body ends): close what is being read */
  private endRegion(at: number, atEnd: boolean): void {
    const { body, region, regionStart } = this;
    if (region) {
      let end = at;
      if (!atEnd && at > regionStart) {
        end = at - 1; // the line end before a boundary belongs to the boundary
        if (end > regionStart && body[end - 1] === 0x0d) end--;
      }
      region.start = regionStart;
      region.end = end;
      if (this.regionIsEpilogue && end > regionStart) this.entries.push(region);
      this.region = undefined;
    }
    // a header cut short leaves its part without a body
    this.headerOf = this.enclosing = undefined;
  }
}

interface ContentDescription {
  /** the first Content-Type's type, lower-case, as the MIME structure uses it */
  type?: string;
  label: string;
  boundary?: string;
  charset?: string;
  encoding: TransferEncoding;
}

/**
 * What a part's header says about its content. Like Dovecot, the structure
 * (multipart boundary) and charset come from the first Content-Type, the
 * transfer encoding from the last Content-Transfer-Encoding; like Pigeonhole,
 * the label from the last Content-Type (text/plain without one).
 */
function describeContent(fields: readonly HeaderField[]): ContentDescription {
  const description: ContentDescription = { label: 'text/plain', encoding: 'identity' };
  for (const field of fields) {
    const name = field.name.toLowerCase();
    if (name === 'content-type') {
      const parsed = parseContentType(field.value);
      description.label = parsed.label;
      if (description.type !== undefined) continue;
      description.type = parsed.type.toLowerCase();
      description.charset = parsed.parameters.get('charset');
      if (description.type.startsWith('multipart/')) description.boundary = parsed.parameters.get('boundary');
    } else if (name === 'content-transfer-encoding') {
      description.encoding = parseTransferEncoding(field.value);
    }
  }
  return description;
}

/**
 * type "/" subtype, then ";" parameters (attribute "=" token or quoted
 * string; the first of a name wins; reading stops at a malformed one).
 * label: the type when nothing but parameters follows it, else "".
 */
function parseContentType(value: string): { type: string; label: string; parameters: Map<string, string> } {
  const parameters = new Map<string, string>();
  const scanner = new Rfc822Scanner(value);
  scanner.skipCfws();
  const main = scanner.mimeToken();
  if (main.status !== MORE || scanner.peek() !== '/') return { type: main.text, label: '', parameters };
  scanner.pos++;
  if (scanner.skipCfws() !== MORE) return { type: `${main.text}/`, label: '', parameters };
  const type = `${main.text}/${scanner.mimeToken().text}`;
  if (!scanner.atEnd() && scanner.peek() !== ';') return { type, label: '', parameters };
  while (scanner.peek() === ';') {
    scanner.pos++;
    if (scanner.skipCfws() !== MORE) break;
    const attribute = scanner.mimeToken();
    if (attribute.status !== MORE || scanner.peek() !== '=') break;
    scanner.pos++;
    const parameter = parameterValue(scanner);
    if (parameter.status === BROKEN) break;
    const name = attribute.text.toLowerCase();
    if (!parameters.has(name)) parameters.set(name, parameter.text);
  }
  return { type, label: type, parameters };
}

function parameterValue(scanner: Rfc822Scanner): Token {
  const status = scanner.skipCfws();
  if (status !== MORE) return { status, text: '' };
  if (scanner.peek() === '"') return scanner.quotedString();
  if (scanner.peek() === '=') {
    // Dovecot's allowance for an unquoted encoded word: up to ";" or a blank
    const match = /^[^; \t\r\n]*/.exec(scanner.text.slice(scanner.pos))![0];
    scanner.pos += match.length;
    return { status: scanner.atEnd() ? END : MORE, text: match };
  }
  return scanner.mimeToken();
}

/** one token and nothing else: 7bit/8bit/binary, base64, quoted-printable; anything else is unknown */
function parseTransferEncoding(value: string): TransferEncoding {
  const scanner = new Rfc822Scanner(value);
  scanner.skipCfws();
  const token = scanner.mimeToken();
  if (!scanner.atEnd()) return 'unknown';
  switch (token.text.toLowerCase()) {
    case '7bit':
    case '8bit':
    case 'binary':
      return 'identity';
    case 'base64':
      return 'base64';
    case 'quoted-printable':
      return 'quoted-printable';
    default:
      return 'unknown';
  }
}

function decodeContent(raw: Buffer, encoding: TransferEncoding, charset: string | undefined): string {
  switch (encoding) {
    case 'unknown':
      return '';
    case 'base64':
      return decodeCharset(decodeBase64(raw), charset, true);
    case 'quoted-printable':
      return decodeCharset(decodeQuotedPrintable(raw), charset, true);
    case 'identity':
      return decodeCharset(raw, charset, true);
  }
}

/**
 * Quoted-printable as Dovecot decodes it: blanks at line ends dropped, "="
 * at a line end joins the lines, other line ends become CRLF, "=" without two
 * hex digits stays as it is.
 */
function decodeQuotedPrintable(raw: Buffer): Buffer {
  const out = Buffer.allocUnsafe(raw.length * 2);
  let length = 0;
  let lineStart = 0;
  while (lineStart < raw.length) {
    const lf = raw.indexOf(0x0a, lineStart);
    let end = lf < 0 ? raw.length : lf;
    if (end > lineStart && raw[end - 1] === 0x0d) end--;
    while (end > lineStart && (raw[end - 1] === 0x20 || raw[end - 1] === 0x09)) end--;
    const soft = end > lineStart && raw[end - 1] === 0x3d;
    if (soft) end--;
    for (let index = lineStart; index < end; index++) {
      const byte = raw[index]!;
      if (byte === 0x3d && index + 2 < end && isHexDigit(raw[index + 1]) && isHexDigit(raw[index + 2])) {
        out[length++] = hexValue(raw[index + 1]!) * 16 + hexValue(raw[index + 2]!);
        index += 2;
      } else {
        out[length++] = byte;
      }
    }
    if (lf >= 0 && !soft) {
      out[length++] = 0x0d;
      out[length++] = 0x0a;
    }
    lineStart = lf < 0 ? raw.length : lf + 1;
  }
  return out.subarray(0, length);
}

function hexValue(byte: number): number {
  return byte <= 0x39 ? byte - 0x30 : (byte | 0x20) - 0x61 + 10;
}

// ---------------------------------------------------------------------------
// HTML to text, Dovecot's mail-html2text: a state machine over the text.

type HtmlState =
  | 'text'
  | 'tag'
  | 'tag-dquoted'
  | 'tag-dquoted-escape'
  | 'tag-squoted'
  | 'tag-squoted-escape'
  | 'comment'
  | 'comment-end'
  | 'script'
  | 'style'
  | 'cdata';

function isHtmlBlank(char: string | undefined): boolean {
  return char === ' ' || char === '\t' || char === '\r' || char === '\n';
}

/**
 * The text of an HTML document. A construct cut off by the end of the text
 * (an unfinished tag name, entity or closing marker) ends the text there.
 */
export function htmlToText(html: string): string {
  let out = '';
  let state: HtmlState = 'text';
  // a tag becomes a space, unless the text so far ends in one or in a line feed
  const space = () => {
    if (out !== '' && !out.endsWith(' ') && !out.endsWith('\n')) out += ' ';
  };
  let index = 0;
  while (index < html.length) {
    const char = html[index]!;
    switch (state) {
      case 'text': {
        if (char === '<') {
          const tag = openTag(html, index + 1);
          if (!tag) return out;
          state = tag.state;
          index = tag.next;
        } else if (char === '&') {
          const entity = readEntity(html, index + 1);
          if (!entity) return out;
          out += entity.text;
          index = entity.next;
        } else {
          let end = index + 1;
          while (end < html.length && html[end] !== '<' && html[end] !== '&') end++;
          out += html.slice(index, end);
          index = end;
        }
        continue;
      }
      case 'tag':
        if (char === '"') state = 'tag-dquoted';
        else if (char === "'") state = 'tag-squoted';
        else if (char === '>') {
          state = 'text';
          space();
        }
        break;
      case 'tag-dquoted':
        if (char === '"') state = 'tag';
        else if (char === '\\') state = 'tag-dquoted-escape';
        break;
      case 'tag-dquoted-escape':
        state = 'tag-dquoted';
        break;
      case 'tag-squoted':
        if (char === "'") state = 'tag';
        else if (char === '\\') state = 'tag-squoted-escape';
        break;
      case 'tag-squoted-escape':
        state = 'tag-squoted';
        break;
      case 'comment':
        if (char === '-') {
          if (index + 1 === html.length) return out;
          if (html[index + 1] === '-') {
            state = 'comment-end';
            index++;
          }
        }
        break;
      case 'comment-end':
        if (char === '>') state = 'text';
        else if (!isHtmlBlank(char)) state = 'comment';
        break;
      case 'script':
      case 'style': {
        if (char !== '<') break;
        const closing = state === 'script' ? '</script>' : '</style>';
        const found = startsWithAt(html, index, closing);
        if (found === 'cut') return out;
        if (found === 'yes') {
          space();
          state = 'text';
          index += closing.length;
          continue;
        }
        break;
      }
      case 'cdata': {
        if (char === ']') {
          const found = startsWithAt(html, index, ']]>');
          if (found === 'cut') return out;
          if (found === 'yes') {
            state = 'text';
            index += 3;
            continue;
          }
        }
        out += char;
        break;
      }
    }
    index++;
  }
  return out;
}

/** After "<" at `from`: the state the tag leads to and where its content starts; undefined: cut off */
function openTag(html: string, from: number): { state: HtmlState; next: number } | undefined {
  const left = html.length - from;
  if (left >= 3 && html.startsWith('!--', from)) return { state: 'comment', next: from + 3 };
  if (left >= 7 && startsWithAt(html, from, 'script') === 'yes' && isTagNameEnd(html[from + 6])) {
    return { state: 'script', next: from + 7 };
  }
  if (left >= 6 && startsWithAt(html, from, 'style') === 'yes' && isTagNameEnd(html[from + 5])) {
    return { state: 'style', next: from + 6 };
  }
  if (left >= 8 && startsWithAt(html, from, '![CDATA[') === 'yes') return { state: 'cdata', next: from + 8 };
  if (left < 12) {
    // the tag name must be seen whole
    let index = from;
    while (index < html.length && !isTagNameEnd(html[index])) index++;
    if (index === html.length) return undefined;
  }
  return { state: 'tag', next: from };
}

function isTagNameEnd(char: string | undefined): boolean {
  return char === '>' || isHtmlBlank(char);
}

/** whether `word` (ASCII case-insensitive) is at `at`; 'cut' when the text ends inside a match */
function startsWithAt(text: string, at: number, word: string): 'yes' | 'no' | 'cut' {
  const available = Math.min(word.length, text.length - at);
  if (text.slice(at, at + available).toLowerCase() !== word.slice(0, available).toLowerCase()) return 'no';
  return available < word.length ? 'cut' : 'yes';
}

/**
 * After "&" at `from`: the entity's text and where the text goes on. A name
 * longer than nine characters or holding a blank is no entity (the "&" is
 * dropped, the rest stays text); undefined: cut off by the end.
 */
function readEntity(html: string, from: number): { text: string; next: number } | undefined {
  let index = from;
  for (; index < html.length; index++) {
    if (isHtmlBlank(html[index]) || index - from >= 10) return { text: '', next: from };
    if (html[index] === ';') break;
  }
  if (index === html.length) return undefined;
  return { text: entityText(html.slice(from, index)), next: index + 1 };
}

function entityText(name: string): string {
  let code = namedEntities().get(name);
  if (code === undefined) {
    // "&#233;" and "&#xE9;" (a lower-case x only)
    const hex = /^#x([0-9a-fA-F]+)$/.exec(name);
    const decimal = /^#([0-9]+)$/.exec(name);
    code = hex ? parseInt(hex[1]!, 16) : decimal ? Number(decimal[1]) : undefined;
  }
  if (code === undefined || code > 0xffffffff) return '';
  return code <= 0x10ffff && (code < 0xd800 || code > 0xdfff) ? String.fromCodePoint(code) : '\uFFFD';
}

let entityTable: Map<string, number> | undefined;

/** HTML 4's entities and XML's &apos; (the set Dovecot knows) */
function namedEntities(): Map<string, number> {
  entityTable ??= new Map(
    HTML_ENTITIES.split(' ').map((pair) => {
      const colon = pair.indexOf(':');
      return [pair.slice(0, colon), Number(pair.slice(colon + 1))] as const;
    }),
  );
  return entityTable;
}

const HTML_ENTITIES =
  'quot:34 amp:38 apos:39 lt:60 gt:62 nbsp:160 iexcl:161 cent:162 pound:163 curren:164 yen:165 ' +
  'brvbar:166 sect:167 uml:168 copy:169 ordf:170 laquo:171 not:172 shy:173 reg:174 macr:175 deg:176 ' +
  'plusmn:177 sup2:178 sup3:179 acute:180 micro:181 para:182 middot:183 cedil:184 sup1:185 ordm:186 ' +
  'raquo:187 frac14:188 frac12:189 frac34:190 iquest:191 Agrave:192 Aacute:193 Acirc:194 Atilde:195 ' +
  'Auml:196 Aring:197 AElig:198 Ccedil:199 Egrave:200 Eacute:201 Ecirc:202 Euml:203 Igrave:204 ' +
  'Iacute:205 Icirc:206 Iuml:207 ETH:208 Ntilde:209 Ograve:210 Oacute:211 Ocirc:212 Otilde:213 Ouml:214 ' +
  'times:215 Oslash:216 Ugrave:217 Uacute:218 Ucirc:219 Uuml:220 Yacute:221 THORN:222 szlig:223 ' +
  'agrave:224 aacute:225 acirc:226 atilde:227 auml:228 aring:229 aelig:230 ccedil:231 egrave:232 ' +
  'eacute:233 ecirc:234 euml:235 igrave:236 iacute:237 icirc:238 iuml:239 eth:240 ntilde:241 ograve:242 ' +
  'oacute:243 ocirc:244 otilde:245 ouml:246 divide:247 oslash:248 ugrave:249 uacute:250 ucirc:251 ' +
  'uuml:252 yacute:253 thorn:254 yuml:255 OElig:338 oelig:339 Scaron:352 scaron:353 Yuml:376 fnof:402 ' +
  'circ:710 tilde:732 Alpha:913 Beta:914 Gamma:915 Delta:916 Epsilon:917 Zeta:918 Eta:919 Theta:920 ' +
  'Iota:921 Kappa:922 Lambda:923 Mu:924 Nu:925 Xi:926 Omicron:927 Pi:928 Rho:929 Sigma:931 Tau:932 ' +
  'Upsilon:933 Phi:934 Chi:935 Psi:936 Omega:937 alpha:945 beta:946 gamma:947 delta:948 epsilon:949 ' +
  'zeta:950 eta:951 theta:952 iota:953 kappa:954 lambda:955 mu:956 nu:957 xi:958 omicron:959 pi:960 ' +
  'rho:961 sigmaf:962 sigma:963 tau:964 upsilon:965 phi:966 chi:967 psi:968 omega:969 thetasym:977 ' +
  'upsih:978 piv:982 ensp:8194 emsp:8195 thinsp:8201 zwnj:8204 zwj:8205 lrm:8206 rlm:8207 ndash:8211 ' +
  'mdash:8212 lsquo:8216 rsquo:8217 sbquo:8218 ldquo:8220 rdquo:8221 bdquo:8222 dagger:8224 Dagger:8225 ' +
  'bull:8226 hellip:8230 permil:8240 prime:8242 Prime:8243 lsaquo:8249 rsaquo:8250 oline:8254 ' +
  'frasl:8260 euro:8364 image:8465 weierp:8472 real:8476 trade:8482 alefsym:8501 larr:8592 uarr:8593 ' +
  'rarr:8594 darr:8595 harr:8596 crarr:8629 lArr:8656 uArr:8657 rArr:8658 dArr:8659 hArr:8660 ' +
  'forall:8704 part:8706 exist:8707 empty:8709 nabla:8711 isin:8712 notin:8713 ni:8715 prod:8719 ' +
  'sum:8721 minus:8722 lowast:8727 radic:8730 prop:8733 infin:8734 ang:8736 and:8743 or:8744 cap:8745 ' +
  'cup:8746 int:8747 there4:8756 sim:8764 cong:8773 asymp:8776 ne:8800 equiv:8801 le:8804 ge:8805 ' +
  'sub:8834 sup:8835 nsub:8836 sube:8838 supe:8839 oplus:8853 otimes:8855 perp:8869 sdot:8901 ' +
  'lceil:8968 rceil:8969 lfloor:8970 rfloor:8971 lang:9001 rang:9002 loz:9674 spades:9824 clubs:9827 ' +
  'hearts:9829 diams:9830';
