// An mbox file split into messages the careful way, as Dovecot and mutt read
// one: a message's Content-Length is honoured when it ends the body exactly at
// "\nFrom " or at the end of the file; otherwise the body runs to the next
// line that looks like a From_ line (sender and date, so "From here on" is
// body text). The LF before a From_ line (the separator line, or the end of
// the last body line when there is none) is not part of the body. Pure; it
// never fails: a header without an empty line after it or an unparseable
// Content-Length are shown as they are (see MboxRecord).
// Also the inverse of mboxrd quoting, for tests that check it.

const FROM = Buffer.from('From ');
const LF_FROM = Buffer.from('\nFrom ');
const LF = 0x0a;

const WEEKDAY = '(Sun|Mon|Tue|Wed|Thu|Fri|Sat)';
const MONTH = '(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)';
/** `From sender  Www Mmm DD HH:MM:SS YYYY`, as Dovecot writes it: two spaces, a zero-padded day. */
const FROM_LINE = new RegExp(`^From (\\S+)  ${WEEKDAY} ${MONTH} (0[1-9]|[12]\\d|3[01]) ([01]\\d|2[0-3]):[0-5]\\d:[0-5]\\d \\d{4}$`);
/** What a reader takes for the start of the next message: `From sender Www Mmm D HH:MM[:SS] [ZONE ]YYYY[ ±HHMM]`. */
const SEPARATOR_LINE = new RegExp(`^From \\S+ +${WEEKDAY} ${MONTH} +\\d{1,2} \\d{1,2}:\\d\\d(:\\d\\d)? (\\S+ )?\\d{4}( [+-]\\d{4})?\\r?$`);

export type ContentLengthUse = 'used' | 'ignored' | 'absent';

export interface MboxRecord {
  /** the From_ line without its LF */
  fromLine: string;
  /** its sender, when the line has Dovecot's shape (two spaces, then a well-formed date) */
  sender?: string;
  /** header fields (each with its continuation lines, without the final LF), in order */
  fields: string[];
  /** 'used': a Content-Length ended the body exactly at the next From_ line or EOF; 'ignored': one did not */
  contentLength: ContentLengthUse;
  body: Buffer;
}

/** The index of the LF that ends the line starting at `start`, or the buffer's length. */
function lineEnd(content: Buffer, start: number): number {
  const end = content.indexOf(LF, start);
  return end === -1 ? content.length : end;
}

/** Header lines from `start` to the first empty line; `bodyStart` is past that empty line. */
function readHeader(content: Buffer, start: number): { fields: string[]; bodyStart: number } {
  const fields: string[] = [];
  let pos = start;
  while (pos < content.length) {
    const end = lineEnd(content, pos);
    const line = content.subarray(pos, end).toString('latin1');
    pos = end + 1;
    if (line === '') break;
    if ((line.startsWith(' ') || line.startsWith('\t')) && fields.length > 0) fields[fields.length - 1] += `\n${line}`;
    else fields.push(line);
  }
  return { fields, bodyStart: Math.min(pos, content.length) };
}

function isContentLength(field: string): boolean {
  return /^content-length:/i.test(field);
}

/** The value of the first Content-Length field as a byte count, or undefined. */
function contentLengthOf(fields: string[]): number | undefined {
  const field = fields.find(isContentLength);
  if (field === undefined) return undefined;
  const value = field.slice(field.indexOf(':') + 1).trim();
  return /^\d+$/.test(value) ? Number(value) : undefined;
}

/** Where a body of `length` bytes from `bodyStart` ends, if that is exactly before "\nFrom ", "\n" EOF or EOF. */
function endByContentLength(content: Buffer, bodyStart: number, length: number): number | undefined {
  const end = bodyStart + length;
  if (end === content.length) return end;
  if (end > content.length || content[end] !== LF) return undefined;
  if (end + 1 === content.length) return end;
  return content.subarray(end + 1, end + 1 + FROM.length).equals(FROM) ? end : undefined;
}

/** Where the body from `bodyStart` ends when no Content-Length can be trusted: at the LF before the next From_ line, or the last LF. */
function endBySeparator(content: Buffer, bodyStart: number): number {
  for (let at = content.indexOf(LF_FROM, Math.max(bodyStart - 1, 0)); at !== -1; at = content.indexOf(LF_FROM, at + 1)) {
    if (SEPARATOR_LINE.test(content.subarray(at + 1, lineEnd(content, at + 1)).toString('latin1'))) return at;
  }
  return content.length > bodyStart && content[content.length - 1] === LF ? content.length - 1 : content.length;
}

function senderOf(fromLine: string): Pick<MboxRecord, 'sender'> {
  const match = FROM_LINE.exec(fromLine);
  return match ? { sender: match[1] } : {};
}

/** A message's header fields and body (what follows its first empty line). */
export function parseMessage(message: Buffer): { fields: string[]; body: Buffer } {
  const { fields, bodyStart } = readHeader(message, 0);
  return { fields, body: message.subarray(bodyStart) };
}

/** True when `content` looks like an mbox: it starts with "From ". */
export function isMbox(content: Buffer): boolean {
  return content.subarray(0, FROM.length).equals(FROM);
}

/** The messages of an mbox file, in order; [] when it does not start with "From ". */
export function splitMbox(content: Buffer): MboxRecord[] {
  const records: MboxRecord[] = [];
  let pos = isMbox(content) ? 0 : content.length;
  while (pos < content.length) {
    const fromEnd = lineEnd(content, pos);
    const fromLine = content.subarray(pos, fromEnd).toString('latin1');
    const { fields, bodyStart } = readHeader(content, fromEnd + 1);
    const length = contentLengthOf(fields);
    const byLength = length === undefined ? undefined : endByContentLength(content, bodyStart, length);
    const bodyEnd = byLength ?? endBySeparator(content, bodyStart);
    const contentLength: ContentLengthUse = !fields.some(isContentLength) ? 'absent' : byLength === undefined ? 'ignored' : 'used';
    records.push({ fromLine, ...senderOf(fromLine), fields, contentLength, body: content.subarray(bodyStart, bodyEnd) });
    pos = bodyEnd + 1;
  }
  return records;
}

/** Undoes mboxrd quoting: one ">" less on every line that matches /^>+From /. */
export function unquoteMboxrd(text: Buffer): Buffer {
  const lines = text.toString('latin1').split('\n');
  return Buffer.from(lines.map((line) => (/^>+From /.test(line) ? line.slice(1) : line)).join('\n'), 'latin1');
}
