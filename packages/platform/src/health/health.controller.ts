import { Controller, Get, Inject, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { Registry } from 'prom-client';

import { Public } from '../auth/auth.decorators.js';
import { METRICS } from '../boot/platform.tokens.js';
import { READINESS_CHECKS, type CheckStatus, type Readiness } from './readiness.js';

export interface ReadyBody {
  status: 'ready';
  checks: Record<string, CheckStatus>;
  details?: Record<string, unknown>;
}

export interface NotReadyBody {
  error: string;
  code: 'not_ready';
  draining: boolean;
  checks: Record<string, CheckStatus>;
  details?: Record<string, unknown>;
}

function notReadyMessage(draining: boolean, checks: Record<string, CheckStatus>): string {
  if (draining) {
    return 'The service is shutting down.';
  }
  const failing = Object.entries(checks)
    .filter(([, status]) => status !== 'ok')
    .map(([name, status]) => `${name} ${status === 'timed_out' ? 'timed out' : 'failed'}`);
  return `The service is not ready to serve requests: ${failing.join(', ')}.`;
}

/** `/healthz`, `/readyz` and `/metrics`: public, for probes and scrapers (ARCHITECTURE §1). */
@Public()
@Controller()
export class HealthController {
  constructor(
    @Inject(READINESS_CHECKS) private readonly readiness: Readiness,
    @Inject(METRICS) private readonly registry: Registry,
  ) {}

  /** The process is up and its event loop turns. */
  @Get('healthz')
  healthz(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** Every readiness check passes and the service is not draining: 200; otherwise 503 `not_ready`. */
  @Get('readyz')
  async readyz(@Res({ passthrough: true }) reply: FastifyReply): Promise<ReadyBody | NotReadyBody> {
    const report = await this.readiness.evaluate();
    const details = report.details === undefined ? {} : { details: report.details };
    if (report.ready) {
      return { status: 'ready', checks: report.checks, ...details };
    }
    void reply.code(503);
    return {
      error: notReadyMessage(report.draining, report.checks),
      code: 'not_ready',
      draining: report.draining,
      checks: report.checks,
      ...details,
    };
  }

  /** Prometheus text exposition of the service's registry. */
  @Get('metrics')
  async metrics(@Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    void reply.header('content-type', this.registry.contentType);
    return this.registry.metrics();
  }
}
