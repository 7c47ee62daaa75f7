import type { BootServiceOptions, Environment } from '@aibox/platform';

import { identityConfigSchema, type IdentityConfigSchema } from './config/identity-config.schema.js';
import { IDENTITY_PUBLIC_ROUTES } from './controllers/oidc-routes.js';
import { IdentityModule } from './identity.module.js';

/** How the identity service boots; `main.ts` runs it, tests boot it with their own environment. */
export function identityServiceOptions(
  env?: Environment,
  logDestination?: BootServiceOptions['logDestination'],
): BootServiceOptions<IdentityConfigSchema> {
  return {
    name: 'identity',
    module: IdentityModule,
    configSchema: identityConfigSchema,
    publicRoutes: IDENTITY_PUBLIC_ROUTES,
    ...(env === undefined ? {} : { env }),
    ...(logDestination === undefined ? {} : { logDestination }),
  };
}
