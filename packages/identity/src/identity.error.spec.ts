import { describe, expect, it } from 'vitest';

import { IdentityError, type IdentityErrorCode } from './identity.error.js';

const CODES: IdentityErrorCode[] = [
  'token_missing',
  'token_oversize',
  'token_malformed',
  'token_version_unsupported',
  'key_unknown',
  'signature_invalid',
  'payload_not_canonical',
  'payload_invalid',
  'token_expired',
  'token_not_yet_valid',
  'key_set_invalid',
];

describe('IdentityError', () => {
  it('gives every code its own human sentence', () => {
    const messages = CODES.map((code) => new IdentityError(code).message);
    expect(new Set(messages).size).toBe(CODES.length);
    for (const message of messages) {
      expect(message).toMatch(/^[A-Z].+\.$/);
    }
  });

  it('keeps the code stable and appends the detail to the message', () => {
    const error = new IdentityError('key_set_invalid', 'entry 2 is empty');
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('IdentityError');
    expect(error.code).toBe('key_set_invalid');
    expect(error.message).toBe('The key set is invalid: entry 2 is empty.');
  });
});
