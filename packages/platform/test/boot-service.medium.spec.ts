import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';

import {
  credentials,
  loadPackageDefinition,
  Metadata,
  status,
  type ClientDuplexStream,
  type ServiceClientConstructor,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  AuditServiceClient,
  HealthCheckResponse_ServingStatus,
  HealthClient,
  LogRequest,
  PROTO_FILES,
  PublishStatus,
  type LogResponse,
} from '@aibox/contracts';
import { GRPC_METADATA, HEADER } from '@aibox/identity';
import { freePortPair } from '@aibox/testing';

import { bootService, type BootedService } from '../src/index.js';
import {
  FIXTURE_STATE,
  fixtureConfigSchema,
  FixtureModule,
  type FixtureState,
} from './fixture/fixture.module.js';
import {
  alicePrincipal,
  fixtureEnv,
  fixtureKeys,
  LogCapture,
  type FixtureKeys,
} from './support/fixture-env.js';

type Booted = BootedService<typeof fixtureConfigSchema>;

async function bootFixture(
  keys: FixtureKeys,
  extraEnv: Record<string, string> = {},
): Promise<{ service: Booted; logs: LogCapture; state: FixtureState }> {
  const port = await freePortPair();
  const logs = new LogCapture();
  const service = await bootService({
    name: 'fixture',
    module: FixtureModule,
    configSchema: fixtureConfigSchema,
    grpc: { packages: ['aibox.v1'], protoFiles: [...PROTO_FILES] },
    env: fixtureEnv(port, keys, extraEnv),
    bodyLimitBytes: 1024,
    logDestination: logs,
  });
  return { service, logs, state: service.app.get<FixtureState>(FIXTURE_STATE) };
}

function healthStatus(target: string, service = ''): Promise<HealthCheckResponse_ServingStatus> {
  const client = new HealthClient(target, credentials.createInsecure());
  return new Promise((resolve, reject) => {
    client.check({ service }, (error, response) => {
      client.close();
      if (error !== null) reject(error);
      else resolve(response.status);
    });
  });
}

const require = createRequire(import.meta.url);
const REFLECTION_PROTO = join(
  dirname(require.resolve('@grpc/reflection')),
  '../proto/grpc/reflection/v1/reflection.proto',
);

interface ReflectionResponse {
  listServicesResponse?: { service: { name: string }[] };
}

interface ReflectionClient {
  serverReflectionInfo(): ClientDuplexStream<{ listServices: string }, ReflectionResponse>;
  close(): void;
}

/** Asks the server's reflection service which services it serves. */
function listServices(target: string): Promise<string[]> {
  const definition = loadSync(REFLECTION_PROTO, { keepCase: false, defaults: true, oneofs: true });
  const grpc = loadPackageDefinition(definition) as unknown as {
    grpc: { reflection: { v1: { ServerReflection: ServiceClientConstructor } } };
  };
  const Client = grpc.grpc.reflection.v1.ServerReflection;
  const client = new Client(target, credentials.createInsecure()) as unknown as ReflectionClient;
  return new Promise((resolve, reject) => {
    const stream = client.serverReflectionInfo();
    stream.on('data', (response: ReflectionResponse) => {
      resolve((response.listServicesResponse?.service ?? []).map((entry) => entry.name));
      stream.end();
      client.close();
    });
    stream.on('error', reject);
    stream.write({ listServices: '' });
  });
}

/** `AuditService.Log` through the generated client, with `principal` in the metadata when given. */
function logEvent(target: string, eventId: string, principal?: string): Promise<LogResponse> {
  const client = new AuditServiceClient(target, credentials.createInsecure());
  const metadata = new Metadata();
  if (principal !== undefined) metadata.set(GRPC_METADATA.principal, principal);
  return new Promise<LogResponse>((resolve, reject) => {
    client.log(LogRequest.fromPartial({ event: { eventId } }), metadata, (error, response) => {
      client.close();
      if (error !== null) reject(error);
      else resolve(response);
    });
  });
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('bootService', () => {
  const keys = fixtureKeys();
  let service: Booted;
  let logs: LogCapture;
  let state: FixtureState;

  beforeAll(async () => {
    ({ service, logs, state } = await bootFixture(keys));
  });

  afterAll(async () => {
    await service.close();
  });

  it('answers /healthz with a correlation id', async () => {
    const response = await fetch(`${service.httpUrl}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
    expect(response.headers.get('x-correlation-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('reports readiness per check, 503 not_ready when one fails', async () => {
    const ready = await fetch(`${service.httpUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { store: 'ok' } });

    state.storeUp = false;
    try {
      const notReady = await fetch(`${service.httpUrl}/readyz`);
      expect(notReady.status).toBe(503);
      const body = (await notReady.json()) as Record<string, unknown>;
      expect(body).toMatchObject({ code: 'not_ready', checks: { store: 'failed' }, draining: false });
      expect(body['error']).toContain('store failed');
      expect(await healthStatus(service.grpcUrl ?? '')).toBe(HealthCheckResponse_ServingStatus.NOT_SERVING);
    } finally {
      state.storeUp = true;
    }
    expect((await fetch(`${service.httpUrl}/readyz`)).status).toBe(200);
    expect(await healthStatus(service.grpcUrl ?? '')).toBe(HealthCheckResponse_ServingStatus.SERVING);
  });

  it('serves gRPC health for the server and for each of its services', async () => {
    const target = service.grpcUrl ?? '';
    expect(await healthStatus(target)).toBe(HealthCheckResponse_ServingStatus.SERVING);
    expect(await healthStatus(target, 'aibox.v1.AuditService')).toBe(
      HealthCheckResponse_ServingStatus.SERVING,
    );
  });

  it('lists its services through server reflection', async () => {
    const services = await listServices(service.grpcUrl ?? '');
    expect(services).toEqual(expect.arrayContaining(['aibox.v1.AuditService', 'grpc.health.v1.Health']));
  });

  it('lets a valid principal through to the handler and answers a tampered one 401 principal_invalid', async () => {
    const principal = alicePrincipal(keys);
    const turnId = '01939b5e-7c1a-7def-8123-456789abcdef';
    const ok = await fetch(`${service.httpUrl}/items/a1`, {
      headers: { [HEADER.principal]: principal, [HEADER.turnId]: turnId },
    });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({
      id: 'a1',
      greeting: 'hello',
      tenant: 'tenant-a',
      user: 'user-alice',
      roles: ['member'],
      turn_id: turnId,
    });

    const parts = principal.split('.');
    const payload = JSON.parse(Buffer.from(parts[2] ?? '', 'base64url').toString('utf8')) as Record<
      string,
      unknown
    >;
    parts[2] = Buffer.from(JSON.stringify({ ...payload, tid: 'tenant-b' }), 'utf8').toString('base64url');
    const tampered = await fetch(`${service.httpUrl}/items/a1`, {
      headers: { [HEADER.principal]: parts.join('.') },
    });
    expect(tampered.status).toBe(401);
    expect(await tampered.json()).toMatchObject({ code: 'principal_invalid' });

    const missing = await fetch(`${service.httpUrl}/items/a1`);
    expect(missing.status).toBe(401);
    expect(await missing.json()).toMatchObject({ code: 'principal_invalid' });
  });

  it('guards gRPC calls with the principal too', async () => {
    const target = service.grpcUrl ?? '';
    const response = await logEvent(target, 'e-1', alicePrincipal(keys));
    expect(response.result).toMatchObject({ eventId: 'e-1', status: PublishStatus.ACCEPTED });
    await expect(logEvent(target, 'e-2')).rejects.toMatchObject({ code: status.UNAUTHENTICATED });
  });

  it('counts HTTP requests by route pattern and gRPC calls by method and code', async () => {
    const principal = alicePrincipal(keys);
    await fetch(`${service.httpUrl}/items/m1`, { headers: { [HEADER.principal]: principal } });
    await fetch(`${service.httpUrl}/items/m2`, { headers: { [HEADER.principal]: principal } });
    await fetch(`${service.httpUrl}/no/such/route/42`);

    const response = await fetch(`${service.httpUrl}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    expect(text).toMatch(/^http_requests_total\{method="GET",route="\/items\/:id",status="200"\} [2-9]/m);
    expect(text).toMatch(/^http_requests_total\{method="GET",route="unmatched",status="404"\} 1$/m);
    expect(text).not.toContain('/no/such/route');
    expect(text).toMatch(/^http_request_duration_seconds_count\{method="GET",route="\/items\/:id"\} [2-9]/m);
    expect(text).toMatch(/^grpc_requests_total\{method="aibox.v1.AuditService\/Log",code="OK"\} [1-9]/m);
    expect(text).toMatch(
      /^grpc_requests_total\{method="aibox.v1.AuditService\/Log",code="UNAUTHENTICATED"\} [1-9]/m,
    );
    expect(text).toMatch(
      /^grpc_request_duration_seconds_count\{method="aibox.v1.AuditService\/Log"\} [1-9]/m,
    );
    expect(text).toContain('process_cpu_user_seconds_total');
  });

  it('answers unknown routes 404 route_unknown and oversized bodies 413 payload_too_large', async () => {
    const unknown = await fetch(`${service.httpUrl}/nowhere`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ code: 'route_unknown' });

    const large = await fetch(`${service.httpUrl}/items/x1`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [HEADER.principal]: alicePrincipal(keys) },
      body: JSON.stringify({ padding: 'x'.repeat(4096) }),
    });
    expect(large.status).toBe(413);
    expect(await large.json()).toMatchObject({ code: 'payload_too_large' });
  });

  it('answers what the HTTP parser refuses with {error, code}: malformed requests 400, huge headers 431', async () => {
    const url = new URL(service.httpUrl);
    const exchange = (raw: string): Promise<string> =>
      new Promise((resolve, reject) => {
        const socket = connect(Number(url.port), url.hostname);
        let answer = '';
        socket.setEncoding('utf8');
        socket.on('data', (chunk: string) => (answer += chunk));
        socket.on('end', () => {
          resolve(answer);
        });
        socket.on('error', reject);
        socket.write(raw);
      });
    const cases = [
      { raw: 'GARBAGE\r\n\r\n', status: 400, code: 'invalid_request' },
      {
        raw: 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Bad: a\u0000b\r\n\r\n',
        status: 400,
        code: 'invalid_request',
      },
      {
        raw: 'GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
        status: 400,
        code: 'invalid_request',
      },
      {
        raw: `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(70_000)}\r\n\r\n`,
        status: 431,
        code: 'headers_too_large',
      },
    ];
    for (const { raw, status, code } of cases) {
      const answer = await exchange(raw);
      const [head = '', body = ''] = answer.split('\r\n\r\n');
      expect(head.split('\r\n')[0]).toBe(
        `HTTP/1.1 ${status} ${status === 400 ? 'Bad Request' : 'Request Header Fields Too Large'}`,
      );
      expect(head.toLowerCase()).toContain('connection: close');
      const parsed = JSON.parse(body) as { error?: unknown; code?: unknown };
      expect(Object.keys(parsed).sort()).toEqual(['code', 'error']);
      expect(parsed.code).toBe(code);
      expect(typeof parsed.error).toBe('string');
    }
    // The service is still up.
    expect((await fetch(`${service.httpUrl}/healthz`)).status).toBe(200);
  });

  it('logs request lines carrying the turn, tenant, user and correlation ids', async () => {
    const turnId = '01939b5e-7c1a-7def-8123-000000000001';
    const response = await fetch(`${service.httpUrl}/items/log-me`, {
      headers: { [HEADER.principal]: alicePrincipal(keys), [HEADER.turnId]: turnId },
    });
    const correlationId = response.headers.get('x-correlation-id');
    const handlerLine = logs.lines.find((line) => line['msg'] === 'item read' && line['item'] === 'log-me');
    expect(handlerLine).toMatchObject({
      service: 'fixture',
      level: 'info',
      turn_id: turnId,
      tenant_id: 'tenant-a',
      user_id: 'user-alice',
      correlation_id: correlationId,
    });
    const accessLine = logs.lines.find(
      (line) => line['msg'] === 'request completed' && line['path'] === '/items/log-me',
    );
    expect(accessLine).toMatchObject({
      level: 'info',
      method: 'GET',
      route: '/items/:id',
      status: 200,
      turn_id: turnId,
      tenant_id: 'tenant-a',
      user_id: 'user-alice',
      correlation_id: correlationId,
    });
    expect(accessLine?.['duration_ms']).toEqual(expect.any(Number));
  });
});

describe('bootService logging at debug level', () => {
  const keys = fixtureKeys();
  let service: Booted;
  let logs: LogCapture;

  beforeAll(async () => {
    ({ service, logs } = await bootFixture(keys, { LOG_LEVEL: 'debug' }));
  });

  afterAll(async () => {
    await service.close();
  });

  it('logs request headers with credentials redacted', async () => {
    const principal = alicePrincipal(keys);
    await fetch(`${service.httpUrl}/items/secret-check?token=query-secret-value`, {
      headers: {
        authorization: 'Bearer jwt-secret-value',
        cookie: 'session=cookie-secret-value',
        [HEADER.principal]: principal,
        [HEADER.capToken]: 'v1.k.cap-secret-value.mac',
        'x-api-key': 'api-key-secret-value',
        'x-trace': 'visible-value',
      },
    });
    const line = logs.lines.find(
      (entry) => entry['msg'] === 'request completed' && entry['path'] === '/items/secret-check',
    );
    expect(line?.['req']).toMatchObject({
      method: 'GET',
      path: '/items/secret-check',
      headers: {
        authorization: '[Redacted]',
        cookie: '[Redacted]',
        'x-aibox-principal': '[Redacted]',
        'x-aibox-cap-token': '[Redacted]',
        'x-api-key': '[Redacted]',
        'x-trace': 'visible-value',
      },
    });
    const text = logs.text();
    for (const secret of [
      'jwt-secret-value',
      'cookie-secret-value',
      'cap-secret-value',
      'api-key-secret-value',
      'query-secret-value',
      principal,
    ]) {
      expect(text).not.toContain(secret);
    }
  });

  it('never logs the configured key sets', () => {
    service.logger.info({ config: service.config }, 'configuration');
    const line = logs.lines.find((entry) => entry['msg'] === 'configuration');
    expect(line?.['config']).toMatchObject({
      AIBOX_PRINCIPAL_KEYS: '[Redacted]',
      AIBOX_CAPTOKEN_KEYS: '[Redacted]',
      PORT: expect.any(Number) as unknown,
    });
    const secretPart = keys.principalValue.slice(keys.principalValue.indexOf('=') + 1).replace(/=+$/, '');
    expect(logs.text()).not.toContain(secretPart);
  });
});

describe('bootService shutdown', () => {
  it('lets in-flight HTTP requests and gRPC calls finish, then closes the stores', async () => {
    const keys = fixtureKeys();
    const { service, state } = await bootFixture(keys);
    const principal = alicePrincipal(keys);

    const slowHttp = fetch(`${service.httpUrl}/items/s1/slow?ms=400`, {
      headers: { [HEADER.principal]: principal },
    });
    const slowGrpc = logEvent(service.grpcUrl ?? '', 'slow-1', principal);
    await until(
      () => state.events.includes('slow s1 started') && state.events.includes('grpc slow-1 started'),
    );

    const closed = service.close();
    const during = await service.app.inject({ method: 'GET', url: '/readyz' });
    expect(during.statusCode).toBe(503);
    expect(JSON.parse(during.body)).toMatchObject({ code: 'not_ready', draining: true });

    const httpResponse = await slowHttp;
    expect(httpResponse.status).toBe(200);
    expect(await httpResponse.json()).toEqual({ id: 's1', waited: 400 });
    expect((await slowGrpc).result?.eventId).toBe('slow-1');
    await closed;

    expect(state.events.at(-1)).toBe('store closed');
    expect(state.events).toEqual(expect.arrayContaining(['slow s1 done', 'grpc slow-1 done']));
    await expect(fetch(`${service.httpUrl}/healthz`)).rejects.toThrow();
  });
});
