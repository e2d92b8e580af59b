// Delivery through the user's Sieve scripts (Pigeonhole's lda-sieve plugin):
// find the scripts (sieve_before..., the personal or default script,
// sieve_after...), run them in order while a keep is in effect (and
// sieve_discard when the message would be discarded), then carry out the
// actions they chose. Stores are written first and made visible last, so a
// redirect that cannot be sent leaves nothing behind (75, Postfix retries); a
// rejection that cannot be sent keeps the message in INBOX; a vacation reply
// that cannot be sent is only logged.
//
// A script that does not compile, or fails while running, ends Sieve for this
// message: the error goes to the user's Sieve log and the delivery log, and
// the message is delivered as without Sieve (to the -m mailbox, else INBOX).
// A fileinto into a mailbox that does not exist (or whose name is unusable)
// keeps the message in INBOX instead; any other storage failure is temporary.

import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { SavedMail } from '../storage/types.js';
import { MailboxError } from '../storage/errors.js';
import { formatAddress } from '../message/smtp-address.js';
import { getHeaderValues } from '../message/header.js';
import type { SieveSettings } from '../sieve/settings.js';
import type { CompiledScript } from '../sieve/compiled.js';
import type { SieveAction, SieveResult, SieveHost, MessageView } from '../sieve/run-types.js';
import { SieveRuntimeError } from '../sieve/run-types.js';
import { SieveCompileError } from '../sieve/errors.js';
import { runSieve } from '../sieve/interpreter.js';
import { CompiledScriptMemory, loadSieveScript, scriptNameOf, SieveScriptReadError } from '../sieve/script-cache.js';
import type { ServerCaches } from './server-caches.js';
import { openSieveState, type SieveState } from '../sieve/outgoing/state.js';
import { deliverMessage, stageSave, isInbox, asDeliveryFailure, type DeliveryRequest, type StagedSave } from './deliver.js';
import type { Envelope } from './envelope.js';
import { returnPathOf } from './envelope.js';
import { DeliveryFailure, temporary } from './failure.js';
import { sieveMessenger } from './sieve-messages.js';
import { SieveUserLog } from './sieve-user-log.js';

/** Pigeonhole loads the whole body for the body test; Dovetail reads at most this much of it (memory stays bounded). */
const MAX_BODY_FOR_SIEVE = 4 * 1024 * 1024;
/** A script that runs longer than this fails (a hostile :matches or regex): the message is kept. */
const CPU_LIMIT_MS = 5000;
/** The state file in the user's home: duplicate ids, redirects sent, vacation replies. */
const STATE_FILE = '.dovetail.sieve-state';

export interface SieveDeliveryContext {
  request: DeliveryRequest;
  settings: SieveSettings;
  envelope: Envelope;
  username: string;
  home: string;
  hostname: string;
  recipientDelimiter: string;
  sendmailPath: string;
  postmasterAddress: string;
  now: Date;
  /** a server's caches: its compiled scripts are kept there between deliveries (absent in the LDA) */
  caches?: ServerCaches;
  /** LMTP: an ereject refuses the message in the reply (DeliveryFailure 'rejected', 550 5.7.1) instead of mailing a rejection */
  rejectAtProtocol: boolean;
  /** a line for the delivery log, as is (no deliver_log_format) */
  logInfo(text: string): void;
  logError(text: string): void;
}

interface ScriptToRun {
  path: string;
  /** before/after/default/discard scripts may use sieve_global_extensions */
  global: boolean;
  /** the user's own script (or sieve_default in its place): its errors go to the user's Sieve log */
  personal: boolean;
}

interface LoadedScript {
  script: CompiledScript;
  source: ScriptToRun;
}

/** Delivers with Sieve when the user has scripts; otherwise as without Sieve. Throws DeliveryFailure. */
export async function deliverWithSieve(context: SieveDeliveryContext): Promise<void> {
  context = { ...context, settings: withPersonalStorageResolved(context.settings) };
  const userLog = new SieveUserLog(context.settings.userLogPath, context.now, context.logError);
  const scripts = loadScripts(context, scriptSequence(context.settings), userLog);
  if (scripts === undefined || scripts.length === 0) {
    await deliverMessage(context.request);
    return;
  }
  const state = context.home === '' ? undefined : openSieveState(join(context.home, STATE_FILE));
  const view = await messageView(context, scripts);
  const results: SieveResult[] = [];
  try {
    for (const loaded of scripts) {
      const result = runScript(context, loaded, view, state, userLog);
      results.push(result);
      if (!keepsGoing(result)) break;
    }
    const discardScript = context.settings.discardScript;
    if (discardScript !== undefined && wouldDiscard(results)) {
      const discard = loadScripts(context, [{ path: discardScript, global: true, personal: false }], userLog);
      if (discard === undefined) throw new ScriptFailed();
      for (const loaded of discard) results.push(runScript(context, loaded, view, state, userLog));
    }
  } catch (error) {
    if (!(error instanceof ScriptFailed)) throw error;
    await deliverMessage(context.request);
    return;
  }
  const personal = scripts.find((loaded) => loaded.source.personal)?.source;
  await executeActions(context, results, state, personal === undefined ? undefined : userLog, personal);
}

/** A script failed at run time; already reported. */
class ScriptFailed extends Error {}

function runScript(
  context: SieveDeliveryContext,
  { script, source }: LoadedScript,
  view: MessageView,
  state: SieveState | undefined,
  userLog: SieveUserLog,
): SieveResult {
  try {
    return runSieve({
      script,
      message: view,
      envelope: { from: returnPath(context), to: formatAddress(context.envelope.originalRecipient) },
      host: sieveHost(context, state),
      limits: {
        maxActions: context.settings.maxActions,
        maxRedirects: context.settings.maxRedirects,
        maxCpuMs: CPU_LIMIT_MS,
        vacationMinPeriodSeconds: context.settings.vacationMinPeriodSeconds,
        vacationDefaultPeriodSeconds: context.settings.vacationDefaultPeriodSeconds,
        vacationMaxPeriodSeconds: context.settings.vacationMaxPeriodSeconds,
      },
      defaultMailbox: context.request.mailbox,
      recipientDelimiter: context.recipientDelimiter,
      enabledExtensions: extensionsFor(context.settings, source),
      environment: sieveEnvironment(context),
      now: context.now,
      localZoneOffsetMinutes: -context.now.getTimezoneOffset(),
    });
  } catch (error) {
    if (!(error instanceof SieveRuntimeError)) throw error;
    const name = scriptNameOf(source.path);
    const line = `${name}: ${error.line ? `line ${error.line}: ` : ''}error: ${error.message}.`;
    context.logError(`sieve: Execution of script ${source.path} failed: ${line}`);
    if (source.personal) userLog.write(line);
    throw new ScriptFailed();
  }
}

/** `sieve = file:DIR` (no `;active=`) names the script storage: the active script is then the default one. */
function withPersonalStorageResolved(settings: SieveSettings): SieveSettings {
  const { personal } = settings;
  if (personal?.asDirectory === undefined || !statSync(personal.activePath, { throwIfNoEntry: false })?.isDirectory()) return settings;
  return { ...settings, personal: personal.asDirectory };
}

/** The next script runs only while a keep (implicit or explicit) is in effect. */
function keepsGoing(result: SieveResult): boolean {
  return result.implicitKeep || result.actions.some((action) => action.type === 'keep');
}

/** Nothing would store the message anywhere (sieve_discard then runs). */
function wouldDiscard(results: SieveResult[]): boolean {
  const last = results[results.length - 1]!;
  return !last.implicitKeep && !results.some((result) => result.actions.some((action) => action.type === 'keep' || action.type === 'fileinto'));
}

function extensionsFor(settings: SieveSettings, source: ScriptToRun): ReadonlySet<string> {
  return source.global ? new Set([...settings.extensions, ...settings.globalExtensions]) : settings.extensions;
}

/** Compiles the scripts to run; undefined when one fails (already reported: deliver without Sieve). */
function loadScripts(context: SieveDeliveryContext, sequence: ScriptToRun[], userLog: SieveUserLog): LoadedScript[] | undefined {
  const loaded: LoadedScript[] = [];
  for (const source of sequence) {
    let script: CompiledScript | undefined;
    try {
      const compileSettings = {
        enabledExtensions: extensionsFor(context.settings, source),
        maxScriptSize: context.settings.maxScriptSize,
        personalDirectory: context.settings.personal?.scriptDirectory,
        globalDirectory: context.settings.globalDirectory,
      };
      script = loadSieveScript(source.path, compileSettings, context.caches && (context.caches.sieveScripts ??= new CompiledScriptMemory()));
    } catch (error) {
      if (error instanceof SieveScriptReadError) throw temporary(error.message);
      if (!(error instanceof SieveCompileError)) throw error;
      const name = scriptNameOf(source.path);
      context.logInfo(`sieve: Failed to compile script \`${source.path}'`);
      if (source.personal) {
        for (const { line, message } of error.diagnostics) userLog.write(`${name}: line ${line}: error: ${message}.`);
        userLog.write(`${name}: error: validation failed.`);
      } else {
        context.logError(`sieve: ${error.message}`);
      }
      return undefined;
    }
    if (script !== undefined) loaded.push({ script, source });
    else if (source.personal && !source.global && context.settings.defaultScript !== undefined) {
      // no personal script: sieve_default takes its place
      const fallback = loadScripts(context, [{ path: context.settings.defaultScript, global: true, personal: true }], userLog);
      if (fallback === undefined) return undefined;
      loaded.push(...fallback);
    }
  }
  return loaded;
}

/** sieve_before..., the personal script (or sieve_default when it is missing), sieve_after...; directories expand to their *.sieve files. */
function scriptSequence(settings: SieveSettings): ScriptToRun[] {
  const sequence: ScriptToRun[] = [];
  for (const location of settings.before) for (const path of scriptFiles(location.path)) sequence.push({ path, global: true, personal: false });
  if (settings.personal !== undefined) sequence.push({ path: settings.personal.activePath, global: false, personal: true });
  else if (settings.defaultScript !== undefined) sequence.push({ path: settings.defaultScript, global: true, personal: true });
  for (const location of settings.after) for (const path of scriptFiles(location.path)) sequence.push({ path, global: true, personal: false });
  return sequence;
}

function scriptFiles(path: string): string[] {
  try {
    if (!statSync(path).isDirectory()) return [path];
  } catch {
    return [path];
  }
  return readdirSync(path)
    .filter((name) => name.endsWith('.sieve'))
    .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
    .map((name) => join(path, name));
}

async function messageView(context: SieveDeliveryContext, scripts: LoadedScript[]): Promise<MessageView> {
  const { message } = context.request;
  const view: MessageView = { header: message.header, size: message.size };
  if (scripts.some(({ script }) => usesExtension(script, 'body'))) view.body = await readBody(context, MAX_BODY_FOR_SIEVE);
  return view;
}

function usesExtension(script: CompiledScript, name: string): boolean {
  return script.extensions.includes(name) || Object.values(script.includes).some((included) => usesExtension(included, name));
}

/** The bytes after the header's blank line, at most `limit` of them. */
async function readBody(context: SieveDeliveryContext, limit: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let collected = 0;
  let position: 'start' | 'header' | 'body' = 'start';
  let carry: Buffer = Buffer.alloc(0); // the header's last byte so far, to find "\n\n" across chunks
  for await (const chunk of context.request.message.chunks()) {
    let data = chunk;
    if (position !== 'body') {
      const joined = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
      if (joined.length === 0) continue;
      if (position === 'start' && joined[0] === 0x0a) {
        data = joined.subarray(1); // no header at all
      } else {
        const end = joined.indexOf('\n\n');
        if (end < 0) {
          position = 'header';
          carry = joined.subarray(joined.length - 1);
          continue;
        }
        data = joined.subarray(end + 2);
      }
      position = 'body';
    }
    const room = limit - collected;
    parts.push(data.subarray(0, room));
    collected += Math.min(room, data.length);
    if (collected >= limit) break;
  }
  return Buffer.concat(parts);
}

/** The return path, as Pigeonhole's envelope "from": the envelope sender, else the Return-Path header. */
function returnPath(context: SieveDeliveryContext): string {
  return returnPathOf(context.envelope.sender, context.request.message.header);
}

function sieveEnvironment(context: SieveDeliveryContext): Record<string, string> {
  const dot = context.hostname.indexOf('.');
  return {
    domain: dot < 0 ? context.hostname : context.hostname.slice(dot + 1),
    host: context.hostname,
    location: 'MDA',
    phase: 'during',
    name: 'Dovetail Sieve',
    version: '1',
  };
}

function sieveHost(context: SieveDeliveryContext, state: SieveState | undefined): SieveHost {
  return {
    mailboxExists: (name) => context.request.storage.mailboxExists(name),
    duplicateSeen: (id) => state?.has(`duplicate:${id}`, context.now.getTime() / 1000) ?? false,
  };
}

/** A store the scripts asked for: where, with which flags, and whether the mailbox may be created. */
interface StoreRequest {
  mailbox: string;
  flags: string[] | undefined;
  create: boolean;
  /** what the user log calls the action */
  action: 'fileinto' | 'keep';
}

async function executeActions(
  context: SieveDeliveryContext,
  results: SieveResult[],
  state: SieveState | undefined,
  userLog: SieveUserLog | undefined,
  personal: ScriptToRun | undefined,
): Promise<void> {
  const { request } = context;
  const messenger = sieveMessenger(context, returnPath(context));
  // a keep in an earlier script only said "go on": the last script decides
  const actions = results.flatMap((result, index) => (index === results.length - 1 ? result.actions : result.actions.filter((action) => action.type !== 'keep')));
  // a redirect already sent for this message (or looping) is skipped, and does not cancel the implicit keep
  const redirects = actions.filter((action): action is Extract<SieveAction, { type: 'redirect' }> => action.type === 'redirect');
  const skipped = new Set(redirects.filter((redirect) => messenger.redirectAlreadyDone(redirect.address, state)));
  const remaining = actions.filter((action) => !skipped.has(action as Extract<SieveAction, { type: 'redirect' }>));
  const last = results[results.length - 1]!;
  const implicitKeep = last.implicitKeep || ([...skipped].some((redirect) => !redirect.copy) && !remaining.some(cancelsImplicitKeep));
  const rejection = remaining.find((action): action is Extract<SieveAction, { type: 'reject' }> => action.type === 'reject');
  if (rejection?.extended && context.rejectAtProtocol) {
    // reject conflicts with every store and send, so nothing else is left to do
    request.log(`rejected at protocol level: ${rejection.reason}`);
    throw new DeliveryFailure('rejected', rejection.reason);
  }
  const failedActions: string[] = [];
  const staged: StagedSave[] = [];
  const stageInbox = async () => {
    if (!staged.some((save) => isInbox(save.mailbox))) staged.push(await stageSave(request, 'INBOX'));
  };
  try {
    for (const store of storeRequests(context, remaining, implicitKeep ? last.implicitKeepFlags : null)) {
      const save = await stageStore(context, store, failedActions);
      if (save === undefined) await stageInbox();
      else staged.push(save);
    }
    for (const action of remaining) {
      if (action.type !== 'redirect') continue;
      try {
        await messenger.redirect(action.address, state);
      } catch (error) {
        failedActions.push(`redirect action: ${(error as Error).message}`);
        throw error;
      }
    }
    if (rejection !== undefined && !(await messenger.reject(rejection.reason))) await stageInbox();
    const saved: SavedMail[] = [];
    for (const save of staged) saved.push(await save.commit());
    staged.length = 0;
    for (const mail of saved) request.log(`stored mail into mailbox '${mail.mailbox}'`);
    if (saved.length === 0 && rejection === undefined && remaining.some((action) => action.type === 'discard')) {
      request.log('marked message to be discarded if not explicitly delivered (discard action)');
    }
  } catch (error) {
    await Promise.all(staged.map((save) => save.rollback()));
    userLog?.failedActions(failedActions, messageIdOf(context));
    throw asDeliveryFailure(error);
  }
  // the message is delivered: nothing below may turn that into a failure
  for (const action of remaining) {
    if (action.type !== 'vacation') continue;
    let failure: string | undefined;
    try {
      failure = await messenger.vacation(action, state);
    } catch (error) {
      failure = `Internal error: ${(error as Error)?.message ?? String(error)}`;
      context.logError(`sieve: vacation action: ${failure}`);
    }
    if (failure !== undefined) failedActions.push(`vacation action: ${failure}`);
  }
  if (failedActions.length > 0 && personal !== undefined) {
    userLog?.failedActions(failedActions, messageIdOf(context));
    context.logInfo(
      `sieve: Execution of script ${personal.path} failed, but implicit keep was successful` +
        (context.settings.userLogPath === undefined ? '' : ` (user logfile ${context.settings.userLogPath} may reveal additional details)`),
    );
  }
  await recordState(context, results, state);
}

function cancelsImplicitKeep(action: SieveAction): boolean {
  switch (action.type) {
    case 'fileinto':
    case 'redirect':
      return !action.copy;
    case 'discard':
    case 'reject':
      return true;
    default:
      return false;
  }
}

function messageIdOf(context: SieveDeliveryContext): string {
  return getHeaderValues(context.request.message.header, 'Message-ID')[0]?.trim() ?? '';
}

/** Duplicate ids, redirects and vacation replies are remembered once the message is delivered. */
async function recordState(context: SieveDeliveryContext, results: SieveResult[], state: SieveState | undefined): Promise<void> {
  if (state === undefined) return;
  const nowSeconds = context.now.getTime() / 1000;
  for (const result of results) for (const { id, periodSeconds } of result.duplicateIds) state.add(`duplicate:${id}`, nowSeconds + periodSeconds);
  try {
    state.flush();
  } catch (error) {
    context.logError(`sieve: failed to record duplicate and vacation state: ${(error as Error).message}`);
    return;
  }
  await state.compact(nowSeconds);
}

/** fileinto and keep targets, and the implicit keep (null: not in effect), one per mailbox; the first one for a mailbox wins. */
function storeRequests(context: SieveDeliveryContext, actions: SieveAction[], implicitKeepFlags: string[] | undefined | null): StoreRequest[] {
  const stores = new Map<string, StoreRequest>();
  const add = (store: StoreRequest) => {
    const key = isInbox(store.mailbox) ? 'INBOX' : store.mailbox;
    if (!stores.has(key)) stores.set(key, store);
  };
  for (const action of actions) {
    if (action.type === 'keep') add({ mailbox: context.request.mailbox, flags: action.flags, create: false, action: 'keep' });
    if (action.type === 'fileinto') add({ mailbox: action.mailbox, flags: action.flags, create: action.create, action: 'fileinto' });
  }
  if (implicitKeepFlags !== null) add({ mailbox: context.request.mailbox, flags: implicitKeepFlags, create: false, action: 'keep' });
  return [...stores.values()];
}

/**
 * Stages one store. A mailbox that does not exist or whose name is unusable
 * gives undefined (the message is kept in INBOX instead, as Pigeonhole does);
 * every other failure is thrown.
 */
async function stageStore(context: SieveDeliveryContext, store: StoreRequest, failedActions: string[]): Promise<StagedSave | undefined> {
  const request = store.create ? { ...context.request, autocreate: true } : context.request;
  try {
    return await stageSave(request, store.mailbox, store.flags);
  } catch (error) {
    failedActions.push(`${store.action} action: failed to store into mailbox '${store.mailbox}': ${(error as Error).message}`);
    const fallsBack = error instanceof MailboxError && (error.kind === 'not-found' || error.kind === 'invalid-name');
    if (!fallsBack || isInbox(store.mailbox)) throw error;
    return undefined;
  }
}
