import { enableTenantIsolation, type Migration } from '@aibox/stores';
import { sql, type Generated } from 'kysely';

/**
 * Artifacts are tenant data (row-level security; the repository uses `forTenant`): copies of workspace files
 * in the object store, under `object_key`. A row outlives its sandbox's workspace and the sandbox itself,
 * whose row stays (in `deleted`) for as long as the service keeps it; the foreign key refuses to remove a
 * sandbox row that still has artifacts, so a purge cannot leave their objects behind unreferenced.
 */
export interface ArtifactTables {
  artifacts: {
    id: string;
    tenant_id: string;
    sandbox_id: string;
    /** Who copied it out (the owner, or an admin of the tenant). */
    user_id: string;
    /** As the sandbox saw it, `/workspace/…`. */
    path: string;
    name: string;
    object_key: string;
    sha256: string;
    /** `bigint`: both drivers answer it as text, never a rounded number. */
    size: string;
    content_type: string;
    created_at: Generated<Date>;
  };
}

export const ARTIFACT_MIGRATIONS: Readonly<Record<string, Migration>> = {
  '0003_artifacts': {
    async up(db) {
      await db.schema
        .createTable('artifacts')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('sandbox_id', 'text', (c) => c.notNull().references('sandboxes.id').onDelete('restrict'))
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('path', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('object_key', 'text', (c) => c.notNull())
        .addColumn('sha256', 'text', (c) => c.notNull().check(sql`sha256 ~ '^[0-9a-f]{64}$'`))
        .addColumn('size', 'bigint', (c) => c.notNull().check(sql`size >= 0`))
        .addColumn('content_type', 'text', (c) => c.notNull())
        .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
      await db.schema
        .createIndex('artifacts_sandbox')
        .on('artifacts')
        .columns(['sandbox_id', 'id'])
        .execute();
      await enableTenantIsolation(db, 'artifacts');
    },
  },
};
