import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';

import { generateKeySetValue } from '@aibox/identity';
import { bootService, type BootedService } from '@aibox/platform';
import { dropSchemas, freePort, postgresUrl, readSse, type SseEvent } from '@aibox/testing';

import {
  newAuditIdentity,
  removeIdentity,
  startAudit,
  type TestAudit,
} from '../../../audit/test/support/audit.js';
import { startSandboxService, type TestSandboxService } from '../../../code-sandbox/test/support/sandbox.js';
import { startGateway, type TestGateway } from '../../../gateway/test/support/gateway.js';
import { TestIssuer } from '../../../gateway/test/support/oidc-issuer.js';
import {
  addProvider,
  setRole,
  startRouter,
  type TestRouter,
} from '../../../inference-router/test/support/router.js';
import type { RuntimeConfigSchema } from '../../src/config/runtime-config.schema.js';
import { runtimeServiceOptions } from '../../src/runtime.app.js';
import { MODEL, startScriptedModel, type ScriptedModel } from './scripted-model.js';

/**
 * The chat path as it runs in the mesh, in this process: a real OIDC issuer, the gateway, agent-runtime, the
 * inference router and audit, sharing one set of keys; the model behind the router is a scripted
 * OpenAI-compatible server. Requests go through the gateway with a user's bearer token.
 */
export interface Stack {
  readonly gateway: TestGateway;
  readonly issuer: TestIssuer;
  readonly audit: TestAudit;
  readonly router: TestRouter;
  readonly runtime: BootedService<RuntimeConfigSchema>;
  readonly model: ScriptedModel;
  /** code-sandbox, when the stack was started with it. */
  readonly sandbox: TestSandboxService | undefined;
  readonly runtimeLogs: string[];
  /** A bearer token of user `sub` (roles `user`, plus `admin` when asked). */
  token(sub: string, options?: { admin?: boolean }): Promise<string>;
  /** A request through the gateway as `token`. */
  call(
    token: string,
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<Response>;
  close(): Promise<void>;
}

export interface StackOptions {
  readonly runtimeEnv?: Record<string, string>;
  /** Runs agent-runtime on the machine's PostgreSQL (fresh schema, dropped on close) instead of PGlite. */
  readonly postgres?: boolean;
  /** Starts code-sandbox too (it needs bubblewrap). */
  readonly sandbox?: boolean;
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const principalKeys = generateKeySetValue(['test-principal']);
  const capTokenKeys = generateKeySetValue(['test-captoken']);
  const auditIdentity = { ...(await newAuditIdentity('pglite')), principalKeys, capTokenKeys };
  const audit = await startAudit(auditIdentity);
  const model = await startScriptedModel();
  const router = await startRouter({
    principalKeys,
    capKeys: capTokenKeys,
    env: { AUDIT_GRPC_URL: audit.grpcTarget, LOG_LEVEL: 'warn' },
  });
  await addProvider(router, { name: 'scripted', base_url: model.url });
  await setRole(router, 'default', [`scripted/${MODEL}`]);
  await setRole(router, 'title', [`scripted/${MODEL}`]);

  const sandbox =
    options.sandbox === true
      ? await startSandboxService({ keys: { principalKeys, capKeys: capTokenKeys } })
      : undefined;

  const dataDir = await mkdtemp(join(tmpdir(), 'aibox-runtime-test-'));
  const schema = `agent_t${randomBytes(6).toString('hex')}`;
  const runtimeLogs: string[] = [];
  const runtime = await bootService(
    runtimeServiceOptions(
      {
        PORT: String(await freePort()),
        HOST: '127.0.0.1',
        AIBOX_ENV: 'development',
        AIBOX_DATA_DIR: dataDir,
        AIBOX_PRINCIPAL_KEYS: principalKeys,
        AIBOX_CAPTOKEN_KEYS: capTokenKeys,
        AUDIT_GRPC_URL: audit.grpcTarget,
        INFERENCE_ROUTER_URL: router.url,
        ...(sandbox === undefined ? {} : { CODE_SANDBOX_URL: sandbox.url }),
        AGENT_SEAL_DELAY_MS: '300',
        LOG_LEVEL: 'warn',
        SHUTDOWN_GRACE_MS: '2000',
        ...(options.postgres === true ? { DATABASE_URL: postgresUrl(), AGENT_SQL_SCHEMA: schema } : {}),
        ...options.runtimeEnv,
      },
      new Writable({
        write(chunk: Buffer, _encoding, callback) {
          runtimeLogs.push(chunk.toString('utf8'));
          callback();
        },
      }),
    ),
  );

  const issuer = await TestIssuer.start('ES256');
  const gateway = await startGateway({
    AUTH_ISSUERS: issuer.url,
    AIBOX_PRINCIPAL_KEYS: principalKeys,
    AIBOX_CAPTOKEN_KEYS: capTokenKeys,
    AUDIT_GRPC_URL: audit.grpcTarget,
    AGENT_RUNTIME_URL: runtime.httpUrl,
    AUDIT_URL: audit.url,
    INFERENCE_ROUTER_URL: router.url,
    ...(sandbox === undefined ? {} : { CODE_SANDBOX_URL: sandbox.url }),
  });

  return {
    gateway,
    issuer,
    audit,
    router,
    runtime,
    model,
    sandbox,
    runtimeLogs,
    token: (sub, tokenOptions = {}) =>
      issuer.sign(
        { email: `${sub}@example.test`, roles: tokenOptions.admin === true ? ['user', 'admin'] : ['user'] },
        { subject: sub },
      ),
    call: (token, method, path, body, headers = {}) =>
      fetch(`${gateway.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      }),
    async close() {
      await gateway.close();
      await runtime.close();
      await router.close();
      await sandbox?.close();
      await audit.close();
      await Promise.all([issuer.close(), model.close()]);
      await removeIdentity(auditIdentity);
      await rm(dataDir, { recursive: true, force: true });
      if (options.postgres === true) await dropSchemas([schema]);
    },
  };
}

/** A chat stream's events until the turn's `done` or `error` (by default), as the shared SSE reader parses them. */
export function readEvents(
  response: Response,
  until: (event: SseEvent) => boolean = (event) => event.event === 'done' || event.event === 'error',
  options: { keepOpen?: boolean } = {},
): Promise<SseEvent[]> {
  return readSse(response, until, options);
}

export type { SseEvent };
