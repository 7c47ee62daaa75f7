import type { BootServiceOptions, Environment } from '@aibox/platform';

import { runtimeConfigSchema, type RuntimeConfigSchema } from './config/runtime-config.schema.js';
import { RuntimeModule } from './runtime.module.js';

/** Chat messages carry images and files as base64: far more than the platform's 1 MiB default. */
export const RUNTIME_BODY_LIMIT_BYTES = 32 * 1024 * 1024;

/** How agent-runtime boots: `main.ts` with the process environment, tests with their own. */
export function runtimeServiceOptions(
  env?: Environment,
  logDestination?: BootServiceOptions['logDestination'],
): BootServiceOptions<RuntimeConfigSchema> {
  return {
    name: 'agent-runtime',
    module: RuntimeModule,
    configSchema: runtimeConfigSchema,
    bodyLimitBytes: RUNTIME_BODY_LIMIT_BYTES,
    ...(env === undefined ? {} : { env }),
    ...(logDestination === undefined ? {} : { logDestination }),
  };
}
