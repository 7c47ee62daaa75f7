import { AuditProofError } from './audit-proof.error.js';

const HEX = /^(?:[0-9a-f]{2})*$/i;

export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (const byte of bytes) out += byte.toString(16).padStart(2, '0');
  return out;
}

/** Lower- or upper-case hex of whole bytes; anything else is `hex_invalid`. */
export function fromHex(hex: string): Uint8Array<ArrayBuffer> {
  if (typeof hex !== 'string' || !HEX.test(hex))
    throw new AuditProofError('hex_invalid', 'not hex of whole bytes');
  const out = new Uint8Array(hex.length / 2);
  for (let index = 0; index < out.length; index += 1) {
    out[index] = Number.parseInt(hex.slice(index * 2, index * 2 + 2), 16);
  }
  return out;
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const LOOKUP = new Map(
  Array.from({ length: ALPHABET.length }, (_, index) => [ALPHABET.charAt(index), index]),
);

/** Standard base64 with padding (RFC 4648 §4), as signed notes and checkpoints use it. */
export function toBase64(bytes: Uint8Array): string {
  let out = '';
  for (let index = 0; index < bytes.length; index += 3) {
    const a = bytes[index] ?? 0;
    const b = bytes[index + 1] ?? 0;
    const c = bytes[index + 2] ?? 0;
    const triple = (a << 16) | (b << 8) | c;
    out += ALPHABET[(triple >> 18) & 63] ?? '';
    out += ALPHABET[(triple >> 12) & 63] ?? '';
    out += index + 1 < bytes.length ? (ALPHABET[(triple >> 6) & 63] ?? '') : '=';
    out += index + 2 < bytes.length ? (ALPHABET[triple & 63] ?? '') : '=';
  }
  return out;
}

/** Strict standard base64: padded, canonical (no stray bits), nothing else. */
export function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  if (typeof text !== 'string' || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) {
    throw new AuditProofError('base64_invalid', 'not padded standard base64');
  }
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((text.length / 4) * 3 - padding);
  let position = 0;
  for (let index = 0; index < text.length; index += 4) {
    const values = [0, 1, 2, 3].map((offset) => LOOKUP.get(text[index + offset] ?? '=') ?? 0);
    const triple =
      ((values[0] ?? 0) << 18) | ((values[1] ?? 0) << 12) | ((values[2] ?? 0) << 6) | (values[3] ?? 0);
    const chunk = [(triple >> 16) & 255, (triple >> 8) & 255, triple & 255];
    for (const byte of chunk) if (position < out.length) out[position++] = byte;
    if (index + 4 === text.length && padding > 0) {
      const stray = padding === 2 ? triple & 0xffff : triple & 0xff;
      if (stray !== 0) throw new AuditProofError('base64_invalid', 'base64 with stray bits');
    }
  }
  return out;
}

/** base64url without padding (JWK `x`). */
export function toBase64Url(bytes: Uint8Array): string {
  return toBase64(bytes).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

export function fromBase64Url(text: string): Uint8Array {
  if (typeof text !== 'string' || !/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) {
    throw new AuditProofError('base64_invalid', 'not unpadded base64url');
  }
  const standard = text.replaceAll('-', '+').replaceAll('_', '/');
  return fromBase64(standard.padEnd(Math.ceil(standard.length / 4) * 4, '='));
}

export function utf8(text: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(text);
}

export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let index = 0; index < a.length; index += 1) diff |= (a[index] ?? 0) ^ (b[index] ?? 0);
  return diff === 0;
}
