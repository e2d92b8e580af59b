import { describe, it, expect } from 'vitest';
import { encodeModifiedUtf7, isWellFormedText } from '../../src/storage/mutf7.js';

describe('encodeModifiedUtf7', () => {
  // the first rows were checked against directories made by dovecot-lda 2.3.19
  it.each([
    ['Ünï', '&ANw-n&AO8-'],
    ['ä', '&AOQ-'],
    ['&', '&-'],
    ['a&b', 'a&-b'],
    ['a\x7fb', 'a&AH8-b'],
    ['x*y', 'x*y'],
    ['plain ASCII ~!', 'plain ASCII ~!'],
    ['', ''],
    // RFC 3501 §5.1.3
    ['~peter/mail/日本語/台北', '~peter/mail/&ZeVnLIqe-/&U,BTFw-'],
    ['Entwürfe', 'Entw&APw-rfe'],
    ['😀', '&2D3eAA-'],
    ['a\tb', 'a&AAk-b'],
  ])('%j → %s', (text, encoded) => {
    expect(encodeModifiedUtf7(text)).toBe(encoded);
  });
});

describe('isWellFormedText', () => {
  it.each([
    ['ascii', true],
    ['Ünï 😀', true],
    ['lone high \uD800 surrogate', false],
    ['lone low \uDC00 surrogate', false],
    ['\uDC00\uD800 reversed', false],
  ])('%j → %s', (text, wellFormed) => {
    expect(isWellFormedText(text)).toBe(wellFormed);
  });
});
