import { performance } from 'node:perf_hooks';

import { StoreError } from '../store.js';
import type { CacheBackend } from './cache-backend.js';

export interface MemoryCacheLimits {
  /** Most entries held (default 10 000). */
  readonly maxEntries?: number;
  /** Most bytes held, counted as UTF-16 key + value + 64 bytes per entry (default 64 MiB). */
  readonly maxBytes?: number;
}

export const MEMORY_CACHE_DEFAULTS = { maxEntries: 10_000, maxBytes: 64 * 1024 * 1024 } as const;

const ENTRY_OVERHEAD_BYTES = 64;
const INTEGER = /^-?(?:0|[1-9][0-9]*)$/;

interface Entry {
  readonly value: string;
  /** On the monotonic clock (`performance.now()`), so wall-clock jumps neither expire nor revive entries. */
  readonly expiresAt: number | undefined;
  readonly bytes: number;
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new StoreError('store_config_invalid', `memory cache ${name} must be a positive integer`);
  }
  return value;
}

/**
 * The in-process adapter. Expired entries are dropped when touched; when a write takes the cache past
 * `maxEntries` or `maxBytes`, the entries written longest ago are evicted first, so memory stays bounded
 * whatever callers do. Single-threaded JavaScript makes every operation atomic.
 */
export class MemoryCache implements CacheBackend {
  readonly adapter = 'memory';
  readonly #entries = new Map<string, Entry>();
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  readonly #now: () => number;
  #bytes = 0;

  constructor(limits: MemoryCacheLimits = {}, now: () => number = () => performance.now()) {
    this.#maxEntries = positiveInteger('maxEntries', limits.maxEntries, MEMORY_CACHE_DEFAULTS.maxEntries);
    this.#maxBytes = positiveInteger('maxBytes', limits.maxBytes, MEMORY_CACHE_DEFAULTS.maxBytes);
    this.#now = now;
  }

  /** Entries held right now, expired ones not yet dropped included. */
  get size(): number {
    return this.#entries.size;
  }

  get(key: string): Promise<string | undefined> {
    return settled(() => this.#live(key)?.value);
  }

  set(key: string, value: string, ttlMs: number | undefined): Promise<void> {
    return settled(() => {
      this.#write(key, value, this.#expiry(ttlMs));
    });
  }

  delete(key: string): Promise<boolean> {
    return settled(() => {
      const existed = this.#live(key) !== undefined;
      this.#remove(key);
      return existed;
    });
  }

  incrBy(key: string, by: number, ttlMs: number | undefined): Promise<number> {
    return settled(() => {
      const entry = this.#live(key);
      const current = entry === undefined ? 0 : parseCounter(entry.value);
      const next = current + by;
      if (!Number.isSafeInteger(next)) {
        throw new StoreError('value_not_integer', 'counter would leave the safe integer range (±2^53-1)');
      }
      this.#write(key, String(next), entry?.expiresAt ?? this.#expiry(ttlMs));
      return next;
    });
  }

  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    return settled(() => {
      if (this.#live(key) !== undefined) return false;
      this.#write(key, value, this.#expiry(ttlMs));
      return true;
    });
  }

  ping(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return settled(() => {
      this.#entries.clear();
      this.#bytes = 0;
    });
  }

  #expiry(ttlMs: number | undefined): number | undefined {
    return ttlMs === undefined ? undefined : this.#now() + ttlMs;
  }

  #live(key: string): Entry | undefined {
    const entry = this.#entries.get(key);
    if (entry?.expiresAt !== undefined && entry.expiresAt <= this.#now()) {
      this.#remove(key);
      return undefined;
    }
    return entry;
  }

  #remove(key: string): void {
    const entry = this.#entries.get(key);
    if (entry === undefined) return;
    this.#entries.delete(key);
    this.#bytes -= entry.bytes;
  }

  #write(key: string, value: string, expiresAt: number | undefined): void {
    const bytes = 2 * (key.length + value.length) + ENTRY_OVERHEAD_BYTES;
    if (bytes > this.#maxBytes) {
      throw new StoreError('value_too_large', `entry of ${bytes} bytes exceeds the memory cache bound`);
    }
    // Deleting first moves the key to the end of the Map's insertion order: the newest write.
    this.#remove(key);
    this.#entries.set(key, { value, expiresAt, bytes });
    this.#bytes += bytes;
    for (const oldest of this.#entries.keys()) {
      if (this.#entries.size <= this.#maxEntries && this.#bytes <= this.#maxBytes) break;
      this.#remove(oldest);
    }
  }
}

/** Runs synchronous work as a promise, so a thrown StoreError becomes a rejection like on Redis. */
function settled<T>(work: () => T): Promise<T> {
  return new Promise((resolve) => {
    resolve(work());
  });
}

function parseCounter(value: string): number {
  const parsed = INTEGER.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(parsed)) {
    throw new StoreError('value_not_integer', 'the key holds a value that is not an integer');
  }
  return parsed;
}
