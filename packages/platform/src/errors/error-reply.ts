import type { status as GrpcStatus } from '@grpc/grpc-js';
import { HttpException } from '@nestjs/common';

import { describePlatformError, ServiceError, type PlatformErrorCode } from './service.error.js';

/** What a transport answers for one error: the same code and sentence on HTTP and gRPC (ARCHITECTURE §5). */
export interface ErrorReply {
  httpStatus: number;
  grpcStatus: GrpcStatus;
  code: string;
  message: string;
  details?: Record<string, unknown>;
  /** A fault of the service rather than of the request: logged at error level with its stack. */
  fault: boolean;
}

export interface DescribeErrorOptions {
  /** Named in the message of an internal error, which hides everything else. */
  correlationId: string;
  /** Set when the HTTP request matched no route: it is then answered `route_unknown`. */
  unmatchedRoute?: { method: string; path: string };
}

// Fastify's own request errors, by their `code`, reached as the cause of the HttpException Nest maps them to.
const FASTIFY_ERROR_CODES: Readonly<Record<string, PlatformErrorCode>> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_request',
};

const STATUS_CODES: Readonly<Record<number, PlatformErrorCode>> = {
  400: 'invalid_request',
  401: 'principal_invalid',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
  503: 'not_ready',
};

function platformReply(code: PlatformErrorCode, message?: string): ErrorReply {
  const description = describePlatformError(code);
  return {
    httpStatus: description.httpStatus,
    grpcStatus: description.grpcStatus,
    code,
    message: message ?? `${description.message}.`,
    fault: code === 'internal',
  };
}

function internalReply(correlationId: string): ErrorReply {
  return platformReply(
    'internal',
    `An internal error occurred; quote correlation id ${correlationId} when reporting it.`,
  );
}

function fastifyErrorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' && code.startsWith('FST_') ? code : undefined;
}

function fromHttpException(exception: HttpException, options: DescribeErrorOptions): ErrorReply {
  const httpStatus = exception.getStatus();
  if (httpStatus >= 500 && httpStatus !== 503) {
    return internalReply(options.correlationId);
  }
  const fastifyCode = fastifyErrorCode(exception.cause);
  if (fastifyCode !== undefined) {
    const code = FASTIFY_ERROR_CODES[fastifyCode];
    if (code !== undefined) {
      return platformReply(code);
    }
  }
  if (httpStatus === 404 && options.unmatchedRoute !== undefined) {
    const { method, path } = options.unmatchedRoute;
    return platformReply('route_unknown', `No route matches ${method} ${path}.`);
  }
  const code = STATUS_CODES[httpStatus] ?? 'invalid_request';
  const reply = platformReply(code);
  // Thrown by application code for the client to read, unless it came from Fastify (whose wording is ours above).
  const message = fastifyCode === undefined ? exception.message.trim() : '';
  return {
    ...reply,
    httpStatus,
    message: message === '' ? reply.message : /[.!?]$/.test(message) ? message : `${message}.`,
  };
}

/**
 * Maps any thrown value to the reply both transports send. A {@link ServiceError} keeps its code, statuses,
 * message and details; Nest's HttpExceptions and Fastify's request errors get platform codes; anything else
 * is an internal error whose message names only the correlation id.
 */
export function describeError(error: unknown, options: DescribeErrorOptions): ErrorReply {
  if (error instanceof ServiceError) {
    const known = error as ServiceError;
    const reply: ErrorReply = {
      httpStatus: known.httpStatus,
      grpcStatus: known.grpcStatus,
      code: known.code,
      message: known.message,
      fault: known.httpStatus >= 500 && known.httpStatus !== 503,
    };
    if (known.details !== undefined) {
      reply.details = known.details;
    }
    return reply;
  }
  if (error instanceof HttpException) {
    return fromHttpException(error, options);
  }
  // Fastify's JSON parser errors that did not pass through Nest's mapping.
  if (error instanceof SyntaxError && (error as { statusCode?: unknown }).statusCode === 400) {
    return platformReply('invalid_json');
  }
  const fastifyCode = fastifyErrorCode(error);
  const mapped = fastifyCode === undefined ? undefined : FASTIFY_ERROR_CODES[fastifyCode];
  if (mapped !== undefined) {
    return platformReply(mapped);
  }
  return internalReply(options.correlationId);
}
