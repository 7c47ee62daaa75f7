import { createHmac } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { canonicalJson } from './canonical-json.js';
import { signCapToken } from './cap-token.js';
import { IdentityError, type IdentityErrorCode } from './identity.error.js';
import { generateKeySetValue, parseKeySet, type KeySet } from './key-set.js';
import { signPrincipal, verifyPrincipal, type Principal } from './principal.js';
import { MAX_TOKEN_BYTES } from './signed-token.js';

const NOW = 1_750_000_000;
const keys = parseKeySet(generateKeySetValue(['main']));
const claims: Omit<Principal, 'iat' | 'exp'> = {
  tid: 'acme',
  uid: 'user-42',
  email: 'ada@example.com',
  roles: ['admin', 'member'],
  iss: 'https://idp.example.com/realms/acme',
  sub: 'user-42',
};
const token = signPrincipal(claims, keys, { now: NOW });

/** What the code of the thrown IdentityError is; any other exception fails the test. */
function codeOf(run: () => unknown): IdentityErrorCode | 'accepted' {
  try {
    run();
    return 'accepted';
  } catch (error: unknown) {
    if (error instanceof IdentityError) {
      return error.code;
    }
    throw error;
  }
}

function verifyAtNow(candidate: string, keySet: KeySet = keys): IdentityErrorCode | 'accepted' {
  return codeOf(() => verifyPrincipal(candidate, keySet, { now: NOW }));
}

function keyOf(keySet: KeySet, kid: string): Buffer {
  const key = keySet.keys.get(kid);
  if (key === undefined) {
    throw new Error(`test key ${kid} missing`);
  }
  return key;
}

/** An independent encoder written from ARCHITECTURE §3, used to MAC payloads the library would never emit. */
function forge(payloadJson: string, kid = 'main', key = keyOf(keys, 'main'), version = 'v1'): string {
  const signedPart = `${version}.${kid}.${Buffer.from(payloadJson, 'utf8').toString('base64url')}`;
  return `${signedPart}.${createHmac('sha256', key).update(signedPart).digest('base64url')}`;
}

function parts(value: string): [string, string, string, string] {
  const [version = '', kid = '', payload = '', mac = ''] = value.split('.');
  return [version, kid, payload, mac];
}

const validClaims = { ...claims, iat: NOW, exp: NOW + 60 };

describe('v1 token format', () => {
  it('is v1.<kid>.<base64url canonical JSON>.<base64url HMAC-SHA256> as an independent encoder builds it', () => {
    const expected = forge(
      '{"email":"ada@example.com","exp":1750000060,"iat":1750000000,"iss":"https://idp.example.com/realms/acme",' +
        '"roles":["admin","member"],"sub":"user-42","tid":"acme","uid":"user-42"}',
    );
    expect(token).toBe(expected);
    expect(token).toMatch(/^v1\.main\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
  });

  it('accepts a token built by an independent encoder', () => {
    expect(
      verifyPrincipal(forge(JSON.stringify(validClaims, Object.keys(validClaims).sort())), keys, {
        now: NOW,
      }),
    ).toEqual(validClaims);
  });
});

describe('tampering', () => {
  /** Every single-bit flip of one part of the token, as [description, outcome] pairs. */
  function bitFlipOutcomes(partIndex: 2 | 3): Map<string, IdentityErrorCode | 'accepted'> {
    const tokenParts = parts(token);
    const bytes = Buffer.from(tokenParts[partIndex], 'base64url');
    const outcomes = new Map<string, IdentityErrorCode | 'accepted'>();
    for (let index = 0; index < bytes.length; index += 1) {
      for (let bit = 0; bit < 8; bit += 1) {
        const mutated = Buffer.from(bytes);
        mutated[index] = (mutated[index] ?? 0) ^ (1 << bit);
        const candidate = [...tokenParts];
        candidate[partIndex] = mutated.toString('base64url');
        outcomes.set(`byte ${index} bit ${bit}`, verifyAtNow(candidate.join('.')));
      }
    }
    return outcomes;
  }

  it('rejects a payload with any single bit flipped', () => {
    const outcomes = bitFlipOutcomes(2);
    expect(outcomes.size).toBe(Buffer.from(parts(token)[2], 'base64url').length * 8);
    expect(new Set(outcomes.values())).toEqual(new Set(['signature_invalid']));
  });

  it('rejects a mac with any single bit flipped', () => {
    const outcomes = bitFlipOutcomes(3);
    expect(outcomes.size).toBe(32 * 8);
    expect(new Set(outcomes.values())).toEqual(new Set(['signature_invalid']));
  });

  it('rejects every single-character substitution anywhere in the token', () => {
    const base64url = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const foreign = ['.', '=', '+', '/', ' ', 'é', '\u0000'];
    const accepted: string[] = [];
    let tried = 0;
    for (let index = 0; index < token.length; index += 1) {
      const original = base64url.indexOf(token[index] ?? '');
      // Every character that differs in one of the 6 bits it encodes (incl. the low bits a lax decoder
      // ignores at the end of a part), plus characters outside the alphabet.
      const siblings =
        original < 0
          ? Array.from(base64url)
          : [1, 2, 4, 8, 16, 32, 3].map((mask) => base64url[original ^ mask]);
      for (const replacement of [...siblings, ...foreign]) {
        if (replacement === undefined || replacement === token[index]) {
          continue;
        }
        tried += 1;
        if (verifyAtNow(token.slice(0, index) + replacement + token.slice(index + 1)) === 'accepted') {
          accepted.push(`${replacement} at ${index}`);
        }
      }
    }
    expect(tried).toBeGreaterThan(token.length * 12);
    expect(accepted).toEqual([]);
  });

  it('rejects a mac whose unused trailing bits were changed (one MAC, one spelling)', () => {
    const [version, kid, payload, mac] = parts(token);
    const last = mac.at(-1) ?? '';
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    // 43 characters carry 258 bits for a 256-bit MAC: the last character's low 2 bits are unused.
    const sibling = alphabet[alphabet.indexOf(last) ^ 1] ?? '';
    expect(Buffer.from(mac.slice(0, -1) + sibling, 'base64url')).toEqual(Buffer.from(mac, 'base64url'));
    expect(verifyAtNow(`${version}.${kid}.${payload}.${mac.slice(0, -1)}${sibling}`)).toBe('token_malformed');
  });

  it('rejects the payload of one token under the mac of another', () => {
    const other = signPrincipal({ ...claims, roles: ['member'] }, keys, { now: NOW });
    const [version, kid, payload, mac] = parts(token);
    const [, , otherPayload, otherMac] = parts(other);
    expect(verifyAtNow(other)).toBe('accepted');
    expect(verifyAtNow(`${version}.${kid}.${otherPayload}.${mac}`)).toBe('signature_invalid');
    expect(verifyAtNow(`${version}.${kid}.${payload}.${otherMac}`)).toBe('signature_invalid');
  });

  it('rejects every proper prefix of a valid token', () => {
    const accepted: number[] = [];
    for (let length = 1; length < token.length; length += 1) {
      if (verifyAtNow(token.slice(0, length)) === 'accepted') {
        accepted.push(length);
      }
    }
    expect(accepted).toEqual([]);
    expect(verifyAtNow('')).toBe('token_missing');
    expect(verifyAtNow(token)).toBe('accepted');
  });

  it('never puts token contents in the error message', () => {
    const [version, kid, payload, mac] = parts(token);
    const tampered = `${version}.${kid}.${payload}.${mac.startsWith('A') ? 'B' : 'A'}${mac.slice(1)}`;
    let message = '';
    try {
      verifyPrincipal(tampered, keys, { now: NOW });
    } catch (error: unknown) {
      message = error instanceof Error ? error.message : '';
    }
    expect(message).toContain('signature');
    expect(message).not.toContain(payload);
    expect(message).not.toContain(mac.slice(1));
  });
});

describe('keys', () => {
  it('rejects a token signed under the same kid with a different secret', () => {
    const impostor = parseKeySet(generateKeySetValue(['main']));
    expect(verifyAtNow(signPrincipal(claims, impostor, { now: NOW }))).toBe('signature_invalid');
  });

  it('rejects a token whose kid is not in the key set', () => {
    const stranger = parseKeySet(generateKeySetValue(['other']));
    expect(verifyAtNow(signPrincipal(claims, stranger, { now: NOW }))).toBe('key_unknown');
  });

  it('rejects a token relabelled with another known kid', () => {
    const both = parseKeySet(`${generateKeySetValue(['main'])},${generateKeySetValue(['second'])}`);
    const signed = signPrincipal(claims, both, { now: NOW });
    const [version, , payload, mac] = parts(signed);
    expect(verifyAtNow(signed, both)).toBe('accepted');
    expect(verifyAtNow(`${version}.second.${payload}.${mac}`, both)).toBe('signature_invalid');
  });

  it('keeps old tokens valid through a rotation and refuses them once the old key is removed', () => {
    const oldEntry = generateKeySetValue(['k2024']);
    const newEntry = generateKeySetValue(['k2025']);
    const before = parseKeySet(oldEntry);
    const during = parseKeySet(`${newEntry},${oldEntry}`);
    const after = parseKeySet(newEntry);

    const oldToken = signPrincipal(claims, before, { now: NOW });
    const newToken = signPrincipal(claims, during, { now: NOW });
    expect(parts(newToken)[1]).toBe('k2025');

    expect(verifyAtNow(oldToken, during)).toBe('accepted');
    expect(verifyAtNow(newToken, during)).toBe('accepted');
    expect(verifyAtNow(newToken, after)).toBe('accepted');
    expect(verifyAtNow(oldToken, after)).toBe('key_unknown');
  });
});

describe('time', () => {
  it('accepts a principal until its exp and rejects it from then on', () => {
    expect(codeOf(() => verifyPrincipal(token, keys, { now: NOW + 59 }))).toBe('accepted');
    expect(codeOf(() => verifyPrincipal(token, keys, { now: NOW + 60 }))).toBe('token_expired');
    expect(codeOf(() => verifyPrincipal(token, keys, { now: NOW + 86_400 }))).toBe('token_expired');
  });

  it('rejects a principal issued in the future', () => {
    expect(codeOf(() => verifyPrincipal(token, keys, { now: NOW - 1 }))).toBe('token_not_yet_valid');
  });

  it('tolerates the configured clock skew in both directions and no more', () => {
    const skew = { skewSeconds: 30 };
    expect(codeOf(() => verifyPrincipal(token, keys, { now: NOW - 30, ...skew }))).toBe('accepted');
    expect(codeOf(() => verifyPrincipal(token, keys, { now: NOW - 31, ...skew }))).toBe(
      'token_not_yet_valid',
    );
    expect(codeOf(() => verifyPrincipal(token, keys, { now: NOW + 89, ...skew }))).toBe('accepted');
    expect(codeOf(() => verifyPrincipal(token, keys, { now: NOW + 90, ...skew }))).toBe('token_expired');
  });

  it('uses the current clock when no time is given', () => {
    const fresh = signPrincipal(claims, keys);
    expect(verifyPrincipal(fresh, keys).uid).toBe('user-42');
    expect(codeOf(() => verifyPrincipal(token, keys))).toBe('token_expired');
  });

  it('refuses options that would disable the time check', () => {
    expect(() => verifyPrincipal(token, keys, { now: NOW, skewSeconds: Number.NaN })).toThrow(RangeError);
    expect(() => verifyPrincipal(token, keys, { now: NOW, skewSeconds: -1 })).toThrow(RangeError);
    expect(() => verifyPrincipal(token, keys, { now: Number.POSITIVE_INFINITY })).toThrow(RangeError);
  });
});

describe('canonical payloads only', () => {
  const sortedKeys = Object.keys(validClaims).sort();

  it.each([
    ['indented', JSON.stringify(validClaims, sortedKeys, 2)],
    ['a space after each colon', JSON.stringify(validClaims, sortedKeys).replaceAll('":', '": ')],
    ['a trailing newline', `${JSON.stringify(validClaims, sortedKeys)}\n`],
    ['keys out of order', JSON.stringify(validClaims)],
    ['an escaped letter', JSON.stringify(validClaims, sortedKeys).replace('"acme"', '"\\u0061cme"')],
    ['a number spelled 1.75e9', JSON.stringify(validClaims, sortedKeys).replace(`${NOW},`, '1.75e9,')],
    ['a duplicated key', JSON.stringify(validClaims, sortedKeys).replace('{', '{"email":"eve@example.com",')],
  ])('rejects a correctly MACed payload with %s', (_label, payloadJson) => {
    expect(verifyAtNow(forge(payloadJson))).toBe('payload_not_canonical');
  });

  it('rejects a payload that is not UTF-8', () => {
    const json = Buffer.from(JSON.stringify(validClaims, sortedKeys), 'utf8');
    const broken = Buffer.concat([json.subarray(0, 10), Buffer.from([0xc3]), json.subarray(10)]);
    const signedPart = `v1.main.${broken.toString('base64url')}`;
    const mac = createHmac('sha256', keyOf(keys, 'main')).update(signedPart).digest('base64url');
    expect(verifyAtNow(`${signedPart}.${mac}`)).toBe('payload_not_canonical');
  });
});

describe('payload schema', () => {
  it.each<[string, unknown]>([
    ['an extra claim', { ...validClaims, admin: true }],
    ['a "__proto__" claim', JSON.parse(`{"__proto__":{"admin":true},${canonicalJson(validClaims).slice(1)}`)],
    ['a missing email', { ...validClaims, email: undefined }],
    ['a missing exp', { ...validClaims, exp: undefined }],
    ['an empty uid', { ...validClaims, uid: '' }],
    ['a null tid', { ...validClaims, tid: null }],
    ['roles as a string', { ...validClaims, roles: 'admin' }],
    ['a numeric role', { ...validClaims, roles: ['admin', 7] }],
    ['an empty role', { ...validClaims, roles: [''] }],
    ['a fractional iat', { ...validClaims, iat: NOW + 0.5 }],
    ['a string exp', { ...validClaims, exp: String(NOW + 60) }],
    ['a negative iat', { ...validClaims, iat: -1 }],
    ['exp before iat', { ...validClaims, iat: NOW, exp: NOW - 10 }],
    ['an array', [validClaims]],
    ['a number', 42],
    ['null', null],
  ])('rejects a correctly MACed, canonical payload with %s', (_label, payload) => {
    expect(verifyAtNow(forge(canonicalJson(payload)))).toBe('payload_invalid');
  });

  it('rejects a correctly MACed payload that is not JSON', () => {
    expect(verifyAtNow(forge('{"tid":'))).toBe('payload_invalid');
  });
});

describe('shape, version and size', () => {
  it.each([
    ['three parts', token.split('.').slice(0, 3).join('.')],
    ['five parts', `${token}.extra`],
    ['a padded payload', token.replace(/^(v1\.main\.[^.]+)/, '$1=')],
    ['a standard-base64 mac', `${token.slice(0, -1)}+`],
    ['an empty kid', token.replace('.main.', '..')],
    ['a kid outside the kid alphabet', token.replace('.main.', '.ma$n.')],
    ['a version that is not v<number>', token.replace(/^v1/, 'V1')],
    ['surrounding whitespace', ` ${token}`],
  ])('rejects a token with %s as token_malformed', (_label, candidate) => {
    expect(verifyAtNow(candidate)).toBe('token_malformed');
  });

  it('rejects a correctly MACed token of another version', () => {
    expect(verifyAtNow(forge(canonicalPayload(), 'main', keyOf(keys, 'main'), 'v2'))).toBe(
      'token_version_unsupported',
    );
  });

  it('rejects input longer than MAX_TOKEN_BYTES before parsing it', () => {
    expect(verifyAtNow('a'.repeat(MAX_TOKEN_BYTES + 1))).toBe('token_oversize');
    expect(verifyAtNow(`${token}${'A'.repeat(MAX_TOKEN_BYTES)}`)).toBe('token_oversize');
    expect(verifyAtNow('.'.repeat(10_000_000))).toBe('token_oversize');
    // Few characters, many bytes.
    expect(verifyAtNow('é'.repeat(MAX_TOKEN_BYTES / 2 + 1))).toBe('token_oversize');
  });

  it('treats an absent token as missing and a non-string as malformed', () => {
    expect(codeOf(() => verifyPrincipal(undefined, keys, { now: NOW }))).toBe('token_missing');
    expect(codeOf(() => verifyPrincipal(['a', 'b'] as unknown as string, keys, { now: NOW }))).toBe(
      'token_malformed',
    );
  });

  it('refuses to sign a token no verifier would accept', () => {
    const roles = Array.from({ length: 1000 }, (_, index) => `role-${index}`);
    expect(codeOf(() => signPrincipal({ ...claims, roles }, keys, { now: NOW }))).toBe('token_oversize');
  });

  function canonicalPayload(): string {
    return JSON.stringify(validClaims, Object.keys(validClaims).sort());
  }
});

describe('token kinds', () => {
  it('does not accept a cap token as a principal even under the same keys', () => {
    const cap = signCapToken({ turn: 't-1', tid: 'acme', uid: 'user-42', caps: ['memory:write'] }, keys, {
      now: NOW,
    });
    expect(verifyAtNow(cap)).toBe('payload_invalid');
  });
});
