import { status as GrpcStatus } from '@grpc/grpc-js';

import { ServiceError } from '@aibox/platform';

const HTTP_STATUS: Partial<Record<GrpcStatus, number>> = {
  [GrpcStatus.INVALID_ARGUMENT]: 400,
  [GrpcStatus.FAILED_PRECONDITION]: 400,
  [GrpcStatus.OUT_OF_RANGE]: 400,
  [GrpcStatus.NOT_FOUND]: 404,
  [GrpcStatus.ALREADY_EXISTS]: 409,
  [GrpcStatus.ABORTED]: 409,
  [GrpcStatus.PERMISSION_DENIED]: 403,
  [GrpcStatus.RESOURCE_EXHAUSTED]: 429,
};

/**
 * A refusal a downstream answered over gRPC, passed on with its own code (`google.rpc.ErrorInfo.reason`)
 * and message. Statuses without a client-facing meaning (UNAUTHENTICATED between services, INTERNAL, …)
 * become 502 `upstream_error`: they are the mesh's fault, not the caller's.
 */
export class DownstreamError extends ServiceError {
  override readonly name = 'DownstreamError';

  constructor(grpcStatus: GrpcStatus, reason: string | undefined, message: string, options?: ErrorOptions) {
    const httpStatus = HTTP_STATUS[grpcStatus];
    const known = httpStatus !== undefined;
    super(
      known ? (reason ?? 'invalid_request') : 'upstream_error',
      {
        message:
          known && message.trim() !== ''
            ? message.trim().replace(/\.+$/, '')
            : 'The service behind this route failed',
        httpStatus: httpStatus ?? 502,
        grpcStatus,
      },
      options?.cause === undefined ? {} : { cause: options.cause },
    );
  }
}
