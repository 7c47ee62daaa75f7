import { status as GrpcStatus } from '@grpc/grpc-js';

import { ServiceError, type ErrorDescription, type ServiceErrorOptions } from '@aibox/platform';

/**
 * The gateway's own codes (README: Error codes). Authentication failures are all 401 and never reach a
 * downstream; the platform's codes (`forbidden`, `rate_limited`, `route_unknown`, `payload_too_large`, …)
 * are answered with `PlatformError`.
 */
export type GatewayErrorCode =
  | 'token_missing'
  | 'token_malformed'
  | 'token_oversize'
  | 'algorithm_not_allowed'
  | 'issuer_untrusted'
  | 'key_unknown'
  | 'signature_invalid'
  | 'token_expired'
  | 'token_not_yet_valid'
  | 'audience_invalid'
  | 'claims_invalid'
  | 'issuer_unavailable'
  | 'tenant_claim_missing'
  | 'tenant_mismatch'
  | 'path_invalid'
  | 'backend_unavailable'
  | 'internal_auth_unavailable';

function unauthenticated(message: string): ErrorDescription {
  return { message, httpStatus: 401, grpcStatus: GrpcStatus.UNAUTHENTICATED };
}

export function describeGatewayError(code: GatewayErrorCode): ErrorDescription {
  switch (code) {
    case 'token_missing':
      return unauthenticated('The request carries no bearer token');
    case 'token_malformed':
      return unauthenticated('The bearer token is not a well-formed JWT');
    case 'token_oversize':
      return unauthenticated('The bearer token is larger than the gateway accepts');
    case 'algorithm_not_allowed':
      return unauthenticated('The token is signed with an algorithm the gateway does not accept');
    case 'issuer_untrusted':
      return unauthenticated('The token was issued by an issuer the gateway does not trust');
    case 'key_unknown':
      return unauthenticated('The token is signed with a key its issuer does not publish');
    case 'signature_invalid':
      return unauthenticated('The token signature is invalid');
    case 'token_expired':
      return unauthenticated('The token has expired');
    case 'token_not_yet_valid':
      return unauthenticated('The token is not valid yet');
    case 'audience_invalid':
      return unauthenticated('The token is not meant for this API (audience)');
    case 'claims_invalid':
      return unauthenticated('The token lacks a claim the gateway requires or has an invalid one');
    case 'issuer_unavailable':
      return {
        message: 'The token issuer cannot be reached to verify the token',
        httpStatus: 503,
        grpcStatus: GrpcStatus.UNAVAILABLE,
      };
    case 'tenant_claim_missing':
      return {
        message: 'The token does not name a valid tenant',
        httpStatus: 403,
        grpcStatus: GrpcStatus.PERMISSION_DENIED,
      };
    case 'tenant_mismatch':
      return {
        message: 'The X-Tenant-ID header names another tenant than the token',
        httpStatus: 403,
        grpcStatus: GrpcStatus.PERMISSION_DENIED,
      };
    case 'path_invalid':
      return {
        message: 'The request path contains dot segments, empty segments or encoded separators',
        httpStatus: 400,
        grpcStatus: GrpcStatus.INVALID_ARGUMENT,
      };
    case 'backend_unavailable':
      return {
        message: 'The service behind this route is not available',
        httpStatus: 503,
        grpcStatus: GrpcStatus.UNAVAILABLE,
      };
    case 'internal_auth_unavailable':
      return {
        message: 'The gateway cannot obtain its service token',
        httpStatus: 503,
        grpcStatus: GrpcStatus.UNAVAILABLE,
      };
  }
}

export class GatewayError extends ServiceError<GatewayErrorCode> {
  override readonly name = 'GatewayError';

  constructor(code: GatewayErrorCode, options?: ServiceErrorOptions) {
    super(code, describeGatewayError(code), options);
  }
}
