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
  type ReceiptProof,
  type TurnEnvelope,
} from '../../src/index.js';

/** One event of a turn, as a service publishes it: its type, service and attributes. */
export interface TurnEventSpec {
  readonly type: string;
  readonly service?: string;
  readonly attributes?: Record<string, unknown>;
}

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
  /** The id of the log's turn `index` (the same in a rewritten copy of the log). */
  turnId(index: number): string;
  /**
   * A receipt proof of turn `index` against the signed checkpoint of the log's first `size` turns; with
   * `fromSize`, the consistency proof the audit service adds for `?from_size=`.
   */
  proof(index: number, size: number, fromSize?: number): Promise<ReceiptProof>;
  /** The proof of turn `index` with a consistency proof from the tree of `fromSize`. */
  proofFrom(index: number, fromSize: number): Promise<ReceiptProof>;
}

export interface TenantLogOptions {
  /** The events of turn `turn`, for a test that needs what they say (token usage, say). */
  readonly events?: (turn: number) => readonly TurnEventSpec[];
  /** Without `events`, each turn is an agent's turn of this many events. */
  readonly eventsPerTurn?: number;
  readonly tenantId?: string;
  /** The id of turn `turn`, for a test that names its turns. */
  readonly turnId?: (turn: number) => string;
  /** How each envelope links to the one before; a test can break the chain rule and still log it. */
  readonly chainOf?: (turn: number, prev: string | null) => TurnEnvelope['chain'];
  /**
   * From this turn on, every event says something else: with the same auditor, a fork of the genuine log
   * under the same keys, as a server rewriting its history makes.
   */
  readonly rewrittenFrom?: number;
}

/** An audit signer and the keys `GET /v1/audit/keys` would publish for it, to sign any number of logs. */
export interface TestAuditor {
  readonly signer: NoteSigner;
  readonly keys: { keys: AuditJwk[] };
  /** A log of `turns` sealed turns signed by this auditor, one checkpoint per turn. */
  log(turns: number, options?: TenantLogOptions): Promise<TenantLog>;
  /** A receipt proof of a turn with these events, sealed alone in the tenant's log and signed. */
  sealTurn(turnId: string, events: readonly TurnEventSpec[]): Promise<ReceiptProof>;
}

/** A Merkle tree grown one leaf at a time, read the way the audit service reads its stored nodes. */
function growingTree(): { append(leaf: Uint8Array): Promise<void>; read: NodeReader } {
  const nodes = new Map<string, Uint8Array>();
  let size = 0;
  return {
    append: async (leaf) => {
      let hash = leaf;
      for (const node of completedNodes(size)) {
        if (node.level > 0)
          hash = await nodeHash(
            nodes.get(nodeKeyString({ level: node.level - 1, index: node.index * 2 })) ?? new Uint8Array(),
            hash,
          );
        nodes.set(nodeKeyString(node), hash);
      }
      size += 1;
    },
    read: (keys) =>
      Promise.resolve(
        new Map(
          keys.flatMap((key) => {
            const hash = nodes.get(nodeKeyString(key));
            return hash === undefined ? [] : [[nodeKeyString(key), hash] as const];
          }),
        ),
      ),
  };
}

const turnIdOf = (turn: number): string => `0190a4f2-7b3c-7def-8abc-${String(turn).padStart(12, '0')}`;

/** An agent's turn of `count` events: started, the model invoked, sealed. */
function agentTurn(turn: number, count: number): TurnEventSpec[] {
  return Array.from({ length: count }, (_, index) => ({
    type: index === 0 ? 'turn_started' : index === count - 1 ? 'turn_sealed' : 'model_invoked',
    attributes: { step: index, note: `event ${index} of turn ${turn}` },
  }));
}

/** The tenant's events of a turn with their inclusion proofs, and the envelope that seals them. */
async function sealedTurn(
  tenantId: string,
  turn: number,
  turnId: string,
  specs: readonly TurnEventSpec[],
  chain: TurnEnvelope['chain'],
): Promise<{ envelope: TurnEnvelope; events: ProofEvent[] }> {
  const events = specs.map((spec, index) => ({
    event_id: `0190a4f2-7b3c-7def-9abc-${String(turn * 100 + index).padStart(12, '0')}`,
    turn_id: turnId,
    tenant_id: tenantId,
    user_id: 'ada',
    service: spec.service ?? 'agent-runtime',
    type: spec.type,
    occurred_at: new Date(Date.UTC(2026, 10, 22, 12, turn, index)).toISOString(),
    attributes: spec.attributes ?? {},
    artifacts: [],
  }));
  const leaves = await Promise.all(events.map((event) => leafHash(canonicalJson(event))));
  const tree = growingTree();
  for (const leaf of leaves) await tree.append(leaf);
  const proofEvents: ProofEvent[] = [];
  for (const [position, event] of events.entries()) {
    proofEvents.push({
      index: position,
      event,
      leaf_hash: toHex(leaves[position] ?? new Uint8Array()),
      inclusion: (await inclusionProof(position, leaves.length, tree.read)).map(toHex),
    });
  }
  const envelope: TurnEnvelope = {
    v: 1,
    tenant_id: tenantId,
    turn_id: turnId,
    event_count: events.length,
    merkle_root: toHex(await merkleRoot(leaves)),
    first_event_at: events[0]?.occurred_at ?? '',
    last_event_at: events.at(-1)?.occurred_at ?? '',
    sealed_at: new Date(Date.UTC(2026, 10, 22, 12, turn, 59)).toISOString(),
    chain,
  };
  return { envelope, events: proofEvents };
}

/**
 * A tenant log built the way the audit service builds it, with this package's own functions: `turns` sealed
 * turns, one checkpoint per turn, signed by `signer`.
 */
async function signedLog(
  signer: NoteSigner,
  keys: { keys: AuditJwk[] },
  turns: number,
  options: TenantLogOptions,
): Promise<TenantLog> {
  const {
    eventsPerTurn = 3,
    tenantId = 'acme',
    turnId = turnIdOf,
    chainOf = (turn: number, prev: string | null): TurnEnvelope['chain'] => ({ seq: turn, prev }),
    rewrittenFrom = turns,
  } = options;
  const eventsOf = options.events ?? ((turn) => agentTurn(turn, eventsPerTurn));
  const origin = `aibox.local/audit/${tenantId}`;
  const tree = growingTree();
  const sealed: { envelope: TurnEnvelope; events: ProofEvent[] }[] = [];
  const checkpoints: string[] = [];
  let prev: string | null = null;
  for (let turn = 0; turn < turns; turn += 1) {
    const specs = eventsOf(turn).map((spec) =>
      turn < rewrittenFrom ? spec : { ...spec, attributes: { ...spec.attributes, rewritten: true } },
    );
    const { envelope, events } = await sealedTurn(tenantId, turn, turnId(turn), specs, chainOf(turn, prev));
    prev = await envelopeHash(envelope);
    await tree.append(await leafHash(canonicalJson(envelope)));
    const rootHash = await rootAt(turn + 1, tree.read);
    checkpoints.push(await signNote(formatCheckpoint({ origin, size: turn + 1, rootHash }), [signer]));
    sealed.push({ envelope, events });
  }
  const proof = async (index: number, size: number, fromSize?: number): Promise<ReceiptProof> => {
    const turn = sealed[index];
    if (turn === undefined || index >= size || size > turns) throw new Error(`no turn ${index} in ${size}`);
    const receipt: ReceiptProof = {
      turn_id: turn.envelope.turn_id,
      tenant_id: tenantId,
      envelope: turn.envelope,
      envelope_hash: await envelopeHash(turn.envelope),
      log: {
        index,
        tree_size: size,
        root: toHex(await rootAt(size, tree.read)),
        inclusion: (await inclusionProof(index, size, tree.read)).map(toHex),
        checkpoint: checkpoints[size - 1] ?? '',
      },
      events: turn.events,
    };
    if (fromSize === undefined) return receipt;
    const consistency = await consistencyProof(fromSize, size, tree.read);
    return { ...receipt, consistency: { from_size: fromSize, to_size: size, proof: consistency.map(toHex) } };
  };
  const proofs: ReceiptProof[] = [];
  for (let index = 0; index < turns; index += 1) proofs.push(await proof(index, turns));
  return {
    keys,
    signer,
    origin,
    proofs,
    checkpoints,
    turnId,
    proof,
    proofFrom: (index, fromSize) => proof(index, turns, fromSize),
  };
}

/**
 * A fresh audit signer for tests: its logs share its keys, and each `sealTurn` turn is the first of its own
 * log, so any number of them verify against the one published key.
 */
export async function createTestAuditor(): Promise<TestAuditor> {
  const signer = await generateNoteSigner('aibox.local/audit');
  const keys = { keys: [await auditJwk(signer.name, signer.publicKey)] };
  const log = (turns: number, options: TenantLogOptions = {}): Promise<TenantLog> =>
    signedLog(signer, keys, turns, options);
  return {
    signer,
    keys,
    log,
    sealTurn: async (turnId, events) =>
      (await log(1, { events: () => events, turnId: () => turnId })).proof(0, 1),
  };
}

/**
 * A small tenant log under a signer of its own: `turns` sealed turns of `eventsPerTurn` events, one checkpoint
 * per turn.
 */
export async function buildTenantLog(
  turns: number,
  eventsPerTurn = 3,
  tenantId = 'acme',
  chainOf?: TenantLogOptions['chainOf'],
): Promise<TenantLog> {
  return (await createTestAuditor()).log(turns, { eventsPerTurn, tenantId, chainOf });
}
