import { Redis } from 'ioredis';

import { StoreError } from '../store.js';
import type { CacheBackend } from './cache-backend.js';
import { describeError } from './namespace.js';

// INCRBY, then start the key's expiry if it has none yet, in one atomic step.
const INCR_BY_WITH_TTL = `
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if ARGV[2] ~= '' and redis.call('PTTL', KEYS[1]) == -1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return value`;

/** `host:port` of a Redis URL: what messages may show (never the password). */
export function redisTarget(redisUrl: string): string {
  let url: URL;
  try {
    url = new URL(redisUrl);
  } catch {
    throw new StoreError('store_config_invalid', 'REDIS_URL is not a valid URL');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new StoreError('store_config_invalid', 'REDIS_URL must start with redis:// or rediss://');
  }
  if (url.hostname === '') throw new StoreError('store_config_invalid', 'REDIS_URL names no host');
  return `${url.hostname}:${url.port === '' ? '6379' : url.port}`;
}

function withTimeout<T>(work: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`${what} took longer than ${timeoutMs} ms`));
    }, timeoutMs);
  });
  return Promise.race([work, timeout]).finally(() => {
    clearTimeout(timer);
  });
}

function isReplyError(error: unknown): error is Error {
  return error instanceof Error && error.name === 'ReplyError';
}

/**
 * The Redis adapter (ioredis). Every command fails fast instead of queueing while Redis is away: no
 * offline queue, no replay of commands in flight when the connection drops (an INCRBY never counts
 * twice), and a per-command timeout. The client keeps reconnecting in the background, so the store heals
 * when Redis comes back.
 */
export class RedisCache implements CacheBackend {
  readonly adapter = 'redis';
  readonly #client: Redis;
  readonly #where: string;
  readonly #timeoutMs: number;
  readonly #secret: string;

  private constructor(client: Redis, where: string, timeoutMs: number, secret: string) {
    this.#client = client;
    this.#where = where;
    this.#timeoutMs = timeoutMs;
    this.#secret = secret;
  }

  /** Connects, or throws `cache_unavailable` within about `timeoutMs`. */
  static async connect(redisUrl: string, service: string, timeoutMs: number): Promise<RedisCache> {
    const where = redisTarget(redisUrl);
    const client = new Redis(redisUrl, {
      lazyConnect: true,
      connectionName: `aibox-${service}`,
      connectTimeout: timeoutMs,
      commandTimeout: timeoutMs,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
    });
    // Connection errors also reach callers as rejected commands; this listener only keeps ioredis from
    // printing "Unhandled error event" to stderr.
    client.on('error', () => undefined);
    const cache = new RedisCache(client, where, timeoutMs, new URL(redisUrl).password);
    try {
      await withTimeout(client.connect(), 2 * timeoutMs, 'connecting');
    } catch (error) {
      client.disconnect();
      throw cache.#unavailable('connect', error);
    }
    return cache;
  }

  /** The ioredis client, for the Redis-backed rate limiter. */
  get client(): Redis {
    return this.#client;
  }

  get where(): string {
    return this.#where;
  }

  async get(key: string): Promise<string | undefined> {
    try {
      return (await this.#client.get(key)) ?? undefined;
    } catch (error) {
      throw this.#unavailable('GET', error);
    }
  }

  async set(key: string, value: string, ttlMs: number | undefined): Promise<void> {
    try {
      if (ttlMs === undefined) await this.#client.set(key, value);
      else await this.#client.set(key, value, 'PX', ttlMs);
    } catch (error) {
      throw this.#unavailable('SET', error);
    }
  }

  async delete(key: string): Promise<boolean> {
    try {
      return (await this.#client.del(key)) > 0;
    } catch (error) {
      throw this.#unavailable('DEL', error);
    }
  }

  async incrBy(key: string, by: number, ttlMs: number | undefined): Promise<number> {
    let result: unknown;
    try {
      result = await this.#client.eval(
        INCR_BY_WITH_TTL,
        1,
        key,
        String(by),
        ttlMs === undefined ? '' : String(ttlMs),
      );
    } catch (error) {
      if (isReplyError(error) && error.message.includes('not an integer')) {
        throw new StoreError('value_not_integer', 'the key holds a value that is not an integer', {
          cause: error,
        });
      }
      throw this.#unavailable('INCRBY', error);
    }
    if (typeof result !== 'number' || !Number.isSafeInteger(result)) {
      throw new StoreError('value_not_integer', 'counter left the safe integer range (±2^53-1)');
    }
    return result;
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    try {
      return (await this.#client.set(key, value, 'PX', ttlMs, 'NX')) === 'OK';
    } catch (error) {
      throw this.#unavailable('SET NX', error);
    }
  }

  async ping(): Promise<void> {
    try {
      await this.#client.ping();
    } catch (error) {
      throw this.#unavailable('PING', error);
    }
  }

  async close(): Promise<void> {
    if (this.#client.status === 'ready') {
      try {
        await withTimeout(this.#client.quit(), this.#timeoutMs, 'QUIT');
        return;
      } catch {
        // fall through: drop the connection without the goodbye
      }
    }
    this.#client.disconnect();
  }

  #unavailable(operation: string, error: unknown): StoreError {
    let detail = describeError(error);
    if (this.#secret !== '') detail = detail.replaceAll(this.#secret, '***');
    return new StoreError(
      'cache_unavailable',
      `cache unavailable: Redis at ${this.#where} failed ${operation}: ${detail}`,
      { cause: error },
    );
  }
}
