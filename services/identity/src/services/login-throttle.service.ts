import { createHash } from 'node:crypto';

import { createRateLimiter, type CacheStore, type RateLimiter } from '@aibox/stores';

import { normalizeEmail } from './account.service.js';

/** The cache "tenant" the identity service keeps its throttling markers under (it has no tenants). */
const THROTTLE_TENANT = 'identity';
/** Failed sign-ins per client IP allowed for each one per email: a NAT'd office shares an IP. */
export const IP_FAILURE_FACTOR = 4;

export interface LoginThrottleOptions {
  cache: CacheStore;
  maxFailures: number;
  lockoutSeconds: number;
}

function digest(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

/**
 * Slows down password guessing: failures are counted per email and per client IP (fixed window of
 * `lockoutSeconds`, Redis when `REDIS_URL` is set); once a budget is spent, every attempt for that email or IP is
 * refused until the window ends — with the right password too, and the same way whether the account exists.
 */
export class LoginThrottle {
  private readonly byEmail: RateLimiter;
  private readonly byIp: RateLimiter;

  constructor(private readonly options: LoginThrottleOptions) {
    const window = { cache: options.cache, durationSeconds: options.lockoutSeconds };
    this.byEmail = createRateLimiter({ ...window, keyPrefix: 'login-email', points: options.maxFailures });
    this.byIp = createRateLimiter({
      ...window,
      keyPrefix: 'login-ip',
      points: options.maxFailures * IP_FAILURE_FACTOR,
    });
  }

  private markers(email: string, ip: string): string[] {
    return [`login-block:email:${digest(normalizeEmail(email))}`, `login-block:ip:${digest(ip)}`];
  }

  /** Milliseconds until `email` from `ip` may try again; 0 when it may now. */
  async blockedForMs(email: string, ip: string): Promise<number> {
    const until = await Promise.all(
      this.markers(email, ip).map((key) => this.options.cache.get(THROTTLE_TENANT, key)),
    );
    const remaining = until.map((value) => (value === undefined ? 0 : Number(value) - Date.now()));
    return Math.max(0, ...remaining.filter((ms) => Number.isFinite(ms)));
  }

  /** Counts a failed attempt; once a budget is spent, blocks its email or IP until its window ends. */
  async recordFailure(email: string, ip: string): Promise<void> {
    const [emailMarker, ipMarker] = this.markers(email, ip);
    const decisions = await Promise.all([
      this.byEmail.consume(digest(normalizeEmail(email))),
      this.byIp.consume(digest(ip)),
    ]);
    await Promise.all(
      decisions.map(async (decision, index) => {
        if (decision.allowed && decision.remaining > 0) return;
        const ttlMs = Math.max(1, decision.retryAfterMs || this.options.lockoutSeconds * 1000);
        const key = index === 0 ? emailMarker : ipMarker;
        if (key !== undefined) {
          await this.options.cache.set(THROTTLE_TENANT, key, String(Date.now() + ttlMs), { ttlMs });
        }
      }),
    );
  }
}
