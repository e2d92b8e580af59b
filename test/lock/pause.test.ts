import { describe, expect, it } from 'vitest';
import { pause } from '../../src/lock/pause.js';

describe('pause', () => {
  it('waits about the time asked', async () => {
    const started = Date.now();
    await pause(50);
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
  });

  it('an abort cuts it short with the reason', async () => {
    const abort = new AbortController();
    const started = Date.now();
    setTimeout(() => abort.abort(new Error('Killed with signal SIGTERM')), 20);
    await expect(pause(10_000, abort.signal)).rejects.toThrow('Killed with signal SIGTERM');
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('an abort that came before rejects at once', async () => {
    await expect(pause(10_000, AbortSignal.abort(new Error('gone')))).rejects.toThrow('gone');
  });
});
