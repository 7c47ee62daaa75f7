import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  consistencyProof,
  fromHex,
  inclusionProof,
  nodeKeyString,
  rootAt,
  verifyConsistency,
  verifyInclusion,
  type NodeKey,
  type NodeReader,
} from '@aibox/audit-proof';
import { PublishStatus, TurnEventServiceClient, type TurnEvent } from '@aibox/contracts';
import {
  generateKeySetValue,
  GRPC_METADATA,
  HEADER,
  newTurnId,
  parseKeySet,
  signCapToken,
  signPrincipal,
} from '@aibox/identity';
import { openSqlStore, type SqlStore } from '@aibox/stores';
import { credentials, Metadata } from '@grpc/grpc-js';
import { sql } from 'kysely';

import type { Benchmark, BenchResult } from './bench.js';
import { freeServicePorts, startChild } from './child-target.js';
import { percentile } from './measure.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const AUDIT_MAIN = join(ROOT, 'services', 'audit', 'dist', 'main.js');
const DEFAULT_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/test';

const PUBLISHERS = 8;
const INGEST_SECONDS = 2;
const BATCH_SIZES = [1, 16, 256] as const;
const SEALED_TURNS = 20;
const LOG_SIZES = [1_000, 100_000, 1_000_000] as const;
const PROOFS_PER_SIZE = 200;

interface BenchTables {
  plain_events: {
    tenant_id: string;
    event_id: string;
    turn_id: string;
    user_id: string;
    service: string;
    type: string;
    occurred_at: Date;
    canonical: string;
  };
  log_nodes: { level: number; idx: string; hash: Uint8Array };
}

/** PostgreSQL when one answers at `DATABASE_URL` (or the default local one), else embedded PGlite. */
async function databaseUrl(): Promise<string | undefined> {
  const url = process.env['DATABASE_URL'] ?? DEFAULT_POSTGRES_URL;
  try {
    const probe = await openSqlStore({ service: 'bench', databaseUrl: url, schema: 'bench_probe' });
    await probe.close();
    return url;
  } catch {
    return undefined;
  }
}

function event(tenantId: string, userId: string, turnId: string, type: string): TurnEvent {
  return {
    eventId: newTurnId(),
    turnId,
    tenantId,
    userId,
    service: 'agent-runtime',
    type,
    occurredAt: new Date(),
    attributes: { model: 'bench-model', tokens: 128, note: 'a typical small attribute set' },
    artifacts: [],
  };
}

/** `size` events spread over turns of 16 (a turn's events arrive in one batch or several). */
function batchOf(tenantId: string, userId: string, size: number): TurnEvent[] {
  const events: TurnEvent[] = [];
  let turnId = newTurnId();
  for (let index = 0; index < size; index += 1) {
    if (index > 0 && index % 16 === 0) turnId = newTurnId();
    events.push(event(tenantId, userId, turnId, index % 16 === 0 ? 'turn_started' : 'tool_called'));
  }
  return events;
}

/** Runs `publishers` loops calling `work` until `seconds` have passed; counts what `work` reports. */
async function loop(
  seconds: number,
  publishers: number,
  work: () => Promise<number>,
): Promise<{ count: number; seconds: number }> {
  const started = performance.now();
  const end = started + seconds * 1000;
  let count = 0;
  await Promise.all(
    Array.from({ length: publishers }, async () => {
      while (performance.now() < end) {
        // Not `count += await work()`: that reads `count` before awaiting and loses the other loops' counts.
        const done = await work();
        count += done;
      }
    }),
  );
  return { count, seconds: (performance.now() - started) / 1000 };
}

/** The same node query as the audit service's log repository: every requested node in one statement. */
function nodeReader(store: SqlStore<BenchTables>): NodeReader {
  return async (keys: readonly NodeKey[]) => {
    const found = new Map<string, Uint8Array>();
    if (keys.length === 0) return found;
    const rows = await store.db
      .selectFrom('log_nodes')
      .select(['level', 'idx', 'hash'])
      .where(
        sql<boolean>`(level, idx) in (select * from unnest(${keys.map((key) => key.level)}::int[], ${keys.map((key) => String(key.index))}::bigint[]))`,
      )
      .execute();
    for (const row of rows)
      found.set(nodeKeyString({ level: row.level, index: Number(row.idx) }), new Uint8Array(row.hash));
    return found;
  };
}

/** A synthetic tenant log of `size` leaves: every perfect-subtree node, computed by the database. */
async function buildLog(store: SqlStore<BenchTables>, size: number): Promise<void> {
  await sql`truncate log_nodes`.execute(store.db);
  await sql`insert into log_nodes select 0, i, sha256('\\x00'::bytea || int8send(i)) from generate_series(0, ${size - 1}::bigint) i`.execute(
    store.db,
  );
  for (let level = 1; 2 ** level <= size; level += 1) {
    await sql`insert into log_nodes
      select ${level}, a.idx / 2, sha256('\\x01'::bytea || a.hash || b.hash)
      from log_nodes a join log_nodes b on b.level = a.level and b.idx = a.idx + 1
      where a.level = ${level - 1} and a.idx % 2 = 0`.execute(store.db);
  }
}

function msPerOp(samples: readonly number[]): { p50Ms: number; p99Ms: number; perSecond: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const total = samples.reduce((sum, value) => sum + value, 0);
  return {
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    perSecond: (samples.length / total) * 1000,
  };
}

/**
 * `audit`: ingest with durable acknowledgement against plain INSERTs of the same rows, seal latency, and
 * proof generation/verification at log sizes 10³, 10⁵ and 10⁶ against a primary-key lookup in the same
 * table — on PostgreSQL when one answers, else on PGlite.
 */
export const auditBenchmark: Benchmark = {
  name: 'audit',
  description: `audit ingest (${PUBLISHERS} publishers, ${INGEST_SECONDS} s per batch size) vs plain INSERTs, seal latency, proofs at 10^3/10^5/10^6 vs a primary-key SELECT`,
  async run(): Promise<BenchResult[]> {
    const url = await databaseUrl();
    const adapter = url === undefined ? 'PGlite' : 'PostgreSQL';
    const workDir = await mkdtemp(join(tmpdir(), 'aibox-bench-audit-'));
    const schema = `bench_audit_${process.pid}`;
    const stops: (() => Promise<void>)[] = [];
    const results: BenchResult[] = [];
    try {
      // --- the service, as its own process ---
      const principalKeys = generateKeySetValue(['bench-principal']);
      const capTokenKeys = generateKeySetValue(['bench-captoken']);
      const port = await freeServicePorts();
      const audit = await startChild({
        name: 'audit',
        command: process.execPath,
        args: [AUDIT_MAIN],
        env: {
          PATH: process.env['PATH'] ?? '',
          PORT: String(port),
          HOST: '127.0.0.1',
          AIBOX_ENV: 'development',
          AIBOX_DATA_DIR: join(workDir, 'data'),
          AIBOX_PRINCIPAL_KEYS: principalKeys,
          AIBOX_CAPTOKEN_KEYS: capTokenKeys,
          AUDIT_SIGNING_KEYS: generateKeySetValue(['bench-audit'], 32),
          AUDIT_SQL_SCHEMA: schema,
          LOG_LEVEL: 'warn',
          ...(url === undefined ? {} : { DATABASE_URL: url }),
        },
        ready: /^audit listening http:\/\//,
        stopWith: 'sigterm',
      });
      stops.push(() => audit.stop());
      const keys = parseKeySet(principalKeys);
      const capKeys = parseKeySet(capTokenKeys);
      const tenantId = 'bench';
      const userId = 'bench-user';
      const principal = (tenant = tenantId): Metadata => {
        const metadata = new Metadata();
        metadata.set(
          GRPC_METADATA.principal,
          signPrincipal(
            {
              tid: tenant,
              uid: userId,
              email: '',
              roles: ['service'],
              iss: 'aibox-internal',
              sub: 'bench',
            },
            keys,
          ),
        );
        return metadata;
      };
      const receiptStatus = async (turnId: string, tenant = tenantId): Promise<number> => {
        const turn = newTurnId();
        const response = await fetch(`http://127.0.0.1:${port}/v1/receipts/${turnId}`, {
          headers: {
            [HEADER.principal]: signPrincipal(
              { tid: tenant, uid: userId, email: '', roles: ['user'], iss: 'bench', sub: userId },
              keys,
            ),
            [HEADER.turnId]: turn,
            [HEADER.capToken]: signCapToken(
              { turn, tid: tenant, uid: userId, caps: ['audit:read'] },
              capKeys,
            ),
          },
        });
        await response.arrayBuffer();
        return response.status;
      };
      const client = new TurnEventServiceClient(`127.0.0.1:${port + 1000}`, credentials.createInsecure());
      stops.push(() => {
        client.close();
        return Promise.resolve();
      });
      const publish = (events: TurnEvent[], tenant = tenantId): Promise<number> =>
        new Promise((done, fail) => {
          client.publish({ events }, principal(tenant), (error, response) => {
            if (error !== null) fail(error);
            else done(response.results.filter((result) => result.status === PublishStatus.ACCEPTED).length);
          });
        });

      // --- the baseline: the same rows as plain INSERTs in a table of the same shape ---
      const store = await openSqlStore<BenchTables>({
        service: 'bench',
        schema: `${schema}_plain`,
        ...(url === undefined ? { dataDir: join(workDir, 'plain') } : { databaseUrl: url }),
      });
      stops.push(() => store.close());
      await sql`create table plain_events (tenant_id text not null, event_id text not null, turn_id text not null, user_id text not null, service text not null, type text not null, occurred_at timestamptz not null, canonical text not null, primary key (tenant_id, event_id))`.execute(
        store.db,
      );
      await sql`create table log_nodes (level int not null, idx bigint not null, hash bytea not null, primary key (level, idx))`.execute(
        store.db,
      );

      await publish(batchOf(tenantId, userId, 16));
      for (const size of BATCH_SIZES) {
        const plain = await loop(INGEST_SECONDS, PUBLISHERS, async () => {
          const rows = batchOf(tenantId, userId, size).map((item) => ({
            tenant_id: item.tenantId,
            event_id: item.eventId,
            turn_id: item.turnId,
            user_id: item.userId,
            service: item.service,
            type: item.type,
            occurred_at: item.occurredAt ?? new Date(),
            canonical: JSON.stringify(item),
          }));
          await store.db.insertInto('plain_events').values(rows).execute();
          return rows.length;
        });
        const ingested = await loop(INGEST_SECONDS, PUBLISHERS, () =>
          publish(batchOf(tenantId, userId, size)),
        );
        const baseline = `plain INSERT of ${size}-row batches (${adapter})`;
        results.push({
          case: baseline,
          unit: 'op',
          perSecond: plain.count / plain.seconds,
          operations: plain.count,
        });
        results.push({
          case: `Publish of ${size}-event batches, durably acknowledged (${adapter})`,
          unit: 'op',
          perSecond: ingested.count / ingested.seconds,
          operations: ingested.count,
          baseline,
        });
      }

      // --- seal latency: from the acknowledged turn_sealed to the receipt being served ---
      // A quiet tenant (its first turn in a while) is sealed at once; a busy one at most once per interval.
      for (const busy of [false, true]) {
        const latencies: number[] = [];
        for (let index = 0; index < SEALED_TURNS; index += 1) {
          const tenant = busy ? tenantId : `quiet-${index}`;
          const turnId = newTurnId();
          await publish(
            ['turn_started', 'model_invoked', 'model_response'].map((type) =>
              event(tenant, userId, turnId, type),
            ),
            tenant,
          );
          await publish([event(tenant, userId, turnId, 'turn_sealed')], tenant);
          const acknowledged = performance.now();
          while ((await receiptStatus(turnId, tenant)) !== 200)
            await new Promise((done) => setTimeout(done, 2));
          latencies.push(performance.now() - acknowledged);
        }
        results.push({
          case: `turn_sealed acknowledged → receipt served, ${busy ? 'busy tenant (turns back to back)' : 'quiet tenant'} (AUDIT_CHECKPOINT_MS 250, ${adapter})`,
          unit: 'op',
          operations: latencies.length,
          ...msPerOp(latencies),
        });
      }

      // --- proofs at growing log sizes ---
      const read = nodeReader(store);
      for (const size of LOG_SIZES) {
        await buildLog(store, size);
        const root = await rootAt(size, read);
        const generate: number[] = [];
        const verify: number[] = [];
        const lookup: number[] = [];
        let bytes = 0;
        for (let index = 0; index < PROOFS_PER_SIZE; index += 1) {
          const leafIndex = Math.floor(Math.random() * size);
          let started = performance.now();
          await store.db
            .selectFrom('log_nodes')
            .select('hash')
            .where('level', '=', 0)
            .where('idx', '=', String(leafIndex))
            .executeTakeFirst();
          lookup.push(performance.now() - started);
          started = performance.now();
          const proof = await inclusionProof(leafIndex, size, read);
          generate.push(performance.now() - started);
          const leaf =
            (await read([{ level: 0, index: leafIndex }])).get(
              nodeKeyString({ level: 0, index: leafIndex }),
            ) ?? fromHex('');
          started = performance.now();
          const ok = await verifyInclusion(leaf, leafIndex, size, proof, root);
          verify.push(performance.now() - started);
          if (!ok) throw new Error(`an inclusion proof at size ${size} did not verify`);
          bytes = Math.max(bytes, proof.length * 32);
        }
        const older = Math.max(1, Math.floor(size / 3));
        const olderRoot = await rootAt(older, read);
        const consistency = await consistencyProof(older, size, read);
        if (!(await verifyConsistency(older, size, consistency, olderRoot, root)))
          throw new Error('consistency failed');
        const baseline = `primary-key SELECT of one node, log of ${size}`;
        results.push({ case: baseline, unit: 'op', operations: lookup.length, ...msPerOp(lookup) });
        results.push({
          case: `inclusion proof generated, log of ${size} (${bytes} bytes; consistency ${consistency.length * 32} bytes)`,
          unit: 'op',
          operations: generate.length,
          ...msPerOp(generate),
          baseline,
        });
        results.push({
          case: `inclusion proof verified, log of ${size}`,
          unit: 'op',
          operations: verify.length,
          ...msPerOp(verify),
          baseline,
        });
      }
      return results;
    } finally {
      for (const stop of stops.reverse()) await stop().catch(() => undefined);
      await rm(workDir, { recursive: true, force: true });
    }
  },
};
