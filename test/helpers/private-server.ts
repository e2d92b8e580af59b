// What the private database servers of the tests (./postgres.ts,
// ./mariadb.ts) share: a free port on 127.0.0.1, the system user a server
// runs as when the tests run as root (database servers refuse root), running
// a program as that user, a self-signed TLS certificate, and a TCP listener
// on 127.0.0.1 that accepts connections and never says a word (a server that
// hangs, for connect timeouts).

import { spawnSync } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';

/** uid and gid to run a server as: a system user's as root, none (ourselves) otherwise; undefined when that user is missing. */
export type RunAs = { uid: number; gid: number } | Record<string, never> | undefined;

export function runAsSystemUser(name: string): RunAs {
  if (process.geteuid?.() !== 0) return {};
  const entry = spawnSync('getent', ['passwd', name], { encoding: 'utf8' }).stdout.split(':');
  return entry.length >= 4 ? { uid: Number(entry[2]), gid: Number(entry[3]) } : undefined;
}

/** A port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Runs `program` synchronously as `runAs` in `cwd` with a plain environment; returns stdout, throws with stderr on failure. */
export function runProgram(program: string, args: string[], runAs: RunAs, options: { cwd: string; input?: string; what?: string }): string {
  const result = spawnSync(program, args, {
    cwd: options.cwd,
    input: options.input,
    encoding: 'utf8',
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C', LC_ALL: 'C' },
    timeout: 60_000,
    ...runAs,
  });
  if (result.status !== 0) {
    throw new Error(`${options.what ?? program} failed (${result.status ?? result.signal}): ${(result.stderr || result.error?.message || '').trim()}`);
  }
  return result.stdout;
}

/**
 * A self-signed certificate for `names` (subjectAltName entries; key: EC
 * P-256), written by openssl as `runAs` into dir: server.crt (also the CA to
 * trust) and server.key (mode 0600).
 */
export function selfSignedCertificate(dir: string, runAs: RunAs, names = ['DNS:localhost', 'IP:127.0.0.1']): { certFile: string; keyFile: string } {
  const certFile = join(dir, 'server.crt');
  const keyFile = join(dir, 'server.key');
  runProgram(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=localhost',
      '-addext', `subjectAltName=${names.join(',')}`, '-keyout', keyFile, '-out', certFile],
    runAs,
    { cwd: dir, what: 'openssl req' },
  );
  chmodSync(keyFile, 0o600); // servers refuse a key others can read
  return { certFile, keyFile };
}

/** A listener on 127.0.0.1 that accepts and then stays silent; close() drops every connection. */
export interface SilentServer {
  port: number;
  close(): Promise<void>;
}

export async function startSilentServer(): Promise<SilentServer> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('the silent server has no port');
  return {
    port: address.port,
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
