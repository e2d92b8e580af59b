// The Sieve lexer (RFC 5228 section 8.1), scanning the way Pigeonhole does:
// identifiers and tags are lower-cased and at most 32 characters; numbers
// take a K/M/G quantifier and must fit 64 bits; in quoted strings a
// backslash keeps the next character whatever it is; line ends inside
// strings become CRLF (a bare LF is accepted, a bare CR is an error);
// multi-line strings (`text:`, an optional hash comment, lines ending at a
// line holding only ".") lose their dot-stuffing and keep CRLF line ends;
// hash and bracket comments are whitespace. A string may not exceed 1 MiB.
//
// The lexer is a cursor: next() moves to the following token and leaves its
// type, value and 1-based line/column in public fields (no object per token).
// Failure: a malformed token throws SieveSyntaxError with the line and column
// where the problem was found and Pigeonhole's wording.

/** A syntax error at one place in the script (the parser turns it into a SieveCompileError). */
export class SieveSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(message);
    this.name = 'SieveSyntaxError';
  }
}

export type TokenType =
  | 'identifier'
  | 'tag'
  | 'number'
  | 'string'
  | '['
  | ']'
  | '('
  | ')'
  | '{'
  | '}'
  | ';'
  | ','
  | ':'
  | '/'
  | 'eof';

/** Pigeonhole's SIEVE_MAX_IDENTIFIER_LEN */
const MAX_IDENTIFIER_LENGTH = 32;
/** Pigeonhole's SIEVE_MAX_STRING_LEN, in bytes */
const MAX_STRING_BYTES = 1 << 20;
const MAX_NUMBER = 2n ** 64n - 1n;
const SPECIAL_IN_QUOTED_STRING = /[\\\r\n\0]/;
const QUANTIFIER_SHIFT: Record<string, bigint> = { k: 10n, m: 20n, g: 30n };

const TAB = 9;
const LF = 10;
const CR = 13;
const SPACE = 32;
const QUOTE = 34;
const HASH = 35;
const STAR = 42;
const DOT = 46;
const SLASH = 47;
const COLON = 58;
const BACKSLASH = 92;
const UNDERSCORE = 95;

/** Tokens of one character, by character code (ASCII only). */
const SINGLE_CHARACTER_TOKENS: readonly (TokenType | undefined)[] = (() => {
  const table: (TokenType | undefined)[] = new Array<TokenType | undefined>(128).fill(undefined);
  for (const token of ['[', ']', '(', ')', '{', '}', ';', ','] as const) table[token.charCodeAt(0)] = token;
  return table;
})();

/** 1 for the characters of identifiers after the first: letters, digits, "_" */
const IDENTIFIER_CHARACTERS = (() => {
  const table = new Uint8Array(128);
  for (let code = 0; code < 128; code++) table[code] = isAlpha(code) || isDigit(code) || code === UNDERSCORE ? 1 : 0;
  return table;
})();

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

function isAlpha(code: number): boolean {
  return (code >= 65 && code <= 90) || (code >= 97 && code <= 122);
}

/** How Pigeonhole names a character in messages: 'c' when printable ASCII, else its first UTF-8 byte as 0xNN. */
export function describeCharacter(character: string): string {
  const code = character.charCodeAt(0);
  if (code > 31 && code < 127) return `'${character}'`;
  const byte = code < 128 ? code : Buffer.from(character)[0]!;
  return `0x${byte.toString(16).padStart(2, '0')}`;
}

export class SieveLexer {
  /** the current token */
  type: TokenType = 'eof';
  /** identifier or tag name (lower-case, tag without colon), or string value */
  text = '';
  /** value of a number token */
  number = 0;
  /** where the current token starts */
  line = 1;
  column = 1;

  private position = 0;
  private currentLine = 1;
  private lineStart = 0;

  constructor(private readonly source: string) {}

  /** Whether the current token is of `type` (a method, so that checks after next() are not narrowed away). */
  is(type: TokenType): boolean {
    return this.type === type;
  }

  /** Moves to the next token, skipping whitespace and comments. */
  next(): void {
    this.skipWhitespace();
    const source = this.source;
    this.line = this.currentLine;
    this.column = this.position - this.lineStart + 1;
    if (this.position >= source.length) {
      this.type = 'eof';
      return;
    }
    const code = source.charCodeAt(this.position);
    const single = SINGLE_CHARACTER_TOKENS[code];
    if (single !== undefined) {
      this.position++;
      this.type = single;
    } else if (code === QUOTE) {
      this.scanQuotedString();
    } else if (isDigit(code)) {
      this.scanNumber();
    } else if (isAlpha(code) || code === UNDERSCORE) {
      this.scanIdentifier();
    } else if (code === COLON) {
      this.position++;
      const following = source.charCodeAt(this.position);
      if (isAlpha(following) || following === UNDERSCORE) this.scanIdentifier(true);
      else this.type = ':';
    } else if (code === SLASH) {
      // "/*" was taken as a comment by skipWhitespace
      this.position++;
      this.type = '/';
    } else {
      throw this.error(`unexpected character(s) starting with ${describeCharacter(String.fromCodePoint(source.codePointAt(this.position)!))}`);
    }
  }

  /** An error where scanning stopped. */
  private error(message: string): SieveSyntaxError {
    return new SieveSyntaxError(message, this.currentLine, this.position - this.lineStart + 1);
  }

  /** An error about the whole current token, at its start. */
  private tokenError(message: string): SieveSyntaxError {
    return new SieveSyntaxError(message, this.line, this.column);
  }

  private newLine(lineFeedAt: number): void {
    this.currentLine++;
    this.lineStart = lineFeedAt + 1;
  }

  private skipWhitespace(): void {
    const source = this.source;
    const length = source.length;
    let position = this.position;
    while (position < length) {
      const code = source.charCodeAt(position);
      if (code === SPACE || code === TAB || code === CR) {
        position++;
      } else if (code === LF) {
        this.newLine(position);
        position++;
      } else if (code === HASH || (code === SLASH && source.charCodeAt(position + 1) === STAR)) {
        this.position = position;
        if (code === HASH) this.skipHashComment();
        else this.skipBracketComment();
        position = this.position;
      } else {
        break;
      }
    }
    this.position = position;
  }

  /** From "#" through the end of the line; a comment may end the file without a line end. */
  private skipHashComment(): void {
    const source = this.source;
    let end = source.indexOf('\n', this.position);
    if (end < 0) end = source.length;
    const nul = source.indexOf('\0', this.position);
    if (nul >= 0 && nul < end) {
      this.position = nul;
      throw this.error('encountered NUL character in hash comment');
    }
    if (end < source.length) {
      this.newLine(end);
      this.position = end + 1;
    } else {
      this.position = end;
    }
  }

  private skipBracketComment(): void {
    const source = this.source;
    const startLine = this.currentLine;
    const end = source.indexOf('*/', this.position + 2);
    const stop = end < 0 ? source.length : end;
    for (let index = this.position + 2; index < stop; index++) {
      const code = source.charCodeAt(index);
      if (code === LF) {
        this.newLine(index);
      } else if (code === 0) {
        this.position = index;
        throw this.error('encountered NUL character in bracket comment');
      }
    }
    this.position = stop;
    if (end < 0) throw this.error(`end of file before end of bracket comment ('/* ... */') started at line ${startLine}`);
    this.position = end + 2;
  }

  private scanNumber(): void {
    const source = this.source;
    const start = this.position;
    while (isDigit(source.charCodeAt(this.position))) this.position++;
    const digits = source.slice(start, this.position);
    const shift = QUANTIFIER_SHIFT[source.charAt(this.position).toLowerCase()];
    if (shift !== undefined) this.position++;
    if (digits.length <= 15 && shift === undefined) {
      this.number = Number(digits);
    } else {
      const value = BigInt(digits) << (shift ?? 0n);
      if (value > MAX_NUMBER) throw this.tokenError(`number exceeds integer limits (max ${MAX_NUMBER})`);
      this.number = Number(value);
    }
    this.type = 'number';
  }

  /** An identifier, a tag (when the colon was consumed already), or the start of a `text:` string. */
  private scanIdentifier(tag = false): void {
    const source = this.source;
    const start = this.position;
    let position = start;
    let code = source.charCodeAt(position);
    let upperCase = false;
    while (code < 128 && IDENTIFIER_CHARACTERS[code] === 1) {
      if (code <= 90 && code >= 65) upperCase = true;
      code = source.charCodeAt(++position);
    }
    this.position = position;
    const written = source.slice(start, position);
    const name = upperCase ? written.toLowerCase() : written;
    if (!tag && name === 'text' && code === COLON) {
      this.position++;
      this.scanMultiLineString();
      return;
    }
    if (name.length > MAX_IDENTIFIER_LENGTH) {
      throw this.tokenError(`encountered impossibly long ${tag ? "tag identifier ':" : "identifier '"}${name.slice(0, MAX_IDENTIFIER_LENGTH)}...'`);
    }
    this.type = tag ? 'tag' : 'identifier';
    this.text = name;
  }

  private scanQuotedString(): void {
    const source = this.source;
    const length = source.length;
    const startLine = this.currentLine;
    const start = ++this.position;
    const end = source.indexOf('"', start);
    if (end >= 0 && !SPECIAL_IN_QUOTED_STRING.test(source.slice(start, end))) {
      // the usual case: no escapes, line ends or NUL
      this.position = end + 1;
      this.type = 'string';
      this.text = source.slice(start, end);
      if (end - start > MAX_STRING_BYTES / 3 && Buffer.byteLength(this.text) > MAX_STRING_BYTES) {
        throw this.error(`quoted string started at line ${startLine} is too long (longer than ${MAX_STRING_BYTES} bytes)`);
      }
      return;
    }
    let value = '';
    let segment = start;
    for (;;) {
      if (this.position >= length) throw this.error(`end of file before end of quoted string started at line ${startLine}`);
      let code = source.charCodeAt(this.position);
      if (code === QUOTE) break;
      if (code === BACKSLASH) {
        // the escaped character is kept as it is, whatever it is; escaped line ends are line ends
        value += source.slice(segment, this.position);
        segment = ++this.position;
        if (this.position >= length) continue;
        code = source.charCodeAt(this.position);
        if (code !== LF && code !== CR && code !== 0) {
          this.position++;
          continue;
        }
      }
      if (code === 0) throw this.error(`encountered NUL character in quoted string started at line ${startLine}`);
      if (code === CR || code === LF) {
        value += source.slice(segment, this.position);
        if (code === CR) {
          if (source.charCodeAt(this.position + 1) !== LF) {
            this.position++;
            throw this.error(`found stray carriage-return (CR) character in quoted string started at line ${startLine}`);
          }
          this.position++;
        }
        value += '\r\n';
        this.newLine(this.position);
        segment = ++this.position;
        continue;
      }
      this.position++;
    }
    value += source.slice(segment, this.position);
    this.position++;
    if (value.length > MAX_STRING_BYTES / 3 && Buffer.byteLength(value) > MAX_STRING_BYTES) {
      throw this.error(`quoted string started at line ${startLine} is too long (longer than ${MAX_STRING_BYTES} bytes)`);
    }
    this.type = 'string';
    this.text = value;
  }

  /** After "text:": optional blanks and hash comment, a line end, then lines up to a lone "." line. */
  private scanMultiLineString(): void {
    const source = this.source;
    const length = source.length;
    const startLine = this.currentLine;
    while (source.charCodeAt(this.position) === SPACE || source.charCodeAt(this.position) === TAB) this.position++;
    const first = source.charCodeAt(this.position);
    if (this.position >= length) throw this.error('end of file before end of multi-line string');
    if (first === HASH) {
      this.skipHashComment();
      if (this.position >= length) throw this.error('end of file before end of multi-line string');
    } else if (first === LF || (first === CR && source.charCodeAt(this.position + 1) === LF)) {
      if (first === CR) this.position++;
      this.newLine(this.position);
      this.position++;
    } else {
      throw this.error(`invalid character ${describeCharacter(source.charAt(this.position))} after 'text:' in multiline string`);
    }
    const lines: string[] = [];
    for (;;) {
      let start = this.position;
      if (source.charCodeAt(start) === DOT) {
        const afterDot = source.charCodeAt(start + 1);
        if (afterDot === LF || (afterDot === CR && source.charCodeAt(start + 2) === LF)) {
          this.position = start + (afterDot === CR ? 2 : 1);
          this.newLine(this.position);
          this.position++;
          break;
        }
        // dot-stuffing: a leading ".." stands for "."
        if (afterDot === DOT) start++;
      }
      let end = start;
      for (;;) {
        if (end >= length) {
          this.position = end;
          throw this.error('end of file before end of multi-line string');
        }
        const code = source.charCodeAt(end);
        if (code === LF || code === CR) break;
        if (code === 0) {
          this.position = end;
          throw this.error(`encountered NUL character in multi-line string started at line ${startLine}`);
        }
        end++;
      }
      lines.push(source.slice(start, end));
      if (source.charCodeAt(end) === CR) {
        if (source.charCodeAt(end + 1) !== LF) {
          this.position = end + 1;
          throw this.error(`found stray carriage-return (CR) character in multi-line string started at line ${startLine}`);
        }
        end++;
      }
      this.newLine(end);
      this.position = end + 1;
    }
    const value = lines.length === 0 ? '' : lines.join('\r\n') + '\r\n';
    if (value.length > MAX_STRING_BYTES / 3 && Buffer.byteLength(value) > MAX_STRING_BYTES) {
      throw this.error(`multi-line string started at line ${startLine} is too long (longer than ${MAX_STRING_BYTES} bytes)`);
    }
    this.type = 'string';
    this.text = value;
  }
}
