import type { webcrypto } from 'node:crypto';

import { AuditProofError } from './audit-proof.error.js';
import { concatBytes, fromBase64Url, fromHex, toBase64Url, toHex } from './bytes.js';
import { noteKeyId, type NoteSigner, type NoteVerifier } from './note.js';

/** One checkpoint key as `GET /v1/audit/keys` publishes it. */
export interface AuditJwk {
  readonly kty: 'OKP';
  readonly crv: 'Ed25519';
  readonly x: string;
  readonly kid: string;
  readonly alg: 'EdDSA';
  readonly use: 'sig';
  readonly note_key_name: string;
}

const PKCS8_ED25519_PREFIX = fromHex('302e020100300506032b657004220420');

/** The JWK of a note key: `kid` is the hex of its C2SP key id, `note_key_name` its name in signatures. */
export async function auditJwk(name: string, publicKey: Uint8Array): Promise<AuditJwk> {
  return {
    kty: 'OKP',
    crv: 'Ed25519',
    x: toBase64Url(publicKey),
    kid: toHex(await noteKeyId(name, publicKey)),
    alg: 'EdDSA',
    use: 'sig',
    note_key_name: name,
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Verifiers for every key of a JWKS; the `kid` must be the key id its name and key give. */
export async function noteVerifiersFromJwks(jwks: unknown): Promise<NoteVerifier[]> {
  const keys = isRecord(jwks) ? jwks['keys'] : undefined;
  if (!Array.isArray(keys) || keys.length === 0)
    throw new AuditProofError('keys_invalid', 'expected {"keys":[…]} with at least one key');
  const verifiers: NoteVerifier[] = [];
  for (const [position, jwk] of keys.entries()) {
    const where = `key ${position}`;
    if (!isRecord(jwk) || jwk['kty'] !== 'OKP' || jwk['crv'] !== 'Ed25519') {
      throw new AuditProofError('keys_invalid', `${where} is not an OKP Ed25519 key`);
    }
    // Optional in JWK, but when present they must say what this key is for.
    if ((jwk['alg'] ?? 'EdDSA') !== 'EdDSA' || (jwk['use'] ?? 'sig') !== 'sig') {
      throw new AuditProofError('keys_invalid', `${where} is not an EdDSA signature key (alg, use)`);
    }
    const { x, kid, note_key_name: name } = jwk;
    if (typeof x !== 'string' || typeof kid !== 'string' || typeof name !== 'string') {
      throw new AuditProofError('keys_invalid', `${where} lacks x, kid or note_key_name`);
    }
    let raw: Uint8Array;
    try {
      raw = fromBase64Url(x);
    } catch {
      throw new AuditProofError('keys_invalid', `${where}: x is not base64url`);
    }
    if (raw.length !== 32) throw new AuditProofError('keys_invalid', `${where}: x is not 32 bytes`);
    const keyId = await noteKeyId(name, raw);
    if (toHex(keyId) !== kid.toLowerCase())
      throw new AuditProofError('keys_invalid', `${where}: kid is not the key id of its name and key`);
    const publicKey = await globalThis.crypto.subtle.importKey(
      'raw',
      raw as Uint8Array<ArrayBuffer>,
      { name: 'Ed25519' },
      true,
      ['verify'],
    );
    verifiers.push({ name, keyId, publicKey });
  }
  return verifiers;
}

async function signerOf(name: string, privateKey: webcrypto.CryptoKey): Promise<NoteSigner> {
  const jwk = await globalThis.crypto.subtle.exportKey('jwk', privateKey);
  if (typeof jwk.x !== 'string') throw new AuditProofError('keys_invalid', 'the key has no public part');
  return { name, privateKey, publicKey: fromBase64Url(jwk.x) };
}

/** A fresh Ed25519 note key. */
export async function generateNoteSigner(name: string): Promise<NoteSigner> {
  const pair = (await globalThis.crypto.subtle.generateKey({ name: 'Ed25519' }, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  return signerOf(name, pair.privateKey);
}

/** The note key of a 32-byte Ed25519 seed (RFC 8032 private key), as `AUDIT_SIGNING_KEYS` holds them. */
export async function noteSignerFromSeed(name: string, seed: Uint8Array): Promise<NoteSigner> {
  if (seed.length !== 32) throw new AuditProofError('keys_invalid', 'an Ed25519 seed is 32 bytes');
  const privateKey = await globalThis.crypto.subtle.importKey(
    'pkcs8',
    concatBytes(PKCS8_ED25519_PREFIX, seed),
    { name: 'Ed25519' },
    true,
    ['sign'],
  );
  return signerOf(name, privateKey);
}
