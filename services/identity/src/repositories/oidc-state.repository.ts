import type { Migration, SqlStore } from '@aibox/stores';
import { sql, type Generated } from 'kysely';
import type { Adapter, AdapterPayload } from 'oidc-provider';

/**
 * oidc-provider's state (sessions, interactions, grants, authorization/device codes, refresh tokens…) in the
 * SQL store: PGlite under `$AIBOX_DATA_DIR/identity/pglite` by default, PostgreSQL with `DATABASE_URL`, so
 * refresh tokens and sessions survive a restart. One row per (model, id); JWT access tokens are not stored.
 */
export interface OidcStateTables {
  oidc_state: {
    model: string;
    id: string;
    payload: unknown;
    grant_id: string | null;
    user_code: string | null;
    uid: string | null;
    expires_at: Date | null;
    consumed_at: Date | null;
    created_at: Generated<Date>;
  };
}

export const OIDC_STATE_MIGRATIONS: Readonly<Record<string, Migration>> = {
  '0001_oidc_state': {
    async up(db) {
      await db.schema
        .createTable('oidc_state')
        .addColumn('model', 'text', (c) => c.notNull())
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('payload', 'jsonb', (c) => c.notNull())
        .addColumn('grant_id', 'text')
        .addColumn('user_code', 'text')
        .addColumn('uid', 'text')
        .addColumn('expires_at', 'timestamptz')
        .addColumn('consumed_at', 'timestamptz')
        .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addPrimaryKeyConstraint('oidc_state_pkey', ['model', 'id'])
        .execute();
      await db.schema.createIndex('oidc_state_grant_id').on('oidc_state').column('grant_id').execute();
      await db.schema
        .createIndex('oidc_state_user_code')
        .on('oidc_state')
        .columns(['model', 'user_code'])
        .execute();
      await db.schema.createIndex('oidc_state_uid').on('oidc_state').columns(['model', 'uid']).execute();
      await db.schema.createIndex('oidc_state_expires_at').on('oidc_state').column('expires_at').execute();
    },
  },
};

type OidcStateStore = SqlStore<OidcStateTables>;

function asPayload(
  row: { payload: unknown; consumed_at: Date | null } | undefined,
): AdapterPayload | undefined {
  if (row === undefined) return undefined;
  const payload = (typeof row.payload === 'string' ? JSON.parse(row.payload) : row.payload) as AdapterPayload;
  return row.consumed_at === null
    ? payload
    : { ...payload, consumed: Math.floor(row.consumed_at.getTime() / 1000) };
}

/** One oidc-provider model's rows. */
class SqlOidcAdapter implements Adapter {
  constructor(
    private readonly model: string,
    private readonly store: OidcStateStore,
  ) {}

  private live() {
    return this.store.db
      .selectFrom('oidc_state')
      .select(['payload', 'consumed_at'])
      .where('model', '=', this.model)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', new Date())]));
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
    const row = {
      model: this.model,
      id,
      payload: JSON.stringify(payload),
      grant_id: payload.grantId ?? null,
      user_code: payload.userCode ?? null,
      uid: payload.uid ?? null,
      expires_at: expiresIn > 0 ? new Date(Date.now() + expiresIn * 1000) : null,
      consumed_at: null,
    };
    await this.store.db
      .insertInto('oidc_state')
      .values(row)
      .onConflict((oc) =>
        oc.columns(['model', 'id']).doUpdateSet({
          payload: row.payload,
          grant_id: row.grant_id,
          user_code: row.user_code,
          uid: row.uid,
          expires_at: row.expires_at,
        }),
      )
      .execute();
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    return asPayload(await this.live().where('id', '=', id).executeTakeFirst());
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    return asPayload(await this.live().where('user_code', '=', userCode).executeTakeFirst());
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    return asPayload(await this.live().where('uid', '=', uid).executeTakeFirst());
  }

  async consume(id: string): Promise<void> {
    await this.store.db
      .updateTable('oidc_state')
      .set({ consumed_at: new Date() })
      .where('model', '=', this.model)
      .where('id', '=', id)
      .execute();
  }

  async destroy(id: string): Promise<void> {
    await this.store.db
      .deleteFrom('oidc_state')
      .where('model', '=', this.model)
      .where('id', '=', id)
      .execute();
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    await this.store.db.deleteFrom('oidc_state').where('grant_id', '=', grantId).execute();
  }
}

/** The adapter factory oidc-provider is configured with, and housekeeping of expired rows. */
export class OidcStateRepository {
  constructor(private readonly store: OidcStateStore) {}

  static async open(store: OidcStateStore): Promise<OidcStateRepository> {
    await store.migrate(OIDC_STATE_MIGRATIONS);
    return new OidcStateRepository(store);
  }

  adapterFor(model: string): Adapter {
    return new SqlOidcAdapter(model, this.store);
  }

  /** Deletes expired rows; returns how many. */
  async deleteExpired(now: Date = new Date()): Promise<number> {
    const result = await this.store.db
      .deleteFrom('oidc_state')
      .where('expires_at', '<', now)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  ping(): Promise<void> {
    return this.store.ping();
  }
}
