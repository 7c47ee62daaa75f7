import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { verifyReceiptProof, type Receipt, type ReceiptProof } from '@aibox/audit-proof';
import { newTurnId } from '@aibox/identity';
import { needs } from '@aibox/testing';
import { sql } from 'kysely';

import { AUDIT_RUNTIME } from '../src/audit.module.js';
import type { AuditRuntime } from '../src/services/audit-runtime.js';
import {
  Caller,
  eventually,
  newAuditIdentity,
  newTenant,
  removeIdentity,
  startAudit,
  turnEvent,
  type Adapter,
  type TestAudit,
  type Who,
} from './support/audit.js';

const adapters: Adapter[] = ['pglite', ...((await needs('postgres')) ? (['postgres'] as const) : [])];

interface Tamper {
  readonly name: string;
  /** The code `/v1/admin/audit/verify` must report. */
  readonly logCode: string;
  /** Codes the offline verifier may report for the proof of the damaged turn (it stops at the first). */
  readonly proofCodes: readonly string[];
  /** Damages what is stored; returns how to undo it. */
  apply(runtime: AuditRuntime, turnId: string): Promise<() => Promise<void>>;
}

type Db = AuditRuntime['sql']['db'];

async function eventRows(
  db: Db,
  turnId: string,
): Promise<{ event_id: string; seq: string; canonical: string }[]> {
  return db
    .selectFrom('events')
    .select(['event_id', 'seq', 'canonical'])
    .where('turn_id', '=', turnId)
    .orderBy('seq')
    .execute();
}

async function turnRow(
  db: Db,
  turnId: string,
): Promise<{ envelope: string; log_index: string; tenant_id: string }> {
  const row = await db
    .selectFrom('turns')
    .select(['envelope', 'log_index', 'tenant_id'])
    .where('turn_id', '=', turnId)
    .executeTakeFirstOrThrow();
  return { envelope: row.envelope ?? '', log_index: row.log_index ?? '', tenant_id: row.tenant_id };
}

/** Replaces one character inside a JSON string value, so the text stays valid JSON. */
function flipLetter(text: string, needle: string): string {
  const at = text.indexOf(needle);
  if (at < 0) throw new Error(`${needle} is not in ${text}`);
  const letter = text[at + needle.length] ?? 'a';
  return `${text.slice(0, at + needle.length)}${letter === 'x' ? 'y' : 'x'}${text.slice(at + needle.length + 1)}`;
}

/** Rewrites lines of the tenant's latest checkpoint note; returns how to put it back. */
async function damageLatestCheckpoint(
  db: Db,
  turnId: string,
  change: (lines: string[]) => void,
): Promise<() => Promise<void>> {
  const { tenant_id } = await turnRow(db, turnId);
  const latest = await db
    .selectFrom('checkpoints')
    .select(['tree_size', 'note'])
    .where('tenant_id', '=', tenant_id)
    .orderBy('tree_size', 'desc')
    .executeTakeFirstOrThrow();
  const write = async (note: string): Promise<void> => {
    await db
      .updateTable('checkpoints')
      .set({ note })
      .where('tenant_id', '=', tenant_id)
      .where('tree_size', '=', latest.tree_size)
      .execute();
  };
  const lines = latest.note.split('\n');
  change(lines);
  await write(lines.join('\n'));
  return () => write(latest.note);
}

const TAMPERS: readonly Tamper[] = [
  {
    name: 'one byte of a stored event',
    logCode: 'events_root_mismatch',
    proofCodes: ['event_inclusion_invalid'],
    async apply({ sql: store }, turnId) {
      const [, second] = await eventRows(store.db, turnId);
      if (second === undefined) throw new Error('no event');
      await store.db
        .updateTable('events')
        .set({ canonical: flipLetter(second.canonical, '"note":"') })
        .where('event_id', '=', second.event_id)
        .execute();
      return async () => {
        await store.db
          .updateTable('events')
          .set({ canonical: second.canonical })
          .where('event_id', '=', second.event_id)
          .execute();
      };
    },
  },
  {
    name: 'an envelope field',
    logCode: 'envelope_hash_mismatch',
    proofCodes: ['log_inclusion_invalid'],
    async apply({ sql: store }, turnId) {
      const { envelope } = await turnRow(store.db, turnId);
      const changed = envelope.replace(
        /"sealed_at":"(\d{4})/,
        (_match, year: string) => `"sealed_at":"${Number(year) + 1}`,
      );
      await store.db.updateTable('turns').set({ envelope: changed }).where('turn_id', '=', turnId).execute();
      return async () => {
        await store.db.updateTable('turns').set({ envelope }).where('turn_id', '=', turnId).execute();
      };
    },
  },
  {
    name: 'a chain link',
    logCode: 'envelope_hash_mismatch',
    proofCodes: ['log_inclusion_invalid', 'chain_link_invalid'],
    async apply({ sql: store }, turnId) {
      const { envelope } = await turnRow(store.db, turnId);
      const changed = envelope.replace(
        /"prev":"([0-9a-f])/,
        (_match, digit: string) => `"prev":"${digit === '0' ? '1' : '0'}`,
      );
      if (changed === envelope) throw new Error('the envelope has no prev');
      await store.db.updateTable('turns').set({ envelope: changed }).where('turn_id', '=', turnId).execute();
      return async () => {
        await store.db.updateTable('turns').set({ envelope }).where('turn_id', '=', turnId).execute();
      };
    },
  },
  {
    name: 'a log node',
    logCode: 'log_node_mismatch',
    proofCodes: ['log_inclusion_invalid', 'checkpoint_mismatch'],
    async apply({ sql: store }, turnId) {
      const { log_index, tenant_id } = await turnRow(store.db, turnId);
      // The leaf's sibling: it is in the damaged turn's inclusion proof.
      const sibling = String(Number(log_index) ^ 1);
      const row = await store.db
        .selectFrom('log_nodes')
        .select('hash')
        .where('tenant_id', '=', tenant_id)
        .where('level', '=', 0)
        .where('idx', '=', sibling)
        .executeTakeFirstOrThrow();
      const damaged = new Uint8Array(row.hash);
      damaged[0] = (damaged[0] ?? 0) ^ 1;
      await store.db
        .updateTable('log_nodes')
        .set({ hash: damaged })
        .where('tenant_id', '=', tenant_id)
        .where('level', '=', 0)
        .where('idx', '=', sibling)
        .execute();
      return async () => {
        await store.db
          .updateTable('log_nodes')
          .set({ hash: new Uint8Array(row.hash) })
          .where('tenant_id', '=', tenant_id)
          .where('level', '=', 0)
          .where('idx', '=', sibling)
          .execute();
      };
    },
  },
  {
    name: 'a checkpoint',
    logCode: 'checkpoint_invalid',
    proofCodes: ['checkpoint_signature_invalid'],
    apply: ({ sql: store }, turnId) =>
      damageLatestCheckpoint(store.db, turnId, (lines) => {
        const root = lines[2] ?? '';
        lines[2] = `${root.startsWith('A') ? 'B' : 'A'}${root.slice(1)}`;
      }),
  },
  {
    name: 'a signature',
    logCode: 'checkpoint_invalid',
    proofCodes: ['checkpoint_signature_invalid'],
    apply: ({ sql: store }, turnId) =>
      damageLatestCheckpoint(store.db, turnId, (lines) => {
        // A character near the end of the base64 signature.
        const last = lines.length - 2;
        const line = lines[last] ?? '';
        const at = line.length - 4;
        lines[last] = `${line.slice(0, at)}${line[at] === 'A' ? 'B' : 'A'}${line.slice(at + 1)}`;
      }),
  },
  {
    name: 'two events reordered',
    logCode: 'events_root_mismatch',
    proofCodes: ['event_inclusion_invalid'],
    async apply({ sql: store }, turnId) {
      const [first, second] = await eventRows(store.db, turnId);
      if (first === undefined || second === undefined) throw new Error('no events');
      const place = async (moves: readonly (readonly [string, string])[]): Promise<void> => {
        for (const [eventId, seq] of moves) {
          await sql`update events set seq = ${seq}::bigint where event_id = ${eventId}`.execute(store.db);
        }
      };
      await place([
        [first.event_id, second.seq],
        [second.event_id, first.seq],
      ]);
      return () =>
        place([
          [first.event_id, first.seq],
          [second.event_id, second.seq],
        ]);
    },
  },
  {
    name: 'one event dropped',
    logCode: 'event_count_mismatch',
    proofCodes: ['event_missing'],
    async apply({ sql: store }, turnId) {
      const [, second] = await eventRows(store.db, turnId);
      const row = await store.db
        .selectFrom('events')
        .selectAll()
        .where('event_id', '=', second?.event_id ?? '')
        .executeTakeFirstOrThrow();
      await store.db.deleteFrom('events').where('event_id', '=', row.event_id).execute();
      return async () => {
        await store.db.insertInto('events').values(row).execute();
      };
    },
  },
];

describe.each(adapters)('tampering with the audit log on %s', (adapter) => {
  let audit: TestAudit;
  let runtime: AuditRuntime;
  let keys: unknown;
  const who: Who = { tid: newTenant(), uid: 'ada' };
  const admin: Who = { tid: who.tid, uid: 'root', roles: ['user', 'admin'] };
  const turns: string[] = [];
  const receipts: Receipt[] = [];

  beforeAll(async () => {
    audit = await startAudit(await newAuditIdentity(adapter));
    runtime = audit.service.app.get<AuditRuntime>(AUDIT_RUNTIME);
    const caller = new Caller(audit, who);
    keys = (await caller.get('/v1/audit/keys')).json();
    for (let index = 0; index < 4; index += 1) {
      const turnId = newTurnId();
      await caller.publish(
        ['turn_started', 'model_invoked', 'tool_called', 'turn_sealed'].map((type) =>
          turnEvent(who, turnId, type),
        ),
      );
      turns.push(turnId);
      receipts.push(
        await eventually(async () => {
          const answer = await caller.get(`/v1/receipts/${turnId}`);
          return answer.status === 200 ? answer.json<Receipt>() : undefined;
        }),
      );
    }
  });
  afterAll(async () => {
    await audit.close();
    await removeIdentity(audit.identity);
  });

  async function bothVerdicts(): Promise<{
    log: Record<string, unknown>;
    proof: Awaited<ReturnType<typeof verifyReceiptProof>>;
  }> {
    const caller = new Caller(audit, admin);
    const turnId = turns[2] ?? '';
    const log = (await caller.get('/v1/admin/audit/verify')).json();
    const answer = await caller.get(`/v1/receipts/${turnId}/proof`);
    expect(answer.status).toBe(200);
    const proof = await verifyReceiptProof(answer.json<ReceiptProof>(), keys, { prev: receipts[1] });
    return { log, proof };
  }

  it('verifies while nothing is damaged', async () => {
    const { log, proof } = await bothVerdicts();
    expect(log).toMatchObject({ ok: true, tree_size: 4, turns_checked: 4 });
    expect(proof).toMatchObject({ ok: true });
  });

  it.each(TAMPERS)('detects $name', async (tamper) => {
    const undo = await tamper.apply(runtime, turns[2] ?? '');
    try {
      const { log, proof } = await bothVerdicts();
      expect(log).toMatchObject({ ok: false, failure: { code: tamper.logCode } });
      expect(proof.ok).toBe(false);
      if (!proof.ok) expect(tamper.proofCodes).toContain(proof.failure.code);
    } finally {
      await undo();
    }
    const { log, proof } = await bothVerdicts();
    expect(log).toMatchObject({ ok: true });
    expect(proof).toMatchObject({ ok: true });
  });
});
