import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';

import { IdentityError } from './identity.error.js';

/** HMAC keys by key id. The first key signs; every key verifies, so keys can rotate without downtime. */
export interface KeySet {
  readonly signingKid: string;
  readonly keys: ReadonlyMap<string, Buffer>;
}

/** HMAC-SHA256 keys shorter than its output weaken it; ARCHITECTURE §3 refuses them in production. */
const DEFAULT_MIN_KEY_BYTES = 32;
const MAX_KID_LENGTH = 64;
const KID_PATTERN = /^[A-Za-z0-9_-]+$/;
// Either base64 alphabet, optional padding; length and padding are checked separately.
const BASE64_PATTERN = /^[A-Za-z0-9+/_-]+={0,2}$/;

/** Key ids appear inside tokens between dots and inside key sets before `=`, so they stay in a safe alphabet. */
export function isValidKid(kid: string): boolean {
  return kid.length > 0 && kid.length <= MAX_KID_LENGTH && KID_PATTERN.test(kid);
}

function isBase64(text: string): boolean {
  if (!BASE64_PATTERN.test(text)) {
    return false;
  }
  const unpadded = text.replace(/=+$/, '');
  if (unpadded.length !== text.length && text.length % 4 !== 0) {
    return false;
  }
  return unpadded.length % 4 !== 1;
}

// A class rather than a literal so that logging a key set (pino, console, util.inspect) never prints secrets.
class HmacKeySet implements KeySet {
  readonly signingKid: string;
  readonly keys: ReadonlyMap<string, Buffer>;

  constructor(signingKid: string, keys: ReadonlyMap<string, Buffer>) {
    this.signingKid = signingKid;
    this.keys = keys;
    Object.freeze(this);
  }

  toJSON(): { signingKid: string; kids: string[] } {
    return { signingKid: this.signingKid, kids: [...this.keys.keys()] };
  }

  [inspect.custom](): string {
    return `KeySet { signingKid: '${this.signingKid}', kids: [${[...this.keys.keys()].map((kid) => `'${kid}'`).join(', ')}] }`;
  }
}

/**
 * Parses `kid=base64,kid2=base64` (whitespace around entries is ignored; standard or url-safe base64, padding
 * optional). Errors name the entry by position and never echo key material.
 */
export function parseKeySet(value: string | undefined, opts: { minKeyBytes?: number } = {}): KeySet {
  const minKeyBytes = opts.minKeyBytes ?? DEFAULT_MIN_KEY_BYTES;
  if (!Number.isSafeInteger(minKeyBytes) || minKeyBytes < 1) {
    throw new RangeError('minKeyBytes must be a positive integer');
  }
  const trimmed = typeof value === 'string' ? value.trim() : '';
  if (trimmed === '') {
    throw new IdentityError('key_set_invalid', 'the key set is empty');
  }

  const keys = new Map<string, Buffer>();
  const positions = new Map<string, number>();
  let signingKid: string | undefined;
  trimmed.split(',').forEach((rawEntry, index) => {
    const position = index + 1;
    const entry = rawEntry.trim();
    if (entry === '') {
      throw new IdentityError('key_set_invalid', `entry ${position} is empty`);
    }
    const separator = entry.indexOf('=');
    if (separator <= 0) {
      throw new IdentityError('key_set_invalid', `entry ${position} is not of the form kid=base64`);
    }
    const kid = entry.slice(0, separator).trim();
    const secret = entry.slice(separator + 1).trim();
    if (!isValidKid(kid)) {
      throw new IdentityError(
        'key_set_invalid',
        `entry ${position} has a kid that is not 1-${MAX_KID_LENGTH} characters of A-Z a-z 0-9 _ -`,
      );
    }
    const earlier = positions.get(kid);
    if (earlier !== undefined) {
      throw new IdentityError('key_set_invalid', `entries ${earlier} and ${position} use the same kid`);
    }
    if (secret === '') {
      throw new IdentityError('key_set_invalid', `entry ${position} has an empty key`);
    }
    if (!isBase64(secret)) {
      throw new IdentityError('key_set_invalid', `entry ${position} has a key that is not valid base64`);
    }
    const key = Buffer.from(secret, 'base64');
    if (key.length < minKeyBytes) {
      throw new IdentityError(
        'key_set_invalid',
        `entry ${position} has a ${key.length}-byte key; at least ${minKeyBytes} bytes are required`,
      );
    }
    positions.set(kid, position);
    keys.set(kid, key);
    signingKid ??= kid;
  });

  if (signingKid === undefined) {
    throw new IdentityError('key_set_invalid', 'the key set is empty');
  }
  return new HmacKeySet(signingKid, keys);
}

function defaultKid(): string {
  const day = new Date().toISOString().slice(0, 10).replaceAll('-', '');
  return `k${day}-${randomBytes(3).toString('hex')}`;
}

/** A fresh random key set value (`kid=base64,...`), first kid signing. Used by `make dev` for dev keys. */
export function generateKeySetValue(
  kids: string[] = [defaultKid()],
  bytes: number = DEFAULT_MIN_KEY_BYTES,
): string {
  if (kids.length === 0) {
    throw new IdentityError('key_set_invalid', 'at least one kid is required');
  }
  if (!Number.isSafeInteger(bytes) || bytes < DEFAULT_MIN_KEY_BYTES || bytes > 1024) {
    throw new IdentityError('key_set_invalid', `keys must be ${DEFAULT_MIN_KEY_BYTES} to 1024 bytes`);
  }
  const seen = new Set<string>();
  for (const [index, kid] of kids.entries()) {
    if (!isValidKid(kid)) {
      throw new IdentityError(
        'key_set_invalid',
        `kid ${index + 1} is not 1-${MAX_KID_LENGTH} characters of A-Z a-z 0-9 _ -`,
      );
    }
    if (seen.has(kid)) {
      throw new IdentityError('key_set_invalid', `kid ${index + 1} repeats an earlier kid`);
    }
    seen.add(kid);
  }
  return kids.map((kid) => `${kid}=${randomBytes(bytes).toString('base64')}`).join(',');
}
