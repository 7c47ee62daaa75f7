import { base64KeySetting, intSetting, secret } from '@aibox/platform';
import { z } from 'zod';

/** The inference router's own settings, merged into the platform's base settings. */
export const routerConfigSchema = z.object({
  /** Encrypts provider API keys at rest (32 bytes, base64); `make dev` generates one. */
  AIBOX_CREDENTIALS_KEY: secret(base64KeySetting().optional()),
  /** How long the `GET {base_url}/models` probe of a registration may take. */
  INFERENCE_PROBE_TIMEOUT_MS: intSetting(100, 60_000).default(5_000),
  /** The routing snapshot is rebuilt this often (and at once after each admin change). */
  INFERENCE_SNAPSHOT_REFRESH_MS: intSetting(1_000, 3_600_000).default(30_000),
});

export type RouterConfigSchema = typeof routerConfigSchema;
