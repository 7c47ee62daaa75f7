import { status as GrpcStatus } from '@grpc/grpc-js';

import { ServiceError, type ErrorDescription, type ServiceErrorOptions } from '@aibox/platform';

/** The audit service's own codes (README: Error codes); the platform's codes come as `PlatformError`. */
export type AuditErrorCode =
  | 'turn_unknown'
  | 'receipt_pending'
  | 'log_empty'
  | 'artifact_unknown'
  | 'event_unknown'
  | 'query_invalid'
  | 'batch_too_large'
  | 'artifact_header_missing'
  | 'artifact_invalid'
  | 'tenant_mismatch'
  | 'store_unavailable';

export function describeAuditError(code: AuditErrorCode): ErrorDescription {
  switch (code) {
    case 'turn_unknown':
      return { message: 'No such turn in your audit log', httpStatus: 404, grpcStatus: GrpcStatus.NOT_FOUND };
    case 'receipt_pending':
      return {
        message: 'The turn is not sealed yet; its receipt follows within seconds',
        httpStatus: 404,
        grpcStatus: GrpcStatus.NOT_FOUND,
      };
    case 'log_empty':
      return {
        message: 'Your tenant log has no sealed turn yet, so no checkpoint',
        httpStatus: 404,
        grpcStatus: GrpcStatus.NOT_FOUND,
      };
    case 'artifact_unknown':
      return {
        message: 'The event has no stored artifact of this kind',
        httpStatus: 404,
        grpcStatus: GrpcStatus.NOT_FOUND,
      };
    case 'event_unknown':
      return { message: 'No such event in this turn', httpStatus: 404, grpcStatus: GrpcStatus.NOT_FOUND };
    case 'query_invalid':
      return { message: 'The query is invalid', httpStatus: 400, grpcStatus: GrpcStatus.INVALID_ARGUMENT };
    case 'batch_too_large':
      return {
        message: 'The batch carries more events than audit accepts in one call',
        httpStatus: 413,
        grpcStatus: GrpcStatus.INVALID_ARGUMENT,
      };
    case 'artifact_header_missing':
      return {
        message: 'An artifact stream must start with its header',
        httpStatus: 400,
        grpcStatus: GrpcStatus.INVALID_ARGUMENT,
      };
    case 'artifact_invalid':
      return {
        message: 'The artifact header is invalid',
        httpStatus: 400,
        grpcStatus: GrpcStatus.INVALID_ARGUMENT,
      };
    case 'store_unavailable':
      return {
        message: 'The audit log cannot commit right now; nothing of this call was stored',
        httpStatus: 503,
        grpcStatus: GrpcStatus.UNAVAILABLE,
      };
    case 'tenant_mismatch':
      return {
        message: 'The tenant differs from the tenant of your principal',
        httpStatus: 403,
        grpcStatus: GrpcStatus.PERMISSION_DENIED,
      };
  }
}

export class AuditError extends ServiceError<AuditErrorCode> {
  override readonly name = 'AuditError';

  constructor(code: AuditErrorCode, options?: ServiceErrorOptions) {
    super(code, describeAuditError(code), options);
  }
}
