import { PROTO_FILES } from '@aibox/contracts';
import type { BootServiceOptions, Environment } from '@aibox/platform';

import { auditConfigSchema, type AuditConfigSchema } from './config/audit-config.schema.js';
import { AuditModule } from './audit.module.js';

/** How the audit service boots; `main.ts` runs it, tests boot it with their own environment. */
export function auditServiceOptions(
  env?: Environment,
  logDestination?: BootServiceOptions['logDestination'],
): BootServiceOptions<AuditConfigSchema> {
  return {
    name: 'audit',
    module: AuditModule,
    configSchema: auditConfigSchema,
    grpc: { packages: ['aibox.v1'], protoFiles: [...PROTO_FILES] },
    ...(env === undefined ? {} : { env }),
    ...(logDestination === undefined ? {} : { logDestination }),
  };
}
