import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ADMIN, startRouter, type TestRouter } from './support/router.js';

const KEY = 'sk-live-0123456789abcdefghijKLMN';

/** An OpenAI-compatible upstream: `/v1/models` for the right key, a redirect under `/moved`. */
async function startUpstream(): Promise<{
  url: string;
  seen: IncomingHttpHeaders[];
  close: () => Promise<void>;
}> {
  const seen: IncomingHttpHeaders[] = [];
  const server: Server = createServer((request, response) => {
    seen.push(request.headers);
    if (request.url === '/moved/v1/models') {
      response.writeHead(301, { location: 'http://127.0.0.1:9/v1/models' }).end();
      return;
    }
    const authorized =
      request.headers.authorization === `Bearer ${KEY}` || request.url?.startsWith('/open/') === true;
    if (!request.url?.endsWith('/v1/models') || !authorized) {
      response
        .writeHead(authorized ? 404 : 401, { 'content-type': 'application/json' })
        .end('{"error":{"message":"no"}}');
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(
      JSON.stringify({ object: 'list', data: [{ id: 'gpt-4o-mini' }, { id: 'text-embedding-3-small' }] }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const url = typeof address === 'object' && address !== null ? `http://127.0.0.1:${address.port}` : '';
  return {
    url,
    seen,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

describe('inference-router admin path', () => {
  let router: TestRouter;
  let upstream: Awaited<ReturnType<typeof startUpstream>>;

  /** As the admin by default; `who` changes roles and caps of the same user. */
  const call = (
    method: string,
    path: string,
    body?: unknown,
    who?: { roles: string[]; caps: string[] },
  ): ReturnType<TestRouter['call']> => router.call(method, path, body, { ...ADMIN, ...who });

  beforeAll(async () => {
    upstream = await startUpstream();
    router = await startRouter();
  });
  afterAll(async () => {
    await router.close();
    await upstream.close();
  });

  it('registers a provider after probing it, and never shows its key again', async () => {
    const created = await call('POST', '/v1/internal/providers', {
      name: 'openai',
      kind: 'chat_completions',
      base_url: ` ${upstream.url.replace('http://', 'http://')}/v1/chat/completions `,
      api_key: KEY,
    });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({
      name: 'openai',
      base_url: `${upstream.url}/v1`,
      key_hint: 'sk-…KLMN',
      enabled: true,
      models: ['gpt-4o-mini', 'text-embedding-3-small'],
    });
    expect(upstream.seen.at(-1)?.authorization).toBe(`Bearer ${KEY}`);
    for (const answer of [
      await call('GET', '/v1/internal/providers'),
      await call('GET', '/v1/internal/providers/openai'),
    ]) {
      expect(answer.status).toBe(200);
      expect(JSON.stringify(answer.json)).not.toContain('0123456789abcdef');
    }
    const again = await call('POST', '/v1/internal/providers', {
      name: 'openai',
      kind: 'chat_completions',
      base_url: `${upstream.url}/v1`,
      api_key: KEY,
    });
    expect(again).toMatchObject({ status: 409, json: { code: 'provider_exists' } });
  });

  it('refuses providers that redirect, reject the key, or are not there — and saves none of them', async () => {
    const cases = [
      [{ base_url: `${upstream.url}/moved/v1`, api_key: KEY }, 'provider_redirect'],
      [{ base_url: `${upstream.url}/v1`, api_key: 'sk-wrong-key-000000000000' }, 'provider_rejected'],
      [{ base_url: 'http://127.0.0.1:1/v1' }, 'provider_unreachable'],
      [{ base_url: 'ftp://example.com' }, 'base_url_invalid'],
      [{ base_url: 'https://user:pw@example.com/v1' }, 'base_url_invalid'],
    ] as const;
    for (const [index, [fields, code]] of cases.entries()) {
      const answer = await call('POST', '/v1/internal/providers', {
        name: `bad-${index}`,
        kind: 'chat_completions',
        ...fields,
      });
      expect(answer.status, code).toBe(400);
      expect(answer.json).toMatchObject({ code });
      expect(JSON.stringify(answer.json)).not.toContain('sk-wrong-key');
    }
    const names = ((await call('GET', '/v1/internal/providers')).json['providers'] as { name: string }[]).map(
      (p) => p.name,
    );
    expect(names).toEqual(['openai']);
  });

  it('routes roles to models of known providers, and keeps a provider a role names', async () => {
    const open = await call('POST', '/v1/internal/providers', {
      name: 'local',
      kind: 'chat_completions',
      base_url: `${upstream.url}/open/v1`,
    });
    expect(open.status).toBe(201);
    expect(open.json['key_hint']).toBeNull();
    const set = await call('PUT', '/v1/internal/roles/default', {
      models: ['openai/gpt-4o-mini', 'local/llama3'],
    });
    expect(set).toMatchObject({
      status: 200,
      json: { role: 'default', models: ['openai/gpt-4o-mini', 'local/llama3'] },
    });
    const roles = (await call('GET', '/v1/internal/roles')).json['roles'] as {
      role: string;
      models: string[];
    }[];
    expect(roles.find((role) => role.role === 'default')?.models).toEqual([
      'openai/gpt-4o-mini',
      'local/llama3',
    ]);
    expect(roles.find((role) => role.role === 'embedding')?.models).toEqual([]);

    expect(await call('PUT', '/v1/internal/roles/default', { models: ['nobody/x'] })).toMatchObject({
      status: 400,
      json: { code: 'model_unknown' },
    });
    expect((await call('PUT', '/v1/internal/roles/chef', { models: ['openai/x'] })).status).toBe(400);
    expect(await call('DELETE', '/v1/internal/providers/local')).toMatchObject({
      status: 409,
      json: { code: 'provider_in_use' },
    });
    await call('PUT', '/v1/internal/roles/default', { models: ['openai/gpt-4o-mini'] });
    expect((await call('DELETE', '/v1/internal/providers/local')).status).toBe(204);
    expect(await call('GET', '/v1/internal/providers/local')).toMatchObject({
      status: 404,
      json: { code: 'provider_not_found' },
    });
  });

  it('serves a role reassigned by an admin on the very next request, without a restart', async () => {
    const user = { roles: ['user'], caps: [] };
    const models = async (): Promise<{ id: string; aibox_routes?: string[] }[]> =>
      (await call('GET', '/v1/models', undefined, user)).json['data'] as {
        id: string;
        aibox_routes?: string[];
      }[];
    await call('PUT', '/v1/internal/roles/title', { models: ['openai/gpt-4o-mini'] });
    expect((await models()).find((model) => model.id === 'title')?.aibox_routes).toEqual([
      'openai/gpt-4o-mini',
    ]);
    await call('PUT', '/v1/internal/roles/title', { models: ['openai/gpt-4.1-nano', 'openai/gpt-4o-mini'] });
    const listed = await models();
    expect(listed.find((model) => model.id === 'title')?.aibox_routes).toEqual([
      'openai/gpt-4.1-nano',
      'openai/gpt-4o-mini',
    ]);
    expect(listed.map((model) => model.id)).toContain('openai/gpt-4.1-nano');
    expect(listed.find((model) => model.id === 'embedding')).toBeUndefined();
    expect((await fetch(`${router.url}/v1/models`)).status).toBe(401);
  });

  it('re-probes a changed key, and can drop a key', async () => {
    const wrong = await call('PATCH', '/v1/internal/providers/openai', {
      api_key: 'sk-wrong-key-111111111111',
    });
    expect(wrong).toMatchObject({ status: 400, json: { code: 'provider_rejected' } });
    expect((await call('GET', '/v1/internal/providers/openai')).json['key_hint']).toBe('sk-…KLMN');
    const disabled = await call('PATCH', '/v1/internal/providers/openai', { enabled: false });
    expect(disabled).toMatchObject({ status: 200, json: { enabled: false, key_hint: 'sk-…KLMN' } });
    // A disabled provider's models are not offered.
    const offered = (await call('GET', '/v1/models', undefined, { roles: ['user'], caps: [] })).json[
      'data'
    ] as { id: string }[];
    expect(offered.some((model) => model.id.startsWith('openai/'))).toBe(false);
    expect((await call('PATCH', '/v1/internal/providers/openai', {})).status).toBe(400);
  });

  it('is for admins holding inference:admin only, and refuses malformed input', async () => {
    expect(
      (await call('GET', '/v1/internal/providers', undefined, { roles: ['user'], caps: ['inference:admin'] }))
        .status,
    ).toBe(403);
    expect(
      (await call('GET', '/v1/internal/providers', undefined, { roles: ['admin'], caps: ['audit:admin'] }))
        .status,
    ).toBe(403);
    expect((await fetch(`${router.url}/v1/internal/providers`)).status).toBe(401);
    for (const body of [
      {},
      { name: 'Bad Name', kind: 'chat_completions', base_url: 'x' },
      { name: 'x', kind: 'grpc', base_url: 'x' },
      { name: 'x', kind: 'chat_completions', base_url: 'x', extra: 1 },
      { name: 'x', kind: 'chat_completions', base_url: 'x', api_key: 'sk-abc\r\nx-injected: 1' },
    ]) {
      const answer = await call('POST', '/v1/internal/providers', body);
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.json).toMatchObject({ code: 'invalid_request' });
    }
  });
});
