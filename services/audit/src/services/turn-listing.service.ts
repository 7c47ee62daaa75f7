import type { SqlStore } from '@aibox/stores';
import { sql } from 'kysely';

import type { AdminTurnsQuery } from '../dtos/queries.dto.js';
import { AuditError } from '../errors/audit.error.js';
import type { AuditTables } from '../repositories/audit-schema.js';

export interface TurnSummary {
  readonly turn_id: string;
  readonly user_id: string;
  readonly state: 'open' | 'sealed';
  readonly started_at: string;
  readonly last_event_at: string;
  readonly sealed_at: string | null;
  readonly event_count: number;
  readonly log_index: number | null;
}

export interface TurnPage {
  readonly turns: readonly TurnSummary[];
  /** Present when more turns follow: pass it as `cursor` for the next page. */
  readonly next_cursor?: string;
}

const DEFAULT_LIMIT = 50;

function encodeCursor(startedAt: Date, turnId: string): string {
  return Buffer.from(`${startedAt.toISOString()}|${turnId}`, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): { startedAt: Date; turnId: string } {
  const [time = '', turnId = ''] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const startedAt = new Date(time);
  if (Number.isNaN(startedAt.getTime()) || turnId === '')
    throw new AuditError('query_invalid', { detail: 'the cursor is not one this service gave' });
  return { startedAt, turnId };
}

/** The admin's view of a tenant's turns: newest first, filtered by user, start time and event type. */
export class TurnListing {
  constructor(private readonly store: SqlStore<AuditTables>) {}

  async list(tenantId: string, query: AdminTurnsQuery): Promise<TurnPage> {
    const limit = query.limit ?? DEFAULT_LIMIT;
    const cursor = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    return this.store.forTenant(tenantId).transaction(async (trx) => {
      let select = trx
        .selectFrom('turns')
        .select([
          'turn_id',
          'user_id',
          'state',
          'started_at',
          'last_event_at',
          'sealed_at',
          'log_index',
          sql<string>`(select count(*) from events e where e.tenant_id = turns.tenant_id and e.turn_id = turns.turn_id)`.as(
            'event_count',
          ),
        ]);
      if (query.user !== undefined) select = select.where('user_id', '=', query.user);
      if (query.from !== undefined) select = select.where('started_at', '>=', query.from);
      if (query.to !== undefined) select = select.where('started_at', '<', query.to);
      if (query.type !== undefined) {
        const type = query.type;
        select = select.where((eb) =>
          eb.exists(
            eb
              .selectFrom('events')
              .select(sql`1`.as('one'))
              .whereRef('events.turn_id', '=', 'turns.turn_id')
              .where('events.type', '=', type),
          ),
        );
      }
      if (cursor !== undefined) {
        select = select.where(sql<boolean>`(started_at, turn_id) < (${cursor.startedAt}, ${cursor.turnId})`);
      }
      const rows = await select
        .orderBy('started_at', 'desc')
        .orderBy('turn_id', 'desc')
        .limit(limit + 1)
        .execute();
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        turns: page.map((row) => ({
          turn_id: row.turn_id,
          user_id: row.user_id,
          state: row.state,
          started_at: row.started_at.toISOString(),
          last_event_at: row.last_event_at.toISOString(),
          sealed_at: row.sealed_at?.toISOString() ?? null,
          event_count: Number(row.event_count),
          log_index: row.log_index === null ? null : Number(row.log_index),
        })),
        ...(rows.length > limit && last !== undefined
          ? { next_cursor: encodeCursor(last.started_at, last.turn_id) }
          : {}),
      };
    });
  }
}
