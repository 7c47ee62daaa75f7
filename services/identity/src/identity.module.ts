import { Module } from '@nestjs/common';
import { CLOSEABLES, LOGGER, PLATFORM_CONFIG, provideReadinessCheck, type Closeables } from '@aibox/platform';
import type { Logger } from '@aibox/platform';

import { InteractionController } from './controllers/interaction.controller.js';
import { OidcController } from './controllers/oidc.controller.js';
import { IdentityProvider } from './services/identity-provider.service.js';
import {
  createIdentityRuntime,
  type IdentityConfig,
  type IdentityRuntime,
} from './services/identity-runtime.js';
import { InteractionService } from './services/interaction.service.js';

const IDENTITY_RUNTIME = Symbol('identity.IDENTITY_RUNTIME');

@Module({
  controllers: [OidcController, InteractionController],
  providers: [
    {
      provide: IDENTITY_RUNTIME,
      inject: [PLATFORM_CONFIG, LOGGER, CLOSEABLES],
      useFactory: (config: IdentityConfig, logger: Logger, closeables: Closeables) =>
        createIdentityRuntime(config, logger, closeables),
    },
    { provide: IdentityProvider, inject: [IDENTITY_RUNTIME], useFactory: (r: IdentityRuntime) => r.identity },
    {
      provide: InteractionService,
      inject: [IDENTITY_RUNTIME],
      useFactory: (r: IdentityRuntime) => r.interactions,
    },
    provideReadinessCheck('sql', {
      inject: [IDENTITY_RUNTIME],
      useFactory: (runtime: IdentityRuntime) => () => runtime.state.ping(),
    }),
  ],
})
export class IdentityModule {}
