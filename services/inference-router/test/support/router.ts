import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';

import OpenAI from 'openai';

import {
  generateKeySetValue,
  HEADER,
  newTurnId,
  parseKeySet,
  signCapToken,
  signPrincipal,
} from '@aibox/identity';
import { bootService, type BootedService } from '@aibox/platform';
import { dropSchemas, freePort, postgresUrl } from '@aibox/testing';

import type { RouterConfigSchema } from '../../src/config/router-config.schema.js';
import { routerServiceOptions } from '../../src/router.app.js';

export interface Identity {
  readonly tid: string;
  readonly uid: string;
  readonly roles: readonly string[];
  readonly caps: readonly string[];
}

export const ADMIN: Identity = {
  tid: 'default',
  uid: 'root',
  roles: ['user', 'admin'],
  caps: ['inference:admin'],
};
export const MESH: Identity = { tid: 'default', uid: 'alice', roles: ['user'], caps: ['inference:invoke'] };

export interface TestRouter {
  readonly service: BootedService<RouterConfigSchema>;
  readonly url: string;
  readonly logs: string[];
  readonly principalKeys: string;
  readonly capKeys: string;
  /** Headers of a request by `who` in `turn` (a fresh turn when not given). */
  headers(who: Identity, turn?: string): Record<string, string>;
  /** The official SDK against the router, as `who`; every request carries a fresh turn unless `turn` is set. */
  sdk(who?: Identity, options?: { turn?: string; maxRetries?: number }): OpenAI;
  /** A JSON call to the router. */
  call(
    method: string,
    path: string,
    body?: unknown,
    who?: Identity,
  ): Promise<{ status: number; headers: Headers; json: Record<string, unknown> }>;
  close(): Promise<void>;
}

export interface RouterSetup {
  readonly env?: Record<string, string>;
  /** Reuse these keys (to share them with an audit service). */
  readonly principalKeys?: string;
  readonly capKeys?: string;
  /** `postgres`: on the machine's PostgreSQL in a fresh schema (dropped on close); embedded PGlite otherwise. */
  readonly adapter?: 'pglite' | 'postgres';
  /** Boot on this data dir and credentials key (a restart); the caller removes the dir. */
  readonly state?: { readonly dataDir: string; readonly credentialsKey: string };
}

/** Boots the router in this process on a free port, with its own data dir and keys. */
export async function startRouter(setup: RouterSetup = {}): Promise<TestRouter> {
  const dataDir = setup.state?.dataDir ?? (await mkdtemp(join(tmpdir(), 'aibox-router-test-')));
  const principalKeys = setup.principalKeys ?? generateKeySetValue(['test-principal']);
  const capKeys = setup.capKeys ?? generateKeySetValue(['test-captoken']);
  const logs: string[] = [];
  const schema = `router_t${randomBytes(6).toString('hex')}`;
  const postgres = setup.adapter === 'postgres' ? postgresUrl() : undefined;
  const service = await bootService(
    routerServiceOptions(
      {
        PORT: String(await freePort()),
        HOST: '127.0.0.1',
        AIBOX_DATA_DIR: dataDir,
        AIBOX_PRINCIPAL_KEYS: principalKeys,
        AIBOX_CAPTOKEN_KEYS: capKeys,
        AIBOX_CREDENTIALS_KEY: setup.state?.credentialsKey ?? randomBytes(32).toString('base64'),
        // Nothing listens here: events queue and spool, which the data path never waits for.
        AUDIT_GRPC_URL: `127.0.0.1:${await freePort()}`,
        INFERENCE_PROBE_TIMEOUT_MS: '2000',
        INFERENCE_BOOTSTRAP: 'false',
        INFERENCE_RETRY_BASE_MS: '10',
        INFERENCE_RETRY_MAX_MS: '200',
        INFERENCE_USAGE_FLUSH_MS: '100',
        LOG_LEVEL: 'info',
        ...(postgres === undefined ? {} : { DATABASE_URL: postgres, INFERENCE_SQL_SCHEMA: schema }),
        ...setup.env,
      },
      new Writable({
        write(chunk: Buffer, _encoding, callback) {
          logs.push(chunk.toString('utf8'));
          callback();
        },
      }),
    ),
  );
  const principals = parseKeySet(principalKeys);
  const caps = parseKeySet(capKeys);

  const headers = (who: Identity, turn: string = newTurnId()): Record<string, string> => ({
    [HEADER.principal]: signPrincipal(
      {
        tid: who.tid,
        uid: who.uid,
        email: `${who.uid}@example.test`,
        roles: [...who.roles],
        iss: 'https://idp.test',
        sub: who.uid,
      },
      principals,
    ),
    [HEADER.turnId]: turn,
    [HEADER.capToken]: signCapToken({ turn, tid: who.tid, uid: who.uid, caps: [...who.caps] }, caps),
  });

  return {
    service,
    url: service.httpUrl,
    logs,
    principalKeys,
    capKeys,
    headers,
    sdk: (who = MESH, options = {}) =>
      new OpenAI({
        apiKey: 'not-used-by-the-router',
        baseURL: `${service.httpUrl}/v1`,
        maxRetries: options.maxRetries ?? 0,
        fetch: (input, init) => {
          const merged = new Headers(init?.headers);
          for (const [name, value] of Object.entries(headers(who, options.turn))) merged.set(name, value);
          return fetch(input, { ...init, headers: merged });
        },
      }),
    call: async (method, path, body, who = ADMIN) => {
      const response = await fetch(`${service.httpUrl}${path}`, {
        method,
        headers: { ...headers(who), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await response.text();
      return {
        status: response.status,
        headers: response.headers,
        json: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
      };
    },
    close: async () => {
      await service.close();
      if (setup.state === undefined) await rm(dataDir, { recursive: true, force: true });
      if (postgres !== undefined) await dropSchemas([schema], postgres);
    },
  };
}

/** Registers a provider through the admin path; fails the test when the router refuses it. */
export async function addProvider(
  router: TestRouter,
  provider: { name: string; kind?: 'chat_completions' | 'responses'; base_url: string; api_key?: string },
): Promise<void> {
  const answer = await router.call('POST', '/v1/internal/providers', {
    kind: 'chat_completions',
    ...provider,
  });
  if (answer.status !== 201) throw new Error(`provider ${provider.name}: ${JSON.stringify(answer.json)}`);
}

export async function setRole(router: TestRouter, role: string, models: string[]): Promise<void> {
  const answer = await router.call('PUT', `/v1/internal/roles/${role}`, { models });
  if (answer.status !== 200) throw new Error(`role ${role}: ${JSON.stringify(answer.json)}`);
}
