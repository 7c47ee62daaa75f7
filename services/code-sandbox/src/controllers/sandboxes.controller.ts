import { Body, Controller, Delete, Get, Headers, HttpCode, Inject, Param, Post, Query } from '@nestjs/common';

import type { Principal } from '@aibox/identity';
import { CurrentPrincipal, RequireCapability, ZodPipe } from '@aibox/platform';

import {
  bulkDeleteQuery,
  listQuery,
  sandboxSpec,
  type ListQuery,
  type SandboxSpecBody,
} from '../dtos/sandbox.dto.js';
import { SandboxService, type SandboxView } from '../services/sandbox.service.js';
import { idempotencyKey, uuidParam } from './params.js';

/** Sandbox lifecycle: accepted at once, converging in the background (follow `/sandboxes/{id}/events`). */
@RequireCapability('sandbox:manage')
@Controller('sandboxes')
export class SandboxesController {
  constructor(@Inject(SandboxService) private readonly sandboxes: SandboxService) {}

  @Post()
  @HttpCode(202)
  create(
    @CurrentPrincipal() principal: Principal,
    @Body(new ZodPipe(sandboxSpec)) body: SandboxSpecBody,
    @Headers('idempotency-key') key: string | undefined,
  ): Promise<SandboxView> {
    return this.sandboxes.create(principal, body, idempotencyKey(key));
  }

  @Get()
  list(
    @CurrentPrincipal() principal: Principal,
    @Query(new ZodPipe(listQuery)) query: ListQuery,
  ): Promise<{ data: SandboxView[] }> {
    return this.sandboxes.list(principal, query.selector, query.limit);
  }

  @Delete()
  @HttpCode(202)
  deleteMatching(
    @CurrentPrincipal() principal: Principal,
    @Query(new ZodPipe(bulkDeleteQuery)) query: { selector: string },
  ): Promise<{ deleting: string[] }> {
    return this.sandboxes.deleteMatching(principal, query.selector);
  }

  @Get(':id')
  get(@CurrentPrincipal() principal: Principal, @Param('id', uuidParam) id: string): Promise<SandboxView> {
    return this.sandboxes.get(principal, id);
  }

  @Delete(':id')
  @HttpCode(202)
  delete(@CurrentPrincipal() principal: Principal, @Param('id', uuidParam) id: string): Promise<SandboxView> {
    return this.sandboxes.delete(principal, id);
  }

  @Post(':id/stop')
  @HttpCode(202)
  stop(@CurrentPrincipal() principal: Principal, @Param('id', uuidParam) id: string): Promise<SandboxView> {
    return this.sandboxes.stop(principal, id);
  }

  @Post(':id/start')
  @HttpCode(202)
  start(@CurrentPrincipal() principal: Principal, @Param('id', uuidParam) id: string): Promise<SandboxView> {
    return this.sandboxes.start(principal, id);
  }
}
