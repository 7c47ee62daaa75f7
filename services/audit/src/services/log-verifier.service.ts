import {
  canonicalJson,
  leafHash,
  merkleRoot,
  nodeHash,
  parseCheckpoint,
  rootAt,
  sha256,
  toHex,
  verifyNote,
  type NoteVerifier,
  type TurnEnvelope,
} from '@aibox/audit-proof';
import type { SqlStore } from '@aibox/stores';
import type { Transaction } from 'kysely';

import type { AuditTables } from '../repositories/audit-schema.js';
import { memoryNodeReader } from './memory-tree.js';

type Trx = Transaction<AuditTables>;

/** What re-verification found wrong first, in log order. */
export type LogFailureCode =
  | 'log_gap'
  | 'envelope_invalid'
  | 'envelope_hash_mismatch'
  | 'chain_link_invalid'
  | 'event_invalid'
  | 'event_count_mismatch'
  | 'events_root_mismatch'
  | 'log_size_mismatch'
  | 'log_node_mismatch'
  | 'checkpoint_invalid'
  | 'checkpoint_mismatch';

export interface LogFailure {
  readonly code: LogFailureCode;
  readonly message: string;
  readonly log_index?: number;
  readonly turn_id?: string;
}

export interface LogVerification {
  readonly ok: boolean;
  readonly tenant_id: string;
  readonly tree_size: number;
  readonly turns_checked: number;
  readonly events_checked: number;
  readonly nodes_checked: number;
  readonly checkpoints_checked: number;
  readonly failure?: LogFailure;
}

const PAGE = 500;

class Failed extends Error {
  constructor(readonly failure: LogFailure) {
    super(failure.message);
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, index) => byte === b[index]);
}

/**
 * Re-verifies a tenant's whole log from what is stored, trusting nothing derived: every turn's events
 * (canonical form, tenant and turn, count, Merkle root), every envelope (canonical form, stored hash, chain
 * link and sequence), the log's leaves and every stored interior node (recomputed from the leaves), and every
 * checkpoint (signature with the published keys, origin, root of its tree size). Stops at the first failure.
 */
export class LogVerifier {
  constructor(
    private readonly store: SqlStore<AuditTables>,
    private readonly verifiers: () => Promise<readonly NoteVerifier[]>,
    private readonly origin: string,
  ) {}

  async verify(tenantId: string): Promise<LogVerification> {
    const counts = { turns: 0, events: 0, nodes: 0, checkpoints: 0 };
    let treeSize = 0;
    try {
      await this.store.forTenant(tenantId).transaction(async (trx) => {
        const head = await trx.selectFrom('log_heads').selectAll().executeTakeFirst();
        treeSize = head === undefined ? 0 : Number(head.size);
        // Sealing may go on meanwhile: everything up to the head read first is immutable, so that is the
        // log verified; what was appended since is left for the next run.
        const leaves = await this.checkTurns(trx, tenantId, treeSize, counts);
        if (leaves.length !== treeSize) {
          throw new Failed({
            code: 'log_size_mismatch',
            message: `the log head says ${treeSize} entries, ${leaves.length} sealed turns were found`,
          });
        }
        counts.nodes = await this.checkNodes(trx, leaves);
        counts.checkpoints = await this.checkCheckpoints(trx, tenantId, leaves);
      });
    } catch (error: unknown) {
      if (!(error instanceof Failed)) throw error;
      return {
        ok: false,
        tenant_id: tenantId,
        tree_size: treeSize,
        turns_checked: counts.turns,
        events_checked: counts.events,
        nodes_checked: counts.nodes,
        checkpoints_checked: counts.checkpoints,
        failure: error.failure,
      };
    }
    return {
      ok: true,
      tenant_id: tenantId,
      tree_size: treeSize,
      turns_checked: counts.turns,
      events_checked: counts.events,
      nodes_checked: counts.nodes,
      checkpoints_checked: counts.checkpoints,
    };
  }

  /** Walks the sealed turns in log order; returns the log's leaf hashes. */
  private async checkTurns(
    trx: Trx,
    tenantId: string,
    size: number,
    counts: { turns: number; events: number },
  ): Promise<Uint8Array[]> {
    const leaves: Uint8Array[] = [];
    let prev: string | null = null;
    for (;;) {
      const turns = await trx
        .selectFrom('turns')
        .select(['turn_id', 'envelope', 'envelope_hash', 'log_index', 'chain_seq'])
        .where('state', '=', 'sealed')
        .where('log_index', '>=', String(leaves.length))
        .where('log_index', '<', String(size))
        .orderBy('log_index')
        .limit(PAGE)
        .execute();
      if (turns.length === 0) {
        if (leaves.length < size) {
          throw new Failed({
            code: 'log_gap',
            message: `no sealed turn holds log entry ${leaves.length}`,
            log_index: leaves.length,
          });
        }
        return leaves;
      }
      for (const turn of turns) {
        const index = leaves.length;
        const at = { log_index: index, turn_id: turn.turn_id };
        if (Number(turn.log_index) !== index) {
          throw new Failed({ code: 'log_gap', message: `no sealed turn holds log entry ${index}`, ...at });
        }
        const text = turn.envelope ?? '';
        let envelope: TurnEnvelope;
        try {
          envelope = JSON.parse(text) as TurnEnvelope;
          if (canonicalJson(envelope) !== text) throw new Error('not canonical');
        } catch {
          throw new Failed({
            code: 'envelope_invalid',
            message: `entry ${index}: the envelope is not canonical JSON`,
            ...at,
          });
        }
        if (
          envelope.tenant_id !== tenantId ||
          envelope.turn_id !== turn.turn_id ||
          (envelope as { v: unknown }).v !== 1
        ) {
          throw new Failed({
            code: 'envelope_invalid',
            message: `entry ${index}: the envelope names another turn`,
            ...at,
          });
        }
        const hash = await sha256(text);
        if (turn.envelope_hash === null || !bytesEqual(hash, new Uint8Array(turn.envelope_hash))) {
          throw new Failed({
            code: 'envelope_hash_mismatch',
            message: `entry ${index}: the stored envelope hash differs`,
            ...at,
          });
        }
        if (
          envelope.chain.seq !== index ||
          envelope.chain.prev !== prev ||
          Number(turn.chain_seq) !== index
        ) {
          throw new Failed({
            code: 'chain_link_invalid',
            message: `entry ${index}: chain seq ${envelope.chain.seq} / prev ${String(envelope.chain.prev)} do not follow the previous envelope`,
            ...at,
          });
        }
        await this.checkEvents(trx, tenantId, turn.turn_id, envelope, index);
        counts.events += envelope.event_count;
        counts.turns += 1;
        prev = toHex(hash);
        leaves.push(await leafHash(text));
      }
    }
  }

  private async checkEvents(
    trx: Trx,
    tenantId: string,
    turnId: string,
    envelope: TurnEnvelope,
    index: number,
  ): Promise<void> {
    const at = { log_index: index, turn_id: turnId };
    const rows = await trx
      .selectFrom('events')
      .select(['event_id', 'canonical'])
      .where('turn_id', '=', turnId)
      .orderBy('seq')
      .execute();
    const leaves: Uint8Array[] = [];
    for (const [position, row] of rows.entries()) {
      let event: Record<string, unknown>;
      try {
        event = JSON.parse(row.canonical) as Record<string, unknown>;
        if (canonicalJson(event) !== row.canonical) throw new Error('not canonical');
      } catch {
        throw new Failed({
          code: 'event_invalid',
          message: `entry ${index}, event ${position}: not canonical JSON`,
          ...at,
        });
      }
      if (
        event['tenant_id'] !== tenantId ||
        event['turn_id'] !== turnId ||
        event['event_id'] !== row.event_id
      ) {
        throw new Failed({
          code: 'event_invalid',
          message: `entry ${index}, event ${position}: names another event, turn or tenant`,
          ...at,
        });
      }
      leaves.push(await leafHash(row.canonical));
    }
    if (rows.length !== envelope.event_count) {
      throw new Failed({
        code: 'event_count_mismatch',
        message: `entry ${index}: ${rows.length} events stored, the envelope says ${envelope.event_count}`,
        ...at,
      });
    }
    if (toHex(await merkleRoot(leaves)) !== envelope.merkle_root) {
      throw new Failed({
        code: 'events_root_mismatch',
        message: `entry ${index}: the events do not hash to the envelope's merkle_root`,
        ...at,
      });
    }
  }

  /** Recomputes every perfect-subtree node from the leaves and compares it with the stored one. */
  private async checkNodes(trx: Trx, leaves: readonly Uint8Array[]): Promise<number> {
    let level: Uint8Array[] = [...leaves];
    let checked = 0;
    for (let height = 0; level.length > 0; height += 1) {
      for (let start = 0; start < level.length; start += PAGE * 4) {
        const rows = await trx
          .selectFrom('log_nodes')
          .select(['idx', 'hash'])
          .where('level', '=', height)
          .where('idx', '>=', String(start))
          .where('idx', '<', String(start + PAGE * 4))
          .orderBy('idx')
          .execute();
        const stored = new Map(rows.map((row) => [Number(row.idx), new Uint8Array(row.hash)]));
        const end = Math.min(level.length, start + PAGE * 4);
        for (let idx = start; idx < end; idx += 1) {
          const expected = level[idx] ?? new Uint8Array();
          const found = stored.get(idx);
          if (found === undefined || !bytesEqual(found, expected)) {
            throw new Failed({
              code: 'log_node_mismatch',
              message: `log node level ${height} index ${idx} is ${found === undefined ? 'missing' : 'not the hash of its children'}`,
              ...(height === 0 ? { log_index: idx } : {}),
            });
          }
          checked += 1;
        }
      }
      const next: Uint8Array[] = [];
      for (let idx = 0; idx + 1 < level.length; idx += 2) {
        next.push(await nodeHash(level[idx] ?? new Uint8Array(), level[idx + 1] ?? new Uint8Array()));
      }
      level = next;
    }
    return checked;
  }

  private async checkCheckpoints(trx: Trx, tenantId: string, leaves: readonly Uint8Array[]): Promise<number> {
    const verifiers = await this.verifiers();
    const read = memoryNodeReader(leaves);
    let checked = 0;
    for (let after = -1; ;) {
      const rows = await trx
        .selectFrom('checkpoints')
        .select(['tree_size', 'root', 'note'])
        .where('tree_size', '>', String(after))
        .where('tree_size', '<=', String(leaves.length))
        .orderBy('tree_size')
        .limit(PAGE)
        .execute();
      if (rows.length === 0) return checked;
      for (const row of rows) {
        const size = Number(row.tree_size);
        after = size;
        let text: string;
        try {
          ({ text } = await verifyNote(row.note, verifiers));
        } catch (error: unknown) {
          throw new Failed({
            code: 'checkpoint_invalid',
            message: `checkpoint of size ${size}: ${error instanceof Error ? error.message : 'the signature does not verify'}`,
          });
        }
        const checkpoint = parseCheckpoint(text);
        const root = size <= leaves.length ? await rootAt(size, read) : undefined;
        if (
          checkpoint.origin !== `${this.origin}/${tenantId}` ||
          checkpoint.size !== size ||
          root === undefined ||
          !bytesEqual(checkpoint.rootHash, root) ||
          !bytesEqual(new Uint8Array(row.root), root)
        ) {
          throw new Failed({
            code: 'checkpoint_mismatch',
            message: `checkpoint of size ${size} does not sign this tenant's log as stored`,
          });
        }
        checked += 1;
      }
    }
  }
}
