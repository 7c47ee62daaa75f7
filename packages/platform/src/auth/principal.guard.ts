import { Inject, Injectable, Optional, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';

import { IdentityError, isUuid, verifyPrincipal, type KeySet, type Principal } from '@aibox/identity';

import { setContextPrincipal, setContextTurnId } from '../context/request-context.js';
import { nestRequestLogger, REQUEST_LOGGER, type RequestLogger } from '../errors/request-logger.js';
import { PlatformError } from '../errors/service.error.js';
import { CLOCK_SKEW_SECONDS, PRINCIPAL_KEYS, PUBLIC_ROUTE, REQUIRED_ROLES } from './auth.tokens.js';
import { presentedIdentity, rememberPrincipal } from './request-identity.js';

/**
 * Verifies `x-aibox-principal` (HTTP) / `aibox-principal` (gRPC) on every request that is not `@Public()`,
 * with the keys under {@link PRINCIPAL_KEYS} and 30 s of clock skew. Any failure is 401 `principal_invalid`;
 * the precise reason goes to a debug log only, so a caller cannot probe which check failed. On success the
 * principal is remembered for `@CurrentPrincipal()` and put on the request context with the turn id (when it
 * is a UUID), and `@RequireRole()` is enforced (403 `forbidden`).
 *
 * Register globally (an `APP_GUARD` provider, or `app.useGlobalGuards(...)`), and connect the gRPC
 * microservice with `inheritAppConfig: true` so that it guards gRPC handlers too.
 */
@Injectable()
export class PrincipalGuard implements CanActivate {
  private readonly logger: RequestLogger;

  constructor(
    private readonly reflector: Reflector,
    @Inject(PRINCIPAL_KEYS) private readonly keys: KeySet,
    @Optional() @Inject(REQUEST_LOGGER) logger?: RequestLogger,
  ) {
    this.logger = logger ?? nestRequestLogger('PrincipalGuard');
  }

  canActivate(context: ExecutionContext): boolean {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean | undefined>(PUBLIC_ROUTE, targets) === true) {
      return true;
    }
    const identity = presentedIdentity(context);
    if (identity === undefined) {
      // A transport this guard cannot read (e.g. WebSockets) is refused rather than let through.
      this.logger.debug(
        { transport: context.getType(), reason: 'transport_unsupported' },
        'principal rejected',
      );
      throw new PlatformError('principal_invalid');
    }

    const principal = this.verify(identity.principal, context.getType());
    rememberPrincipal(identity.carrier, principal);
    setContextPrincipal(principal);
    if (isUuid(identity.turnId)) {
      setContextTurnId(identity.turnId.toLowerCase());
    }

    const roles = this.reflector.getAllAndMerge<string[]>(REQUIRED_ROLES, targets);
    const missing = roles.filter((role) => !principal.roles.includes(role));
    if (missing.length > 0) {
      throw new PlatformError('forbidden', { detail: `requires role ${missing.join(', ')}` });
    }
    return true;
  }

  private verify(token: string | undefined, transport: string): Principal {
    try {
      return verifyPrincipal(token, this.keys, { skewSeconds: CLOCK_SKEW_SECONDS });
    } catch (error: unknown) {
      if (!(error instanceof IdentityError)) {
        throw error;
      }
      this.logger.debug({ transport, reason: error.code }, 'principal rejected');
      throw new PlatformError('principal_invalid');
    }
  }
}
