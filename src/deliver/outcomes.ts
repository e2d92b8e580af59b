// The one table from failure kind to what the MTA is told: a sysexits code
// for the LDA, a reply code with its enhanced status code for each LMTP
// recipient. Nothing else in Dovetail chooses either. Codes as dovecot-lda
// 2.3 (src/lda/main.c), Postfix's sys_exits.c and Dovecot's lmtp
// (lmtp-local.c, lmtp-commands.c): 64, 67 and 77 bounce, 75 defers; 5xx
// bounces, 4xx defers.

import type { FailureKind } from './failure.js';

export const EX_OK = 0;
export const EX_USAGE = 64;
export const EX_NOUSER = 67;
export const EX_TEMPFAIL = 75;
export const EX_NOPERM = 77;
/** `dovetail --check` found a problem in the set-up (never a delivery's status) */
export const EX_CONFIG = 78;

/**
 * The LDA's exit status for a failure of `kind`, as dovecot-lda 2.3 exits.
 * Over quota: 75 with quota_full_tempfail; with -e the reason goes to stderr
 * and the status is 77; without -e dovecot-lda mails a rejection and exits 0
 * — that case never reaches this table (see ldaQuotaRejection), so an
 * over-quota failure that still arrives without -e (the rejection could not
 * be decided on) defers. A rejection at protocol level (Sieve ereject) is 77.
 */
export function exitStatusFor(kind: FailureKind, stderrRejection: boolean, quotaFullTempfail = false): number {
  switch (kind) {
    case 'usage':
      return EX_USAGE;
    case 'no-such-user':
      return EX_NOUSER;
    case 'over-quota':
      return stderrRejection && !quotaFullTempfail ? EX_NOPERM : EX_TEMPFAIL;
    case 'rejected':
      return EX_NOPERM;
    case 'temporary':
      return EX_TEMPFAIL;
  }
}

/**
 * How the LDA refuses a message over quota: 'mail' — Dovecot's rejection
 * mailed to the sender, exit 0 (neither -e nor quota_full_tempfail);
 * 'stderr' — the reason on stderr, exit 77 (-e); undefined — a deferral (75,
 * quota_full_tempfail), which is no rejection.
 */
export function ldaQuotaRejection(stderrRejection: boolean, quotaFullTempfail: boolean): 'mail' | 'stderr' | undefined {
  if (quotaFullTempfail) return undefined;
  return stderrRejection ? 'stderr' : 'mail';
}

/** An LMTP reply's status: the basic code and the RFC 3463 enhanced code. */
export interface LmtpStatus {
  code: number;
  enhanced: string;
}

/** Where in the transaction the failure happened: at RCPT (the userdb lookup) or after DATA (the delivery). */
export type LmtpPhase = 'rcpt' | 'data';

/**
 * The reply status for one recipient that failed with `kind`, as Dovecot's
 * lmtp answers: a failed lookup is 451 4.3.0, a failed delivery 451 4.2.0;
 * over quota 552 5.2.2, or 452 4.2.2 with quota_full_tempfail; an unknown
 * user 550 5.1.1; a Sieve rejection at protocol level 550 5.7.1. A recipient
 * whose address cannot be turned into a username (`usage`) is 550 5.1.3 at
 * RCPT; after DATA there are no usage errors, so any that came would defer.
 */
export function lmtpStatusFor(kind: FailureKind, phase: LmtpPhase, quotaFullTempfail: boolean): LmtpStatus {
  switch (kind) {
    case 'usage':
      return phase === 'rcpt' ? { code: 550, enhanced: '5.1.3' } : { code: 451, enhanced: '4.3.0' };
    case 'no-such-user':
      return { code: 550, enhanced: '5.1.1' };
    case 'over-quota':
      return quotaFullTempfail ? { code: 452, enhanced: '4.2.2' } : { code: 552, enhanced: '5.2.2' };
    case 'rejected':
      return { code: 550, enhanced: '5.7.1' };
    case 'temporary':
      return phase === 'rcpt' ? { code: 451, enhanced: '4.3.0' } : { code: 451, enhanced: '4.2.0' };
  }
}
