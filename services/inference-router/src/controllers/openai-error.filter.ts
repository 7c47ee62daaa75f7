import { Catch, Inject, type ArgumentsHost } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { Observable } from 'rxjs';

import { HttpErrorFilter, LOGGER, ServiceError, type Logger } from '@aibox/platform';

import { InferenceError, openAiErrorBody } from '../errors/inference.error.js';

/** Retrying these cannot help: the SDKs are told not to (`x-should-retry: false`). */
const FINAL_CODES: ReadonlySet<string> = new Set([
  'role_not_configured',
  'role_no_backend',
  'model_unknown',
  'provider_key_missing',
  'budget_exceeded',
  'invalid_request',
]);

/**
 * The OpenAI-compatible routes answer errors in OpenAI's shape (`{"error":{"message","type","param","code"}}`,
 * which the official SDKs read into `APIError.code`) with the mesh's top-level `code` beside it; a
 * provider's `Retry-After` is passed on, and errors that no retry can fix say so.
 */
@Catch()
export class OpenAiErrorFilter extends HttpErrorFilter {
  constructor(@Inject(LOGGER) logger: Logger) {
    super({ service: 'inference-router', logger, shapeBody: openAiErrorBody });
  }

  override catch(exception: unknown, host: ArgumentsHost): Observable<never> | undefined {
    if (host.getType() === 'http') {
      const reply = host.switchToHttp().getResponse<FastifyReply>();
      if (!reply.sent) {
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
}
