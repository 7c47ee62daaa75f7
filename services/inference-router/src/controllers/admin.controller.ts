import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Patch, Post, Put } from '@nestjs/common';

import { RequireCapability, RequireRole, ZodPipe } from '@aibox/platform';

import {
  createProviderBody,
  patchProviderBody,
  providerParams,
  roleBody,
  roleParams,
  type CreateProviderBody,
  type PatchProviderBody,
  type ProviderView,
  type Role,
  type RoleView,
} from '../dtos/provider.dto.js';
import { ProviderAdmin } from '../services/provider-admin.service.js';

/** Providers (the gateway exposes these at `/v1/admin/inference/providers`, admins only). */
@RequireRole('admin')
@RequireCapability('inference:admin')
@Controller('v1/internal/providers')
export class ProvidersController {
  constructor(@Inject(ProviderAdmin) private readonly admin: ProviderAdmin) {}

  @Get()
  list(): Promise<{ providers: ProviderView[] }> {
    return this.admin.list();
  }

  @Post()
  @HttpCode(201)
  create(
    @Body(new ZodPipe(createProviderBody)) body: CreateProviderBody,
  ): Promise<ProviderView & { models: string[] }> {
    return this.admin.create(body);
  }

  @Get(':name')
  get(@Param(new ZodPipe(providerParams)) params: { name: string }): Promise<ProviderView> {
    return this.admin.get(params.name);
  }

  @Patch(':name')
  update(
    @Param(new ZodPipe(providerParams)) params: { name: string },
    @Body(new ZodPipe(patchProviderBody)) body: PatchProviderBody,
  ): Promise<ProviderView> {
    return this.admin.update(params.name, body);
  }

  @Delete(':name')
  @HttpCode(204)
  async delete(@Param(new ZodPipe(providerParams)) params: { name: string }): Promise<void> {
    await this.admin.delete(params.name);
  }
}

/** Role → ordered models (`/v1/admin/inference/roles` through the gateway). */
@RequireRole('admin')
@RequireCapability('inference:admin')
@Controller('v1/internal/roles')
export class RolesController {
  constructor(@Inject(ProviderAdmin) private readonly admin: ProviderAdmin) {}

  @Get()
  list(): Promise<{ roles: RoleView[] }> {
    return this.admin.roles();
  }

  @Put(':role')
  set(
    @Param(new ZodPipe(roleParams)) params: { role: Role },
    @Body(new ZodPipe(roleBody)) body: { models: string[] },
  ): Promise<RoleView> {
    return this.admin.setRole(params.role, body.models);
  }
}
