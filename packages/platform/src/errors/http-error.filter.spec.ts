import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { HEADER } from '@aibox/identity';

import { request, startTestApp, testKeys, TURN_ID, type TestApp } from '../auth/testdata/fixtures.js';
import { ProbeHttpController, SECRET_FAILURE } from '../auth/testdata/probe.controllers.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('HttpErrorFilter', () => {
  let server: TestApp;

  beforeAll(async () => {
    // No global guard: these requests are about error mapping, not authentication.
    server = await startTestApp({
      controllers: [ProbeHttpController],
      keys: testKeys(),
      globalGuard: false,
      bodyLimit: 1024,
    });
  });
  afterAll(async () => {
    await server.close();
  });

  it('answers a ServiceError with its status, code, message and details', async () => {
    const result = await request(server.baseUrl, '/v1/probe/fail/service');

    expect(result.status).toBe(409);
    expect(result.body).toEqual({
      error: 'The probe has no attempts left: tried 3 times.',
      code: 'probe_exhausted',
      details: { attempts_left: 0 },
      correlation_id: expect.stringMatching(UUID) as string,
    });
  });

  it('answers a PlatformError not_ready with 503', async () => {
    const result = await request(server.baseUrl, '/v1/probe/fail/not-ready');

    expect(result.status).toBe(503);
    expect(result.body).toMatchObject({
      code: 'not_ready',
      error: 'The service is not ready to serve requests.',
    });
  });

  it('answers an unknown route with 404 route_unknown naming the method and path, not the query', async () => {
    const result = await request(server.baseUrl, '/v1/nowhere?token=abc');

    expect(result.status).toBe(404);
    expect(result.body).toMatchObject({ code: 'route_unknown', error: 'No route matches GET /v1/nowhere.' });
    expect(result.text).not.toContain('abc');
  });

  it('answers malformed JSON with 400 invalid_json', async () => {
    const result = await request(server.baseUrl, '/v1/probe/echo', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"name": "x",',
    });

    expect(result.status).toBe(400);
    expect(result.body).toMatchObject({ code: 'invalid_json', error: 'The request body is not valid JSON.' });
  });

  it('answers an empty JSON body with 400 invalid_json', async () => {
    const result = await request(server.baseUrl, '/v1/probe/echo', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '',
    });

    expect(result.status).toBe(400);
    expect(result.body.code).toBe('invalid_json');
  });

  it('answers a body over the limit with 413 payload_too_large', async () => {
    const result = await request(server.baseUrl, '/v1/probe/echo', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'x'.repeat(4096) }),
    });

    expect(result.status).toBe(413);
    expect(result.body.code).toBe('payload_too_large');
  });

  it('answers a body of an unsupported content type with 415 unsupported_media_type', async () => {
    const result = await request(server.baseUrl, '/v1/probe/echo', {
      method: 'POST',
      headers: { 'content-type': 'application/xml' },
      body: '<name>x</name>',
    });

    expect(result.status).toBe(415);
    expect(result.body.code).toBe('unsupported_media_type');
  });

  it('answers any other error with 500 internal naming only the correlation id, and logs it with its stack', async () => {
    server.logger.lines.length = 0;

    const result = await request(server.baseUrl, '/v1/probe/fail/plain');

    expect(result.status).toBe(500);
    expect(result.body.code).toBe('internal');
    const correlationId = result.body.correlation_id as string;
    expect(correlationId).toMatch(UUID);
    expect(result.body.error).toBe(
      `An internal error occurred; quote correlation id ${correlationId} when reporting it.`,
    );
    expect(result.text).not.toContain('hunter2');
    expect(result.text).not.toContain('probe.controllers');

    const line = server.logger.lines.find((entry) => entry.level === 'error');
    expect(line?.fields.correlation_id).toBe(correlationId);
    const err = line?.fields.err;
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toBe(SECRET_FAILURE);
    expect((err as Error).stack).toContain('probe.controllers');
  });

  it('gives every error its own correlation id', async () => {
    const first = await request(server.baseUrl, '/v1/probe/fail/plain');
    const second = await request(server.baseUrl, '/v1/probe/fail/plain');

    expect(first.body.correlation_id).not.toBe(second.body.correlation_id);
  });

  it('adds the turn id when the request carries one, also for errors raised before routing', async () => {
    const routed = await request(server.baseUrl, '/v1/probe/fail/service', {
      headers: { [HEADER.turnId]: TURN_ID },
    });
    const unrouted = await request(server.baseUrl, '/v1/nowhere', { headers: { [HEADER.turnId]: TURN_ID } });
    const unparsed = await request(server.baseUrl, '/v1/probe/echo', {
      method: 'POST',
      headers: { 'content-type': 'application/json', [HEADER.turnId]: TURN_ID },
      body: '{',
    });

    expect(routed.body.turn_id).toBe(TURN_ID);
    expect(unrouted.body.turn_id).toBe(TURN_ID);
    expect(unparsed.body.turn_id).toBe(TURN_ID);
  });

  it('answers errors as JSON with the error and code first', async () => {
    const response = await fetch(`${server.baseUrl}/v1/nowhere`);

    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(Object.keys((await response.json()) as object).slice(0, 2)).toEqual(['error', 'code']);
  });
});
