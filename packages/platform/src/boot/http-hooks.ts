import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';

import { httpRequestContext } from '../context/request-context.hooks.js';
import { UNMATCHED_ROUTE, type HttpMetrics } from '../metrics/metrics.js';

/** Response header naming the request in logs and error bodies. */
export const CORRELATION_ID_HEADER = 'x-correlation-id';

// Probes and scrapers call these every few seconds; their access lines would drown the rest at info.
const QUIET_ROUTES: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics']);

export interface HttpHooksOptions {
  logger: Logger;
  metrics: HttpMetrics;
  /** True once shutdown began: responses then close their connection so clients reconnect elsewhere. */
  isDraining: () => boolean;
}

function pathOf(url: string): string {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

/**
 * Per-request observability on the adapter's Fastify instance: the `x-correlation-id` response header,
 * the access log line (never bodies), the HTTP metrics, and `Connection: close` while draining. Installed
 * after the request context hooks, before Nest registers its routes.
 */
export function installHttpHooks(instance: FastifyInstance, options: HttpHooksOptions): void {
  const { logger, metrics, isDraining } = options;

  instance.addHook('onRequest', (request, reply, done) => {
    const context = httpRequestContext(request);
    if (context !== undefined) {
      void reply.header(CORRELATION_ID_HEADER, context.correlationId);
    }
    done();
  });

  instance.addHook('onSend', (_request, reply, payload, done) => {
    if (isDraining() && !reply.raw.headersSent) {
      void reply.header('connection', 'close');
    }
    done(null, payload);
  });

  instance.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? UNMATCHED_ROUTE;
    const status = reply.statusCode;
    const milliseconds = reply.elapsedTime;
    metrics.observe(request.method, route, status, milliseconds / 1000);

    const level = QUIET_ROUTES.has(route) ? 'debug' : 'info';
    if (logger.isLevelEnabled(level)) {
      const context = httpRequestContext(request);
      const principal = context?.principal;
      const line: Record<string, unknown> = {
        method: request.method,
        route,
        path: pathOf(request.url),
        status,
        duration_ms: Math.round(milliseconds * 1000) / 1000,
      };
      if (context !== undefined) {
        line['correlation_id'] = context.correlationId;
        if (context.turnId !== undefined) line['turn_id'] = context.turnId;
      }
      if (principal !== undefined) {
        line['tenant_id'] = principal.tid;
        line['user_id'] = principal.uid;
      }
      if (logger.isLevelEnabled('debug')) {
        line['req'] = request;
      }
      logger[level](line, 'request completed');
    }
    done();
  });
}
