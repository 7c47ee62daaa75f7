import type { webcrypto } from 'node:crypto';

import { AuditProofError } from './audit-proof.error.js';
import { bytesEqual, concatBytes, fromBase64, toBase64, utf8 } from './bytes.js';
import { sha256 } from './merkle.js';

/** Signs notes (C2SP signed-note) with an Ed25519 key; `publicKey` is the raw 32 bytes. */
export interface NoteSigner {
  readonly name: string;
  readonly privateKey: webcrypto.CryptoKey;
  readonly publicKey: Uint8Array;
}

/** Checks notes signed by one key: its name, its 4-byte key id and the Ed25519 public key. */
export interface NoteVerifier {
  readonly name: string;
  readonly keyId: Uint8Array;
  readonly publicKey: webcrypto.CryptoKey;
}

export interface NoteSignature {
  readonly name: string;
  readonly keyId: Uint8Array;
  readonly signature: Uint8Array<ArrayBuffer>;
}

const SIGNATURE_PREFIX = '\u2014 ';
const ED25519_ALG = 0x01;
const MAX_NOTE_BYTES = 1_000_000;

function checkName(name: string): void {
  if (name === '' || /[\s+]/u.test(name)) {
    throw new AuditProofError('note_malformed', 'a key name must be non-empty, without spaces or "+"');
  }
}

/** C2SP signed-note key id of an Ed25519 key: the first 4 bytes of SHA-256(name ‖ "\n" ‖ 0x01 ‖ key). */
export async function noteKeyId(name: string, publicKey: Uint8Array): Promise<Uint8Array> {
  checkName(name);
  const digest = await sha256(concatBytes(utf8(`${name}\n`), Uint8Array.of(ED25519_ALG), publicKey));
  return digest.slice(0, 4);
}

/** Signs `text` (which must end with a newline) and returns the signed note: text, blank line, signatures. */
export async function signNote(text: string, signers: readonly NoteSigner[]): Promise<string> {
  if (!text.endsWith('\n'))
    throw new AuditProofError('note_malformed', 'the note text must end with a newline');
  if (signers.length === 0) throw new AuditProofError('note_malformed', 'a note needs at least one signer');
  const lines: string[] = [];
  for (const signer of signers) {
    checkName(signer.name);
    const signature = new Uint8Array(
      await globalThis.crypto.subtle.sign('Ed25519', signer.privateKey, utf8(text)),
    );
    const keyId = await noteKeyId(signer.name, signer.publicKey);
    lines.push(`${SIGNATURE_PREFIX}${signer.name} ${toBase64(concatBytes(keyId, signature))}\n`);
  }
  return `${text}\n${lines.join('')}`;
}

/** Splits a signed note into its text and its signature lines; refuses anything not in the C2SP form. */
export function parseNote(note: string): { text: string; signatures: NoteSignature[] } {
  if (typeof note !== 'string' || note.length > MAX_NOTE_BYTES)
    throw new AuditProofError('note_malformed', 'not a note');
  const split = note.lastIndexOf('\n\n');
  if (split < 0 || !note.endsWith('\n')) {
    throw new AuditProofError('note_malformed', 'a signed note is text, a blank line and signature lines');
  }
  const text = note.slice(0, split + 1);
  const signatures: NoteSignature[] = [];
  for (const line of note.slice(split + 2, -1).split('\n')) {
    if (!line.startsWith(SIGNATURE_PREFIX))
      throw new AuditProofError('note_malformed', 'a signature line must start with "— "');
    const [name = '', encoded = '', ...rest] = line.slice(SIGNATURE_PREFIX.length).split(' ');
    if (rest.length > 0 || name === '' || encoded === '')
      throw new AuditProofError('note_malformed', 'a signature line is "— <name> <base64>"');
    let bytes: Uint8Array;
    try {
      bytes = fromBase64(encoded);
    } catch {
      throw new AuditProofError('note_malformed', `the signature of ${name} is not base64`);
    }
    if (bytes.length < 5)
      throw new AuditProofError('note_malformed', `the signature of ${name} is too short`);
    signatures.push({ name, keyId: bytes.slice(0, 4), signature: bytes.slice(4) });
  }
  if (signatures.length === 0) throw new AuditProofError('note_malformed', 'the note carries no signature');
  return { text, signatures };
}

/**
 * Verifies a signed note: at least one signature must come from a known key (same name and key id), and
 * every signature from a known key must verify. Signatures by unknown keys are ignored, as C2SP says.
 */
export async function verifyNote(
  note: string,
  verifiers: readonly NoteVerifier[],
): Promise<{ text: string; verifiedBy: string[] }> {
  const { text, signatures } = parseNote(note);
  const verifiedBy: string[] = [];
  for (const signature of signatures) {
    const verifier = verifiers.find(
      (candidate) => candidate.name === signature.name && bytesEqual(candidate.keyId, signature.keyId),
    );
    if (verifier === undefined) continue;
    const ok =
      signature.signature.length === 64 &&
      (await globalThis.crypto.subtle.verify('Ed25519', verifier.publicKey, signature.signature, utf8(text)));
    if (!ok)
      throw new AuditProofError(
        'note_signature_invalid',
        `the signature of ${signature.name} does not verify`,
      );
    verifiedBy.push(signature.name);
  }
  if (verifiedBy.length === 0)
    throw new AuditProofError('note_key_unknown', 'no signature is by a known key');
  return { text, verifiedBy };
}
