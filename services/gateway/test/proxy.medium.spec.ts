import { request as httpRequest } from 'node:http';

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { GRPC_METADATA, HEADER, verifyPrincipal } from '@aibox/identity';
import { freePort } from '@aibox/testing';

import { AuditSink } from './support/audit-sink.js';
import { bearer, send } from './support/client.js';
import { Downstream } from './support/downstream.js';
import { startGateway, type TestGateway } from './support/gateway.js';
import { TestIssuer } from './support/oidc-issuer.js';

const ROUTE_TIMEOUT_MS = 400;

async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('gateway proxying', () => {
  let issuer: TestIssuer;
  let downstream: Downstream;
  let audit: AuditSink;
  let gateway: TestGateway;
  let token: string;

  beforeAll(async () => {
    [issuer, downstream, audit] = await Promise.all([
      TestIssuer.start('ES256'),
      Downstream.start(),
      AuditSink.start(),
    ]);
    issuer.clients.set('aibox-gateway', 'gateway-secret');
    gateway = await startGateway(
      {
        AUTH_ISSUERS: issuer.url,
        AUDIT_GRPC_URL: audit.target,
        INTERNAL_AUTH_ISSUER: issuer.url,
        INTERNAL_AUTH_CLIENT_SECRET: 'gateway-secret',
        GATEWAY_TIMEOUTS: `chat=${ROUTE_TIMEOUT_MS},memory=${ROUTE_TIMEOUT_MS}`,
      },
      downstream.url,
    );
    token = await issuer.sign();
  });
  afterAll(async () => {
    await gateway.close();
    await Promise.all([issuer.close(), downstream.close(), audit.close()]);
  });
  beforeEach(() => {
    downstream.reset();
  });

  it('streams SSE chunk by chunk as the downstream emits them', async () => {
    downstream.handler = (_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      let sent = 0;
      const timer = setInterval(() => {
        sent += 1;
        response.write(`data: ${sent}\n\n`);
        if (sent === 5) {
          clearInterval(timer);
          response.end();
        }
      }, 100);
    };
    const arrivals: { at: number; text: string }[] = [];
    const started = performance.now();
    const status = await new Promise<number>((resolve, reject) => {
      const target = new URL(`${gateway.url}/v1/chat/stream`);
      const request = httpRequest(
        {
          host: target.hostname,
          port: target.port,
          path: target.pathname,
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        },
        (response) => {
          response.on('data', (chunk: Buffer) =>
            arrivals.push({ at: performance.now() - started, text: chunk.toString() }),
          );
          response.on('end', () => {
            resolve(response.statusCode ?? 0);
          });
        },
      );
      request.on('error', reject);
      request.end('{}');
    });
    expect(status).toBe(200);
    const text = arrivals.map((arrival) => arrival.text).join('');
    expect(text).toBe([1, 2, 3, 4, 5].map((n) => `data: ${n}\n\n`).join(''));
    // Unbuffered: the events arrive as several reads spread over the stream, not as one block at its end.
    expect(arrivals.length).toBeGreaterThanOrEqual(3);
    const first = arrivals[0]?.at ?? 0;
    const last = arrivals.at(-1)?.at ?? 0;
    expect(last - first).toBeGreaterThan(150);
  });

  it('cancels the downstream request when the client disconnects', async () => {
    downstream.handler = (_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      const timer = setInterval(() => response.write('data: tick\n\n'), 50);
      response.once('close', () => {
        clearInterval(timer);
      });
    };
    await new Promise<void>((resolve, reject) => {
      const target = new URL(`${gateway.url}/v1/chat/stream`);
      const request = httpRequest(
        {
          host: target.hostname,
          port: target.port,
          path: target.pathname,
          method: 'POST',
          headers: { authorization: `Bearer ${token}` },
        },
        (response) => {
          response.once('data', () => {
            request.destroy();
            resolve();
          });
        },
      );
      request.on('error', () => undefined);
      request.on('close', () => {
        resolve();
      });
      request.once('error', reject);
      request.end();
    });
    await until(() => downstream.aborted === 1);
    const sealed = () =>
      audit.events.filter((event) => event.type === 'turn_sealed' && event.attributes?.['aborted'] === true);
    await until(() => sealed().length > 0);
  });

  it('answers 503 backend_unavailable when the downstream is down', async () => {
    const port = await freePort();
    const down = await startGateway(
      { AUTH_ISSUERS: issuer.url, AUDIT_GRPC_URL: audit.target },
      `http://127.0.0.1:${port}`,
    );
    try {
      const response = await send(`${down.url}/v1/models`, { headers: bearer(token) });
      expect(response.status).toBe(503);
      expect(response.json()).toMatchObject({
        code: 'backend_unavailable',
        details: { service: 'inference-router', reason: 'unreachable' },
      });
      expect(response.headers[HEADER.turnId]).toBeDefined();
    } finally {
      await down.close();
    }
  });

  it('answers 503 backend_unavailable within the route timeout when the downstream hangs', async () => {
    downstream.handler = () => undefined;
    const started = performance.now();
    const response = await send(`${gateway.url}/v1/memory`, { headers: bearer(token) });
    const elapsed = performance.now() - started;
    expect(response.status).toBe(503);
    expect(response.json()).toMatchObject({ code: 'backend_unavailable', details: { reason: 'timeout' } });
    // A correctness bound (never a hang), with a generous margin over the 400 ms route timeout.
    expect(elapsed).toBeLessThan(ROUTE_TIMEOUT_MS + 4_000);
    expect(downstream.received).toHaveLength(1);
  });

  it('attaches the service JWT from client credentials, fetched once and reused', async () => {
    downstream.handler = (_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end('{}');
    };
    const before = issuer.tokenRequests;
    await Promise.all([1, 2, 3].map(() => send(`${gateway.url}/v1/models`, { headers: bearer(token) })));
    await send(`${gateway.url}/v1/agents`, { headers: bearer(token) });
    expect(downstream.received).toHaveLength(4);
    const tokens = new Set(downstream.received.map((request) => request.headers.authorization));
    expect(tokens.size).toBe(1);
    const [authorization] = [...tokens];
    expect(authorization).toMatch(/^Bearer /);
    expect(authorization).not.toBe(`Bearer ${token}`);
    const claims = JSON.parse(
      Buffer.from(String(authorization).split('.')[1] ?? '', 'base64url').toString(),
    ) as Record<string, unknown>;
    expect(claims).toMatchObject({ aud: 'aibox-internal', sub: 'aibox-gateway' });
    expect(issuer.tokenRequests - before).toBeLessThanOrEqual(1);
  });

  it('publishes turn_started and turn_sealed with the same turn id to audit', async () => {
    downstream.handler = (_request, response) => {
      response.writeHead(201, { 'content-type': 'application/json' });
      response.end('{}');
    };
    const response = await send(`${gateway.url}/v1/agents`, {
      method: 'POST',
      headers: [...bearer(token), 'content-type', 'application/json'],
      body: '{}',
    });
    expect(response.status).toBe(201);
    const turnId = String(response.headers[HEADER.turnId]);
    await until(() => audit.events.some((event) => event.turnId === turnId && event.type === 'turn_sealed'));
    const events = audit.events.filter((event) => event.turnId === turnId);
    expect(events.map((event) => event.type)).toEqual(['turn_started', 'turn_sealed']);
    for (const event of events) {
      expect(event).toMatchObject({ tenantId: 'default', userId: 'user-ada', service: 'gateway' });
    }
    expect(events[1]?.attributes).toMatchObject({ status_code: 201, route: '/v1/agents/**', aborted: false });
    expect(typeof events[1]?.attributes?.['duration_ms']).toBe('number');
  });

  it('leaves sealing to agent-runtime when it says it seals the turn itself, and hides that header', async () => {
    downstream.handler = (_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json', [HEADER.turnSeal]: 'downstream' });
      response.end('{}');
    };
    const chat = await send(`${gateway.url}/v1/chat`, {
      method: 'POST',
      headers: [...bearer(token), 'content-type', 'application/json'],
      body: '{}',
    });
    expect(chat.status).toBe(200);
    expect(chat.headers[HEADER.turnSeal]).toBeUndefined();
    const chatTurn = String(chat.headers[HEADER.turnId]);

    // Any other service saying so is not believed: the gateway seals those turns as always.
    const memory = await send(`${gateway.url}/v1/memory/search`, {
      method: 'POST',
      headers: [...bearer(token), 'content-type', 'application/json'],
      body: '{}',
    });
    const memoryTurn = String(memory.headers[HEADER.turnId]);
    await until(() =>
      audit.events.some((event) => event.turnId === memoryTurn && event.type === 'turn_sealed'),
    );
    const chatEvents = audit.events.filter((event) => event.turnId === chatTurn);
    expect(chatEvents.map((event) => event.type)).toEqual(['turn_started']);
  });

  it('appends through AuditService.Log over gRPC with the stamped identity', async () => {
    const response = await send(`${gateway.url}/v1/audit`, {
      method: 'POST',
      headers: [...bearer(token), 'content-type', 'application/json'],
      body: JSON.stringify({
        event: {
          type: 'tool_called',
          tenant_id: 'someone-else',
          user_id: 'mallory',
          attributes: { tool: 'x' },
        },
      }),
    });
    expect(response.status).toBe(200);
    expect(response.json()).toMatchObject({
      result: { status: expect.stringContaining('ACCEPTED') as unknown },
    });
    const logged = audit.logs.at(-1);
    expect(logged?.request.event).toMatchObject({
      tenantId: 'default',
      userId: 'user-ada',
      type: 'tool_called',
      turnId: response.headers[HEADER.turnId],
    });
    const principal = verifyPrincipal(
      String(logged?.metadata.get(GRPC_METADATA.principal)[0]),
      gateway.principalKeys,
    );
    expect(principal).toMatchObject({ tid: 'default', uid: 'user-ada' });
    expect(String(logged?.metadata.get('authorization')[0])).toMatch(/^Bearer /);
    const invalid = await send(`${gateway.url}/v1/audit`, {
      method: 'POST',
      headers: [...bearer(token), 'content-type', 'application/json'],
      body: '{"event":',
    });
    expect(invalid.status).toBe(400);
    expect(invalid.json()).toMatchObject({ code: 'invalid_json' });
  });

  it.each([
    ['POST', '/v1/memory', 'MemoryService.Store'],
    ['POST', '/v1/guard/input', 'GuardrailService.CheckInput'],
    ['POST', '/v1/guard/output', 'GuardrailService.CheckOutput'],
    ['POST', '/v1/knowledge/wiki', 'KnowledgeService.WikiWrite'],
    ['GET', '/v1/knowledge/wiki/onboarding', 'KnowledgeService.WikiRead'],
  ])('answers %s %s (%s, no contract yet) 503 backend_unavailable', async (method, path, rpc) => {
    const response = await send(`${gateway.url}${path}`, {
      method,
      headers: [...bearer(token), 'content-type', 'application/json'],
      ...(method === 'POST' ? { body: '{}' } : {}),
    });
    expect(response.status).toBe(503);
    expect(response.json()).toMatchObject({
      code: 'backend_unavailable',
      details: { rpc, reason: 'not_deployed' },
    });
    expect(downstream.received).toHaveLength(0);
  });

  it('does not delay responses when audit is down', async () => {
    const deadAudit = `127.0.0.1:${await freePort()}`;
    downstream.handler = (_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end('{}');
    };
    const isolated = await startGateway(
      { AUTH_ISSUERS: issuer.url, AUDIT_GRPC_URL: deadAudit },
      downstream.url,
    );
    try {
      for (let attempt = 0; attempt < 3; attempt += 1) {
        const response = await send(`${isolated.url}/v1/models`, { headers: bearer(token) });
        expect(response.status).toBe(200);
        expect(response.headers[HEADER.turnId]).toBeDefined();
      }
    } finally {
      await isolated.close();
    }
  });
});
