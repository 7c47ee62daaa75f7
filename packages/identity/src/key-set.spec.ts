import { randomBytes } from 'node:crypto';
import { format, inspect } from 'node:util';

import { describe, expect, it } from 'vitest';

import { IdentityError } from './identity.error.js';
import { generateKeySetValue, parseKeySet } from './key-set.js';

const secretA = randomBytes(32);
const secretB = randomBytes(48);

function failure(value: string | undefined, opts?: { minKeyBytes?: number }): IdentityError {
  try {
    parseKeySet(value, opts);
  } catch (error: unknown) {
    if (error instanceof IdentityError) {
      return error;
    }
    throw error;
  }
  throw new Error('the key set was accepted');
}

describe('parseKeySet', () => {
  it('signs with the first key and verifies with all of them', () => {
    const keySet = parseKeySet(`new=${secretA.toString('base64')},old=${secretB.toString('base64')}`);
    expect(keySet.signingKid).toBe('new');
    expect([...keySet.keys.keys()]).toEqual(['new', 'old']);
    expect(keySet.keys.get('new')).toEqual(secretA);
    expect(keySet.keys.get('old')).toEqual(secretB);
  });

  it('ignores whitespace around entries and accepts url-safe or unpadded base64', () => {
    const urlSafe = secretB.toString('base64url');
    const keySet = parseKeySet(` a = ${secretA.toString('base64').replace(/=+$/, '')} ,\n b=${urlSafe}\n`);
    expect(keySet.keys.get('a')).toEqual(secretA);
    expect(keySet.keys.get('b')).toEqual(secretB);
  });

  it.each<[string, string | undefined, RegExp]>([
    ['an unset value', undefined, /empty/],
    ['an empty value', '  ', /empty/],
    [
      'an empty entry',
      `a=${secretA.toString('base64')},,b=${secretB.toString('base64')}`,
      /entry 2 is empty/,
    ],
    ['an entry without "="', `a=${secretA.toString('base64')},justakey`, /entry 2 is not of the form/],
    ['an entry without a kid', `=${secretA.toString('base64')}`, /entry 1 is not of the form/],
    ['a kid with a dot', `a.b=${secretA.toString('base64')}`, /entry 1 has a kid/],
    ['a kid with a space', `a b=${secretA.toString('base64')}`, /entry 1 has a kid/],
    [
      'a kid longer than 64 characters',
      `${'k'.repeat(65)}=${secretA.toString('base64')}`,
      /entry 1 has a kid/,
    ],
    ['an empty key', 'a=', /entry 1 has an empty key/],
    [
      'a key with characters outside base64',
      `a=${secretA.toString('base64')}!`,
      /entry 1 has a key that is not valid base64/,
    ],
    ['a key with misplaced padding', `a=${secretA.toString('base64')}==`, /not valid base64/],
    ['a truncated base64 key', `a=${secretB.toString('base64').slice(0, 61)}`, /not valid base64/],
    ['a duplicate kid', `a=${secretA.toString('base64')},a=${secretB.toString('base64')}`, /entries 1 and 2/],
    ['a short key', `a=${randomBytes(16).toString('base64')}`, /16-byte key; at least 32/],
  ])('refuses %s with key_set_invalid naming the problem', (_label, value, message) => {
    const error = failure(value);
    expect(error.code).toBe('key_set_invalid');
    expect(error.message).toMatch(message);
  });

  it('never repeats key material in its errors', () => {
    const pastedSecret = secretA.toString('base64');
    for (const value of [
      pastedSecret,
      `a=${pastedSecret}!`,
      `${pastedSecret}=x`,
      `a=${pastedSecret.slice(0, 20)}`,
    ]) {
      const error = failure(value);
      expect(error.message).not.toContain(pastedSecret.slice(0, 12));
    }
  });

  it('applies a caller-chosen minimum key length', () => {
    const short = `a=${randomBytes(16).toString('base64')}`;
    expect(parseKeySet(short, { minKeyBytes: 16 }).keys.get('a')).toHaveLength(16);
    expect(failure(`a=${secretA.toString('base64')}`, { minKeyBytes: 64 }).message).toMatch(
      /at least 64 bytes/,
    );
    expect(() => parseKeySet(short, { minKeyBytes: 0 })).toThrow(RangeError);
  });

  it('does not reveal its keys when logged', () => {
    const keySet = parseKeySet(`a=${secretA.toString('base64')},b=${secretB.toString('base64')}`);
    const logged = [
      JSON.stringify(keySet),
      inspect(keySet, { depth: 10 }),
      format('%s %o %O', keySet, keySet, keySet),
    ].join('\n');
    for (const secret of [secretA, secretB]) {
      expect(logged).not.toContain(secret.toString('base64').slice(0, 12));
      expect(logged).not.toContain(secret.toString('hex').slice(0, 12));
    }
    expect(JSON.parse(JSON.stringify(keySet))).toEqual({ signingKid: 'a', kids: ['a', 'b'] });
    expect(inspect(keySet)).toContain("'b'");
  });
});

describe('generateKeySetValue', () => {
  it('produces a value parseKeySet accepts, with 32-byte keys under the requested kids', () => {
    const keySet = parseKeySet(generateKeySetValue(['k2', 'k1']));
    expect(keySet.signingKid).toBe('k2');
    expect([...keySet.keys.values()].map((key) => key.length)).toEqual([32, 32]);
  });

  it('produces fresh keys every time', () => {
    const first = parseKeySet(generateKeySetValue(['a'])).keys.get('a');
    const second = parseKeySet(generateKeySetValue(['a'])).keys.get('a');
    expect(first).not.toEqual(second);
  });

  it('names a single key by date when no kid is given', () => {
    const keySet = parseKeySet(generateKeySetValue());
    expect(keySet.signingKid).toMatch(/^k\d{8}-[0-9a-f]{6}$/);
  });

  it('honours a larger key size', () => {
    expect(parseKeySet(generateKeySetValue(['a'], 64)).keys.get('a')).toHaveLength(64);
  });

  it.each<[string, string[], number]>([
    ['no kids', [], 32],
    ['an invalid kid', ['a,b'], 32],
    ['a duplicate kid', ['a', 'a'], 32],
    ['keys shorter than 32 bytes', ['a'], 16],
    ['a fractional key size', ['a'], 32.5],
  ])('refuses %s', (_label, kids, bytes) => {
    expect(() => generateKeySetValue(kids, bytes)).toThrow(
      expect.objectContaining({ code: 'key_set_invalid' }),
    );
  });
});
