// `dovetail [dovecot-lda flags]`: deliver the message on stdin (or -p) the
// way dovecot-lda does, and return the exit status. The steps run in
// dovecot-lda's order: arguments, settings, user, privileges, message,
// delivery, log. Every failure arrives here as a DeliveryFailure (anything
// else is temporary) and leaves as one stderr line and one sysexits code.

import { hostname as systemHostname } from 'node:os';
import { parseLdaArgs, type LdaRequest } from './lda-args.js';
import { exitStatusFor, EX_OK, EX_TEMPFAIL } from '../deliver/outcomes.js';
import { DeliveryFailure } from '../deliver/failure.js';
import { loadSettings } from '../config/settings.js';
import type { Settings } from '../config/types.js';
import { resolveLdaUser, type MailUser } from '../deliver/lda-user.js';
import { switchToMailUser, keepPrivilegedGroup, nodeProcessIdentity, type PrivilegedGroup } from '../deliver/privileges.js';
import { gidOf } from '../userdb/system-accounts.js';
import { readMessage } from '../message/read.js';
import type { MessageSource } from '../message/types.js';
import { resolveEnvelope } from '../deliver/envelope.js';
import { asDeliveryFailure } from '../deliver/deliver.js';
import { deliverToUser } from '../deliver/user-delivery.js';
import { userHome } from '../deliver/storage-options.js';
import { openLog, type Log } from '../log/log.js';
import { newSessionId } from '../log/deliver-log.js';

export interface LdaIo {
  argv: readonly string[];
  env: NodeJS.ProcessEnv;
  stdin: NodeJS.ReadableStream;
  /** one line, no newline */
  writeError(line: string): void;
  /** aborted when the process is being killed: a save in progress rolls back */
  signal?: AbortSignal;
}

/** Runs one LDA delivery; returns the exit status. Never throws. */
export async function runLda(io: LdaIo): Promise<number> {
  let request: LdaRequest | undefined;
  let log: Log | undefined;
  let message: MessageSource | undefined;
  try {
    request = parseLdaArgs(io.argv);
    const settings = loadSettings({
      configPath: request.configPath,
      skipConfig: request.skipConfig,
      protocol: 'lda',
      overrides: request.overrides,
    });
    const pid = process.pid;
    log = openLog(settings, `lda(${pid}): `);
    const hostname = settings.hostname || io.env.DOVECOT_HOSTDOMAIN || systemHostname();
    const user = await resolveLdaUser(request.destinationUser, {
      settings,
      hostname,
      env: io.env,
      euid: process.geteuid!(),
    });
    const session = newSessionId();
    log.setPrefix(`lda(${user.username})<${pid}><${session}>: `);
    const home = userHome(settings, user, hostname, 'lda');
    const privilegedGroup = dropPrivileges(user, settings, await privilegedGroupId(settings));

    message = await readMessage(request.messagePath === undefined ? io.stdin : { path: request.messagePath }, {
      fromStdin: request.messagePath === undefined,
      tempDir: settings.mail_temp_dir,
      signal: io.signal,
    });
    io.signal?.throwIfAborted(); // killed while reading: deliver nothing
    const envelope = resolveEnvelope({ request, message, username: user.username, hostname, settings });
    await deliverToUser({
      settings,
      user,
      home,
      hostname,
      fileHostname: io.env.DOVECOT_HOSTNAME || systemHostname(),
      service: 'lda',
      message,
      envelope,
      mailbox: request.mailbox ?? 'INBOX',
      privilegedGroup,
      signal: io.signal,
      log,
      reportLogFailure: (text) => io.writeError(oneLine(text)),
      rejectAtProtocol: false,
    });
    return EX_OK;
  } catch (error) {
    const failure = asDeliveryFailure(error);
    const status = exitStatusFor(failure.kind, request?.stderrRejection ?? false);
    try {
      if (status === EX_TEMPFAIL) log?.write('Error', failure.message);
    } catch {
      // the log itself failed; stderr below still tells Postfix
    }
    io.writeError(oneLine(failure.message));
    return status;
  } finally {
    // Cleanup must never change the outcome: the exit status is already decided.
    await message?.close().catch(() => {});
    await log?.close();
  }
}

/** mail_privileged_group as a gid; undefined when unset. An unknown group is a set-up error (75). */
async function privilegedGroupId(settings: Settings): Promise<number | undefined> {
  const name = settings.mail_privileged_group;
  if (name === '') return undefined;
  const gid = await gidOf(name);
  if (gid === null) throw new DeliveryFailure('temporary', `mail_privileged_group: Unknown group name '${name}'`);
  return gid;
}

function dropPrivileges(user: MailUser, settings: Settings, privilegedGid: number | undefined): PrivilegedGroup | undefined {
  if (user.uid === undefined && process.geteuid!() !== 0) {
    return keepPrivilegedGroup(nodeProcessIdentity, privilegedGid); // non-root without -d: deliver as we are
  }
  if (user.uid === undefined || user.gid === undefined) {
    throw new DeliveryFailure('temporary', `User ${user.username} has no uid/gid in the userdb (and mail_uid/mail_gid are unset); refusing to deliver as root`);
  }
  return switchToMailUser(
    { username: user.username, uid: user.uid, gid: user.gid, systemGroupsUser: user.systemGroupsUser },
    settings,
    nodeProcessIdentity,
    privilegedGid,
  );
}

/** Postfix turns newlines into spaces anyway; one line keeps the reason readable. */
function oneLine(text: string): string {
  return text.replace(/[\r\n\t]+/g, ' ');
}

