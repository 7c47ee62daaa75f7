import { randomBytes } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { SealedTextUnreadable, SecretCipher } from './secret-cipher.js';

const KEY = Buffer.alloc(32, 7);
const ROW = 'code-sandbox.credential:acme:0190a0a0-0000-7000-8000-000000000001';
const SECRET = 'ghp_abcdefghijklmnopqrstuvwxyz0123456789 ✓';

function flipByte(text: string, index: number): string {
  const bytes = Buffer.from(text, 'base64url');
  bytes[index] = (bytes[index] ?? 0) ^ 0x01;
  return bytes.toString('base64url');
}

describe('SecretCipher', () => {
  const cipher = new SecretCipher(KEY);

  it('opens what it sealed, with the same associated data', () => {
    const sealed = cipher.seal(SECRET, ROW);
    expect(cipher.open(sealed, ROW)).toBe(SECRET);
    expect(cipher.open(cipher.seal('', ROW), ROW)).toBe('');
  });

  it('writes v1.<iv>.<ciphertext‖tag> in base64url, with a fresh IV each time', () => {
    const sealed = cipher.seal(SECRET, ROW);
    const [version, iv = '', body = '', ...rest] = sealed.split('.');
    expect(version).toBe('v1');
    expect(rest).toEqual([]);
    expect(iv).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(body).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(Buffer.from(iv, 'base64url')).toHaveLength(12);
    expect(Buffer.from(body, 'base64url')).toHaveLength(Buffer.byteLength(SECRET, 'utf8') + 16);
    expect(sealed).not.toContain('abcdefghijklmnop');
    expect(cipher.seal(SECRET, ROW)).not.toBe(sealed);
  });

  it('refuses a tampered ciphertext, tag or IV', () => {
    const sealed = cipher.seal(SECRET, ROW);
    const [version, iv = '', body = ''] = sealed.split('.');
    const length = Buffer.from(body, 'base64url').length;
    for (const damaged of [
      `${version}.${iv}.${flipByte(body, 0)}`,
      `${version}.${iv}.${flipByte(body, length - 1)}`,
      `${version}.${flipByte(iv, 0)}.${body}`,
    ]) {
      expect(() => cipher.open(damaged, ROW)).toThrow(SealedTextUnreadable);
    }
  });

  it('refuses another key', () => {
    const sealed = cipher.seal(SECRET, ROW);
    expect(() => new SecretCipher(randomBytes(32)).open(sealed, ROW)).toThrow(SealedTextUnreadable);
  });

  it('refuses other associated data: a sealed value moved to another row does not open', () => {
    const sealed = cipher.seal(SECRET, ROW);
    expect(() => cipher.open(sealed, `${ROW}2`)).toThrow(SealedTextUnreadable);
    expect(() =>
      cipher.open(sealed, 'code-sandbox.credential:globex:0190a0a0-0000-7000-8000-000000000001'),
    ).toThrow(SealedTextUnreadable);
  });

  it('refuses text that is not in the v1 format', () => {
    const sealed = cipher.seal(SECRET, ROW);
    const [, iv = '', body = ''] = sealed.split('.');
    for (const text of [
      '',
      SECRET,
      `v2.${iv}.${body}`,
      `v1.${iv}`,
      `v1.${iv}.${body}.extra`,
      `v1.${Buffer.alloc(8).toString('base64url')}.${body}`,
      `v1.${iv}.${Buffer.alloc(15).toString('base64url')}`,
    ]) {
      expect(() => cipher.open(text, ROW)).toThrow(SealedTextUnreadable);
    }
  });

  it('takes only a 32-byte key', () => {
    expect(() => new SecretCipher(Buffer.alloc(16))).toThrow(RangeError);
    expect(() => new SecretCipher(Buffer.alloc(33))).toThrow(RangeError);
  });

  it('keeps its own copy of the key', () => {
    const key = Buffer.from(KEY);
    const own = new SecretCipher(key);
    const sealed = own.seal(SECRET, ROW);
    key.fill(0);
    expect(own.open(sealed, ROW)).toBe(SECRET);
  });
});
