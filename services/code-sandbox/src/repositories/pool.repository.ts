import { sql, type Selectable, type Transaction } from 'kysely';

import type { SqlStore } from '@aibox/stores';

import type { PoolEntryState, SandboxTables } from './sandbox-schema.js';

export type PoolEntryRow = Selectable<SandboxTables['sandbox_pool']>;

/** Which pool: a runtime and its image (empty for `process`). */
export interface PoolKey {
  readonly runtime: string;
  readonly image: string;
}

/**
 * Inside a create's transaction: locks the oldest ready entry of the pool, skipping entries another
 * transaction holds, so two creates never take the same one. Its id, or undefined when none is free.
 */
export async function lockReadyEntry(
  trx: Transaction<SandboxTables>,
  key: PoolKey,
): Promise<string | undefined> {
  const row = await trx
    .selectFrom('sandbox_pool')
    .select('sandbox_id')
    .where('runtime', '=', key.runtime)
    .where('image', '=', key.image)
    .where('state', '=', 'ready')
    .orderBy('created_at')
    .limit(1)
    .forUpdate()
    .skipLocked()
    .executeTakeFirst();
  return row?.sandbox_id;
}

/** Inside the same transaction, once the sandbox row holds the entry's id: the entry leaves the pool. */
export async function removeClaimedEntry(trx: Transaction<SandboxTables>, sandboxId: string): Promise<void> {
  await trx.deleteFrom('sandbox_pool').where('sandbox_id', '=', sandboxId).execute();
}

/** The warm pool's entries on this machine; they belong to no tenant. */
export class PoolRepository {
  constructor(private readonly sql: SqlStore<SandboxTables>) {}

  /** Reserves an entry's id before anything is made for it, so recovery finds whatever a crash leaves. */
  async reserve(sandboxId: string, key: PoolKey, resources: unknown): Promise<void> {
    await this.sql.db
      .insertInto('sandbox_pool')
      .values({
        sandbox_id: sandboxId,
        runtime: key.runtime,
        image: key.image,
        resources: JSON.stringify(resources),
        state: 'filling',
      })
      .execute();
  }

  async markReady(sandboxId: string): Promise<void> {
    await this.sql.db
      .updateTable('sandbox_pool')
      .set({ state: 'ready' })
      .where('sandbox_id', '=', sandboxId)
      .execute();
  }

  async remove(sandboxId: string): Promise<void> {
    await this.sql.db.deleteFrom('sandbox_pool').where('sandbox_id', '=', sandboxId).execute();
  }

  /** Every entry, oldest first. */
  async list(): Promise<PoolEntryRow[]> {
    return this.sql.db.selectFrom('sandbox_pool').selectAll().orderBy('created_at').execute();
  }

  /** How many entries each pool holds, by state. */
  async counts(): Promise<(PoolKey & { state: PoolEntryState; count: number })[]> {
    const rows = await this.sql.db
      .selectFrom('sandbox_pool')
      .select(['runtime', 'image', 'state', sql<number | string>`count(*)::int`.as('count')])
      .groupBy(['runtime', 'image', 'state'])
      .execute();
    return rows.map((row) => ({ ...row, count: Number(row.count) }));
  }

  /** Entries of one pool, ready or being made. */
  async held(key: PoolKey): Promise<number> {
    const row = await this.sql.db
      .selectFrom('sandbox_pool')
      .select(sql<number | string>`count(*)::int`.as('count'))
      .where('runtime', '=', key.runtime)
      .where('image', '=', key.image)
      .executeTakeFirstOrThrow();
    return Number(row.count);
  }
}
