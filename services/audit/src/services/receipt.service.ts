import {
  consistencyProof,
  inclusionProof,
  leafHash,
  sha256,
  toHex,
  type AuditJwk,
  type ProofEvent,
  type Receipt,
  type ReceiptProof,
  type TurnEnvelope,
} from '@aibox/audit-proof';
import type { Principal } from '@aibox/identity';
import type { SqlStore } from '@aibox/stores';
import type { Transaction } from 'kysely';

import { AuditError } from '../errors/audit.error.js';
import type { AuditTables } from '../repositories/audit-schema.js';
import { nodeReader } from '../repositories/log.repository.js';
import type { ArtifactRef, CanonicalEvent } from './event-normalizer.js';
import { memoryNodeReader } from './memory-tree.js';

type Trx = Transaction<AuditTables>;

/** A user sees their own turns; an admin sees every turn of the tenant. */
export function canSee(principal: Principal, turnUserId: string): boolean {
  return principal.roles.includes('admin') || principal.uid === turnUserId;
}

export interface ReplayArtifact extends ArtifactRef {
  /** Whether the body was captured (stored under its hash); the URL serves it then. */
  readonly stored: boolean;
  readonly url: string;
}

export interface ReplayEvent {
  readonly index: number;
  readonly event: CanonicalEvent;
  readonly artifacts: readonly ReplayArtifact[];
}

export interface Replay {
  readonly turn_id: string;
  readonly tenant_id: string;
  readonly user_id: string;
  readonly state: 'open' | 'sealed';
  readonly events: readonly ReplayEvent[];
}

function parseEvent(canonical: string): CanonicalEvent {
  return JSON.parse(canonical) as CanonicalEvent;
}

/**
 * Receipts, proofs, checkpoints and replays of a tenant's log. Proofs come from stored perfect-subtree
 * nodes: O(log n) hashes in one store read whatever the log size.
 */
export class ReceiptService {
  constructor(
    private readonly store: SqlStore<AuditTables>,
    private readonly keys: () => Promise<readonly AuditJwk[]>,
  ) {}

  async jwks(): Promise<{ keys: readonly AuditJwk[] }> {
    return { keys: await this.keys() };
  }

  /** The latest signed checkpoint of the tenant's log, as its signed-note text. */
  async checkpoint(tenantId: string): Promise<string> {
    const row = await this.store.forTenant(tenantId).transaction((trx) => this.latestCheckpoint(trx));
    if (row === undefined) throw new AuditError('log_empty');
    return row.note;
  }

  async receipt(principal: Principal, turnId: string): Promise<Receipt> {
    return this.store
      .forTenant(principal.tid)
      .transaction((trx) => this.buildReceipt(trx, principal, turnId));
  }

  async proof(principal: Principal, turnId: string, fromSize?: number): Promise<ReceiptProof> {
    return this.store.forTenant(principal.tid).transaction(async (trx) => {
      const receipt = await this.buildReceipt(trx, principal, turnId);
      const rows = await trx
        .selectFrom('events')
        .select(['canonical'])
        .where('turn_id', '=', receipt.turn_id)
        .orderBy('seq')
        .execute();
      const leaves = await Promise.all(rows.map((row) => leafHash(row.canonical)));
      const read = memoryNodeReader(leaves);
      const events: ProofEvent[] = [];
      for (const [index, row] of rows.entries()) {
        events.push({
          index,
          event: JSON.parse(row.canonical) as Record<string, unknown>,
          leaf_hash: toHex(leaves[index] ?? new Uint8Array()),
          inclusion: (await inclusionProof(index, rows.length, read)).map(toHex),
        });
      }
      const proof: ReceiptProof = { ...receipt, events };
      if (fromSize === undefined) return proof;
      const size = receipt.log.tree_size;
      if (!Number.isSafeInteger(fromSize) || fromSize < 1 || fromSize > size) {
        throw new AuditError('query_invalid', { detail: `from_size must be an integer from 1 to ${size}` });
      }
      const consistency = await consistencyProof(fromSize, size, nodeReader(trx));
      return { ...proof, consistency: { from_size: fromSize, to_size: size, proof: consistency.map(toHex) } };
    });
  }

  async replay(principal: Principal, turnId: string): Promise<Replay> {
    return this.store.forTenant(principal.tid).transaction(async (trx) => {
      const turn = await this.visibleTurn(trx, principal, turnId);
      const rows = await trx
        .selectFrom('events')
        .select(['canonical'])
        .where('turn_id', '=', turn.turn_id)
        .orderBy('seq')
        .execute();
      const events = rows.map((row) => parseEvent(row.canonical));
      const hashes = [...new Set(events.flatMap((event) => event.artifacts.map((ref) => ref.sha256)))];
      const stored = new Set(
        hashes.length === 0
          ? []
          : (await trx.selectFrom('artifacts').select('sha256').where('sha256', 'in', hashes).execute()).map(
              (row) => row.sha256,
            ),
      );
      return {
        turn_id: turn.turn_id,
        tenant_id: principal.tid,
        user_id: turn.user_id,
        state: turn.state,
        events: events.map((event, index) => ({
          index,
          event,
          artifacts: event.artifacts.map((ref) => ({
            ...ref,
            stored: stored.has(ref.sha256),
            url: `/v1/audit/turns/${turn.turn_id}/artifacts/${event.event_id}/${ref.kind}`,
          })),
        })),
      };
    });
  }

  /** The reference an event of a visible turn holds for `kind`. */
  async artifactRef(
    principal: Principal,
    turnId: string,
    eventId: string,
    kind: string,
  ): Promise<ArtifactRef> {
    return this.store.forTenant(principal.tid).transaction(async (trx) => {
      const turn = await this.visibleTurn(trx, principal, turnId);
      const row = await trx
        .selectFrom('events')
        .select('canonical')
        .where('turn_id', '=', turn.turn_id)
        .where('event_id', '=', eventId.toLowerCase())
        .executeTakeFirst();
      if (row === undefined) throw new AuditError('event_unknown');
      const ref = parseEvent(row.canonical).artifacts.find((candidate) => candidate.kind === kind);
      if (ref === undefined) throw new AuditError('artifact_unknown');
      return ref;
    });
  }

  private async visibleTurn(
    trx: Trx,
    principal: Principal,
    turnId: string,
  ): Promise<Pick<AuditTables['turns'], 'turn_id' | 'user_id' | 'state' | 'envelope' | 'log_index'>> {
    const turn = await trx
      .selectFrom('turns')
      .select(['turn_id', 'user_id', 'state', 'envelope', 'log_index'])
      .where('turn_id', '=', turnId.toLowerCase())
      .executeTakeFirst();
    // Another user's turn is answered exactly like a missing one.
    if (turn === undefined || !canSee(principal, turn.user_id)) throw new AuditError('turn_unknown');
    return turn;
  }

  private latestCheckpoint(
    trx: Trx,
  ): Promise<{ tree_size: string; note: string; root: Uint8Array } | undefined> {
    return trx
      .selectFrom('checkpoints')
      .select(['tree_size', 'note', 'root'])
      .orderBy('tree_size', 'desc')
      .limit(1)
      .executeTakeFirst();
  }

  private async buildReceipt(trx: Trx, principal: Principal, turnId: string): Promise<Receipt> {
    const turn = await this.visibleTurn(trx, principal, turnId);
    if (turn.state !== 'sealed' || turn.envelope === null || turn.log_index === null) {
      throw new AuditError('receipt_pending');
    }
    const checkpoint = await this.latestCheckpoint(trx);
    const index = Number(turn.log_index);
    if (checkpoint === undefined || Number(checkpoint.tree_size) <= index)
      throw new AuditError('receipt_pending');
    const size = Number(checkpoint.tree_size);
    const envelope = JSON.parse(turn.envelope) as TurnEnvelope;
    const inclusion = await inclusionProof(index, size, nodeReader(trx));
    return {
      turn_id: turn.turn_id,
      tenant_id: principal.tid,
      envelope,
      envelope_hash: toHex(await sha256(turn.envelope)),
      log: {
        index,
        tree_size: size,
        root: toHex(new Uint8Array(checkpoint.root)),
        inclusion: inclusion.map(toHex),
        checkpoint: checkpoint.note,
      },
    };
  }
}
