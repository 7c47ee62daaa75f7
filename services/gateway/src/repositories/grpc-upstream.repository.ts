import {
  credentials,
  status as GrpcStatus,
  type Metadata,
  type ServiceError as GrpcServiceError,
} from '@grpc/grpc-js';

import {
  AuditServiceClient,
  decodeErrorDetails,
  GRPC_STATUS_DETAILS_KEY,
  LogRequest,
  LogResponse,
} from '@aibox/contracts';

/** A gRPC call that failed; `unavailable` when the downstream could not be reached or timed out. */
export class GrpcCallFailure extends Error {
  override readonly name = 'GrpcCallFailure';

  constructor(
    readonly grpcStatus: GrpcStatus,
    readonly reason: string | undefined,
    readonly unavailable: boolean,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

// The call did not get an answer.
const NO_ANSWER: ReadonlySet<GrpcStatus> = new Set([
  GrpcStatus.UNAVAILABLE,
  GrpcStatus.DEADLINE_EXCEEDED,
  GrpcStatus.CANCELLED,
]);

function failureOf(error: GrpcServiceError): GrpcCallFailure {
  const detail = error.metadata.get(GRPC_STATUS_DETAILS_KEY)[0];
  const details = Buffer.isBuffer(detail) ? decodeErrorDetails(detail) : undefined;
  return new GrpcCallFailure(error.code, details?.reason, NO_ANSWER.has(error.code), error.details, {
    cause: error,
  });
}

export interface GrpcCall {
  readonly metadata: Metadata;
  readonly timeoutMs: number;
  readonly signal: AbortSignal;
}

/** gRPC calls behind the route table (I/O), with the clients generated in `@aibox/contracts`. */
export class GrpcUpstreamRepository {
  private readonly audit: AuditServiceClient;

  constructor(targets: { readonly audit: string }) {
    this.audit = new AuditServiceClient(targets.audit, credentials.createInsecure());
  }

  /** `aibox.v1.AuditService/Log`. */
  auditLog(request: LogRequest, call: GrpcCall): Promise<LogResponse> {
    return new Promise((resolve, reject) => {
      const pending = this.audit.log(
        request,
        call.metadata,
        { deadline: Date.now() + call.timeoutMs },
        (error, response) => {
          call.signal.removeEventListener('abort', cancel);
          if (error === null) resolve(response);
          else reject(failureOf(error));
        },
      );
      const cancel = (): void => {
        pending.cancel();
      };
      call.signal.addEventListener('abort', cancel, { once: true });
    });
  }

  close(): void {
    this.audit.close();
  }
}
