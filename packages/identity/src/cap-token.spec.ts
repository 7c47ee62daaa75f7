import { describe, expect, it } from 'vitest';

import { hasCapability, signCapToken, verifyCapToken, type CapToken } from './cap-token.js';
import { IdentityError } from './identity.error.js';
import { newTurnId } from './ids.js';
import { generateKeySetValue, parseKeySet } from './key-set.js';
import { signPrincipal } from './principal.js';

const NOW = 1_750_000_000;
const keys = parseKeySet(generateKeySetValue(['c1']));
const claims: Omit<CapToken, 'iat' | 'exp'> = {
  turn: newTurnId(),
  tid: 'default',
  uid: 'c0ffee',
  caps: ['sandbox:exec', 'memory:write'],
};

function errorCode(run: () => unknown): string {
  try {
    run();
  } catch (error: unknown) {
    if (error instanceof IdentityError) {
      return error.code;
    }
    throw error;
  }
  return 'accepted';
}

describe('signCapToken / verifyCapToken', () => {
  it('round-trips the claims with a 900 s lifetime by default', () => {
    const token = signCapToken(claims, keys, { now: NOW });
    expect(token).toMatch(/^v1\.c1\./);
    expect(verifyCapToken(token, keys, { now: NOW + 899 })).toEqual({ ...claims, iat: NOW, exp: NOW + 900 });
    expect(errorCode(() => verifyCapToken(token, keys, { now: NOW + 900 }))).toBe('token_expired');
  });

  it('accepts a turn that may do nothing', () => {
    const token = signCapToken({ ...claims, caps: [] }, keys, { now: NOW });
    expect(verifyCapToken(token, keys, { now: NOW }).caps).toEqual([]);
  });

  it('refuses to sign a cap token without a turn', () => {
    expect(errorCode(() => signCapToken({ ...claims, turn: '' }, keys, { now: NOW }))).toBe(
      'payload_invalid',
    );
  });

  it('is not accepted from a principal, even under the same keys', () => {
    const principal = signPrincipal(
      { tid: 'default', uid: 'c0ffee', email: '', roles: [], iss: 'http://127.0.0.1:8011', sub: 'c0ffee' },
      keys,
      { now: NOW },
    );
    expect(errorCode(() => verifyCapToken(principal, keys, { now: NOW }))).toBe('payload_invalid');
  });

  it('rejects a cap token whose caps were altered', () => {
    const token = signCapToken(claims, keys, { now: NOW });
    const [version, kid, , mac] = token.split('.');
    const widened = signCapToken({ ...claims, caps: [...claims.caps, 'admin:all'] }, keys, { now: NOW });
    const payload = widened.split('.')[2] ?? '';
    expect(errorCode(() => verifyCapToken(`${version}.${kid}.${payload}.${mac}`, keys, { now: NOW }))).toBe(
      'signature_invalid',
    );
  });
});

describe('hasCapability', () => {
  const token = verifyCapToken(signCapToken(claims, keys, { now: NOW }), keys, { now: NOW });

  it('grants exactly the listed capabilities', () => {
    expect(hasCapability(token, 'sandbox:exec')).toBe(true);
    expect(hasCapability(token, 'memory:write')).toBe(true);
  });

  it('grants nothing by prefix, by case or by wildcard', () => {
    expect(hasCapability(token, 'sandbox')).toBe(false);
    expect(hasCapability(token, 'sandbox:exec:root')).toBe(false);
    expect(hasCapability(token, 'Sandbox:Exec')).toBe(false);
    expect(hasCapability(token, 'memory:*')).toBe(false);
    expect(hasCapability(token, '')).toBe(false);
  });
});
