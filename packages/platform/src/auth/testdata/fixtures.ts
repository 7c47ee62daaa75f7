// Test support for the platform's request-level specs: a hybrid Nest app (Fastify HTTP + gRPC) wired the
// way boot wires the guards, filter, interceptor and request context, and a grpc-js client for it.
import { createHmac } from 'node:crypto';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { Global, Module, type INestApplication, type Provider, type Type } from '@nestjs/common';
import { APP_GUARD, NestFactory } from '@nestjs/core';
import { ServerGrpc } from '@nestjs/microservices';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';

import { decodeErrorDetails, GRPC_STATUS_DETAILS_KEY, type ErrorDetails } from '@aibox/contracts';
import { generateKeySetValue, parseKeySet, type KeySet, type Principal } from '@aibox/identity';

import { installGrpcRequestContext, installHttpRequestContext } from '../../context/request-context.hooks.js';
import { GrpcErrorInterceptor } from '../../errors/grpc-error.interceptor.js';
import { HttpErrorFilter } from '../../errors/http-error.filter.js';
import { REQUEST_LOGGER, type RequestLogger } from '../../errors/request-logger.js';
import { CAPTOKEN_KEYS, PRINCIPAL_KEYS } from '../auth.tokens.js';
import { PrincipalGuard } from '../principal.guard.js';

export const PROBE_PROTO = fileURLToPath(new URL('./probe.proto', import.meta.url));

export interface LogLine {
  level: 'error' | 'warn' | 'debug';
  fields: Record<string, unknown>;
  message: string;
}

/** Keeps every line, so tests can assert what was logged and what never was. */
export class RecordingLogger implements RequestLogger {
  readonly lines: LogLine[] = [];

  error(fields: object, message: string): void {
    this.lines.push({ level: 'error', fields: { ...fields }, message });
  }

  warn(fields: object, message: string): void {
    this.lines.push({ level: 'warn', fields: { ...fields }, message });
  }

  debug(fields: object, message: string): void {
    this.lines.push({ level: 'debug', fields: { ...fields }, message });
  }

  /** Everything logged, as text, to look for leaks. */
  text(): string {
    return this.lines
      .map((line) => {
        const { err, ...rest } = line.fields;
        const errText = err instanceof Error ? `${err.message} ${err.stack ?? ''}` : '';
        return `${line.level} ${line.message} ${JSON.stringify(rest)} ${errText}`;
      })
      .join('\n');
  }
}

export interface TestKeys {
  principal: KeySet;
  capToken: KeySet;
}

export function testKeys(): TestKeys {
  return {
    principal: parseKeySet(generateKeySetValue(['p1'])),
    capToken: parseKeySet(generateKeySetValue(['c1'])),
  };
}

export const ALICE: Omit<Principal, 'iat' | 'exp'> = {
  tid: 'acme',
  uid: 'u-alice',
  email: 'alice@acme.test',
  roles: ['member'],
  iss: 'https://idp.acme.test',
  sub: 'alice',
};

export const TURN_ID = '0190d5a2-7c1e-7b3a-9f10-3c4d5e6f7a8b';

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** A token whose MAC is valid for `payloadJson` exactly as given, canonical or not. */
export function signRaw(payloadJson: string, keys: KeySet): string {
  const key = keys.keys.get(keys.signingKid);
  if (key === undefined) {
    throw new Error('the key set has no signing key');
  }
  const signed = `v1.${keys.signingKid}.${Buffer.from(payloadJson, 'utf8').toString('base64url')}`;
  return `${signed}.${createHmac('sha256', key).update(signed, 'ascii').digest('base64url')}`;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (typeof address === 'object' && address !== null) {
          resolve(address.port);
        } else {
          reject(new Error('no port'));
        }
      });
    });
  });
}

export interface TestAppOptions {
  controllers: Type[];
  keys: TestKeys;
  providers?: Provider[];
  /** Register PrincipalGuard globally (as boot does); default true. */
  globalGuard?: boolean;
  /** Also serve gRPC (ProbeService) with the app's global enhancers; default false. */
  grpc?: boolean;
  bodyLimit?: number;
  /** Register HttpErrorFilter globally (as boot does); default true. */
  errorFilter?: boolean;
}

export interface TestApp {
  app: INestApplication;
  baseUrl: string;
  grpcAddress: string;
  logger: RecordingLogger;
  close(): Promise<void>;
}

/** Starts a hybrid app on loopback ports, wired as boot wires it. */
export async function startTestApp(options: TestAppOptions): Promise<TestApp> {
  const logger = new RecordingLogger();
  const providers: Provider[] = [
    { provide: PRINCIPAL_KEYS, useValue: options.keys.principal },
    { provide: CAPTOKEN_KEYS, useValue: options.keys.capToken },
    { provide: REQUEST_LOGGER, useValue: logger },
  ];

  @Global()
  @Module({ providers, exports: providers.map((provider) => (provider as { provide: symbol }).provide) })
  class TestPlatformModule {}

  @Module({
    imports: [TestPlatformModule],
    controllers: options.controllers,
    providers: [
      ...(options.providers ?? []),
      ...(options.globalGuard === false ? [] : [{ provide: APP_GUARD, useClass: PrincipalGuard }]),
    ],
  })
  class TestAppModule {}

  const adapter = new FastifyAdapter({ bodyLimit: options.bodyLimit ?? 1024 * 1024 });
  installHttpRequestContext(adapter.getInstance());
  // Nest declares its options as a class but reads them as a plain object, as its own docs pass them.
  // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment
  const app = await NestFactory.create<NestFastifyApplication>(TestAppModule, adapter, { logger: false });
  if (options.errorFilter !== false) {
    app.useGlobalFilters(new HttpErrorFilter({ service: 'probe', logger }));
  }
  app.useGlobalInterceptors(new GrpcErrorInterceptor({ service: 'probe', logger }));

  let grpcAddress = '';
  if (options.grpc === true) {
    grpcAddress = `127.0.0.1:${await freePort()}`;
    const server = new ServerGrpc({ package: 'aibox.test', protoPath: PROBE_PROTO, url: grpcAddress });
    installGrpcRequestContext(server);
    app.connectMicroservice({ strategy: server }, { inheritAppConfig: true });
    await app.startAllMicroservices();
  }
  await app.listen(0, '127.0.0.1');
  const baseUrl = await app.getUrl();
  return {
    app,
    baseUrl: baseUrl.replace('[::1]', '127.0.0.1'),
    grpcAddress,
    logger,
    close: () => app.close(),
  };
}

export interface HttpResult {
  status: number;
  body: Record<string, unknown>;
  text: string;
}

export async function request(
  baseUrl: string,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<HttpResult> {
  const response = await fetch(`${baseUrl}${path}`, init);
  const text = await response.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // Not JSON: the test reads `text`.
  }
  return { status: response.status, body, text };
}

export interface GrpcResult {
  error?: grpc.ServiceError;
  response?: Record<string, unknown>;
  /** The decoded `grpc-status-details-bin` trailer of a failed call. */
  details?: ErrorDetails;
}

type UnaryMethod = (
  request: object,
  metadata: grpc.Metadata,
  callback: (error: grpc.ServiceError | null, response?: Record<string, unknown>) => void,
) => grpc.ClientUnaryCall;

/** A grpc-js client of ProbeService. */
export class ProbeClient {
  private readonly client: grpc.Client;

  constructor(address: string) {
    const definition = grpc.loadPackageDefinition(loadSync(PROBE_PROTO, { keepCase: false }));
    const pkg = definition.aibox as grpc.GrpcObject;
    const service = (pkg.test as grpc.GrpcObject).ProbeService as grpc.ServiceClientConstructor;
    this.client = new service(address, grpc.credentials.createInsecure());
  }

  call(method: 'whoami' | 'fail' | 'exec', request: object, metadata: grpc.Metadata): Promise<GrpcResult> {
    const fn = (this.client as unknown as Record<string, UnaryMethod>)[method];
    if (fn === undefined) {
      throw new Error(`no method ${method}`);
    }
    return new Promise((resolve) => {
      fn.call(this.client, request, metadata, (error, response) => {
        if (error !== null) {
          const trailer = error.metadata.get(GRPC_STATUS_DETAILS_KEY)[0];
          const details = Buffer.isBuffer(trailer) ? decodeErrorDetails(trailer) : undefined;
          resolve(details === undefined ? { error } : { error, details });
        } else {
          resolve(response === undefined ? {} : { response });
        }
      });
    });
  }

  close(): void {
    this.client.close();
  }
}

export function metadataOf(entries: Record<string, string>): grpc.Metadata {
  const metadata = new grpc.Metadata();
  for (const [key, value] of Object.entries(entries)) {
    metadata.set(key, value);
  }
  return metadata;
}
