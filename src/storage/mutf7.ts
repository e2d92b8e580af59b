// Modified UTF-7 (RFC 3501 §5.1.3), the encoding Dovecot uses for mailbox
// names on disk unless mail_location has the UTF-8 option. Pure; never fails:
// callers check well-formedness first (isWellFormedText).

const AMPERSAND = 0x26;

function isDirect(codeUnit: number): boolean {
  return codeUnit >= 0x20 && codeUnit <= 0x7e;
}

/** One run of non-printable UTF-16 code units → "&<modified base64>-". */
function encodeShiftedRun(codeUnits: number[]): string {
  const bytes = Buffer.alloc(codeUnits.length * 2);
  codeUnits.forEach((unit, index) => bytes.writeUInt16BE(unit, index * 2));
  const base64 = bytes.toString('base64').replace(/=+$/, '').replaceAll('/', ',');
  return `&${base64}-`;
}

/** UTF-8 text (a JS string) → modified UTF-7: "Ünï" → "&ANw-n&AO8-", "&" → "&-". */
export function encodeModifiedUtf7(text: string): string {
  let encoded = '';
  let shifted: number[] = [];
  for (let index = 0; index < text.length; index++) {
    const unit = text.charCodeAt(index);
    if (!isDirect(unit)) {
      shifted.push(unit);
      continue;
    }
    if (shifted.length > 0) {
      encoded += encodeShiftedRun(shifted);
      shifted = [];
    }
    encoded += unit === AMPERSAND ? '&-' : text[index];
  }
  return shifted.length > 0 ? encoded + encodeShiftedRun(shifted) : encoded;
}

/** False when the string has a lone UTF-16 surrogate, i.e. it did not come from valid UTF-8. */
export function isWellFormedText(text: string): boolean {
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text);
}
