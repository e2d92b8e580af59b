import { describe, it, expect } from 'vitest';
import { getopt } from '../../src/cli/getopt.js';

const SPEC = 'a:d:ef:m:p:r:c:i:ko:OL';

describe('getopt', () => {
  it.each([
    [['-f', 'a@b'], [{ letter: 'f', value: 'a@b' }], []],
    [['-fa@b'], [{ letter: 'f', value: 'a@b' }], []],
    [['-ek'], [{ letter: 'e' }, { letter: 'k' }], []],
    [['-ef', 'x'], [{ letter: 'e' }, { letter: 'f', value: 'x' }], []],
    [['-efx'], [{ letter: 'e' }, { letter: 'f', value: 'x' }], []],
    [['-m', ''], [{ letter: 'm', value: '' }], []],
    [['-f', '-d'], [{ letter: 'f', value: '-d' }], []],
    [['-o', 'a=1', '-o', 'b=2'], [{ letter: 'o', value: 'a=1' }, { letter: 'o', value: 'b=2' }], []],
    [['extra', '-e'], [{ letter: 'e' }], ['extra']],
    [['--', '-e'], [], ['-e']],
    [['-'], [], ['-']],
  ])('%j', (argv, options, operands) => {
    expect(getopt(argv, SPEC)).toEqual({ ok: true, options, operands });
  });

  it.each([
    [['-Z'], "invalid option -- 'Z'"],
    [['--help'], "invalid option -- '-'"],
    [['-f'], "option requires an argument -- 'f'"],
    [['-e', '-m'], "option requires an argument -- 'm'"],
  ])('rejects %j', (argv, error) => {
    expect(getopt(argv, SPEC)).toEqual({ ok: false, error });
  });
});
