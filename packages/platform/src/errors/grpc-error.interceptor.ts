import { randomUUID } from 'node:crypto';

import { Metadata, status as GrpcStatus } from '@grpc/grpc-js';
import type { CallHandler, ExecutionContext, NestInterceptor } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import { catchError, throwError, type Observable } from 'rxjs';

import { encodeErrorDetails, GRPC_STATUS_DETAILS_KEY } from '@aibox/contracts';

import { currentContext } from '../context/request-context.js';
import { describeError } from './error-reply.js';
import { nestRequestLogger, type RequestLogger } from './request-logger.js';
import { PlatformError } from './service.error.js';

// What Nest answers when a guard returns false instead of throwing.
const GUARD_REFUSAL_MESSAGE = 'Forbidden resource';

/**
 * An error in the shape grpc-js sends (`code`, `details`, trailing `metadata`; see `serverErrorToStatus` in
 * grpc-js), carrying `grpc-status-details-bin` with a `google.rpc.ErrorInfo`.
 */
export class GrpcCallError extends Error {
  override readonly name = 'GrpcCallError';
  readonly code: GrpcStatus;
  readonly details: string;
  readonly metadata: Metadata;

  constructor(code: GrpcStatus, message: string, metadata: Metadata) {
    super(message);
    this.code = code;
    this.details = message;
    this.metadata = metadata;
  }
}

export interface GrpcErrorOptions {
  /** The service's folder name; ErrorInfo.domain is `aibox.<service>`. */
  service: string;
  logger?: RequestLogger;
}

function unwrap(error: unknown): unknown {
  if (error instanceof RpcException) {
    const inner = error.getError();
    if (inner instanceof GrpcCallError) {
      return inner;
    }
    if (error.message === GUARD_REFUSAL_MESSAGE) {
      return new PlatformError('forbidden');
    }
  }
  return error;
}

/**
 * Maps any error to a {@link GrpcCallError}: the status and code of {@link describeError}, the human message,
 * and ErrorInfo (reason = code, domain = `aibox.<service>`, metadata with `correlation_id`, `turn_id` when
 * known, and the JSON of `details` when there are some). Internal errors are logged with their stack and
 * answered with a message that names only the correlation id.
 */
export function toGrpcError(error: unknown, options: GrpcErrorOptions): GrpcCallError {
  const source = unwrap(error);
  if (source instanceof GrpcCallError) {
    return source;
  }
  const context = currentContext();
  const correlationId = context?.correlationId ?? randomUUID();
  const reply = describeError(source, { correlationId });
  // A status of OK (or out of range) would tell the client the call succeeded.
  const numeric: number = reply.grpcStatus;
  const grpcCode = numeric >= 1 && numeric <= 16 ? reply.grpcStatus : GrpcStatus.INTERNAL;

  const info: Record<string, string> = { correlation_id: correlationId };
  if (context?.turnId !== undefined) {
    info.turn_id = context.turnId;
  }
  if (reply.details !== undefined) {
    info.details = JSON.stringify(reply.details);
  }
  const trailer = new Metadata();
  trailer.set(
    GRPC_STATUS_DETAILS_KEY,
    encodeErrorDetails({
      grpcCode,
      message: reply.message,
      reason: reply.code,
      domain: `aibox.${options.service}`,
      metadata: info,
    }),
  );

  const logger = options.logger ?? nestRequestLogger('GrpcErrorInterceptor');
  const fields = {
    code: reply.code,
    grpc_status: grpcCode,
    correlation_id: correlationId,
    ...(context?.turnId === undefined ? {} : { turn_id: context.turnId }),
  };
  if (reply.fault) {
    logger.error({ ...fields, err: source }, 'gRPC call failed');
  } else {
    logger.debug(fields, 'gRPC call refused');
  }
  return new GrpcCallError(grpcCode, reply.message, trailer);
}

/**
 * For gRPC handlers: turns whatever a `@GrpcMethod` handler (or a pipe before it) throws into the status,
 * message and `grpc-status-details-bin` trailer grpc-js sends. The mapped error travels inside an
 * `RpcException`, whose object payload Nest's RPC exception handling hands to grpc-js unchanged.
 * Errors thrown by guards never reach an interceptor; {@link HttpErrorFilter} maps those the same way.
 * Passes HTTP contexts through untouched.
 */
export class GrpcErrorInterceptor implements NestInterceptor {
  private readonly options: GrpcErrorOptions;

  constructor(options: GrpcErrorOptions) {
    this.options = options;
  }

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'rpc') {
      return next.handle();
    }
    return next
      .handle()
      .pipe(
        catchError((error: unknown) => throwError(() => new RpcException(toGrpcError(error, this.options)))),
      );
  }
}
