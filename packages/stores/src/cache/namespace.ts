import { createHash } from 'node:crypto';

import { StoreError } from '../store.js';

// The rules for names that the cache and the object store put into Redis keys, S3 object names and file
// paths. Tenant ids follow the same rule as the SQL store (1..128 characters, no control characters) and
// are then encoded, so any tenant the platform accepts maps to exactly one safe key segment.

const SERVICE_NAME = /^[a-z][a-z0-9-]{0,62}$/;
export const TENANT_ID_MAX_LENGTH = 128;
/** Longest encoded tenant segment; longer ones are replaced by a hash (file names stop at 255 bytes). */
const TENANT_SEGMENT_MAX_LENGTH = 200;

// C0 and C1 control characters (NUL and DEL included).
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// A UTF-16 surrogate that is not part of a pair: it has no UTF-8 spelling, so Redis, S3 and file names
// would each store something else.
const LONE_SURROGATE = /\p{Cs}/u;

export function utf8Length(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** Why `text` cannot be stored as written, or undefined when it can. */
export function unsafeText(text: string): string | undefined {
  if (CONTROL.test(text)) return 'contains a control character';
  if (LONE_SURROGATE.test(text)) return 'contains an unpaired UTF-16 surrogate';
  return undefined;
}

export function assertServiceName(service: unknown): asserts service is string {
  if (typeof service !== 'string' || !SERVICE_NAME.test(service)) {
    const shown = typeof service === 'string' ? `"${service.slice(0, 80)}"` : typeof service;
    throw new StoreError(
      'store_config_invalid',
      `service name ${shown} is invalid: use lower-case letters, digits and "-" (at most 63)`,
    );
  }
}

/** Throws `tenant_invalid` unless `tenantId` is 1..128 characters without control characters. */
export function assertTenantId(tenantId: unknown): asserts tenantId is string {
  if (typeof tenantId !== 'string' || tenantId.length === 0) {
    throw new StoreError('tenant_invalid', 'tenant id must be a non-empty string');
  }
  if (tenantId.length > TENANT_ID_MAX_LENGTH) {
    throw new StoreError('tenant_invalid', `tenant id is longer than ${TENANT_ID_MAX_LENGTH} characters`);
  }
  const unsafe = unsafeText(tenantId);
  if (unsafe !== undefined) throw new StoreError('tenant_invalid', `tenant id ${unsafe}`);
}

/**
 * The tenant as one key segment: percent-encoded (so it never holds `:`, `/`, `\` or `%` unescaped and is
 * never `.` or `..`), or `=<sha256 hex>` when the encoding is too long. Encoded segments never contain `=`
 * and never start with `.`, so neither form can collide with another tenant or with a reserved name.
 */
export function tenantSegment(tenantId: string): string {
  let encoded = encodeURIComponent(tenantId);
  if (encoded.startsWith('.')) encoded = `%2E${encoded.slice(1)}`;
  if (encoded.length <= TENANT_SEGMENT_MAX_LENGTH) return encoded;
  return `=${createHash('sha256').update(tenantId, 'utf8').digest('hex')}`;
}

/** The first line of an error's message, for messages that name a cause. */
export function describeError(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const line = text.split('\n')[0]?.trim() ?? '';
  return line === '' ? 'unknown error' : line;
}
