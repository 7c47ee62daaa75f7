import { describe, expect, it } from 'vitest';

import { BreakerBoard, CircuitBreaker, type BreakerOptions } from './circuit-breaker.js';

const T0 = Date.parse('2025-06-01T10:00:00.000Z');
const COOLDOWN = 30_000;

/** A breaker on a clock the test moves. */
function setup(failureThreshold = 3): { breaker: CircuitBreaker; clock: { t: number } } {
  const clock = { t: T0 };
  const breaker = new CircuitBreaker({ failureThreshold, cooldownMs: COOLDOWN, now: () => clock.t });
  return { breaker, clock };
}

const iso = (at: number): string => new Date(at).toISOString();

/** Fails `breaker` until it opens (threshold 3). */
function open(breaker: CircuitBreaker): void {
  breaker.failure('connect_failed');
  breaker.failure('timeout');
  breaker.failure('status_503');
}

describe('CircuitBreaker', () => {
  it('starts closed with an empty health record', () => {
    const { breaker } = setup();
    expect(breaker.state).toBe('closed');
    expect(breaker.tryAcquire()).toBe(true);
    expect(breaker.tryAcquire()).toBe(true);
    expect(breaker.retryInMs).toBe(0);
    expect(breaker.health()).toEqual({
      state: 'closed',
      consecutive_failures: 0,
      last_error: null,
      last_failure_at: null,
      last_success_at: null,
      retry_at: null,
    });
  });

  it('stays closed below failureThreshold consecutive failures', () => {
    const { breaker, clock } = setup();
    breaker.failure('connect_failed');
    clock.t += 5;
    breaker.failure('timeout');
    expect(breaker.state).toBe('closed');
    expect(breaker.tryAcquire()).toBe(true);
    expect(breaker.health()).toEqual({
      state: 'closed',
      consecutive_failures: 2,
      last_error: 'timeout',
      last_failure_at: iso(T0 + 5),
      last_success_at: null,
      retry_at: null,
    });
  });

  it('opens at failureThreshold consecutive failures and refuses', () => {
    const { breaker, clock } = setup();
    breaker.failure('connect_failed');
    breaker.failure('timeout');
    clock.t += 100;
    breaker.failure('status_503');
    expect(breaker.state).toBe('open');
    expect(breaker.tryAcquire()).toBe(false);
    expect(breaker.tryAcquire()).toBe(false);
    expect(breaker.retryInMs).toBe(COOLDOWN);
    expect(breaker.health()).toEqual({
      state: 'open',
      consecutive_failures: 3,
      last_error: 'status_503',
      last_failure_at: iso(T0 + 100),
      last_success_at: null,
      retry_at: iso(T0 + 100 + COOLDOWN),
    });
  });

  it('opens after a single failure with failureThreshold 1', () => {
    const { breaker } = setup(1);
    breaker.failure('redirect');
    expect(breaker.state).toBe('open');
    expect(breaker.tryAcquire()).toBe(false);
  });

  it('resets the count on a success', () => {
    const { breaker, clock } = setup();
    breaker.failure('timeout');
    breaker.failure('timeout');
    clock.t += 1_000;
    breaker.success();
    expect(breaker.health()).toEqual({
      state: 'closed',
      consecutive_failures: 0,
      last_error: 'timeout',
      last_failure_at: iso(T0),
      last_success_at: iso(T0 + 1_000),
      retry_at: null,
    });
    breaker.failure('timeout');
    breaker.failure('timeout');
    expect(breaker.state).toBe('closed');
    expect(breaker.tryAcquire()).toBe(true);
    breaker.failure('timeout');
    expect(breaker.state).toBe('open');
  });

  it('stays open until cooldownMs has passed', () => {
    const { breaker, clock } = setup();
    open(breaker);
    clock.t += COOLDOWN - 1;
    expect(breaker.state).toBe('open');
    expect(breaker.retryInMs).toBe(1);
    expect(breaker.tryAcquire()).toBe(false);
    clock.t += 1;
    expect(breaker.state).toBe('half_open');
    expect(breaker.retryInMs).toBe(0);
  });

  it('lets exactly one trial through when half open', () => {
    const { breaker, clock } = setup();
    open(breaker);
    clock.t += COOLDOWN;
    expect(breaker.tryAcquire()).toBe(true);
    expect(breaker.tryAcquire()).toBe(false);
    expect(breaker.tryAcquire()).toBe(false);
    expect(breaker.state).toBe('half_open');
    expect(breaker.health()).toEqual({
      state: 'half_open',
      consecutive_failures: 3,
      last_error: 'status_503',
      last_failure_at: iso(T0),
      last_success_at: null,
      retry_at: iso(T0 + COOLDOWN),
    });
  });

  it('closes when the trial succeeds', () => {
    const { breaker, clock } = setup();
    open(breaker);
    clock.t += COOLDOWN + 50;
    expect(breaker.tryAcquire()).toBe(true);
    clock.t += 200;
    breaker.success();
    expect(breaker.state).toBe('closed');
    expect(breaker.tryAcquire()).toBe(true);
    expect(breaker.tryAcquire()).toBe(true);
    expect(breaker.health()).toEqual({
      state: 'closed',
      consecutive_failures: 0,
      last_error: 'status_503',
      last_failure_at: iso(T0),
      last_success_at: iso(T0 + COOLDOWN + 250),
      retry_at: null,
    });
    // Closed again means the full threshold applies again.
    breaker.failure('timeout');
    breaker.failure('timeout');
    expect(breaker.state).toBe('closed');
  });

  it('reopens at once with a fresh cooldown when the trial fails', () => {
    const { breaker, clock } = setup();
    open(breaker);
    clock.t += COOLDOWN + 50;
    expect(breaker.tryAcquire()).toBe(true);
    clock.t += 200;
    const failedAt = clock.t;
    breaker.failure('timeout');
    expect(breaker.state).toBe('open');
    expect(breaker.tryAcquire()).toBe(false);
    expect(breaker.retryInMs).toBe(COOLDOWN);
    expect(breaker.health()).toEqual({
      state: 'open',
      consecutive_failures: 4,
      last_error: 'timeout',
      last_failure_at: iso(failedAt),
      last_success_at: null,
      retry_at: iso(failedAt + COOLDOWN),
    });
    clock.t = failedAt + COOLDOWN - 1;
    expect(breaker.tryAcquire()).toBe(false);
    clock.t = failedAt + COOLDOWN;
    expect(breaker.state).toBe('half_open');
    expect(breaker.tryAcquire()).toBe(true);
    expect(breaker.tryAcquire()).toBe(false);
  });

  it('gives the trial slot back on release()', () => {
    const { breaker, clock } = setup();
    open(breaker);
    clock.t += COOLDOWN;
    expect(breaker.tryAcquire()).toBe(true);
    breaker.release();
    expect(breaker.state).toBe('half_open');
    expect(breaker.health().consecutive_failures).toBe(3);
    expect(breaker.tryAcquire()).toBe(true);
    expect(breaker.tryAcquire()).toBe(false);
  });

  it('uses Date.now without an injected clock', () => {
    const breaker = new CircuitBreaker({ failureThreshold: 1, cooldownMs: 60_000 });
    const before = Date.now();
    breaker.failure('timeout');
    const after = Date.now();
    const retryAt = Date.parse(breaker.health().retry_at ?? '');
    expect(retryAt).toBeGreaterThanOrEqual(before + 60_000);
    expect(retryAt).toBeLessThanOrEqual(after + 60_000);
  });
});

describe('BreakerBoard', () => {
  it('keeps one breaker per provider, created with the board options', () => {
    const clock = { t: T0 };
    const options: BreakerOptions = { failureThreshold: 2, cooldownMs: 1_000, now: () => clock.t };
    const board = new BreakerBoard(options);
    const a = board.of('openai');
    expect(board.of('openai')).toBe(a);
    const b = board.of('ollama');
    expect(b).not.toBe(a);

    a.failure('timeout');
    a.failure('timeout');
    expect(board.of('openai').state).toBe('open');
    expect(board.of('ollama').state).toBe('closed');
    expect(board.of('ollama').tryAcquire()).toBe(true);
    expect(board.of('openai').health().retry_at).toBe(iso(T0 + 1_000));
    clock.t += 1_000;
    expect(board.of('openai').state).toBe('half_open');
  });
});
