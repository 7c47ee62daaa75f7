import { describe, expect, it } from 'vitest';

import {
  assertListText,
  checkContentType,
  checkListLimit,
  checkSha256,
  compareKeys,
  decodeSegment,
  encodeSegment,
  objectKeySegments,
} from './object-names.js';

describe('object key segments on disk', () => {
  it('encodes only "%" and decodes back to the same segment', () => {
    for (const segment of ['plain', '100%', '%25', 'a b', 'ü', '...', '.hidden', "it's (1)"]) {
      expect(decodeSegment(encodeSegment(segment))).toBe(segment);
    }
    expect(encodeSegment('50%off')).toBe('50%25off');
  });

  it('refuses names this store never writes', () => {
    expect(decodeSegment('a%obj')).toBeUndefined();
    expect(decodeSegment('%2E')).toBeUndefined();
    expect(decodeSegment('..')).toBeUndefined();
    expect(decodeSegment('')).toBeUndefined();
  });
});

describe('object key rules', () => {
  it('splits a valid key into its segments', () => {
    expect(objectKeySegments('a/b/c.txt')).toEqual(['a', 'b', 'c.txt']);
    expect(objectKeySegments('sha256/abc')).toEqual(['sha256', 'abc']);
  });

  it.each([
    ['', 'non-empty'],
    ['../x', '".." segment'],
    ['a/./b', '".." segment'],
    ['/abs', 'empty segment'],
    ['a/', 'empty segment'],
    ['a\\b', 'backslash'],
    ['a\u0000b', 'control character'],
    ['é'.repeat(385), 'longer than 768 bytes'],
    ['%'.repeat(67), 'segment longer than 200 bytes'],
  ])('rejects %j (%s)', (key, reason) => {
    expect(() => objectKeySegments(key)).toThrow(expect.objectContaining({ code: 'key_invalid' }));
    expect(() => objectKeySegments(key)).toThrow(reason.replace(/^non-empty$/, 'non-empty string'));
  });

  it('allows list prefixes that end mid-segment or with "/", but not absolute ones', () => {
    expect(() => {
      assertListText('prefix', '');
    }).not.toThrow();
    expect(() => {
      assertListText('prefix', 'docs/');
    }).not.toThrow();
    expect(() => {
      assertListText('prefix', 'docs/rep');
    }).not.toThrow();
    expect(() => {
      assertListText('prefix', '/docs');
    }).toThrow(expect.objectContaining({ code: 'key_invalid' }));
  });
});

describe('object options', () => {
  it('normalizes checksums and rejects malformed ones', () => {
    expect(checkSha256('A'.repeat(64))).toBe('a'.repeat(64));
    expect(checkSha256(undefined)).toBeUndefined();
    expect(() => checkSha256('a'.repeat(63))).toThrow(expect.objectContaining({ code: 'checksum_invalid' }));
  });

  it('defaults and validates content types and list limits', () => {
    expect(checkContentType(undefined)).toBe('application/octet-stream');
    expect(checkContentType('text/plain; charset=utf-8')).toBe('text/plain; charset=utf-8');
    expect(() => checkContentType('text')).toThrow(expect.objectContaining({ code: 'content_type_invalid' }));
    expect(checkListLimit(undefined)).toBe(1000);
    expect(() => checkListLimit(2.5)).toThrow(expect.objectContaining({ code: 'limit_invalid' }));
  });

  it('orders keys by UTF-8 bytes, as S3 does', () => {
    const keys = ['a/b', 'a-b', 'a', '\u{1F600}', '\uFF5E', 'ü'];
    expect([...keys].sort(compareKeys)).toEqual(['a', 'a-b', 'a/b', 'ü', '\uFF5E', '\u{1F600}']);
  });
});
