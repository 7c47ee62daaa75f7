import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { openSqlStore } from '@aibox/stores';
import type { SqlStore } from '@aibox/stores';
import type { ColumnType, Generated } from 'kysely';
import { dropSchemas } from '@aibox/testing';

/** The tables the contract suite's migrations create. */
export interface TestDb {
  counters: { name: string; value: number };
  notes: {
    id: Generated<number>;
    // Defaults to the transaction's tenant (enableTenantIsolation), so inserts may leave it out.
    tenant_id: ColumnType<string, string | undefined, string>;
    body: string;
  };
}

/** One adapter the contract suite runs against. */
export interface SqlTarget {
  readonly adapter: 'pglite' | 'postgres';
  /** A store on empty storage of its own. */
  fresh(): Promise<SqlStore<TestDb>>;
  /** A store on durable storage named `place`; opening the same place again sees the same data. */
  durable(place: string): Promise<SqlStore<TestDb>>;
  /** A second, simultaneously open store on the same data, where the adapter allows one. */
  replica(store: SqlStore<TestDb>): Promise<SqlStore<TestDb> | undefined>;
  /** Removes everything the target created. */
  cleanup(): Promise<void>;
}

const SERVICE = 'contract-test';

export function pgliteTarget(): SqlTarget {
  let root: string | undefined;
  return {
    adapter: 'pglite',
    fresh: () => openSqlStore<TestDb>({ service: SERVICE }),
    async durable(place) {
      root ??= await mkdtemp(join(tmpdir(), 'aibox-sql-'));
      return openSqlStore<TestDb>({ service: SERVICE, dataDir: join(root, place, 'pglite') });
    },
    replica: () => Promise.resolve(undefined),
    async cleanup() {
      if (root !== undefined) await rm(root, { recursive: true, force: true });
    },
  };
}

/** Every schema this target creates starts with a prefix unique to this run and is dropped in cleanup. */
export function postgresTarget(databaseUrl: string): SqlTarget {
  const run = `aibox_test_${randomBytes(4).toString('hex')}`;
  const schemas = new Set<string>();
  let count = 0;
  const open = (schema: string) => {
    schemas.add(schema);
    return openSqlStore<TestDb>({ service: SERVICE, databaseUrl, schema, maxConnections: 4 });
  };
  return {
    adapter: 'postgres',
    fresh: () => open(`${run}_${String(++count)}`),
    durable: (place) => open(`${run}_${place.replaceAll('-', '_')}`),
    replica: (store) => open(store.schema),
    async cleanup() {
      await dropSchemas(
        [...schemas].filter((schema) => schema.startsWith(run)),
        databaseUrl,
      );
    },
  };
}
