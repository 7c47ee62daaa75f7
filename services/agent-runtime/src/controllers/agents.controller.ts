import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Patch, Post } from '@nestjs/common';

import type { Principal } from '@aibox/identity';
import { CurrentPrincipal, ZodPipe } from '@aibox/platform';

import {
  agentParams,
  createAgentBody,
  patchAgentBody,
  type AgentParams,
  type AgentView,
  type CreateAgentBody,
  type PatchAgentBody,
} from '../dtos/agent.dto.js';
import { AgentCatalog } from '../services/agent-catalog.service.js';

/** The caller's agents: own private ones, tenant-shared and managed ones, and the built-in default agent. */
@Controller('v1/agents')
export class AgentsController {
  constructor(@Inject(AgentCatalog) private readonly catalog: AgentCatalog) {}

  @Get()
  list(@CurrentPrincipal() principal: Principal): Promise<{ data: AgentView[] }> {
    return this.catalog.list(principal);
  }

  @Post()
  @HttpCode(201)
  create(
    @CurrentPrincipal() principal: Principal,
    @Body(new ZodPipe(createAgentBody)) body: CreateAgentBody,
  ): Promise<AgentView> {
    return this.catalog.create(principal, body);
  }

  @Get(':id')
  get(
    @CurrentPrincipal() principal: Principal,
    @Param(new ZodPipe(agentParams)) params: AgentParams,
  ): Promise<AgentView> {
    return this.catalog.get(principal, params.id);
  }

  @Patch(':id')
  update(
    @CurrentPrincipal() principal: Principal,
    @Param(new ZodPipe(agentParams)) params: AgentParams,
    @Body(new ZodPipe(patchAgentBody)) body: PatchAgentBody,
  ): Promise<AgentView> {
    return this.catalog.update(principal, params.id, body);
  }

  @Delete(':id')
  @HttpCode(204)
  delete(
    @CurrentPrincipal() principal: Principal,
    @Param(new ZodPipe(agentParams)) params: AgentParams,
  ): Promise<void> {
    return this.catalog.delete(principal, params.id);
  }
}
