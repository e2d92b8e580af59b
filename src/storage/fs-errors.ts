// Turns a failed filesystem call into a MailboxError, as Dovecot's
// mail_error_from_errno sorts errno values: no permission (EACCES, EPERM,
// EROFS), over quota (EDQUOT), a name the filesystem cannot hold
// (ENAMETOOLONG, so the delivery falls back to INBOX), and everything else
// (ENOSPC, EIO, ENOENT of a parent, ENOTDIR, ELOOP, ...) temporary. The reason
// names the call and path. Also the one "stat, or undefined when missing".

import { stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { MailboxError, type MailboxErrorKind } from './errors.js';

const KIND_BY_CODE: Record<string, MailboxErrorKind> = {
  EACCES: 'no-permission',
  EPERM: 'no-permission',
  EROFS: 'no-permission',
  EDQUOT: 'over-quota',
  ENAMETOOLONG: 'invalid-name',
};

export function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | null)?.code;
}

/** Node's "EIO: i/o error, open '/x'" without the repeated call and path. */
function describe(error: unknown): string {
  const message = (error as Error | null)?.message ?? String(error);
  return errorCode(error) === undefined ? message : message.split(', ')[0];
}

/** `operation` and `path` as in "open(/home/u/Maildir/tmp/x) failed: EIO: i/o error". */
export function mailboxErrorFromFs(error: unknown, operation: string, path: string): MailboxError {
  if (error instanceof MailboxError) return error;
  const code = errorCode(error);
  const kind = (code !== undefined && KIND_BY_CODE[code]) || 'temporary';
  if (kind === 'over-quota') return new MailboxError(kind, 'Not enough disk quota');
  return new MailboxError(kind, `${operation}(${path}) failed: ${describe(error)}`);
}

/** Runs one filesystem call, turning its failure into a MailboxError that names it. */
export async function fsCall<T>(operation: string, path: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw mailboxErrorFromFs(error, operation, path);
  }
}

/** stat() following symlinks; undefined when the path does not exist (or is too long to exist), a MailboxError otherwise. */
export async function statIfExists(path: string): Promise<Stats | undefined> {
  return fsCall('stat', path, async () => {
    try {
      return await stat(path);
    } catch (error) {
      if (errorCode(error) === 'ENOENT' || errorCode(error) === 'ENAMETOOLONG') return undefined;
      throw error;
    }
  });
}
