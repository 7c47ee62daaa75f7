import type { BootServiceOptions, Environment } from '@aibox/platform';

import { OpenAiErrorFilter } from './controllers/openai-error.filter.js';
import { routerConfigSchema, type RouterConfigSchema } from './config/router-config.schema.js';
import { RouterModule } from './router.module.js';

/** Chat requests carry images as base64 data URLs: far more than the platform's 1 MiB default. */
export const ROUTER_BODY_LIMIT_BYTES = 32 * 1024 * 1024;

/** How the inference router boots: `main.ts` with the process environment, tests with their own. */
export function routerServiceOptions(
  env?: Environment,
  logDestination?: BootServiceOptions['logDestination'],
): BootServiceOptions<RouterConfigSchema> {
  return {
    name: 'inference-router',
    module: RouterModule,
    configSchema: routerConfigSchema,
    bodyLimitBytes: ROUTER_BODY_LIMIT_BYTES,
    httpErrorFilter: (options) => new OpenAiErrorFilter(options),
    ...(env === undefined ? {} : { env }),
    ...(logDestination === undefined ? {} : { logDestination }),
  };
}
