import { z } from 'zod';

import { GRPC_PORT_OFFSET, MAX_HTTP_PORT, SERVICE_HTTP_PORTS } from './service-ports.js';
import {
  enumSetting,
  flagSetting,
  grpcTargetSetting,
  intSetting,
  keySetSetting,
  secret,
  textSetting,
  urlListSetting,
  urlSetting,
} from './settings.js';

export const AIBOX_ENVS = ['development', 'production'] as const;
export type AiboxEnv = (typeof AIBOX_ENVS)[number];

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const loopback = '127.0.0.1';

function httpUrl(port: number) {
  return urlSetting().default(`http://${loopback}:${port}`);
}

function grpcTarget(port: number) {
  return grpcTargetSetting().default(`${loopback}:${port + GRPC_PORT_OFFSET}`);
}

/**
 * The settings every service reads (ARCHITECTURE §10). A service adds its own with `configSchema`; the
 * two are merged, the service's entries winning on a name clash.
 */
export const baseConfigSchema = z.object({
  /** HTTP port; gRPC listens on PORT + 1000. Defaults to the service's port from ARCHITECTURE §1. */
  PORT: intSetting(1, MAX_HTTP_PORT),
  HOST: textSetting().default(loopback),
  AIBOX_ENV: enumSetting(AIBOX_ENVS).default('development'),
  LOG_LEVEL: enumSetting(LOG_LEVELS).default('info'),
  /** How long shutdown waits for in-flight HTTP requests and gRPC calls before cutting them. */
  SHUTDOWN_GRACE_MS: intSetting(0, 600_000).default(10_000),

  AUTH_ENABLED: flagSetting().default(true),
  AIBOX_ALLOW_AUTH_DISABLED: flagSetting().default(false),
  AUTH_ISSUERS: urlListSetting().default([]),
  AIBOX_PRINCIPAL_KEYS: secret(keySetSetting().optional()),
  AIBOX_CAPTOKEN_KEYS: secret(keySetSetting().optional()),

  AIBOX_DATA_DIR: textSetting().default('.data'),

  AGENT_RUNTIME_URL: httpUrl(SERVICE_HTTP_PORTS['agent-runtime']),
  AGENT_RUNTIME_GRPC_URL: grpcTarget(SERVICE_HTTP_PORTS['agent-runtime']),
  GUARDRAIL_URL: httpUrl(SERVICE_HTTP_PORTS.guardrail),
  GUARDRAIL_GRPC_URL: grpcTarget(SERVICE_HTTP_PORTS.guardrail),
  MEMORY_URL: httpUrl(SERVICE_HTTP_PORTS.memory),
  MEMORY_GRPC_URL: grpcTarget(SERVICE_HTTP_PORTS.memory),
  INFERENCE_ROUTER_URL: httpUrl(SERVICE_HTTP_PORTS['inference-router']),
  CODE_SANDBOX_URL: httpUrl(SERVICE_HTTP_PORTS['code-sandbox']),
  CODE_SANDBOX_GRPC_URL: grpcTarget(SERVICE_HTTP_PORTS['code-sandbox']),
  KNOWLEDGE_URL: httpUrl(SERVICE_HTTP_PORTS.knowledge),
  KNOWLEDGE_GRPC_URL: grpcTarget(SERVICE_HTTP_PORTS.knowledge),
  AUDIT_URL: httpUrl(SERVICE_HTTP_PORTS.audit),
  AUDIT_GRPC_URL: grpcTarget(SERVICE_HTTP_PORTS.audit),
  IDENTITY_URL: httpUrl(SERVICE_HTTP_PORTS.identity),

  // Connection URLs can embed passwords, so they are secrets too. Unset → embedded store (§9).
  DATABASE_URL: secret(urlSetting(['postgres:', 'postgresql:']).optional()),
  REDIS_URL: secret(urlSetting(['redis:', 'rediss:']).optional()),
  QDRANT_URL: urlSetting().optional(),
  S3_ENDPOINT: urlSetting().optional(),
  S3_ACCESS_KEY: secret(textSetting().optional()),
  S3_SECRET_KEY: secret(textSetting().optional()),
  S3_BUCKET: textSetting().optional(),
});

export type BaseConfigSchema = typeof baseConfigSchema;
export type BaseConfig = z.output<BaseConfigSchema>;
