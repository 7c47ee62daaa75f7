import { status as GrpcStatus } from '@grpc/grpc-js';

import {
  ServiceError,
  type ErrorDescription,
  type HttpErrorBody,
  type ServiceErrorOptions,
} from '@aibox/platform';

/** The data path's codes (ARCHITECTURE §7); messages are shown to callers, so never a key or a provider URL. */
export type InferenceErrorCode =
  | 'provider_key_missing'
  | 'role_not_configured'
  | 'role_no_backend'
  | 'model_unknown'
  | 'backend_unavailable'
  | 'upstream_error'
  | 'invalid_request'
  | 'rate_limited'
  | 'budget_exceeded'
  | 'client_closed';

function described(message: string, httpStatus: number, grpcStatus: GrpcStatus): ErrorDescription {
  return { message, httpStatus, grpcStatus };
}

export function describeInferenceError(code: InferenceErrorCode): ErrorDescription {
  switch (code) {
    case 'provider_key_missing':
      return described('The provider has no usable API key', 503, GrpcStatus.FAILED_PRECONDITION);
    case 'role_not_configured':
      return described('No model is assigned to this role', 503, GrpcStatus.FAILED_PRECONDITION);
    case 'role_no_backend':
      return described('No enabled provider serves this role', 503, GrpcStatus.FAILED_PRECONDITION);
    case 'model_unknown':
      return described('The model is neither a role nor a known provider/model', 404, GrpcStatus.NOT_FOUND);
    case 'backend_unavailable':
      return described('No provider could be reached', 503, GrpcStatus.UNAVAILABLE);
    case 'upstream_error':
      return described('The provider failed', 502, GrpcStatus.UNAVAILABLE);
    case 'invalid_request':
      return described('The request is not valid', 400, GrpcStatus.INVALID_ARGUMENT);
    case 'rate_limited':
      return described('The provider is rate limiting', 429, GrpcStatus.RESOURCE_EXHAUSTED);
    case 'budget_exceeded':
      return described('The budget for this period is spent', 402, GrpcStatus.RESOURCE_EXHAUSTED);
    case 'client_closed':
      // Nobody reads it: the caller went away (nginx's 499). It names the outcome in usage and audit.
      return described('The caller closed the request', 499, GrpcStatus.CANCELLED);
  }
}

export class InferenceError extends ServiceError<InferenceErrorCode> {
  override readonly name = 'InferenceError';

  /** `detail` is shown after the code's sentence; `retryAfterSeconds` becomes a `Retry-After` header. */
  constructor(
    code: InferenceErrorCode,
    detail?: string,
    options: Omit<ServiceErrorOptions, 'detail'> & { retryAfterSeconds?: number } = {},
  ) {
    super(code, describeInferenceError(code), {
      ...options,
      ...(detail === undefined ? {} : { detail }),
    });
    if (options.retryAfterSeconds !== undefined) this.retryAfterSeconds = options.retryAfterSeconds;
  }

  readonly retryAfterSeconds?: number;
}

function openAiType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status === 402) return 'insufficient_quota';
  if (status >= 500) return 'api_error';
  return 'invalid_request_error';
}

/**
 * The error body of the OpenAI-compatible routes: OpenAI's `{"error":{"message","type","param","code"}}`, which
 * the official SDKs read (`APIError.code`), plus the mesh's top-level `code` (ARCHITECTURE §5) and correlation.
 */
export function openAiErrorBody(body: HttpErrorBody, httpStatus: number): Record<string, unknown> {
  return {
    error: { message: body.error, type: openAiType(httpStatus), param: null, code: body.code },
    code: body.code,
    ...(body.details === undefined ? {} : { details: body.details }),
    ...(body.turn_id === undefined ? {} : { turn_id: body.turn_id }),
    correlation_id: body.correlation_id,
  };
}

/** The same error as one SSE event, for a stream whose status line is already sent. */
export function openAiStreamError(code: InferenceErrorCode, message: string): string {
  const status = describeInferenceError(code).httpStatus;
  return `data: ${JSON.stringify({ error: { message, type: openAiType(status), param: null, code } })}\n\n`;
}
