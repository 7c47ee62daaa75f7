import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Password hashes are `scrypt$<N>$<r>$<p>$<salt>$<hash>` (salt and hash base64url, no padding): the cost
 * travels with the hash, so raising it later leaves existing hashes verifiable.
 */
export const SCRYPT_PREFIX = 'scrypt';

/** OWASP's scrypt minimum (N=2^17, r=8, p=1) costs 128 MiB per hash; 2^15 keeps a login near 50 ms. */
export const DEFAULT_SCRYPT_COST = { N: 32_768, r: 8, p: 1 } as const;

const KEY_BYTES = 32;
const SALT_BYTES = 16;
const MAX_COST_N = 1_048_576;

interface ParsedHash {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

function derive(password: string, salt: Buffer, cost: { N: number; r: number; p: number }, keyBytes: number) {
  const options: ScryptOptions = {
    N: cost.N,
    r: cost.r,
    p: cost.p,
    maxmem: 256 * cost.N * cost.r + 1_048_576,
  };
  return new Promise<Buffer>((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, keyBytes, options, (error, key) => {
      if (error === null) resolve(key);
      else reject(error);
    });
  });
}

function positiveInt(text: string | undefined, max: number): number | undefined {
  if (text === undefined || !/^[1-9][0-9]{0,9}$/.test(text)) return undefined;
  const value = Number(text);
  return value <= max ? value : undefined;
}

/** Parses a stored hash; `undefined` when it is not a well-formed scrypt hash this service can check. */
export function parsePasswordHash(stored: string): ParsedHash | undefined {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== SCRYPT_PREFIX) return undefined;
  const N = positiveInt(parts[1], MAX_COST_N);
  const r = positiveInt(parts[2], 32);
  const p = positiveInt(parts[3], 16);
  const base64url = /^[A-Za-z0-9_-]{16,}$/;
  if (N === undefined || r === undefined || p === undefined || (N & (N - 1)) !== 0 || N < 2) return undefined;
  if (!base64url.test(parts[4] ?? '') || !base64url.test(parts[5] ?? '')) return undefined;
  return {
    N,
    r,
    p,
    salt: Buffer.from(parts[4] ?? '', 'base64url'),
    hash: Buffer.from(parts[5] ?? '', 'base64url'),
  };
}

/** Hashes a password for the config file. */
export async function hashPassword(
  password: string,
  cost: { N: number; r: number; p: number } = DEFAULT_SCRYPT_COST,
): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(password, salt, cost, KEY_BYTES);
  return [SCRYPT_PREFIX, cost.N, cost.r, cost.p, salt.toString('base64url'), hash.toString('base64url')].join(
    '$',
  );
}

/** Whether `password` matches `stored`; compared in constant time. A malformed hash never matches. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parsePasswordHash(stored);
  if (parsed === undefined) return false;
  const candidate = await derive(password, parsed.salt, parsed, parsed.hash.length);
  return candidate.length === parsed.hash.length && timingSafeEqual(candidate, parsed.hash);
}
