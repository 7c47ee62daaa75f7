import { describe, expect, it } from 'vitest';

import { StoreError } from '../store.js';
import { MemoryCache } from './memory-cache.js';
import { tenantSegment } from './namespace.js';

function clock(): { now: () => number; advance: (ms: number) => void } {
  let time = 1_000;
  return {
    now: () => time,
    advance: (ms) => {
      time += ms;
    },
  };
}

describe('MemoryCache bounds', () => {
  it('evicts the entries written longest ago once maxEntries is reached', async () => {
    const cache = new MemoryCache({ maxEntries: 3 });
    for (const key of ['a', 'b', 'c']) await cache.set(key, key, undefined);
    await cache.set('a', 'rewritten', undefined);
    await cache.set('d', 'd', undefined);
    expect(cache.size).toBe(3);
    expect(await cache.get('b')).toBeUndefined();
    expect(await cache.get('a')).toBe('rewritten');
    expect(await cache.get('c')).toBe('c');
    expect(await cache.get('d')).toBe('d');
  });

  it('stays within maxBytes however many values arrive', async () => {
    const cache = new MemoryCache({ maxBytes: 10_000 });
    for (let index = 0; index < 1_000; index += 1)
      await cache.set(`key-${index}`, 'x'.repeat(500), undefined);
    // 2 * (key + value) + 64 bytes ≈ 1 090 bytes an entry: at most 9 fit in 10 000 bytes.
    expect(cache.size).toBeLessThanOrEqual(9);
    expect(await cache.get('key-999')).toBe('x'.repeat(500));
    expect(await cache.get('key-0')).toBeUndefined();
  });

  it('refuses a single entry larger than the whole bound', async () => {
    const cache = new MemoryCache({ maxBytes: 1_000 });
    await cache.set('small', 'v', undefined);
    await expect(cache.set('big', 'x'.repeat(1_000), undefined)).rejects.toMatchObject({
      code: 'value_too_large',
    });
    expect(await cache.get('small')).toBe('v');
  });

  it('rejects limits that are not positive integers', () => {
    expect(() => new MemoryCache({ maxEntries: 0 })).toThrow(StoreError);
    expect(() => new MemoryCache({ maxBytes: 1.5 })).toThrow(StoreError);
  });

  it('drops an entry at its expiry on the monotonic clock, and a counter keeps its first window', async () => {
    const time = clock();
    const cache = new MemoryCache({}, time.now);
    await cache.set('k', 'v', 100);
    time.advance(99);
    expect(await cache.get('k')).toBe('v');
    time.advance(1);
    expect(await cache.get('k')).toBeUndefined();
    expect(cache.size).toBe(0);

    expect(await cache.incrBy('n', 1, 100)).toBe(1);
    time.advance(60);
    expect(await cache.incrBy('n', 1, 100)).toBe(2);
    time.advance(40);
    expect(await cache.get('n')).toBeUndefined();
  });

  it('refuses a counter past the safe integer range', async () => {
    const cache = new MemoryCache();
    await cache.set('n', String(Number.MAX_SAFE_INTEGER), undefined);
    await expect(cache.incrBy('n', 1, undefined)).rejects.toMatchObject({ code: 'value_not_integer' });
    expect(await cache.get('n')).toBe(String(Number.MAX_SAFE_INTEGER));
  });
});

describe('tenantSegment', () => {
  it('passes plain ids through and encodes separators, dots and percent signs', () => {
    expect(tenantSegment('acme')).toBe('acme');
    expect(tenantSegment('a:b/c\\d')).toBe('a%3Ab%2Fc%5Cd');
    expect(tenantSegment('100%')).toBe('100%25');
    expect(tenantSegment('.')).toBe('%2E');
    expect(tenantSegment('..')).toBe('%2E.');
  });

  it('hashes ids whose encoding would be too long, without colliding with encoded ids', () => {
    const long = 'é'.repeat(100);
    const segment = tenantSegment(long);
    expect(segment).toMatch(/^=[0-9a-f]{64}$/);
    expect(tenantSegment(`${long}x`)).not.toBe(segment);
    expect(tenantSegment(segment)).toBe('%3D' + segment.slice(1));
  });
});
