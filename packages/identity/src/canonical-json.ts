import canonicalize from 'canonicalize';

import { IdentityError } from './identity.error.js';

/**
 * RFC 8785 (JCS) serialization. Values JSON cannot represent (undefined, functions, NaN, Infinity, lone
 * surrogates, cycles) are refused with `payload_invalid` instead of being silently dropped.
 */
export function canonicalJson(value: unknown): string {
  let text: string | undefined;
  try {
    text = canonicalize(value);
  } catch (error: unknown) {
    const reason = error instanceof Error ? error.message : 'unserializable value';
    throw new IdentityError('payload_invalid', `cannot serialize as canonical JSON (${reason})`);
  }
  if (text === undefined) {
    throw new IdentityError('payload_invalid', `a value of type ${typeof value} has no JSON representation`);
  }
  return text;
}
