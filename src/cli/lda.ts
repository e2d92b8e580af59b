// `dovetail [dovecot-lda flags]`: deliver the message on stdin (or -p) the
// way dovecot-lda does, and return the exit status. The steps run in
// dovecot-lda's order: arguments, settings, user, privileges, message,
// delivery, log. Every failure arrives here as a DeliveryFailure (anything
// else is temporary) and leaves as one stderr line and one sysexits code.

import { hostname as systemHostname } from 'node:os';
import { parseLdaArgs, type LdaRequest } from './lda-args.js';
import { exitStatusFor, EX_OK, EX_TEMPFAIL } from './exit-status.js';
import { DeliveryFailure } from '../deliver/failure.js';
import { loadSettings } from '../config/settings.js';
import type { Settings } from '../config/types.js';
import { expandVariables, userVariables } from '../config/var-expand.js';
import { resolveLdaUser, type MailUser } from '../deliver/lda-user.js';
import { switchToMailUser, nodeProcessIdentity } from '../deliver/privileges.js';
import { readMessage } from '../message/read.js';
import type { MessageSource } from '../message/types.js';
import { resolveEnvelope } from '../deliver/envelope.js';
import { deliverMessage, asDeliveryFailure } from '../deliver/deliver.js';
import { openMailStorage } from '../storage/index.js';
import { openLog, type Log } from '../log/log.js';
import { formatDeliverLogLine, newSessionId } from '../log/deliver-log.js';

export interface LdaIo {
  argv: readonly string[];
  env: NodeJS.ProcessEnv;
  stdin: NodeJS.ReadableStream;
  /** one line, no newline */
  writeError(line: string): void;
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
    const home = user.home || expandUserSetting(settings.mail_home, user, hostname, '');
    dropPrivileges(user, settings);

    message = await readMessage(request.messagePath === undefined ? io.stdin : { path: request.messagePath }, {
      fromStdin: request.messagePath === undefined,
      tempDir: settings.mail_temp_dir,
    });
    const envelope = resolveEnvelope({ request, message, username: user.username, hostname, settings });
    const storage = openMailStorage({
      mailLocation: expandUserSetting(user.mail ?? settings.mail_location, user, hostname, home),
      user: { username: user.username, home, uid: process.geteuid!(), gid: process.getegid!() },
      namespaces: settings.namespaces.map((ns) => ({
        ...ns,
        location: expandUserSetting(ns.location, user, hostname, home),
      })),
      mailFsync: settings.mail_fsync,
      hostname: io.env.DOVECOT_HOSTNAME || systemHostname(),
    });
    const started = Date.now();
    const activeLog = log;
    const activeMessage = message;
    await deliverMessage({
      storage,
      message,
      mailbox: request.mailbox ?? 'INBOX',
      autocreate: settings.lda_mailbox_autocreate,
      autosubscribe: settings.lda_mailbox_autosubscribe,
      log: (text) => {
        // Once a message is saved, success is final: a log that fails now must
        // not turn into a 75 and a second copy on Postfix's retry.
        try {
          const line = formatDeliverLogLine(settings.deliver_log_format, text, {
            message: activeMessage,
            envelope,
            deliveryTimeMs: Date.now() - started,
          });
          if (line !== '') activeLog.write('Info', line);
        } catch (error) {
          io.writeError(oneLine(`Logging failed: ${(error as Error).message}`));
        }
      },
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

function expandUserSetting(template: string, user: MailUser, hostname: string, home: string): string {
  if (!template.includes('%')) return template;
  return expandVariables(
    template,
    userVariables({ user: user.username, home, service: 'lda', uid: user.uid, gid: user.gid, hostname, pid: process.pid }),
  );
}

function dropPrivileges(user: MailUser, settings: Settings): void {
  if (user.uid === undefined && process.geteuid!() !== 0) return; // non-root without -d: deliver as we are
  if (user.uid === undefined || user.gid === undefined) {
    throw new DeliveryFailure('temporary', `User ${user.username} has no uid/gid in the userdb (and mail_uid/mail_gid are unset); refusing to deliver as root`);
  }
  switchToMailUser(
    { username: user.username, uid: user.uid, gid: user.gid, systemGroupsUser: user.systemGroupsUser },
    settings,
    nodeProcessIdentity,
  );
}

/** Postfix turns newlines into spaces anyway; one line keeps the reason readable. */
function oneLine(text: string): string {
  return text.replace(/[\r\n\t]+/g, ' ');
}

