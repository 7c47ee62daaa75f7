import { Controller, Get, Options, Post, Req, Res } from '@nestjs/common';
import { Public } from '@aibox/platform';
import type { FastifyReply, FastifyRequest } from 'fastify';

import { IdentityProvider } from '../services/identity-provider.service.js';
import { OIDC_GET_ROUTES, OIDC_OPTIONS_ROUTES, OIDC_POST_ROUTES } from './oidc-routes.js';

/** oidc-provider's endpoints: discovery, JWKS, authorization, token, userinfo, revocation, device, logout. */
@Public()
@Controller()
export class OidcController {
  constructor(private readonly identity: IdentityProvider) {}

  @Get([...OIDC_GET_ROUTES])
  get(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    return this.identity.handle(request, reply);
  }

  @Post([...OIDC_POST_ROUTES])
  post(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    return this.identity.handle(request, reply);
  }

  @Options([...OIDC_OPTIONS_ROUTES])
  preflight(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    return this.identity.handle(request, reply);
  }
}
