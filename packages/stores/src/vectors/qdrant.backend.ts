import { createHash } from 'node:crypto';

import { QdrantClient } from '@qdrant/js-client-rest';
import type { Schemas } from '@qdrant/js-client-rest';

import { StoreError } from '../store.js';
import { describeCause } from '../sql/sql-names.js';
import type { Payload, PayloadValue } from './vector-validation.js';
import type { ValidPoint, VectorBackend, VectorMatch } from './vector-store.js';

const TENANT_KEY = 'tenant_id';
const ID_KEY = 'point_id';
const UPSERT_CHUNK = 256;

/**
 * Qdrant point ids are global to a collection, so two tenants may not share one: the stored id is
 * derived from (tenant, id), and the caller's id travels in the payload.
 */
export function qdrantPointId(tenantId: string, id: string): string {
  const bytes = createHash('sha256').update(`${tenantId}\u0000${id}`).digest().subarray(0, 16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x80; // version 8: a custom, name-based UUID
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80; // RFC 9562 variant
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The Qdrant collection holding a service's collection: service names have no `_`, so this is unambiguous. */
export function qdrantCollectionName(service: string, collection: string): string {
  return `${service}_${collection}`;
}

export async function openQdrantBackend(
  service: string,
  qdrantUrl: string,
  apiKey: string | undefined,
): Promise<VectorBackend> {
  let url: URL;
  try {
    url = new URL(qdrantUrl);
  } catch {
    throw new StoreError('store_config_invalid', 'QDRANT_URL is not a URL (expected http(s)://host:6333)');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new StoreError(
      'store_config_invalid',
      `QDRANT_URL has protocol "${url.protocol}", expected http: or https:`,
    );
  }
  if (url.password !== '' || url.username !== '') {
    throw new StoreError(
      'store_config_invalid',
      'QDRANT_URL must not carry credentials: use the API key setting',
    );
  }
  const client = new QdrantClient({
    url: qdrantUrl,
    ...(apiKey === undefined ? {} : { apiKey }),
    timeout: 30_000,
    checkCompatibility: false,
  });
  const backend = new QdrantBackend(client, service, `Qdrant at ${url.origin}`);
  await backend.ping().catch((error: unknown) => {
    throw backend.failure(error);
  });
  return backend;
}

function tenantConditions(tenantId: string, payload: Payload = {}): Schemas['Condition'][] {
  const conditions: Schemas['Condition'][] = [{ key: TENANT_KEY, match: { value: tenantId } }];
  for (const [key, value] of Object.entries(payload)) conditions.push(equality(key, value));
  return conditions;
}

// Qdrant matches keywords, integers and booleans exactly; a fractional number needs a closed range.
function equality(key: string, value: PayloadValue): Schemas['FieldCondition'] {
  if (typeof value === 'number' && !Number.isInteger(value))
    return { key, range: { gte: value, lte: value } };
  return { key, match: { value } };
}

function isSingleVector(vectors: unknown): vectors is { size: number; distance: string } {
  return (
    typeof vectors === 'object' &&
    vectors !== null &&
    'size' in vectors &&
    typeof vectors.size === 'number' &&
    'distance' in vectors &&
    typeof vectors.distance === 'string'
  );
}

function statusOf(error: unknown): number | undefined {
  if (typeof error === 'object' && error !== null && 'status' in error && typeof error.status === 'number') {
    return error.status;
  }
  return undefined;
}

class QdrantBackend implements VectorBackend {
  readonly adapter = 'qdrant';

  constructor(
    private readonly client: QdrantClient,
    private readonly service: string,
    private readonly where: string,
  ) {}

  #name(collection: string): string {
    return qdrantCollectionName(this.service, collection);
  }

  async dimensionsOf(collection: string): Promise<number | undefined> {
    const name = this.#name(collection);
    const { exists } = await this.client.collectionExists(name);
    if (!exists) return undefined;
    const info = await this.client.getCollection(name);
    const vectors: unknown = info.config.params.vectors;
    if (!isSingleVector(vectors)) {
      throw new StoreError(
        'collection_invalid',
        `Qdrant collection "${name}" has named vectors; one unnamed vector expected`,
      );
    }
    if (vectors.distance !== 'Cosine') {
      throw new StoreError(
        'collection_invalid',
        `Qdrant collection "${name}" uses ${vectors.distance}, not Cosine`,
      );
    }
    return vectors.size;
  }

  async create(collection: string, dimensions: number): Promise<void> {
    const name = this.#name(collection);
    try {
      // Tenant-first layout: no global HNSW graph (m = 0), one graph per tenant (payload_m).
      await this.client.createCollection(name, {
        vectors: { size: dimensions, distance: 'Cosine' },
        hnsw_config: { m: 0, payload_m: 16 },
      });
    } catch (error) {
      // Another replica may have created it first (409): then the caller re-reads its dimensions.
      const { exists } = await this.client.collectionExists(name);
      if (!exists) throw error;
    }
    await this.client.createPayloadIndex(name, {
      wait: true,
      field_name: TENANT_KEY,
      field_schema: { type: 'keyword', is_tenant: true },
    });
  }

  async upsert(tenantId: string, collection: string, points: readonly ValidPoint[]): Promise<void> {
    const name = this.#name(collection);
    for (let start = 0; start < points.length; start += UPSERT_CHUNK) {
      await this.client.upsert(name, {
        wait: true,
        points: points.slice(start, start + UPSERT_CHUNK).map((point) => ({
          id: qdrantPointId(tenantId, point.id),
          vector: [...point.vector],
          payload: { ...point.payload, [TENANT_KEY]: tenantId, [ID_KEY]: point.id },
        })),
      });
    }
  }

  async delete(tenantId: string, collection: string, ids: readonly string[]): Promise<void> {
    // The derived ids already belong to this tenant alone; the tenant condition says so twice.
    await this.client.delete(this.#name(collection), {
      wait: true,
      filter: {
        must: [...tenantConditions(tenantId), { has_id: ids.map((id) => qdrantPointId(tenantId, id)) }],
      },
    });
  }

  async query(
    tenantId: string,
    collection: string,
    vector: readonly number[],
    k: number,
    filter: Payload,
  ): Promise<VectorMatch[]> {
    const { points } = await this.client.query(this.#name(collection), {
      query: [...vector],
      limit: k,
      filter: { must: tenantConditions(tenantId, filter) },
      with_payload: true,
    });
    return points.map((point) => {
      const {
        [TENANT_KEY]: _tenant,
        [ID_KEY]: id,
        ...payload
      } = (point.payload ?? {}) as Record<string, PayloadValue>;
      // Points written by this store always carry point_id; anything else shows Qdrant's own id.
      return { id: typeof id === 'string' ? id : String(point.id), score: point.score, payload };
    });
  }

  async count(tenantId: string, collection: string): Promise<number> {
    const { count } = await this.client.count(this.#name(collection), {
      filter: { must: tenantConditions(tenantId) },
      exact: true,
    });
    return count;
  }

  async ping(): Promise<void> {
    await this.client.versionInfo();
  }

  close(): Promise<void> {
    // The REST client holds no connection of its own to release.
    return Promise.resolve();
  }

  failure(error: unknown): StoreError {
    const status = statusOf(error);
    if (status === 404) {
      return new StoreError(
        'collection_unknown',
        `${this.where}: a collection of service "${this.service}" is gone`,
      );
    }
    const detail =
      status === undefined
        ? describeCause(error, undefined)
        : `HTTP ${String(status)}: ${describeCause(error, undefined)}`;
    return new StoreError('store_unavailable', `${this.where} failed: ${detail}`);
  }
}
