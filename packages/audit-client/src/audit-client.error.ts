/** Every way the audit client can refuse a call. Codes are part of the API. */
export type AuditClientErrorCode =
  'options_invalid' | 'audit_unavailable' | 'client_closed' | 'artifact_invalid' | 'artifact_mismatch';

function describe(code: AuditClientErrorCode): string {
  switch (code) {
    case 'options_invalid':
      return 'The audit client options are invalid';
    case 'audit_unavailable':
      // The detail says what became of the payload: spooled events, or a body the caller still holds.
      return 'Audit did not acknowledge the call';
    case 'client_closed':
      return 'The audit client is closed';
    case 'artifact_invalid':
      return 'The artifact is invalid; audit would refuse it, so it was not sent';
    case 'artifact_mismatch':
      return 'Audit stored a body with a different digest or size than the one sent';
  }
}

/** The one error this package throws. `code` is stable; the message is for humans and names no secrets. */
export class AuditClientError extends Error {
  override readonly name = 'AuditClientError';
  readonly code: AuditClientErrorCode;

  constructor(code: AuditClientErrorCode, detail?: string) {
    super(detail === undefined ? `${describe(code)}.` : `${describe(code)}: ${detail}.`);
    this.code = code;
  }
}
