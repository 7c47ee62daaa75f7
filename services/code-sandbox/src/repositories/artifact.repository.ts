import type { Selectable } from 'kysely';

import type { SqlStore } from '@aibox/stores';

import type { ArtifactTables } from './artifact-schema.js';

export type ArtifactRow = Selectable<ArtifactTables['artifacts']>;

export interface NewArtifact {
  readonly id: string;
  readonly sandboxId: string;
  readonly userId: string;
  readonly path: string;
  readonly name: string;
  readonly objectKey: string;
  readonly sha256: string;
  readonly size: number;
  readonly contentType: string;
}

/**
 * Artifact records. Every method takes the tenant and the sandbox: the caller has already decided that the
 * sandbox is theirs to see, and an artifact is found only under its own sandbox.
 */
export class ArtifactRepository {
  constructor(private readonly sql: SqlStore<ArtifactTables>) {}

  async create(tenantId: string, artifact: NewArtifact): Promise<ArtifactRow> {
    return this.sql.forTenant(tenantId).transaction((trx) =>
      trx
        .insertInto('artifacts')
        .values({
          id: artifact.id,
          tenant_id: tenantId,
          sandbox_id: artifact.sandboxId,
          user_id: artifact.userId,
          path: artifact.path,
          name: artifact.name,
          object_key: artifact.objectKey,
          sha256: artifact.sha256,
          size: String(artifact.size),
          content_type: artifact.contentType,
        })
        .returningAll()
        .executeTakeFirstOrThrow(),
    );
  }

  async get(tenantId: string, sandboxId: string, id: string): Promise<ArtifactRow | undefined> {
    return this.sql
      .forTenant(tenantId)
      .transaction((trx) =>
        trx
          .selectFrom('artifacts')
          .selectAll()
          .where('sandbox_id', '=', sandboxId)
          .where('id', '=', id)
          .executeTakeFirst(),
      );
  }

  /** In the order they were made (ids are UUIDv7), `limit` at a time from after the id `after`. */
  async list(
    tenantId: string,
    sandboxId: string,
    page: { readonly limit: number; readonly after?: string | undefined },
  ): Promise<ArtifactRow[]> {
    return this.sql.forTenant(tenantId).transaction((trx) => {
      let query = trx.selectFrom('artifacts').selectAll().where('sandbox_id', '=', sandboxId);
      if (page.after !== undefined) query = query.where('id', '>', page.after);
      return query.orderBy('id', 'asc').limit(page.limit).execute();
    });
  }

  /** The removed row, or `undefined` when there was none. */
  async delete(tenantId: string, sandboxId: string, id: string): Promise<ArtifactRow | undefined> {
    return this.sql
      .forTenant(tenantId)
      .transaction((trx) =>
        trx
          .deleteFrom('artifacts')
          .where('sandbox_id', '=', sandboxId)
          .where('id', '=', id)
          .returningAll()
          .executeTakeFirst(),
      );
  }
}
