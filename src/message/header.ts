// Field lookups over a raw header block (MessageSource.header: LF line ends,
// no blank line). Pure and allocation-light; never throws. Bytes are decoded
// as UTF-8 (invalid sequences become U+FFFD): values are for matching and
// logging, not for re-writing the message. No RFC 2047 decoding here.
//
// A field is "Name:" (blanks before the colon are allowed, as in RFC 5322's
// obsolete syntax) up to the next line that does not start with a space or a
// tab. Unfolding drops each line end (CR LF or LF) and keeps the whitespace
// that follows it; whitespace right after the colon is trimmed. Lines without
// a colon, and continuation lines with no field before them, are skipped.

/** Every value of the named field (case-insensitive), in header order. */
export function getHeaderValues(header: Buffer, name: string): string[] {
  const wanted = name.toLowerCase();
  const values: string[] = [];
  for (const field of unfoldedFields(header.toString('utf8'))) {
    const colon = field.indexOf(':');
    if (colon < 0) continue;
    if (field.slice(0, colon).trimEnd().toLowerCase() !== wanted) continue;
    values.push(trimLeadingBlanks(field.slice(colon + 1)));
  }
  return values;
}

/** The first value of the named field, or undefined when the header has none. */
export function getFirstHeader(header: Buffer, name: string): string | undefined {
  return getHeaderValues(header, name)[0];
}

/** The header's fields, each with its continuation lines joined on. */
function* unfoldedFields(text: string): Generator<string> {
  let current: string | undefined;
  for (const rawLine of text.split('\n')) {
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    if (line.startsWith(' ') || line.startsWith('\t')) {
      if (current !== undefined) current += line;
      continue;
    }
    if (current !== undefined) yield current;
    current = line;
  }
  if (current !== undefined) yield current;
}

function trimLeadingBlanks(value: string): string {
  let start = 0;
  while (value[start] === ' ' || value[start] === '\t') start++;
  return value.slice(start);
}
