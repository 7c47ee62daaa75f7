export {
  CACHE_KEY_MAX_BYTES,
  CACHE_TTL_MAX_MS,
  CACHE_VALUE_MAX_BYTES,
  openCacheStore,
} from './cache.store.js';
export type { CacheStore, CacheStoreOptions, CacheTtlOptions } from './cache.store.js';
export { MEMORY_CACHE_DEFAULTS } from './memory-cache.js';
export type { MemoryCacheLimits } from './memory-cache.js';
export { createRateLimiter } from './rate-limiter.js';
export type { RateLimitDecision, RateLimiter, RateLimiterOptions } from './rate-limiter.js';
