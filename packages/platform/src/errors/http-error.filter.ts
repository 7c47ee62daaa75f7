import { randomUUID } from 'node:crypto';

import { Catch, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { throwError, type Observable } from 'rxjs';

import { currentContext, type RequestContext } from '../context/request-context.js';
import { httpRequestContext } from '../context/request-context.hooks.js';
import { describeError, type ErrorReply } from './error-reply.js';
import { toGrpcError } from './grpc-error.interceptor.js';
import { nestRequestLogger, type RequestLogger } from './request-logger.js';

export interface HttpErrorFilterOptions {
  /** The service's folder name (used as `aibox.<service>` for errors of gRPC calls). */
  service: string;
  logger?: RequestLogger;
}

/** The body of every HTTP error response (ARCHITECTURE §5). */
export interface HttpErrorBody {
  error: string;
  code: string;
  details?: Record<string, unknown>;
  turn_id?: string;
  correlation_id: string;
}

const MAX_ECHOED_PATH = 200;

interface RequestLike {
  method?: unknown;
  url?: unknown;
  is404?: unknown;
}

interface FastifyReplyLike {
  sent: boolean;
  raw: { headersSent: boolean; end(): void };
  code(status: number): FastifyReplyLike;
  header(name: string, value: string): FastifyReplyLike;
  send(payload: string): unknown;
}

interface NodeResponseLike {
  headersSent: boolean;
  statusCode: number;
  setHeader(name: string, value: string): unknown;
  end(payload?: string): unknown;
}

function isFastifyReply(value: unknown): value is FastifyReplyLike {
  const reply = value as Partial<FastifyReplyLike> | null;
  return (
    typeof reply?.code === 'function' && typeof reply.send === 'function' && typeof reply.raw === 'object'
  );
}

function isNodeResponse(value: unknown): value is NodeResponseLike {
  const response = value as Partial<NodeResponseLike> | null;
  return typeof response?.setHeader === 'function' && typeof response.end === 'function';
}

function unmatchedRoute(request: RequestLike | undefined): { method: string; path: string } | undefined {
  // Fastify flags requests that reached the not-found handler, which Nest routes to its filters.
  if (request?.is404 !== true) {
    return undefined;
  }
  const method = typeof request.method === 'string' ? request.method : 'GET';
  const url = typeof request.url === 'string' ? request.url : '/';
  const path = url.split('?', 1)[0] ?? '/';
  return { method, path: path.length > MAX_ECHOED_PATH ? `${path.slice(0, MAX_ECHOED_PATH)}…` : path };
}

function errorBody(
  reply: ErrorReply,
  context: RequestContext | undefined,
  correlationId: string,
): HttpErrorBody {
  // Built in this order so that responses read the same everywhere.
  return {
    error: reply.message,
    code: reply.code,
    ...(reply.details === undefined ? {} : { details: reply.details }),
    ...(context?.turnId === undefined ? {} : { turn_id: context.turnId }),
    correlation_id: correlationId,
  };
}

/**
 * The one HTTP exception filter: answers every error as `{"error","code"}` JSON (plus `details`, `turn_id`
 * and `correlation_id`) with the status of {@link describeError}. Unknown errors are logged at error level
 * with their stack and answered 500 `internal`, naming only the correlation id.
 *
 * Nest also runs global filters for errors of gRPC calls in a hybrid app (`inheritAppConfig`), including the
 * errors of guards, which no interceptor sees; those are mapped exactly as {@link GrpcErrorInterceptor} does
 * and handed back to the gRPC transport instead of being written as HTTP.
 */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  private readonly service: string;
  private readonly logger: RequestLogger;
  constructor(options: HttpErrorFilterOptions) {
    this.service = options.service;
    this.logger = options.logger ?? nestRequestLogger('HttpErrorFilter');
  }

  /**
   * The body sent for an error: `{"error","code",…}`. A service whose routes must speak another API's error
   * format (the inference router's OpenAI-compatible routes) overrides this, keeping `code`, and passes its
   * subclass as `bootService`'s `httpErrorFilter`; status, headers and logging stay the filter's.
   */
  protected shapeBody(
    body: HttpErrorBody,
    _httpStatus: number,
    _request: { method?: unknown; url?: unknown } | undefined,
    _exception: unknown,
  ): Record<string, unknown> {
    return { ...body };
  }

  catch(exception: unknown, host: ArgumentsHost): Observable<never> | undefined {
    const type = host.getType();
    if (type === 'rpc') {
      const error = toGrpcError(exception, { service: this.service, logger: this.logger });
      return throwError(() => error);
    }
    if (type !== 'http') {
      throw exception;
    }
    this.answerHttp(exception, host);
    return undefined;
  }

  private answerHttp(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<RequestLike | undefined>();
    const response = http.getResponse<unknown>();
    const context = currentContext() ?? httpRequestContext(request);
    const correlationId = context?.correlationId ?? randomUUID();
    const route = unmatchedRoute(request);
    const reply = describeError(
      exception,
      route === undefined ? { correlationId } : { correlationId, unmatchedRoute: route },
    );

    const fields = {
      code: reply.code,
      status: reply.httpStatus,
      correlation_id: correlationId,
      ...(context?.turnId === undefined ? {} : { turn_id: context.turnId }),
      ...(context?.principal === undefined
        ? {}
        : { tenant_id: context.principal.tid, user_id: context.principal.uid }),
    };
    if (reply.fault) {
      this.logger.error({ ...fields, err: exception }, 'request failed');
    } else {
      this.logger.debug(fields, 'request refused');
    }

    const payload = JSON.stringify(
      this.shapeBody(errorBody(reply, context, correlationId), reply.httpStatus, request, exception),
    );
    if (isFastifyReply(response)) {
      if (response.sent || response.raw.headersSent) {
        // A stream (SSE) already started: the status is gone, so end it; the log line above says why.
        response.raw.end();
        return;
      }
      response.code(reply.httpStatus).header('content-type', 'application/json; charset=utf-8').send(payload);
      return;
    }
    if (isNodeResponse(response)) {
      if (response.headersSent) {
        response.end();
        return;
      }
      response.statusCode = reply.httpStatus;
      response.setHeader('content-type', 'application/json; charset=utf-8');
      response.end(payload);
    }
  }
}
