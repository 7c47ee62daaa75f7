import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { StoreError } from '../store.js';
import { qdrantPointId } from './qdrant.backend.js';
import { openVectorStore } from './vector-store.js';

interface Recorded {
  readonly method: string;
  readonly path: string;
  readonly body: Record<string, unknown> | undefined;
  readonly apiKey: string | undefined;
}

type Reply = { status: number; result: unknown } | undefined;

/**
 * A loopback HTTP server that records what the Qdrant adapter sends and answers like Qdrant's REST API
 * does for the requests these tests make. It checks request shapes, not Qdrant's search itself: the
 * contract suite covers that against a real Qdrant when QDRANT_URL is set.
 */
class RecordingQdrant {
  readonly requests: Recorded[] = [];
  readonly collections = new Map<string, number>();
  queryPoints: unknown[] = [];
  #server: Server | undefined;

  async start(): Promise<string> {
    this.#server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const url = new URL(request.url ?? '/', 'http://127.0.0.1');
        const recorded: Recorded = {
          method: request.method ?? 'GET',
          path: url.pathname,
          body: text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>),
          apiKey: request.headers['api-key'] as string | undefined,
        };
        this.requests.push(recorded);
        const reply = this.#answer(recorded) ?? { status: 404, result: undefined };
        response.writeHead(reply.status, { 'content-type': 'application/json' });
        response.end(
          JSON.stringify(
            reply.status === 200
              ? { result: reply.result, status: 'ok', time: 0 }
              : { status: { error: `Not found: ${recorded.path}` }, time: 0 },
          ),
        );
      });
    });
    await new Promise<void>((resolve) => this.#server?.listen(0, '127.0.0.1', resolve));
    const { port } = this.#server.address() as AddressInfo;
    return `http://127.0.0.1:${String(port)}`;
  }

  async stop(): Promise<void> {
    await new Promise((resolve) => this.#server?.close(resolve));
  }

  #answer({ method, path, body }: Recorded): Reply {
    if (method === 'GET' && path === '/') return { status: 200, result: undefined };
    const match = /^\/collections\/([^/]+)(\/.*)?$/.exec(path);
    const name = match?.[1];
    if (name === undefined) return undefined;
    const rest = match?.[2] ?? '';
    const size = this.collections.get(name);
    const updated = { status: 200, result: { operation_id: 1, status: 'completed' } };
    if (method === 'GET' && rest === '/exists')
      return { status: 200, result: { exists: size !== undefined } };
    if (method === 'PUT' && rest === '') {
      const vectors = body?.['vectors'] as { size: number };
      this.collections.set(name, vectors.size);
      return { status: 200, result: true };
    }
    if (size === undefined) return undefined;
    if (method === 'GET' && rest === '') {
      return { status: 200, result: { config: { params: { vectors: { size, distance: 'Cosine' } } } } };
    }
    if (method === 'PUT' && (rest === '/index' || rest === '/points')) return updated;
    if (method === 'POST' && rest === '/points/delete') return updated;
    if (method === 'POST' && rest === '/points/count') return { status: 200, result: { count: 3 } };
    if (method === 'POST' && rest === '/points/query')
      return { status: 200, result: { points: this.queryPoints } };
    return undefined;
  }
}

const tenantCondition = (tenant: string) => ({ key: 'tenant_id', match: { value: tenant } });

describe('Qdrant adapter requests', () => {
  const qdrant = new RecordingQdrant();
  let url: string;

  beforeAll(async () => {
    url = await qdrant.start();
  });

  afterAll(async () => {
    await qdrant.stop();
  });

  beforeEach(() => {
    qdrant.requests.length = 0;
  });

  it('creates a tenant-first collection named after the service, with a tenant index', async () => {
    const store = await openVectorStore({ service: 'memory', qdrantUrl: url, qdrantApiKey: 'key-1' });
    expect(store.adapter).toBe('qdrant');
    await store.ensureCollection('memories', { dimensions: 4, distance: 'cosine' });

    const create = qdrant.requests.find(
      (request) => request.method === 'PUT' && request.path === '/collections/memory_memories',
    );
    expect(create?.body).toMatchObject({
      vectors: { size: 4, distance: 'Cosine' },
      hnsw_config: { m: 0, payload_m: 16 },
    });
    const index = qdrant.requests.find((request) => request.path === '/collections/memory_memories/index');
    expect(index?.body).toEqual({
      field_name: 'tenant_id',
      field_schema: { type: 'keyword', is_tenant: true },
    });
    expect(qdrant.requests.every((request) => request.apiKey === 'key-1')).toBe(true);
  });

  it('stores each tenant under its own point id and keeps the tenant in the payload', async () => {
    const store = await openVectorStore({ service: 'memory', qdrantUrl: url });
    await store.ensureCollection('memories', { dimensions: 4, distance: 'cosine' });
    const id = randomUUID();
    await store.upsert('tenant-a', 'memories', [{ id, vector: [1, 0, 0, 0], payload: { kind: 'fact' } }]);
    await store.upsert('tenant-b', 'memories', [{ id, vector: [1, 0, 0, 0], payload: { kind: 'fact' } }]);

    const bodies = qdrant.requests
      .filter((request) => request.path === '/collections/memory_memories/points')
      .map((request) => (request.body?.['points'] as Record<string, unknown>[])[0]);
    expect(bodies).toEqual([
      {
        id: qdrantPointId('tenant-a', id),
        vector: [1, 0, 0, 0],
        payload: { kind: 'fact', tenant_id: 'tenant-a', point_id: id },
      },
      {
        id: qdrantPointId('tenant-b', id),
        vector: [1, 0, 0, 0],
        payload: { kind: 'fact', tenant_id: 'tenant-b', point_id: id },
      },
    ]);
    expect(qdrantPointId('tenant-a', id)).not.toBe(qdrantPointId('tenant-b', id));
    expect(qdrantPointId('tenant-a', id)).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });

  it('puts the tenant into every query, count and delete', async () => {
    const store = await openVectorStore({ service: 'memory', qdrantUrl: url });
    await store.ensureCollection('memories', { dimensions: 4, distance: 'cosine' });
    const id = randomUUID();
    qdrant.queryPoints = [
      {
        id: qdrantPointId('tenant-a', id),
        version: 1,
        score: 0.75,
        payload: { kind: 'fact', tenant_id: 'tenant-a', point_id: id },
      },
    ];
    const matches = await store.query('tenant-a', 'memories', [0, 1, 0, 0], {
      k: 5,
      filter: { kind: 'fact', weight: 0.5, rank: 2 },
    });
    expect(matches).toEqual([{ id, score: 0.75, payload: { kind: 'fact' } }]);
    expect(await store.count('tenant-a', 'memories')).toBe(3);
    await store.delete('tenant-a', 'memories', [id]);

    const sent = (path: string) =>
      qdrant.requests.find((request) => request.path === `/collections/memory_memories/points/${path}`)?.body;
    expect(sent('query')).toMatchObject({
      query: [0, 1, 0, 0],
      limit: 5,
      with_payload: true,
      filter: {
        must: [
          tenantCondition('tenant-a'),
          { key: 'kind', match: { value: 'fact' } },
          { key: 'weight', range: { gte: 0.5, lte: 0.5 } },
          { key: 'rank', match: { value: 2 } },
        ],
      },
    });
    expect(sent('count')).toMatchObject({ exact: true, filter: { must: [tenantCondition('tenant-a')] } });
    expect(sent('delete')).toMatchObject({
      filter: { must: [tenantCondition('tenant-a'), { has_id: [qdrantPointId('tenant-a', id)] }] },
    });
  });

  it('reports an unknown collection and an unreachable server with their codes', async () => {
    const store = await openVectorStore({ service: 'memory', qdrantUrl: url });
    await expect(store.count('tenant-a', 'absent')).rejects.toMatchObject({ code: 'collection_unknown' });

    await qdrant.stop();
    try {
      await expect(store.ping()).rejects.toMatchObject({ code: 'store_unavailable' });
      const refused = await openVectorStore({ service: 'memory', qdrantUrl: url }).catch(
        (error: unknown) => error,
      );
      expect(refused).toBeInstanceOf(StoreError);
      expect((refused as StoreError).code).toBe('store_unavailable');
    } finally {
      url = await qdrant.start();
    }
  });

  it('rejects a QDRANT_URL that is not http(s) or carries credentials', async () => {
    for (const qdrantUrl of [
      'qdrant.internal:6333',
      'ftp://127.0.0.1:6333',
      'http://user:hunter2@127.0.0.1:6333',
    ]) {
      const error = await openVectorStore({ service: 'memory', qdrantUrl }).catch(
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(StoreError);
      expect((error as StoreError).code).toBe('store_config_invalid');
      expect((error as StoreError).message).not.toContain('hunter2');
    }
  });
});
