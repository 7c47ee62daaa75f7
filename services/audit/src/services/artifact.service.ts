import type { Readable } from 'node:stream';

import type { PutArtifactResponse } from '@aibox/contracts';
import { isUuid } from '@aibox/identity';
import { ByteLimit } from '@aibox/platform';
import type { ObjectStore, SqlStore } from '@aibox/stores';

import { AuditError } from '../errors/audit.error.js';
import type { AuditTables } from '../repositories/audit-schema.js';

export interface ArtifactHeader {
  tenantId?: string;
  turnId?: string;
  eventId?: string;
  kind?: string;
  contentType?: string;
}

const KIND = /^[a-z][a-z0-9_]{0,31}$/;
const CONTENT_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}(;[ -~]{0,200})?$/i;

/** The object key of a body: content-addressed, so one body is stored once per tenant. */
export function artifactKey(sha256: string): string {
  return `sha256/${sha256}`;
}

/**
 * Captured bodies (prompts, model responses, tool output): streamed into the object store under their
 * SHA-256, recorded per tenant. Events reference them by (kind, sha256); the body is served only when the
 * stored hash is the referenced one.
 */
export class ArtifactService {
  constructor(
    private readonly objects: ObjectStore,
    private readonly store: SqlStore<AuditTables>,
    private readonly maxBytes: number,
  ) {}

  async put(
    tenantId: string,
    header: ArtifactHeader | undefined,
    body: Readable,
  ): Promise<PutArtifactResponse> {
    try {
      if (header === undefined) throw new AuditError('artifact_header_missing');
      if (header.tenantId !== tenantId) throw new AuditError('tenant_mismatch');
      if (!isUuid(header.turnId) || !isUuid(header.eventId))
        throw new AuditError('artifact_invalid', { detail: 'turn_id and event_id must be UUIDs' });
      if (typeof header.kind !== 'string' || !KIND.test(header.kind))
        throw new AuditError('artifact_invalid', { detail: 'kind must match [a-z][a-z0-9_]{0,31}' });
      const contentType =
        header.contentType === undefined || header.contentType === ''
          ? 'application/octet-stream'
          : header.contentType;
      if (!CONTENT_TYPE.test(contentType))
        throw new AuditError('artifact_invalid', { detail: 'content_type is not a media type' });
      const limited = body.pipe(
        new ByteLimit(
          this.maxBytes,
          (max) => new AuditError('artifact_invalid', { detail: `the body exceeds ${max} bytes` }),
        ),
      );
      body.once('error', (error) => limited.destroy(error));
      const stored = await this.objects.putContent(tenantId, limited, { contentType });
      await this.store.forTenant(tenantId).transaction((trx) =>
        trx
          .insertInto('artifacts')
          .values({
            tenant_id: tenantId,
            sha256: stored.sha256,
            size: String(stored.size),
            content_type: contentType,
          })
          .onConflict((conflict) => conflict.columns(['tenant_id', 'sha256']).doNothing())
          .execute(),
      );
      return { sha256: stored.sha256, size: stored.size };
    } catch (error: unknown) {
      // Drain what the caller still sends; the call may end under it, which is no further error.
      body.on('error', () => undefined);
      body.resume();
      throw error;
    }
  }

  /** The stored body with this hash, or `undefined`. */
  async get(
    tenantId: string,
    sha256: string,
  ): Promise<{ body: Readable; size: number; contentType: string } | undefined> {
    const known = await this.store
      .forTenant(tenantId)
      .transaction((trx) =>
        trx.selectFrom('artifacts').select(['sha256']).where('sha256', '=', sha256).executeTakeFirst(),
      );
    if (known === undefined) return undefined;
    const found = await this.objects.get(tenantId, artifactKey(sha256));
    if (found === undefined || found.sha256 !== sha256) {
      found?.body.destroy();
      return undefined;
    }
    return { body: found.body, size: found.size, contentType: found.contentType };
  }
}
