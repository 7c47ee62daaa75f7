import { status as GrpcStatus } from '@grpc/grpc-js';

/** How one error code is answered on each transport, and the human sentence that explains it. */
export interface ErrorDescription {
  /** A sentence without a final period; an optional detail is appended after a colon. */
  message: string;
  httpStatus: number;
  grpcStatus: GrpcStatus;
}

export interface ServiceErrorOptions {
  /** Appended to the code's message; shown to the client, so never secrets, tokens or stack traces. */
  detail?: string;
  /** Structured, client-visible facts about the error (e.g. validation issues). */
  details?: Record<string, unknown>;
  /** The underlying error: logged, never sent. */
  cause?: unknown;
}

function sentence(message: string, detail: string | undefined): string {
  const trimmed = detail?.trim().replace(/\.+$/, '');
  return trimmed === undefined || trimmed === '' ? `${message}.` : `${message}: ${trimmed}.`;
}

/**
 * The base of every module's error class (STYLE: one error class per module, a code union, a message per
 * code through an exhaustive switch). The HTTP filter and the gRPC interceptor answer it with its code,
 * statuses and message — so the message is public by design; put private facts in `cause`.
 *
 * ```ts
 * type SandboxErrorCode = 'sandbox_not_found' | 'sandbox_busy';
 * export class SandboxError extends ServiceError<SandboxErrorCode> {
 *   override readonly name = 'SandboxError';
 *   constructor(code: SandboxErrorCode, options?: ServiceErrorOptions) {
 *     super(code, describeSandboxError(code), options);
 *   }
 * }
 * ```
 */
export abstract class ServiceError<C extends string = string> extends Error {
  readonly code: C;
  readonly httpStatus: number;
  readonly grpcStatus: GrpcStatus;
  readonly details?: Record<string, unknown>;

  protected constructor(code: C, description: ErrorDescription, options: ServiceErrorOptions = {}) {
    super(
      sentence(description.message, options.detail),
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.code = code;
    this.httpStatus = description.httpStatus;
    this.grpcStatus = description.grpcStatus;
    if (options.details !== undefined) {
      this.details = options.details;
    }
  }
}

/** The platform's own codes: authentication, request shape, routing, readiness. Part of every service's API. */
export type PlatformErrorCode =
  | 'principal_invalid'
  | 'capability_missing'
  | 'forbidden'
  | 'invalid_request'
  | 'invalid_json'
  | 'payload_too_large'
  | 'headers_too_large'
  | 'request_timeout'
  | 'route_unknown'
  | 'not_found'
  | 'method_not_allowed'
  | 'conflict'
  | 'unsupported_media_type'
  | 'rate_limited'
  | 'not_ready'
  | 'internal';

export function describePlatformError(code: PlatformErrorCode): ErrorDescription {
  switch (code) {
    case 'principal_invalid':
      return {
        message: 'The request does not carry a valid principal',
        httpStatus: 401,
        grpcStatus: GrpcStatus.UNAUTHENTICATED,
      };
    case 'capability_missing':
      return {
        message: 'This turn is not allowed to perform this action',
        httpStatus: 403,
        grpcStatus: GrpcStatus.PERMISSION_DENIED,
      };
    case 'forbidden':
      return {
        message: 'You do not have the role this action requires',
        httpStatus: 403,
        grpcStatus: GrpcStatus.PERMISSION_DENIED,
      };
    case 'invalid_request':
      return { message: 'The request is invalid', httpStatus: 400, grpcStatus: GrpcStatus.INVALID_ARGUMENT };
    case 'invalid_json':
      return {
        message: 'The request body is not valid JSON',
        httpStatus: 400,
        grpcStatus: GrpcStatus.INVALID_ARGUMENT,
      };
    case 'payload_too_large':
      return {
        message: 'The request body is larger than this service accepts',
        httpStatus: 413,
        grpcStatus: GrpcStatus.RESOURCE_EXHAUSTED,
      };
    case 'headers_too_large':
      return {
        message: 'The request headers are larger than this service accepts',
        httpStatus: 431,
        grpcStatus: GrpcStatus.RESOURCE_EXHAUSTED,
      };
    case 'request_timeout':
      return {
        message: 'The request did not arrive in time',
        httpStatus: 408,
        grpcStatus: GrpcStatus.DEADLINE_EXCEEDED,
      };
    case 'route_unknown':
      return {
        message: 'No route matches this request',
        httpStatus: 404,
        grpcStatus: GrpcStatus.UNIMPLEMENTED,
      };
    case 'not_found':
      return {
        message: 'The requested resource does not exist',
        httpStatus: 404,
        grpcStatus: GrpcStatus.NOT_FOUND,
      };
    case 'method_not_allowed':
      return {
        message: 'This route does not accept this HTTP method',
        httpStatus: 405,
        grpcStatus: GrpcStatus.UNIMPLEMENTED,
      };
    case 'conflict':
      return {
        message: 'The request conflicts with the current state of the resource',
        httpStatus: 409,
        grpcStatus: GrpcStatus.ABORTED,
      };
    case 'unsupported_media_type':
      return {
        message: 'The request body has a content type this route does not accept',
        httpStatus: 415,
        grpcStatus: GrpcStatus.INVALID_ARGUMENT,
      };
    case 'rate_limited':
      return { message: 'Too many requests', httpStatus: 429, grpcStatus: GrpcStatus.RESOURCE_EXHAUSTED };
    case 'not_ready':
      return {
        message: 'The service is not ready to serve requests',
        httpStatus: 503,
        grpcStatus: GrpcStatus.UNAVAILABLE,
      };
    case 'internal':
      return { message: 'An internal error occurred', httpStatus: 500, grpcStatus: GrpcStatus.INTERNAL };
  }
}

/** The error of the platform's own request-level pieces (guards, pipes, error mapping). */
export class PlatformError extends ServiceError<PlatformErrorCode> {
  override readonly name = 'PlatformError';

  constructor(code: PlatformErrorCode, options?: ServiceErrorOptions) {
    super(code, describePlatformError(code), options);
  }
}
