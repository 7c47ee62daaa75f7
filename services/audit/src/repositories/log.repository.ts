import {
  canonicalJson,
  completedNodes,
  formatCheckpoint,
  fromHex,
  leafHash,
  merkleRoot,
  nodeHash,
  nodeKeyString,
  rootAt,
  sha256,
  signNote,
  toHex,
  type NodeKey,
  type NodeReader,
  type NoteSigner,
  type TurnEnvelope,
} from '@aibox/audit-proof';
import type { SqlStore } from '@aibox/stores';
import { sql, type Transaction } from 'kysely';

import type { AuditTables } from './audit-schema.js';

type Trx = Transaction<AuditTables>;

/** Reads stored perfect-subtree nodes of the tenant log in one query. */
export function nodeReader(trx: Pick<Trx, 'selectFrom'>): NodeReader {
  return async (keys: readonly NodeKey[]) => {
    const found = new Map<string, Uint8Array>();
    if (keys.length === 0) return found;
    const rows = await trx
      .selectFrom('log_nodes')
      .select(['level', 'idx', 'hash'])
      .where(
        sql<boolean>`(level, idx) in (select * from unnest(${keys.map((key) => key.level)}::int[], ${keys.map((key) => String(key.index))}::bigint[]))`,
      )
      .execute();
    for (const row of rows) {
      found.set(nodeKeyString({ level: row.level, index: Number(row.idx) }), new Uint8Array(row.hash));
    }
    return found;
  };
}

/** A turn this pass sealed, with where it landed. */
export interface SealedTurn {
  readonly turnId: string;
  readonly logIndex: number;
  readonly envelope: TurnEnvelope;
}

export interface SealResult {
  readonly sealed: readonly SealedTurn[];
  /** The checkpoint signed for the new tree, when anything was sealed. */
  readonly treeSize: number;
}

function iso(value: Date): string {
  return value.toISOString();
}

/**
 * Seals turns into a tenant's log, all in ONE transaction per call: lock the log head; lock the turns (in
 * turn-id order, as ingest does) that are still open; for each, in start order, build the event Merkle
 * tree from its events in commit order, the envelope with its chain link, append the envelope's leaf and
 * every node it completes; then sign one checkpoint for the new tree and drop the turns from the seal
 * queue. A crash anywhere leaves the log as it was before the call: no chain gap, no envelope without its
 * log entry, no checkpoint for an unstored tree.
 */
export class LogRepository {
  constructor(
    private readonly store: SqlStore<AuditTables>,
    private readonly signer: () => NoteSigner,
    private readonly origin: string,
  ) {}

  async seal(
    tenantId: string,
    turnIds: readonly string[],
    now: () => Date = () => new Date(),
  ): Promise<SealResult> {
    return this.store.forTenant(tenantId).transaction(async (trx) => {
      await trx
        .insertInto('log_heads')
        .values({ tenant_id: tenantId, size: '0', chain_seq: '-1', last_envelope_hash: null })
        .onConflict((conflict) => conflict.column('tenant_id').doNothing())
        .execute();
      const head = await trx.selectFrom('log_heads').selectAll().forUpdate().executeTakeFirstOrThrow();
      const turns = await trx
        .selectFrom('turns')
        .select(['turn_id', 'started_at'])
        .where('turn_id', 'in', turnIds.length > 0 ? [...turnIds] : [''])
        .where('state', '=', 'open')
        .orderBy('turn_id')
        .forUpdate()
        .execute();
      turns.sort(
        (a, b) => a.started_at.getTime() - b.started_at.getTime() || (a.turn_id < b.turn_id ? -1 : 1),
      );

      let size = Number(head.size);
      let chainSeq = Number(head.chain_seq);
      let prev = head.last_envelope_hash === null ? null : toHex(new Uint8Array(head.last_envelope_hash));
      const written = new Map<string, Uint8Array>();
      const read = nodeReader(trx);
      const sealed: SealedTurn[] = [];

      for (const turn of turns) {
        const events = await trx
          .selectFrom('events')
          .select(['leaf_hash', 'occurred_at'])
          .where('turn_id', '=', turn.turn_id)
          .orderBy('seq')
          .execute();
        if (events.length === 0) continue;
        const times = events.map((event) => event.occurred_at.getTime());
        chainSeq += 1;
        const envelope: TurnEnvelope = {
          v: 1,
          tenant_id: tenantId,
          turn_id: turn.turn_id,
          event_count: events.length,
          merkle_root: toHex(await merkleRoot(events.map((event) => new Uint8Array(event.leaf_hash)))),
          first_event_at: iso(new Date(Math.min(...times))),
          last_event_at: iso(new Date(Math.max(...times))),
          sealed_at: iso(now()),
          chain: { seq: chainSeq, prev },
        };
        const text = canonicalJson(envelope);
        const envelopeHash = await sha256(text);
        const index = size;
        await this.append(trx, tenantId, index, await leafHash(text), written, read);
        size += 1;
        prev = toHex(envelopeHash);
        await trx
          .updateTable('turns')
          .set({
            state: 'sealed',
            sealed_at: new Date(envelope.sealed_at),
            envelope: text,
            envelope_hash: envelopeHash,
            log_index: String(index),
            chain_seq: String(chainSeq),
          })
          .where('turn_id', '=', turn.turn_id)
          .execute();
        sealed.push({ turnId: turn.turn_id, logIndex: index, envelope });
      }

      if (turnIds.length > 0) {
        await trx
          .deleteFrom('seal_queue')
          .where('tenant_id', '=', tenantId)
          .where('turn_id', 'in', [...turnIds])
          .execute();
      }
      if (sealed.length === 0) return { sealed, treeSize: size };

      const cached: NodeReader = async (keys) => {
        const missing = keys.filter((key) => !written.has(nodeKeyString(key)));
        const found = new Map(await read(missing));
        for (const key of keys) {
          const hit = written.get(nodeKeyString(key));
          if (hit !== undefined) found.set(nodeKeyString(key), hit);
        }
        return found;
      };
      const root = await rootAt(size, cached);
      const signer = this.signer();
      const note = await signNote(
        formatCheckpoint({ origin: `${this.origin}/${tenantId}`, size, rootHash: root }),
        [signer],
      );
      await trx
        .insertInto('checkpoints')
        .values({ tenant_id: tenantId, tree_size: String(size), root, note, signed_at: now() })
        .execute();
      await trx
        .updateTable('log_heads')
        .set({
          size: String(size),
          chain_seq: String(chainSeq),
          last_envelope_hash: prev === null ? null : fromHex(prev),
        })
        .execute();
      return { sealed, treeSize: size };
    });
  }

  /** Stores leaf `index` and every node it completes (each from its stored left sibling). */
  private async append(
    trx: Trx,
    tenantId: string,
    index: number,
    leaf: Uint8Array,
    written: Map<string, Uint8Array>,
    read: NodeReader,
  ): Promise<void> {
    const nodes = completedNodes(index);
    const lefts = nodes.slice(1).map((node) => ({ level: node.level - 1, index: node.index * 2 }));
    const stored = await read(lefts.filter((key) => !written.has(nodeKeyString(key))));
    const rows: AuditTables['log_nodes'][] = [];
    let hash = leaf;
    for (const node of nodes) {
      if (node.level > 0) {
        const leftKey = nodeKeyString({ level: node.level - 1, index: node.index * 2 });
        const left = written.get(leftKey) ?? stored.get(leftKey);
        if (left === undefined) throw new Error(`tenant log is missing node ${leftKey}`);
        hash = await nodeHash(left, hash);
      }
      written.set(nodeKeyString(node), hash);
      rows.push({ tenant_id: tenantId, level: node.level, idx: String(node.index), hash });
    }
    await trx.insertInto('log_nodes').values(rows).execute();
  }
}
