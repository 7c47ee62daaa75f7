import {
  base64KeySetting,
  flagSetting,
  intSetting,
  secret,
  textSetting,
  urlListSetting,
  urlSetting,
} from '@aibox/platform';
import { z } from 'zod';

/** The inference router's own settings, merged into the platform's base settings. */
export const routerConfigSchema = z.object({
  /** Encrypts provider API keys at rest (32 bytes, base64); `make dev` generates one. */
  AIBOX_CREDENTIALS_KEY: secret(base64KeySetting().optional()),
  /** The PostgreSQL schema of the router's tables: several deployments (or test runs) can share one database. */
  INFERENCE_SQL_SCHEMA: textSetting()
    .refine((value) => /^[a-z_][a-z0-9_]{0,62}$/.test(value), 'must be a lower-case SQL identifier')
    .default('inference_router'),
  /** How long the `GET {base_url}/models` probe of a registration may take. */
  INFERENCE_PROBE_TIMEOUT_MS: intSetting(100, 60_000).default(5_000),
  /** The routing snapshot is rebuilt this often (and at once after each admin change). */
  INFERENCE_SNAPSHOT_REFRESH_MS: intSetting(1_000, 3_600_000).default(30_000),

  /** Opening a connection to a provider. */
  INFERENCE_CONNECT_TIMEOUT_MS: intSetting(100, 60_000).default(5_000),
  /** From sending a request to the provider's response headers and first event (or whole non-stream body). */
  INFERENCE_FIRST_BYTE_TIMEOUT_MS: intSetting(100, 900_000).default(120_000),
  /** The longest silence between two chunks of a streamed answer. */
  INFERENCE_IDLE_TIMEOUT_MS: intSetting(100, 900_000).default(120_000),
  /** Retries of one provider on 429, 5xx and connect errors, before the first byte reached the caller. */
  INFERENCE_MAX_RETRIES: intSetting(0, 10).default(2),
  /** Jittered exponential backoff between retries: the first wait, and the cap (also for `Retry-After`). */
  INFERENCE_RETRY_BASE_MS: intSetting(0, 60_000).default(200),
  INFERENCE_RETRY_MAX_MS: intSetting(0, 120_000).default(4_000),
  /** Consecutive failures that open a provider's circuit, and how long it stays open before a trial. */
  INFERENCE_BREAKER_FAILURES: intSetting(1, 1_000).default(5),
  INFERENCE_BREAKER_COOLDOWN_MS: intSetting(100, 3_600_000).default(30_000),
  /** The largest non-streamed provider answer the router reads. */
  INFERENCE_MAX_RESPONSE_BYTES: intSetting(1_024, 268_435_456).default(33_554_432),
  /** Bodies sent to audit with `model_invoked` / `model_response` are cut at this size (marked truncated); 0 sends none. */
  INFERENCE_CAPTURE_MAX_BYTES: intSetting(0, 67_108_864).default(8_388_608),
  /** Usage records are written to the store in batches this often. */
  INFERENCE_USAGE_FLUSH_MS: intSetting(50, 60_000).default(1_000),

  /** First start only: seed providers and roles from a reachable local server or `OPENAI_API_KEY`. */
  INFERENCE_BOOTSTRAP: flagSetting().default(true),
  /** Local OpenAI-compatible servers tried by the bootstrap, in order (Ollama, vLLM). */
  INFERENCE_BOOTSTRAP_LOCAL_URLS: urlListSetting().default([
    'http://127.0.0.1:11434/v1',
    'http://127.0.0.1:8000/v1',
  ]),
  /** The bootstrap's fallback provider, when no local server answers. */
  OPENAI_API_KEY: secret(textSetting().optional()),
  OPENAI_BASE_URL: urlSetting().default('https://api.openai.com/v1'),
});

export type RouterConfigSchema = typeof routerConfigSchema;
