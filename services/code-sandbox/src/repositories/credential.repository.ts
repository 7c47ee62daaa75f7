import type { Selectable } from 'kysely';

import type { SqlStore } from '@aibox/stores';

import type { CredentialTables } from './credential-schema.js';

export type CredentialRow = Selectable<CredentialTables['credentials']>;

export interface NewCredential {
  readonly id: string;
  readonly userId: string;
  readonly name: string;
  readonly description: string | null;
  readonly valueSealed: string;
  readonly valueHint: string;
}

/** What a change may set; fields left out keep their value. */
export interface CredentialChanges {
  readonly description?: string | null;
  readonly value?: { readonly sealed: string; readonly hint: string };
}

/**
 * Users' credentials. Every method takes the tenant; reads and deletes take the owner too, `null` meaning any
 * user of the tenant (an admin's view). Writes to the value are the owner's only.
 */
export class CredentialRepository {
  constructor(private readonly sql: SqlStore<CredentialTables>) {}

  /** The new row, or `undefined` when the user already has a credential of that name. */
  async create(tenantId: string, credential: NewCredential): Promise<CredentialRow | undefined> {
    return this.sql.forTenant(tenantId).transaction((trx) =>
      trx
        .insertInto('credentials')
        .values({
          id: credential.id,
          tenant_id: tenantId,
          user_id: credential.userId,
          name: credential.name,
          description: credential.description,
          value_sealed: credential.valueSealed,
          value_hint: credential.valueHint,
        })
        .onConflict((conflict) => conflict.columns(['tenant_id', 'user_id', 'name']).doNothing())
        .returningAll()
        .executeTakeFirst(),
    );
  }

  async get(tenantId: string, ownerId: string | null, id: string): Promise<CredentialRow | undefined> {
    return this.sql.forTenant(tenantId).transaction((trx) => {
      let query = trx.selectFrom('credentials').selectAll().where('id', '=', id);
      if (ownerId !== null) query = query.where('user_id', '=', ownerId);
      return query.executeTakeFirst();
    });
  }

  /** Newest first. */
  async list(tenantId: string, ownerId: string | null): Promise<CredentialRow[]> {
    return this.sql.forTenant(tenantId).transaction((trx) => {
      let query = trx.selectFrom('credentials').selectAll();
      if (ownerId !== null) query = query.where('user_id', '=', ownerId);
      return query.orderBy('created_at', 'desc').orderBy('id', 'desc').execute();
    });
  }

  /** The owner's credentials among `ids`, in no particular order; ids of nobody's or someone else's are left out. */
  async findOwned(tenantId: string, ownerId: string, ids: readonly string[]): Promise<CredentialRow[]> {
    if (ids.length === 0) return [];
    return this.sql.forTenant(tenantId).transaction((trx) =>
      trx
        .selectFrom('credentials')
        .selectAll()
        .where('user_id', '=', ownerId)
        .where('id', 'in', [...ids])
        .execute(),
    );
  }

  /** The changed row, or `undefined` when the owner has no such credential. */
  async update(
    tenantId: string,
    ownerId: string,
    id: string,
    changes: CredentialChanges,
  ): Promise<CredentialRow | undefined> {
    return this.sql.forTenant(tenantId).transaction((trx) =>
      trx
        .updateTable('credentials')
        .set({
          updated_at: new Date(),
          ...(changes.description === undefined ? {} : { description: changes.description }),
          ...(changes.value === undefined
            ? {}
            : { value_sealed: changes.value.sealed, value_hint: changes.value.hint }),
        })
        .where('id', '=', id)
        .where('user_id', '=', ownerId)
        .returningAll()
        .executeTakeFirst(),
    );
  }

  /** Whether a row was removed. */
  async delete(tenantId: string, ownerId: string | null, id: string): Promise<boolean> {
    return this.sql.forTenant(tenantId).transaction(async (trx) => {
      let query = trx.deleteFrom('credentials').where('id', '=', id);
      if (ownerId !== null) query = query.where('user_id', '=', ownerId);
      const result = await query.executeTakeFirst();
      return result.numDeletedRows > 0n;
    });
  }
}
