import { describe, expect, it } from 'vitest';

import { verifyCapToken } from './cap-token.js';
import { IdentityError } from './identity.error.js';
import { generateKeySetValue, parseKeySet } from './key-set.js';
import { signPrincipal, verifyPrincipal, type Principal } from './principal.js';

const NOW = 1_750_000_000;
const keys = parseKeySet(generateKeySetValue(['p1']));
const claims: Omit<Principal, 'iat' | 'exp'> = {
  tid: 'default',
  uid: 'c0ffee',
  email: 'grace@example.com',
  roles: ['member'],
  iss: 'http://127.0.0.1:8011',
  sub: 'c0ffee',
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

describe('signPrincipal / verifyPrincipal', () => {
  it('round-trips the claims with iat = now and exp = now + 60 by default', () => {
    const principal = verifyPrincipal(signPrincipal(claims, keys, { now: NOW }), keys, { now: NOW });
    expect(principal).toEqual({ ...claims, iat: NOW, exp: NOW + 60 });
  });

  it('honours a custom ttl and floors a fractional now to whole seconds', () => {
    const token = signPrincipal(claims, keys, { now: NOW + 0.9, ttlSeconds: 5 });
    expect(verifyPrincipal(token, keys, { now: NOW })).toMatchObject({ iat: NOW, exp: NOW + 5 });
  });

  it('accepts a principal without an email address or roles', () => {
    const anonymous = { ...claims, email: '', roles: [] };
    expect(verifyPrincipal(signPrincipal(anonymous, keys, { now: NOW }), keys, { now: NOW })).toMatchObject(
      anonymous,
    );
  });

  it('re-stamps a fresh principal from a verified one, ignoring the old iat and exp', () => {
    const first = verifyPrincipal(signPrincipal(claims, keys, { now: NOW }), keys, { now: NOW });
    const later = NOW + 45;
    const second = verifyPrincipal(signPrincipal(first, keys, { now: later }), keys, { now: later + 30 });
    expect(second).toEqual({ ...claims, iat: later, exp: later + 60 });
  });

  it('signs only the principal fields even when the caller passes more', () => {
    const withExtra = { ...claims, password: 'hunter2' };
    const token = signPrincipal(withExtra, keys, { now: NOW });
    const payload = Buffer.from(token.split('.')[2] ?? '', 'base64url').toString('utf8');
    expect(payload).not.toContain('hunter2');
    expect(Object.keys(verifyPrincipal(token, keys, { now: NOW })).sort()).toEqual([
      'email',
      'exp',
      'iat',
      'iss',
      'roles',
      'sub',
      'tid',
      'uid',
    ]);
  });

  it('returns a principal the caller may mutate without affecting later verifications', () => {
    const token = signPrincipal(claims, keys, { now: NOW });
    verifyPrincipal(token, keys, { now: NOW }).roles.push('admin');
    expect(verifyPrincipal(token, keys, { now: NOW }).roles).toEqual(['member']);
  });

  it.each<[string, Omit<Principal, 'iat' | 'exp'>]>([
    ['an empty tenant', { ...claims, tid: '' }],
    ['an empty user id', { ...claims, uid: '' }],
    ['an empty issuer', { ...claims, iss: '' }],
    ['an empty role', { ...claims, roles: ['member', ''] }],
    ['a lone surrogate in the email', { ...claims, email: 'a\uD800b' }],
  ])('refuses to sign a principal with %s', (_label, bad) => {
    expect(errorCode(() => signPrincipal(bad, keys, { now: NOW }))).toBe('payload_invalid');
  });

  it('refuses to sign a principal missing a field at run time', () => {
    const { email: _email, ...withoutEmail } = claims;
    expect(errorCode(() => signPrincipal(withoutEmail as Omit<Principal, 'iat' | 'exp'>, keys))).toBe(
      'payload_invalid',
    );
  });

  it('refuses a ttl that is not a positive whole number of seconds', () => {
    expect(() => signPrincipal(claims, keys, { ttlSeconds: 0 })).toThrow(RangeError);
    expect(() => signPrincipal(claims, keys, { ttlSeconds: 1.5 })).toThrow(RangeError);
    expect(() => signPrincipal(claims, keys, { now: Number.NaN })).toThrow(RangeError);
  });

  it('refuses to sign with a key set whose signing kid has no key', () => {
    const broken = { signingKid: 'gone', keys: keys.keys };
    expect(errorCode(() => signPrincipal(claims, broken, { now: NOW }))).toBe('key_set_invalid');
  });

  it('is not accepted as a cap token, even under the same keys', () => {
    const token = signPrincipal(claims, keys, { now: NOW });
    expect(errorCode(() => verifyCapToken(token, keys, { now: NOW }))).toBe('payload_invalid');
  });
});
