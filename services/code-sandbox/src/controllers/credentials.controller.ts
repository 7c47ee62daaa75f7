import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Patch, Post } from '@nestjs/common';

import type { Principal } from '@aibox/identity';
import { CurrentPrincipal, RequireCapability, ZodPipe } from '@aibox/platform';

import {
  createCredentialBody,
  patchCredentialBody,
  type CreateCredentialBody,
  type PatchCredentialBody,
} from '../dtos/credential.dto.js';
import { CredentialService, type CredentialView } from '../services/credential.service.js';
import { uuidParam } from './params.js';

/** Users' secrets for their sandboxes; a value goes in and never comes back out. */
@RequireCapability('sandbox:manage')
@Controller('credentials')
export class CredentialsController {
  constructor(@Inject(CredentialService) private readonly credentials: CredentialService) {}

  @Post()
  @HttpCode(201)
  create(
    @CurrentPrincipal() principal: Principal,
    @Body(new ZodPipe(createCredentialBody)) body: CreateCredentialBody,
  ): Promise<CredentialView> {
    return this.credentials.create(principal, body);
  }

  @Get()
  list(@CurrentPrincipal() principal: Principal): Promise<{ data: CredentialView[] }> {
    return this.credentials.list(principal);
  }

  @Get(':id')
  get(@CurrentPrincipal() principal: Principal, @Param('id', uuidParam) id: string): Promise<CredentialView> {
    return this.credentials.get(principal, id);
  }

  @Patch(':id')
  update(
    @CurrentPrincipal() principal: Principal,
    @Param('id', uuidParam) id: string,
    @Body(new ZodPipe(patchCredentialBody)) body: PatchCredentialBody,
  ): Promise<CredentialView> {
    return this.credentials.update(principal, id, body);
  }

  @Delete(':id')
  @HttpCode(204)
  delete(@CurrentPrincipal() principal: Principal, @Param('id', uuidParam) id: string): Promise<void> {
    return this.credentials.delete(principal, id);
  }
}
