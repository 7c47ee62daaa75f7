import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { GRPC_METADATA, HEADER, signPrincipal } from '@aibox/identity';

import {
  ALICE,
  metadataOf,
  ProbeClient,
  request,
  startTestApp,
  testKeys,
  type TestApp,
} from '../auth/testdata/fixtures.js';
import { ProbeGrpcController, ProbeHttpController } from '../auth/testdata/probe.controllers.js';
import {
  contextLogFields,
  createRequestContext,
  currentContext,
  runWithContext,
  setContextPrincipal,
  setContextTurnId,
} from './request-context.js';

const keys = testKeys();

describe('request context', () => {
  it('is undefined outside a request, and setting fields there changes nothing', () => {
    setContextTurnId(randomUUID());

    expect(currentContext()).toBeUndefined();
    expect(contextLogFields()).toEqual({});
  });

  it('follows the work of a request across awaits, and the fields set later are seen by the log fields', async () => {
    const context = createRequestContext();
    const turnId = randomUUID();

    const fields = await runWithContext(context, async () => {
      await sleep(1);
      setContextTurnId(turnId);
      setContextPrincipal({ ...ALICE, iat: 1, exp: 61 });
      await sleep(1);
      return contextLogFields();
    });

    expect(fields).toEqual({
      correlation_id: context.correlationId,
      turn_id: turnId,
      tenant_id: 'acme',
      user_id: 'u-alice',
    });
    expect(currentContext()).toBeUndefined();
  });

  it('keeps concurrent requests apart', async () => {
    const seen = await Promise.all(
      Array.from({ length: 5 }, (_, index) =>
        runWithContext(createRequestContext(), async () => {
          const turnId = `0190d5a2-7c1e-7b3a-9f10-00000000000${index}`;
          setContextTurnId(turnId);
          await sleep(5 - index);
          return currentContext()?.turnId === turnId;
        }),
      ),
    );

    expect(seen).toEqual([true, true, true, true, true]);
  });
});

function turnIds(count: number): string[] {
  return Array.from({ length: count }, () => randomUUID());
}

describe('request context in Nest handlers', () => {
  let server: TestApp;
  let client: ProbeClient;

  beforeAll(async () => {
    server = await startTestApp({
      controllers: [ProbeHttpController, ProbeGrpcController],
      keys,
      grpc: true,
    });
    client = new ProbeClient(server.grpcAddress);
  });
  afterAll(async () => {
    client.close();
    await server.close();
  });

  it('reaches HTTP controllers, after the body was parsed, one context per request', async () => {
    const turns = turnIds(8);

    const results = await Promise.all(
      turns.map((turnId, index) =>
        request(server.baseUrl, '/v1/probe/whoami', {
          method: 'POST',
          headers: {
            [HEADER.principal]: signPrincipal({ ...ALICE, tid: `tenant-${index}` }, keys.principal),
            [HEADER.turnId]: turnId,
            'content-type': 'application/json',
          },
          body: JSON.stringify({ padding: 'x'.repeat(200 * index) }),
        }),
      ),
    );

    expect(results.map((result) => result.body.turnId)).toEqual(turns);
    expect(results.map((result) => result.body.contextTid)).toEqual(
      turns.map((_, index) => `tenant-${index}`),
    );
    expect(new Set(results.map((result) => result.body.correlationId)).size).toBe(turns.length);
  });

  it('reaches HTTP controllers when the body arrives in pieces', async () => {
    const turnId = randomUUID();

    const text = await new Promise<string>((resolve, reject) => {
      const outgoing = httpRequest(
        new URL(`${server.baseUrl}/v1/probe/whoami`),
        {
          method: 'POST',
          headers: {
            [HEADER.principal]: signPrincipal(ALICE, keys.principal),
            [HEADER.turnId]: turnId,
            'content-type': 'application/json',
          },
        },
        (response) => {
          let body = '';
          response.on('data', (chunk) => {
            body += String(chunk);
          });
          response.on('end', () => {
            resolve(body);
          });
        },
      );
      outgoing.on('error', reject);
      outgoing.write('{"a":');
      void sleep(30).then(() => outgoing.end('1}'));
    });

    expect((JSON.parse(text) as { turnId: string }).turnId).toBe(turnId);
  });

  it('reaches @Public() HTTP routes, which have a correlation id but no principal', async () => {
    const result = await request(server.baseUrl, '/v1/probe/public');

    expect(result.body.correlationId).toMatch(/^[0-9a-f-]{36}$/);
    expect(result.body.hasPrincipal).toBe(false);
  });

  it('reaches gRPC handlers, one context per call', async () => {
    const turns = turnIds(6);

    const results = await Promise.all(
      turns.map((turnId, index) =>
        client.call(
          'whoami',
          {},
          metadataOf({
            [GRPC_METADATA.principal]: signPrincipal({ ...ALICE, tid: `tenant-${index}` }, keys.principal),
            [GRPC_METADATA.turnId]: turnId,
          }),
        ),
      ),
    );

    expect(results.map((result) => result.response?.turnId)).toEqual(turns);
    expect(results.map((result) => result.response?.contextTid)).toEqual(
      turns.map((_, index) => `tenant-${index}`),
    );
    expect(new Set(results.map((result) => result.response?.correlationId)).size).toBe(turns.length);
  });
});
