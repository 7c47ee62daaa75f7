/**
 * What an adapter does with fully namespaced keys (`aibox:<service>:<tenant>:<key>`); names and values
 * arrive validated. `ttlMs` undefined means "no expiry".
 */
export interface CacheBackend {
  readonly adapter: 'redis' | 'memory';
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlMs: number | undefined): Promise<void>;
  delete(key: string): Promise<boolean>;
  /** Adds `by`; `ttlMs` applies only when the key has no expiry yet (a fixed window from the first add). */
  incrBy(key: string, by: number, ttlMs: number | undefined): Promise<number>;
  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
