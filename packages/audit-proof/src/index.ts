export { AuditProofError } from './audit-proof.error.js';
export type { AuditProofErrorCode } from './audit-proof.error.js';
export { fromBase64, fromHex, toBase64, toHex } from './bytes.js';
export { canonicalJson } from './canonical.js';
export { formatCheckpoint, parseCheckpoint } from './checkpoint.js';
export type { Checkpoint } from './checkpoint.js';
export { auditJwk, generateNoteSigner, noteSignerFromSeed, noteVerifiersFromJwks } from './keys.js';
export type { AuditJwk } from './keys.js';
export { leafHash, merkleRoot, nodeHash, sha256, verifyConsistency, verifyInclusion } from './merkle.js';
export { noteKeyId, parseNote, signNote, verifyNote } from './note.js';
export type { NoteSignature, NoteSigner, NoteVerifier } from './note.js';
export { completedNodes, consistencyProof, inclusionProof, nodeKeyString, rootAt } from './prover.js';
export type { NodeKey, NodeReader } from './prover.js';
export { envelopeHash, eventLeafHash, verifyReceiptProof } from './receipt.js';
export type {
  ProofEvent,
  Receipt,
  ReceiptProof,
  TurnEnvelope,
  VerifyFailureCode,
  VerifyOptions,
  VerifyReport,
} from './receipt.js';
