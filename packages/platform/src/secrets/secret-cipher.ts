import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const VERSION = 'v1';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** A sealed text that does not open: damaged, sealed under another key, or for other associated data. */
export class SealedTextUnreadable extends Error {
  override readonly name = 'SealedTextUnreadable';
}

/**
 * Secrets at rest (ARCHITECTURE §7): AES-256-GCM under `AIBOX_CREDENTIALS_KEY`, a fresh 96-bit IV per seal, and
 * caller-chosen associated data — the row a secret belongs to — so a sealed text copied onto another row does
 * not open. Stored as `v1.<iv>.<ciphertext‖tag>` (base64url).
 */
export class SecretCipher {
  readonly #key: Buffer;

  constructor(key: Uint8Array) {
    if (key.length !== KEY_BYTES) throw new RangeError(`the credentials key must be ${KEY_BYTES} bytes`);
    this.#key = Buffer.from(key);
  }

  seal(secret: string, associatedData: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    cipher.setAAD(Buffer.from(associatedData, 'utf8'));
    const sealed = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `${VERSION}.${iv.toString('base64url')}.${sealed.toString('base64url')}`;
  }

  /** The secret, or `SealedTextUnreadable`. */
  open(stored: string, associatedData: string): string {
    const [version, ivText = '', sealedText = '', ...rest] = stored.split('.');
    const iv = Buffer.from(ivText, 'base64url');
    const sealed = Buffer.from(sealedText, 'base64url');
    if (version !== VERSION || rest.length > 0 || iv.length !== IV_BYTES || sealed.length < TAG_BYTES) {
      throw new SealedTextUnreadable('the sealed text is not in the v1 format');
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, iv);
      decipher.setAAD(Buffer.from(associatedData, 'utf8'));
      decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
      return Buffer.concat([
        decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)),
        decipher.final(),
      ]).toString('utf8');
    } catch {
      throw new SealedTextUnreadable('the sealed text does not open (another key, another row, or damaged)');
    }
  }
}
