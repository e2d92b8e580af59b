import { describe, it, expect } from 'vitest';
import { exitStatusFor, lmtpStatusFor, type LmtpPhase } from '../../src/deliver/outcomes.js';
import type { FailureKind } from '../../src/deliver/failure.js';

describe('exitStatusFor', () => {
  it.each<[FailureKind, boolean, number]>([
    ['usage', false, 64],
    ['usage', true, 64],
    ['no-such-user', false, 67],
    ['temporary', false, 75],
    ['temporary', true, 75],
    ['over-quota', true, 77],
    ['over-quota', false, 75],
    ['rejected', false, 77],
  ])('%s with -e=%s → %i', (kind, stderrRejection, status) => {
    expect(exitStatusFor(kind, stderrRejection)).toBe(status);
  });
});

describe('lmtpStatusFor (Dovecot lmtp 2.3 replies)', () => {
  it.each<[FailureKind, LmtpPhase, boolean, string]>([
    ['no-such-user', 'rcpt', false, '550 5.1.1'],
    ['temporary', 'rcpt', false, '451 4.3.0'],
    ['temporary', 'data', false, '451 4.2.0'],
    ['over-quota', 'rcpt', false, '552 5.2.2'],
    ['over-quota', 'data', false, '552 5.2.2'],
    ['over-quota', 'data', true, '452 4.2.2'],
    ['rejected', 'data', false, '550 5.7.1'],
    ['usage', 'rcpt', false, '550 5.1.3'],
    ['usage', 'data', false, '451 4.3.0'],
  ])('%s at %s (quota_full_tempfail=%s) → %s', (kind, phase, tempfail, expected) => {
    const status = lmtpStatusFor(kind, phase, tempfail);
    expect(`${status.code} ${status.enhanced}`).toBe(expected);
  });
});
