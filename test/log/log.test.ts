import { describe, it, expect, afterEach } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { openLog, formatLogTimestamp } from '../../src/log/log.js';
import { sanitizeForLog } from '../../src/log/sanitize.js';
import { DeliveryFailure } from '../../src/deliver/failure.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'dovetail-log-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('log', () => {
  it('formats timestamps as Dovecot', () => {
    expect(formatLogTimestamp(new Date(2026, 0, 5, 7, 8, 9))).toBe('Jan 05 07:08:09 ');
  });

  it('writes prefixed lines; info lines to info_log_path when set', async () => {
    const dir = tempDir();
    const log = openLog({ log_path: join(dir, 'main'), info_log_path: join(dir, 'info') }, 'lda(1): ');
    log.setPrefix('lda(bob)<1><s>: ');
    log.write('Info', 'saved');
    log.write('Error', 'broken');
    await log.close();
    expect(readFileSync(join(dir, 'info'), 'utf8')).toMatch(/^\w{3} \d\d \d\d:\d\d:\d\d lda\(bob\)<1><s>: Info: saved\n$/);
    expect(readFileSync(join(dir, 'main'), 'utf8')).toMatch(/: Error: broken\n$/);
  });

  it("withPrefix writes to the same files with its own prefix; closing it leaves the log open", async () => {
    const dir = tempDir();
    const log = openLog({ log_path: join(dir, 'main'), info_log_path: '' }, 'lmtp(7): ');
    const recipient = log.withPrefix('lmtp(bob)<7><s:R2>: ');
    recipient.write('Info', 'saved');
    await recipient.close();
    log.write('Info', 'Disconnect');
    await log.close();
    const lines = readFileSync(join(dir, 'main'), 'utf8').split('\n');
    expect(lines[0]).toMatch(/ lmtp\(bob\)<7><s:R2>: Info: saved$/);
    expect(lines[1]).toMatch(/ lmtp\(7\): Info: Disconnect$/);
  });

  it('an unopenable log file is a temporary failure', () => {
    expect(() => openLog({ log_path: '/nonexistent/dir/log', info_log_path: '' }, '')).toThrow(DeliveryFailure);
  });
});

describe('sanitizeForLog', () => {
  it.each([
    ['plain', 10, 'plain'],
    ['a\tb\nc', 10, 'a?b?c'],
    ['0123456789abc', 10, '0123456...'],
  ])('%j', (text, max, expected) => {
    expect(sanitizeForLog(text, max)).toBe(expected);
  });
});
