// Maildir++ quota at delivery, as Dovecot 2.3's quota plugin enforces it
// (quota.c quota_test_alloc / quota_transaction_is_over / quota_warnings_execute,
// quota-storage.c): check() before a message is written, record() after it
// is committed. Loaded only for users whose quota is enabled.
//
// check(mailbox, size), in Dovecot's order:
// - quota_max_mail_size: a bigger message is refused whatever the usage, as
//   MAIL_ERROR_LIMIT (not NOQUOTA): the delivery falls back to INBOX, then
//   fails temporarily ("Mail size is larger than the maximum size allowed by
//   server configuration"); so it applies to ignored mailboxes too;
// - an ignored mailbox (`Spam:ignore`) and a `noenforcing` root are not checked;
// - messages: over when the count already reaches the limit;
// - storage: over when the usage already reaches the limit, or when
//   usage + size goes past the limit by more than quota_grace (Dovecot gives
//   grace to LDA and LMTP saves only, which are all Dovetail does).
//   The limits are the mailbox's (`Trash:storage=+10%%` raises them for
//   Trash); the usage is always the whole maildirsize total.
// Over quota throws MailboxError('over-quota', quota_exceeded_message).
// A maildirsize that cannot be read does not stop the delivery: Dovecot logs
// "quota: Failed to check if user is under quota: ... - saving mail anyway"
// and saves; so does this.
//
// beforeCommit() takes the exclusive flock on the Maildir root
// (maildirsize.ts lockMaildirRoot) right before the message is renamed into
// new/ or cur/; record() appends and releases it, and release() releases it
// when the commit fails: so a recalculation, which holds the same lock from
// scan to rename, never replaces the file between a commit and its line. A
// guard holds at most one lock at a time (a second beforeCommit while one is
// held keeps that one; a recalculation while it is held runs under it). The
// lock binds Dovetail's processes only: Dovecot and Courier do not take it.
// A lock not had within LOCK_WAIT_MS is logged and done without.
//
// record(mailbox, size) appends `size 1` to maildirsize (not for an ignored
// mailbox), then runs the first quota_warning whose threshold this delivery
// crossed (usage before < threshold <= usage after), as Dovecot does after
// its update. A warning names a service; `service NAME { executable = script
// PATH ARGS }` gives the program, run as PATH ARGS WARNING-ARGS with the
// delivery's identity (the user), waited for, its output discarded. Neither a
// failed update nor a failed warning fails the delivery (the message is
// already in the mailbox): both are logged as errors.

import type { Settings } from '../config/types.js';
import type { MailUser } from '../deliver/lda-user.js';
import type { StorageOptions } from '../storage/types.js';
import { MailboxError } from '../storage/errors.js';
import { parseMailLocation } from '../storage/mail-location.js';
import { permissionsOf } from '../storage/permissions.js';
import { autodetectMailLocation } from '../storage/autodetect.js';
import { lookupPasswdHome } from '../storage/passwd-home.js';
import type { QuotaLimits, QuotaSettings, QuotaUsage, QuotaWarning } from './types.js';
import { quotaSettingsFor, limitsFor, graceBytes, rootLimits, defaultRuleForced, isIgnoredMailbox } from './settings.js';
import {
  readMaildirsize,
  appendMaildirsize,
  recalculateMaildirsize,
  lockMaildirRoot,
  LOCK_WAIT_MS,
  type MaildirsizeOptions,
  type ReleaseLock,
} from './maildirsize.js';

/** quota_alloc_result_errstr(QUOTA_ALLOC_RESULT_OVER_MAXSIZE) */
export const MAX_MAIL_SIZE_MESSAGE = 'Mail size is larger than the maximum size allowed by server configuration';
/** how long a quota warning program may run before it is killed (Dovecot's script service has no limit; a delivery must end) */
export const WARNING_TIMEOUT_MS = 30_000;

export interface QuotaGuard {
  /** throws MailboxError when `size` more bytes may not go into `mailbox` */
  check(mailbox: string, size: number): Promise<void>;
  /** locks the Maildir root until record() or release(): call right before the commit; never throws */
  beforeCommit(): Promise<void>;
  /** counts a committed message, releases the lock, then runs the warnings it crossed; never throws */
  record(mailbox: string, size: number): Promise<void>;
  /** releases the lock beforeCommit took, if still held (the commit failed); never throws */
  release(): Promise<void>;
}

export interface QuotaGuardOptions {
  quota: QuotaSettings;
  /** the Maildir root holding maildirsize */
  maildirRoot: string;
  /** how maildirsize is recalculated and written there; its lockRoot (default: lockMaildirRoot) is the lock the guard takes */
  maildirsize: MaildirsizeOptions;
  /** `service NAME { executable }` values by service name */
  serviceExecutables: ReadonlyMap<string, string>;
  logError(text: string): void;
  /** runs one warning program; default: spawn it and wait (tests replace it) */
  runProgram?: (argv: readonly string[]) => Promise<void>;
}

/** Where a Maildir++ quota lives: the Maildir root holding maildirsize, and how its folders are laid out. */
export interface QuotaMaildir {
  root: string;
  layout: MaildirsizeOptions['layout'];
}

/**
 * The user's mail location when it is a Maildir (autodetected when
 * mail_location names no format): its maildirsize counts the quota.
 * Undefined for mbox: mbox users have no Maildir++ quota.
 */
export function quotaMaildir(storage: StorageOptions): QuotaMaildir | undefined {
  const parsed = parseMailLocation(storage.mailLocation, storage.user.home, lookupPasswdHome);
  const location = parsed.driver === '' || parsed.driver === 'auto' ? autodetectMailLocation(storage.mailLocation, parsed, storage.user) : parsed;
  if (location.driver !== 'maildir' || location.root === '') return undefined;
  return { root: location.root, layout: location.layout === 'fs' ? 'fs' : 'maildir++' };
}

/** Which folders maildirsize leaves out: those whose mailbox name (in the storage's INBOX namespace) a rule ignores. */
export function ignoredFolders(quota: QuotaSettings, storage: StorageOptions, layout: QuotaMaildir['layout']): (folder: string) => boolean {
  const namespace = storage.namespaces.find((candidate) => candidate.inbox) ?? { prefix: '', separator: '' };
  return (folder) => isIgnoredMailbox(quota, folderMailboxName(folder, layout, namespace));
}

/**
 * The name a quota rule matches for a folder as maildirsize.ts names it on
 * disk (`INBOX`, `.Spam`, `.A.B`; fs layout `A/B`): the inbox namespace's
 * prefix, then the folder with the namespace separator. Names stay as on
 * disk otherwise (modified UTF-7 is not decoded).
 */
export function folderMailboxName(folder: string, layout: 'maildir++' | 'fs', namespace: { prefix: string; separator: string }): string {
  if (folder === 'INBOX') return 'INBOX';
  const storageSeparator = layout === 'fs' ? '/' : '.';
  const path = layout === 'fs' ? folder : folder.replace(/^\./, '');
  const separator = namespace.separator === '' ? storageSeparator : namespace.separator[0]!;
  return namespace.prefix + path.split(storageSeparator).join(separator);
}

export interface UserQuotaContext {
  settings: Settings;
  user: MailUser;
  home: string;
  hostname: string;
  /** the storage the delivery opens: where its Maildir is */
  storage: StorageOptions;
  logError(text: string): void;
}

/** The user's quota guard, or undefined when the user has no Maildir++ quota (not enabled, or mail in mbox). */
export async function openUserQuotaGuard(context: UserQuotaContext): Promise<QuotaGuard | undefined> {
  const quota = quotaSettingsFor(context.settings, context.user, context.home, context.hostname);
  if (!quota.enabled) return undefined;
  const location = quotaMaildir(context.storage);
  if (location === undefined) return undefined;
  return openQuotaGuard({
    quota,
    maildirRoot: location.root,
    maildirsize: {
      isIgnored: ignoredFolders(quota, context.storage, location.layout),
      permissions: await permissionsOf([location.root], context.storage.user.gid),
      hostname: context.storage.hostname,
      layout: location.layout,
    },
    serviceExecutables: context.settings.serviceExecutables,
    logError: context.logError,
  });
}

export function openQuotaGuard(options: QuotaGuardOptions): QuotaGuard {
  const { quota, maildirRoot } = options;
  const configuredLimits = rootLimits(quota);
  // `*` fixes the limits; without it (or with `?`) those maildirsize holds apply
  const forcedLimits = defaultRuleForced(quota) ? configuredLimits : {};
  // ignoreunlimited: a user without limits is not tracked at all (quota_root_init drops the root)
  const tracked = !(quota.ignoreUnlimited && !hasLimit(configuredLimits));

  const lockRoot = options.maildirsize.lockRoot ?? (() => lockMaildirRoot(maildirRoot, LOCK_WAIT_MS, options.logError));
  /** the lock beforeCommit took, until record() or release() */
  let held: ReleaseLock | undefined;
  const release = async () => {
    const releasing = held;
    held = undefined;
    await releasing?.();
  };
  // a recalculation while the guard holds the lock runs under it: a second flock on the root would wait for ourselves
  const maildirsize: MaildirsizeOptions = { ...options.maildirsize, lockRoot: async () => (held !== undefined ? async () => undefined : lockRoot()) };

  /** the usage, and the user's whole limits: forced, else maildirsize's, else the `?` rule's */
  const current = async () => {
    const state = await readMaildirsize(maildirRoot, forcedLimits, maildirsize);
    return { usage: state.usage, limits: hasLimit(state.limits) ? state.limits : configuredLimits };
  };

  return {
    async beforeCommit() {
      if (!tracked || held !== undefined) return;
      held = await lockRoot();
    },

    release,

    async check(mailbox, size) {
      if (quota.maxMailSizeBytes > 0 && size > quota.maxMailSizeBytes) {
        // Dovecot has read (and, if missing, made) maildirsize by then
        if (tracked) await current().catch(() => undefined);
        throw new MailboxError('no-permission', MAX_MAIL_SIZE_MESSAGE);
      }
      if (!tracked || quota.noEnforcing || isIgnoredMailbox(quota, mailbox)) return;
      let state: { usage: QuotaUsage; limits: QuotaLimits };
      try {
        state = await current();
      } catch (error) {
        options.logError(`quota: Failed to check if user is under quota: ${(error as Error).message} - saving mail anyway`);
        return;
      }
      const { limits } = limitsFor(quota, mailbox, state.limits);
      if (isOverQuota(state.usage, size, limits, graceBytes(quota, state.limits))) {
        throw new MailboxError('over-quota', quota.exceededMessage);
      }
    },

    async record(mailbox, size) {
      if (!tracked || isIgnoredMailbox(quota, mailbox)) return release();
      const delta = { bytes: size, messages: 1 };
      let after: { usage: QuotaUsage; limits: QuotaLimits } | undefined;
      try {
        try {
          if (!(await appendMaildirsize(maildirRoot, delta, maildirsize))) {
            // missing or grown too big: rebuilt by a scan, which counts this message already
            after = await recalculateMaildirsize(maildirRoot, forcedLimits, maildirsize);
          }
        } catch (error) {
          options.logError(`Failed to update quota for ${mailbox}: ${(error as Error).message}`);
          return;
        }
        if (quota.warnings.length === 0) return;
        // still under the lock: a recalculation this read starts runs under it
        after ??= await current();
      } catch (error) {
        options.logError(`quota: warning failed: ${(error as Error).message}`);
        return;
      } finally {
        await release();
      }
      // the warning program runs without the lock: it may take long
      try {
        const limits = hasLimit(after.limits) ? after.limits : configuredLimits;
        const before = { bytes: Math.max(0, after.usage.bytes - delta.bytes), messages: Math.max(0, after.usage.messages - delta.messages) };
        const warning = quota.warnings.find((candidate) => warningCrossed(candidate, limits, before, after!.usage));
        if (warning !== undefined) await runWarning(warning, options);
      } catch (error) {
        options.logError(`quota: warning failed: ${(error as Error).message}`);
      }
    },
  };
}

function hasLimit(limits: QuotaLimits): boolean {
  return (limits.storageBytes ?? 0) > 0 || (limits.messages ?? 0) > 0;
}

/**
 * Dovecot's quota_transaction_is_over for one new message of `size` bytes:
 * the count limit leaves no room; or the usage is already past the storage
 * limit; or it is at the limit and the message is not empty; or the bytes
 * left under the limit, plus the grace, are fewer than the message. (Size 0
 * asks whether the user is over quota at all: lmtp_rcpt_check_quota.)
 */
export function isOverQuota(usage: QuotaUsage, size: number, limits: QuotaLimits, grace: number): boolean {
  const messages = limits.messages ?? 0;
  if (messages > 0 && usage.messages >= messages) return true;
  const bytes = limits.storageBytes ?? 0;
  if (bytes <= 0) return false;
  if (usage.bytes >= bytes) return usage.bytes > bytes || size > 0;
  return size > bytes - usage.bytes + Math.max(0, grace);
}

/**
 * quota_warning_match: the threshold is `percent` of the user's limit,
 * rounded down; a warning fires when usage goes from below it to at or above
 * it (a `-` warning: from at or above to below).
 */
export function warningCrossed(warning: QuotaWarning, limits: QuotaLimits, before: QuotaUsage, after: QuotaUsage): boolean {
  const [limit, from, to] =
    warning.resource === 'storage' ? [limits.storageBytes ?? 0, before.bytes, after.bytes] : [limits.messages ?? 0, before.messages, after.messages];
  const threshold = Math.floor((limit * warning.percent) / 100);
  if (threshold <= 0) return false;
  return warning.whenBelow ? to < threshold && from >= threshold : from < threshold && to >= threshold;
}

/** The program a warning's service runs (`script PATH ARGS`), followed by the warning's arguments. */
export function warningArgv(warning: QuotaWarning, executables: ReadonlyMap<string, string>): string[] | string {
  const [service, ...args] = warning.command;
  if (service === undefined) return 'quota warning without a command';
  const executable = executables.get(service);
  if (executable === undefined) return `no service ${service} { executable } for the quota warning`;
  const words = executable.split(/\s+/).filter((word) => word !== '');
  if (words[0] !== 'script' || words.length < 2) return `service ${service}: executable = ${executable} is not "script PATH"`;
  return [...words.slice(1), ...args];
}

async function runWarning(warning: QuotaWarning, options: QuotaGuardOptions): Promise<void> {
  const argv = warningArgv(warning, options.serviceExecutables);
  if (typeof argv === 'string') {
    options.logError(`quota: ${argv}`);
    return;
  }
  await (options.runProgram ?? spawnAndWait)(argv);
}

/** Runs argv[0] with the rest as arguments, no shell, output discarded; rejects when it cannot start, fails or times out. */
function spawnAndWait(argv: readonly string[]): Promise<void> {
  const { spawn } = process.getBuiltinModule('node:child_process');
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore', timeout: WARNING_TIMEOUT_MS, killSignal: 'SIGKILL' });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${argv[0]} ${signal !== null ? `killed by signal ${signal}` : `exited with status ${code}`}`));
    });
  });
}

