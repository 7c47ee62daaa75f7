/** Why a value, a note or a key set was refused; `code` is stable, the message says where. */
export type AuditProofErrorCode =
  | 'not_json'
  | 'hex_invalid'
  | 'base64_invalid'
  | 'note_malformed'
  | 'note_key_unknown'
  | 'note_signature_invalid'
  | 'checkpoint_malformed'
  | 'keys_invalid'
  | 'tree_invalid';

export class AuditProofError extends Error {
  override readonly name = 'AuditProofError';

  constructor(
    readonly code: AuditProofErrorCode,
    message: string,
  ) {
    super(message);
  }
}
