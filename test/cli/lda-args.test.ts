import { describe, it, expect } from 'vitest';
import { parseLdaArgs } from '../../src/cli/lda-args.js';
import { DeliveryFailure } from '../../src/deliver/failure.js';
import { thrown } from '../helpers/thrown.js';

describe('parseLdaArgs', () => {
  it('reads every dovecot-lda option', () => {
    expect(
      parseLdaArgs(['-c', '/c', '-d', 'u@d', '-p', '/m', '-m', 'work', '-e', '-k', '-f', 's@d', '-a', 'a@d', '-r', 'r@d', '-o', 'x=1', '-o', 'y=2']),
    ).toEqual({
      configPath: '/c',
      skipConfig: false,
      destinationUser: 'u@d',
      messagePath: '/m',
      mailbox: 'work',
      stderrRejection: true,
      sender: { localpart: 's', domain: 'd' },
      originalRecipient: { localpart: 'a', domain: 'd' },
      finalRecipient: { localpart: 'r', domain: 'd' },
      overrides: ['x=1', 'y=2'],
    });
  });

  it('-m "" is ignored, -f <> is the null sender, -O skips the config', () => {
    const request = parseLdaArgs(['-m', '', '-f', '<>', '-O']);
    expect(request.mailbox).toBeUndefined();
    expect(request.sender).toBeNull();
    expect(request.skipConfig).toBe(true);
  });

  it.each([
    [['-Z'], /invalid option -- 'Z'/],
    [['extra'], /Unknown argument: extra/],
    [['-a', 'a b@c'], /Invalid -a parameter/],
    [['-r', '@@'], /Invalid -r parameter/],
    [['-d'], /requires an argument/],
  ])('%j is a usage error', (argv, reason) => {
    const failure = thrown(DeliveryFailure, () => parseLdaArgs(argv));
    expect(failure.kind).toBe('usage');
    expect(failure.message).toMatch(reason);
  });

  it('a -m name that is not UTF-8 is temporary, as in dovecot-lda', () => {
    const failure = thrown(DeliveryFailure, () => parseLdaArgs(['-m', Buffer.from([0x66, 0xff]).toString('utf8')]));
    expect(failure.kind).toBe('temporary');
  });
});
