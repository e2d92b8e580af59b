// Line-ending conversion of the incoming message, chunk by chunk, as Dovecot
// stores mail (mail_save_crlf=no): a CR directly before an LF is dropped, a
// lone CR is kept, and a CR that ends the input is dropped. A CR LF pair may
// straddle two chunks. Also counts what Maildir's S= and W= need. Never throws.
//
// vsize (W=) is the size with every line end as CR LF: the stored size plus
// one for each stored LF not already preceded by a CR ("a\r\r\n" stores as
// "a\r\n", which counts as a CR LF). Verified against dovecot-lda 2.3.19.

const CR = 0x0d;
const LF = 0x0a;
const CR_ONLY = Buffer.from([CR]);
const EMPTY = Buffer.alloc(0);

export class LineEndingConverter {
  /** stored bytes so far */
  size = 0;
  /** stored bytes so far, counting each bare LF as two */
  vsize = 0;
  /** the previous chunk ended in a CR that is held back until we see what follows */
  private pendingCr = false;
  /** last stored byte, to tell whether an LF at the start of a chunk follows a CR */
  private lastStoredByte = -1;

  /** Converts one input chunk; returns the bytes to store (possibly empty, possibly a view of `chunk`). */
  push(chunk: Buffer): Buffer {
    if (chunk.length === 0) return EMPTY;
    const parts: Buffer[] = [];
    if (this.pendingCr) {
      this.pendingCr = false;
      if (chunk[0] !== LF) parts.push(CR_ONLY);
    }
    let start = 0;
    let searchFrom = 0;
    for (let cr = chunk.indexOf(CR, searchFrom); cr >= 0; cr = chunk.indexOf(CR, searchFrom)) {
      if (cr === chunk.length - 1) {
        parts.push(chunk.subarray(start, cr));
        start = chunk.length;
        this.pendingCr = true;
        break;
      }
      if (chunk[cr + 1] === LF) {
        parts.push(chunk.subarray(start, cr));
        start = cr + 1;
        searchFrom = cr + 2;
      } else {
        searchFrom = cr + 1;
      }
    }
    if (start < chunk.length) parts.push(start === 0 ? chunk : chunk.subarray(start));
    const stored = parts.length === 1 ? parts[0] : Buffer.concat(parts);
    this.count(stored);
    return stored;
  }

  /** Ends the input: a CR still held back is dropped, as Dovecot does. */
  end(): void {
    this.pendingCr = false;
  }

  private count(stored: Buffer): void {
    if (stored.length === 0) return;
    let bareLfs = 0;
    for (let lf = stored.indexOf(LF); lf >= 0; lf = stored.indexOf(LF, lf + 1)) {
      const previous = lf > 0 ? stored[lf - 1] : this.lastStoredByte;
      if (previous !== CR) bareLfs++;
    }
    this.lastStoredByte = stored[stored.length - 1];
    this.size += stored.length;
    this.vsize += stored.length + bareLfs;
  }
}
