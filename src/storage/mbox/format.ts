// How one message is written into an mbox file (Dovecot's mbox-save.c, with
// one deliberate change): the From_ line, the message headers without the
// headers Dovecot keeps its bookkeeping in (a sender must not be able to set
// them) and without From_ lines among them, for a message with flags
// Dovecot's flag headers (below), a Content-Length header, the blank line,
// the body, and a blank separator line. The body is made to end with "\n"
// (an empty body becomes "\n"; only a wholly empty message keeps an empty
// body), as Dovecot does.
//
// Flag headers, as Dovecot writes them: `Status: ` with R for \Seen (no O:
// a new mail is recent), `X-Status: ` with A F T D for \Answered \Flagged
// \Deleted \Draft (only when one is set), `X-Keywords:` with the keywords
// and the padding Dovecot leaves for later changes (91 bytes, less what the
// Content-Length line takes of it); in the file's first message, when asked,
// `X-IMAPbase: <uidvalidity> <next uid> <keywords>` before them, the room
// for its keywords taken from that padding, as Dovecot's in-place update
// takes it. Dovecot's X-UID is not written (docs/compatibility.md, "mbox
// bookkeeping headers"). Unflagged mail gets none of them.
//
// The change (docs/compatibility.md, "mbox From_ quoting"): every line that
// matches /^>*From / and is kept gets one more ">" (mboxrd). dovecot-lda leaves such lines
// alone and relies on Content-Length, so a reader that splits on From_ lines
// (Python's mailbox, formail, old POP servers) cuts its messages in two;
// mboxrd quoting can be undone exactly, and Content-Length counts the quoted
// bytes, so Dovecot and mutt read the same messages as those readers.
//
// Pure and incremental: MboxRecordEncoder takes the stored message (LF line
// endings) chunk by chunk and hands back bytes. Lines are examined only at
// their start, so memory stays bounded for any line length. Content-Length
// must precede the body, so a save runs the encoder twice: once to measure
// the body, once to produce the record. Never throws.

import type { SmtpAddress } from '../../message/smtp-address.js';
import { formatAddress } from '../../message/smtp-address.js';
import { formatFromLineDate } from '../../message/from-line.js';
import type { MessageFlags, SystemFlag } from '../flags.js';

/** Dovecot's envelope sender when there is none, and for the null sender. */
const DEFAULT_ENVELOPE_SENDER = 'MAILER-DAEMON';

/** Incoming headers that carry Dovecot's (or other mbox tools') per-message state; never copied. */
const BOOKKEEPING_HEADERS = new Set([
  'content-length',
  'status',
  'x-delivery-id',
  'x-imap',
  'x-imapbase',
  'x-keywords',
  'x-status',
  'x-uid',
]);

/** Bytes at the start of a line enough to name any header above and to see "From " after a run of ">". */
const LINE_PREFIX_LIMIT = 256;

const NEWLINE = 0x0a;
const GREATER_THAN = 0x3e;
const FROM_SPACE = Buffer.from('From ');
const QUOTE = Buffer.from('>');
const NEWLINE_BUFFER = Buffer.from('\n');

/** Dovecot's X-Keywords padding before the Content-Length line is cut from it: MBOX_HEADER_PADDING (50) + 1 + "Content-Length: \n" + MAX_INT_STRLEN (23). */
const KEYWORDS_PADDING = 91;
/** "\nContent-Length: " */
const CONTENT_LENGTH_PREFIX_LENGTH = 17;
const STATUS_LETTERS: readonly [SystemFlag, string][] = [['seen', 'R']];
const X_STATUS_LETTERS: readonly [SystemFlag, string][] = [
  ['answered', 'A'],
  ['flagged', 'F'],
  ['deleted', 'T'],
  ['draft', 'D'],
];

/** The flag headers of one message (see the top of this file). */
export interface MboxFlagHeaders {
  system: MessageFlags['system'];
  /** the keywords to list, spelt as the mailbox declares them */
  keywords: readonly string[];
  /** for the first message of a file: the X-IMAPbase UIDVALIDITY; it then declares `keywords` */
  imapBaseUidValidity?: number;
}

function letters(system: MessageFlags['system'], table: readonly [SystemFlag, string][]): string {
  return table
    .filter(([flag]) => system.has(flag))
    .map(([, letter]) => letter)
    .join('');
}

/** Pure: the flag header lines for a body of `contentLength` bytes, each ending in "\n". */
export function formatMboxFlagHeaders(headers: MboxFlagHeaders, contentLength: number): string {
  const keywords = headers.keywords.map((keyword) => ` ${keyword}`).join('');
  const imapBase =
    headers.imapBaseUidValidity === undefined ? '' : `X-IMAPbase: ${headers.imapBaseUidValidity} 0000000001${keywords}\n`;
  const xStatus = letters(headers.system, X_STATUS_LETTERS);
  // Dovecot declares the first message's keywords afterwards, in place: their room comes out of the padding
  const declared = headers.imapBaseUidValidity === undefined ? 0 : keywords.length;
  const padding = ' '.repeat(Math.max(0, KEYWORDS_PADDING - CONTENT_LENGTH_PREFIX_LENGTH - String(contentLength).length - declared));
  return (
    imapBase +
    `Status: ${letters(headers.system, STATUS_LETTERS)}\n` +
    (xStatus === '' ? '' : `X-Status: ${xStatus}\n`) +
    `X-Keywords:${keywords}${padding}\n`
  );
}

/** `From <sender>  <date>\n` as Dovecot writes it: two spaces, MAILER-DAEMON for no or the null sender. */
export function mboxFromLine(sender: SmtpAddress | null | undefined, date: Date): string {
  const shown = sender ? formatAddress(sender) : DEFAULT_ENVELOPE_SENDER;
  return `From ${shown}  ${formatFromLineDate(date)}\n`;
}

/** True for a line start (up to LINE_PREFIX_LIMIT bytes) that mboxrd quotes: ">"* then "From ". */
export function needsFromQuote(lineStart: Buffer): boolean {
  let index = 0;
  while (index < lineStart.length && lineStart[index] === GREATER_THAN) index++;
  return lineStart.length - index >= FROM_SPACE.length && lineStart.subarray(index, index + FROM_SPACE.length).equals(FROM_SPACE);
}

/** A From_ line: in the header, one more that an mbox writer put there (Dovecot drops them). */
function isFromLine(lineStart: Buffer): boolean {
  return lineStart.subarray(0, FROM_SPACE.length).equals(FROM_SPACE);
}

/** The header field a line starts, lower-cased, or undefined for a line without a colon in its prefix. */
function fieldName(lineStart: Buffer): string | undefined {
  const colon = lineStart.indexOf(':');
  if (colon < 0) return undefined;
  return lineStart.subarray(0, colon).toString('latin1').replace(/[ \t]+$/, '').toLowerCase();
}

type Section = 'header' | 'body';

/**
 * One message → its mbox record minus the From_ line. `contentLength` is the
 * body length the record announces; pass undefined to measure it:
 * `bodyLength` after end() is what a second run must be given.
 */
export class MboxRecordEncoder {
  private section: Section = 'header';
  /** the start of the current line, while it is too short to decide on */
  private pending: Buffer[] = [];
  private pendingLength = 0;
  /** the current line has been decided on and streams through (or is dropped) */
  private lineDecided = false;
  private dropLine = false;
  /** inside a bookkeeping header: its continuation lines go too */
  private droppingField = false;
  private sawInput = false;
  private lastBodyByte: number | undefined;
  /** body bytes produced so far (quoting and the final newline included) */
  bodyLength = 0;

  constructor(
    private readonly contentLength: number | undefined,
    private readonly flagHeaders?: MboxFlagHeaders,
  ) {}

  /** Bytes of the record for this chunk of the message. */
  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    if (chunk.length > 0) this.sawInput = true;
    let position = 0;
    while (position < chunk.length) {
      const newline = chunk.indexOf(NEWLINE, position);
      const end = newline < 0 ? chunk.length : newline + 1;
      this.linePiece(chunk.subarray(position, end), newline >= 0, out);
      position = end;
    }
    return out;
  }

  /** The rest of the record: a missing newline, the end of the header when there was no body, the separator line. */
  end(): Buffer[] {
    const out: Buffer[] = [];
    if (this.pendingLength > 0 || this.lineDecided) this.linePiece(Buffer.alloc(0), true, out, true);
    if (this.section === 'header') this.endHeader(out);
    if (this.sawInput && this.lastBodyByte !== NEWLINE) this.emitBody(NEWLINE_BUFFER, out);
    out.push(NEWLINE_BUFFER);
    return out;
  }

  /** Part of one line; `complete` when it includes the line's end. `missingNewline` for a last line without one. */
  private linePiece(piece: Buffer, complete: boolean, out: Buffer[], missingNewline = false): void {
    if (!this.lineDecided) {
      if (this.pendingLength === 0 && (complete || piece.length >= LINE_PREFIX_LIMIT)) {
        this.decideLine(piece, out); // the usual case: the line's start is all here, no copy
      } else {
        this.pending.push(piece);
        this.pendingLength += piece.length;
        if (!complete && this.pendingLength < LINE_PREFIX_LIMIT) return;
        piece = Buffer.concat(this.pending);
        this.pending = [];
        this.pendingLength = 0;
        this.decideLine(piece, out);
      }
    }
    if (!this.dropLine) {
      if (this.section === 'header') out.push(piece);
      else this.emitBody(piece, out);
      if (missingNewline && this.section === 'header') out.push(NEWLINE_BUFFER);
    }
    if (complete) this.lineDecided = false;
  }

  /** Looks at a line's start: ends the header, drops bookkeeping fields, quotes From_ lines. */
  private decideLine(start: Buffer, out: Buffer[]): void {
    this.lineDecided = true;
    this.dropLine = false;
    if (this.section === 'header') {
      if (start.length === 1 && start[0] === NEWLINE) {
        this.endHeader(out);
        this.dropLine = true; // endHeader wrote the blank line
        return;
      }
      const continuation = start[0] === 0x20 || start[0] === 0x09;
      if (!continuation) {
        const name = fieldName(start.subarray(0, LINE_PREFIX_LIMIT));
        this.droppingField = (name !== undefined && BOOKKEEPING_HEADERS.has(name)) || isFromLine(start);
      }
      if (this.droppingField) {
        this.dropLine = true;
        return;
      }
    }
    if (needsFromQuote(start.subarray(0, LINE_PREFIX_LIMIT))) {
      if (this.section === 'header') out.push(QUOTE);
      else this.emitBody(QUOTE, out);
    }
  }

  private endHeader(out: Buffer[]): void {
    this.section = 'body';
    const contentLength = this.contentLength ?? 0;
    const flagHeaders = this.flagHeaders === undefined ? '' : formatMboxFlagHeaders(this.flagHeaders, contentLength);
    out.push(Buffer.from(`${flagHeaders}Content-Length: ${contentLength}\n\n`, 'latin1'));
  }

  private emitBody(bytes: Buffer, out: Buffer[]): void {
    if (bytes.length === 0) return;
    this.bodyLength += bytes.length;
    this.lastBodyByte = bytes[bytes.length - 1];
    out.push(bytes);
  }
}

/** Runs the message through an encoder; yields what it produces, a buffer per input chunk. */
async function* encodeWith(encoder: MboxRecordEncoder, chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  for await (const chunk of chunks) yield Buffer.concat(encoder.push(chunk)); // one write per input chunk
  yield Buffer.concat(encoder.end());
}

/** The whole mbox record of a message: the From_ line, then the encoded message (measured first for Content-Length). */
export async function* encodeMboxRecord(
  fromLine: string,
  message: { chunks(): AsyncIterable<Buffer> },
  flagHeaders?: MboxFlagHeaders,
): AsyncGenerator<Buffer> {
  const measure = new MboxRecordEncoder(undefined);
  for await (const chunk of message.chunks()) measure.push(chunk);
  measure.end();
  yield Buffer.from(fromLine);
  yield* encodeWith(new MboxRecordEncoder(measure.bodyLength, flagHeaders), message.chunks());
}
