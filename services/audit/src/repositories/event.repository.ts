import type { SqlStore } from '@aibox/stores';
import { sql } from 'kysely';

import type { AuditTables } from './audit-schema.js';

/** An event ready to commit: checked, canonical, hashed. */
export interface EventRow {
  readonly eventId: string;
  readonly turnId: string;
  readonly userId: string;
  readonly service: string;
  readonly type: string;
  readonly occurredAt: Date;
  readonly canonical: string;
  readonly leafHash: Uint8Array;
  /** `turn_sealed` or `turn_failed`: the turn is to be sealed now. */
  readonly closesTurn: boolean;
}

export type CommitOutcome =
  'accepted' | 'duplicate' | 'turn_already_sealed' | 'turn_too_large' | 'turn_user_mismatch';

/**
 * Commits events, one tenant per transaction. Per turn, in turn-id order (so two commits and a seal lock
 * turns in the same order): the turn row is created or, if still open, locked; a sealed turn takes no new
 * event. Events insert idempotently by (tenant, event id). The turn's seal-queue row moves its idle deadline
 * and is marked requested by a closing event. One transaction for the whole batch: a crash commits all or
 * nothing, and the caller acknowledges only after it returns.
 */
export class EventRepository {
  constructor(
    private readonly store: SqlStore<AuditTables>,
    private readonly sealIdleMs: number,
    /** Events one turn may hold; `turn_sealed`/`turn_failed` are always taken, so a full turn still closes. */
    private readonly maxTurnEvents: number,
  ) {}

  /** The outcome of each row, in the order of `rows` (a repeated event id: the first wins, the rest are duplicates). */
  async commit(tenantId: string, rows: readonly EventRow[]): Promise<CommitOutcome[]> {
    const outcomes: CommitOutcome[] = [];
    const byTurn = new Map<string, EventRow[]>();
    for (const row of rows) {
      const list = byTurn.get(row.turnId);
      if (list === undefined) byTurn.set(row.turnId, [row]);
      else list.push(row);
    }
    const turnIds = [...byTurn.keys()].sort();
    await this.store.forTenant(tenantId).transaction(async (trx) => {
      // A turn belongs to the user of its first event: known turns keep their user, new ones take the first
      // event's of this batch.
      const owners = new Map<string, string>();
      if (turnIds.length > 0) {
        const known = await trx
          .selectFrom('turns')
          .select(['turn_id', 'user_id'])
          .where('turn_id', 'in', turnIds)
          .execute();
        for (const row of known) owners.set(row.turn_id, row.user_id);
      }
      const owner = (turnId: string): string => owners.get(turnId) ?? byTurn.get(turnId)?.[0]?.userId ?? '';
      // One statement for every turn of the batch, in turn-id order: created, or locked if still open.
      const turnRows = turnIds.map((turnId) => {
        const events = byTurn.get(turnId) ?? [];
        const times = events.map((event) => event.occurredAt.getTime());
        return {
          tenant_id: tenantId,
          turn_id: turnId,
          user_id: owner(turnId),
          state: 'open' as const,
          started_at: new Date(Math.min(...times)),
          last_event_at: new Date(Math.max(...times)),
          sealed_at: null,
          envelope: null,
          envelope_hash: null,
          log_index: null,
          chain_seq: null,
        };
      });
      const locked =
        turnRows.length === 0
          ? []
          : await trx
              .insertInto('turns')
              .values(turnRows)
              .onConflict((conflict) =>
                conflict
                  .columns(['tenant_id', 'turn_id'])
                  .doUpdateSet({
                    started_at: sql`least(turns.started_at, excluded.started_at)`,
                    last_event_at: sql`greatest(turns.last_event_at, excluded.last_event_at)`,
                  })
                  .where('turns.state', '=', 'open')
                  .whereRef('turns.user_id', '=', 'excluded.user_id'),
              )
              .returning('turn_id')
              .execute();
      const open = new Set(locked.map((row) => row.turn_id));
      // A turn left out is sealed, or open but another user's: a turn belongs to the user of its first event.
      const refusedTurns = new Map<string, CommitOutcome>();
      const closedOrForeign = turnIds.filter((turnId) => !open.has(turnId));
      if (closedOrForeign.length > 0) {
        const found = await trx
          .selectFrom('turns')
          .select(['turn_id', 'state'])
          .where('turn_id', 'in', closedOrForeign)
          .execute();
        for (const row of found) {
          refusedTurns.set(
            row.turn_id,
            row.state === 'sealed' ? 'turn_already_sealed' : 'turn_user_mismatch',
          );
        }
      }
      const foreign = new Set<number>();
      rows.forEach((row, index) => {
        if (open.has(row.turnId) && row.userId !== owner(row.turnId)) foreign.add(index);
      });

      const stored = new Map<string, number>();
      if (open.size > 0) {
        const counted = await trx
          .selectFrom('events')
          .select(['turn_id', sql<string>`count(*)`.as('events')])
          .where('turn_id', 'in', [...open])
          .groupBy('turn_id')
          .execute();
        for (const row of counted) stored.set(row.turn_id, Number(row.events));
      }
      const overLimit = new Set<number>();
      const insertable = rows.filter((row, index) => {
        if (!open.has(row.turnId) || foreign.has(index)) return false;
        if (row.closesTurn) return true;
        const held = stored.get(row.turnId) ?? 0;
        if (held >= this.maxTurnEvents) {
          overLimit.add(index);
          return false;
        }
        stored.set(row.turnId, held + 1);
        return true;
      });
      const inserted = new Set<string>();
      if (insertable.length > 0) {
        const returned = await trx
          .insertInto('events')
          .values(
            insertable.map((row) => ({
              tenant_id: tenantId,
              event_id: row.eventId,
              turn_id: row.turnId,
              user_id: row.userId,
              service: row.service,
              type: row.type,
              occurred_at: row.occurredAt,
              canonical: row.canonical,
              leaf_hash: row.leafHash,
            })),
          )
          .onConflict((conflict) => conflict.columns(['tenant_id', 'event_id']).doNothing())
          .returning('event_id')
          .execute();
        for (const { event_id } of returned) inserted.add(event_id);
      }
      const refused = rows
        .filter((row, index) => !open.has(row.turnId) || overLimit.has(index) || foreign.has(index))
        .map((row) => row.eventId);
      const existing = new Set<string>();
      if (refused.length > 0) {
        const found = await trx
          .selectFrom('events')
          .select('event_id')
          .where('event_id', 'in', refused)
          .execute();
        for (const { event_id } of found) existing.add(event_id);
      }
      const closing = new Set<string>();
      const touched = new Set<string>();
      for (const [index, row] of rows.entries()) {
        if (!open.has(row.turnId)) {
          outcomes.push(
            existing.has(row.eventId) ? 'duplicate' : (refusedTurns.get(row.turnId) ?? 'turn_already_sealed'),
          );
        } else if (foreign.has(index)) {
          outcomes.push(existing.has(row.eventId) ? 'duplicate' : 'turn_user_mismatch');
        } else if (overLimit.has(index)) {
          outcomes.push(existing.has(row.eventId) ? 'duplicate' : 'turn_too_large');
        } else if (inserted.delete(row.eventId)) {
          outcomes.push('accepted');
          touched.add(row.turnId);
          if (row.closesTurn) closing.add(row.turnId);
        } else {
          outcomes.push('duplicate');
        }
      }

      const dueAt = new Date(Date.now() + this.sealIdleMs);
      const queued = turnIds
        .filter((turnId) => touched.has(turnId))
        .map((turnId) => ({
          tenant_id: tenantId,
          turn_id: turnId,
          due_at: dueAt,
          requested: closing.has(turnId),
        }));
      if (queued.length > 0) {
        await trx
          .insertInto('seal_queue')
          .values(queued)
          .onConflict((conflict) =>
            conflict.columns(['tenant_id', 'turn_id']).doUpdateSet({
              due_at: sql`excluded.due_at`,
              requested: sql`seal_queue.requested or excluded.requested`,
            }),
          )
          .execute();
      }
    });
    return outcomes;
  }
}
