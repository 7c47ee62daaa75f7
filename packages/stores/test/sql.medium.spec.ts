import { inspect } from 'node:util';
import { setImmediate as nextTurn } from 'node:timers/promises';

import { enableTenantIsolation, openSqlStore, StoreError } from '@aibox/stores';
import type { Migration, SqlStore } from '@aibox/stores';
import { needs, postgresUrl } from '@aibox/testing';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { pgliteTarget, postgresTarget } from './sql/sql-targets.js';
import type { SqlTarget, TestDb } from './sql/sql-targets.js';

const postgres = await needs('postgres');

const createCounters: Migration = {
  async up(db) {
    await db.schema
      .createTable('counters')
      .addColumn('name', 'text', (column) => column.primaryKey())
      .addColumn('value', 'integer', (column) => column.notNull())
      .execute();
  },
};

const createNotes: Migration = {
  async up(db) {
    await db.schema
      .createTable('notes')
      .addColumn('id', 'serial', (column) => column.primaryKey())
      .addColumn('tenant_id', 'text', (column) => column.notNull())
      .addColumn('body', 'text', (column) => column.notNull())
      .execute();
    await enableTenantIsolation(db, 'notes');
  },
};

const MIGRATIONS: Record<string, Migration> = { '0001_counters': createCounters, '0002_notes': createNotes };

async function tableNames(store: SqlStore<TestDb>): Promise<string[]> {
  const result = await sql<{ table_name: string }>`
    select table_name from information_schema.tables where table_schema = ${store.schema} order by table_name`.execute(
    store.db,
  );
  return result.rows.map((row) => row.table_name);
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

function sqlStoreContract(target: SqlTarget): void {
  // A budget, not an assertion: PGlite starts slowly on a loaded machine.
  describe(`SQL store on ${target.adapter}`, { timeout: 120_000 }, () => {
    afterAll(async () => {
      await target.cleanup();
    });

    describe('migrations', () => {
      it('applies pending migrations once, in name order, and a re-run applies nothing', async () => {
        const store = await target.fresh();
        try {
          // Out of order on purpose: names decide the order, not object keys.
          const first = await store.migrate({ '0002_notes': createNotes, '0001_counters': createCounters });
          expect(first.applied).toEqual(['0001_counters', '0002_notes']);
          expect(await store.migrate(MIGRATIONS)).toEqual({ applied: [] });

          const later = await store.migrate({
            ...MIGRATIONS,
            '0003_labels': {
              async up(db) {
                await db.schema.createTable('labels').addColumn('name', 'text').execute();
              },
            },
          });
          expect(later.applied).toEqual(['0003_labels']);
          expect(await tableNames(store)).toEqual([
            'counters',
            'kysely_migration',
            'kysely_migration_lock',
            'labels',
            'notes',
          ]);
        } finally {
          await store.close();
        }
      });

      it('rolls a failing batch back and names the migration that failed', async () => {
        const store = await target.fresh();
        try {
          await store.migrate({ '0001_counters': createCounters });
          await store.db.insertInto('counters').values({ name: 'kept', value: 7 }).execute();

          const broken: Record<string, Migration> = {
            ...MIGRATIONS,
            '0003_broken': {
              async up(db) {
                await db.schema.createTable('half_done').addColumn('x', 'integer').execute();
                await sql`alter table no_such_table add column y integer`.execute(db);
              },
            },
          };
          const error = await rejection(store.migrate(broken));
          expect(error).toBeInstanceOf(StoreError);
          expect((error as StoreError).code).toBe('migration_failed');
          expect((error as StoreError).message).toContain('0003_broken');

          // Neither the failing migration's table nor the earlier one of the same batch survived.
          expect(await tableNames(store)).toEqual(['counters', 'kysely_migration', 'kysely_migration_lock']);
          expect(await store.db.selectFrom('counters').selectAll().execute()).toEqual([
            { name: 'kept', value: 7 },
          ]);

          // Fixed, the batch applies.
          expect((await store.migrate(MIGRATIONS)).applied).toEqual(['0002_notes']);
        } finally {
          await store.close();
        }
      });

      it('runs each migration once when two migrators start together', async () => {
        const store = await target.fresh();
        const replica = (await target.replica(store)) ?? store;
        let runs = 0;
        const counted: Record<string, Migration> = {
          ...MIGRATIONS,
          '0003_counted': {
            async up(db) {
              runs += 1;
              await db.schema.createTable('counted').addColumn('x', 'integer').execute();
            },
          },
        };
        try {
          const [a, b] = await Promise.all([store.migrate(counted), replica.migrate(counted)]);
          expect([...a.applied, ...b.applied].sort()).toEqual([
            '0001_counters',
            '0002_notes',
            '0003_counted',
          ]);
          expect(runs).toBe(1);
        } finally {
          if (replica !== store) await replica.close();
          await store.close();
        }
      });
    });

    describe('data', () => {
      let store: SqlStore<TestDb>;

      beforeAll(async () => {
        store = await target.fresh();
        await store.migrate(MIGRATIONS);
      });

      afterAll(async () => {
        await store.close();
      });

      it('creates, reads, updates and deletes rows through db', async () => {
        await store.db
          .insertInto('counters')
          .values([
            { name: 'crud-a', value: 1 },
            { name: 'crud-b', value: 2 },
          ])
          .execute();
        const updated = await store.db
          .updateTable('counters')
          .set({ value: 20 })
          .where('name', '=', 'crud-b')
          .executeTakeFirst();
        expect(updated.numUpdatedRows).toBe(1n);
        const deleted = await store.db.deleteFrom('counters').where('name', '=', 'crud-a').executeTakeFirst();
        expect(deleted.numDeletedRows).toBe(1n);
        const rows = await store.db
          .selectFrom('counters')
          .selectAll()
          .where('name', 'like', 'crud-%')
          .execute();
        expect(rows).toEqual([{ name: 'crud-b', value: 20 }]);
      });

      it('rolls a transaction back when its work throws', async () => {
        const error = await rejection(
          store.db.transaction().execute(async (trx) => {
            await trx.insertInto('counters').values({ name: 'rolled-back', value: 1 }).execute();
            throw new Error('work failed');
          }),
        );
        expect((error as Error).message).toBe('work failed');
        const rows = await store.db
          .selectFrom('counters')
          .selectAll()
          .where('name', '=', 'rolled-back')
          .execute();
        expect(rows).toEqual([]);
      });

      it('keeps parallel transactions apart: no lost update, no leaked rollback', async () => {
        await store.db.insertInto('counters').values({ name: 'parallel', value: 0 }).execute();
        const workers = Array.from({ length: 8 }, (_, index) =>
          store.db.transaction().execute(async (trx) => {
            const row = await trx
              .selectFrom('counters')
              .select('value')
              .where('name', '=', 'parallel')
              .forUpdate()
              .executeTakeFirstOrThrow();
            await nextTurn(); // give the other transactions every chance to run in between
            await trx
              .updateTable('counters')
              .set({ value: row.value + 1 })
              .where('name', '=', 'parallel')
              .execute();
            await trx
              .insertInto('counters')
              .values({ name: `parallel-${String(index)}`, value: index })
              .execute();
            await nextTurn();
            if (index % 2 === 1) throw new Error(`worker ${String(index)} gives up`);
          }),
        );
        const outcomes = await Promise.allSettled(workers);
        expect(outcomes.map((outcome) => outcome.status)).toEqual([
          'fulfilled',
          'rejected',
          'fulfilled',
          'rejected',
          'fulfilled',
          'rejected',
          'fulfilled',
          'rejected',
        ]);
        const rows = await store.db
          .selectFrom('counters')
          .selectAll()
          .where('name', 'like', 'parallel%')
          .orderBy('name')
          .execute();
        expect(rows).toEqual([
          { name: 'parallel', value: 4 },
          { name: 'parallel-0', value: 0 },
          { name: 'parallel-2', value: 2 },
          { name: 'parallel-4', value: 4 },
          { name: 'parallel-6', value: 6 },
        ]);
      });

      describe('tenant isolation', () => {
        const alpha = 'tenant-alpha';
        const beta = 'tenant-beta';

        beforeAll(async () => {
          await store.forTenant(alpha).transaction(async (trx) => {
            await trx
              .insertInto('notes')
              .values([{ body: 'alpha one' }, { tenant_id: alpha, body: 'alpha two' }])
              .execute();
          });
          await store.forTenant(beta).transaction(async (trx) => {
            await trx.insertInto('notes').values({ body: 'beta one' }).execute();
          });
        });

        const bodies = (tenant: string) =>
          store.forTenant(tenant).transaction(async (trx) => {
            // No where clause on purpose: row-level security does the scoping.
            const rows = await trx
              .selectFrom('notes')
              .select(['tenant_id', 'body'])
              .orderBy('body')
              .execute();
            return rows.map((row) => `${row.tenant_id}:${row.body}`);
          });

        it('shows a tenant only its own rows, even to a query without a where clause', async () => {
          expect(await bodies(alpha)).toEqual([`${alpha}:alpha one`, `${alpha}:alpha two`]);
          expect(await bodies(beta)).toEqual([`${beta}:beta one`]);
          expect(await bodies('tenant-gamma')).toEqual([]);
        });

        it('refuses to insert a row into another tenant', async () => {
          const error = await rejection(
            store.forTenant(alpha).transaction(async (trx) => {
              await trx.insertInto('notes').values({ tenant_id: beta, body: 'smuggled' }).execute();
            }),
          );
          expect(String(error)).toMatch(/row-level security/);
          expect(await bodies(beta)).toEqual([`${beta}:beta one`]);
        });

        it("updates and deletes only the caller's rows and cannot move a row to another tenant", async () => {
          const moved = await rejection(
            store.forTenant(alpha).transaction(async (trx) => {
              await trx.updateTable('notes').set({ tenant_id: beta }).execute();
            }),
          );
          expect(String(moved)).toMatch(/row-level security/);

          const result = await store.forTenant(alpha).transaction(async (trx) => {
            const updated = await trx.updateTable('notes').set({ body: 'rewritten' }).executeTakeFirst();
            const deleted = await trx.deleteFrom('notes').executeTakeFirst();
            return { updated: updated.numUpdatedRows, deleted: deleted.numDeletedRows };
          });
          expect(result).toEqual({ updated: 2n, deleted: 2n });
          expect(await bodies(beta)).toEqual([`${beta}:beta one`]);

          await store.forTenant(alpha).transaction(async (trx) => {
            await trx
              .insertInto('notes')
              .values([{ body: 'alpha one' }, { body: 'alpha two' }])
              .execute();
          });
        });

        it('runs tenant work as an unprivileged role and restores the session afterwards', async () => {
          const denied = await rejection(
            store.forTenant(alpha).transaction(async (trx) => {
              await sql`select * from kysely_migration`.execute(trx);
            }),
          );
          expect(String(denied)).toMatch(/permission denied/);

          const inside = await store.forTenant(alpha).transaction(async (trx) => {
            const result = await sql<{ role: string; tenant: string }>`
              select current_user as role, current_setting('aibox.tenant_id') as tenant`.execute(trx);
            return result.rows[0];
          });
          expect(inside).toEqual({ role: 'aibox_tenant', tenant: alpha });

          const after = await sql<{ role: string }>`select current_user as role`.execute(store.db);
          expect(after.rows[0]?.role).not.toBe('aibox_tenant');
          const unscopedInsert = await rejection(
            sql`insert into notes (body) values ('no tenant')`.execute(store.db),
          );
          expect(String(unscopedInsert)).toMatch(/null value|not-null/);
        });

        it('rejects invalid tenant ids with tenant_invalid', () => {
          for (const tenant of ['', 'x'.repeat(129), 'a\u0000b', 'line\nbreak', 'tab\there']) {
            let caught: unknown;
            try {
              store.forTenant(tenant);
            } catch (error) {
              caught = error;
            }
            expect(caught).toBeInstanceOf(StoreError);
            expect((caught as StoreError).code).toBe('tenant_invalid');
          }
          expect(store.forTenant('x'.repeat(128)).tenantId).toHaveLength(128);
        });
      });
    });

    describe('lifecycle', () => {
      it('answers ping while open and refuses work after close', async () => {
        const store = await target.fresh();
        await store.ping();
        await store.close();
        await store.close(); // closing twice is harmless

        for (const attempt of [
          store.ping(),
          store.migrate(MIGRATIONS),
          store.forTenant('t').transaction(() => Promise.resolve()),
        ]) {
          const error = await rejection(attempt);
          expect(error).toBeInstanceOf(StoreError);
          expect((error as StoreError).code).toBe('store_closed');
        }
      });

      it('keeps data across close and reopen', async () => {
        const place = 'persisted';
        const first = await target.durable(place);
        try {
          await first.migrate(MIGRATIONS);
          await first.db.insertInto('counters').values({ name: 'survivor', value: 42 }).execute();
          await first.forTenant('tenant-p').transaction(async (trx) => {
            await trx.insertInto('notes').values({ body: 'kept note' }).execute();
          });
        } finally {
          await first.close();
        }

        const second = await target.durable(place);
        try {
          expect(await second.migrate(MIGRATIONS)).toEqual({ applied: [] });
          const rows = await second.db.selectFrom('counters').selectAll().execute();
          expect(rows).toEqual([{ name: 'survivor', value: 42 }]);
          const notes = await second
            .forTenant('tenant-p')
            .transaction((trx) => trx.selectFrom('notes').select('body').execute());
          expect(notes).toEqual([{ body: 'kept note' }]);
        } finally {
          await second.close();
        }
      });
    });
  });
}

sqlStoreContract(pgliteTarget());

describe.runIf(postgres)('PostgreSQL', () => {
  sqlStoreContract(postgresTarget(postgresUrl()));

  it('keeps services sharing one database in separate schemas', async () => {
    const target = postgresTarget(postgresUrl());
    const one = await target.fresh();
    const other = await target.fresh();
    try {
      await one.migrate(MIGRATIONS);
      await one.db.insertInto('counters').values({ name: 'private', value: 1 }).execute();
      expect(await tableNames(other)).toEqual([]);
      const error = await rejection(other.db.selectFrom('counters').selectAll().execute());
      expect(String(error)).toMatch(/does not exist/);
    } finally {
      await one.close();
      await other.close();
      await target.cleanup();
    }
  });
});

describe.runIf(postgres)('PostgreSQL shared with other services', () => {
  it("migrates while another service's schemas are being dropped", async () => {
    // Each round: a schema with a serial column for every other service, dropped while this store migrates.
    // Kysely's own introspection looked every schema up by name and failed on one dropped meanwhile.
    const target = postgresTarget(postgresUrl());
    const others = await target.fresh();
    const failures: string[] = [];
    try {
      for (let round = 0; round < 8; round += 1) {
        const names = Array.from(
          { length: 30 },
          (_, index) => `${others.schema}_r${String(round)}_${String(index)}`,
        );
        for (const name of names) {
          await sql`create schema ${sql.id(name)}`.execute(others.db);
          await sql`create table ${sql.table(`${name}.items`)} (id serial primary key)`.execute(others.db);
        }
        const store = await target.fresh();
        const dropping = (async () => {
          for (const name of names) await sql`drop schema ${sql.id(name)} cascade`.execute(others.db);
        })();
        try {
          await store.migrate(MIGRATIONS);
          expect(await tableNames(store)).toContain('counters');
        } catch (error) {
          failures.push(String(error));
        } finally {
          await dropping;
          await store.close();
        }
      }
    } finally {
      await others.close();
      await target.cleanup();
    }
    expect(failures).toEqual([]);
  });
});

describe('SQL store configuration', () => {
  it('never shows the connection password in errors', async () => {
    const secret = 'S3cr3t-Pa55word';
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    const error = await rejection(
      openSqlStore({ service: 'leak-check', databaseUrl: `postgres://aibox:${secret}@127.0.0.1:1/aibox` }),
    );
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).code).toBe('store_unavailable');
    expect((error as StoreError).message).toContain('127.0.0.1:1');
    const everything = [
      String(error),
      (error as Error).stack ?? '',
      inspect(error, { depth: 10 }),
      JSON.stringify(error),
    ];
    for (const text of everything) expect(text).not.toContain(secret);
  });

  it('rejects bad settings with store_config_invalid', async () => {
    const attempts = [
      openSqlStore({ service: 'Bad Service' }),
      openSqlStore({ service: 'memory', schema: 'pg_catalog' }),
      openSqlStore({ service: 'memory', schema: 'x"; drop schema public; --' }),
      openSqlStore({ service: 'memory', databaseUrl: 'mysql://root:hunter2@127.0.0.1/db' }),
      openSqlStore({ service: 'memory', databaseUrl: 'not a url hunter2' }),
    ];
    for (const attempt of attempts) {
      const error = await rejection(attempt);
      expect(error).toBeInstanceOf(StoreError);
      expect((error as StoreError).code).toBe('store_config_invalid');
      expect((error as StoreError).message).not.toContain('hunter2');
    }
  });
});
