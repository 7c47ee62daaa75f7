import { afterEach, describe, expect, it, vi } from 'vitest';

import { backoffMs, parseRetryAfter } from './dispatch.service.js';

describe('backoffMs (equal jitter)', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('waits between half and all of base·2ⁿ, capped', () => {
    vi.spyOn(Math, 'random').mockReturnValue(0);
    expect([0, 1, 2, 3, 10].map((attempt) => backoffMs(attempt, 100, 1_000))).toEqual([
      50, 100, 200, 400, 500,
    ]);
    vi.spyOn(Math, 'random').mockReturnValue(0.999_999);
    expect(backoffMs(2, 100, 1_000)).toBeCloseTo(400, 3);
    expect(backoffMs(10, 100, 1_000)).toBeCloseTo(1_000, 3);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-12-03T12:00:00Z');

  it('reads seconds, an HTTP date and retry-after-ms (which wins)', () => {
    expect(parseRetryAfter({ 'retry-after': '7' }, now)).toBe(7_000);
    expect(parseRetryAfter({ 'retry-after': 'Thu, 03 Dec 2026 12:00:30 GMT' }, now)).toBe(30_000);
    expect(parseRetryAfter({ 'retry-after': 'Thu, 03 Dec 2026 11:00:00 GMT' }, now)).toBe(0);
    expect(parseRetryAfter({ 'retry-after': '7', 'retry-after-ms': '250.5' }, now)).toBe(251);
  });

  it('ignores what it cannot read', () => {
    expect(parseRetryAfter({}, now)).toBeUndefined();
    expect(parseRetryAfter({ 'retry-after': 'soon' }, now)).toBeUndefined();
    expect(parseRetryAfter({ 'retry-after': ['1', '2'] }, now)).toBeUndefined();
  });
});
