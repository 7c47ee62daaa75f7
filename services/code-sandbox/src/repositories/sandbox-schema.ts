import { enableTenantIsolation, type Migration } from '@aibox/stores';
import { sql, type ColumnType, type Generated } from 'kysely';

type Json = ColumnType<unknown, string, string>;

export type SandboxState =
  'pending' | 'provisioning' | 'ready' | 'stopped' | 'deleting' | 'deleted' | 'failed';

export type ExecStatus = 'running' | 'exited' | 'cancelled' | 'timed_out' | 'lost';

/**
 * Sandboxes, their events and execs are tenant data (row-level security; repositories use `forTenant`).
 * `sandbox_index` lists every sandbox that may hold something on this machine, across tenants and without
 * row-level security, so a restarted service finds what to reconcile.
 */
export interface SandboxTables {
  sandboxes: {
    id: string;
    tenant_id: string;
    user_id: string;
    name: string;
    labels: Json;
    runtime: string;
    /** The whole accepted spec, defaults applied. */
    spec: Json;
    state: SandboxState;
    error_code: string | null;
    error_message: string | null;
    idempotency_key: string | null;
    /** SHA-256 of the request a key was first used with: the same key with another body is a conflict. */
    request_hash: string | null;
    expires_at: Date | null;
    created_at: Generated<Date>;
    updated_at: Generated<Date>;
  };
  sandbox_events: {
    sandbox_id: string;
    tenant_id: string;
    seq: number;
    type: string;
    data: Json;
    at: Generated<Date>;
  };
  execs: {
    id: string;
    tenant_id: string;
    sandbox_id: string;
    user_id: string;
    argv: Json;
    cwd: string;
    timeout_s: number;
    status: ExecStatus;
    exit_code: number | null;
    pid: number | null;
    started_at: Generated<Date>;
    ended_at: Date | null;
  };
  sandbox_index: {
    sandbox_id: string;
    tenant_id: string;
    created_at: Generated<Date>;
  };
  /**
   * The warm pool's entries: sandboxes made ahead of any request under a reserved id, belonging to no tenant
   * (no row-level security, like `sandbox_index`). A claim moves the id from here to `sandbox_index` in one
   * transaction, so recovery always finds what the machine holds in one of the two.
   */
  sandbox_pool: {
    sandbox_id: string;
    runtime: string;
    /** The container image; empty for `process`. */
    image: string;
    /** The limits it was made with, `{cpus, memory_mb, pids, disk_mb}`: recovery adopts only current ones. */
    resources: Json;
    /** `filling` until the runtime made it, then `ready` to claim. */
    state: PoolEntryState;
    created_at: Generated<Date>;
  };
}

export type PoolEntryState = 'filling' | 'ready';

export const SANDBOX_MIGRATIONS: Readonly<Record<string, Migration>> = {
  '0001_sandboxes_events_execs': {
    async up(db) {
      await db.schema
        .createTable('sandboxes')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('labels', 'jsonb', (c) => c.notNull())
        .addColumn('runtime', 'text', (c) => c.notNull())
        .addColumn('spec', 'jsonb', (c) => c.notNull())
        .addColumn('state', 'text', (c) =>
          c
            .notNull()
            .check(
              sql`state in ('pending', 'provisioning', 'ready', 'stopped', 'deleting', 'deleted', 'failed')`,
            ),
        )
        .addColumn('error_code', 'text')
        .addColumn('error_message', 'text')
        .addColumn('idempotency_key', 'text')
        .addColumn('request_hash', 'text')
        .addColumn('expires_at', 'timestamptz')
        .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addUniqueConstraint('sandboxes_idempotency', ['tenant_id', 'user_id', 'idempotency_key'])
        .execute();
      await db.schema
        .createIndex('sandboxes_owner')
        .on('sandboxes')
        .columns(['tenant_id', 'user_id', 'created_at'])
        .execute();
      await enableTenantIsolation(db, 'sandboxes');

      await db.schema
        .createTable('sandbox_events')
        .addColumn('sandbox_id', 'text', (c) => c.notNull().references('sandboxes.id').onDelete('cascade'))
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('seq', 'integer', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('data', 'jsonb', (c) => c.notNull())
        .addColumn('at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addPrimaryKeyConstraint('sandbox_events_pk', ['sandbox_id', 'seq'])
        .execute();
      await enableTenantIsolation(db, 'sandbox_events');

      await db.schema
        .createTable('execs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('sandbox_id', 'text', (c) => c.notNull().references('sandboxes.id').onDelete('cascade'))
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('argv', 'jsonb', (c) => c.notNull())
        .addColumn('cwd', 'text', (c) => c.notNull())
        .addColumn('timeout_s', 'integer', (c) => c.notNull())
        .addColumn('status', 'text', (c) =>
          c.notNull().check(sql`status in ('running', 'exited', 'cancelled', 'timed_out', 'lost')`),
        )
        .addColumn('exit_code', 'integer')
        .addColumn('pid', 'integer')
        .addColumn('started_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn('ended_at', 'timestamptz')
        .execute();
      await db.schema
        .createIndex('execs_sandbox')
        .on('execs')
        .columns(['sandbox_id', 'started_at'])
        .execute();
      await enableTenantIsolation(db, 'execs');

      await db.schema
        .createTable('sandbox_index')
        .addColumn('sandbox_id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
    },
  },
  '0004_sandbox_pool': {
    async up(db) {
      await db.schema
        .createTable('sandbox_pool')
        .addColumn('sandbox_id', 'text', (c) => c.primaryKey())
        .addColumn('runtime', 'text', (c) => c.notNull())
        .addColumn('image', 'text', (c) => c.notNull())
        .addColumn('resources', 'jsonb', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull().check(sql`state in ('filling', 'ready')`))
        .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
      await db.schema
        .createIndex('sandbox_pool_claim')
        .on('sandbox_pool')
        .columns(['runtime', 'image', 'state', 'created_at'])
        .execute();
    },
  },
};
