import {
  parseCheckpoint,
  parseNote,
  toHex,
  verifyReceiptProof,
  type ReceiptProof,
  type VerifyFailureCode,
  type VerifyReport,
} from '@aibox/audit-proof';

import { ApiError } from '../api/api-error.js';
import { apiFetch, apiJson } from '../api/client.js';
import { checkpointOf, type RememberedCheckpoint } from './checkpoint-witness.js';

/** A receipt proof exactly as the audit service sent it: the bytes to download, the text to parse. */
export interface FetchedProof {
  readonly bytes: ArrayBuffer;
  readonly text: string;
}

/** The key that signed the receipt's checkpoint, as `GET /v1/audit/keys` names it. */
export interface CheckpointSigner {
  readonly name: string;
  readonly kid: string;
}

/** What the browser concluded about one receipt. */
export type ReceiptOutcome =
  | {
      readonly kind: 'checked';
      readonly proof: FetchedProof;
      readonly report: VerifyReport;
      /** The parsed proof, when it has the shape of one (every failure but `proof_malformed`). */
      readonly receipt?: ReceiptProof;
      readonly origin?: string;
      readonly signer?: CheckpointSigner;
      /** The checkpoint this browser remembered, which the receipt's log was checked to extend. */
      readonly remembered?: RememberedCheckpoint;
    }
  | {
      /** The verifier itself could not run here (a browser without Ed25519 in WebCrypto, say). */
      readonly kind: 'unverifiable';
      readonly proof: FetchedProof;
      readonly message: string;
    };

/** The audit service's answer for a turn that is not sealed yet (or whose checkpoint is not signed yet). */
export function isReceiptPending(error: unknown): boolean {
  return error instanceof ApiError && error.code === 'receipt_pending';
}

/** How long a finished turn may take to be sealed before the badge gives up (quiet tenants take ms). */
export const SEALING_WAIT_MS = 60_000;

/** Backoff between polls while a turn is being sealed: 0.25 s doubling up to 4 s. */
export function sealingRetryDelay(attempt: number): number {
  return Math.min(250 * 2 ** attempt, 4_000);
}

/** TanStack `retry`: poll again only while the turn is not sealed, and for at most {@link SEALING_WAIT_MS}. */
export function keepPollingWhileSealing(failures: number, error: unknown): boolean {
  if (!isReceiptPending(error)) return false;
  let waited = 0;
  for (let attempt = 0; attempt <= failures; attempt += 1) waited += sealingRetryDelay(attempt);
  return waited <= SEALING_WAIT_MS;
}

export async function fetchReceiptProof(
  turnId: string,
  { fromSize, signal }: { fromSize?: number | undefined; signal?: AbortSignal | undefined } = {},
): Promise<FetchedProof> {
  const init: RequestInit = { headers: { accept: 'application/json' } };
  if (signal !== undefined) init.signal = signal;
  const query = fromSize === undefined ? '' : `?from_size=${fromSize}`;
  const response = await apiFetch(`/v1/receipts/${encodeURIComponent(turnId)}/proof${query}`, init);
  const bytes = await response.arrayBuffer();
  return { bytes, text: new TextDecoder().decode(bytes) };
}

/**
 * A turn's proof with a consistency proof from the remembered checkpoint's tree size. The audit service
 * always proves against its latest checkpoint and refuses a `from_size` beyond it (`400 query_invalid`):
 * its log is now smaller than one this browser verified. The proof is then fetched without `from_size`, and
 * checking it against the remembered checkpoint fails (`consistency_invalid`): a log that shrank under the
 * same keys was rewritten.
 */
export async function fetchReceiptProofSince(
  turnId: string,
  remembered: RememberedCheckpoint | undefined,
  signal?: AbortSignal,
): Promise<FetchedProof> {
  if (remembered === undefined) return fetchReceiptProof(turnId, { signal });
  try {
    return await fetchReceiptProof(turnId, { fromSize: remembered.size, signal });
  } catch (error: unknown) {
    if (!(error instanceof ApiError && error.code === 'query_invalid')) throw error;
    return fetchReceiptProof(turnId, { signal });
  }
}

export function fetchAuditKeys(signal?: AbortSignal): Promise<unknown> {
  return apiJson<unknown>('/v1/audit/keys', signal === undefined ? {} : { signal });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The origin of the checkpoint and the published key among its signatures, when the note parses. */
function checkpointFacts(note: string, keys: unknown): { origin?: string; signer?: CheckpointSigner } {
  try {
    const { text, signatures } = parseNote(note);
    const published = isRecord(keys) && Array.isArray(keys['keys']) ? (keys['keys'] as unknown[]) : [];
    let signer: CheckpointSigner | undefined;
    for (const signature of signatures) {
      const kid = toHex(signature.keyId);
      const known = published.find(
        (key) => isRecord(key) && key['kid'] === kid && key['note_key_name'] === signature.name,
      );
      if (known !== undefined) {
        signer = { name: signature.name, kid };
        break;
      }
    }
    const origin = parseCheckpoint(text).origin;
    return signer === undefined ? { origin } : { origin, signer };
  } catch {
    return {};
  }
}

/** The origin of the proof's checkpoint, read before any check, to tell whether a remembered one applies. */
function proofOrigin(parsed: unknown): string | undefined {
  const log = isRecord(parsed) ? parsed['log'] : undefined;
  const note = isRecord(log) ? log['checkpoint'] : undefined;
  return typeof note === 'string' ? checkpointOf(note)?.origin : undefined;
}

async function verifyWith(
  proof: FetchedProof,
  parsed: unknown,
  keys: unknown,
  remembered: RememberedCheckpoint | undefined,
): Promise<ReceiptOutcome> {
  let report: VerifyReport;
  try {
    report = await verifyReceiptProof(
      parsed,
      keys,
      remembered === undefined ? {} : { checkpoint: remembered.note },
    );
  } catch (error: unknown) {
    return {
      kind: 'unverifiable',
      proof,
      message: error instanceof Error ? error.message : String(error),
    };
  }
  const witnessed = remembered === undefined ? {} : { remembered };
  if (!report.ok && report.failure.code === 'proof_malformed')
    return { kind: 'checked', proof, report, ...witnessed };
  // Past the shape check, verifyReceiptProof has accepted the value as a ReceiptProof.
  const receipt = parsed as ReceiptProof;
  return {
    kind: 'checked',
    proof,
    report,
    receipt,
    ...checkpointFacts(receipt.log.checkpoint, keys),
    ...witnessed,
  };
}

/**
 * Verifies a proof in the browser with `@aibox/audit-proof`, exactly as `aibox verify` does. A checkpoint
 * signed by a key the cached key set lacks (the audit key rotated during the session) is checked once more
 * against `freshKeys()`. With a `remembered` checkpoint of the same log, it also proves the log extends it
 * (`aibox verify --checkpoint`); one of another log (its name changed) proves nothing about this one.
 */
export async function checkReceipt(
  proof: FetchedProof,
  keys: unknown,
  freshKeys: () => Promise<unknown>,
  remembered?: RememberedCheckpoint,
): Promise<ReceiptOutcome> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(proof.text) as unknown;
  } catch {
    return {
      kind: 'checked',
      proof,
      report: {
        ok: false,
        checks: [],
        failure: { code: 'proof_malformed', message: 'the proof is not JSON' },
      },
    };
  }
  const older = remembered?.origin === proofOrigin(parsed) ? remembered : undefined;
  const outcome = await verifyWith(proof, parsed, keys, older);
  if (
    outcome.kind !== 'checked' ||
    outcome.report.ok ||
    outcome.report.failure.code !== 'checkpoint_key_unknown'
  )
    return outcome;
  let refreshed: unknown;
  try {
    refreshed = await freshKeys();
  } catch {
    return outcome;
  }
  return refreshed === keys ? outcome : verifyWith(proof, parsed, refreshed, older);
}

/** The first failing check of a receipt, in words a user understands. */
export const FAILED_CHECKS: Readonly<Record<VerifyFailureCode, string>> = {
  proof_malformed: 'the proof is not in the expected format',
  keys_invalid: 'the published audit keys are not valid',
  event_foreign: 'an event belongs to another turn',
  event_hash_mismatch: 'an event does not match its recorded hash',
  event_missing: 'events are missing or out of order',
  event_inclusion_invalid: "an event is not included in the turn's Merkle root",
  events_root_mismatch: "the events do not add up to the turn's Merkle root",
  envelope_hash_mismatch: 'the envelope hash does not match the sealed turn',
  log_inclusion_invalid: 'the sealed turn is not included in the audit log',
  checkpoint_key_unknown: 'the checkpoint is not signed by a known audit key',
  checkpoint_signature_invalid: 'the checkpoint signature is invalid',
  checkpoint_origin_mismatch: "the checkpoint belongs to another organization's log",
  checkpoint_mismatch: 'the signed checkpoint does not match the audit log',
  chain_link_invalid: 'the link to the previous turn is broken',
  consistency_missing: 'the audit log did not prove it only grew since this browser last checked it',
  consistency_invalid: 'the audit log was rewritten since this browser last checked it',
};

export type ReceiptStepStatus = 'passed' | 'failed' | 'not_checked';

/** One of the checks the panel lists, in the order `verifyReceiptProof` runs them. */
export interface ReceiptStep {
  readonly id: 'events' | 'envelope' | 'log' | 'checkpoint' | 'chain' | 'consistency';
  readonly label: string;
  readonly detail?: string;
  readonly status: ReceiptStepStatus;
}

const STEP_CODES: Readonly<Record<ReceiptStep['id'], readonly VerifyFailureCode[]>> = {
  events: [
    'event_foreign',
    'event_hash_mismatch',
    'event_missing',
    'event_inclusion_invalid',
    'events_root_mismatch',
  ],
  envelope: ['envelope_hash_mismatch'],
  log: ['log_inclusion_invalid'],
  checkpoint: [
    'checkpoint_key_unknown',
    'checkpoint_signature_invalid',
    'checkpoint_origin_mismatch',
    'checkpoint_mismatch',
  ],
  chain: ['chain_link_invalid'],
  consistency: ['consistency_missing', 'consistency_invalid'],
};

/** A hash short enough to read, long enough to compare by eye. */
export function shortHash(hex: string): string {
  return hex.length > 16 ? `${hex.slice(0, 8)}…${hex.slice(-8)}` : hex;
}

/**
 * What was checked and how it went: every event's inclusion, the envelope hash, the log inclusion and the
 * checkpoint signature (and the chain rule, listed only when it is what failed), then, when this browser
 * remembered a checkpoint of the log, that the log only grew since.
 */
export function receiptSteps(outcome: Extract<ReceiptOutcome, { kind: 'checked' }>): ReceiptStep[] {
  const { report, receipt, signer, remembered } = outcome;
  const failureCode = report.ok ? undefined : report.failure.code;
  const order: ReceiptStep['id'][] = ['events', 'envelope', 'log', 'checkpoint', 'chain', 'consistency'];
  const failedAt = order.findIndex((id) => failureCode !== undefined && STEP_CODES[id].includes(failureCode));
  // A failure outside the steps (malformed proof, invalid keys) stops before the first of them.
  const stoppedAt = report.ok ? order.length : failedAt < 0 ? 0 : failedAt;
  const status = (index: number): ReceiptStepStatus =>
    index < stoppedAt ? 'passed' : index === failedAt ? 'failed' : 'not_checked';
  const count = receipt?.envelope.event_count;
  const steps: ReceiptStep[] = [
    {
      id: 'events',
      label:
        count === undefined
          ? 'Each event is included in the turn'
          : count === 1
            ? 'The event is included in the turn'
            : `Each of the ${count.toLocaleString()} events is included in the turn`,
      ...(receipt === undefined ? {} : { detail: `Merkle root ${shortHash(receipt.envelope.merkle_root)}` }),
      status: status(0),
    },
    {
      id: 'envelope',
      label: 'Envelope hash',
      ...(receipt === undefined ? {} : { detail: shortHash(receipt.envelope_hash) }),
      status: status(1),
    },
    {
      id: 'log',
      label: 'Included in the audit log',
      ...(receipt === undefined
        ? {}
        : {
            detail: `index ${receipt.log.index.toLocaleString()} in a log of ${receipt.log.tree_size.toLocaleString()}`,
          }),
      status: status(2),
    },
    {
      id: 'checkpoint',
      label: 'Checkpoint signature',
      ...(signer === undefined ? {} : { detail: `signed by ${signer.name} (key ${signer.kid})` }),
      status: status(3),
    },
  ];
  if (failedAt === 4) steps.push({ id: 'chain', label: 'Link to the previous turn', status: 'failed' });
  // Passed only on the verifier's own word that it compared the two trees.
  const grew = report.checks.some((line) => line.startsWith('consistency: '));
  if (remembered !== undefined)
    steps.push({
      id: 'consistency',
      label: 'The log only grew since this browser last checked it',
      ...(receipt === undefined
        ? {}
        : {
            detail: `size ${remembered.size.toLocaleString()} → ${receipt.log.tree_size.toLocaleString()}`,
          }),
      status: failedAt === 5 ? 'failed' : grew ? 'passed' : 'not_checked',
    });
  // What was not checked is only the server's word: no detail for it.
  return steps.map((step) =>
    step.status === 'not_checked' ? { id: step.id, label: step.label, status: step.status } : step,
  );
}
