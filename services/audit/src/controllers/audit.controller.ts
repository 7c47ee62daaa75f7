import { Controller, Get, Inject, Param, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';

import type { AuditJwk } from '@aibox/audit-proof';
import type { Principal } from '@aibox/identity';
import { CurrentPrincipal, RequireCapability, ZodPipe } from '@aibox/platform';

import { AuditError } from '../errors/audit.error.js';
import { artifactParams, turnParams } from '../dtos/queries.dto.js';
import { ArtifactService } from '../services/artifact.service.js';
import { ReceiptService, type Replay } from '../services/receipt.service.js';

/** Keys, checkpoints, replays and captured bodies of the caller's tenant log. */
@RequireCapability('audit:read')
@Controller('v1/audit')
export class AuditController {
  constructor(
    @Inject(ReceiptService) private readonly receipts: ReceiptService,
    @Inject(ArtifactService) private readonly artifacts: ArtifactService,
  ) {}

  @Get('keys')
  keys(): Promise<{ keys: readonly AuditJwk[] }> {
    return this.receipts.jwks();
  }

  /** The latest signed checkpoint, as the C2SP signed note it is (plain text). */
  @Get('checkpoint')
  async checkpoint(@CurrentPrincipal() principal: Principal, @Res() reply: FastifyReply): Promise<void> {
    const note = await this.receipts.checkpoint(principal.tid);
    await reply
      .header('content-type', 'text/plain; charset=utf-8')
      .header('cache-control', 'no-store')
      .send(note);
  }

  @Get('turns/:turnId/replay')
  replay(
    @Param(new ZodPipe(turnParams)) params: { turnId: string },
    @CurrentPrincipal() principal: Principal,
  ): Promise<Replay> {
    return this.receipts.replay(principal, params.turnId);
  }

  /**
   * A captured body, served as a download: it is content a model or a tool produced, so it must never be
   * rendered by the browser on the platform's origin.
   */
  @Get('turns/:turnId/artifacts/:eventId/:kind')
  async artifact(
    @Param(new ZodPipe(artifactParams)) params: { turnId: string; eventId: string; kind: string },
    @CurrentPrincipal() principal: Principal,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const ref = await this.receipts.artifactRef(principal, params.turnId, params.eventId, params.kind);
    const body = await this.artifacts.get(principal.tid, ref.sha256);
    if (body === undefined) throw new AuditError('artifact_unknown', { detail: 'its body was not captured' });
    await reply
      .header('content-type', ref.content_type)
      .header('content-length', String(body.size))
      .header('content-disposition', `attachment; filename="${params.kind}"`)
      .header('x-content-type-options', 'nosniff')
      .header('content-security-policy', "default-src 'none'; sandbox")
      .header('x-aibox-artifact-sha256', ref.sha256)
      .send(body.body);
  }
}
