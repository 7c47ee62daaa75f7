import { applyDecorators, SetMetadata, UseGuards } from '@nestjs/common';

import { PUBLIC_ROUTE, REQUIRED_CAPABILITIES, REQUIRED_ROLES } from './auth.tokens.js';
import { CapabilityGuard } from './capability.guard.js';

/**
 * Marks a handler or controller as answering without a principal (health endpoints). The route check
 * ({@link assertEveryRouteHasAuthDecision}) reports every public route the service has not listed.
 */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(PUBLIC_ROUTE, true);

/** The principal must hold every one of `roles`, else 403 `forbidden`. Checked by {@link PrincipalGuard}. */
export const RequireRole = (...roles: [string, ...string[]]): MethodDecorator & ClassDecorator =>
  SetMetadata(REQUIRED_ROLES, roles);

/**
 * The request must carry a cap token of the principal's turn granting every one of `capabilities`
 * (`x-aibox-cap-token` / `aibox-cap-token`), else 403 `capability_missing`. Applies {@link CapabilityGuard},
 * which runs after the global {@link PrincipalGuard}.
 */
export const RequireCapability = (...capabilities: [string, ...string[]]): MethodDecorator & ClassDecorator =>
  applyDecorators(SetMetadata(REQUIRED_CAPABILITIES, capabilities), UseGuards(CapabilityGuard));
