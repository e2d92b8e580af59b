// `dovetail [dovecot-lda flags]`: deliver the message on stdin (or -p) the
// way dovecot-lda does, and return the exit status. The steps run in
// dovecot-lda's order: arguments, settings, user, privileges, message,
// delivery, log. Every failure arrives here as a DeliveryFailure (anything
// else is temporary) and leaves as one stderr line and one sysexits code.

import { hostname as systemHostname } from 'node:os';
import { parseLdaArgs, type LdaRequest } from './lda-args.js';
import { exitStatusFor, ldaQuotaRejection, EX_OK, EX_TEMPFAIL } from '../deliver/outcomes.js';
import { loadSettings, parseBoolean } from '../config/settings.js';
import { resolveLdaUser } from '../deliver/lda-user.js';
import { privilegedGroupId, dropPrivileges } from '../deliver/privileges.js';
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
  let quotaFullTempfail = false;
  try {
    request = parseLdaArgs(io.argv);
    const settings = loadSettings({
      configPath: request.configPath,
      skipConfig: request.skipConfig,
      protocol: 'lda',
      overrides: request.overrides,
    });
    quotaFullTempfail = parseBoolean(settings.raw.get('quota_full_tempfail') ?? 'no') === true;
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
      quotaRejection: ldaQuotaRejection(request.stderrRejection, quotaFullTempfail),
    });
    return EX_OK;
  } catch (error) {
    const failure = asDeliveryFailure(error);
    const status = exitStatusFor(failure.kind, request?.stderrRejection ?? false, quotaFullTempfail);
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

/** Postfix turns newlines into spaces anyway; one line keeps the reason readable. */
function oneLine(text: string): string {
  return text.replace(/[\r\n\t]+/g, ' ');
}

