/** Every way a token, a key set or a claims object can be refused. Codes are part of the API. */
export type IdentityErrorCode =
  | 'token_missing'
  | 'token_oversize'
  | 'token_malformed'
  | 'token_version_unsupported'
  | 'key_unknown'
  | 'signature_invalid'
  | 'payload_not_canonical'
  | 'payload_invalid'
  | 'token_expired'
  | 'token_not_yet_valid'
  | 'key_set_invalid';

function describe(code: IdentityErrorCode): string {
  switch (code) {
    case 'token_missing':
      return 'No token was presented';
    case 'token_oversize':
      return 'The token is larger than any token this platform issues';
    case 'token_malformed':
      return 'The token is not of the form v1.<kid>.<payload>.<mac> in base64url';
    case 'token_version_unsupported':
      return 'The token uses a format version this service does not understand';
    case 'key_unknown':
      return 'The token was signed with a key this service does not hold';
    case 'signature_invalid':
      return 'The token signature does not match its content';
    case 'payload_not_canonical':
      return 'The token payload is not RFC 8785 canonical JSON';
    case 'payload_invalid':
      return 'The token claims do not have the expected fields and types';
    case 'token_expired':
      return 'The token has expired';
    case 'token_not_yet_valid':
      return 'The token is not valid yet';
    case 'key_set_invalid':
      return 'The key set is invalid';
  }
}

/**
 * The one error this package throws for bad data. `code` is stable; the message is for humans and never
 * contains token contents or key material.
 */
export class IdentityError extends Error {
  override readonly name = 'IdentityError';
  readonly code: IdentityErrorCode;

  constructor(code: IdentityErrorCode, detail?: string) {
    super(detail === undefined ? `${describe(code)}.` : `${describe(code)}: ${detail}.`);
    this.code = code;
  }
}
