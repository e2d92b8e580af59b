import { describe, it, expect } from 'vitest';
import { getFirstHeader, getHeaderValues } from '../../src/message/header.js';

const header = Buffer.from(
  [
    'Return-Path: <bounce@example.com>',
    'Received: from a',
    '\tby b',
    '  with c',
    'Received: from d',
    'subject:   Hello',
    ' world  ',
    'X-Empty:',
    'X-Blank-Name : spaced',
    'not a field line',
    'X-CRLF: value\r',
    'X-Utf8: Grüße',
    'To: a@example.com,',
    '\tb@example.com',
    '',
  ].join('\n'),
);

describe('getHeaderValues', () => {
  const cases: [string, string[]][] = [
    ['Received', ['from a\tby b  with c', 'from d']],
    ['RECEIVED', ['from a\tby b  with c', 'from d']],
    ['Subject', ['Hello world  ']],
    ['X-Empty', ['']],
    ['X-Blank-Name', ['spaced']],
    ['X-CRLF', ['value']],
    ['X-Utf8', ['Grüße']],
    ['To', ['a@example.com,\tb@example.com']],
    ['Return-Path', ['<bounce@example.com>']],
    ['Missing', []],
    ['not a field line', []],
  ];
  it.each(cases)('%s', (name, values) => {
    expect(getHeaderValues(header, name)).toEqual(values);
  });

  it('skips continuation lines with no field before them', () => {
    expect(getHeaderValues(Buffer.from(' orphan: x\nA: 1\n'), 'A')).toEqual(['1']);
    expect(getHeaderValues(Buffer.from(' orphan: x\nA: 1\n'), ' orphan')).toEqual([]);
  });

  it('reads a header without a final line end', () => {
    expect(getHeaderValues(Buffer.from('A: 1\nB: 2'), 'B')).toEqual(['2']);
  });

  it('finds nothing in an empty header', () => {
    expect(getHeaderValues(Buffer.alloc(0), 'Subject')).toEqual([]);
  });
});

describe('getFirstHeader', () => {
  it('returns the first value', () => {
    expect(getFirstHeader(header, 'received')).toBe('from a\tby b  with c');
  });
  it('returns undefined when the field is absent', () => {
    expect(getFirstHeader(header, 'Message-ID')).toBeUndefined();
  });
});
