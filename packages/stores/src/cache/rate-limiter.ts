import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';

import { StoreError } from '../store.js';
import { NamespacedCache, assertLimiterKey } from './cache.store.js';
import type { CacheStore } from './cache.store.js';
import { describeError } from './namespace.js';
import { RedisCache } from './redis-cache.js';

const KEY_PREFIX = /^[A-Za-z0-9._-]{1,64}$/;
// Encoded tenant segments are never empty, so limiter keys (`aibox:<service>::ratelimit:…`) cannot meet
// any tenant's cache keys.
const LIMITER_SCOPE = ':ratelimit';

export interface RateLimiterOptions {
  /** Redis adapter → one budget shared by every process on that Redis; memory adapter → per process. */
  readonly cache: CacheStore;
  /** Names this limiter's budgets, e.g. `gateway-principal` (letters, digits, `.`, `_`, `-`; at most 64). */
  readonly keyPrefix: string;
  /** Points each key may spend per window. */
  readonly points: number;
  /** Window length; it starts at a key's first consume. */
  readonly durationSeconds: number;
  /** Once a key overspends, refuse it for this long instead of until the window ends (default 0: off). */
  readonly blockSeconds?: number;
}

export interface RateLimitDecision {
  readonly allowed: boolean;
  /** Points left in the current window. */
  readonly remaining: number;
  /** When refused: how long until a retry can succeed (> 0). When allowed: 0. */
  readonly retryAfterMs: number;
}

export interface RateLimiter {
  /**
   * Spends `points` (a positive integer, default 1) of `key`'s budget. Refused attempts count too, so a
   * client hammering a closed window stays refused until it ends.
   */
  consume(key: string, points?: number): Promise<RateLimitDecision>;
}

function positiveInteger(name: string, value: unknown, minimum: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < minimum) {
    throw new StoreError('store_config_invalid', `rate limiter ${name} must be an integer >= ${minimum}`);
  }
  return value;
}

/**
 * A fixed-window rate limiter (rate-limiter-flexible). On the Redis adapter it runs `RateLimiterRedis` on
 * the cache's ioredis client, insured by an in-process `RateLimiterMemory` with the same settings: while
 * Redis is unreachable each process enforces the limit on its own (so N gateway replicas allow up to N
 * times the budget) instead of refusing everyone or letting everyone through, and the shared budget takes
 * over again when Redis answers.
 */
export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  const { cache, keyPrefix } = options;
  if (!(cache instanceof NamespacedCache)) {
    throw new StoreError('store_config_invalid', 'rate limiter needs a cache store from openCacheStore');
  }
  if (typeof keyPrefix !== 'string' || !KEY_PREFIX.test(keyPrefix)) {
    throw new StoreError(
      'store_config_invalid',
      'rate limiter keyPrefix must be 1..64 letters, digits, ".", "_" or "-"',
    );
  }
  const points = positiveInteger('points', options.points, 1);
  const duration = positiveInteger('durationSeconds', options.durationSeconds, 1);
  const blockDuration = positiveInteger('blockSeconds', options.blockSeconds ?? 0, 0);
  const settings = {
    keyPrefix: `${cache.namespace(LIMITER_SCOPE)}${keyPrefix}`,
    points,
    duration,
    blockDuration,
  };

  const backend = cache.backend();
  const inProcess = new RateLimiterMemory(settings);
  const limiter: RateLimiterAbstract =
    backend instanceof RedisCache
      ? new RateLimiterRedis({
          ...settings,
          storeClient: backend.client,
          // ioredis, not the `redis` package
          useRedisPackage: false,
          // go to the insurance at once while disconnected instead of waiting for a command to fail
          rejectIfRedisNotReady: true,
          insuranceLimiter: inProcess,
        })
      : inProcess;

  return {
    async consume(key: string, spend = 1): Promise<RateLimitDecision> {
      cache.backend(); // throws store_closed once the cache is closed
      assertLimiterKey(key);
      if (typeof spend !== 'number' || !Number.isSafeInteger(spend) || spend < 1) {
        throw new StoreError('amount_invalid', 'rate limiter points to consume must be a positive integer');
      }
      try {
        const result = await limiter.consume(key, spend);
        return { allowed: true, remaining: result.remainingPoints, retryAfterMs: 0 };
      } catch (outcome) {
        if (outcome instanceof RateLimiterRes) {
          return {
            allowed: false,
            remaining: outcome.remainingPoints,
            retryAfterMs: Math.max(1, Math.ceil(outcome.msBeforeNext)),
          };
        }
        throw new StoreError('cache_unavailable', `rate limiter failed: ${describeError(outcome)}`, {
          cause: outcome,
        });
      }
    },
  };
}
