import canonicalize from 'canonicalize';

import { AuditProofError } from './audit-proof.error.js';

function refuse(path: string, what: string): never {
  throw new AuditProofError('not_json', `${path} is ${what}, which JSON cannot hold`);
}

/**
 * Walks the value first: `canonicalize` (like `JSON.stringify`) silently drops `undefined` and functions
 * inside objects, turns them into `null` inside arrays and calls `toJSON`, so two different values could hash
 * the same. Only the JSON data model passes: null, booleans, finite numbers, strings, arrays, plain objects.
 */
function checkJson(value: unknown, path: string, seen: Set<object>): void {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) refuse(path, String(value));
      return;
    case 'undefined':
    case 'function':
    case 'symbol':
    case 'bigint':
      refuse(path, `a ${typeof value}`);
      break;
    case 'object': {
      if (value === null) return;
      if (seen.has(value)) refuse(path, 'a circular reference');
      seen.add(value);
      if (Array.isArray(value)) {
        // By index, not forEach: a hole in a sparse array is `undefined` here (JSON would write null).
        for (let index = 0; index < value.length; index += 1)
          checkJson(value[index] as unknown, `${path}[${index}]`, seen);
      } else {
        const prototype: unknown = Object.getPrototypeOf(value);
        if (prototype !== Object.prototype && prototype !== null) refuse(path, 'not a plain object');
        for (const [key, item] of Object.entries(value)) checkJson(item, `${path}.${key}`, seen);
      }
      seen.delete(value);
      return;
    }
  }
}

/**
 * RFC 8785 (JCS) text of a JSON value. Anything outside the JSON data model (undefined, functions, symbols,
 * bigints, NaN, Infinity, cycles, class instances such as Date or Map), at any depth, is refused with
 * `not_json` rather than silently dropped or converted.
 */
export function canonicalJson(value: unknown): string {
  checkJson(value, 'the value', new Set());
  const text = canonicalize(value);
  if (text === undefined) throw new AuditProofError('not_json', `a ${typeof value} has no JSON form`);
  return text;
}
