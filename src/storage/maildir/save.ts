// One Maildir save (Dovecot's maildir-save.c): write() streams the message
// into tmp/<base> (created O_EXCL|O_NOFOLLOW with the mailbox's file mode and
// group); commit() sets the received date as mtime, fsyncs unless
// mail_fsync=never, renames the file to new/<base>,S=<size>,W=<vsize> and
// fsyncs new/. A message with flags goes to cur/ instead, its name ending in
// `:2,` and the flag letters (`:2,FSab`), its keywords' letters taken from
// dovecot-keywords (keywords.ts) before the rename. Any failure, and
// rollback(), unlinks what was written: nothing half-written ever appears in
// new/ or cur/ (a file whose directory fsync failed is taken back out too, so
// a retry cannot duplicate it); so does an abort (SIGTERM) before the rename.
// A keyword added to dovecot-keywords stays there. Failures are MailboxError:
// EDQUOT 'over-quota', EACCES/EPERM 'no-permission', the rest 'temporary'.

import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { constants } from 'node:fs';
import type { MessageSource } from '../../message/types.js';
import type { SavedMail, SaveTransaction } from '../types.js';
import { MailboxError } from '../errors.js';
import { errorCode, fsCall } from '../fs-errors.js';
import { syncDirectory, writeAll } from '../file-io.js';
import { applyGroup, type Permissions } from '../permissions.js';
import { hasAnyFlag, type MessageFlags } from '../flags.js';
import { maildirFileName, maildirFlagLetters, nextMaildirBaseName } from './filename.js';
import { maildirKeywordLetters } from './keywords.js';

export interface MaildirSaveTarget {
  /** the mailbox name for SavedMail, as the user asked for it */
  mailboxName: string;
  /** the mailbox directory holding cur/ new/ tmp/ */
  directory: string;
  /** where dovecot-keywords lives: the mailbox directory, or its directory under CONTROL= */
  controlDirectory: string;
  /** mode and group for the message file */
  permissions: Permissions;
  /** false for mail_fsync=never */
  fsync: boolean;
  hostname: string;
  /** set when the delivery is being killed: stop, remove the tmp/ file */
  signal?: AbortSignal;
}

/** Gives up on unique names after this many existing files in a row (Dovecot retries forever). */
const MAX_NAME_ATTEMPTS = 1000;
const TMP_FILE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

interface TmpFile {
  handle: FileHandle;
  path: string;
  baseName: string;
}

async function createTmpFile(target: MaildirSaveTarget): Promise<TmpFile> {
  for (let attempt = 0; attempt < MAX_NAME_ATTEMPTS; attempt++) {
    const baseName = nextMaildirBaseName(target.hostname);
    const path = `${target.directory}/tmp/${baseName}`;
    try {
      const handle = await open(path, TMP_FILE_FLAGS, target.permissions.fileMode);
      return { handle, path, baseName };
    } catch (error) {
      if (errorCode(error) !== 'EEXIST') throw error;
    }
  }
  throw new MailboxError('temporary', `Could not find a free file name in ${target.directory}/tmp`);
}

type SaveState = 'ready' | 'writing' | 'written' | 'finished';

export class MaildirSaveTransaction implements SaveTransaction {
  private state: SaveState = 'ready';
  private file: TmpFile | undefined;
  private size = 0;
  private vsize = 0;

  constructor(
    private readonly target: MaildirSaveTarget,
    private readonly receivedDate: Date | undefined,
    private readonly flags: MessageFlags,
  ) {}

  async write(message: MessageSource): Promise<void> {
    if (this.state !== 'ready') throw new MailboxError('temporary', 'A Maildir save takes exactly one write()');
    this.state = 'writing';
    const tmpDirectory = `${this.target.directory}/tmp`;
    try {
      const file = await fsCall('open', tmpDirectory, () => createTmpFile(this.target));
      this.file = file;
      await fsCall('fchmod', file.path, async () => {
        await file.handle.chmod(this.target.permissions.fileMode);
        await applyGroup((gid) => file.handle.chown(-1, gid), this.target.permissions);
      });
      let written = 0;
      await fsCall('write', file.path, async () => {
        for await (const chunk of message.chunks()) {
          this.target.signal?.throwIfAborted();
          await writeAll(file.handle, chunk);
          written += chunk.length;
        }
      });
      if (written !== message.size) {
        throw new MailboxError('temporary', `Wrote ${written} bytes to ${file.path}, but the message has ${message.size}`);
      }
      this.size = written;
      this.vsize = message.vsize;
      this.state = 'written';
    } catch (error) {
      await this.discard();
      throw error;
    }
  }

  async commit(): Promise<SavedMail> {
    const file = this.file;
    if (this.state !== 'written' || file === undefined) {
      throw new MailboxError('temporary', 'Maildir commit() without a complete write()');
    }
    const flagged = hasAnyFlag(this.flags);
    const directory = `${this.target.directory}/${flagged ? 'cur' : 'new'}`;
    let finalPath = '';
    try {
      this.target.signal?.throwIfAborted();
      const flagLetters = flagged ? maildirFlagLetters(this.flags.system, await this.keywordLetters()) : undefined;
      finalPath = `${directory}/${maildirFileName(file.baseName, this.size, this.vsize, flagLetters)}`;
      this.target.signal?.throwIfAborted();
      if (this.receivedDate !== undefined) {
        const receivedDate = this.receivedDate;
        await fsCall('utime', file.path, () => file.handle.utimes(new Date(), receivedDate));
      }
      if (this.target.fsync) await fsCall('fsync', file.path, () => file.handle.sync());
      await fsCall('close', file.path, () => file.handle.close());
      await fsCall('rename', file.path, () => rename(file.path, finalPath));
      this.file = undefined;
    } catch (error) {
      await this.discard();
      throw error;
    }
    if (this.target.fsync) {
      try {
        await fsCall('fdatasync', directory, () => syncDirectory(directory));
      } catch (error) {
        await unlink(finalPath).catch(() => undefined);
        this.state = 'finished';
        throw error;
      }
    }
    this.state = 'finished';
    return { mailbox: this.target.mailboxName, path: finalPath, size: this.size, vsize: this.vsize };
  }

  /** The letters of the message's keywords, registering new ones in dovecot-keywords. */
  private keywordLetters(): Promise<string> {
    const { controlDirectory, permissions, fsync, hostname, signal } = this.target;
    return maildirKeywordLetters(this.flags.keywords, { directory: controlDirectory, permissions, fsync, hostname, signal });
  }

  async rollback(): Promise<void> {
    await this.discard();
  }

  /** Closes and unlinks the tmp file, if any; never throws. */
  private async discard(): Promise<void> {
    this.state = 'finished';
    const file = this.file;
    this.file = undefined;
    if (file === undefined) return;
    await file.handle.close().catch(() => undefined);
    await unlink(file.path).catch(() => undefined);
  }
}
