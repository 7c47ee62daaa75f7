import { StoreError } from '../store.js';
import type { Store } from '../store.js';
import { assertServiceName } from '../sql/sql-names.js';
import { assertTenantId } from '../sql/tenant-isolation.js';
import { openPgvectorBackend } from './pgvector.backend.js';
import { openQdrantBackend } from './qdrant.backend.js';
import {
  assertCollectionName,
  assertDimensions,
  assertK,
  assertVector,
  payloadOf,
  pointId,
} from './vector-validation.js';
import type { Payload, PayloadValue } from './vector-validation.js';

export interface VectorStoreOptions {
  /** The owning service; Qdrant collections are named `<service>_<collection>`. */
  readonly service: string;
  /** `QDRANT_URL`: use Qdrant. Unset → pgvector inside an embedded PGlite of the vector store's own. */
  readonly qdrantUrl?: string;
  readonly qdrantApiKey?: string;
  /** Where embedded pgvector keeps its files, e.g. `${AIBOX_DATA_DIR}/<service>/vectors`; unset → in memory. */
  readonly dataDir?: string;
}

export interface CollectionSpec {
  readonly dimensions: number;
  readonly distance: 'cosine';
}

export interface VectorPoint {
  /** A UUID, unique per tenant and collection; upserting it again replaces vector and payload. */
  readonly id: string;
  readonly vector: readonly number[];
  readonly payload: Payload;
}

export interface VectorQuery {
  /** How many matches at most: 1..1000. */
  readonly k: number;
  /** Payload equality conditions, all of which must hold. */
  readonly filter?: Payload;
}

export interface VectorMatch {
  readonly id: string;
  /** Cosine similarity in [-1, 1]; higher is closer. */
  readonly score: number;
  readonly payload: Record<string, PayloadValue>;
}

export interface VectorStore extends Store {
  readonly kind: 'vectors';
  readonly adapter: 'qdrant' | 'pgvector';
  /** Creates the collection if missing; `collection_invalid` if it exists with other dimensions. */
  ensureCollection(name: string, spec: CollectionSpec): Promise<void>;
  upsert(tenantId: string, collection: string, points: readonly VectorPoint[]): Promise<void>;
  /** Removes the tenant's points with these ids; ids the tenant does not have are ignored. */
  delete(tenantId: string, collection: string, ids: readonly string[]): Promise<void>;
  /** The tenant's `k` points closest to `vector` by cosine similarity, closest first. */
  query(
    tenantId: string,
    collection: string,
    vector: readonly number[],
    options: VectorQuery,
  ): Promise<VectorMatch[]>;
  /** How many points the tenant has in the collection. */
  count(tenantId: string, collection: string): Promise<number>;
}

/** A point that passed validation: canonical id, checked vector, plain payload. */
export interface ValidPoint {
  readonly id: string;
  readonly vector: readonly number[];
  readonly payload: Payload;
}

/** What each adapter implements; the store in front validates every input first. */
export interface VectorBackend {
  readonly adapter: 'qdrant' | 'pgvector';
  /** Dimensions of an existing collection, undefined when there is none. */
  dimensionsOf(collection: string): Promise<number | undefined>;
  /** Creates the collection; a concurrent creation of the same collection is not an error. */
  create(collection: string, dimensions: number): Promise<void>;
  upsert(tenantId: string, collection: string, points: readonly ValidPoint[]): Promise<void>;
  delete(tenantId: string, collection: string, ids: readonly string[]): Promise<void>;
  query(
    tenantId: string,
    collection: string,
    vector: readonly number[],
    k: number,
    filter: Payload,
  ): Promise<VectorMatch[]>;
  count(tenantId: string, collection: string): Promise<number>;
  ping(): Promise<void>;
  close(): Promise<void>;
  /** Turns a driver failure into a StoreError naming the backend (never a secret). */
  failure(error: unknown): StoreError;
}

/** Opens the service's vector store: Qdrant when `qdrantUrl` is set, embedded pgvector otherwise. */
export async function openVectorStore(options: VectorStoreOptions): Promise<VectorStore> {
  assertServiceName(options.service);
  const backend =
    options.qdrantUrl === undefined
      ? await openPgvectorBackend(options.dataDir)
      : await openQdrantBackend(options.service, options.qdrantUrl, options.qdrantApiKey);
  return new ValidatingVectorStore(options.service, backend);
}

class ValidatingVectorStore implements VectorStore {
  readonly kind = 'vectors';
  readonly adapter: 'qdrant' | 'pgvector';
  readonly #dimensions = new Map<string, number>();
  #closed = false;

  constructor(
    private readonly service: string,
    private readonly backend: VectorBackend,
  ) {
    this.adapter = backend.adapter;
  }

  async ping(): Promise<void> {
    this.#assertOpen();
    await this.#call(() => this.backend.ping());
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.backend.close();
  }

  async ensureCollection(name: string, spec: CollectionSpec): Promise<void> {
    this.#assertOpen();
    assertCollectionName(name);
    assertDimensions(spec.dimensions);
    const distance: unknown = spec.distance;
    if (distance !== 'cosine') {
      throw new StoreError(
        'collection_invalid',
        `distance "${String(distance)}" is not supported: use cosine`,
      );
    }
    let existing = await this.#call(() => this.backend.dimensionsOf(name));
    if (existing === undefined) {
      await this.#call(() => this.backend.create(name, spec.dimensions));
      existing = await this.#call(() => this.backend.dimensionsOf(name));
    }
    if (existing !== spec.dimensions) {
      throw new StoreError(
        'collection_invalid',
        `collection "${name}" exists with ${String(existing)} dimensions, not ${spec.dimensions}`,
      );
    }
    this.#dimensions.set(name, existing);
  }

  async upsert(tenantId: string, collection: string, points: readonly VectorPoint[]): Promise<void> {
    this.#assertOpen();
    assertTenantId(tenantId);
    const dimensions = await this.#collection(collection);
    const input: unknown = points;
    if (!Array.isArray(input)) throw new StoreError('point_invalid', 'points must be an array');
    const seen = new Set<string>();
    const valid = points.map((point, index): ValidPoint => {
      const candidate: unknown = point;
      if (typeof candidate !== 'object' || candidate === null) {
        throw new StoreError('point_invalid', `point ${String(index)} is not an object`);
      }
      const id = pointId(point.id);
      if (seen.has(id)) throw new StoreError('point_invalid', `point id ${id} appears twice in one upsert`);
      seen.add(id);
      assertVector(point.vector, dimensions, `vector of point ${String(index)}`);
      return { id, vector: point.vector, payload: payloadOf(point.payload, 'point_invalid', 'payload') };
    });
    if (valid.length === 0) return;
    await this.#call(() => this.backend.upsert(tenantId, collection, valid));
  }

  async delete(tenantId: string, collection: string, ids: readonly string[]): Promise<void> {
    this.#assertOpen();
    assertTenantId(tenantId);
    await this.#collection(collection);
    const input: unknown = ids;
    if (!Array.isArray(input)) throw new StoreError('point_invalid', 'ids must be an array');
    const valid = [...new Set(ids.map((id) => pointId(id)))];
    if (valid.length === 0) return;
    await this.#call(() => this.backend.delete(tenantId, collection, valid));
  }

  async query(
    tenantId: string,
    collection: string,
    vector: readonly number[],
    options: VectorQuery,
  ): Promise<VectorMatch[]> {
    this.#assertOpen();
    assertTenantId(tenantId);
    const dimensions = await this.#collection(collection);
    assertVector(vector, dimensions, 'query vector');
    assertK(options.k);
    const filter = payloadOf(options.filter ?? {}, 'query_invalid', 'filter');
    return this.#call(() => this.backend.query(tenantId, collection, vector, options.k, filter));
  }

  async count(tenantId: string, collection: string): Promise<number> {
    this.#assertOpen();
    assertTenantId(tenantId);
    await this.#collection(collection);
    return this.#call(() => this.backend.count(tenantId, collection));
  }

  async #collection(name: string): Promise<number> {
    assertCollectionName(name);
    let dimensions = this.#dimensions.get(name);
    if (dimensions === undefined) {
      // Another replica may have created it since this one started.
      dimensions = await this.#call(() => this.backend.dimensionsOf(name));
      if (dimensions === undefined) {
        throw new StoreError(
          'collection_unknown',
          `collection "${name}" does not exist: call ensureCollection first`,
        );
      }
      this.#dimensions.set(name, dimensions);
    }
    return dimensions;
  }

  async #call<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      if (error instanceof StoreError) throw error;
      throw this.backend.failure(error);
    }
  }

  #assertOpen(): void {
    if (this.#closed) {
      throw new StoreError('store_closed', `the vector store of service "${this.service}" is closed`);
    }
  }
}
