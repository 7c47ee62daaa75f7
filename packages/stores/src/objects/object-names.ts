import { StoreError } from '../store.js';
import { unsafeText, utf8Length } from '../cache/namespace.js';

// Keys are `/`-separated paths. The rules make every key a safe relative path on disk and an S3 object
// name below the tenant's prefix: no empty, `.` or `..` segment (so no leading, trailing or doubled `/`),
// no backslash, NUL or other control character, and bounded lengths.

/** Longest key in UTF-8 bytes (S3 names stop at 1024 bytes, and the tenant segment comes first). */
export const OBJECT_KEY_MAX_BYTES = 768;
/** Longest segment in bytes once `%` is written as `%25` (file names stop at 255 bytes). */
export const OBJECT_SEGMENT_MAX_BYTES = 200;
export const CONTENT_TYPE_MAX_LENGTH = 255;
export const DEFAULT_CONTENT_TYPE = 'application/octet-stream';
export const LIST_LIMIT_MAX = 1000;

const CONTENT_TYPE = /^[A-Za-z0-9!#$&^_.+-]+\/[A-Za-z0-9!#$&^_.+-]+(?:\s*;[\x20-\x7e]*)?$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;

/** A segment as a file or directory name: only `%` needs escaping, the rules exclude everything else. */
export function encodeSegment(segment: string): string {
  return segment.replaceAll('%', '%25');
}

/** The segment an encoded name stands for, or undefined for names this store never writes. */
export function decodeSegment(name: string): string | undefined {
  if (!/^(?:[^%]|%25)+$/.test(name)) return undefined;
  const segment = name.replaceAll('%25', '%');
  return segmentProblem(segment) === undefined ? segment : undefined;
}

function segmentProblem(segment: string): string | undefined {
  if (segment === '') return 'has an empty segment (leading, trailing or doubled "/")';
  if (segment === '.' || segment === '..') return 'has a "." or ".." segment';
  if (utf8Length(encodeSegment(segment)) > OBJECT_SEGMENT_MAX_BYTES) {
    return `has a segment longer than ${OBJECT_SEGMENT_MAX_BYTES} bytes`;
  }
  return undefined;
}

function textProblem(text: string): string | undefined {
  if (utf8Length(text) > OBJECT_KEY_MAX_BYTES) return `is longer than ${OBJECT_KEY_MAX_BYTES} bytes`;
  if (text.includes('\\')) return 'contains a backslash';
  return unsafeText(text);
}

/** Throws `key_invalid` unless `key` is a safe relative object path; returns its segments. */
export function objectKeySegments(key: unknown): string[] {
  if (typeof key !== 'string' || key.length === 0) {
    throw new StoreError('key_invalid', 'object key must be a non-empty string');
  }
  const problem =
    textProblem(key) ??
    key
      .split('/')
      .map(segmentProblem)
      .find((found) => found !== undefined);
  if (problem !== undefined) throw new StoreError('key_invalid', `object key ${problem}`);
  return key.split('/');
}

export function assertObjectKey(key: unknown): asserts key is string {
  objectKeySegments(key);
}

/**
 * A list prefix (any start of a key, so it may end inside a segment or with `/`, or empty) or a list
 * cursor (`after`: compared with keys, never turned into a path).
 */
export function assertListText(what: 'prefix' | 'after', text: unknown): asserts text is string {
  if (typeof text !== 'string') throw new StoreError('key_invalid', `list ${what} must be a string`);
  const problem = textProblem(text) ?? (text.startsWith('/') ? 'starts with "/"' : undefined);
  if (problem !== undefined) throw new StoreError('key_invalid', `list ${what} ${problem}`);
}

export function checkContentType(contentType: unknown): string {
  if (contentType === undefined) return DEFAULT_CONTENT_TYPE;
  if (
    typeof contentType !== 'string' ||
    contentType.length > CONTENT_TYPE_MAX_LENGTH ||
    !CONTENT_TYPE.test(contentType)
  ) {
    throw new StoreError(
      'content_type_invalid',
      `content type must look like "type/subtype" (printable ASCII, at most ${CONTENT_TYPE_MAX_LENGTH} characters)`,
    );
  }
  return contentType;
}

/** Normalizes an expected SHA-256 to lower-case hex, or throws `checksum_invalid`. */
export function checkSha256(sha256: unknown): string | undefined {
  if (sha256 === undefined) return undefined;
  const normalized = typeof sha256 === 'string' ? sha256.toLowerCase() : '';
  if (!SHA256_HEX.test(normalized)) {
    throw new StoreError('checksum_invalid', 'expectedSha256 must be 64 hex digits');
  }
  return normalized;
}

export function isSha256Hex(value: unknown): value is string {
  return typeof value === 'string' && SHA256_HEX.test(value);
}

export function checkListLimit(limit: unknown): number {
  if (limit === undefined) return LIST_LIMIT_MAX;
  if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 1 || limit > LIST_LIMIT_MAX) {
    throw new StoreError('limit_invalid', `list limit must be an integer from 1 to ${LIST_LIMIT_MAX}`);
  }
  return limit;
}

/** Orders keys as S3 does: by their UTF-8 bytes. */
export function compareKeys(left: string, right: string): number {
  return Buffer.compare(Buffer.from(left, 'utf8'), Buffer.from(right, 'utf8'));
}

/** The key under which `putContent` stores a body. */
export function contentKey(sha256: string): string {
  return `sha256/${sha256}`;
}
