import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { startUpstream, type Upstream } from './support/openai-upstream.js';
import { addProvider, MESH, setRole, startRouter, type TestRouter } from './support/router.js';

const KEY = 'sk-provider-secret-0123456789abcdef';
const HELLO = [{ role: 'user' as const, content: 'hello' }];

async function failure(promise: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!(error instanceof OpenAI.APIError)) throw new Error(`expected an APIError, got ${String(error)}`);
  return error;
}

/** Every error code of ARCHITECTURE §7, as the official SDK surfaces it. */
describe('inference-router error codes through the openai SDK', () => {
  let router: TestRouter;
  let upstream: Upstream;
  let sdk: OpenAI;

  beforeAll(async () => {
    upstream = await startUpstream({ key: KEY });
    router = await startRouter({ env: { INFERENCE_MAX_RETRIES: '0', INFERENCE_BREAKER_FAILURES: '1000' } });
    await addProvider(router, { name: 'main', base_url: upstream.url, api_key: KEY });
    await addProvider(router, { name: 'off', base_url: upstream.url, api_key: KEY });
    await router.call('PATCH', '/v1/internal/providers/off', { enabled: false });
    await setRole(router, 'default', ['main/gpt-test']);
    await setRole(router, 'profile_curation', ['off/gpt-test']);
    sdk = router.sdk();
  });
  afterEach(() => {
    upstream.always(undefined);
  });
  afterAll(async () => {
    await router.close();
    await upstream.close();
  });

  it('role_not_configured, role_no_backend and model_unknown: nothing is sent to a provider', async () => {
    const before = upstream.calls.length;
    const unset = await failure(sdk.chat.completions.create({ model: 'vision', messages: HELLO }));
    expect(unset).toMatchObject({ status: 503, code: 'role_not_configured' });
    expect(unset.headers?.get('x-should-retry')).toBe('false');
    expect(unset.message).toContain('PUT /v1/admin/inference/roles/vision');

    const disabled = await failure(
      sdk.chat.completions.create({ model: 'profile_curation', messages: HELLO }),
    );
    expect(disabled).toMatchObject({ status: 503, code: 'role_no_backend' });

    for (const model of ['nobody/gpt-test', 'gpt-4o', 'main/not-offered']) {
      const unknown = await failure(sdk.chat.completions.create({ model, messages: HELLO }));
      expect(unknown, model).toBeInstanceOf(OpenAI.NotFoundError);
      expect(unknown).toMatchObject({ status: 404, code: 'model_unknown' });
    }
    expect(upstream.calls.length).toBe(before);
  });

  it('provider_key_missing when the provider refuses the key', async () => {
    upstream.always({ status: 401, body: { error: { message: `Incorrect API key provided: ${KEY}` } } });
    const refused = await failure(sdk.chat.completions.create({ model: 'default', messages: HELLO }));
    expect(refused).toMatchObject({ status: 503, code: 'provider_key_missing' });
    expect(JSON.stringify(refused.error)).not.toContain(KEY);
  });

  it('upstream_error, never with the provider’s own body', async () => {
    upstream.always({
      status: 500,
      body: { error: { message: `boom at http://10.9.8.7:8000/internal with key ${KEY}` } },
    });
    const failed = await failure(sdk.chat.completions.create({ model: 'default', messages: HELLO }));
    expect(failed).toBeInstanceOf(OpenAI.InternalServerError);
    expect(failed).toMatchObject({ status: 502, code: 'upstream_error' });
    const text = JSON.stringify(failed.error);
    expect(text).not.toContain(KEY);
    expect(text).not.toContain('10.9.8.7');
  });

  it('invalid_request: refused by the router, or by the provider with its reason made safe to show', async () => {
    const before = upstream.calls.length;
    const local = await failure(sdk.chat.completions.create({ model: 'default', messages: [] } as never));
    expect(local).toBeInstanceOf(OpenAI.BadRequestError);
    expect(local).toMatchObject({ status: 400, code: 'invalid_request' });
    expect(upstream.calls.length).toBe(before);

    upstream.always({
      status: 400,
      body: {
        error: {
          message: `max_tokens is too large: 999999. Key ${KEY} at http://10.1.1.1/v1 / sk-live-abcdefghijklmnopqrstu`,
          type: 'invalid_request_error',
        },
      },
    });
    const remote = await failure(
      sdk.chat.completions.create({ model: 'default', messages: HELLO, max_completion_tokens: 999_999 }),
    );
    expect(remote).toMatchObject({ status: 400, code: 'invalid_request' });
    expect(remote.message).toContain('max_tokens is too large: 999999');
    const shown = JSON.stringify(remote.error);
    expect(shown).not.toContain(KEY);
    expect(shown).not.toContain('10.1.1.1');
    expect(shown).not.toContain('sk-live-abcdef');

    const translated = await failure(
      sdk.responses.create({ model: 'default', input: 'x', previous_response_id: 'resp_123' }),
    );
    expect(translated).toMatchObject({ status: 400, code: 'invalid_request' });
  });

  it('rate_limited with the provider’s Retry-After', async () => {
    upstream.always({ status: 429, retryAfter: '7' });
    const limited = await failure(sdk.chat.completions.create({ model: 'default', messages: HELLO }));
    expect(limited).toBeInstanceOf(OpenAI.RateLimitError);
    expect(limited).toMatchObject({ status: 429, code: 'rate_limited' });
    expect(limited.headers?.get('retry-after')).toBe('7');
  });

  it('backend_unavailable when the provider cannot be reached', async () => {
    upstream.always({ drop: true });
    const down = await failure(sdk.embeddings.create({ model: 'default', input: 'x' }));
    expect(down).toMatchObject({ status: 503, code: 'backend_unavailable' });
  });

  it('budget_exceeded before any provider is called, for the user whose budget is spent', async () => {
    const set = await router.call('PUT', `/v1/internal/budgets/users/${MESH.uid}`, {
      period: 'day',
      limit_usd: 0,
    });
    expect(set.status).toBe(200);
    const before = upstream.calls.length;
    const spent = await failure(sdk.chat.completions.create({ model: 'default', messages: HELLO }));
    expect(spent).toMatchObject({ status: 402, code: 'budget_exceeded' });
    expect(spent.headers?.get('x-should-retry')).toBe('false');
    expect(upstream.calls.length).toBe(before);
    // Another user of the tenant is not held by alice's budget.
    const bob = router.sdk({ ...MESH, uid: 'bob' });
    await expect(bob.chat.completions.create({ model: 'default', messages: HELLO })).resolves.toBeDefined();
    expect((await router.call('DELETE', `/v1/internal/budgets/users/${MESH.uid}`)).status).toBe(204);
    await expect(sdk.chat.completions.create({ model: 'default', messages: HELLO })).resolves.toBeDefined();
  });

  it('answers every error with the OpenAI error object and the mesh’s code beside it', async () => {
    const response = await fetch(`${router.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { ...router.headers(MESH), 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'vision', messages: HELLO }),
    });
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      error: { type: 'api_error', code: 'role_not_configured', param: null },
      code: 'role_not_configured',
    });
    expect(typeof (body['error'] as { message?: unknown }).message).toBe('string');

    const malformed = await fetch(`${router.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { ...router.headers(MESH), 'content-type': 'application/json' },
      body: '{"model": "default", "messages": [',
    });
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ code: 'invalid_json', error: { code: 'invalid_json' } });
  });

  it('refuses callers without a principal, or without inference:invoke in their turn', async () => {
    const anonymous = await fetch(`${router.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'default', messages: HELLO }),
    });
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ code: 'principal_invalid' });
    const noCap = await failure(
      router
        .sdk({ ...MESH, caps: ['memory:read'] })
        .chat.completions.create({ model: 'default', messages: HELLO }),
    );
    expect(noCap).toMatchObject({ status: 403, code: 'capability_missing' });
  });
});
