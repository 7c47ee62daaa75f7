import type { Provider, Type } from '@nestjs/common';

import { PLATFORM_CONFIG, SecretCipher, type PlatformConfig } from '@aibox/platform';
import type { SqlStore } from '@aibox/stores';

import type { SandboxConfigSchema } from './config/sandbox-config.schema.js';
import { CredentialsController } from './controllers/credentials.controller.js';
import type { CredentialTables } from './repositories/credential-schema.js';
import { CredentialRepository } from './repositories/credential.repository.js';
import { SANDBOX_SQL } from './sandbox.tokens.js';
import { CredentialService } from './services/credential.service.js';

/**
 * The settings the credentials API reads, to be merged into the service's config schema. Without the key the
 * credential routes answer `credentials_key_missing` and the rest of the service runs.
 */
type CredentialsConfig = PlatformConfig<SandboxConfigSchema>;

const CREDENTIAL_CIPHER = Symbol('code-sandbox.CREDENTIAL_CIPHER');

export const CREDENTIAL_CONTROLLERS: readonly Type[] = [CredentialsController];

export const CREDENTIAL_PROVIDERS: readonly Provider[] = [
  {
    provide: CREDENTIAL_CIPHER,
    inject: [PLATFORM_CONFIG],
    useFactory: (config: CredentialsConfig): SecretCipher | null =>
      config.AIBOX_CREDENTIALS_KEY === undefined ? null : new SecretCipher(config.AIBOX_CREDENTIALS_KEY),
  },
  {
    provide: CredentialRepository,
    inject: [SANDBOX_SQL],
    useFactory: (sql: SqlStore<CredentialTables>) => new CredentialRepository(sql),
  },
  {
    provide: CredentialService,
    inject: [CredentialRepository, CREDENTIAL_CIPHER],
    useFactory: (credentials: CredentialRepository, cipher: SecretCipher | null) =>
      new CredentialService(credentials, cipher),
  },
];
