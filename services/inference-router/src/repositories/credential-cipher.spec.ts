import { randomBytes } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { ProviderConfigError } from '../errors/provider-config.error.js';
import { CredentialCipher, keyHint } from './credential-cipher.js';

const SECRET = 'sk-proj-abcdefghijklmnopqrstuvwxyz0123456789a1b2';

function code(work: () => unknown): string | undefined {
  try {
    work();
    return undefined;
  } catch (error: unknown) {
    return error instanceof ProviderConfigError ? error.code : String(error);
  }
}

describe('CredentialCipher', () => {
  const cipher = new CredentialCipher(randomBytes(32));

  it('round-trips a key, with a fresh IV each time and no plaintext in the stored form', () => {
    const first = cipher.encrypt(SECRET, 'openai');
    const second = cipher.encrypt(SECRET, 'openai');
    expect(first).not.toBe(second);
    expect(first).not.toContain('abcdefghijklmnop');
    expect(first).toMatch(/^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    expect(cipher.decrypt(first, 'openai')).toBe(SECRET);
  });

  it('refuses another provider row, another key, and damaged text', () => {
    const stored = cipher.encrypt(SECRET, 'openai');
    expect(code(() => cipher.decrypt(stored, 'mistral'))).toBe('credential_unreadable');
    expect(code(() => new CredentialCipher(randomBytes(32)).decrypt(stored, 'openai'))).toBe(
      'credential_unreadable',
    );
    // A character of the sealed text (not the last, whose low bits base64 may ignore), always changed.
    const at = stored.length - 2;
    const flipped = `${stored.slice(0, at)}${stored[at] === 'A' ? 'B' : 'A'}${stored.slice(at + 1)}`;
    expect(flipped).not.toBe(stored);
    expect(code(() => cipher.decrypt(flipped, 'openai'))).toBe('credential_unreadable');
    for (const bad of ['', 'v2.a.b', 'v1.x.y', SECRET])
      expect(code(() => cipher.decrypt(bad, 'openai'))).toBe('credential_unreadable');
    expect(code(() => new CredentialCipher(randomBytes(16)))).toBe('credentials_key_invalid');
  });
});

describe('keyHint', () => {
  it.each([
    [SECRET, 'sk-…a1b2'],
    ['AIzaSyA-1234567890abcdefWXYZ', '…WXYZ'],
    ['short-key', '…ey'],
    ['abc', '…'],
  ])('%s → %s', (secret, hint) => {
    expect(keyHint(secret)).toBe(hint);
  });
});
