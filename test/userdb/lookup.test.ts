// The expected answers of the "as Dovecot" tables were produced by Dovecot
// 2.3.19's own auth service: the same userdb blocks and fixture files in a
// private `dovecot -c`, each user asked with `doveadm user -a auth-userdb`,
// and the answer read from auth_debug's "userdb out:" line (USER / NOTFOUND /
// FAIL). The few deliberate differences have their own table at the end.

import { describe, it, expect } from 'vitest';
import { resolve } from 'node:path';
import type { UserdbConfig } from '../../src/config/types.js';
import { DEFAULT_USERNAME_CHARS, formatUsername, lookupUser, renamedUser, type LookupContext } from '../../src/userdb/lookup.js';
import type { UserRecord } from '../../src/userdb/types.js';
import { lookupContext, userdbConfig } from '../helpers/userdb.js';

const FIXTURES = resolve(__dirname, '../fixtures/userdb');
const CONTEXT = lookupContext();

function userdb(driver: string, args: string, settings: Partial<UserdbConfig> = {}): UserdbConfig {
  return userdbConfig(driver, args.replaceAll('F/', `${FIXTURES}/`), settings);
}

/** A record as "USER name key=value ..." (keys sorted), like the auth protocol's reply line. */
function describeRecord(record: UserRecord): string {
  const pairs = [...record.fields].map(([key, value]) => (value === '' ? key : `${key}=${value}`));
  if (record.uid !== undefined) pairs.push(`uid=${record.uid}`);
  if (record.gid !== undefined) pairs.push(`gid=${record.gid}`);
  if (record.home !== undefined) pairs.push(`home=${record.home}`);
  if (record.mail !== undefined) pairs.push(`mail=${record.mail}`);
  if (record.systemGroupsUser !== undefined) pairs.push(`system_groups_user=${record.systemGroupsUser}`);
  return ['USER', record.username, ...pairs.sort()].join(' ');
}

/** USER ..., NOTFOUND, or FAIL (a temporary DeliveryFailure). */
async function answer(userdbs: UserdbConfig[], username: string, context: LookupContext = CONTEXT): Promise<string> {
  try {
    const record = await lookupUser(userdbs, username, context);
    return record === null ? 'NOTFOUND' : describeRecord(record);
  } catch (error) {
    expect(error).toMatchObject({ name: 'DeliveryFailure', kind: 'temporary' });
    return 'FAIL';
  }
}

type Case = [user: string, expected: string];

function asDovecot(userdbs: UserdbConfig[], cases: Case[], context: LookupContext = CONTEXT): void {
  it.each(cases)('%j → %s', async (user, expected) => {
    expect(await answer(userdbs, user, context)).toBe(expected);
  });
}

describe('formatUsername (auth_username_chars, auth_username_format)', () => {
  it.each([
    ['Alice@Example.COM', '%Lu', 'alice@example.com'],
    ['Alice@Example.COM', '%Ln', 'alice'],
    ['Alice@Example.COM', '%n@%d', 'Alice@Example.COM'],
    ['Alice', '', 'Alice'],
    ['a b', '%Lu', null],
    ['#hidden', '%Lu', null],
    ['jörg', '%Lu', null],
    ['', '%Lu', null],
    ['@example.com', '%n', null],
  ])('%j with %j → %j', (name, format, expected) => {
    expect(formatUsername(name, { ...CONTEXT, authUsernameFormat: format })).toBe(expected);
  });

  it('allows any character when auth_username_chars is empty', () => {
    expect(formatUsername('a b', { ...CONTEXT, authUsernameChars: '' })).toBe('a b');
    expect(formatUsername('a+b', { ...CONTEXT, authUsernameChars: `${DEFAULT_USERNAME_CHARS}+` })).toBe('a+b');
  });
});

describe('renamedUser (the user, username and domain fields)', () => {
  it.each([
    ['alice', 'user', 'bob', 'bob'],
    ['alice@a.example', 'username', 'bob', 'bob@a.example'],
    ['alice@a.example', 'username', 'bob@b.example', 'bob@b.example'],
    ['alice', 'username', 'bob', 'bob'],
    ['alice@a.example', 'domain', 'b.example', 'alice@b.example'],
    ['alice', 'domain', 'b.example', 'alice@b.example'],
    ['alice', 'user', '', null],
    ['alice', 'mail', 'x', null],
  ])('%s with %s=%s → %s', (current, key, value, expected) => {
    expect(renamedUser(current, key, value)).toBe(expected);
  });
});

describe('passwd-file, as Dovecot', () => {
  asDovecot(
    [userdb('passwd-file', 'F/users')],
    [
      ['alice', 'USER alice gid=5001 home=/home/alice mail=maildir:~/Maildir quota_rule=*:storage=1G uid=5001'],
      ['ALICE', 'USER alice gid=5001 home=/home/alice mail=maildir:~/Maildir quota_rule=*:storage=1G uid=5001'],
      ['bob', 'USER bob gid=65534 home=/var/vmail/bob uid=65534'],
      ['carol', 'NOTFOUND'],
      ['dave', 'NOTFOUND'],
      ['erin', 'USER erin home=/home/erin'],
      ['frank', 'USER frank gid=5001 home=/home/frank mail=maildir:~/old-format uid=5001'],
      ['gina', 'USER gina gid=5001 home=/home/gina uid=5001'],
      ['Upper', 'NOTFOUND'],
      ['nobody', 'NOTFOUND'],
      ['a b', 'NOTFOUND'],
      ['hidden', 'NOTFOUND'],
      ['#hidden', 'NOTFOUND'],
    ],
  );
});

describe('passwd-file with username_format=%n and a path with %d, default_fields and override_fields, as Dovecot', () => {
  asDovecot(
    [
      userdb('passwd-file', 'username_format=%n F/domains/%d', {
        defaultFields: 'quota_rule=*:storage=5G home=/default/%u',
        overrideFields: 'extra=%n-%d',
      }),
    ],
    [
      [
        'alice@example.com',
        'USER alice@example.com extra=alice-example.com gid=5001 home=/home/ex/alice mail=maildir:/var/mail/example.com/alice quota_rule=*:storage=5G uid=5001 x=alice@example.com',
      ],
      [
        'Alice@Example.COM',
        'USER alice@example.com extra=alice-example.com gid=5001 home=/home/ex/alice mail=maildir:/var/mail/example.com/alice quota_rule=*:storage=5G uid=5001 x=alice@example.com',
      ],
      ['bob@example.com', 'NOTFOUND'],
      ['alice@nodomain.org', 'NOTFOUND'],
      ['alice', 'NOTFOUND'],
    ],
  );
});

describe('a passwd-file under a file (stat fails), as Dovecot', () => {
  asDovecot([userdb('passwd-file', 'F/users/under')], [['alice', 'FAIL']]);
});

describe('userdb fields: renames, :protected, :remove, tempfail, uid by name, as Dovecot', () => {
  asDovecot(
    [userdb('passwd-file', 'F/field-rules', { defaultFields: 'quota_rule=dflt', overrideFields: 'ovr=%u' })],
    [
      ['ulla', 'USER ulla2 gid=65534 home=/h/ulla ovr=ulla2 quota_rule=dflt uid=5001'],
      ['vic', 'USER vic@example.org gid=5001 home=/home/vic ovr=vic@example.org quota_rule=dflt uid=5001 x=vic'],
      ['wes', 'USER wes gid=5001 ovr=wes quota_rule=dflt uid=5001'],
      ['tom', 'FAIL'],
      ['tina', 'FAIL'],
    ],
  );

  it('gives the reason field of a tempfail', async () => {
    await expect(lookupUser([userdb('passwd-file', 'F/field-rules')], 'tom', CONTEXT)).rejects.toThrow(/maintenance/);
  });
});

describe('userdb chains: skip and result_* rules, as Dovecot', () => {
  describe('skip=notfound, result_success=continue-ok', () => {
    asDovecot(
      [
        userdb('passwd-file', 'F/chain-a', { skip: 'notfound', resultSuccess: 'continue-ok' }),
        userdb('passwd-file', 'F/chain-b', { skip: 'notfound' }),
      ],
      [
        ['alice', 'USER alice gid=5003 home=/home/b-alice mail=maildir:~/A only_a=1 only_b=1 uid=5003'],
        ['bob', 'USER bob gid=5002 home=/home/a-bob uid=5002'],
        ['carol', 'NOTFOUND'],
      ],
    );
  });

  describe('result_success=continue, then skip=found', () => {
    asDovecot(
      [userdb('passwd-file', 'F/chain-a', { resultSuccess: 'continue' }), userdb('passwd-file', 'F/chain-b', { skip: 'found' })],
      [
        ['alice', 'USER alice gid=5003 home=/home/b-alice mail=maildir:~/A only_a=1 only_b=1 uid=5003'],
        ['bob', 'NOTFOUND'],
        ['carol', 'USER carol gid=5004 home=/home/b-carol uid=5004'],
      ],
    );
  });

  describe('an internal failure, then a userdb that may find the user', () => {
    asDovecot(
      [userdb('passwd-file', 'F/users/under'), userdb('passwd-file', 'F/chain-b')],
      [
        ['alice', 'USER alice gid=5003 home=/home/b-alice only_b=1 uid=5003'],
        ['carol', 'USER carol gid=5004 home=/home/b-carol uid=5004'],
        ['bob', 'FAIL'],
      ],
    );
  });

  describe('result_internalfail=continue-ok', () => {
    asDovecot(
      [userdb('passwd-file', 'F/users/under', { resultInternalfail: 'continue-ok' }), userdb('passwd-file', 'F/chain-b')],
      [
        ['alice', 'USER alice gid=5003 home=/home/b-alice only_b=1 uid=5003'],
        ['bob', 'USER bob'],
      ],
    );
  });

  describe('result_internalfail=return-fail', () => {
    asDovecot(
      [userdb('passwd-file', 'F/users/under', { resultInternalfail: 'return-fail' }), userdb('passwd-file', 'F/chain-b')],
      [['alice', 'FAIL']],
    );
  });

  describe('result_failure=return-ok (override_fields still apply)', () => {
    asDovecot(
      [userdb('passwd-file', 'F/chain-a', { resultFailure: 'return-ok', overrideFields: 'ovr=%u' }), userdb('passwd-file', 'F/chain-b')],
      [
        ['carol', 'USER carol ovr=carol'],
        ['zed', 'USER zed ovr=zed'],
      ],
    );
  });

  describe('a failed userdb leaves no fields (its default_fields are rolled back)', () => {
    asDovecot(
      [
        userdb('passwd-file', 'F/chain-a', { defaultFields: 'dflt_a=1 home=/a-default' }),
        userdb('passwd-file', 'F/chain-b', { defaultFields: 'dflt_b=%u home=/b-%u', resultFailure: 'return-ok' }),
      ],
      [
        ['alice', 'USER alice dflt_a=1 gid=5001 home=/home/a-alice mail=maildir:~/A only_a=1 uid=5001'],
        ['carol', 'USER carol dflt_b=carol gid=5004 home=/home/b-carol uid=5004'],
        ['zed', 'USER zed dflt_b=zed home=/b-zed'],
      ],
    );
  });

  describe('continuing after a success keeps its override_fields; %h stays empty in auth', () => {
    asDovecot(
      [
        userdb('passwd-file', 'F/chain-a', { resultSuccess: 'continue-ok', overrideFields: 'home=/override-a' }),
        userdb('static', 'uid=5009 mail=%h/static'),
      ],
      [
        ['alice', 'USER alice gid=5001 home=/override-a mail=/static only_a=1 uid=5009'],
        ['zed', 'USER zed mail=/static uid=5009'],
      ],
    );
  });

  describe('result_success=continue on the last userdb', () => {
    asDovecot([userdb('passwd-file', 'F/chain-a', { resultSuccess: 'continue' })], [['alice', 'NOTFOUND']]);
  });
});

describe('static, with default_fields and override_fields, auth_username_format=%Ln, as Dovecot', () => {
  asDovecot(
    [
      userdb('static', 'uid=nobody gid=nogroup home=/var/vmail/%d/%n mail=maildir:~/M', {
        defaultFields: 'quota_rule=*:storage=1G home=/dflt',
        overrideFields: 'quota_rule=*:storage=2G extra=%u',
      }),
    ],
    [
      ['Alice@Example.COM', 'USER alice extra=alice gid=65534 home=/var/vmail//alice mail=maildir:~/M quota_rule=*:storage=2G uid=65534'],
      ['bob', 'USER bob extra=bob gid=65534 home=/var/vmail//bob mail=maildir:~/M quota_rule=*:storage=2G uid=65534'],
    ],
    { ...CONTEXT, authUsernameFormat: '%Ln' },
  );

  it('expands %d and %n and ignores allow_all_users', async () => {
    const record = await lookupUser([userdb('static', 'uid=5000 gid=5000 home=/var/vmail/%d/%n allow_all_users=yes')], 'Bob@Example.org', CONTEXT);
    expect(record).toEqual({ username: 'bob@example.org', uid: 5000, gid: 5000, home: '/var/vmail/example.org/bob', fields: new Map() });
  });
});

describe('passwd (system users), as Dovecot', () => {
  asDovecot(
    [userdb('passwd', 'blocking=no')],
    [
      ['root', 'USER root gid=0 home=/root system_groups_user=root uid=0'],
      ['ROOT', 'USER root gid=0 home=/root system_groups_user=root uid=0'],
      ['nobody', 'USER nobody gid=65534 home=/nonexistent system_groups_user=nobody uid=65534'],
      ['no-such-account', 'NOTFOUND'],
    ],
  );

  it('is what a configuration without userdb blocks uses', async () => {
    expect(await answer([], 'root')).toBe('USER root gid=0 home=/root system_groups_user=root uid=0');
    expect(await answer([], 'no-such-account')).toBe('NOTFOUND');
  });
});

describe('deliberate differences from Dovecot 2.3.19 (defer instead of bounce)', () => {
  it.each([
    // Dovecot: NOTFOUND ("missing passwd file") — a configured file that is missing is a setup error
    ['a fixed passwd-file path that does not exist', [userdb('passwd-file', 'F/nonexistent')], 'alice'],
    // Dovecot: NOTFOUND (reads the directory as an empty file)
    ['a directory in place of the passwd-file', [userdb('passwd-file', 'F/domains')], 'alice'],
    // Dovecot: NOTFOUND (drops the line: "User ivan has invalid UID")
    ['a uid column that names no account', [userdb('passwd-file', 'F/bad-ids')], 'ivan'],
    // Dovecot: NOTFOUND (drops the line: uid 0 is not allowed)
    ['uid 0 in a passwd-file', [userdb('passwd-file', 'F/bad-ids')], 'rooty'],
  ])('%s: temporary failure', async (_what, userdbs, user) => {
    expect(await answer(userdbs, user)).toBe('FAIL');
  });
});

describe('configuration errors are temporary failures naming the block', () => {
  it.each([
    ['an unsupported driver', userdb('ldap', '/etc/dovecot/ldap.conf'), /userdb ldap at test.conf:1: .*not supported/],
    ['no driver', userdb('', ''), /missing driver/],
    ['passwd-file without a file', userdb('passwd-file', ''), /needs a file name/],
    ['a bad result rule', userdb('passwd', '', { resultFailure: 'continue-maybe' }), /result_failure value 'continue-maybe'/],
    ['a bad skip value', userdb('passwd', '', { skip: 'sometimes' }), /skip value 'sometimes'/],
    ['a static uid that names no account', userdb('static', 'uid=no-such-account'), /Invalid uid: no-such-account/],
    ['an override gid that names no group', userdb('passwd', '', { overrideFields: 'gid=no-such-group' }), /Invalid gid: no-such-group/],
    ['an empty template key', userdb('static', 'uid=5000 =x'), /Empty key/],
    ['an unknown %-variable in default_fields', userdb('passwd', '', { defaultFields: 'x=%{nonsense}' }), /nonsense/],
  ])('%s', async (_what, config, reason) => {
    await expect(lookupUser([config], 'root', CONTEXT)).rejects.toMatchObject({ kind: 'temporary', message: expect.stringMatching(reason) });
  });
});
