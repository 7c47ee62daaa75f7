import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';

import type { Principal } from '@aibox/identity';
import { CurrentPrincipal, RequireCapability, ZodPipe } from '@aibox/platform';

import {
  createArtifactBody,
  listArtifactsQuery,
  type CreateArtifactBody,
  type ListArtifactsQuery,
} from '../dtos/artifact.dto.js';
import { ArtifactService, type ArtifactDownload, type ArtifactView } from '../services/artifact.service.js';
import { attachment } from './files.controller.js';
import { uuidParam } from './params.js';

async function sendArtifact(reply: FastifyReply, download: ArtifactDownload): Promise<void> {
  const { artifact, body } = download;
  await reply
    .code(200)
    .headers({
      'content-type': artifact.content_type,
      'content-length': String(artifact.size),
      'content-disposition': attachment(artifact.name),
      'x-sha256': artifact.sha256,
      // Always a download, never rendered: the bytes are whatever a program in the sandbox wrote.
      'x-content-type-options': 'nosniff',
      'cache-control': 'private, no-store',
    })
    .send(body);
}

/**
 * A sandbox's artifacts (`/v1/sandbox/sandboxes/{id}/artifacts…` through the gateway): workspace files copied
 * into the object store with their SHA-256. Capability `sandbox:exec`, as for the files they are copied from.
 */
@RequireCapability('sandbox:exec')
@Controller('sandboxes/:id/artifacts')
export class ArtifactsController {
  constructor(@Inject(ArtifactService) private readonly artifacts: ArtifactService) {}

  @Post()
  @HttpCode(201)
  create(
    @CurrentPrincipal() principal: Principal,
    @Param('id', uuidParam) id: string,
    @Body(new ZodPipe(createArtifactBody)) body: CreateArtifactBody,
  ): Promise<ArtifactView> {
    return this.artifacts.create(principal, id, body);
  }

  @Get()
  list(
    @CurrentPrincipal() principal: Principal,
    @Param('id', uuidParam) id: string,
    @Query(new ZodPipe(listArtifactsQuery)) query: ListArtifactsQuery,
  ): Promise<{ data: ArtifactView[] }> {
    return this.artifacts.list(principal, id, query);
  }

  @Get(':artifact')
  download(
    @CurrentPrincipal() principal: Principal,
    @Param('id', uuidParam) id: string,
    @Param('artifact', uuidParam) artifact: string,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    return this.artifacts.download(principal, id, artifact).then((found) => sendArtifact(reply, found));
  }

  @Delete(':artifact')
  @HttpCode(204)
  remove(
    @CurrentPrincipal() principal: Principal,
    @Param('id', uuidParam) id: string,
    @Param('artifact', uuidParam) artifact: string,
  ): Promise<void> {
    return this.artifacts.remove(principal, id, artifact);
  }
}
