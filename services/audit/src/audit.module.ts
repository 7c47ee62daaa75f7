import { Module } from '@nestjs/common';

import {
  CLOSEABLES,
  LOGGER,
  PLATFORM_CONFIG,
  provideReadinessCheck,
  type Closeables,
  type Logger,
} from '@aibox/platform';

import { AdminAuditController } from './controllers/admin-audit.controller.js';
import { AuditController } from './controllers/audit.controller.js';
import { ReceiptsController } from './controllers/receipts.controller.js';
import { TurnEventsGrpcController } from './grpc/turn-events.grpc.controller.js';
import { ArtifactService } from './services/artifact.service.js';
import { createAuditRuntime, type AuditConfig, type AuditRuntime } from './services/audit-runtime.js';
import { IngestService } from './services/ingest.service.js';
import { LogVerifier } from './services/log-verifier.service.js';
import { ReceiptService } from './services/receipt.service.js';
import { Sealer } from './services/sealer.service.js';
import { TurnListing } from './services/turn-listing.service.js';

/** The service's runtime (stores and services), for tests that inspect or damage what is stored. */
export const AUDIT_RUNTIME = Symbol('audit.AUDIT_RUNTIME');

function fromRuntime<T>(token: abstract new (...args: never[]) => T, pick: (runtime: AuditRuntime) => T) {
  return { provide: token, inject: [AUDIT_RUNTIME], useFactory: pick };
}

@Module({
  controllers: [ReceiptsController, AuditController, AdminAuditController, TurnEventsGrpcController],
  providers: [
    {
      provide: AUDIT_RUNTIME,
      inject: [PLATFORM_CONFIG, LOGGER, CLOSEABLES],
      useFactory: (config: AuditConfig, logger: Logger, closeables: Closeables) =>
        createAuditRuntime(config, logger, closeables),
    },
    fromRuntime(IngestService, (runtime) => runtime.ingest),
    fromRuntime(ArtifactService, (runtime) => runtime.artifacts),
    fromRuntime(ReceiptService, (runtime) => runtime.receipts),
    fromRuntime(TurnListing, (runtime) => runtime.listing),
    fromRuntime(LogVerifier, (runtime) => runtime.verifier),
    fromRuntime(Sealer, (runtime) => runtime.sealer),
    provideReadinessCheck('sql', {
      inject: [AUDIT_RUNTIME],
      useFactory: (runtime: AuditRuntime) => () => runtime.sql.ping(),
    }),
  ],
})
export class AuditModule {}
