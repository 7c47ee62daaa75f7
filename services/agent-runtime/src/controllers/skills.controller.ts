import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Inject,
  Param,
  Patch,
  Post,
  Query,
  Res,
} from '@nestjs/common';
import type { FastifyReply } from 'fastify';

import type { Principal } from '@aibox/identity';
import { CurrentPrincipal, ZodPipe } from '@aibox/platform';

import {
  createSkillBody,
  patchSkillBody,
  skillParams,
  skillQuery,
  type CreateSkillBody,
  type PatchSkillBody,
  type SkillParams,
  type SkillQuery,
  type SkillView,
} from '../dtos/skill.dto.js';
import { SkillCatalog } from '../services/agent-catalog.service.js';

/** Skills the caller can see; written and read as JSON fields or as Markdown with YAML front matter. */
@Controller('v1/skills')
export class SkillsController {
  constructor(@Inject(SkillCatalog) private readonly catalog: SkillCatalog) {}

  @Get()
  list(@CurrentPrincipal() principal: Principal): Promise<{ data: SkillView[] }> {
    return this.catalog.list(principal);
  }

  @Post()
  @HttpCode(201)
  create(
    @CurrentPrincipal() principal: Principal,
    @Body(new ZodPipe(createSkillBody)) body: CreateSkillBody,
  ): Promise<SkillView> {
    return this.catalog.create(principal, body);
  }

  /** JSON, or `?format=markdown` for the skill as a Markdown document (`text/markdown`). */
  @Get(':id')
  async get(
    @CurrentPrincipal() principal: Principal,
    @Param(new ZodPipe(skillParams)) params: SkillParams,
    @Query(new ZodPipe(skillQuery)) query: SkillQuery,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<SkillView | string> {
    const rendered = await this.catalog.render(principal, params.id, query.format);
    void reply.type(rendered.contentType);
    return rendered.body;
  }

  @Patch(':id')
  update(
    @CurrentPrincipal() principal: Principal,
    @Param(new ZodPipe(skillParams)) params: SkillParams,
    @Body(new ZodPipe(patchSkillBody)) body: PatchSkillBody,
  ): Promise<SkillView> {
    return this.catalog.update(principal, params.id, body);
  }

  @Delete(':id')
  @HttpCode(204)
  delete(
    @CurrentPrincipal() principal: Principal,
    @Param(new ZodPipe(skillParams)) params: SkillParams,
  ): Promise<void> {
    return this.catalog.delete(principal, params.id);
  }
}
