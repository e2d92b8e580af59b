// src/userdb/sql/failover.ts: the connect string as driver-sqlpool splits it,
// servers tried in order within one shared deadline, and the one-line reasons.

import { describe, it, expect } from 'vitest';
import {
  MAX_CONNECT_TIMEOUT_MS,
  connectInOrder,
  failureReason,
  splitConnectString,
  withinTime,
} from '../../src/userdb/sql/failover.js';
import { SqlError } from '../../src/userdb/sql/types.js';

const never = new Promise<never>(() => {});
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('splitConnectString', () => {
  it.each([
    ['host=db1 host=db2 dbname=mail user=u', ['db1', 'db2'], ['dbname=mail', 'user=u'], undefined],
    ['  dbname=mail   host=db1  ', ['db1'], ['dbname=mail'], undefined],
    ['dbname=mail maxconns=10', [], ['dbname=mail'], 10],
    ["password='a b' host=h", ['h'], ["password='a", "b'"], undefined],
    ['host= sslmode', [''], ['sslmode'], undefined],
    ['', [], [], undefined],
  ])('%j → hosts %j, driver words %j, maxconns %j', (connect, hosts, driverWords, maxConnections) => {
    expect(splitConnectString(connect, 'pgsql')).toEqual({ hosts, driverWords, ...(maxConnections !== undefined && { maxConnections }) });
  });

  it.each(['maxconns=x', 'maxconns=', 'maxconns', 'maxconns=-1'])('refuses %j as Dovecot does', (connect) => {
    expect(() => splitConnectString(connect, 'mysql')).toThrow(new SqlError(`mysql: Invalid value for maxconns: ${connect.slice('maxconns='.length)}`));
  });
});

describe('connectInOrder', () => {
  const targets = [{ label: 'a:1' }, { label: 'b:2' }, { label: 'c:3' }];

  it('returns the first server that connects, having tried those before it', async () => {
    const tried: string[] = [];
    const connection = await connectInOrder('pgsql', targets, 3000, async (target) => {
      tried.push(target.label);
      if (target.label !== 'b:2') throw new Error('refused');
      return `connected to ${target.label}`;
    });
    expect(connection).toBe('connected to b:2');
    expect(tried).toEqual(['a:1', 'b:2']);
  });

  it('shares the time left among the servers left, so one that refuses at once leaves its share to the next', async () => {
    const given: number[] = [];
    await expect(
      connectInOrder('pgsql', targets, 3000, async (_target, timeMs) => {
        given.push(timeMs);
        throw new Error('refused');
      }),
    ).rejects.toThrow(SqlError);
    expect(given[0]).toBe(1000);
    expect(given[1]).toBeGreaterThan(1400);
    expect(given[2]).toBeGreaterThan(2900);
  });

  it(`never waits longer than ${MAX_CONNECT_TIMEOUT_MS} ms, whatever the caller asks`, async () => {
    const given: number[] = [];
    await connectInOrder('mysql', [{ label: 'a:1' }], 60_000, async (_target, timeMs) => given.push(timeMs));
    expect(given).toEqual([MAX_CONNECT_TIMEOUT_MS]);
  });

  it('names every server and its reason in one line, and those left untried when the time is up', async () => {
    const error = await connectInOrder('pgsql', targets, 100, (target, timeMs) =>
      target.label === 'a:1' ? Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })) : withinTime(never, timeMs + 100, () => {}, () => {}),
    ).catch((failure: unknown) => failure);
    expect(error).toBeInstanceOf(SqlError);
    expect((error as SqlError).message).toMatch(/^pgsql: Connect failed: a:1: Connection refused; b:2: timed out after \d+ ms; c:3: not tried \(connect timeout used up\)$/);
  });
});

describe('withinTime', () => {
  it('passes the connection through when it comes in time', async () => {
    await expect(withinTime(Promise.resolve('c'), 100, () => {}, () => {})).resolves.toBe('c');
  });

  it('passes a failure through when it comes in time', async () => {
    await expect(withinTime(Promise.reject(new Error('refused')), 100, () => {}, () => {})).rejects.toThrow('refused');
  });

  it('gives up after the time, aborting the attempt, and discards a connection that comes later', async () => {
    const events: string[] = [];
    let arrive: (connection: string) => void = () => {};
    const late = new Promise<string>((resolve) => (arrive = resolve));
    const started = Date.now();
    await expect(withinTime(late, 50, () => events.push('abort'), (connection) => events.push(`discard ${connection}`))).rejects.toThrow(
      new SqlError('timed out after 50 ms'),
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    arrive('c');
    await sleep(0);
    expect(events).toEqual(['abort', 'discard c']);
  });
});

describe('failureReason', () => {
  it.each([
    [Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }), 'Connection refused'],
    [Object.assign(new Error('connect ENOENT /run/x/.s.PGSQL.5432'), { code: 'ENOENT' }), 'No such file or directory'],
    [Object.assign(new AggregateError([], ''), { code: 'ECONNREFUSED' }), 'Connection refused'],
    [new Error('relation "users" does not exist'), 'relation "users" does not exist'],
    [new Error('syntax error\nLINE 1: selec 1\n        ^'), 'syntax error LINE 1: selec 1 ^'],
    ['a string', 'a string'],
  ])('%s → %j', (error, reason) => {
    expect(failureReason(error)).toBe(reason);
  });
});
