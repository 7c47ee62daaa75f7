import type { Transaction } from 'kysely';

import { PlatformError } from '@aibox/platform';
import type { SqlStore } from '@aibox/stores';

import type { StreamEvent } from '../services/turn-stream.js';
import type { RuntimeTables } from './runtime-schema.js';

export type TurnStatus = RuntimeTables['turns']['status'];

export interface TurnRecord {
  readonly turnId: string;
  readonly userId: string;
  readonly conversationId: string;
  readonly agentId: string;
  readonly kind: 'chat' | 'replay';
  readonly status: TurnStatus;
  readonly errorCode: string | null;
  readonly replayOf: string | null;
  readonly events: readonly StreamEvent[] | null;
}

export interface TurnUsage {
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly total_tokens: number;
  readonly model_calls: number;
}

/** What a turn starts with: its row in `turns`, and its entry in `running_turns` until it ends. */
export type TurnStart = Omit<TurnRecord, 'status' | 'errorCode' | 'events' | 'conversationId'>;

/** Inserts a starting turn's rows inside the caller's tenant transaction. */
export async function insertTurnRows(
  trx: Transaction<RuntimeTables>,
  tenantId: string,
  turn: TurnStart & { readonly conversationId: string },
): Promise<void> {
  const inserted = await trx
    .insertInto('turns')
    .values({
      turn_id: turn.turnId,
      tenant_id: tenantId,
      user_id: turn.userId,
      conversation_id: turn.conversationId,
      agent_id: turn.agentId,
      kind: turn.kind,
      status: 'running',
      replay_of: turn.replayOf,
    })
    // A turn id is the gateway's, fresh per request: a second turn under one id is refused, not merged.
    .onConflict((conflict) => conflict.column('turn_id').doNothing())
    .executeTakeFirst();
  if (inserted.numInsertedOrUpdatedRows === 0n) {
    throw new PlatformError('conflict', { detail: 'a turn with this id exists' });
  }
  await trx
    .insertInto('running_turns')
    .values({ turn_id: turn.turnId, tenant_id: tenantId, user_id: turn.userId })
    .execute();
}

/** Turns of the runtime: one row per chat or replay turn, with its stream events once it ended. */
export class TurnRepository {
  constructor(private readonly sql: SqlStore<RuntimeTables>) {}

  async start(tenantId: string, turn: Omit<TurnRecord, 'status' | 'errorCode' | 'events'>): Promise<void> {
    await this.sql.forTenant(tenantId).transaction((trx) => insertTurnRows(trx, tenantId, turn));
  }

  async end(
    tenantId: string,
    turnId: string,
    outcome: {
      status: Exclude<TurnStatus, 'running'>;
      errorCode: string | null;
      usage: TurnUsage;
      events: readonly StreamEvent[];
    },
  ): Promise<void> {
    await this.sql.forTenant(tenantId).transaction(async (trx) => {
      await trx
        .updateTable('turns')
        .set({
          status: outcome.status,
          error_code: outcome.errorCode,
          usage: JSON.stringify(outcome.usage),
          events: JSON.stringify(outcome.events),
          ended_at: new Date(),
        })
        .where('turn_id', '=', turnId)
        .execute();
      await trx.deleteFrom('running_turns').where('turn_id', '=', turnId).execute();
    });
  }

  /** Turns a previous process left running (it stopped or crashed before they ended). */
  async interrupted(): Promise<{ turnId: string; tenantId: string; userId: string }[]> {
    const rows = await this.sql.db.selectFrom('running_turns').selectAll().orderBy('started_at').execute();
    return rows.map((row) => ({ turnId: row.turn_id, tenantId: row.tenant_id, userId: row.user_id }));
  }

  /** Closes an interrupted turn as failed with `code`, and expires the approvals it was waiting for. */
  async closeInterrupted(tenantId: string, turnId: string, code: string): Promise<void> {
    await this.sql.forTenant(tenantId).transaction(async (trx) => {
      await trx
        .updateTable('turns')
        .set({ status: 'failed', error_code: code, ended_at: new Date() })
        .where('turn_id', '=', turnId)
        .where('status', '=', 'running')
        .execute();
      await trx
        .updateTable('approvals')
        .set({
          status: 'expired',
          reason: 'The runtime restarted while the turn waited',
          decided_at: new Date(),
        })
        .where('turn_id', '=', turnId)
        .where('status', '=', 'pending')
        .execute();
      await trx.deleteFrom('running_turns').where('turn_id', '=', turnId).execute();
    });
  }

  async get(tenantId: string, turnId: string): Promise<TurnRecord | undefined> {
    const row = await this.sql
      .forTenant(tenantId)
      .transaction((trx) =>
        trx.selectFrom('turns').selectAll().where('turn_id', '=', turnId).executeTakeFirst(),
      );
    if (row === undefined) return undefined;
    return {
      turnId: row.turn_id,
      userId: row.user_id,
      conversationId: row.conversation_id,
      agentId: row.agent_id,
      kind: row.kind,
      status: row.status,
      errorCode: row.error_code,
      replayOf: row.replay_of,
      events: (row.events as StreamEvent[] | null) ?? null,
    };
  }
}
