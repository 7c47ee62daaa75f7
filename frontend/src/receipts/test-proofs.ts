import {
  auditJwk,
  canonicalJson,
  completedNodes,
  envelopeHash,
  formatCheckpoint,
  generateNoteSigner,
  inclusionProof,
  leafHash,
  merkleRoot,
  nodeHash,
  nodeKeyString,
  signNote,
  toHex,
  type AuditJwk,
  type NodeReader,
  type NoteSigner,
  type ProofEvent,
  type ReceiptProof,
  type TurnEnvelope,
} from '@aibox/audit-proof';

/** One event of a turn, as a service publishes it: its type, service and attributes. */
export interface TurnEventSpec {
  readonly type: string;
  readonly service?: string;
  readonly attributes?: Record<string, unknown>;
}

/** An audit signer and the keys `GET /v1/audit/keys` would publish for it. */
export interface TestAuditor {
  readonly signer: NoteSigner;
  readonly keys: { keys: AuditJwk[] };
  /** A genuine receipt proof of a turn with these events, sealed alone in the tenant's log and signed. */
  sealTurn(turnId: string, events: readonly TurnEventSpec[]): Promise<ReceiptProof>;
}

const TENANT = 'acme';

/** A Merkle tree over `leaves`, read the way the audit service reads its stored nodes. */
async function treeOf(leaves: readonly Uint8Array[]): Promise<NodeReader> {
  const nodes = new Map<string, Uint8Array>();
  for (const [position, leaf] of leaves.entries()) {
    let hash = leaf;
    for (const node of completedNodes(position)) {
      if (node.level > 0)
        hash = await nodeHash(
          nodes.get(nodeKeyString({ level: node.level - 1, index: node.index * 2 })) ?? new Uint8Array(),
          hash,
        );
      nodes.set(nodeKeyString(node), hash);
    }
  }
  return (keys) =>
    Promise.resolve(
      new Map(
        keys.flatMap((key) => {
          const hash = nodes.get(nodeKeyString(key));
          return hash === undefined ? [] : [[nodeKeyString(key), hash] as const];
        }),
      ),
    );
}

/**
 * Builds receipt proofs the way the audit service does, with `@aibox/audit-proof`'s own functions, for turns
 * whose events a test chooses (the token usage they carry, say). Each turn is the first of its own log, so
 * any number of them verify against the one published key.
 */
export async function createTestAuditor(): Promise<TestAuditor> {
  const signer = await generateNoteSigner('aibox.local/audit');
  const keys = { keys: [await auditJwk(signer.name, signer.publicKey)] };
  const sealTurn = async (turnId: string, specs: readonly TurnEventSpec[]): Promise<ReceiptProof> => {
    const events = specs.map((spec, index) => ({
      event_id: `0190a4f2-7b3c-7def-9abc-${String(index).padStart(12, '0')}`,
      turn_id: turnId,
      tenant_id: TENANT,
      user_id: 'ada',
      service: spec.service ?? 'agent-runtime',
      type: spec.type,
      occurred_at: new Date(Date.UTC(2026, 11, 4, 10, 0, index)).toISOString(),
      attributes: spec.attributes ?? {},
      artifacts: [],
    }));
    const leaves = await Promise.all(events.map((event) => leafHash(canonicalJson(event))));
    const read = await treeOf(leaves);
    const proofEvents: ProofEvent[] = [];
    for (const [index, event] of events.entries()) {
      proofEvents.push({
        index,
        event,
        leaf_hash: toHex(leaves[index] ?? new Uint8Array()),
        inclusion: (await inclusionProof(index, leaves.length, read)).map(toHex),
      });
    }
    const envelope: TurnEnvelope = {
      v: 1,
      tenant_id: TENANT,
      turn_id: turnId,
      event_count: events.length,
      merkle_root: toHex(await merkleRoot(leaves)),
      first_event_at: events[0]?.occurred_at ?? '',
      last_event_at: events.at(-1)?.occurred_at ?? '',
      sealed_at: new Date(Date.UTC(2026, 11, 4, 10, 1)).toISOString(),
      chain: { seq: 0, prev: null },
    };
    // A log of one entry: its root is the envelope's leaf hash, and the inclusion proof is empty.
    const root = await leafHash(canonicalJson(envelope));
    const checkpoint = await signNote(
      formatCheckpoint({ origin: `aibox.local/audit/${TENANT}`, size: 1, rootHash: root }),
      [signer],
    );
    return {
      turn_id: turnId,
      tenant_id: TENANT,
      envelope,
      envelope_hash: await envelopeHash(envelope),
      log: { index: 0, tree_size: 1, root: toHex(root), inclusion: [], checkpoint },
      events: proofEvents,
    };
  };
  return { signer, keys, sealTurn };
}
