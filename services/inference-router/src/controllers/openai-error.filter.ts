import { Catch, type ArgumentsHost } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { Observable } from 'rxjs';

import { HttpErrorFilter, ServiceError, type HttpErrorBody } from '@aibox/platform';

import { InferenceError, openAiErrorBody } from '../errors/inference.error.js';

/** The routes that speak OpenAI's API, errors included. */
const OPENAI_PATHS: readonly string[] = ['/v1/chat/completions', '/v1/responses', '/v1/embeddings'];

/** Retrying these cannot help: the SDKs are told not to (`x-should-retry: false`). */
const FINAL_CODES: ReadonlySet<string> = new Set([
  'role_not_configured',
  'role_no_backend',
  'model_unknown',
  'provider_key_missing',
  'budget_exceeded',
  'invalid_request',
  'invalid_json',
  'payload_too_large',
  'principal_invalid',
  'capability_missing',
]);

function isOpenAiPath(url: unknown): boolean {
  if (typeof url !== 'string') return false;
  const path = url.split('?', 1)[0] ?? '';
  return OPENAI_PATHS.includes(path.endsWith('/') ? path.slice(0, -1) : path);
}

/**
 * The router's HTTP error filter. On the OpenAI-compatible routes every error — also a body that does not
 * parse, or a missing principal — comes in OpenAI's shape (`{"error":{"message","type","param","code"}}`,
 * which the official SDKs read into `APIError.code`) with the mesh's top-level `code` beside it; a
 * provider's `Retry-After` is passed on, and errors no retry can fix say so. Other routes answer as every
 * service does.
 */
@Catch()
export class OpenAiErrorFilter extends HttpErrorFilter {
  override catch(exception: unknown, host: ArgumentsHost): Observable<never> | undefined {
    if (host.getType() === 'http') {
      const http = host.switchToHttp();
      const reply = http.getResponse<FastifyReply>();
      if (isOpenAiPath(http.getRequest<{ url?: unknown }>().url) && !reply.sent) {
        if (exception instanceof InferenceError && exception.retryAfterSeconds !== undefined) {
          void reply.header('retry-after', String(exception.retryAfterSeconds));
        }
        if (exception instanceof ServiceError && FINAL_CODES.has((exception as ServiceError).code)) {
          void reply.header('x-should-retry', 'false');
        }
      }
    }
    return super.catch(exception, host);
  }

  protected override shapeBody(
    body: HttpErrorBody,
    httpStatus: number,
    request: { url?: unknown } | undefined,
  ): Record<string, unknown> {
    return isOpenAiPath(request?.url) ? openAiErrorBody(body, httpStatus) : { ...body };
  }
}
