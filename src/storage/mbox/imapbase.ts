// The keywords an mbox declares. Dovecot (like UW-IMAP) lists every keyword
// of the mailbox in the first message's `X-IMAPbase: <uidvalidity> <next uid>
// kw1 kw2 ...` field (`X-IMAP:` in its "FOLDER INTERNAL DATA" pseudo
// message), and when it reads a message it has not given a UID yet it drops
// that message's whole X-Keywords field if one name there is not declared
// (it takes it for one a sender wrote). So a keyword is only kept if the
// mailbox declares it.
//
// declareKeywords() looks at the start of the file and says which spelling
// of each keyword the mailbox uses and how to declare the missing ones in
// place, as Dovecot does: they go at the end of the X-IMAPbase line, and the
// bytes after them shift into padding (trailing spaces) of that line or of a
// later X-UID or X-Keywords line of the same header, so nothing else in the
// file moves. A keyword that does not fit is left out. Pure; never throws.

import { asciiLowerCase } from '../../message/ascii.js';

/** How much of the file's start declareKeywords() needs to see: the first message's header must end in it. */
export const MBOX_HEAD_BYTES = 64 * 1024;

export interface KeywordDeclaration {
  /** the keywords to write into X-Keywords: declared ones in the mailbox's spelling, then those the edit adds */
  keywords: string[];
  /** same-length bytes to write at `offset` in the file; undefined when every keyword is already declared */
  edit?: { offset: number; bytes: Buffer };
}

interface HeaderLine {
  /** offset of the line's first byte */
  start: number;
  /** offset of its newline */
  end: number;
  text: string;
}

const DECLARATION_FIELD = /^x-imap(base)?[ \t]*:/i;
const PADDING_FIELD = /^(x-uid|x-keywords)[ \t]*:/i;

/** The lines of the first message's header (after the From_ line), or undefined when it does not end within `head`. */
function firstHeaderLines(head: Buffer): HeaderLine[] | undefined {
  const text = head.toString('latin1');
  const lines: HeaderLine[] = [];
  let start = text.indexOf('\n') + 1;
  if (start === 0) return undefined;
  for (;;) {
    const end = text.indexOf('\n', start);
    if (end < 0) return undefined;
    if (end === start) return lines;
    lines.push({ start, end, text: text.slice(start, end) });
    start = end + 1;
  }
}

function isContinuation(line: HeaderLine | undefined): boolean {
  return line !== undefined && (line.text.startsWith(' ') || line.text.startsWith('\t'));
}

function trailingSpaces(text: string): number {
  return text.length - text.replace(/ +$/, '').length;
}

/**
 * `head` is the start of a non-empty mbox file (at least MBOX_HEAD_BYTES of
 * it, or all). Undefined when the first message has no usable X-IMAPbase or
 * X-IMAP line (none, folded, or not "<number> <number> ..."): the file
 * declares nothing Dovetail can see.
 */
export function declareKeywords(head: Buffer, keywords: readonly string[]): KeywordDeclaration | undefined {
  const lines = firstHeaderLines(head);
  if (lines === undefined) return undefined;
  const at = lines.findIndex((line) => DECLARATION_FIELD.test(line.text));
  if (at < 0 || isContinuation(lines[at + 1])) return undefined;
  const declaration = lines[at];
  const words = declaration.text.slice(declaration.text.indexOf(':') + 1).trim().split(/[ \t]+/);
  if (words.length < 2 || !/^\d+$/.test(words[0]) || !/^\d+$/.test(words[1])) return undefined;
  const declared = new Map<string, string>();
  for (const word of words.slice(2)) if (!declared.has(asciiLowerCase(word))) declared.set(asciiLowerCase(word), word);
  const spelt: string[] = [];
  const missing: string[] = [];
  for (const keyword of keywords) {
    const known = declared.get(asciiLowerCase(keyword));
    if (known !== undefined) spelt.push(known);
    else missing.push(keyword);
  }
  if (missing.length === 0) return { keywords: spelt };
  const addition = missing.map((keyword) => ` ${keyword}`).join('');
  const padding = lines
    .slice(at)
    .find(
      (line, index) =>
        (index === 0 || PADDING_FIELD.test(line.text)) &&
        !isContinuation(lines[at + index + 1]) &&
        trailingSpaces(line.text) >= addition.length,
    );
  if (padding === undefined) return { keywords: spelt };
  const offset = declaration.start + declaration.text.trimEnd().length;
  const shifted = head.subarray(offset, padding.end - addition.length);
  return {
    keywords: [...spelt, ...missing],
    edit: { offset, bytes: Buffer.concat([Buffer.from(addition, 'latin1'), shifted]) },
  };
}
