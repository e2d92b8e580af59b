import { describe, expect, it } from 'vitest';
import { asciiLowerCase } from '../../src/message/ascii.js';

describe('asciiLowerCase', () => {
  it.each([
    ['', ''],
    ['abc', 'abc'],
    ['$Label1', '$label1'],
    ['INBOX', 'inbox'],
    // only A-Z fold: non-ASCII letters stay as they are, as in C's tolower
    ['ÄÖÜ Straße', 'ÄÖÜ straße'],
    ['İ', 'İ'],
  ])('%j → %j', (input, expected) => {
    expect(asciiLowerCase(input)).toBe(expected);
  });
});
