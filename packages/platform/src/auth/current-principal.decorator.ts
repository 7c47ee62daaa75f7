import { createParamDecorator, type ExecutionContext } from '@nestjs/common';

import type { Principal } from '@aibox/identity';

import { PlatformError } from '../errors/service.error.js';
import { verifiedPrincipal } from './request-identity.js';

/**
 * The principal {@link PrincipalGuard} verified, as a handler parameter; works in HTTP handlers and in
 * `@GrpcMethod` handlers. On a route without a verified principal (a `@Public()` one) it answers 401
 * `principal_invalid` rather than handing the handler nothing.
 */
export const CurrentPrincipal = createParamDecorator(
  (_data: unknown, context: ExecutionContext): Principal => {
    const principal = verifiedPrincipal(context);
    if (principal === undefined) {
      throw new PlatformError('principal_invalid');
    }
    return principal;
  },
);
