import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';

import { request, startTestApp, testKeys, type TestApp } from '../auth/testdata/fixtures.js';
import { ProbeHttpController } from '../auth/testdata/probe.controllers.js';
import { PlatformError } from '../errors/service.error.js';
import { ZodPipe } from './zod.pipe.js';

const CreateAgent = z.strictObject({
  name: z.string().min(1),
  model: z.enum(['default', 'title']),
  tools: z.array(z.strictObject({ name: z.string(), timeout_s: z.number().int().positive() })).optional(),
});

function rejection(value: unknown, type: 'body' | 'query' | 'param' = 'body'): PlatformError {
  try {
    new ZodPipe(CreateAgent).transform(value, { type });
  } catch (error: unknown) {
    if (error instanceof PlatformError) {
      return error;
    }
    throw error;
  }
  throw new Error('the value was accepted');
}

describe('ZodPipe', () => {
  it('returns the parsed value', () => {
    const parsed = new ZodPipe(CreateAgent).transform({ name: 'helper', model: 'default' }, { type: 'body' });

    expect(parsed).toEqual({ name: 'helper', model: 'default' });
  });

  it('names the first bad field, nested ones included, and lists every issue', () => {
    const error = rejection({ name: 'helper', model: 'default', tools: [{ name: 'x', timeout_s: -1 }] });

    expect(error.code).toBe('invalid_request');
    expect(error.httpStatus).toBe(400);
    expect(error.message).toMatch(/^The request is invalid: body field "tools\[0\]\.timeout_s": /);
    expect(error.details).toEqual({
      issues: [{ path: ['tools', 0, 'timeout_s'], message: expect.any(String) as string }],
    });
  });

  it('rejects unknown fields by name', () => {
    const error = rejection({ name: 'helper', model: 'default', admin: true });

    expect(error.message).toBe('The request is invalid: body field "admin": Unknown field.');
    expect(error.details).toEqual({ issues: [{ path: ['admin'], message: 'Unknown field' }] });
  });

  it('says where the input was', () => {
    expect(rejection({ model: 'default' }, 'query').message).toMatch(
      /^The request is invalid: query field "name"/,
    );
    expect(rejection('nope').message).toMatch(/^The request is invalid: the body: /);
  });
});

describe('ZodPipe over HTTP', () => {
  let server: TestApp;

  beforeAll(async () => {
    server = await startTestApp({ controllers: [ProbeHttpController], keys: testKeys(), globalGuard: false });
  });
  afterAll(async () => {
    await server.close();
  });

  it('answers 400 invalid_request with the issues', async () => {
    const result = await request(server.baseUrl, '/v1/probe/echo', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: '', extra: 1 }),
    });

    expect(result.status).toBe(400);
    expect(result.body).toMatchObject({
      code: 'invalid_request',
      error: 'The request is invalid: body field "name": Too small: expected string to have >=1 characters.',
      details: {
        issues: expect.arrayContaining([
          { path: ['extra'], message: 'Unknown field' },
          { path: ['name'], message: expect.any(String) as string },
        ]) as unknown,
      },
    });
  });

  it('hands the handler the parsed body', async () => {
    const result = await request(server.baseUrl, '/v1/probe/echo', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'x', tags: ['a'] }),
    });

    expect(result.status).toBe(201);
    expect(result.body).toEqual({ name: 'x', tags: ['a'] });
  });
});
