import type { PROTO_FILES } from '@aibox/contracts';
import type { BootServiceOptions, Environment } from '@aibox/platform';

import { auditConfigSchema, type AuditConfigSchema } from './config/audit-config.schema.js';
import { AuditModule } from './audit.module.js';

/** `aibox.v1.AuditService` and `TurnEventService`; only these, so audit serves no other service's contract. */
const AUDIT_PROTOS = [
  'aibox/v1/audit.proto',
  'aibox/v1/turn_events.proto',
] as const satisfies readonly (typeof PROTO_FILES)[number][];

/** How the audit service boots; `main.ts` runs it, tests boot it with their own environment. */
export function auditServiceOptions(
  env?: Environment,
  logDestination?: BootServiceOptions['logDestination'],
): BootServiceOptions<AuditConfigSchema> {
  return {
    name: 'audit',
    module: AuditModule,
    configSchema: auditConfigSchema,
    grpc: { packages: ['aibox.v1'], protoFiles: [...AUDIT_PROTOS] },
    ...(env === undefined ? {} : { env }),
    ...(logDestination === undefined ? {} : { logDestination }),
  };
}
