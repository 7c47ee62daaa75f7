import { SealedTextUnreadable, SecretCipher } from '@aibox/platform';

import { ProviderConfigError } from '../errors/provider-config.error.js';

/**
 * Provider API keys at rest (ARCHITECTURE §7): the platform's `SecretCipher` (AES-256-GCM under
 * `AIBOX_CREDENTIALS_KEY`) with the provider's name as associated data, so a ciphertext copied onto another
 * provider's row does not decrypt; its failures as the router's error codes.
 */
export class CredentialCipher {
  private readonly cipher: SecretCipher;

  constructor(key: Buffer) {
    if (key.length !== 32) {
      throw new ProviderConfigError('credentials_key_invalid', 'AIBOX_CREDENTIALS_KEY must be 32 bytes');
    }
    this.cipher = new SecretCipher(key);
  }

  encrypt(secret: string, provider: string): string {
    return this.cipher.seal(secret, provider);
  }

  /** The key, or `credential_unreadable` (another key, another provider's row, damaged text). */
  decrypt(stored: string, provider: string): string {
    try {
      return this.cipher.open(stored, provider);
    } catch (error) {
      if (!(error instanceof SealedTextUnreadable)) throw error;
      throw new ProviderConfigError(
        'credential_unreadable',
        `the stored key of ${provider} does not decrypt (another AIBOX_CREDENTIALS_KEY, not this provider's, or damaged)`,
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
