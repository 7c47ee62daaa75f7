import { enableTenantIsolation, type Migration } from '@aibox/stores';
import { sql, type Generated } from 'kysely';

/**
 * The audit service's tables. Everything holding tenant data is under row-level security (a tenant's
 * transaction sees only its rows); `seal_queue` holds only (tenant, turn, due time), so the sealer can find
 * due turns across tenants with the service-level handle.
 *
 * `int8` columns come back as strings on both adapters; `bytea` as `Uint8Array` (a `Buffer` on `pg`).
 */
export interface AuditTables {
  /** Every committed event; `canonical` is the RFC 8785 JSON that is the event's Merkle leaf. */
  events: {
    tenant_id: string;
    event_id: string;
    /** Commit order across the service: a turn's events form its tree in this order. */
    seq: Generated<string>;
    turn_id: string;
    user_id: string;
    service: string;
    type: string;
    occurred_at: Date;
    canonical: string;
    leaf_hash: Uint8Array;
  };
  /** One row per turn: open until sealed, then its envelope and its place in the tenant log. */
  turns: {
    tenant_id: string;
    turn_id: string;
    user_id: string;
    state: 'open' | 'sealed';
    started_at: Date;
    last_event_at: Date;
    sealed_at: Date | null;
    /** Canonical JSON of the envelope: the leaf of the tenant log at `log_index`. */
    envelope: string | null;
    envelope_hash: Uint8Array | null;
    log_index: string | null;
    chain_seq: string | null;
  };
  /** Turns waiting to be sealed: asked for (`turn_sealed`/`turn_failed`) or idle since `due_at`. */
  seal_queue: {
    tenant_id: string;
    turn_id: string;
    due_at: Date;
    requested: boolean;
  };
  /** The tenant log's perfect-subtree hashes: node (level, idx) covers leaves [idx·2^level, (idx+1)·2^level). */
  log_nodes: {
    tenant_id: string;
    level: number;
    idx: string;
    hash: Uint8Array;
  };
  /** Where each tenant log stands: its size, its chain, its latest checkpoint. */
  log_heads: {
    tenant_id: string;
    size: string;
    /** The chain seq of the last envelope; -1 before the first. */
    chain_seq: string;
    last_envelope_hash: Uint8Array | null;
  };
  /** Every signed checkpoint, by tree size. */
  checkpoints: {
    tenant_id: string;
    tree_size: string;
    root: Uint8Array;
    note: string;
    signed_at: Date;
  };
  /** Bodies stored in the object store (content-addressed, `sha256/<hex>`), per tenant. */
  artifacts: {
    tenant_id: string;
    sha256: string;
    size: string;
    content_type: string;
    stored_at: Generated<Date>;
  };
}

export const AUDIT_MIGRATIONS: Readonly<Record<string, Migration>> = {
  '0001_audit_log': {
    async up(db) {
      await db.schema
        .createTable('events')
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('event_id', 'text', (c) => c.notNull())
        .addColumn('seq', 'bigserial', (c) => c.notNull())
        .addColumn('turn_id', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('service', 'text', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('occurred_at', 'timestamptz', (c) => c.notNull())
        .addColumn('canonical', 'text', (c) => c.notNull())
        .addColumn('leaf_hash', 'bytea', (c) => c.notNull())
        .addPrimaryKeyConstraint('events_pkey', ['tenant_id', 'event_id'])
        .execute();
      await db.schema
        .createIndex('events_turn')
        .on('events')
        .columns(['tenant_id', 'turn_id', 'seq'])
        .execute();

      await db.schema
        .createTable('turns')
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('turn_id', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull().check(sql`state in ('open', 'sealed')`))
        .addColumn('started_at', 'timestamptz', (c) => c.notNull())
        .addColumn('last_event_at', 'timestamptz', (c) => c.notNull())
        .addColumn('sealed_at', 'timestamptz')
        .addColumn('envelope', 'text')
        .addColumn('envelope_hash', 'bytea')
        .addColumn('log_index', 'bigint')
        .addColumn('chain_seq', 'bigint')
        .addPrimaryKeyConstraint('turns_pkey', ['tenant_id', 'turn_id'])
        .addCheckConstraint(
          'turns_sealed_complete',
          sql`(state = 'open') = (envelope is null and envelope_hash is null and log_index is null and chain_seq is null and sealed_at is null)`,
        )
        .execute();
      await db.schema
        .createIndex('turns_log_index')
        .on('turns')
        .columns(['tenant_id', 'log_index'])
        .unique()
        .execute();
      await db.schema
        .createIndex('turns_started')
        .on('turns')
        .columns(['tenant_id', 'started_at', 'turn_id'])
        .execute();
      await db.schema
        .createIndex('turns_user_started')
        .on('turns')
        .columns(['tenant_id', 'user_id', 'started_at', 'turn_id'])
        .execute();

      await db.schema
        .createTable('seal_queue')
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('turn_id', 'text', (c) => c.notNull())
        .addColumn('due_at', 'timestamptz', (c) => c.notNull())
        .addColumn('requested', 'boolean', (c) => c.notNull())
        .addPrimaryKeyConstraint('seal_queue_pkey', ['tenant_id', 'turn_id'])
        .execute();
      await db.schema
        .createIndex('seal_queue_due')
        .on('seal_queue')
        .columns(['requested', 'due_at'])
        .execute();

      await db.schema
        .createTable('log_nodes')
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('level', 'integer', (c) => c.notNull())
        .addColumn('idx', 'bigint', (c) => c.notNull())
        .addColumn('hash', 'bytea', (c) => c.notNull())
        .addPrimaryKeyConstraint('log_nodes_pkey', ['tenant_id', 'level', 'idx'])
        .execute();

      await db.schema
        .createTable('log_heads')
        .addColumn('tenant_id', 'text', (c) => c.notNull().primaryKey())
        .addColumn('size', 'bigint', (c) => c.notNull())
        .addColumn('chain_seq', 'bigint', (c) => c.notNull())
        .addColumn('last_envelope_hash', 'bytea')
        .execute();

      await db.schema
        .createTable('checkpoints')
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('tree_size', 'bigint', (c) => c.notNull())
        .addColumn('root', 'bytea', (c) => c.notNull())
        .addColumn('note', 'text', (c) => c.notNull())
        .addColumn('signed_at', 'timestamptz', (c) => c.notNull())
        .addPrimaryKeyConstraint('checkpoints_pkey', ['tenant_id', 'tree_size'])
        .execute();

      await db.schema
        .createTable('artifacts')
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('sha256', 'text', (c) => c.notNull())
        .addColumn('size', 'bigint', (c) => c.notNull())
        .addColumn('content_type', 'text', (c) => c.notNull())
        .addColumn('stored_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addPrimaryKeyConstraint('artifacts_pkey', ['tenant_id', 'sha256'])
        .execute();

      for (const table of ['events', 'turns', 'log_nodes', 'log_heads', 'checkpoints', 'artifacts']) {
        await enableTenantIsolation(db, table);
      }
    },
  },
};
