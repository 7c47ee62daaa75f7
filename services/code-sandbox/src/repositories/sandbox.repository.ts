import { sql, type Selectable, type Transaction } from 'kysely';

import type { SqlStore } from '@aibox/stores';

import { lockReadyEntry, removeClaimedEntry, type PoolKey } from './pool.repository.js';
import type { SandboxState, SandboxTables } from './sandbox-schema.js';

export type SandboxRow = Selectable<SandboxTables['sandboxes']>;

export interface SandboxEvent {
  readonly seq: number;
  readonly type: string;
  readonly data: Readonly<Record<string, unknown>>;
  readonly at: Date;
}

/** What a tenant's live sandboxes may hold together. */
export interface SandboxQuota {
  readonly sandboxes: number;
  readonly cpus: number;
  readonly memoryMb: number;
}

/** What of the quota a new sandbox would overrun, in words for the caller. */
export type QuotaCheck = { readonly ok: true } | { readonly ok: false; readonly reason: string };

export interface NewSandbox {
  readonly id: string;
  readonly userId: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly runtime: string;
  readonly spec: unknown;
  readonly idempotencyKey: string | null;
  readonly requestHash: string | null;
  readonly expiresAt: Date | null;
  readonly cpus: number;
  readonly memoryMb: number;
}

/** An event to record; `state` also moves the sandbox to that state (the event is then `state_changed`). */
export type EventDraft =
  | { readonly type: string; readonly data: Readonly<Record<string, unknown>> }
  | { readonly state: SandboxState; readonly error?: { code: string; message: string } };

function toEvent(row: Selectable<SandboxTables['sandbox_events']>): SandboxEvent {
  return { seq: row.seq, type: row.type, data: row.data as Record<string, unknown>, at: row.at };
}

async function appendIn(
  trx: Transaction<SandboxTables>,
  tenantId: string,
  sandboxId: string,
  type: string,
  data: Readonly<Record<string, unknown>>,
): Promise<SandboxEvent> {
  // The sandbox row's lock orders concurrent appends: each gets the next sequence number.
  await trx.selectFrom('sandboxes').select('id').where('id', '=', sandboxId).forUpdate().executeTakeFirst();
  const last = await trx
    .selectFrom('sandbox_events')
    .select((eb) => eb.fn.max('seq').as('seq'))
    .where('sandbox_id', '=', sandboxId)
    .executeTakeFirst();
  const row = await trx
    .insertInto('sandbox_events')
    .values({
      sandbox_id: sandboxId,
      tenant_id: tenantId,
      seq: (last?.seq ?? 0) + 1,
      type,
      data: JSON.stringify(data),
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toEvent(row);
}

async function quotaCheck(
  trx: Transaction<SandboxTables>,
  sandbox: NewSandbox,
  quota: SandboxQuota,
): Promise<QuotaCheck> {
  const held = await trx
    .selectFrom('sandboxes')
    .select([
      sql<number | string>`count(*)::int`.as('count'),
      sql<number | string>`coalesce(sum((spec->'resources'->>'cpus')::float8), 0)`.as('cpus'),
      sql<number | string>`coalesce(sum((spec->'resources'->>'memory_mb')::float8), 0)`.as('memory'),
    ])
    .where('state', 'in', ['pending', 'provisioning', 'ready', 'stopped', 'deleting'])
    .executeTakeFirstOrThrow();
  if (Number(held.count) + 1 > quota.sandboxes) {
    return {
      ok: false,
      reason: `the tenant holds ${String(held.count)} of ${String(quota.sandboxes)} sandboxes`,
    };
  }
  if (Number(held.cpus) + sandbox.cpus > quota.cpus) {
    return { ok: false, reason: `${String(Number(held.cpus))} of ${String(quota.cpus)} CPUs are taken` };
  }
  if (Number(held.memory) + sandbox.memoryMb > quota.memoryMb) {
    return {
      ok: false,
      reason: `${String(Number(held.memory))} of ${String(quota.memoryMb)} MB of memory are taken`,
    };
  }
  return { ok: true };
}

/** Sandboxes, their ordered events, and the cross-tenant index recovery reads. */
export class SandboxRepository {
  constructor(private readonly sql: SqlStore<SandboxTables>) {}

  /**
   * Reserves the sandbox's id and row (state `pending`, first event written with it). With an idempotency
   * key already used by this user, nothing is inserted and the earlier sandbox is returned instead. With
   * `pool`, a ready entry of that warm pool is claimed when there is one: the sandbox takes its id (`pooled`).
   */
  async reserve(
    tenantId: string,
    sandbox: NewSandbox,
    quota: SandboxQuota,
    pool?: PoolKey,
  ): Promise<
    { row: SandboxRow; created: boolean; pooled?: boolean; event?: SandboxEvent } | { quotaExceeded: string }
  > {
    return this.sql.forTenant(tenantId).transaction(async (trx) => {
      if (sandbox.idempotencyKey !== null) {
        const earlier = await trx
          .selectFrom('sandboxes')
          .selectAll()
          .where('user_id', '=', sandbox.userId)
          .where('idempotency_key', '=', sandbox.idempotencyKey)
          .executeTakeFirst();
        if (earlier !== undefined) return { row: earlier, created: false };
      }
      // One tenant's creates take turns, so two at once cannot both fit into the last of its quota.
      await sql`select pg_advisory_xact_lock(hashtext(${`code-sandbox.quota.${tenantId}`}))`.execute(trx);
      const check = await quotaCheck(trx, sandbox, quota);
      if (!check.ok) return { quotaExceeded: check.reason };
      // Locked until this transaction ends: the entry leaves the pool only if the sandbox row is written.
      const pooledId = pool === undefined ? undefined : await lockReadyEntry(trx, pool);
      const id = pooledId ?? sandbox.id;
      const inserted = await trx
        .insertInto('sandboxes')
        .values({
          id,
          tenant_id: tenantId,
          user_id: sandbox.userId,
          name: sandbox.name,
          labels: JSON.stringify(sandbox.labels),
          runtime: sandbox.runtime,
          spec: JSON.stringify(sandbox.spec),
          state: 'pending',
          idempotency_key: sandbox.idempotencyKey,
          request_hash: sandbox.requestHash,
          expires_at: sandbox.expiresAt,
        })
        .onConflict((conflict) => conflict.columns(['tenant_id', 'user_id', 'idempotency_key']).doNothing())
        .returningAll()
        .executeTakeFirst();
      if (inserted === undefined) {
        const earlier = await trx
          .selectFrom('sandboxes')
          .selectAll()
          .where('user_id', '=', sandbox.userId)
          .where('idempotency_key', '=', sandbox.idempotencyKey)
          .executeTakeFirstOrThrow();
        return { row: earlier, created: false };
      }
      if (pooledId !== undefined) await removeClaimedEntry(trx, pooledId);
      await trx.insertInto('sandbox_index').values({ sandbox_id: id, tenant_id: tenantId }).execute();
      const event = await appendIn(trx, tenantId, id, 'state_changed', { state: 'pending' });
      return { row: inserted, created: true, pooled: pooledId !== undefined, event };
    });
  }

  async get(tenantId: string, id: string): Promise<SandboxRow | undefined> {
    return this.sql
      .forTenant(tenantId)
      .transaction((trx) => trx.selectFrom('sandboxes').selectAll().where('id', '=', id).executeTakeFirst());
  }

  /** The tenant's sandboxes (one user's, unless `userId` is null), newest first, not deleted ones. */
  async list(
    tenantId: string,
    userId: string | null,
    options: { labels: Readonly<Record<string, string>>; limit: number },
  ): Promise<SandboxRow[]> {
    return this.sql.forTenant(tenantId).transaction((trx) => {
      let query = trx.selectFrom('sandboxes').selectAll().where('state', '<>', 'deleted');
      if (userId !== null) query = query.where('user_id', '=', userId);
      if (Object.keys(options.labels).length > 0) {
        query = query.where('labels', '@>', JSON.stringify(options.labels) as never);
      }
      return query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(options.limit).execute();
    });
  }

  /** Moves the sandbox to `state` and records it as an event, in one transaction. */
  async transition(
    tenantId: string,
    id: string,
    state: SandboxState,
    error?: { code: string; message: string },
  ): Promise<SandboxEvent> {
    return this.sql.forTenant(tenantId).transaction(async (trx) => {
      await trx
        .updateTable('sandboxes')
        .set({
          state,
          updated_at: new Date(),
          ...(error === undefined ? {} : { error_code: error.code, error_message: error.message }),
        })
        .where('id', '=', id)
        .execute();
      if (state === 'deleted') await trx.deleteFrom('sandbox_index').where('sandbox_id', '=', id).execute();
      return appendIn(trx, tenantId, id, 'state_changed', {
        state,
        ...(error === undefined ? {} : { code: error.code, message: error.message }),
      });
    });
  }

  /**
   * Records events in one transaction, in order, with consecutive sequence numbers; a state draft moves the
   * sandbox too. The events as stored, to push once this resolves (committed).
   */
  async record(tenantId: string, sandboxId: string, drafts: readonly EventDraft[]): Promise<SandboxEvent[]> {
    if (drafts.length === 0) return [];
    return this.sql.forTenant(tenantId).transaction(async (trx) => {
      await trx
        .selectFrom('sandboxes')
        .select('id')
        .where('id', '=', sandboxId)
        .forUpdate()
        .executeTakeFirst();
      const last = await trx
        .selectFrom('sandbox_events')
        .select((eb) => eb.fn.max('seq').as('seq'))
        .where('sandbox_id', '=', sandboxId)
        .executeTakeFirst();
      const first = (last?.seq ?? 0) + 1;
      const finalState = drafts.findLast((draft) => 'state' in draft);
      if (finalState !== undefined && 'state' in finalState) {
        const error = finalState.error;
        await trx
          .updateTable('sandboxes')
          .set({
            state: finalState.state,
            updated_at: new Date(),
            ...(error === undefined ? {} : { error_code: error.code, error_message: error.message }),
          })
          .where('id', '=', sandboxId)
          .execute();
        if (finalState.state === 'deleted')
          await trx.deleteFrom('sandbox_index').where('sandbox_id', '=', sandboxId).execute();
      }
      const rows = await trx
        .insertInto('sandbox_events')
        .values(
          drafts.map((draft, index) => ({
            sandbox_id: sandboxId,
            tenant_id: tenantId,
            seq: first + index,
            ...('state' in draft
              ? {
                  type: 'state_changed',
                  data: JSON.stringify({
                    state: draft.state,
                    ...(draft.error === undefined
                      ? {}
                      : { code: draft.error.code, message: draft.error.message }),
                  }),
                }
              : { type: draft.type, data: JSON.stringify(draft.data) }),
          })),
        )
        .returningAll()
        .execute();
      return rows.map(toEvent).sort((a, b) => a.seq - b.seq);
    });
  }

  async appendEvent(
    tenantId: string,
    sandboxId: string,
    type: string,
    data: Readonly<Record<string, unknown>>,
  ): Promise<SandboxEvent> {
    return this.sql.forTenant(tenantId).transaction((trx) => appendIn(trx, tenantId, sandboxId, type, data));
  }

  /**
   * The sandbox's row, the last sequence number, and its events after `afterSeq` up to that one. Each is its
   * own statement (read committed), so an event may commit between them: the events are bounded by the last
   * sequence read before them, and whatever commits later is a subscriber's to receive live. Reading the
   * events first let one commit in between count as read without being in them: lost to the subscriber.
   */
  async snapshot(
    tenantId: string,
    sandboxId: string,
    afterSeq: number,
  ): Promise<{ row: SandboxRow; events: SandboxEvent[]; lastSeq: number } | undefined> {
    return this.sql.forTenant(tenantId).transaction(async (trx) => {
      const row = await trx
        .selectFrom('sandboxes')
        .selectAll()
        .where('id', '=', sandboxId)
        .executeTakeFirst();
      if (row === undefined) return undefined;
      const last = await trx
        .selectFrom('sandbox_events')
        .select((eb) => eb.fn.max('seq').as('seq'))
        .where('sandbox_id', '=', sandboxId)
        .executeTakeFirst();
      const lastSeq = last?.seq ?? 0;
      const events = await trx
        .selectFrom('sandbox_events')
        .selectAll()
        .where('sandbox_id', '=', sandboxId)
        .where('seq', '>', afterSeq)
        .where('seq', '<=', lastSeq)
        .orderBy('seq')
        .execute();
      return { row, events: events.map(toEvent), lastSeq };
    });
  }

  /** Every sandbox that may hold something on this machine (not `deleted`), across tenants. */
  async indexed(): Promise<{ sandboxId: string; tenantId: string }[]> {
    const rows = await this.sql.db.selectFrom('sandbox_index').selectAll().orderBy('created_at').execute();
    return rows.map((row) => ({ sandboxId: row.sandbox_id, tenantId: row.tenant_id }));
  }
}
