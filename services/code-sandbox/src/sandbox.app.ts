import type { PROTO_FILES } from '@aibox/contracts';
import type { BootServiceOptions, Environment } from '@aibox/platform';

import { sandboxConfigSchema, type SandboxConfigSchema } from './config/sandbox-config.schema.js';
import { SandboxModule } from './sandbox.module.js';

/** `aibox.v1.SandboxService`; only this file, so the service serves no other service's contract. */
const SANDBOX_PROTO = 'aibox/v1/sandbox.proto' satisfies (typeof PROTO_FILES)[number];

/** Exec stdin and file uploads ride in JSON bodies. */
export const SANDBOX_BODY_LIMIT_BYTES = 64 * 1024 * 1024;

/** How code-sandbox boots: `main.ts` with the process environment, tests with their own. */
export function sandboxServiceOptions(
  env?: Environment,
  logDestination?: BootServiceOptions['logDestination'],
): BootServiceOptions<SandboxConfigSchema> {
  return {
    name: 'code-sandbox',
    module: SandboxModule,
    configSchema: sandboxConfigSchema,
    grpc: { packages: ['aibox.v1'], protoFiles: [SANDBOX_PROTO] },
    bodyLimitBytes: SANDBOX_BODY_LIMIT_BYTES,
    ...(env === undefined ? {} : { env }),
    ...(logDestination === undefined ? {} : { logDestination }),
  };
}
