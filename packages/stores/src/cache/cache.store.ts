import { StoreError } from '../store.js';
import type { Store } from '../store.js';
import type { CacheBackend } from './cache-backend.js';
import { MemoryCache } from './memory-cache.js';
import type { MemoryCacheLimits } from './memory-cache.js';
import { assertServiceName, assertTenantId, tenantSegment, unsafeText, utf8Length } from './namespace.js';
import { RedisCache } from './redis-cache.js';

export const CACHE_KEY_MAX_BYTES = 512;
export const CACHE_VALUE_MAX_BYTES = 1024 * 1024;
export const CACHE_TTL_MAX_MS = 365 * 24 * 60 * 60 * 1000;
const DEFAULT_TIMEOUT_MS = 2_000;

export interface CacheStoreOptions {
  /** The owning service, e.g. `gateway`: the second segment of every key. */
  readonly service: string;
  /** `REDIS_URL`: Redis through ioredis. Unset → the in-process adapter. */
  readonly redisUrl?: string;
  /** Bound on connecting to Redis and on each command (default 2000 ms). */
  readonly timeoutMs?: number;
  /** Bounds of the in-process adapter. */
  readonly memory?: MemoryCacheLimits;
}

export interface CacheTtlOptions {
  /** Milliseconds until the key expires (1 ms .. 365 days); unset → no expiry. */
  readonly ttlMs?: number;
}

export interface CacheStore extends Store {
  readonly kind: 'cache';
  readonly adapter: 'redis' | 'memory';
  readonly service: string;
  get(tenantId: string, key: string): Promise<string | undefined>;
  /** Stores `value`, replacing the value and the expiry the key had. */
  set(tenantId: string, key: string, value: string, options?: CacheTtlOptions): Promise<void>;
  /** Removes the key; true when it existed. */
  delete(tenantId: string, key: string): Promise<boolean>;
  /**
   * Atomically adds `by` (a safe integer, negative to subtract) to the integer held at the key (0 when
   * absent) and returns the sum. `ttlMs` starts an expiry only when the key has none yet, so a counter
   * created with a TTL counts within a fixed window.
   */
  incrBy(tenantId: string, key: string, by: number, options?: CacheTtlOptions): Promise<number>;
  /**
   * Stores `value` only if the key is absent; true when this call stored it. The TTL is required, so a
   * lock or an idempotency marker whose owner died goes away on its own.
   */
  setIfAbsent(
    tenantId: string,
    key: string,
    value: string,
    options: { readonly ttlMs: number },
  ): Promise<boolean>;
}

function assertCacheKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new StoreError('key_invalid', 'cache key must be a non-empty string');
  }
  if (utf8Length(key) > CACHE_KEY_MAX_BYTES) {
    throw new StoreError('key_invalid', `cache key is longer than ${CACHE_KEY_MAX_BYTES} bytes`);
  }
  const unsafe = unsafeText(key);
  if (unsafe !== undefined) throw new StoreError('key_invalid', `cache key ${unsafe}`);
}

/** Validates a rate limiter key with the same rule as a cache key. */
export function assertLimiterKey(key: unknown): asserts key is string {
  assertCacheKey(key);
}

function assertValue(value: unknown): asserts value is string {
  if (typeof value !== 'string') throw new StoreError('value_invalid', 'cache value must be a string');
  if (utf8Length(value) > CACHE_VALUE_MAX_BYTES) {
    throw new StoreError('value_too_large', `cache value is larger than ${CACHE_VALUE_MAX_BYTES} bytes`);
  }
  if (/\p{Cs}/u.test(value)) {
    throw new StoreError('value_invalid', 'cache value contains an unpaired UTF-16 surrogate');
  }
}

function checkTtl(ttlMs: unknown): number | undefined {
  if (ttlMs === undefined) return undefined;
  if (typeof ttlMs !== 'number' || !Number.isSafeInteger(ttlMs) || ttlMs < 1 || ttlMs > CACHE_TTL_MAX_MS) {
    throw new StoreError('ttl_invalid', `ttlMs must be an integer from 1 to ${CACHE_TTL_MAX_MS}`);
  }
  return ttlMs;
}

/** The one CacheStore: validates and namespaces, then hands fully qualified keys to an adapter. */
export class NamespacedCache implements CacheStore {
  readonly kind = 'cache';
  readonly service: string;
  readonly #backend: CacheBackend;
  #closed = false;

  constructor(service: string, backend: CacheBackend) {
    this.service = service;
    this.#backend = backend;
  }

  get adapter(): 'redis' | 'memory' {
    return this.#backend.adapter;
  }

  /** The adapter, for the rate limiter; throws `store_closed` after `close()`. */
  backend(): CacheBackend {
    if (this.#closed) throw new StoreError('store_closed', `the ${this.service} cache store is closed`);
    return this.#backend;
  }

  /** Where namespaced keys of `scope` start; `scope` is an encoded tenant or a reserved name. */
  namespace(scope: string): string {
    return `aibox:${this.service}:${scope}:`;
  }

  async get(tenantId: string, key: string): Promise<string | undefined> {
    return this.backend().get(this.#key(tenantId, key));
  }

  async set(tenantId: string, key: string, value: string, options: CacheTtlOptions = {}): Promise<void> {
    const fullKey = this.#key(tenantId, key);
    assertValue(value);
    await this.backend().set(fullKey, value, checkTtl(options.ttlMs));
  }

  async delete(tenantId: string, key: string): Promise<boolean> {
    return this.backend().delete(this.#key(tenantId, key));
  }

  async incrBy(tenantId: string, key: string, by: number, options: CacheTtlOptions = {}): Promise<number> {
    const fullKey = this.#key(tenantId, key);
    if (typeof by !== 'number' || !Number.isSafeInteger(by)) {
      throw new StoreError('amount_invalid', 'incrBy needs a safe integer amount');
    }
    return this.backend().incrBy(fullKey, by, checkTtl(options.ttlMs));
  }

  async setIfAbsent(
    tenantId: string,
    key: string,
    value: string,
    options: { readonly ttlMs: number },
  ): Promise<boolean> {
    const fullKey = this.#key(tenantId, key);
    assertValue(value);
    const ttlMs = checkTtl(options.ttlMs);
    if (ttlMs === undefined) throw new StoreError('ttl_invalid', 'setIfAbsent needs a ttlMs');
    return this.backend().setIfAbsent(fullKey, value, ttlMs);
  }

  async ping(): Promise<void> {
    await this.backend().ping();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#backend.close();
  }

  #key(tenantId: string, key: string): string {
    assertTenantId(tenantId);
    assertCacheKey(key);
    return `${this.namespace(tenantSegment(tenantId))}${key}`;
  }
}

/**
 * Opens the service's cache: Redis when `redisUrl` is set (connected before this resolves, or
 * `cache_unavailable`), the bounded in-process adapter otherwise.
 */
export async function openCacheStore(options: CacheStoreOptions): Promise<CacheStore> {
  assertServiceName(options.service);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1) {
    throw new StoreError('store_config_invalid', 'cache timeoutMs must be a positive integer');
  }
  const backend =
    options.redisUrl === undefined || options.redisUrl === ''
      ? new MemoryCache(options.memory)
      : await RedisCache.connect(options.redisUrl, options.service, timeoutMs);
  return new NamespacedCache(options.service, backend);
}
