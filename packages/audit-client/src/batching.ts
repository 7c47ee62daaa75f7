import { status } from '@grpc/grpc-js';

import type { TurnEvent } from '@aibox/contracts';

/** An event ready to send, with its encoded size so batches stay under the message limit. */
export interface SizedEvent {
  readonly event: TurnEvent;
  readonly bytes: number;
}

/** Events that can share one `Publish` call: audit checks every event against the call's principal. */
export interface IdentityBatch<T extends SizedEvent> {
  readonly tenantId: string;
  readonly userId: string;
  readonly items: T[];
}

/**
 * Groups events by (tenant_id, user_id), keeping their order within each group, then cuts every group into
 * batches of at most `maxBatch` events and `maxBatchBytes` encoded bytes (a single event is never split).
 */
export function batchByIdentity<T extends SizedEvent>(
  items: readonly T[],
  maxBatch: number,
  maxBatchBytes: number,
): IdentityBatch<T>[] {
  const groups = new Map<string, { tenantId: string; userId: string; items: T[] }>();
  for (const item of items) {
    // JSON keeps the key unambiguous whatever characters the ids contain.
    const key = JSON.stringify([item.event.tenantId, item.event.userId]);
    let group = groups.get(key);
    if (group === undefined) {
      group = { tenantId: item.event.tenantId, userId: item.event.userId, items: [] };
      groups.set(key, group);
    }
    group.items.push(item);
  }

  const batches: IdentityBatch<T>[] = [];
  for (const group of groups.values()) {
    let current: T[] = [];
    let currentBytes = 0;
    for (const item of group.items) {
      const full =
        current.length >= maxBatch || (current.length > 0 && currentBytes + item.bytes > maxBatchBytes);
      if (full) {
        batches.push({ tenantId: group.tenantId, userId: group.userId, items: current });
        current = [];
        currentBytes = 0;
      }
      current.push(item);
      currentBytes += item.bytes;
    }
    if (current.length > 0) {
      batches.push({ tenantId: group.tenantId, userId: group.userId, items: current });
    }
  }
  return batches;
}

export interface Backoff {
  readonly baseMs: number;
  readonly maxMs: number;
}

/**
 * Delay before retry number `attempt` (0-based): exponential, capped at `maxMs`, with "equal jitter" (half fixed,
 * half random) so many clients recovering together do not retry in lockstep, yet every wait still grows.
 */
export function backoffDelay(attempt: number, backoff: Backoff, random: () => number = Math.random): number {
  const ceiling = Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.min(attempt, 30));
  return ceiling / 2 + (random() * ceiling) / 2;
}

const RETRYABLE: ReadonlySet<number> = new Set([
  status.UNAVAILABLE,
  status.DEADLINE_EXCEEDED,
  status.RESOURCE_EXHAUSTED,
]);

/** Only these call failures are worth retrying at once: audit is down, slow or shedding load. */
export function isRetryableStatus(code: number): boolean {
  return RETRYABLE.has(code);
}
