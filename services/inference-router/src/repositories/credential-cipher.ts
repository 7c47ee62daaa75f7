import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

import { ProviderConfigError } from '../errors/provider-config.error.js';

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Provider API keys at rest (ARCHITECTURE §7): AES-256-GCM under `AIBOX_CREDENTIALS_KEY`, a fresh 96-bit IV
 * per encryption, the provider's name as associated data — so a ciphertext copied onto another provider's row
 * does not decrypt. Stored as `v1.<iv>.<ciphertext‖tag>` (base64url).
 */
export class CredentialCipher {
  private readonly key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== 32) {
      throw new ProviderConfigError('credentials_key_invalid', 'AIBOX_CREDENTIALS_KEY must be 32 bytes');
    }
    this.key = Buffer.from(key);
  }

  encrypt(secret: string, provider: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(provider, 'utf8'));
    const sealed = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `${VERSION}.${iv.toString('base64url')}.${sealed.toString('base64url')}`;
  }

  /** The key, or `credential_unreadable` (another key, another provider's row, damaged text). */
  decrypt(stored: string, provider: string): string {
    const [version, ivText = '', sealedText = '', ...rest] = stored.split('.');
    const iv = Buffer.from(ivText, 'base64url');
    const sealed = Buffer.from(sealedText, 'base64url');
    if (version !== VERSION || rest.length > 0 || iv.length !== IV_BYTES || sealed.length < TAG_BYTES) {
      throw new ProviderConfigError(
        'credential_unreadable',
        `the stored key of ${provider} is not in the v1 format`,
      );
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, iv);
      decipher.setAAD(Buffer.from(provider, 'utf8'));
      decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
      return Buffer.concat([
        decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)),
        decipher.final(),
      ]).toString('utf8');
    } catch {
      throw new ProviderConfigError(
        'credential_unreadable',
        `the stored key of ${provider} does not decrypt (another AIBOX_CREDENTIALS_KEY, or not this provider's)`,
      );
    }
  }
}

/**
 * How a key is shown once stored: its prefix up to the first `-` (at most 4 characters, e.g. `sk-`) and its last
 * 4 characters, `sk-…a1b2`; a key shorter than 12 characters shows only `…` and its last 2.
 */
export function keyHint(secret: string): string {
  if (secret.length < 12) return secret.length < 4 ? '…' : `…${secret.slice(-2)}`;
  const dash = secret.indexOf('-');
  const prefix = dash > 0 && dash < 4 ? secret.slice(0, dash + 1) : '';
  return `${prefix}…${secret.slice(-4)}`;
}
