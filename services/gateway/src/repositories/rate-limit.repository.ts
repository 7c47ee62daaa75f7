import type { RateLimitDecision, RateLimiter } from '@aibox/stores';

import type { RouteClass } from '../services/route-table.js';

/** One fixed-window limiter per route class, on Redis when `REDIS_URL` is set, in-process otherwise. */
export class RateLimitRepository {
  constructor(private readonly limiters: ReadonlyMap<RouteClass, RateLimiter>) {}

  /** Undefined when limiting is off for this class. */
  consume(routeClass: RouteClass, key: string): Promise<RateLimitDecision> | undefined {
    return this.limiters.get(routeClass)?.consume(key);
  }
}
