import type { BootServiceOptions, Environment } from '@aibox/platform';

import { routerConfigSchema, type RouterConfigSchema } from './config/router-config.schema.js';
import { RouterModule } from './router.module.js';

/** How the inference router boots (tests boot it with their own environment; it has no `main` yet). */
export function routerServiceOptions(
  env?: Environment,
  logDestination?: BootServiceOptions['logDestination'],
): BootServiceOptions<RouterConfigSchema> {
  return {
    name: 'inference-router',
    module: RouterModule,
    configSchema: routerConfigSchema,
    ...(env === undefined ? {} : { env }),
    ...(logDestination === undefined ? {} : { logDestination }),
  };
}
