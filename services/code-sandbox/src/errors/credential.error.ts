import { status as GrpcStatus } from '@grpc/grpc-js';

import { ServiceError, type ErrorDescription, type ServiceErrorOptions } from '@aibox/platform';

/** Codes of the credentials API; the README lists them. Messages are shown to callers. */
export type CredentialErrorCode =
  'credential_unknown' | 'credential_name_taken' | 'credential_unreadable' | 'credentials_key_missing';

function described(message: string, httpStatus: number, grpcStatus: GrpcStatus): ErrorDescription {
  return { message, httpStatus, grpcStatus };
}

export function describeCredentialError(code: CredentialErrorCode): ErrorDescription {
  switch (code) {
    case 'credential_unknown':
      return described('No such credential', 404, GrpcStatus.NOT_FOUND);
    case 'credential_name_taken':
      return described('A credential of yours already has this name', 409, GrpcStatus.ALREADY_EXISTS);
    case 'credential_unreadable':
      return described(
        'The credential cannot be decrypted with the current AIBOX_CREDENTIALS_KEY; set its value again',
        409,
        GrpcStatus.FAILED_PRECONDITION,
      );
    case 'credentials_key_missing':
      return described(
        'Credentials are unavailable: AIBOX_CREDENTIALS_KEY is not configured',
        503,
        GrpcStatus.UNAVAILABLE,
      );
  }
}

export class CredentialError extends ServiceError<CredentialErrorCode> {
  override readonly name = 'CredentialError';

  constructor(code: CredentialErrorCode, detail?: string, options: Omit<ServiceErrorOptions, 'detail'> = {}) {
    super(code, describeCredentialError(code), { ...options, ...(detail === undefined ? {} : { detail }) });
  }
}
