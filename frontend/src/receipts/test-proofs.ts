import {
  auditJwk,
  canonicalJson,
  completedNodes,
  consistencyProof,
  envelopeHash,
  formatCheckpoint,
  generateNoteSigner,
  inclusionProof,
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
  type ReceiptProof,
  type TurnEnvelope,
} from '@aibox/audit-proof';

/** One event of a turn, as a service publishes it: its type, service and attributes. */
export interface TurnEventSpec {
  readonly type: string;
  readonly service?: string;
  readonly attributes?: Record<string, unknown>;
}

/** A tenant log that grows one sealed turn at a time, as the audit service keeps it. */
export interface TestLog {
  /** The origin line of its checkpoints. */
  readonly origin: string;
  /** The id of the log's turn `index` (the same in a rewritten copy of the log). */
  turnId(index: number): string;
  /**
   * A genuine receipt proof of turn `index` against the signed checkpoint of the log's first `size` turns;
   * with `fromSize`, the consistency proof the audit service adds for `?from_size=`.
   */
  proof(index: number, size: number, fromSize?: number): Promise<ReceiptProof>;
}

/** An audit signer and the keys `GET /v1/audit/keys` would publish for it. */
export interface TestAuditor {
  readonly signer: NoteSigner;
  readonly keys: { keys: AuditJwk[] };
  /** A genuine receipt proof of a turn with these events, sealed alone in the tenant's log and signed. */
  sealTurn(turnId: string, events: readonly TurnEventSpec[]): Promise<ReceiptProof>;
  /**
   * A log of `turns` turns signed by this auditor. With `rewrittenFrom`, the turns from that one on say
   * something else: a fork of the genuine log under the same keys, as a server rewriting its history makes.
   */
  log(turns: number, options?: { rewrittenFrom?: number }): Promise<TestLog>;
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

function turnIdOf(index: number): string {
  return `0190a4f2-7b3c-7def-8abc-${String(index).padStart(12, '0')}`;
}

/** A turn's envelope and its events with their inclusion proofs; event `n` occurred at `at(n)`. */
async function sealedTurn(
  turnId: string,
  specs: readonly TurnEventSpec[],
  chain: TurnEnvelope['chain'],
  at: (event: number) => Date,
  sealedAt: Date,
): Promise<{ envelope: TurnEnvelope; events: ProofEvent[] }> {
  const events = specs.map((spec, index) => ({
    event_id: `0190a4f2-7b3c-7def-9abc-${String(chain.seq * 1_000 + index).padStart(12, '0')}`,
    turn_id: turnId,
    tenant_id: TENANT,
    user_id: 'ada',
    service: spec.service ?? 'agent-runtime',
    type: spec.type,
    occurred_at: at(index).toISOString(),
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
    sealed_at: sealedAt.toISOString(),
    chain,
  };
  return { envelope, events: proofEvents };
}

/**
 * Builds receipt proofs the way the audit service does, with `@aibox/audit-proof`'s own functions, for turns
 * whose events a test chooses (the token usage they carry, say). Each `sealTurn` turn is the first of its
 * own log, so any number of them verify against the one published key; `log` builds one log that grows.
 */
export async function createTestAuditor(): Promise<TestAuditor> {
  const signer = await generateNoteSigner('aibox.local/audit');
  const keys = { keys: [await auditJwk(signer.name, signer.publicKey)] };
  const origin = `aibox.local/audit/${TENANT}`;
  const sealTurn = async (turnId: string, specs: readonly TurnEventSpec[]): Promise<ReceiptProof> => {
    const { envelope, events } = await sealedTurn(
      turnId,
      specs,
      { seq: 0, prev: null },
      (event) => new Date(Date.UTC(2026, 11, 4, 10, 0, event)),
      new Date(Date.UTC(2026, 11, 4, 10, 1)),
    );
    // A log of one entry: its root is the envelope's leaf hash, and the inclusion proof is empty.
    const root = await leafHash(canonicalJson(envelope));
    const checkpoint = await signNote(formatCheckpoint({ origin, size: 1, rootHash: root }), [signer]);
    return {
      turn_id: turnId,
      tenant_id: TENANT,
      envelope,
      envelope_hash: await envelopeHash(envelope),
      log: { index: 0, tree_size: 1, root: toHex(root), inclusion: [], checkpoint },
      events,
    };
  };
  const log = async (turns: number, { rewrittenFrom }: { rewrittenFrom?: number } = {}): Promise<TestLog> => {
    const sealed: { envelope: TurnEnvelope; events: ProofEvent[] }[] = [];
    let prev: string | null = null;
    for (let index = 0; index < turns; index += 1) {
      const said = rewrittenFrom !== undefined && index >= rewrittenFrom ? 'something else' : 'the answer';
      const turn = await sealedTurn(
        turnIdOf(index),
        [
          { type: 'turn_started', service: 'gateway' },
          { type: 'turn_sealed', attributes: { status: 'done', said, total_tokens: 25 } },
        ],
        { seq: index, prev },
        (event) => new Date(Date.UTC(2026, 11, 4, 10, index, event)),
        new Date(Date.UTC(2026, 11, 4, 10, index, 59)),
      );
      prev = await envelopeHash(turn.envelope);
      sealed.push(turn);
    }
    const leaves = await Promise.all(sealed.map(({ envelope }) => leafHash(canonicalJson(envelope))));
    const read = await treeOf(leaves);
    const proof = async (index: number, size: number, fromSize?: number): Promise<ReceiptProof> => {
      const turn = sealed[index];
      if (turn === undefined || index >= size || size > turns) throw new Error(`no turn ${index} in ${size}`);
      const root = await rootAt(size, read);
      const receipt: ReceiptProof = {
        turn_id: turn.envelope.turn_id,
        tenant_id: TENANT,
        envelope: turn.envelope,
        envelope_hash: await envelopeHash(turn.envelope),
        log: {
          index,
          tree_size: size,
          root: toHex(root),
          inclusion: (await inclusionProof(index, size, read)).map(toHex),
          checkpoint: await signNote(formatCheckpoint({ origin, size, rootHash: root }), [signer]),
        },
        events: turn.events,
      };
      if (fromSize === undefined) return receipt;
      const consistency = await consistencyProof(fromSize, size, read);
      return {
        ...receipt,
        consistency: { from_size: fromSize, to_size: size, proof: consistency.map(toHex) },
      };
    };
    return { origin, turnId: turnIdOf, proof };
  };
  return { signer, keys, sealTurn, log };
}
