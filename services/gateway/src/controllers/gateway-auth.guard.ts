import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';

import { HEADER } from '@aibox/identity';
import { httpRequestContext, setContextPrincipal, setContextTurnId } from '@aibox/platform';

import { GatewayError } from '../errors/gateway.error.js';
import { AuthenticationService } from '../services/authentication.service.js';
import { PRINCIPAL_TTL_SECONDS } from '../services/identity-stamp.service.js';
import { isPublicRoute } from '../services/route-table.js';

/**
 * The gateway's auth decision for `/v1/*`: the platform's `PrincipalGuard` lets these routes through
 * (`@Public()`: the gateway is the authority that mints principals, so it cannot require one), and this
 * guard authenticates the caller's bearer JWT instead, except on the route table's public rows. A 401
 * carries `WWW-Authenticate`; an authenticated request gets its turn id on the response (errors included)
 * and in the request context.
 */
@Injectable()
export class GatewayAuthGuard implements CanActivate {
  constructor(@Inject(AuthenticationService) private readonly authentication: AuthenticationService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const http = context.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    // The platform read a turn id from the client's header; only the gateway allocates turn ids.
    const requestContext = httpRequestContext(request);
    if (requestContext !== undefined) delete requestContext.turnId;
    if (isPublicRoute(request.method, (request.raw.url ?? '/').split('?', 1)[0] ?? '/')) return true;
    try {
      const { identity } = await this.authentication.authenticate(request.raw, (turnId) => {
        setContextTurnId(turnId);
        void reply.header(HEADER.turnId, turnId);
      });
      // For the request's log lines; the principal actually stamped is signed later, per route.
      const now = Math.floor(Date.now() / 1000);
      setContextPrincipal({ ...identity, iat: now, exp: now + PRINCIPAL_TTL_SECONDS });
    } catch (error: unknown) {
      if (error instanceof GatewayError && error.httpStatus === 401) {
        void reply.header('www-authenticate', `Bearer realm="aibox", error="invalid_token"`);
      }
      throw error;
    }
    return true;
  }
}
