import { AuditProofError } from './audit-proof.error.js';
import { bytesEqual, fromHex, toHex } from './bytes.js';
import { canonicalJson } from './canonical.js';
import { parseCheckpoint, type Checkpoint } from './checkpoint.js';
import { noteVerifiersFromJwks } from './keys.js';
import { leafHash, merkleRoot, sha256, verifyConsistency, verifyInclusion } from './merkle.js';
import { verifyNote, type NoteVerifier } from './note.js';

/** A sealed turn (ARCHITECTURE §6); its canonical JSON is its leaf in the tenant log. */
export interface TurnEnvelope {
  readonly v: 1;
  readonly tenant_id: string;
  readonly turn_id: string;
  readonly event_count: number;
  readonly merkle_root: string;
  readonly first_event_at: string;
  readonly last_event_at: string;
  readonly sealed_at: string;
  readonly chain: { readonly seq: number; readonly prev: string | null };
}

export interface Receipt {
  readonly turn_id: string;
  readonly tenant_id: string;
  readonly envelope: TurnEnvelope;
  readonly envelope_hash: string;
  readonly log: {
    readonly index: number;
    readonly tree_size: number;
    readonly root: string;
    readonly inclusion: readonly string[];
    readonly checkpoint: string;
  };
}

export interface ProofEvent {
  readonly index: number;
  readonly event: Record<string, unknown>;
  readonly leaf_hash: string;
  readonly inclusion: readonly string[];
}

export interface ReceiptProof extends Receipt {
  readonly events: readonly ProofEvent[];
  readonly consistency?: {
    readonly from_size: number;
    readonly to_size: number;
    readonly proof: readonly string[];
  };
}

export type VerifyFailureCode =
  | 'proof_malformed'
  | 'keys_invalid'
  | 'event_foreign'
  | 'event_hash_mismatch'
  | 'event_missing'
  | 'event_inclusion_invalid'
  | 'events_root_mismatch'
  | 'envelope_hash_mismatch'
  | 'log_inclusion_invalid'
  | 'checkpoint_key_unknown'
  | 'checkpoint_signature_invalid'
  | 'checkpoint_origin_mismatch'
  | 'checkpoint_mismatch'
  | 'chain_link_invalid'
  | 'consistency_missing'
  | 'consistency_invalid';

export type VerifyReport =
  | { readonly ok: true; readonly checks: string[] }
  | {
      readonly ok: false;
      readonly checks: string[];
      readonly failure: { readonly code: VerifyFailureCode; readonly message: string };
    };

export interface VerifyOptions {
  /** The receipt of the turn before this one in the tenant's chain. */
  readonly prev?: Receipt;
  /** An older signed checkpoint of the same log, to prove this one extends it. */
  readonly checkpoint?: string;
}

/** Hex SHA-256 of the envelope's canonical JSON: what the next envelope's `chain.prev` holds. */
export async function envelopeHash(envelope: TurnEnvelope): Promise<string> {
  return toHex(await sha256(canonicalJson(envelope)));
}

/** Hex RFC 9162 leaf hash of an event's canonical JSON. */
export async function eventLeafHash(event: Record<string, unknown>): Promise<string> {
  return toHex(await leafHash(canonicalJson(event)));
}

class Failure extends Error {
  constructor(
    readonly code: VerifyFailureCode,
    message: string,
  ) {
    super(message);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const HEX64 = /^[0-9a-f]{64}$/;

function malformed(field: string, expected: string): never {
  throw new Failure('proof_malformed', `${field} must be ${expected}`);
}

function text(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '') malformed(field, 'a non-empty string');
  return value;
}

function count(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0)
    malformed(field, 'a whole number');
  return value;
}

function hash(value: unknown, field: string): Uint8Array {
  if (typeof value !== 'string' || !HEX64.test(value)) malformed(field, '64 lower-case hex digits');
  return fromHex(value);
}

function hashes(value: unknown, field: string): Uint8Array[] {
  if (!Array.isArray(value) || value.length > 64) malformed(field, 'an array of at most 64 hashes');
  return value.map((item, index) => hash(item, `${field}[${index}]`));
}

/** Parsed JSON always passes; a caller handing in objects with `undefined` or functions does not. */
function json(value: unknown, field: string): void {
  try {
    canonicalJson(value);
  } catch {
    malformed(field, 'plain JSON');
  }
}

function envelopeOf(value: unknown, field: string): TurnEnvelope {
  if (!isRecord(value)) malformed(field, 'an object');
  if (value['v'] !== 1) malformed(`${field}.v`, '1');
  text(value['tenant_id'], `${field}.tenant_id`);
  text(value['turn_id'], `${field}.turn_id`);
  count(value['event_count'], `${field}.event_count`);
  hash(value['merkle_root'], `${field}.merkle_root`);
  for (const name of ['first_event_at', 'last_event_at', 'sealed_at']) text(value[name], `${field}.${name}`);
  const chain = value['chain'];
  if (!isRecord(chain)) malformed(`${field}.chain`, 'an object');
  count(chain['seq'], `${field}.chain.seq`);
  if (chain['prev'] !== null) hash(chain['prev'], `${field}.chain.prev`);
  json(value, field);
  return value as unknown as TurnEnvelope;
}

function receiptOf(value: unknown, field: string): Receipt {
  if (!isRecord(value)) malformed(field, 'an object');
  text(value['turn_id'], `${field}.turn_id`);
  text(value['tenant_id'], `${field}.tenant_id`);
  envelopeOf(value['envelope'], `${field}.envelope`);
  hash(value['envelope_hash'], `${field}.envelope_hash`);
  const log = value['log'];
  if (!isRecord(log)) malformed(`${field}.log`, 'an object');
  count(log['index'], `${field}.log.index`);
  count(log['tree_size'], `${field}.log.tree_size`);
  hash(log['root'], `${field}.log.root`);
  hashes(log['inclusion'], `${field}.log.inclusion`);
  text(log['checkpoint'], `${field}.log.checkpoint`);
  return value as unknown as Receipt;
}

function proofOf(value: unknown): ReceiptProof {
  const receipt = receiptOf(value, 'proof');
  const events = (value as Record<string, unknown>)['events'];
  if (!Array.isArray(events)) malformed('proof.events', 'an array');
  events.forEach((item: unknown, position) => {
    const field = `proof.events[${position}]`;
    if (!isRecord(item)) malformed(field, 'an object');
    count(item['index'], `${field}.index`);
    if (!isRecord(item['event'])) malformed(`${field}.event`, 'an object');
    json(item['event'], `${field}.event`);
    hash(item['leaf_hash'], `${field}.leaf_hash`);
    hashes(item['inclusion'], `${field}.inclusion`);
  });
  const consistency = (value as Record<string, unknown>)['consistency'];
  if (consistency !== undefined) {
    if (!isRecord(consistency)) malformed('proof.consistency', 'an object');
    count(consistency['from_size'], 'proof.consistency.from_size');
    count(consistency['to_size'], 'proof.consistency.to_size');
    hashes(consistency['proof'], 'proof.consistency.proof');
  }
  return receipt as ReceiptProof;
}

async function checkpointOf(
  note: string,
  verifiers: readonly NoteVerifier[],
  what: string,
): Promise<Checkpoint> {
  let noteText: string;
  try {
    ({ text: noteText } = await verifyNote(note, verifiers));
  } catch (error: unknown) {
    const code = error instanceof AuditProofError ? error.code : undefined;
    if (code === 'note_key_unknown')
      throw new Failure('checkpoint_key_unknown', `${what} is not signed by any of the given keys`);
    throw new Failure(
      'checkpoint_signature_invalid',
      `${what}: ${error instanceof Error ? error.message : 'the signature does not verify'}`,
    );
  }
  try {
    return parseCheckpoint(noteText);
  } catch (error: unknown) {
    throw new Failure(
      'checkpoint_mismatch',
      `${what} is not a checkpoint: ${error instanceof Error ? error.message : ''}`,
    );
  }
}

async function check(
  proofInput: unknown,
  jwks: unknown,
  options: VerifyOptions,
  checks: string[],
): Promise<void> {
  const proof = proofOf(proofInput);
  const prev = options.prev === undefined ? undefined : receiptOf(options.prev, 'prev');
  let verifiers: NoteVerifier[];
  try {
    verifiers = await noteVerifiersFromJwks(jwks);
  } catch (error: unknown) {
    throw new Failure('keys_invalid', error instanceof Error ? error.message : 'the keys are invalid');
  }
  checks.push(`keys: ${verifiers.length} checkpoint key(s)`);

  const { envelope } = proof;
  const merkleRootHash = fromHex(envelope.merkle_root);
  for (const [position, item] of proof.events.entries()) {
    const { turn_id: turnId, tenant_id: tenantId } = item.event;
    if (turnId !== envelope.turn_id || tenantId !== envelope.tenant_id) {
      throw new Failure(
        'event_foreign',
        `event ${position} belongs to turn ${String(turnId)} of tenant ${String(tenantId)}, not to turn ${envelope.turn_id} of tenant ${envelope.tenant_id}`,
      );
    }
  }
  const leaves: Uint8Array[] = [];
  for (const [position, item] of proof.events.entries()) {
    const leaf = await leafHash(canonicalJson(item.event));
    if (!bytesEqual(leaf, fromHex(item.leaf_hash))) {
      throw new Failure(
        'event_hash_mismatch',
        `event ${position}: leaf hash does not match its canonical JSON`,
      );
    }
    leaves.push(leaf);
  }
  const outOfPlace = proof.events.findIndex((item, position) => item.index !== position);
  if (outOfPlace >= 0) {
    throw new Failure(
      'event_missing',
      `event ${outOfPlace} of the proof has index ${proof.events[outOfPlace]?.index ?? '?'}: the events must be 0…${envelope.event_count - 1} in order`,
    );
  }
  if (proof.events.length !== envelope.event_count) {
    throw new Failure(
      'event_missing',
      `the envelope counts ${envelope.event_count} event(s); the proof carries ${proof.events.length}`,
    );
  }
  for (const [position, item] of proof.events.entries()) {
    const ok = await verifyInclusion(
      leaves[position] ?? new Uint8Array(),
      position,
      envelope.event_count,
      item.inclusion.map(fromHex),
      merkleRootHash,
    );
    if (!ok)
      throw new Failure(
        'event_inclusion_invalid',
        `event ${position}: its inclusion proof does not lead to the envelope's merkle_root`,
      );
  }
  if (!bytesEqual(await merkleRoot(leaves), merkleRootHash)) {
    throw new Failure('events_root_mismatch', 'the events do not hash to the envelope merkle_root');
  }
  checks.push(`events: ${leaves.length} event(s) hash to merkle_root ${envelope.merkle_root}`);

  const envelopeText = canonicalJson(envelope);
  if (
    toHex(await sha256(envelopeText)) !== proof.envelope_hash ||
    proof.turn_id !== envelope.turn_id ||
    proof.tenant_id !== envelope.tenant_id
  ) {
    throw new Failure(
      'envelope_hash_mismatch',
      'envelope_hash is not the SHA-256 of the envelope, or the receipt names another turn',
    );
  }
  checks.push(`envelope: hash ${proof.envelope_hash}`);

  const logRoot = fromHex(proof.log.root);
  if (
    !(await verifyInclusion(
      await leafHash(envelopeText),
      proof.log.index,
      proof.log.tree_size,
      proof.log.inclusion.map(fromHex),
      logRoot,
    ))
  ) {
    throw new Failure(
      'log_inclusion_invalid',
      `the envelope is not entry ${proof.log.index} of the log of size ${proof.log.tree_size} with root ${proof.log.root}`,
    );
  }
  checks.push(`log: entry ${proof.log.index} of ${proof.log.tree_size}`);

  const checkpoint = await checkpointOf(proof.log.checkpoint, verifiers, 'the checkpoint');
  if (!checkpoint.origin.endsWith(`/${envelope.tenant_id}`)) {
    throw new Failure(
      'checkpoint_origin_mismatch',
      `the checkpoint is of log ${checkpoint.origin}, not of tenant ${envelope.tenant_id}`,
    );
  }
  if (checkpoint.size !== proof.log.tree_size || !bytesEqual(checkpoint.rootHash, logRoot)) {
    throw new Failure(
      'checkpoint_mismatch',
      'the checkpoint signs another tree size or root than the receipt names',
    );
  }
  checks.push(`checkpoint: ${checkpoint.origin} size ${checkpoint.size}, signed`);

  if ((envelope.chain.seq === 0) !== (envelope.chain.prev === null)) {
    throw new Failure('chain_link_invalid', 'chain.prev must be null exactly for the first envelope (seq 0)');
  }
  if (prev !== undefined) {
    const expected = await envelopeHash(prev.envelope);
    if (
      prev.envelope.tenant_id !== envelope.tenant_id ||
      envelope.chain.seq !== prev.envelope.chain.seq + 1 ||
      envelope.chain.prev !== expected
    ) {
      throw new Failure(
        'chain_link_invalid',
        `chain seq ${envelope.chain.seq} / prev ${String(envelope.chain.prev)} do not follow the given previous receipt (seq ${prev.envelope.chain.seq}, hash ${expected})`,
      );
    }
    checks.push(`chain: follows turn ${prev.envelope.turn_id}`);
  }

  if (options.checkpoint !== undefined) {
    const older = await checkpointOf(options.checkpoint, verifiers, 'the older checkpoint');
    if (older.origin !== checkpoint.origin) {
      throw new Failure(
        'consistency_invalid',
        `the older checkpoint is of log ${older.origin}, not ${checkpoint.origin}`,
      );
    }
    if (older.size > checkpoint.size)
      throw new Failure('consistency_invalid', 'the older checkpoint is of a larger tree');
    const consistency = proof.consistency;
    if (older.size === 0) {
      // Every log extends the empty one; a signed empty checkpoint must still carry the empty root.
      if (!bytesEqual(older.rootHash, await sha256(new Uint8Array())))
        throw new Failure('consistency_invalid', 'the older checkpoint is of size 0 but not the empty root');
      checks.push('consistency: the older tree is empty');
    } else if (consistency === undefined) {
      throw new Failure(
        'consistency_missing',
        `the proof has no consistency proof (ask for ?from_size=${older.size})`,
      );
    } else if (
      consistency.from_size !== older.size ||
      consistency.to_size !== checkpoint.size ||
      !(await verifyConsistency(
        older.size,
        checkpoint.size,
        consistency.proof.map(fromHex),
        older.rootHash,
        logRoot,
      ))
    ) {
      throw new Failure(
        'consistency_invalid',
        `the log of size ${checkpoint.size} is not proven to extend the one of size ${older.size}`,
      );
    } else {
      checks.push(`consistency: size ${older.size} → ${checkpoint.size}`);
    }
  }
}

/**
 * Checks a receipt proof (ARCHITECTURE §6) against the audit keys, and optionally the previous receipt of the
 * chain and an older checkpoint; stops at the first failure and names it.
 */
export async function verifyReceiptProof(
  proof: unknown,
  jwks: unknown,
  options: VerifyOptions = {},
): Promise<VerifyReport> {
  const checks: string[] = [];
  try {
    await check(proof, jwks, options, checks);
    return { ok: true, checks };
  } catch (error: unknown) {
    if (error instanceof Failure)
      return { ok: false, checks, failure: { code: error.code, message: error.message } };
    throw error;
  }
}
