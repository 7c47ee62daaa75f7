import { leafHash } from '@aibox/audit-proof';
import { PublishStatus, type PublishResult } from '@aibox/contracts';
import { INTERNAL_PRINCIPAL_ISSUER, type Principal } from '@aibox/identity';

import { AuditError } from '../errors/audit.error.js';
import type { CommitOutcome, EventRepository, EventRow } from '../repositories/event.repository.js';
import { normalizeEvent, type WireTurnEvent } from './event-normalizer.js';

export interface IngestOptions {
  readonly maxEventBytes: number;
  readonly maxBatchEvents: number;
  /** Called after a commit in which a turn of the tenant asked to be sealed (`turn_sealed`/`turn_failed`). */
  readonly onSealRequested?: (tenantId: string) => void;
}

interface Waiting {
  readonly rows: readonly EventRow[];
  resolve(outcomes: readonly CommitOutcome[]): void;
  reject(error: unknown): void;
}

/** The most events one group commit writes; what is left waits for the next transaction. */
const MAX_GROUP_EVENTS = 5_000;

/**
 * Validates published events and commits them with group commit: while one transaction of a tenant is in
 * flight, every publish that arrives for that tenant waits and then goes into the next transaction
 * together with the others, so many small publishes share few commits. A publish is answered only after
 * the transaction holding its events has committed.
 */
export class IngestService {
  private readonly queues = new Map<string, Waiting[]>();
  private readonly running = new Set<string>();

  constructor(
    private readonly events: EventRepository,
    private readonly options: IngestOptions,
  ) {}

  /**
   * Mesh services (principals of {@link INTERNAL_PRINCIPAL_ISSUER}) publish for whichever user a turn belongs
   * to; anybody else (a user through the gateway's `POST /v1/audit`) only for themselves.
   */
  async publish(principal: Principal, wires: readonly WireTurnEvent[]): Promise<PublishResult[]> {
    const tenantId = principal.tid;
    const onlyUser = principal.iss === INTERNAL_PRINCIPAL_ISSUER ? undefined : principal.uid;
    if (wires.length > this.options.maxBatchEvents) {
      throw new AuditError('batch_too_large', {
        detail: `${wires.length} events, at most ${this.options.maxBatchEvents}`,
      });
    }
    const now = new Date();
    const results: PublishResult[] = [];
    const rows: EventRow[] = [];
    const positions: number[] = [];
    const seen = new Set<string>();
    for (const wire of wires) {
      const eventId = typeof wire.eventId === 'string' ? wire.eventId : '';
      const normalized = normalizeEvent(wire, {
        tenantId,
        maxEventBytes: this.options.maxEventBytes,
        now,
      });
      if (!normalized.ok) {
        results.push({ eventId, status: PublishStatus.REJECTED, code: normalized.code });
        continue;
      }
      const { event, canonical } = normalized.value;
      if (onlyUser !== undefined && event.user_id !== onlyUser) {
        results.push({ eventId, status: PublishStatus.REJECTED, code: 'user_mismatch' });
        continue;
      }
      if (seen.has(event.event_id)) {
        results.push({ eventId, status: PublishStatus.DUPLICATE, code: '' });
        continue;
      }
      seen.add(event.event_id);
      positions.push(results.length);
      results.push({ eventId, status: PublishStatus.UNSPECIFIED, code: '' });
      rows.push({
        eventId: event.event_id,
        turnId: event.turn_id,
        userId: event.user_id,
        service: event.service,
        type: event.type,
        occurredAt: new Date(event.occurred_at),
        canonical,
        leafHash: await leafHash(canonical),
        closesTurn: event.type === 'turn_sealed' || event.type === 'turn_failed',
      });
    }
    if (rows.length === 0) return results;
    const outcomes = await this.enqueue(tenantId, rows);
    rows.forEach((row, index) => {
      const position = positions[index] ?? -1;
      const result = results[position];
      if (result === undefined) return;
      const outcome = outcomes[index];
      if (outcome === 'accepted') result.status = PublishStatus.ACCEPTED;
      else if (outcome === 'duplicate') result.status = PublishStatus.DUPLICATE;
      else {
        result.status = PublishStatus.REJECTED;
        result.code = outcome ?? 'turn_already_sealed';
      }
    });
    return results;
  }

  private enqueue(tenantId: string, rows: readonly EventRow[]): Promise<readonly CommitOutcome[]> {
    return new Promise((resolve, reject) => {
      const queue = this.queues.get(tenantId);
      const waiting: Waiting = { rows, resolve, reject };
      if (queue === undefined) this.queues.set(tenantId, [waiting]);
      else queue.push(waiting);
      if (!this.running.has(tenantId)) void this.drain(tenantId);
    });
  }

  private async drain(tenantId: string): Promise<void> {
    this.running.add(tenantId);
    try {
      for (;;) {
        const queue = this.queues.get(tenantId) ?? [];
        if (queue.length === 0) break;
        const group: Waiting[] = [];
        let count = 0;
        while (
          queue.length > 0 &&
          (group.length === 0 || count + (queue[0]?.rows.length ?? 0) <= MAX_GROUP_EVENTS)
        ) {
          const next = queue.shift();
          if (next === undefined) break;
          group.push(next);
          count += next.rows.length;
        }
        try {
          const committed = group.flatMap((waiting) => waiting.rows);
          const outcomes = await this.events.commit(tenantId, committed);
          if (
            outcomes.some((outcome, index) => outcome === 'accepted' && committed[index]?.closesTurn === true)
          ) {
            this.options.onSealRequested?.(tenantId);
          }
          let offset = 0;
          for (const waiting of group) {
            waiting.resolve(outcomes.slice(offset, offset + waiting.rows.length));
            offset += waiting.rows.length;
          }
        } catch (error: unknown) {
          // Retryable by contract: the publisher tries again (then spools), and nothing was committed.
          const failure = new AuditError('store_unavailable', { cause: error });
          for (const waiting of group) waiting.reject(failure);
        }
      }
    } finally {
      this.running.delete(tenantId);
      this.queues.delete(tenantId);
    }
  }
}
