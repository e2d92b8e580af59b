// The actions a script run collects, merged and checked as Pigeonhole's
// sieve-result.c does when dovecot-lda runs a script (verified against
// Pigeonhole 0.5.19):
//
// - duplicates merge into the first one: keep + keep; fileinto of the same
//   mailbox ("INBOX" compared without case); redirect to the same address
//   (local part with case, domain without: it is lower-cased already);
//   discard + discard. The later action's :flags replace the earlier ones;
//   :copy and :create stay as the first one had them.
// - an explicit keep is an action of its own (it counts against the limit)
//   that dovecot-lda defers: it is listed last, after the other actions, and
//   like the implicit keep it stores nothing when a fileinto already stored
//   into the default mailbox (that fileinto's flags win). The host skips a
//   store into a mailbox the message already went to (isSameMailbox).
// - conflicts are runtime errors: a second reject or vacation; reject with
//   fileinto or redirect (not with keep: dovecot-lda defers the keep) or with
//   vacation. The error is reported at the reject's (or the new vacation's)
//   line and names the other action's place as "SCRIPT: line N".
// - limits: more than maxActions distinct actions (duplicate tracking
//   included), more than maxRedirects distinct redirects.
// The implicit keep is cancelled by keep, discard, reject, and fileinto or
// redirect without :copy; vacation leaves it.

import type { SieveAction, SieveLimits } from '../run-types.js';
import { SieveRuntimeError } from '../run-types.js';

/** Where a command is, for error messages: script name and line. */
export interface SourceLocation {
  script: string;
  line: number;
}

function formatLocation(location: SourceLocation): string {
  return `${location.script}: line ${location.line}`;
}

/** An action, or the duplicate test's hidden "mark as seen" action (it only counts against the limit). */
type CollectedAction = SieveAction | { type: 'duplicate-mark' };

interface Entry {
  action: CollectedAction;
  location: SourceLocation;
}

/** Mailbox names name the same mailbox: equal, or both INBOX in any case. */
export function isSameMailbox(a: string, b: string): boolean {
  return a === b || (a.toUpperCase() === 'INBOX' && b.toUpperCase() === 'INBOX');
}

/** The action's name in conflict messages, as Pigeonhole names it. */
function actionName(action: CollectedAction): string {
  switch (action.type) {
    case 'keep':
    case 'fileinto':
      return 'store';
    case 'reject':
      return action.extended ? 'ereject' : 'reject';
    default:
      return action.type;
  }
}

function triesToDeliver(action: CollectedAction): boolean {
  return action.type === 'fileinto' || action.type === 'redirect';
}

function sendsResponse(action: CollectedAction): boolean {
  return action.type === 'reject' || action.type === 'vacation';
}

function error(message: string, location: SourceLocation): SieveRuntimeError {
  return new SieveRuntimeError(message, location.line);
}

/** reject's check against another action: the error, or undefined when they go together. */
function rejectConflict(reject: Entry, other: Entry): SieveRuntimeError | undefined {
  const place = `the ${actionName(other.action)} action (${formatLocation(other.location)})`;
  if (triesToDeliver(other.action)) {
    return error(`reject/ereject action conflicts with other action: ${place} tries to deliver the message`, reject.location);
  }
  if (sendsResponse(other.action)) {
    return error(`reject/ereject action conflicts with other action: ${place} also sends a response to the sender`, reject.location);
  }
  return undefined;
}

/** vacation's check against another action. */
function vacationConflict(vacation: Entry, other: Entry): SieveRuntimeError | undefined {
  if (other.action.type !== 'reject') return undefined;
  const place = `the ${actionName(other.action)} action (${formatLocation(other.location)})`;
  return error(`vacation action conflicts with other action: ${place} also sends a response back to the sender`, vacation.location);
}

function conflict(checking: Entry, other: Entry): SieveRuntimeError | undefined {
  if (checking.action.type === 'reject') return rejectConflict(checking, other);
  if (checking.action.type === 'vacation') return vacationConflict(checking, other);
  return undefined;
}

/** The later action merged into the earlier duplicate, or false when they are not duplicates. */
function mergeDuplicate(earlier: Entry, later: Entry): boolean {
  const old = earlier.action;
  const next = later.action;
  switch (old.type) {
    case 'keep':
      if (next.type !== 'keep') return false;
      if (next.flags !== undefined) old.flags = next.flags;
      return true;
    case 'fileinto':
      if (next.type !== 'fileinto' || !isSameMailbox(old.mailbox, next.mailbox)) return false;
      if (next.flags !== undefined) old.flags = next.flags;
      return true;
    case 'redirect':
      return next.type === 'redirect' && old.address === next.address;
    case 'discard':
      return next.type === 'discard';
    default:
      return false;
  }
}

export class ActionList {
  private readonly entries: Entry[] = [];

  constructor(private readonly limits: SieveLimits) {}

  /** Adds an action (or merges it into its duplicate); throws SieveRuntimeError on a conflict or a limit. */
  add(action: CollectedAction, location: SourceLocation): void {
    const entry: Entry = { action, location };
    let redirects = 0;
    for (const earlier of this.entries) {
      if (earlier.action.type === action.type) {
        if (action.type === 'redirect') redirects++;
        if (action.type === 'reject') {
          throw error(`duplicate reject/ereject action not allowed (previously triggered one was here: ${formatLocation(earlier.location)})`, location);
        }
        if (action.type === 'vacation') {
          throw error(`duplicate vacation action not allowed (previously triggered one was here: ${formatLocation(earlier.location)})`, location);
        }
        if (mergeDuplicate(earlier, entry)) return;
        continue;
      }
      const problem = conflict(entry, earlier) ?? conflict(earlier, entry);
      if (problem) throw problem;
    }
    const { maxActions, maxRedirects } = this.limits;
    if (maxActions > 0 && this.entries.length >= maxActions) {
      throw error(`total number of actions exceeds policy limit (${this.entries.length + 1} > ${maxActions})`, location);
    }
    if (action.type === 'redirect' && maxRedirects > 0 && redirects >= maxRedirects) {
      throw error(`number of redirect actions exceeds policy limit (${redirects + 1} > ${maxRedirects})`, location);
    }
    this.entries.push(entry);
  }

  /**
   * The actions in script order, the explicit keep (deferred) last; and
   * whether the implicit keep is still in effect.
   */
  finish(): { actions: SieveAction[]; implicitKeep: boolean } {
    const actions: SieveAction[] = [];
    let keep: SieveAction | undefined;
    let implicitKeep = true;
    for (const { action } of this.entries) {
      if (action.type === 'duplicate-mark') continue;
      if (cancelsImplicitKeep(action)) implicitKeep = false;
      if (action.type === 'keep') keep = action;
      else actions.push(action);
    }
    if (keep) actions.push(keep);
    return { actions, implicitKeep };
  }
}

function cancelsImplicitKeep(action: SieveAction): boolean {
  switch (action.type) {
    case 'keep':
    case 'discard':
    case 'reject':
      return true;
    case 'fileinto':
    case 'redirect':
      return !action.copy;
    case 'vacation':
      return false;
  }
}
