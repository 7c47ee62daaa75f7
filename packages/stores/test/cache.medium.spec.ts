import { randomUUID } from 'node:crypto';

import { needs, redisUrl } from '@aibox/testing';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';

import { StoreError, createRateLimiter, openCacheStore } from '@aibox/stores';
import type { CacheStore, StoreErrorCode } from '@aibox/stores';

import { eventually } from './cache/poll.js';
import { startSilentServer, startTcpProxy } from './cache/tcp-proxy.js';

const REDIS = await needs('redis');

/** A service name no other test run uses: every key this run writes starts with `aibox:<it>:`. */
function uniqueService(): string {
  return `test-${randomUUID().slice(0, 8)}`;
}

async function rejectsWith(work: Promise<unknown>, code: StoreErrorCode): Promise<StoreError> {
  const error: unknown = await work.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(StoreError);
  expect((error as StoreError).code).toBe(code);
  return error as StoreError;
}

interface Adapter {
  readonly name: 'memory' | 'redis';
  open(service: string): Promise<CacheStore>;
}

function cacheContract(adapter: Adapter): void {
  describe(`cache store contract on ${adapter.name}`, () => {
    const opened: CacheStore[] = [];
    const open = async (service = uniqueService()): Promise<CacheStore> => {
      const store = await adapter.open(service);
      opened.push(store);
      return store;
    };
    afterAll(async () => {
      await Promise.all(opened.map((store) => store.close()));
    });

    it('reports its kind and adapter and answers ping', async () => {
      const cache = await open();
      expect(cache.kind).toBe('cache');
      expect(cache.adapter).toBe(adapter.name);
      await expect(cache.ping()).resolves.toBeUndefined();
    });

    it('gets what was set, overwrites, and forgets what was deleted', async () => {
      const cache = await open();
      expect(await cache.get('acme', 'greeting')).toBeUndefined();
      await cache.set('acme', 'greeting', 'hello');
      expect(await cache.get('acme', 'greeting')).toBe('hello');
      await cache.set('acme', 'greeting', 'héllo wörld ✓');
      expect(await cache.get('acme', 'greeting')).toBe('héllo wörld ✓');
      await cache.set('acme', 'empty', '');
      expect(await cache.get('acme', 'empty')).toBe('');
      expect(await cache.delete('acme', 'greeting')).toBe(true);
      expect(await cache.get('acme', 'greeting')).toBeUndefined();
      expect(await cache.delete('acme', 'greeting')).toBe(false);
    });

    it('expires a key after its TTL, and a plain set clears an earlier TTL', async () => {
      const cache = await open();
      await cache.set('acme', 'short', 'v', { ttlMs: 50 });
      await cache.set('acme', 'kept', 'v', { ttlMs: 50 });
      await cache.set('acme', 'kept', 'v2');
      await eventually(
        'short-lived key expires',
        async () => (await cache.get('acme', 'short')) === undefined,
      );
      expect(await cache.get('acme', 'kept')).toBe('v2');
    });

    it('increments atomically under 100 concurrent callers', async () => {
      const cache = await open();
      const results = await Promise.all(Array.from({ length: 100 }, () => cache.incrBy('acme', 'hits', 1)));
      expect(new Set(results).size).toBe(100);
      expect(Math.max(...results)).toBe(100);
      expect(await cache.get('acme', 'hits')).toBe('100');
      expect(await cache.incrBy('acme', 'hits', -30)).toBe(70);
      expect(await cache.incrBy('acme', 'fresh', 5)).toBe(5);
    });

    it('starts a counter window with the first increment and lets it expire', async () => {
      const cache = await open();
      expect(await cache.incrBy('acme', 'window', 1, { ttlMs: 80 })).toBe(1);
      expect(await cache.incrBy('acme', 'window', 1, { ttlMs: 60_000 })).toBe(2);
      await eventually('counter window ends', async () => (await cache.get('acme', 'window')) === undefined);
      expect(await cache.incrBy('acme', 'window', 1)).toBe(1);
    });

    it('refuses to increment a value that is not an integer', async () => {
      const cache = await open();
      await cache.set('acme', 'name', 'alice');
      await rejectsWith(cache.incrBy('acme', 'name', 1), 'value_not_integer');
      expect(await cache.get('acme', 'name')).toBe('alice');
      await rejectsWith(cache.incrBy('acme', 'n', 1.5), 'amount_invalid');
      await rejectsWith(cache.incrBy('acme', 'n', Number.NaN), 'amount_invalid');
    });

    it('sets if absent exactly once, and again after the holder expires', async () => {
      const cache = await open();
      const attempts = await Promise.all(
        Array.from({ length: 20 }, (_, index) =>
          cache.setIfAbsent('acme', 'lock', `owner-${index}`, { ttlMs: 60_000 }),
        ),
      );
      expect(attempts.filter(Boolean)).toHaveLength(1);
      const winner = attempts.indexOf(true);
      expect(await cache.get('acme', 'lock')).toBe(`owner-${winner}`);
      expect(await cache.setIfAbsent('acme', 'lock', 'late', { ttlMs: 60_000 })).toBe(false);
      expect(await cache.delete('acme', 'lock')).toBe(true);
      expect(await cache.setIfAbsent('acme', 'lock', 'next', { ttlMs: 60 })).toBe(true);
      await eventually('lock can be taken after it expires', async () =>
        cache.setIfAbsent('acme', 'lock', 'after-expiry', { ttlMs: 60_000 }),
      );
      expect(await cache.get('acme', 'lock')).toBe('after-expiry');
    });

    it('keeps tenants apart: same key, different values; one tenant deleting leaves the other', async () => {
      const cache = await open();
      await cache.set('tenant-a', 'profile', 'A');
      await cache.set('tenant-b', 'profile', 'B');
      expect(await cache.get('tenant-a', 'profile')).toBe('A');
      expect(await cache.get('tenant-b', 'profile')).toBe('B');
      expect(await cache.delete('tenant-a', 'profile')).toBe(true);
      expect(await cache.get('tenant-a', 'profile')).toBeUndefined();
      expect(await cache.get('tenant-b', 'profile')).toBe('B');
      await cache.incrBy('tenant-a', 'count', 3);
      expect(await cache.incrBy('tenant-b', 'count', 1)).toBe(1);
      expect(await cache.setIfAbsent('tenant-a', 'lock', 'a', { ttlMs: 60_000 })).toBe(true);
      expect(await cache.setIfAbsent('tenant-b', 'lock', 'b', { ttlMs: 60_000 })).toBe(true);
    });

    it('cannot be tricked into another tenant by separators in ids or keys', async () => {
      const cache = await open();
      await cache.set('a', 'b:c', 'tenant a');
      expect(await cache.get('a:b', 'c')).toBeUndefined();
      await cache.set('a:b', 'c', 'tenant a:b');
      expect(await cache.get('a', 'b:c')).toBe('tenant a');
      await cache.set('x%3Ay', 'k', 'percent');
      expect(await cache.get('x:y', 'k')).toBeUndefined();
      await cache.set('..', 'k', 'dots');
      expect(await cache.get('.', '.:k')).toBeUndefined();
    });

    it('keeps services apart', async () => {
      const service = uniqueService();
      const first = await open(service);
      const other = await open(uniqueService());
      await first.set('acme', 'k', 'first');
      expect(await other.get('acme', 'k')).toBeUndefined();
    });

    it('rejects bad tenant ids, keys, values and TTLs with stable codes', async () => {
      const cache = await open();
      await rejectsWith(cache.get('', 'k'), 'tenant_invalid');
      await rejectsWith(cache.get('t'.repeat(129), 'k'), 'tenant_invalid');
      await rejectsWith(cache.set('a\nb', 'k', 'v'), 'tenant_invalid');
      await rejectsWith(cache.get('acme', ''), 'key_invalid');
      await rejectsWith(cache.get('acme', 'a\u0000b'), 'key_invalid');
      await rejectsWith(cache.set('acme', 'k'.repeat(513), 'v'), 'key_invalid');
      await rejectsWith(cache.delete('acme', 'bad\u007fkey'), 'key_invalid');
      await rejectsWith(cache.set('acme', 'k', 'x'.repeat(1024 * 1024 + 1)), 'value_too_large');
      await rejectsWith(cache.set('acme', 'k', 'lone \ud800 surrogate'), 'value_invalid');
      await rejectsWith(cache.set('acme', 'k', 'v', { ttlMs: 0 }), 'ttl_invalid');
      await rejectsWith(cache.set('acme', 'k', 'v', { ttlMs: 1.5 }), 'ttl_invalid');
      await rejectsWith(cache.setIfAbsent('acme', 'k', 'v', {} as { ttlMs: number }), 'ttl_invalid');
      expect(await cache.get('acme', 'k')).toBeUndefined();
    });

    it('refuses work after close, and closing twice is fine', async () => {
      const cache = await adapter.open(uniqueService());
      const limiter = createRateLimiter({ cache, keyPrefix: 'closing', points: 5, durationSeconds: 60 });
      await cache.close();
      await cache.close();
      await rejectsWith(cache.get('acme', 'k'), 'store_closed');
      await rejectsWith(cache.ping(), 'store_closed');
      await rejectsWith(limiter.consume('user-1'), 'store_closed');
      expect(() => createRateLimiter({ cache, keyPrefix: 'late', points: 1, durationSeconds: 1 })).toThrow(
        expect.objectContaining({ code: 'store_closed' }),
      );
    });

    it('rate limiter allows the budget, then refuses with a retry delay', async () => {
      const cache = await open();
      const limiter = createRateLimiter({ cache, keyPrefix: 'api', points: 3, durationSeconds: 60 });
      const decisions = [];
      for (let index = 0; index < 4; index += 1) decisions.push(await limiter.consume('user-1'));
      expect(decisions.map((decision) => decision.allowed)).toEqual([true, true, true, false]);
      expect(decisions.map((decision) => decision.remaining)).toEqual([2, 1, 0, 0]);
      const refused = decisions[3];
      expect(refused?.retryAfterMs).toBeGreaterThan(0);
      expect(refused?.retryAfterMs).toBeLessThanOrEqual(60_000);
      expect((await limiter.consume('user-2')).allowed).toBe(true);
      // A refused attempt still counts: hammering does not earn a retry sooner.
      expect((await limiter.consume('user-3', 4)).allowed).toBe(false);
      expect((await limiter.consume('user-3', 1)).allowed).toBe(false);
    });

    it('rate limiter opens again when the window ends, and blocks longer with blockSeconds', async () => {
      const cache = await open();
      const limiter = createRateLimiter({ cache, keyPrefix: 'window', points: 1, durationSeconds: 1 });
      expect((await limiter.consume('k')).allowed).toBe(true);
      expect((await limiter.consume('k')).allowed).toBe(false);
      await eventually('window reopens', async () => (await limiter.consume('k')).allowed);

      const blocking = createRateLimiter({
        cache,
        keyPrefix: 'block',
        points: 1,
        durationSeconds: 1,
        blockSeconds: 120,
      });
      expect((await blocking.consume('k')).allowed).toBe(true);
      const refused = await blocking.consume('k');
      expect(refused.allowed).toBe(false);
      expect(refused.retryAfterMs).toBeGreaterThan(60_000);
    });

    it('rate limiter rejects bad settings and bad keys', async () => {
      const cache = await open();
      expect(() =>
        createRateLimiter({ cache, keyPrefix: 'has space', points: 1, durationSeconds: 1 }),
      ).toThrow(expect.objectContaining({ code: 'store_config_invalid' }));
      expect(() => createRateLimiter({ cache, keyPrefix: 'p', points: 0, durationSeconds: 1 })).toThrow(
        expect.objectContaining({ code: 'store_config_invalid' }),
      );
      expect(() => createRateLimiter({ cache, keyPrefix: 'p', points: 1, durationSeconds: 0.5 })).toThrow(
        expect.objectContaining({ code: 'store_config_invalid' }),
      );
      const limiter = createRateLimiter({ cache, keyPrefix: 'p', points: 1, durationSeconds: 1 });
      await rejectsWith(limiter.consume(''), 'key_invalid');
      await rejectsWith(limiter.consume('k', 0), 'amount_invalid');
    });
  });
}

cacheContract({
  name: 'memory',
  open: (service) => openCacheStore({ service }),
});

describe('cache store: invalid configuration', () => {
  it('refuses a bad service name or Redis URL without echoing the URL', async () => {
    await rejectsWith(openCacheStore({ service: 'Not Valid' }), 'store_config_invalid');
    const error = await rejectsWith(
      openCacheStore({ service: 'gateway', redisUrl: 'http://user:hunter2@127.0.0.1:6379' }),
      'store_config_invalid',
    );
    expect(error.message).not.toContain('hunter2');
  });
});

describe.runIf(REDIS)('cache store on Redis', () => {
  const url = redisUrl();
  const target = new URL(url);
  const services: string[] = [];
  const openRedis = (service: string, overrides: { redisUrl?: string; timeoutMs?: number } = {}) => {
    services.push(service);
    return openCacheStore({ service, redisUrl: url, ...overrides });
  };

  afterAll(async () => {
    const raw = new Redis(url, { maxRetriesPerRequest: 1 });
    try {
      for (const service of services) {
        for await (const keys of raw.scanStream({ match: `aibox:${service}:*`, count: 500 })) {
          if ((keys as string[]).length > 0) await raw.del(...(keys as string[]));
        }
      }
    } finally {
      raw.disconnect();
    }
  });

  cacheContract({ name: 'redis', open: (service) => openRedis(service) });

  it('namespaces keys as aibox:<service>:<tenant>:<key>', async () => {
    const service = uniqueService();
    const cache = await openRedis(service);
    const raw = new Redis(url);
    try {
      await cache.set('acme', 'session:42', 'v');
      await cache.set('a:b', 'k', 'v');
      expect(await raw.get(`aibox:${service}:acme:session:42`)).toBe('v');
      expect(await raw.get(`aibox:${service}:a%3Ab:k`)).toBe('v');
    } finally {
      raw.disconnect();
      await cache.close();
    }
  });

  it('shares values and one limiter budget between two processes on the same Redis', async () => {
    const service = uniqueService();
    const first = await openRedis(service);
    const second = await openRedis(service);
    try {
      await first.set('acme', 'shared', 'from first');
      expect(await second.get('acme', 'shared')).toBe('from first');
      const settings = { keyPrefix: 'principal', points: 4, durationSeconds: 60 };
      const one = createRateLimiter({ cache: first, ...settings });
      const two = createRateLimiter({ cache: second, ...settings });
      const allowed = [];
      for (const limiter of [one, two, one, two, one, two])
        allowed.push((await limiter.consume('user-1')).allowed);
      expect(allowed).toEqual([true, true, true, true, false, false]);
    } finally {
      await first.close();
      await second.close();
    }
  });

  it('surfaces a Redis outage as cache_unavailable, keeps limiting in process, and closes', async () => {
    const proxy = await startTcpProxy(target.hostname, Number(target.port === '' ? '6379' : target.port));
    const proxied = new URL(url);
    proxied.hostname = '127.0.0.1';
    proxied.port = String(proxy.port);
    const cache = await openRedis(uniqueService(), { redisUrl: proxied.toString(), timeoutMs: 500 });
    try {
      const limiter = createRateLimiter({ cache, keyPrefix: 'outage', points: 2, durationSeconds: 60 });
      expect((await limiter.consume('user-1')).allowed).toBe(true);
      await cache.set('acme', 'k', 'v');

      await proxy.stop();
      await rejectsWith(cache.get('acme', 'k'), 'cache_unavailable');
      await rejectsWith(cache.ping(), 'cache_unavailable');
      await rejectsWith(cache.incrBy('acme', 'n', 1), 'cache_unavailable');

      const during = [];
      for (let index = 0; index < 3; index += 1) during.push((await limiter.consume('user-9')).allowed);
      expect(during).toEqual([true, true, false]);
    } finally {
      await proxy.stop();
      await cache.close();
    }
  });

  it('fails to open, within its timeout, on a Redis that is absent or mute, without showing the password', async () => {
    const mute = await startSilentServer();
    try {
      const error = await rejectsWith(
        openCacheStore({
          service: uniqueService(),
          redisUrl: `redis://:sup3r-secret@127.0.0.1:${mute.port}`,
          timeoutMs: 300,
        }),
        'cache_unavailable',
      );
      expect(error.message).toContain(`127.0.0.1:${mute.port}`);
      expect(error.message).not.toContain('sup3r-secret');
    } finally {
      await mute.stop();
    }
    const closed = await startSilentServer();
    await closed.stop();
    await rejectsWith(
      openCacheStore({
        service: uniqueService(),
        redisUrl: `redis://127.0.0.1:${closed.port}`,
        timeoutMs: 300,
      }),
      'cache_unavailable',
    );
  });
});
