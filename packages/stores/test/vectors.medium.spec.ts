import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { openVectorStore, StoreError } from '@aibox/stores';
import type { StoreErrorCode, VectorPoint, VectorStore } from '@aibox/stores';
import { QdrantClient } from '@qdrant/js-client-rest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** One adapter the contract suite runs against. */
interface VectorTarget {
  readonly adapter: 'pgvector' | 'qdrant';
  open(): Promise<VectorStore>;
  /** Opens a store on durable storage named `place`, where the adapter keeps data on this machine. */
  durable?(place: string): Promise<VectorStore>;
  cleanup(): Promise<void>;
}

function pgvectorTarget(): VectorTarget {
  let root: string | undefined;
  return {
    adapter: 'pgvector',
    open: () => openVectorStore({ service: 'vector-test' }),
    async durable(place) {
      root ??= await mkdtemp(join(tmpdir(), 'aibox-vectors-'));
      return openVectorStore({ service: 'vector-test', dataDir: join(root, place, 'vectors') });
    },
    async cleanup() {
      if (root !== undefined) await rm(root, { recursive: true, force: true });
    },
  };
}

/** Collections live under a service name unique to this run and are deleted in cleanup. */
function qdrantTarget(qdrantUrl: string, apiKey: string | undefined): VectorTarget {
  const service = `vector-test-${randomBytes(4).toString('hex')}`;
  return {
    adapter: 'qdrant',
    open: () =>
      openVectorStore({ service, qdrantUrl, ...(apiKey === undefined ? {} : { qdrantApiKey: apiKey }) }),
    async cleanup() {
      const client = new QdrantClient({
        url: qdrantUrl,
        ...(apiKey === undefined ? {} : { apiKey }),
        checkCompatibility: false,
      });
      const { collections } = await client.getCollections();
      for (const { name } of collections) {
        if (name.startsWith(`${service}_`)) await client.deleteCollection(name);
      }
    },
  };
}

async function codeOf(attempt: Promise<unknown>): Promise<StoreErrorCode> {
  try {
    await attempt;
  } catch (error) {
    expect(error).toBeInstanceOf(StoreError);
    return (error as StoreError).code;
  }
  throw new Error('expected a StoreError');
}

const ids = {
  east: randomUUID(),
  northEast: randomUUID(),
  north: randomUUID(),
  west: randomUUID(),
};

function vectorStoreContract(target: VectorTarget): void {
  // A budget, not an assertion: PGlite starts slowly on a loaded machine.
  describe(`vector store on ${target.adapter}`, { timeout: 120_000 }, () => {
    let store: VectorStore;

    beforeAll(async () => {
      store = await target.open();
    });

    afterAll(async () => {
      await store.close();
      await target.cleanup();
    });

    it('returns the top k by cosine similarity, closest first', async () => {
      await store.ensureCollection('compass', { dimensions: 3, distance: 'cosine' });
      await store.upsert('tenant-a', 'compass', [
        { id: ids.west, vector: [-2, 0, 0], payload: { name: 'west' } },
        { id: ids.north, vector: [0, 3, 0], payload: { name: 'north' } },
        { id: ids.east, vector: [1, 0, 0], payload: { name: 'east' } },
        { id: ids.northEast, vector: [1, 1, 0], payload: { name: 'north-east' } },
      ]);

      const top3 = await store.query('tenant-a', 'compass', [5, 0, 0], { k: 3 });
      expect(top3.map((match) => match.payload['name'])).toEqual(['east', 'north-east', 'north']);
      expect(top3.map((match) => match.id)).toEqual([ids.east, ids.northEast, ids.north]);
      expect(top3[0]?.score).toBeCloseTo(1, 5);
      expect(top3[1]?.score).toBeCloseTo(Math.SQRT1_2, 5);
      expect(top3[2]?.score).toBeCloseTo(0, 5);

      const all = await store.query('tenant-a', 'compass', [1, 0, 0], { k: 10 });
      expect(all).toHaveLength(4);
      expect(all[3]).toMatchObject({ id: ids.west, payload: { name: 'west' } });
      expect(all[3]?.score).toBeCloseTo(-1, 5);
      expect(await store.count('tenant-a', 'compass')).toBe(4);
    });

    it('filters on payload equality, every condition at once', async () => {
      await store.ensureCollection('filtered', { dimensions: 2, distance: 'cosine' });
      const points = [
        { id: randomUUID(), vector: [1, 0], payload: { kind: 'note', pinned: true, rank: 2, weight: 0.5 } },
        {
          id: randomUUID(),
          vector: [1, 0.1],
          payload: { kind: 'note', pinned: false, rank: 2, weight: 0.25 },
        },
        { id: randomUUID(), vector: [1, 0.2], payload: { kind: 'task', pinned: true, rank: 3, weight: 0.5 } },
        { id: randomUUID(), vector: [1, 0.3], payload: { kind: '2', pinned: true, rank: 1, weight: 1 } },
      ];
      await store.upsert('tenant-a', 'filtered', points);
      const match = async (filter: Record<string, string | number | boolean>) =>
        (await store.query('tenant-a', 'filtered', [1, 0], { k: 10, filter })).map((found) => found.id);

      expect(await match({ kind: 'note' })).toEqual([points[0]?.id, points[1]?.id]);
      expect(await match({ kind: 'note', pinned: true })).toEqual([points[0]?.id]);
      expect(await match({ rank: 2 })).toEqual([points[0]?.id, points[1]?.id]);
      expect(await match({ weight: 0.5 })).toEqual([points[0]?.id, points[2]?.id]);
      expect(await match({ pinned: false })).toEqual([points[1]?.id]);
      // A string never equals a number.
      expect(await match({ kind: 2 })).toEqual([]);
      expect(await match({ kind: 'none' })).toEqual([]);
      const [found] = await store.query('tenant-a', 'filtered', [1, 0], { k: 1, filter: { kind: 'note' } });
      expect(found?.payload).toEqual({ kind: 'note', pinned: true, rank: 2, weight: 0.5 });
    });

    it('replaces vector and payload when a point is upserted again', async () => {
      await store.ensureCollection('replaced', { dimensions: 2, distance: 'cosine' });
      const id = randomUUID();
      await store.upsert('tenant-a', 'replaced', [
        { id, vector: [1, 0], payload: { version: 1, old: true } },
      ]);
      await store.upsert('tenant-a', 'replaced', [
        { id: id.toUpperCase(), vector: [0, 1], payload: { version: 2 } },
      ]);
      expect(await store.count('tenant-a', 'replaced')).toBe(1);
      const [match] = await store.query('tenant-a', 'replaced', [0, 1], { k: 5 });
      expect(match).toMatchObject({ id, payload: { version: 2 } });
      expect(match?.payload).not.toHaveProperty('old');
      expect(match?.score).toBeCloseTo(1, 5);
    });

    it('deletes points by id and ignores ids it does not have', async () => {
      await store.ensureCollection('deleted', { dimensions: 2, distance: 'cosine' });
      const keep = randomUUID();
      const drop = randomUUID();
      await store.upsert('tenant-a', 'deleted', [
        { id: keep, vector: [1, 0], payload: {} },
        { id: drop, vector: [0, 1], payload: {} },
      ]);
      await store.delete('tenant-a', 'deleted', [drop, randomUUID()]);
      await store.delete('tenant-a', 'deleted', []);
      expect(await store.count('tenant-a', 'deleted')).toBe(1);
      const matches = await store.query('tenant-a', 'deleted', [0, 1], { k: 5 });
      expect(matches.map((match) => match.id)).toEqual([keep]);
    });

    it('keeps tenants apart even with identical ids and vectors', async () => {
      await store.ensureCollection('shared', { dimensions: 2, distance: 'cosine' });
      const same = randomUUID();
      const onlyA = randomUUID();
      await store.upsert('tenant-a', 'shared', [
        { id: same, vector: [1, 0], payload: { owner: 'a' } },
        { id: onlyA, vector: [1, 0.5], payload: { owner: 'a' } },
      ]);
      await store.upsert('tenant-b', 'shared', [{ id: same, vector: [1, 0], payload: { owner: 'b' } }]);

      const seenByA = await store.query('tenant-a', 'shared', [1, 0], { k: 10 });
      expect(seenByA.map((match) => match.payload['owner'])).toEqual(['a', 'a']);
      const seenByB = await store.query('tenant-b', 'shared', [1, 0], { k: 10 });
      expect(seenByB).toEqual([{ id: same, score: expect.closeTo(1, 5) as number, payload: { owner: 'b' } }]);
      expect(await store.query('tenant-c', 'shared', [1, 0], { k: 10 })).toEqual([]);
      expect(await store.query('tenant-b', 'shared', [1, 0], { k: 10, filter: { owner: 'a' } })).toEqual([]);

      await store.delete('tenant-a', 'shared', [same, onlyA]);
      expect(await store.count('tenant-a', 'shared')).toBe(0);
      expect(await store.count('tenant-b', 'shared')).toBe(1);
      expect((await store.query('tenant-b', 'shared', [1, 0], { k: 1 }))[0]?.payload).toEqual({ owner: 'b' });
    });

    it('rejects bad input with a code and stores nothing of a rejected batch', async () => {
      await store.ensureCollection('checked', { dimensions: 3, distance: 'cosine' });
      await store.ensureCollection('checked', { dimensions: 3, distance: 'cosine' }); // idempotent
      const good: VectorPoint = { id: randomUUID(), vector: [1, 2, 3], payload: { ok: true } };
      const upsert = (vector: number[], extra: Partial<VectorPoint> = {}) =>
        store.upsert('tenant-a', 'checked', [good, { ...good, id: randomUUID(), vector, ...extra }]);

      expect(await codeOf(upsert([1, 2]))).toBe('vector_dimension_mismatch');
      expect(await codeOf(upsert([1, 2, 3, 4]))).toBe('vector_dimension_mismatch');
      expect(await codeOf(upsert([1, Number.NaN, 3]))).toBe('vector_invalid');
      expect(await codeOf(upsert([1, Number.POSITIVE_INFINITY, 3]))).toBe('vector_invalid');
      expect(await codeOf(upsert([0, 0, 0]))).toBe('vector_invalid');
      expect(await codeOf(upsert([1, 2, 3], { id: 'not-a-uuid' }))).toBe('point_invalid');
      expect(await codeOf(upsert([1, 2, 3], { id: good.id }))).toBe('point_invalid');
      expect(await codeOf(upsert([1, 2, 3], { payload: { tenant_id: 'tenant-b' } }))).toBe('point_invalid');
      expect(await codeOf(upsert([1, 2, 3], { payload: { nested: { a: 1 } } as never }))).toBe(
        'point_invalid',
      );
      expect(await store.count('tenant-a', 'checked')).toBe(0);

      const query = (vector: number[], k = 3, filter?: Record<string, string | number | boolean>) =>
        store.query('tenant-a', 'checked', vector, { k, ...(filter === undefined ? {} : { filter }) });
      expect(await codeOf(query([1, 2]))).toBe('vector_dimension_mismatch');
      expect(await codeOf(query([Number.NaN, 1, 1]))).toBe('vector_invalid');
      expect(await codeOf(query([1, 2, 3], 0))).toBe('query_invalid');
      expect(await codeOf(query([1, 2, 3], 1001))).toBe('query_invalid');
      expect(await codeOf(query([1, 2, 3], 1.5))).toBe('query_invalid');
      expect(await codeOf(query([1, 2, 3], 3, { 'a.b': 1 }))).toBe('query_invalid');

      expect(await codeOf(store.count('tenant-a', 'missing'))).toBe('collection_unknown');
      expect(await codeOf(store.query('tenant-a', 'missing', [1, 2, 3], { k: 1 }))).toBe(
        'collection_unknown',
      );
      expect(await codeOf(store.upsert('tenant-a', 'missing', [good]))).toBe('collection_unknown');
      expect(await codeOf(store.ensureCollection('checked', { dimensions: 4, distance: 'cosine' }))).toBe(
        'collection_invalid',
      );
      expect(await codeOf(store.ensureCollection('Bad-Name', { dimensions: 4, distance: 'cosine' }))).toBe(
        'collection_invalid',
      );
      expect(await codeOf(store.ensureCollection('fine', { dimensions: 0, distance: 'cosine' }))).toBe(
        'collection_invalid',
      );
      expect(await codeOf(store.count('', 'checked'))).toBe('tenant_invalid');
      expect(await codeOf(store.query('a\nb', 'checked', [1, 2, 3], { k: 1 }))).toBe('tenant_invalid');
    });

    it('answers ping while open and refuses work after close', async () => {
      const other = await target.open();
      await other.ping();
      await other.close();
      await other.close();
      expect(await codeOf(other.ping())).toBe('store_closed');
      expect(await codeOf(other.count('tenant-a', 'compass'))).toBe('store_closed');
    });

    const durable = target.durable?.bind(target);
    it.runIf(durable !== undefined)('keeps points across close and reopen', async () => {
      if (durable === undefined) return;
      const first = await durable('persisted');
      const id = randomUUID();
      try {
        await first.ensureCollection('kept', { dimensions: 2, distance: 'cosine' });
        await first.upsert('tenant-a', 'kept', [{ id, vector: [1, 1], payload: { kept: true } }]);
      } finally {
        await first.close();
      }
      const second = await durable('persisted');
      try {
        const matches = await second.query('tenant-a', 'kept', [1, 1], { k: 1 });
        expect(matches).toEqual([{ id, score: expect.closeTo(1, 5) as number, payload: { kept: true } }]);
      } finally {
        await second.close();
      }
    });
  });
}

vectorStoreContract(pgvectorTarget());

const qdrantUrl = process.env['QDRANT_URL'];
const qdrantRequired = (process.env['AIBOX_TEST_REQUIRE'] ?? '')
  .split(',')
  .some((name) => name.trim() === 'qdrant');
if (qdrantUrl === undefined) {
  if (qdrantRequired) throw new Error('required test dependency qdrant is absent: QDRANT_URL is not set');
  process.stderr.write('skip qdrant: QDRANT_URL is not set\n');
}
describe.runIf(qdrantUrl !== undefined)('Qdrant', () => {
  vectorStoreContract(qdrantTarget(qdrantUrl ?? '', process.env['QDRANT_API_KEY']));
});
