// The one table from failure kind to sysexits code. Nothing else in Dovetail
// chooses an exit status. Codes as dovecot-lda 2.3 (src/lda/main.c) and
// Postfix's sys_exits.c: 64 and 67 bounce, 75 defers, 77 bounces.

import type { FailureKind } from '../deliver/failure.js';

export const EX_OK = 0;
export const EX_USAGE = 64;
export const EX_NOUSER = 67;
export const EX_TEMPFAIL = 75;
export const EX_NOPERM = 77;
/** `dovetail --check` found a problem in the set-up (never a delivery's status) */
export const EX_CONFIG = 78;

/**
 * Over quota is a rejection: with -e, dovecot-lda exits 77; without -e it
 * mails a rejection to the sender — until Dovetail sends those (quota work),
 * it defers instead, so no message is lost.
 */
export function exitStatusFor(kind: FailureKind, stderrRejection: boolean): number {
  switch (kind) {
    case 'usage':
      return EX_USAGE;
    case 'no-such-user':
      return EX_NOUSER;
    case 'over-quota':
      return stderrRejection ? EX_NOPERM : EX_TEMPFAIL;
    case 'temporary':
      return EX_TEMPFAIL;
  }
}
