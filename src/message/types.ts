// The message being delivered, read once from stdin or -p, normalised
// (leading From_ line dropped, CRLF stored as LF) and kept in memory up to
// 128 KiB, beyond that in an unlinked temp file: memory stays bounded.

export interface MessageSource {
  /** bytes as stored on disk (LF line endings): Maildir S= */
  readonly size: number;
  /** RFC 822 size, every LF counted as CRLF: Maildir W= */
  readonly vsize: number;
  /**
   * Sender from a leading From_ line on stdin: undefined when there was no
   * such line or it did not parse; "" for a From_ line whose sender is the
   * null sender ("<>" or MAILER-DAEMON is kept as written).
   */
  readonly fromLineSender?: string;
  /** date from the leading From_ line, when it parsed; becomes the Maildir file's mtime */
  readonly receivedDate?: Date;
  /** the header section (up to and excluding the blank line), at most 256 KiB of it, LF endings */
  readonly header: Buffer;
  /** the stored bytes, in chunks; may be called more than once (one copy per mailbox) */
  chunks(): AsyncIterable<Buffer>;
  /** frees the temp file, if any; safe to call twice */
  close(): Promise<void>;
}
