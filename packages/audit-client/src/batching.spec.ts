import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';

import type { TurnEvent } from '@aibox/contracts';

import { backoffDelay, batchByIdentity, isRetryableStatus } from './batching.js';

function item(
  id: string,
  tenantId: string,
  userId: string,
  bytes = 100,
): { event: TurnEvent; bytes: number } {
  return {
    event: { eventId: id, turnId: 't', tenantId, userId, service: 's', type: 'turn_started', artifacts: [] },
    bytes,
  };
}

const ids = (batch: { items: { event: TurnEvent }[] }): string[] => batch.items.map((i) => i.event.eventId);

describe('batchByIdentity', () => {
  it('puts each (tenant, user) in its own batches, keeping order within each', () => {
    const batches = batchByIdentity(
      [item('1', 'acme', 'u1'), item('2', 'beta', 'u1'), item('3', 'acme', 'u2'), item('4', 'acme', 'u1')],
      10,
      10_000,
    );

    expect(batches.map((b) => [b.tenantId, b.userId, ids(b)])).toEqual([
      ['acme', 'u1', ['1', '4']],
      ['beta', 'u1', ['2']],
      ['acme', 'u2', ['3']],
    ]);
  });

  it('does not confuse ids that only differ in where a separator would fall', () => {
    const batches = batchByIdentity([item('1', 'a:b', 'c'), item('2', 'a', 'b:c')], 10, 10_000);

    expect(batches).toHaveLength(2);
  });

  it('cuts a group at maxBatch events', () => {
    const events = Array.from({ length: 7 }, (_, i) => item(String(i), 'acme', 'u1'));

    expect(batchByIdentity(events, 3, 10_000).map(ids)).toEqual([['0', '1', '2'], ['3', '4', '5'], ['6']]);
  });

  it('cuts a group at maxBatchBytes but never splits or drops a single event', () => {
    const events = [
      item('a', 't', 'u', 400),
      item('b', 't', 'u', 400),
      item('c', 't', 'u', 900),
      item('d', 't', 'u', 50),
    ];

    expect(batchByIdentity(events, 100, 1000).map(ids)).toEqual([
      ['a', 'b'],
      ['c', 'd'],
    ]);
    expect(batchByIdentity([item('big', 't', 'u', 5000)], 100, 1000).map(ids)).toEqual([['big']]);
  });
});

describe('backoffDelay', () => {
  const backoff = { baseMs: 100, maxMs: 1000 };

  it('doubles per attempt between half and all of the ceiling', () => {
    expect(backoffDelay(0, backoff, () => 0)).toBe(50);
    expect(backoffDelay(0, backoff, () => 1)).toBe(100);
    expect(backoffDelay(2, backoff, () => 0)).toBe(200);
    expect(backoffDelay(2, backoff, () => 1)).toBe(400);
  });

  it('never exceeds maxMs, however many attempts', () => {
    expect(backoffDelay(5, backoff, () => 1)).toBe(1000);
    expect(backoffDelay(10_000, backoff, () => 1)).toBe(1000);
  });
});

describe('isRetryableStatus', () => {
  it('retries only an unavailable, slow or overloaded audit', () => {
    expect(isRetryableStatus(status.UNAVAILABLE)).toBe(true);
    expect(isRetryableStatus(status.DEADLINE_EXCEEDED)).toBe(true);
    expect(isRetryableStatus(status.RESOURCE_EXHAUSTED)).toBe(true);
    expect(isRetryableStatus(status.UNAUTHENTICATED)).toBe(false);
    expect(isRetryableStatus(status.INVALID_ARGUMENT)).toBe(false);
    expect(isRetryableStatus(status.INTERNAL)).toBe(false);
  });
});
