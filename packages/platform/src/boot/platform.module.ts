import { Module, type DynamicModule } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';

import type { KeySet } from '@aibox/identity';

import { CAPTOKEN_KEYS, PRINCIPAL_KEYS } from '../auth/auth.tokens.js';
import { CapabilityGuard } from '../auth/capability.guard.js';
import { PrincipalGuard } from '../auth/principal.guard.js';
import { REQUEST_LOGGER } from '../errors/request-logger.js';
import { HealthController } from '../health/health.controller.js';
import { READINESS_CHECKS, type Readiness } from '../health/readiness.js';
import { CLOSEABLES, type Closeables } from './closeables.js';
import { LOGGER, METRICS, PLATFORM_CONFIG } from './platform.tokens.js';

/** What `bootService` built before Nest starts, handed to the service's modules through DI. */
export interface PlatformProviders {
  config: object;
  logger: Logger;
  metrics: Registry;
  principalKeys: KeySet;
  capTokenKeys: KeySet;
  readiness: Readiness;
  closeables: Closeables;
}

const EXPORTED = [
  PLATFORM_CONFIG,
  LOGGER,
  REQUEST_LOGGER,
  METRICS,
  PRINCIPAL_KEYS,
  CAPTOKEN_KEYS,
  READINESS_CHECKS,
  CLOSEABLES,
  CapabilityGuard,
];

/**
 * Global module every service gets from `bootService`: its config, logger, metrics registry, key sets,
 * readiness checks and closeables under their tokens, the health endpoints, and {@link PrincipalGuard} as
 * the global guard (HTTP and, through `inheritAppConfig`, gRPC).
 */
@Module({})
export class PlatformModule {
  static forRoot(platform: PlatformProviders): DynamicModule {
    return {
      module: PlatformModule,
      global: true,
      controllers: [HealthController],
      providers: [
        { provide: PLATFORM_CONFIG, useValue: platform.config },
        { provide: LOGGER, useValue: platform.logger },
        { provide: REQUEST_LOGGER, useExisting: LOGGER },
        { provide: METRICS, useValue: platform.metrics },
        { provide: PRINCIPAL_KEYS, useValue: platform.principalKeys },
        { provide: CAPTOKEN_KEYS, useValue: platform.capTokenKeys },
        { provide: READINESS_CHECKS, useValue: platform.readiness },
        { provide: CLOSEABLES, useValue: platform.closeables },
        { provide: APP_GUARD, useClass: PrincipalGuard },
        CapabilityGuard,
      ],
      exports: EXPORTED,
    };
  }
}
