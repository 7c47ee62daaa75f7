/** Every way the audit client can refuse a call. Codes are part of the API. */
export type AuditClientErrorCode = 'options_invalid' | 'audit_unavailable' | 'client_closed';

function describe(code: AuditClientErrorCode): string {
  switch (code) {
    case 'options_invalid':
      return 'The audit client options are invalid';
    case 'audit_unavailable':
      return 'Audit did not acknowledge the events; they are kept in the spool for later delivery';
    case 'client_closed':
      return 'The audit client is closed';
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
