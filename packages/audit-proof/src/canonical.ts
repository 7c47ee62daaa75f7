import canonicalize from 'canonicalize';

import { AuditProofError } from './audit-proof.error.js';

/**
 * RFC 8785 (JCS) text of a JSON value. Values JSON cannot represent (undefined, functions, NaN, Infinity,
 * cycles) are refused with `not_json` rather than silently dropped.
 */
export function canonicalJson(value: unknown): string {
  let text: string | undefined;
  try {
    text = canonicalize(value);
  } catch (error: unknown) {
    throw new AuditProofError(
      'not_json',
      `not serializable as canonical JSON (${error instanceof Error ? error.message : 'unknown'})`,
    );
  }
  if (text === undefined) throw new AuditProofError('not_json', `a ${typeof value} has no JSON form`);
  return text;
}
