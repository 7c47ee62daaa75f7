import {
  canonicalJson,
  completedNodes,
  consistencyProof,
  envelopeHash,
  formatCheckpoint,
  generateNoteSigner,
  inclusionProof,
  auditJwk,
  leafHash,
  merkleRoot,
  nodeHash,
  nodeKeyString,
  rootAt,
  signNote,
  toHex,
  type AuditJwk,
  type NodeReader,
  type NoteSigner,
  type ProofEvent,
  type Receipt,
  type ReceiptProof,
  type TurnEnvelope,
} from '../../src/index.js';

export interface TenantLog {
  readonly keys: { keys: AuditJwk[] };
  /** The checkpoint key, to sign checkpoints the log never made. */
  readonly signer: NoteSigner;
  /** The origin line of the log's checkpoints. */
  readonly origin: string;
  /** Receipt proofs of every turn, against the latest checkpoint. */
  readonly proofs: ReceiptProof[];
  /** The checkpoint signed after each turn, by tree size 1…n. */
  readonly checkpoints: string[];
  /** The proof of turn `index` with a consistency proof from the tree of `fromSize`. */
  proofFrom(index: number, fromSize: number): Promise<ReceiptProof>;
}

/**
 * A small tenant log built the way the audit service builds it, with this package's own functions: `turns`
 * sealed turns of `eventsPerTurn` events, one checkpoint per turn.
 */
export async function buildTenantLog(
  turns: number,
  eventsPerTurn = 3,
  tenantId = 'acme',
  /** How each envelope links to the one before; a test can break the chain rule and still log it. */
  chainOf = (turn: number, prev: string | null): TurnEnvelope['chain'] => ({ seq: turn, prev }),
): Promise<TenantLog> {
  const signer = await generateNoteSigner('aibox.local/audit');
  const origin = `aibox.local/audit/${tenantId}`;
  const nodes = new Map<string, Uint8Array>();
  const read: NodeReader = (keys) =>
    Promise.resolve(
      new Map(
        keys.flatMap((key) => {
          const hash = nodes.get(nodeKeyString(key));
          return hash === undefined ? [] : [[nodeKeyString(key), hash] as const];
        }),
      ),
    );
  const turnData: { envelope: TurnEnvelope; events: Record<string, unknown>[] }[] = [];
  const checkpoints: string[] = [];
  let prev: string | null = null;
  for (let turn = 0; turn < turns; turn += 1) {
    const turnId = `0190a4f2-7b3c-7def-8abc-${String(turn).padStart(12, '0')}`;
    const events = Array.from({ length: eventsPerTurn }, (_, index) => ({
      event_id: `0190a4f2-7b3c-7def-9abc-${String(turn * 100 + index).padStart(12, '0')}`,
      turn_id: turnId,
      tenant_id: tenantId,
      user_id: 'ada',
      service: 'agent-runtime',
      type: index === 0 ? 'turn_started' : index === eventsPerTurn - 1 ? 'turn_sealed' : 'model_invoked',
      occurred_at: new Date(Date.UTC(2026, 10, 22, 12, turn, index)).toISOString(),
      attributes: { step: index, note: `event ${index} of turn ${turn}` },
      artifacts: [],
    }));
    const leaves = await Promise.all(events.map((event) => leafHash(canonicalJson(event))));
    const envelope: TurnEnvelope = {
      v: 1,
      tenant_id: tenantId,
      turn_id: turnId,
      event_count: events.length,
      merkle_root: toHex(await merkleRoot(leaves)),
      first_event_at: events[0]?.occurred_at ?? '',
      last_event_at: events.at(-1)?.occurred_at ?? '',
      sealed_at: new Date(Date.UTC(2026, 10, 22, 12, turn, 59)).toISOString(),
      chain: chainOf(turn, prev),
    };
    prev = await envelopeHash(envelope);
    let hash = await leafHash(canonicalJson(envelope));
    for (const node of completedNodes(turn)) {
      if (node.level > 0)
        hash = await nodeHash(
          nodes.get(nodeKeyString({ level: node.level - 1, index: node.index * 2 })) ?? new Uint8Array(),
          hash,
        );
      nodes.set(nodeKeyString(node), hash);
    }
    checkpoints.push(
      await signNote(
        formatCheckpoint({
          origin,
          size: turn + 1,
          rootHash: await rootAt(turn + 1, read),
        }),
        [signer],
      ),
    );
    turnData.push({ envelope, events });
  }
  const size = turns;
  const root = await rootAt(size, read);
  const proofOf = async (index: number): Promise<ReceiptProof> => {
    const data = turnData[index];
    if (data === undefined) throw new Error(`no turn ${index}`);
    const leaves = await Promise.all(data.events.map((event) => leafHash(canonicalJson(event))));
    const eventNodes = new Map<string, Uint8Array>();
    for (const [position, leaf] of leaves.entries()) {
      let hash = leaf;
      for (const node of completedNodes(position)) {
        if (node.level > 0)
          hash = await nodeHash(
            eventNodes.get(nodeKeyString({ level: node.level - 1, index: node.index * 2 })) ??
              new Uint8Array(),
            hash,
          );
        eventNodes.set(nodeKeyString(node), hash);
      }
    }
    const eventRead: NodeReader = (keys) =>
      Promise.resolve(
        new Map(
          keys.flatMap((key) => {
            const hash = eventNodes.get(nodeKeyString(key));
            return hash === undefined ? [] : [[nodeKeyString(key), hash] as const];
          }),
        ),
      );
    const events: ProofEvent[] = [];
    for (const [position, event] of data.events.entries()) {
      events.push({
        index: position,
        event,
        leaf_hash: toHex(leaves[position] ?? new Uint8Array()),
        inclusion: (await inclusionProof(position, leaves.length, eventRead)).map(toHex),
      });
    }
    const receipt: Receipt = {
      turn_id: data.envelope.turn_id,
      tenant_id: tenantId,
      envelope: data.envelope,
      envelope_hash: await envelopeHash(data.envelope),
      log: {
        index,
        tree_size: size,
        root: toHex(root),
        inclusion: (await inclusionProof(index, size, read)).map(toHex),
        checkpoint: checkpoints[size - 1] ?? '',
      },
    };
    return { ...receipt, events };
  };
  const proofs: ReceiptProof[] = [];
  for (let index = 0; index < turns; index += 1) proofs.push(await proofOf(index));
  return {
    keys: { keys: [await auditJwk(signer.name, signer.publicKey)] },
    signer,
    origin,
    proofs,
    checkpoints,
    proofFrom: async (index, fromSize) => ({
      ...(await proofOf(index)),
      consistency: {
        from_size: fromSize,
        to_size: size,
        proof: (await consistencyProof(fromSize, size, read)).map(toHex),
      },
    }),
  };
}
