import { vector } from '@electric-sql/pglite-pgvector';
import { CompiledQuery, Kysely, PGliteDialect, sql } from 'kysely';

import { StoreError } from '../store.js';
import { startPGlite } from '../sql/pglite-instance.js';
import { describeCause } from '../sql/sql-names.js';
import type { Payload } from './vector-validation.js';
import type { ValidPoint, VectorBackend, VectorMatch } from './vector-store.js';

interface CollectionsTable {
  name: string;
  dimensions: number;
}

interface VectorDb {
  vector_collections: CollectionsTable;
}

// Rows per INSERT: well under PostgreSQL's 65535 bind parameters (4 per row).
const UPSERT_CHUNK = 500;

/**
 * pgvector inside an embedded PGlite owned by the vector store (PostgreSQL servers here lack pgvector, and
 * the SQL store's PGlite stays free of the extension). One table per collection, `points_<name>`, keyed by
 * (tenant_id, id): every statement names the tenant, so tenants never meet.
 */
export async function openPgvectorBackend(dataDir: string | undefined): Promise<VectorBackend> {
  const where = `pgvector in PGlite ${dataDir === undefined ? '(in memory)' : `at ${dataDir}`}`;
  let db: Kysely<VectorDb>;
  try {
    const pglite = await startPGlite({ dataDir, extensions: { vector } });
    db = new Kysely<VectorDb>({
      dialect: new PGliteDialect({
        pglite,
        onCreateConnection: async (connection) => {
          await connection.executeQuery(CompiledQuery.raw('create extension if not exists vector'));
          // With a tenant and payload filter, an HNSW scan keeps going until it has k matching rows.
          await connection.executeQuery(CompiledQuery.raw("set hnsw.iterative_scan = 'strict_order'"));
        },
      }),
    });
    await sql`create table if not exists vector_collections (
      name text primary key,
      dimensions integer not null
    )`.execute(db);
  } catch (error) {
    throw new StoreError('store_unavailable', `${where} could not start: ${describeCause(error, undefined)}`);
  }
  return new PgvectorBackend(db, where);
}

const pointsTable = (collection: string) => sql.table(`points_${collection}`);
const vectorLiteral = (values: readonly number[]) => `[${values.join(',')}]`;

class PgvectorBackend implements VectorBackend {
  readonly adapter = 'pgvector';

  constructor(
    private readonly db: Kysely<VectorDb>,
    private readonly where: string,
  ) {}

  async dimensionsOf(collection: string): Promise<number | undefined> {
    const row = await this.db
      .selectFrom('vector_collections')
      .select('dimensions')
      .where('name', '=', collection)
      .executeTakeFirst();
    return row?.dimensions;
  }

  async create(collection: string, dimensions: number): Promise<void> {
    const table = pointsTable(collection);
    await this.db.transaction().execute(async (trx) => {
      await sql`create table if not exists ${table} (
        tenant_id text not null,
        id uuid not null,
        embedding vector(${sql.lit(dimensions)}) not null,
        payload jsonb not null,
        primary key (tenant_id, id)
      )`.execute(trx);
      // HNSW indexes hold at most 2000 dimensions; larger collections are scanned exactly.
      if (dimensions <= 2000) {
        await sql`create index if not exists ${sql.id(`points_${collection}_embedding`)}
          on ${table} using hnsw (embedding vector_cosine_ops)`.execute(trx);
      }
      await sql`create index if not exists ${sql.id(`points_${collection}_payload`)}
        on ${table} using gin (payload jsonb_path_ops)`.execute(trx);
      await trx
        .insertInto('vector_collections')
        .values({ name: collection, dimensions })
        .onConflict((conflict) => conflict.column('name').doNothing())
        .execute();
    });
  }

  async upsert(tenantId: string, collection: string, points: readonly ValidPoint[]): Promise<void> {
    const table = pointsTable(collection);
    await this.db.transaction().execute(async (trx) => {
      for (let start = 0; start < points.length; start += UPSERT_CHUNK) {
        const rows = points
          .slice(start, start + UPSERT_CHUNK)
          .map(
            (point) =>
              sql`(${tenantId}, ${point.id}::uuid, ${vectorLiteral(point.vector)}::vector, ${JSON.stringify(point.payload)}::jsonb)`,
          );
        await sql`insert into ${table} (tenant_id, id, embedding, payload)
          values ${sql.join(rows)}
          on conflict (tenant_id, id) do update set embedding = excluded.embedding, payload = excluded.payload`.execute(
          trx,
        );
      }
    });
  }

  async delete(tenantId: string, collection: string, ids: readonly string[]): Promise<void> {
    await sql`delete from ${pointsTable(collection)}
      where tenant_id = ${tenantId} and id = any(${[...ids]}::uuid[])`.execute(this.db);
  }

  async query(
    tenantId: string,
    collection: string,
    values: readonly number[],
    k: number,
    filter: Payload,
  ): Promise<VectorMatch[]> {
    const target = vectorLiteral(values);
    const result = await sql<{
      id: string;
      distance: number;
      payload: Record<string, string | number | boolean>;
    }>`
      select id, embedding <=> ${target}::vector as distance, payload
      from ${pointsTable(collection)}
      where tenant_id = ${tenantId} and payload @> ${JSON.stringify(filter)}::jsonb
      order by embedding <=> ${target}::vector, id
      limit ${k}`.execute(this.db);
    return result.rows.map((row) => ({ id: row.id, score: 1 - row.distance, payload: row.payload }));
  }

  async count(tenantId: string, collection: string): Promise<number> {
    const result = await sql<{ count: number }>`
      select count(*)::integer as count from ${pointsTable(collection)} where tenant_id = ${tenantId}`.execute(
      this.db,
    );
    return result.rows[0]?.count ?? 0;
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db);
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }

  failure(error: unknown): StoreError {
    return new StoreError('store_unavailable', `${this.where} failed: ${describeCause(error, undefined)}`);
  }
}
