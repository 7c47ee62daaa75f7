import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';

import { generateKeySetValue, parseKeySet, type KeySet } from '@aibox/identity';
import { bootService, type BootedService } from '@aibox/platform';
import { freePort } from '@aibox/testing';

import { gatewayConfigSchema } from '../../src/config/gateway-config.schema.js';
import { GATEWAY_PUBLIC_ROUTES } from '../../src/controllers/public-routes.js';
import { GatewayModule } from '../../src/gateway.module.js';

export const SERVICE_URL_SETTINGS = [
  'AGENT_RUNTIME_URL',
  'MEMORY_URL',
  'GUARDRAIL_URL',
  'KNOWLEDGE_URL',
  'AUDIT_URL',
  'INFERENCE_ROUTER_URL',
  'CODE_SANDBOX_URL',
] as const;

export interface TestGateway {
  readonly url: string;
  readonly service: BootedService<typeof gatewayConfigSchema>;
  readonly principalKeys: KeySet;
  readonly capTokenKeys: KeySet;
  readonly logs: string[];
  close(): Promise<void>;
}

/** Boots the gateway in this process on a free port with `env` over test defaults (every service → `downstreamUrl`). */
export async function startGateway(
  env: Record<string, string>,
  downstreamUrl = 'http://127.0.0.1:9',
): Promise<TestGateway> {
  const principal = generateKeySetValue(['test-principal']);
  const capToken = generateKeySetValue(['test-captoken']);
  const dataDir = await mkdtemp(join(tmpdir(), 'aibox-gateway-test-'));
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      logs.push(chunk.toString('utf8'));
      callback();
    },
  });
  const urls = Object.fromEntries(SERVICE_URL_SETTINGS.map((name) => [name, downstreamUrl]));
  const service = await bootService({
    name: 'gateway',
    module: GatewayModule,
    configSchema: gatewayConfigSchema,
    publicRoutes: GATEWAY_PUBLIC_ROUTES,
    logDestination: destination,
    env: {
      PORT: String(await freePort()),
      HOST: '127.0.0.1',
      AIBOX_ENV: 'development',
      AIBOX_DATA_DIR: dataDir,
      AIBOX_PRINCIPAL_KEYS: principal,
      AIBOX_CAPTOKEN_KEYS: capToken,
      LOG_LEVEL: 'warn',
      SHUTDOWN_GRACE_MS: '2000',
      ...urls,
      ...env,
    },
  });
  return {
    url: service.httpUrl,
    service,
    principalKeys: parseKeySet(principal),
    capTokenKeys: parseKeySet(capToken),
    logs,
    close: () => service.close(),
  };
}
