export type BreakerState = 'closed' | 'open' | 'half_open';

/** What `GET /v1/routes` shows of one provider's health. */
export interface ProviderHealth {
  readonly state: BreakerState;
  readonly consecutive_failures: number;
  /** The code of the last failure (`connect_failed`, `timeout`, `status_503`, `redirect`, …). */
  readonly last_error: string | null;
  readonly last_failure_at: string | null;
  readonly last_success_at: string | null;
  /** While open: when one trial request will be let through. */
  readonly retry_at: string | null;
}

export interface BreakerOptions {
  /** Consecutive failures that open the circuit. */
  readonly failureThreshold: number;
  /** How long an open circuit refuses before letting one trial request through. */
  readonly cooldownMs: number;
  readonly now?: () => number;
}

/**
 * A circuit breaker per provider: `failureThreshold` failures in a row open it; while open, requests skip
 * the provider (so a role falls back at once instead of waiting on a dead backend); after `cooldownMs` one
 * trial request is let through (half open), and its outcome closes or reopens the circuit.
 */
export class CircuitBreaker {
  private failures = 0;
  private openedAt: number | undefined;
  private trialInFlight = false;
  private lastError: string | null = null;
  private lastFailureAt: number | undefined;
  private lastSuccessAt: number | undefined;
  private readonly now: () => number;

  constructor(private readonly options: BreakerOptions) {
    this.now = options.now ?? Date.now;
  }

  get state(): BreakerState {
    if (this.openedAt === undefined) return 'closed';
    return this.now() - this.openedAt >= this.options.cooldownMs ? 'half_open' : 'open';
  }

  /** Milliseconds until an open circuit lets a trial through (0 when it would now). */
  get retryInMs(): number {
    if (this.openedAt === undefined) return 0;
    return Math.max(0, this.openedAt + this.options.cooldownMs - this.now());
  }

  /** May a request go to this provider now? Takes the single trial slot of a half-open circuit. */
  tryAcquire(): boolean {
    switch (this.state) {
      case 'closed':
        return true;
      case 'open':
        return false;
      case 'half_open':
        if (this.trialInFlight) return false;
        this.trialInFlight = true;
        return true;
    }
  }

  /** Gives back the trial slot of a request that ended before the provider could be judged. */
  release(): void {
    this.trialInFlight = false;
  }

  success(): void {
    this.failures = 0;
    this.openedAt = undefined;
    this.trialInFlight = false;
    this.lastSuccessAt = this.now();
  }

  failure(code: string): void {
    this.failures += 1;
    this.lastError = code;
    this.lastFailureAt = this.now();
    // A failed trial reopens at once; otherwise the threshold decides.
    if (this.trialInFlight || this.failures >= this.options.failureThreshold) this.openedAt = this.now();
    this.trialInFlight = false;
  }

  health(): ProviderHealth {
    const iso = (at: number | undefined): string | null =>
      at === undefined ? null : new Date(at).toISOString();
    return {
      state: this.state,
      consecutive_failures: this.failures,
      last_error: this.lastError,
      last_failure_at: iso(this.lastFailureAt),
      last_success_at: iso(this.lastSuccessAt),
      retry_at: this.openedAt === undefined ? null : iso(this.openedAt + this.options.cooldownMs),
    };
  }
}

/** One breaker per provider name, created on first use. */
export class BreakerBoard {
  private readonly breakers = new Map<string, CircuitBreaker>();

  constructor(private readonly options: BreakerOptions) {}

  of(provider: string): CircuitBreaker {
    let breaker = this.breakers.get(provider);
    if (breaker === undefined) {
      breaker = new CircuitBreaker(this.options);
      this.breakers.set(provider, breaker);
    }
    return breaker;
  }
}
