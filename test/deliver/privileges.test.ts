import { describe, it, expect } from 'vitest';
import { switchToMailUser, checkUidAllowed, keepPrivilegedGroup, type ProcessIdentity } from '../../src/deliver/privileges.js';
import { DeliveryFailure } from '../../src/deliver/failure.js';

function fakeProcess(euid: number, { failSetuid = false, gid = 100, egid = undefined as number | undefined } = {}) {
  const calls: string[] = [];
  let current = euid;
  let effectiveGid = egid ?? gid;
  const proc: ProcessIdentity = {
    geteuid: () => current,
    getgid: () => gid,
    getegid: () => effectiveGid,
    setgroups: (groups) => calls.push(`setgroups ${groups.join(',')}`),
    initgroups: (user, gid) => calls.push(`initgroups ${user} ${gid}`),
    setgid: (gid) => calls.push(`setgid ${gid}`),
    setegid: (gid) => {
      calls.push(`setegid ${gid}`);
      effectiveGid = gid;
    },
    setresgid: (r, e, s) => calls.push(`setresgid ${r} ${e} ${s}`),
    setuid: (uid) => {
      if (failSetuid) throw new Error('EPERM');
      calls.push(`setuid ${uid}`);
      current = uid;
    },
  };
  return { proc, calls };
}

const range = { first_valid_uid: 500, last_valid_uid: 0 };

describe('checkUidAllowed', () => {
  it.each([
    [0, 100, 'Mail access not allowed for root'],
    [499, 100, 'UID 499 not permitted'],
    [70000, 100, undefined],
    [1000, 0, 'GID 0'],
  ])('uid %i gid %i', (uid, gid, error) => {
    const check = () => checkUidAllowed(uid, gid, range);
    if (error === undefined) expect(check).not.toThrow();
    else expect(check).toThrow(error);
  });

  it('honours last_valid_uid', () => {
    expect(() => checkUidAllowed(2001, 100, { first_valid_uid: 1000, last_valid_uid: 2000 })).toThrow('2001');
    expect(() => checkUidAllowed(2000, 100, { first_valid_uid: 1000, last_valid_uid: 2000 })).not.toThrow();
  });
});

describe('switchToMailUser', () => {
  it('as root: groups, then gid, then uid', () => {
    const { proc, calls } = fakeProcess(0);
    switchToMailUser({ username: 'v', uid: 5000, gid: 5001 }, range, proc);
    expect(calls).toEqual(['setgroups 5001', 'setgid 5001', 'setuid 5000']);
  });

  it('system users get their supplementary groups', () => {
    const { proc, calls } = fakeProcess(0);
    switchToMailUser({ username: 'bob', uid: 1000, gid: 1000, systemGroupsUser: 'bob' }, range, proc);
    expect(calls[0]).toBe('initgroups bob 1000');
  });

  it('a failed setuid is temporary', () => {
    const { proc } = fakeProcess(0, { failSetuid: true });
    const attempt = () => switchToMailUser({ username: 'v', uid: 5000, gid: 5000 }, range, proc);
    expect(attempt).toThrow(DeliveryFailure);
    expect(attempt).toThrow(/Cannot switch to UID 5000/);
  });

  it('non-root can only stay itself', () => {
    expect(() => switchToMailUser({ username: 'v', uid: 5000, gid: 5000 }, range, fakeProcess(5000).proc)).not.toThrow();
    expect(() => switchToMailUser({ username: 'v', uid: 5000, gid: 5000 }, range, fakeProcess(6000).proc)).toThrow(
      /running as UID 6000/,
    );
  });

  it('as root with mail_privileged_group: the group stays only as the saved gid', () => {
    const { proc, calls } = fakeProcess(0);
    const group = switchToMailUser({ username: 'v', uid: 5000, gid: 5001 }, range, proc, 8);
    expect(calls).toEqual(['setgroups 5001', 'setresgid 5001 5001 8', 'setuid 5000']);
    calls.length = 0;
    expect(group?.run(() => proc.getegid())).toBe(8);
    expect(calls).toEqual(['setegid 8', 'setegid 5001']);
  });

  it('the privileged group is dropped again when the work inside it throws', () => {
    const { proc } = fakeProcess(0);
    const group = switchToMailUser({ username: 'v', uid: 5000, gid: 5001 }, range, proc, 8)!;
    expect(() =>
      group.run(() => {
        throw new Error('EACCES');
      }),
    ).toThrow('EACCES');
    expect(proc.getegid()).toBe(5001);
  });

  it('never switches to root', () => {
    const { proc, calls } = fakeProcess(0);
    expect(() => switchToMailUser({ username: 'root', uid: 0, gid: 0 }, range, proc)).toThrow('root');
    expect(calls).toEqual([]);
  });
});

describe('keepPrivilegedGroup', () => {
  it('a setgid start drops the group to the real gid and can take it back', () => {
    const { proc, calls } = fakeProcess(5000, { gid: 5000, egid: 8 });
    const group = keepPrivilegedGroup(proc, 8);
    expect(proc.getegid()).toBe(5000);
    expect(group?.run(() => proc.getegid())).toBe(8);
    expect(calls).toEqual(['setegid 5000', 'setegid 8', 'setegid 5000']);
  });

  it('without a setgid start there is no group to use', () => {
    const { proc, calls } = fakeProcess(5000, { gid: 5000 });
    expect(keepPrivilegedGroup(proc, 8)).toBeUndefined();
    expect(keepPrivilegedGroup(proc, undefined)).toBeUndefined();
    expect(calls).toEqual([]);
  });
});
