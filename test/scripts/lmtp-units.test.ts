// The systemd units for `dovetail lmtp` (scripts/dovetail-lmtp.service and
// .socket): they start the program install.sh installs, stop it the way the
// server stops (SIGTERM to the server alone, time for the 30 s grace), and
// put the socket where the Postfix set-up expects it. systemd-analyze verify
// checks their syntax when it is installed.

import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { STOP_GRACE_MS } from '../../src/lmtp/server.js';

const ROOT = resolve(__dirname, '../..');
const SERVICE = join(ROOT, 'scripts/dovetail-lmtp.service');
const SOCKET = join(ROOT, 'scripts/dovetail-lmtp.socket');
/** Postfix's lmtp client runs chrooted in /var/spool/postfix: lmtp:unix:private/dovetail-lmtp */
const POSTFIX_SOCKET = '/var/spool/postfix/private/dovetail-lmtp';

/** A unit file's settings: "Section/Key" → values in order (comments and blank lines skipped). */
function unitSettings(path: string): Map<string, string[]> {
  const settings = new Map<string, string[]>();
  let section = '';
  for (const raw of readFileSync(path, 'utf8').split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1];
      continue;
    }
    const equals = line.indexOf('=');
    const key = `${section}/${line.slice(0, equals).trim()}`;
    settings.set(key, [...(settings.get(key) ?? []), line.slice(equals + 1).trim()]);
  }
  return settings;
}

/** The link install.sh makes by default: PREFIX/bin/dovetail. */
function installedProgram(): string {
  const script = readFileSync(join(ROOT, 'scripts/install.sh'), 'utf8');
  const prefix = /^PREFIX=(\S+)$/m.exec(script)?.[1];
  expect(/^LINK=\$PREFIX\/bin\/dovetail$/m.test(script)).toBe(true);
  return `${prefix}/bin/dovetail`;
}

/** "45s", "1min 30s", "90" (seconds) → milliseconds, the forms these units use. */
function timespanMs(text: string): number {
  let total = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+)\s*(min|s|)\b/g)) total += Number(amount) * (unit === 'min' ? 60_000 : 1000);
  return total;
}

describe('dovetail-lmtp.service', () => {
  const unit = unitSettings(SERVICE);

  it('runs the installed program in the foreground', () => {
    expect(unit.get('Service/Type')).toEqual(['simple']);
    expect(unit.get('Service/ExecStart')).toEqual([`${installedProgram()} lmtp`]);
  });

  it('reloads with SIGHUP and stops with SIGTERM to the server alone, leaving time for the grace period', () => {
    expect(unit.get('Service/ExecReload')).toEqual(['/bin/kill -HUP $MAINPID']);
    expect(unit.get('Service/KillSignal')).toEqual(['SIGTERM']);
    expect(unit.get('Service/KillMode')).toEqual(['mixed']);
    expect(timespanMs(unit.get('Service/TimeoutStopSec')![0])).toBeGreaterThan(STOP_GRACE_MS);
    expect(unit.get('Service/Restart')).toEqual(['on-failure']);
  });
});

describe('dovetail-lmtp.socket', () => {
  const unit = unitSettings(SOCKET);

  it("listens in Postfix's chroot, for Postfix only", () => {
    expect(unit.get('Socket/ListenStream')).toEqual([POSTFIX_SOCKET]);
    expect(unit.get('Socket/SocketUser')).toEqual(['postfix']);
    expect(unit.get('Socket/SocketGroup')).toEqual(['postfix']);
    expect(unit.get('Socket/SocketMode')).toEqual(['0600']);
  });

  it('offers the inet socket as a commented line', () => {
    expect(readFileSync(SOCKET, 'utf8')).toMatch(/^#ListenStream=127\.0\.0\.1:24$/m);
  });
});

const analyze = spawnSync('systemd-analyze', ['--version']).status === 0;

describe.runIf(analyze)('systemd-analyze verify', () => {
  it('finds nothing wrong with either unit (ExecStart pointed at this checkout)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dovetail-units-'));
    try {
      const service = readFileSync(SERVICE, 'utf8').replace(/^ExecStart=\S+/m, `ExecStart=${join(ROOT, 'bin/dovetail')}`);
      writeFileSync(join(dir, 'dovetail-lmtp.service'), service);
      writeFileSync(join(dir, 'dovetail-lmtp.socket'), readFileSync(SOCKET, 'utf8'));
      const result = spawnSync('systemd-analyze', ['verify', join(dir, 'dovetail-lmtp.service'), join(dir, 'dovetail-lmtp.socket')], { encoding: 'utf8' });
      expect(`${result.stdout}${result.stderr}`.trim()).toBe('');
      expect(result.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
