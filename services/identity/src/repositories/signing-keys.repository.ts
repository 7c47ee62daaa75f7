import { generateKeyPairSync, randomBytes, type JsonWebKey } from 'node:crypto';
import { join } from 'node:path';

import { z } from 'zod';

import { IdentityServiceError } from '../errors/identity.error.js';
import { readIfExists, writePrivateFile } from './private-file.js';

/** The key file inside `$AIBOX_DATA_DIR/identity`. */
export const SIGNING_KEYS_FILE = 'signing-keys.json';

export const SIGNING_ALGS = ['RS256', 'EdDSA'] as const;
export type SigningAlg = (typeof SIGNING_ALGS)[number];

const privateJwk = z.record(z.string(), z.unknown());
const keyFileSchema = z.object({
  version: z.literal(1),
  cookie_keys: z.array(z.string().min(32)).min(1),
  keys: z.array(
    z.object({
      kid: z.string().min(1),
      alg: z.enum(SIGNING_ALGS),
      created_at: z.iso.datetime(),
      retired_at: z.iso.datetime().optional(),
      jwk: privateJwk,
    }),
  ),
});

export type SigningKeyFile = z.output<typeof keyFileSchema>;
export type StoredSigningKey = SigningKeyFile['keys'][number];

/** The key material oidc-provider gets: signing keys first, then retired keys that still verify. */
export interface SigningKeySet {
  /** Private JWKs in oidc-provider order (the first key of an algorithm signs). */
  jwks: Record<string, unknown>[];
  /** Keys that sign new tokens, by algorithm. */
  activeKids: Readonly<Record<SigningAlg, string>>;
  /** Secrets for oidc-provider's signed cookies. */
  cookieKeys: string[];
}

export function signingKeysFile(identityDataDir: string): string {
  return join(identityDataDir, SIGNING_KEYS_FILE);
}

function kidFor(alg: SigningAlg, now: Date): string {
  return `${alg.toLowerCase()}-${now.toISOString().slice(0, 10).replaceAll('-', '')}-${randomBytes(4).toString('hex')}`;
}

function generateKey(alg: SigningAlg, now: Date): StoredSigningKey {
  const pair =
    alg === 'RS256' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ed25519');
  const jwk: JsonWebKey = pair.privateKey.export({ format: 'jwk' });
  return { kid: kidFor(alg, now), alg, created_at: now.toISOString(), jwk: { ...jwk } };
}

function freshKeys(now: Date): StoredSigningKey[] {
  return SIGNING_ALGS.map((alg) => generateKey(alg, now));
}

function parseKeyFile(text: string, file: string): SigningKeyFile {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new IdentityServiceError('keys_invalid', { detail: `${file} is not valid JSON` });
  }
  const result = keyFileSchema.safeParse(json);
  if (!result.success)
    throw new IdentityServiceError('keys_invalid', { detail: `${file} has an unexpected shape` });
  for (const alg of SIGNING_ALGS) {
    if (!result.data.keys.some((key) => key.alg === alg && key.retired_at === undefined)) {
      throw new IdentityServiceError('keys_invalid', { detail: `${file} has no active ${alg} key` });
    }
  }
  return result.data;
}

/** Orders keys for oidc-provider and lists the active ones. */
export function toKeySet(file: SigningKeyFile): SigningKeySet {
  const active = file.keys.filter((key) => key.retired_at === undefined);
  const retired = file.keys.filter((key) => key.retired_at !== undefined);
  const activeKids = {} as Record<SigningAlg, string>;
  for (const alg of SIGNING_ALGS) {
    const key = active.find((candidate) => candidate.alg === alg);
    if (key !== undefined) activeKids[alg] = key.kid;
  }
  const jwks = [...active, ...retired].map((key) => ({ ...key.jwk, kid: key.kid, alg: key.alg, use: 'sig' }));
  return { jwks, activeKids, cookieKeys: [...file.cookie_keys] };
}

/** Reads the key file, or `undefined` when there is none yet. */
export async function readSigningKeys(identityDataDir: string): Promise<SigningKeyFile | undefined> {
  const file = signingKeysFile(identityDataDir);
  const text = await readIfExists(file);
  return text === undefined ? undefined : parseKeyFile(text, file);
}

/**
 * Loads the keys, generating an RS256 and an Ed25519 key (and a cookie secret) on first start, and drops retired
 * keys older than `retentionSeconds`: by then every token they signed has expired.
 */
export async function loadSigningKeys(
  identityDataDir: string,
  retentionSeconds: number,
  now: Date = new Date(),
): Promise<SigningKeyFile> {
  const existing = await readSigningKeys(identityDataDir);
  if (existing === undefined) {
    const created: SigningKeyFile = {
      version: 1,
      cookie_keys: [randomBytes(32).toString('base64url')],
      keys: freshKeys(now),
    };
    await writePrivateFile(signingKeysFile(identityDataDir), `${JSON.stringify(created, null, 2)}\n`);
    return created;
  }
  const cutoff = now.getTime() - retentionSeconds * 1000;
  const kept = existing.keys.filter(
    (key) => key.retired_at === undefined || Date.parse(key.retired_at) >= cutoff,
  );
  if (kept.length === existing.keys.length) return existing;
  const pruned = { ...existing, keys: kept };
  await writePrivateFile(signingKeysFile(identityDataDir), `${JSON.stringify(pruned, null, 2)}\n`);
  return pruned;
}

/**
 * Adds a new RS256 and Ed25519 key that sign from now on; the previous ones are marked retired and stay in the
 * JWKS until the service drops them after its retention. A running service picks the change up by itself.
 */
export async function rotateSigningKeys(
  identityDataDir: string,
  now: Date = new Date(),
): Promise<Readonly<Record<SigningAlg, string>>> {
  const existing = await readSigningKeys(identityDataDir);
  if (existing === undefined) {
    throw new IdentityServiceError('keys_invalid', {
      detail: `${signingKeysFile(identityDataDir)} does not exist yet; start the service once first`,
    });
  }
  const added = freshKeys(now);
  const retiredAt = now.toISOString();
  const rotated: SigningKeyFile = {
    ...existing,
    keys: [...added, ...existing.keys.map((key) => ({ ...key, retired_at: key.retired_at ?? retiredAt }))],
  };
  await writePrivateFile(signingKeysFile(identityDataDir), `${JSON.stringify(rotated, null, 2)}\n`);
  return toKeySet(rotated).activeKids;
}
