import { createHmac, timingSafeEqual } from 'node:crypto';

import { canonicalJson } from './canonical-json.js';
import { IdentityError } from './identity.error.js';
import { isValidKid, type KeySet } from './key-set.js';

/** No token this platform issues comes near this; anything longer is refused before it is parsed. */
export const MAX_TOKEN_BYTES: number = 4096;

const VERSION = 'v1';
const VERSION_PATTERN = /^v[0-9]+$/;
const BASE64URL_PATTERN = /^[A-Za-z0-9_-]+$/;
const MAC_BYTES = 32;

/**
 * How a claim is checked: `id` a non-empty string, `text` any string, `names` an array of non-empty strings,
 * `seconds` a non-negative integer (unix seconds).
 */
export type ClaimKind = 'id' | 'text' | 'names' | 'seconds';

/** The exact claim set of one token kind. `iat` and `exp` are always part of it. */
export type ClaimsShape = Readonly<Record<string, ClaimKind>> & {
  readonly iat: 'seconds';
  readonly exp: 'seconds';
};

export type ClaimsOf<S extends ClaimsShape> = {
  -readonly [K in keyof S]: S[K] extends 'names' ? string[] : S[K] extends 'seconds' ? number : string;
} & { iat: number; exp: number };

/** One kind of signed token: principal, cap token. */
export interface TokenKind<S extends ClaimsShape> {
  readonly name: string;
  readonly shape: S;
  readonly defaultTtlSeconds: number;
}

export interface SignOptions {
  /** Unix seconds; defaults to the current time. */
  now?: number;
  ttlSeconds?: number;
}

export interface VerifyOptions {
  /** Unix seconds; defaults to the current time. */
  now?: number;
  /** Tolerated clock difference between signer and verifier, in seconds (default 0). */
  skewSeconds?: number;
}

function currentUnixSeconds(): number {
  return Date.now() / 1000;
}

function mac(key: Buffer, signedPart: string): Buffer {
  return createHmac('sha256', key).update(signedPart, 'ascii').digest();
}

/** Strict base64url: its alphabet, no padding, and the one encoding of the bytes it decodes to. */
function decodeBase64url(text: string): Buffer | undefined {
  if (!BASE64URL_PATTERN.test(text) || text.length % 4 === 1) {
    return undefined;
  }
  const bytes = Buffer.from(text, 'base64url');
  // Rejects non-zero trailing bits, which would otherwise give one MAC several spellings.
  return bytes.toString('base64url') === text ? bytes : undefined;
}

function claimError(kind: string, detail: string): IdentityError {
  return new IdentityError('payload_invalid', `${kind} ${detail}`);
}

function checkClaim(kindName: string, field: string, claimKind: ClaimKind, value: unknown): void {
  switch (claimKind) {
    case 'id':
      if (typeof value !== 'string' || value === '') {
        throw claimError(kindName, `claim "${field}" must be a non-empty string`);
      }
      return;
    case 'text':
      if (typeof value !== 'string') {
        throw claimError(kindName, `claim "${field}" must be a string`);
      }
      return;
    case 'names':
      if (!Array.isArray(value) || !value.every((item) => typeof item === 'string' && item !== '')) {
        throw claimError(kindName, `claim "${field}" must be an array of non-empty strings`);
      }
      return;
    case 'seconds':
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
        throw claimError(kindName, `claim "${field}" must be a non-negative integer of unix seconds`);
      }
      return;
  }
}

/** Checks every claim of `shape` in `source` and returns a fresh object holding exactly those claims. */
function readClaims<S extends ClaimsShape>(
  kind: TokenKind<S>,
  source: Readonly<Record<string, unknown>>,
): ClaimsOf<S> {
  const claims: Record<string, unknown> = {};
  for (const [field, claimKind] of Object.entries(kind.shape)) {
    const value = Object.hasOwn(source, field) ? source[field] : undefined;
    if (value === undefined) {
      throw claimError(kind.name, `claim "${field}" is missing`);
    }
    checkClaim(kind.name, field, claimKind, value);
    claims[field] = Array.isArray(value) ? [...(value as string[])] : value;
  }
  const result = claims as ClaimsOf<S>;
  if (result.exp <= result.iat) {
    throw claimError(kind.name, 'expires ("exp") no later than it is issued ("iat")');
  }
  return result;
}

/**
 * Signs `claims` (only the fields of the kind's shape are taken; `iat`/`exp` are set from `now` and the TTL)
 * into `v1.<kid>.<payload>.<mac>` with the key set's signing key.
 */
export function signToken<S extends ClaimsShape>(
  kind: TokenKind<S>,
  claims: object,
  keys: KeySet,
  opts: SignOptions = {},
): string {
  const now = opts.now ?? currentUnixSeconds();
  const ttlSeconds = opts.ttlSeconds ?? kind.defaultTtlSeconds;
  if (!Number.isFinite(now) || now < 0) {
    throw new RangeError('now must be a non-negative number of unix seconds');
  }
  if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds <= 0) {
    throw new RangeError('ttlSeconds must be a positive integer');
  }
  const iat = Math.floor(now);
  const source: Readonly<Record<string, unknown>> = { ...claims, iat, exp: iat + ttlSeconds };
  const payload = Buffer.from(canonicalJson(readClaims(kind, source)), 'utf8').toString('base64url');

  const kid = keys.signingKid;
  const key = keys.keys.get(kid);
  if (!isValidKid(kid) || key === undefined || key.length === 0) {
    throw new IdentityError('key_set_invalid', 'the signing kid has no usable key');
  }
  const signedPart = `${VERSION}.${kid}.${payload}`;
  const token = `${signedPart}.${mac(key, signedPart).toString('base64url')}`;
  if (token.length > MAX_TOKEN_BYTES) {
    throw new IdentityError(
      'token_oversize',
      `the ${kind.name} would be ${token.length} bytes, more than the ${MAX_TOKEN_BYTES} any verifier accepts`,
    );
  }
  return token;
}

/** Authenticates the token and returns its canonical payload, parsed; no claim is looked at yet. */
function openToken(token: unknown, keys: KeySet): unknown {
  if (token === undefined || token === null || token === '') {
    throw new IdentityError('token_missing');
  }
  if (typeof token !== 'string') {
    throw new IdentityError('token_malformed', 'the token is not a single string');
  }
  // The character count bounds the UTF-8 size from below, so huge inputs never reach byteLength.
  if (token.length > MAX_TOKEN_BYTES || Buffer.byteLength(token, 'utf8') > MAX_TOKEN_BYTES) {
    throw new IdentityError('token_oversize', `the limit is ${MAX_TOKEN_BYTES} bytes`);
  }

  const parts = token.split('.');
  if (parts.length !== 4) {
    throw new IdentityError('token_malformed', `expected 4 dot-separated parts, found ${parts.length}`);
  }
  const [version = '', kid = '', payloadText = '', macText = ''] = parts;
  if (!VERSION_PATTERN.test(version)) {
    throw new IdentityError('token_malformed', 'the version part is not v<number>');
  }
  if (!isValidKid(kid)) {
    throw new IdentityError('token_malformed', 'the kid part is not a valid key id');
  }
  const payloadBytes = decodeBase64url(payloadText);
  if (payloadBytes === undefined) {
    throw new IdentityError('token_malformed', 'the payload part is not unpadded base64url');
  }
  const presentedMac = decodeBase64url(macText);
  if (presentedMac === undefined) {
    throw new IdentityError('token_malformed', 'the mac part is not unpadded base64url');
  }

  if (version !== VERSION) {
    throw new IdentityError('token_version_unsupported', `only ${VERSION} is supported`);
  }
  const key = keys.keys.get(kid);
  if (key === undefined) {
    throw new IdentityError('key_unknown');
  }
  const expectedMac = mac(key, `${version}.${kid}.${payloadText}`);
  if (presentedMac.length !== MAC_BYTES || !timingSafeEqual(presentedMac, expectedMac)) {
    throw new IdentityError('signature_invalid');
  }

  let parsed: unknown;
  try {
    parsed = JSON.parse(payloadBytes.toString('utf8'));
  } catch {
    throw new IdentityError('payload_invalid', 'the payload is not JSON');
  }
  let canonical: string;
  try {
    canonical = canonicalJson(parsed);
  } catch {
    // JSON.parse accepted something RFC 8785 cannot express (a lone surrogate, a number out of range).
    throw new IdentityError('payload_not_canonical');
  }
  if (!Buffer.from(canonical, 'utf8').equals(payloadBytes)) {
    throw new IdentityError('payload_not_canonical');
  }
  return parsed;
}

/** Full verification in the order of ARCHITECTURE §3; returns exactly the claims of `kind`. */
export function verifyToken<S extends ClaimsShape>(
  kind: TokenKind<S>,
  token: unknown,
  keys: KeySet,
  opts: VerifyOptions = {},
): ClaimsOf<S> {
  const now = opts.now ?? currentUnixSeconds();
  const skewSeconds = opts.skewSeconds ?? 0;
  if (!Number.isFinite(now)) {
    throw new RangeError('now must be a finite number of unix seconds');
  }
  if (!Number.isFinite(skewSeconds) || skewSeconds < 0) {
    throw new RangeError('skewSeconds must be a non-negative number');
  }

  const payload = openToken(token, keys);
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw claimError(kind.name, 'payload is not a JSON object');
  }
  const source = payload as Readonly<Record<string, unknown>>;
  const unexpected = Object.keys(source).filter((field) => !Object.hasOwn(kind.shape, field));
  if (unexpected.length > 0) {
    throw claimError(
      kind.name,
      `payload has unexpected claims: ${unexpected.map((f) => `"${f}"`).join(', ')}`,
    );
  }
  const claims = readClaims(kind, source);

  if (claims.exp <= now - skewSeconds) {
    throw new IdentityError('token_expired');
  }
  if (claims.iat > now + skewSeconds) {
    throw new IdentityError('token_not_yet_valid');
  }
  return claims;
}
