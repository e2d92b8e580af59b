import { describe, it, expect } from 'vitest';
import { exitStatusFor } from '../../src/cli/exit-status.js';
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
  ])('%s with -e=%s → %i', (kind, stderrRejection, status) => {
    expect(exitStatusFor(kind, stderrRejection)).toBe(status);
  });
});
