// The interpreter on imap4flags (RFC 5232): the internal variable,
// flag variables, hasflag, :flags on keep/fileinto, and the flags of merged
// stores. Expected results are what Pigeonhole 0.5.19 printed (sieve-test)
// or stored (dovecot-lda, Maildir flags in the file name).

import { describe as group, expect, it } from 'vitest';
import { addFlags, isValidFlag, removeFlags, splitFlags, storeFlags } from '../../src/sieve/interpreter/flags.js';
import { outcome, runScript, stored } from './interpreter-harness.js';

function withFlags(source: string): string[] {
  return outcome(`require ["imap4flags", "fileinto", "variables", "copy", "relational", "comparator-i;ascii-numeric"]; ${source}`);
}

group('flag lists', () => {
  it.each([
    ['\\Seen', true],
    ['\\seen', true],
    ['\\DRAFT', true],
    ['\\Recent', false],
    ['\\bogus', false],
    ['$Label1', true],
    ['Junk', true],
    ['(x)', false],
    ['a%b', false],
    ['a*b', false],
    ['a]b', false],
    ['a"b', false],
    ['', false],
  ])('isValidFlag(%j) = %s', (flag, expected) => {
    expect(isValidFlag(flag)).toBe(expected);
  });

  it('splits on spaces', () => {
    expect(splitFlags(['a  b', '', 'c'])).toEqual(['a', 'b', 'c']);
  });

  it('adds valid flags not yet present, without case', () => {
    expect(addFlags(['\\Deleted', '\\Answered'], ['\\deleted \\seen', '(bad) x X'])).toEqual(['\\Deleted', '\\Answered', '\\seen', 'x']);
  });

  it('removes without case', () => {
    expect(removeFlags(['\\Deleted', '\\Answered', 'x'], ['\\DELETED X'])).toEqual(['\\Answered']);
  });

  it('store flags: system flags canonical and in Pigeonhole order, keywords deduplicated', () => {
    expect(storeFlags(['foo', '\\seen', 'Foo', '\\FLAGGED', '\\Recent', '(x)', 'bar', '\\Seen'])).toEqual([
      '\\Flagged',
      '\\Seen',
      'foo',
      'bar',
    ]);
  });
});

group('imap4flags commands', () => {
  it.each([
    [
      'setflag with a variable, then :flags from it (RFC 5232 section 6)',
      'setflag "flagvar" "\\\\Flagged"; fileinto :flags "${flagvar}" "INBOX.From Boss";',
      ['fileinto INBOX.From Boss +flags \\Flagged'],
    ],
    [
      'addflag / removeflag on a variable',
      'addflag "flagvar" ["\\\\Deleted", "\\\\Answered"]; addflag "flagvar" "\\\\deleted \\\\seen"; fileinto :flags "${flagvar}" "A"; ' +
        'removeflag "flagvar" "\\\\DELETED"; fileinto :flags "${flagvar}" "B"; if string :is "${flagvar}" "\\\\Answered \\\\seen" { fileinto "exact"; }',
      ['fileinto A +flags \\Answered \\Deleted \\Seen', 'fileinto B +flags \\Answered \\Seen', 'fileinto exact'],
    ],
    [
      'the internal variable goes with each store as it is then',
      'addflag "\\\\Seen"; fileinto "X"; removeflag "\\\\Seen"; addflag "\\\\Flagged"; fileinto "Y"; addflag "junk";',
      ['fileinto X +flags \\Seen', 'fileinto Y +flags \\Flagged'],
    ],
    ['setflag replaces the internal variable', 'setflag "\\\\Seen"; setflag "\\\\Draft";', ['implicit keep +flags \\Draft']],
    ['RFC 5232: flag big messages', 'if size :over 100 { setflag "\\\\Deleted"; }', ['implicit keep +flags \\Deleted']],
    ['an expanded flag string is split', 'set "x" "\\\\Seen"; addflag "${x} $label"; keep;', ['keep +flags \\Seen $label']],
    ['keep :flags ""', 'addflag "\\\\Seen B b \\\\seen"; keep :flags "";', ['keep']],
    ['the implicit keep takes the internal variable at the end', 'addflag "\\\\Seen B b \\\\seen";', ['implicit keep +flags \\Seen B']],
    ['discard: no keep, no flags', 'addflag "\\\\Seen"; discard;', ['discard']],
    [
      'explicit :flags: invalid ones dropped, system flags canonical',
      'keep :flags "\\\\Flagged \\\\SEEN foo \\\\bogus Bar foo (x) \\\\recent";',
      ['keep +flags \\Flagged \\Seen foo Bar'],
    ],
    [
      'fileinto :copy with :flags and the implicit keep with the internal variable',
      'addflag "\\\\Seen"; fileinto :copy :flags "B" "X";',
      ['fileinto X :copy +flags B', 'implicit keep +flags \\Seen'],
    ],
  ])('%s', (_name, source, expected) => {
    expect(withFlags(source)).toEqual(expected);
  });

  it('without imap4flags, stores carry no flags at all', () => {
    const { result } = runScript('require "fileinto"; fileinto "X"; keep;');
    expect(result.actions).toEqual([
      { type: 'fileinto', mailbox: 'X', flags: undefined, copy: false, create: false },
      { type: 'keep', flags: undefined },
    ]);
    expect(result.implicitKeepFlags).toBeUndefined();
  });

  it('with imap4flags and nothing set, the flag lists are empty', () => {
    const { result } = runScript('require "imap4flags"; keep;');
    expect(result.actions).toEqual([{ type: 'keep', flags: [] }]);
    expect(result.implicitKeepFlags).toEqual([]);
  });

  it('flags from an included script apply to the stores of the including one', () => {
    const includes = { 'personal:flag': 'require "imap4flags"; addflag "\\\\Flagged";' };
    expect(outcome('require ["include", "fileinto"]; include "flag"; fileinto "X";', { includes })).toEqual([
      'fileinto X +flags \\Flagged',
    ]);
  });
});

group('hasflag', () => {
  it.each([
    ['a variable: :count counts its valid, distinct flags', 'set "MyVar" "label1 label2 label1 (bad)"; if hasflag :count "eq" :comparator "i;ascii-numeric" "MyVar" "2" { fileinto "two"; }', ['fileinto two']],
    ['a variable: compared without case', 'set "MyVar" "label1 label2"; if hasflag :is "MyVar" "LABEL2" { fileinto "has2"; }', ['fileinto has2']],
    ['the internal variable', 'setflag ["a b", "c"]; removeflag "B"; if hasflag "a" { fileinto "has-a"; } if hasflag :contains "c" { fileinto "has-c"; } if hasflag "b" { fileinto "has-b"; }', ['fileinto has-a +flags a c', 'fileinto has-c +flags a c']],
    ['several variables', 'set "v1" "x"; set "v2" "y z"; if hasflag :count "eq" :comparator "i;ascii-numeric" ["v1", "v2"] "3" { fileinto "three"; }', ['fileinto three']],
    ['RFC 5232 section 4: MyVar with several flags', 'addflag "MyVar" ["label1", "label2"]; if hasflag :count "ge" :comparator "i;ascii-numeric" ["MyVar"] "2" { fileinto "INBOX.Multiple"; }', ['fileinto INBOX.Multiple']],
  ])('%s', (_name, source, expected) => {
    expect(withFlags(source)).toEqual(expected);
  });
});

group('flags of merged stores (dovecot-lda 2.3.19: Maildir file name flags)', () => {
  it.each([
    // the later action's flags replace the earlier ones
    ['fileinto, fileinto: the later flags', 'fileinto :flags "\\\\Flagged" "INBOX"; fileinto :flags "\\\\Seen" "INBOX";', ['INBOX \\Seen']],
    ['keep, keep: the later flags', 'keep :flags "\\\\Flagged"; keep :flags "\\\\Seen";', ['INBOX \\Seen']],
    // the deferred keep gives way to a fileinto of the same mailbox, whatever the order
    ['fileinto INBOX, keep: the fileinto flags', 'fileinto :flags "\\\\Seen" "INBOX"; keep :flags "\\\\Flagged";', ['INBOX \\Seen']],
    ['keep, fileinto INBOX: the fileinto flags', 'keep :flags "\\\\Flagged"; fileinto :flags "\\\\Seen" "INBOX";', ['INBOX \\Seen']],
    ['keep, fileinto :copy inbox', 'keep :flags "\\\\Flagged"; fileinto :copy :flags "\\\\Seen" "inbox";', ['inbox \\Seen']],
    ['fileinto :copy and the implicit keep', 'addflag "\\\\Seen"; fileinto :copy :flags "B" "INBOX";', ['INBOX B']],
    ['keep, then a fileinto elsewhere', 'keep :flags "\\\\Flagged"; fileinto "X";', ['X', 'INBOX \\Flagged']],
    ['a later fileinto without :flags takes the internal variable', 'fileinto :flags "\\\\Seen" "X"; keep :flags "\\\\Flagged"; fileinto "X";', ['X', 'INBOX \\Flagged']],
    ['the flags of the internal variable at each command', 'addflag "\\\\Flagged"; fileinto "INBOX"; removeflag "\\\\Flagged"; fileinto "INBOX";', ['INBOX']],
    ['keep takes the internal variable when it runs', 'addflag "\\\\Flagged"; keep; removeflag "\\\\Flagged"; addflag "\\\\Seen";', ['INBOX \\Flagged']],
    ['keep with internal, keep :flags, more internal', 'addflag "\\\\Flagged"; keep; keep :flags "\\\\Seen"; addflag "\\\\Answered";', ['INBOX \\Seen']],
  ])('%s', (_name, source, expected) => {
    const { result } = runScript(`require ["imap4flags", "fileinto", "copy"]; ${source}`);
    expect(stored(result)).toEqual(expected);
  });
});
