import { status as GrpcStatus } from '@grpc/grpc-js';
import { ServiceError, type ErrorDescription, type ServiceErrorOptions } from '@aibox/platform';

export type IdentityErrorCode =
  'keys_invalid' | 'interaction_expired' | 'login_throttled' | 'invalid_credentials';

export function describeIdentityError(code: IdentityErrorCode): ErrorDescription {
  switch (code) {
    case 'keys_invalid':
      return {
        message: 'The signing key file is unusable',
        httpStatus: 500,
        grpcStatus: GrpcStatus.INTERNAL,
      };
    case 'interaction_expired':
      return {
        message:
          'This sign-in request has expired or was already used; go back to the application and start again',
        httpStatus: 400,
        grpcStatus: GrpcStatus.FAILED_PRECONDITION,
      };
    case 'login_throttled':
      return {
        message: 'Too many failed sign-in attempts; wait a while and try again',
        httpStatus: 429,
        grpcStatus: GrpcStatus.RESOURCE_EXHAUSTED,
      };
    case 'invalid_credentials':
      return {
        message: 'Invalid email or password',
        httpStatus: 401,
        grpcStatus: GrpcStatus.UNAUTHENTICATED,
      };
  }
}

/** The identity service's own errors; its pages show their message, its logs their code. */
export class IdentityServiceError extends ServiceError<IdentityErrorCode> {
  override readonly name = 'IdentityServiceError';

  constructor(code: IdentityErrorCode, options?: ServiceErrorOptions) {
    super(code, describeIdentityError(code), options);
  }
}
