import { StoreError } from '../store.js';
import type { StoreErrorCode } from '../store.js';

export type PayloadValue = string | number | boolean;
export type Payload = Readonly<Record<string, PayloadValue>>;

export const MAX_DIMENSIONS = 16_000;
export const MAX_K = 1_000;
export const MAX_PAYLOAD_KEYS = 64;
/** Payload keys the stores use themselves (Qdrant keeps the tenant and the caller's id in the payload). */
export const RESERVED_PAYLOAD_KEYS: ReadonlySet<string> = new Set(['tenant_id', 'point_id']);

// The largest finite float32: both adapters store vectors as 32-bit floats.
const FLOAT32_MAX = 3.4028234663852886e38;
const COLLECTION_NAME = /^[a-z][a-z0-9_]{0,47}$/;
const PAYLOAD_KEY = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function assertCollectionName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !COLLECTION_NAME.test(name)) {
    throw new StoreError(
      'collection_invalid',
      `collection name "${String(name).slice(0, 80)}" is invalid: use lower-case letters, digits and "_" (at most 48), starting with a letter`,
    );
  }
}

export function assertDimensions(dimensions: unknown): asserts dimensions is number {
  if (
    typeof dimensions !== 'number' ||
    !Number.isInteger(dimensions) ||
    dimensions < 1 ||
    dimensions > MAX_DIMENSIONS
  ) {
    throw new StoreError('collection_invalid', `dimensions must be an integer from 1 to ${MAX_DIMENSIONS}`);
  }
}

/** Checks a vector for `dimensions` components, all finite float32 values, not all zero (no cosine). */
export function assertVector(vector: unknown, dimensions: number, what: string): asserts vector is number[] {
  if (!Array.isArray(vector)) throw new StoreError('vector_invalid', `${what} is not an array of numbers`);
  if (vector.length !== dimensions) {
    throw new StoreError(
      'vector_dimension_mismatch',
      `${what} has ${vector.length} dimensions, the collection has ${dimensions}`,
    );
  }
  let nonZero = false;
  for (const component of vector as unknown[]) {
    if (typeof component !== 'number' || !Number.isFinite(component) || Math.abs(component) > FLOAT32_MAX) {
      throw new StoreError(
        'vector_invalid',
        `${what} holds ${String(component)}: only finite 32-bit floats are allowed`,
      );
    }
    if (component !== 0) nonZero = true;
  }
  if (!nonZero)
    throw new StoreError('vector_invalid', `${what} is all zeros: cosine similarity is undefined`);
}

/** Returns the id in canonical (lower-case) form. */
export function pointId(id: unknown, code: StoreErrorCode = 'point_invalid'): string {
  if (typeof id !== 'string' || !UUID.test(id)) {
    throw new StoreError(code, `point id "${String(id).slice(0, 80)}" is not a UUID`);
  }
  return id.toLowerCase();
}

/** Validates payload (or filter) entries; returns a plain copy. */
export function payloadOf(payload: unknown, code: 'point_invalid' | 'query_invalid', what: string): Payload {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw new StoreError(code, `${what} must be an object of strings, numbers and booleans`);
  }
  const entries = Object.entries(payload);
  if (entries.length > MAX_PAYLOAD_KEYS)
    throw new StoreError(code, `${what} has more than ${MAX_PAYLOAD_KEYS} keys`);
  const copy: Record<string, PayloadValue> = {};
  for (const [key, value] of entries) {
    if (!PAYLOAD_KEY.test(key)) {
      throw new StoreError(code, `${what} key "${key.slice(0, 80)}" is invalid: use letters, digits and "_"`);
    }
    if (RESERVED_PAYLOAD_KEYS.has(key)) throw new StoreError(code, `${what} key "${key}" is reserved`);
    const valid =
      typeof value === 'boolean' ||
      (typeof value === 'number' && Number.isFinite(value)) ||
      (typeof value === 'string' && !value.includes('\u0000'));
    if (!valid) {
      throw new StoreError(
        code,
        `${what} "${key}" must be a string (without NUL), a finite number or a boolean`,
      );
    }
    copy[key] = value;
  }
  return copy;
}

export function assertK(k: unknown): asserts k is number {
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 1 || k > MAX_K) {
    throw new StoreError('query_invalid', `k must be an integer from 1 to ${MAX_K}`);
  }
}
