import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';

import { credentials, Metadata } from '@grpc/grpc-js';

import {
  AuditServiceClient,
  TurnEventServiceClient,
  type PublishResult,
  type TurnEvent,
} from '@aibox/contracts';
import {
  generateKeySetValue,
  GRPC_METADATA,
  HEADER,
  INTERNAL_PRINCIPAL_ISSUER,
  newTurnId,
  parseKeySet,
  signCapToken,
  signPrincipal,
  type KeySet,
} from '@aibox/identity';
import { bootService, type BootedService } from '@aibox/platform';
import { freePortPair, postgresUrl } from '@aibox/testing';

import { auditServiceOptions } from '../../src/audit.app.js';
import type { AuditConfigSchema } from '../../src/config/audit-config.schema.js';

export type Adapter = 'pglite' | 'postgres';

/** What a test can keep between two boots of "the same" audit service (a restart). */
export interface AuditIdentity {
  readonly dataDir: string;
  readonly schema: string;
  readonly principalKeys: string;
  readonly capTokenKeys: string;
  readonly signingKeys: string;
  readonly adapter: Adapter;
}

/** Where an audit service answers, and the keys its callers sign with. */
export interface AuditEndpoint {
  readonly identity: AuditIdentity;
  readonly url: string;
  readonly grpcTarget: string;
}

export interface TestAudit extends AuditEndpoint {
  readonly service: BootedService<AuditConfigSchema>;
  readonly logs: string[];
  close(): Promise<void>;
}

/** A fresh data dir, keys and (on PostgreSQL) schema: a new, empty audit deployment. */
export async function newAuditIdentity(adapter: Adapter): Promise<AuditIdentity> {
  return {
    dataDir: await mkdtemp(join(tmpdir(), 'aibox-audit-test-')),
    schema: `audit_t${randomBytes(6).toString('hex')}`,
    principalKeys: generateKeySetValue(['test-principal']),
    capTokenKeys: generateKeySetValue(['test-captoken']),
    signingKeys: generateKeySetValue(['test-audit-1'], 32),
    adapter,
  };
}

/** The environment an audit process of `identity` runs with (also used to spawn one). */
export function auditEnv(
  identity: AuditIdentity,
  ports: { http: number },
  env: Record<string, string> = {},
): Record<string, string> {
  return {
    PORT: String(ports.http),
    HOST: '127.0.0.1',
    AIBOX_ENV: 'development',
    AIBOX_DATA_DIR: identity.dataDir,
    AIBOX_PRINCIPAL_KEYS: identity.principalKeys,
    AIBOX_CAPTOKEN_KEYS: identity.capTokenKeys,
    AUDIT_SIGNING_KEYS: identity.signingKeys,
    AUDIT_SQL_SCHEMA: identity.schema,
    AUDIT_CHECKPOINT_MS: '50',
    LOG_LEVEL: 'warn',
    SHUTDOWN_GRACE_MS: '2000',
    ...(identity.adapter === 'postgres' ? { DATABASE_URL: postgresUrl() } : {}),
    ...env,
  };
}

/** Boots the audit service in this process. */
export async function startAudit(
  identity: AuditIdentity,
  env: Record<string, string> = {},
): Promise<TestAudit> {
  const http = await freePortPair();
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      logs.push(chunk.toString('utf8'));
      callback();
    },
  });
  const service = await bootService(auditServiceOptions(auditEnv(identity, { http }, env), destination));
  return {
    identity,
    url: service.httpUrl,
    grpcTarget: service.grpcUrl ?? '',
    service,
    logs,
    close: () => service.close(),
  };
}

export async function removeIdentity(identity: AuditIdentity): Promise<void> {
  await rm(identity.dataDir, { recursive: true, force: true });
}

export interface Who {
  readonly tid: string;
  readonly uid: string;
  readonly roles?: readonly string[];
  /** A mesh service publishing on a turn's behalf (as audit-client signs), not a user. */
  readonly service?: boolean;
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- a test reads the body as the shape it expects.
  json<T = Record<string, unknown>>(): T;
}

/** Calls the audit service as the gateway would on behalf of `who`: signed principal and cap token. */
export class Caller {
  private readonly principalKeys: KeySet;
  private readonly capTokenKeys: KeySet;

  constructor(
    private readonly audit: AuditEndpoint,
    readonly who: Who,
  ) {
    this.principalKeys = parseKeySet(audit.identity.principalKeys);
    this.capTokenKeys = parseKeySet(audit.identity.capTokenKeys);
  }

  principal(): string {
    const { tid, uid } = this.who;
    return signPrincipal(
      this.who.service === true
        ? { tid, uid, email: '', roles: ['service'], iss: INTERNAL_PRINCIPAL_ISSUER, sub: uid }
        : {
            tid,
            uid,
            email: `${uid}@example.test`,
            roles: [...(this.who.roles ?? ['user'])],
            iss: 'https://idp.test',
            sub: uid,
          },
      this.principalKeys,
    );
  }

  async get(
    path: string,
    caps: readonly string[] = path.startsWith('/v1/admin/') ? ['audit:admin'] : ['audit:read'],
  ): Promise<HttpAnswer> {
    const turn = newTurnId();
    const response = await fetch(`${this.audit.url}${path}`, {
      headers: {
        [HEADER.principal]: this.principal(),
        [HEADER.turnId]: turn,
        [HEADER.capToken]: signCapToken(
          { turn, tid: this.who.tid, uid: this.who.uid, caps: [...caps] },
          this.capTokenKeys,
        ),
      },
    });
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      text,
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- as above.
      json: <T>() => JSON.parse(text) as T,
    };
  }

  metadata(): Metadata {
    const metadata = new Metadata();
    metadata.set(GRPC_METADATA.principal, this.principal());
    return metadata;
  }

  publish(events: readonly TurnEvent[]): Promise<PublishResult[]> {
    const client = new TurnEventServiceClient(this.audit.grpcTarget, credentials.createInsecure());
    return new Promise<PublishResult[]>((resolve, reject) => {
      client.publish({ events: [...events] }, this.metadata(), (error, response) => {
        client.close();
        if (error !== null) reject(error);
        else resolve(response.results);
      });
    });
  }

  log(event: TurnEvent): Promise<PublishResult | undefined> {
    const client = new AuditServiceClient(this.audit.grpcTarget, credentials.createInsecure());
    return new Promise((resolve, reject) => {
      client.log({ event }, this.metadata(), (error, response) => {
        client.close();
        if (error !== null) reject(error);
        else resolve(response.result);
      });
    });
  }
}

/** A turn event of `who` with sensible defaults. */
export function turnEvent(who: Who, turnId: string, type: string, extra: Partial<TurnEvent> = {}): TurnEvent {
  return {
    eventId: newTurnId(),
    turnId,
    tenantId: who.tid,
    userId: who.uid,
    service: 'agent-runtime',
    type,
    occurredAt: new Date(),
    attributes: { note: `${type} of ${turnId}` },
    artifacts: [],
    ...extra,
  };
}

/** A new tenant id per test, so tests never see each other's logs. */
export function newTenant(): string {
  return `t-${randomUUID().slice(0, 8)}`;
}

/** Polls `check` until it returns a value (or gives up after `attempts` × 50 ms). */
export async function eventually<T>(check: () => Promise<T | undefined>, attempts = 200): Promise<T> {
  for (let attempt = 0; attempt < attempts; attempt += 1) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('the condition did not hold in time');
}
