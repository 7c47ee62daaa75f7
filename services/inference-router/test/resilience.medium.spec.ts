import { createServer, type Server } from 'node:http';

import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { startUpstream, type Upstream } from './support/openai-upstream.js';
import { addProvider, setRole, startRouter, type TestRouter } from './support/router.js';

const HELLO = [{ role: 'user' as const, content: 'hello' }];

/**
 * Fallback, retries, the circuit breaker, load balancing and redirect refusal, each proven against an
 * upstream that misbehaves on purpose; and what the caller's SDK sees when a provider fails mid-stream.
 */
describe('inference-router resilience', () => {
  let router: TestRouter;
  let primary: Upstream;
  let backup: Upstream;
  let twin: Upstream;
  let elsewhere: Server;
  let elsewhereHits = 0;
  let sdk: OpenAI;

  beforeAll(async () => {
    primary = await startUpstream();
    backup = await startUpstream();
    twin = await startUpstream();
    // The target of a redirect: it must never see a request.
    elsewhere = createServer((_request, response) => {
      elsewhereHits += 1;
      response.end('{}');
    });
    await new Promise<void>((resolve) => elsewhere.listen(0, '127.0.0.1', resolve));
    router = await startRouter({
      env: {
        INFERENCE_FIRST_BYTE_TIMEOUT_MS: '600',
        INFERENCE_IDLE_TIMEOUT_MS: '600',
        INFERENCE_MAX_RETRIES: '2',
        // The circuit breaker has its own router below; here it must not open between tests.
        INFERENCE_BREAKER_FAILURES: '1000',
      },
    });
    await addProvider(router, { name: 'primary', base_url: primary.url });
    await addProvider(router, { name: 'backup', base_url: backup.url });
    await addProvider(router, { name: 'twin', base_url: twin.url });
    await setRole(router, 'default', ['primary/gpt-test', 'backup/gpt-fallback']);
    await setRole(router, 'classifier', ['primary/gpt-test']);
    await setRole(router, 'knowledge', ['backup/gpt-test', 'twin/gpt-test']);
    sdk = router.sdk();
  });
  afterEach(() => {
    primary.always(undefined);
    backup.always(undefined);
  });
  afterAll(async () => {
    await router.close();
    await Promise.all([primary.close(), backup.close(), twin.close()]);
    await new Promise((resolve) => elsewhere.close(resolve));
  });

  const served = async (
    model: string,
  ): Promise<{ provider: string | null; attempts: string | null; text: string }> => {
    const { data, response } = await sdk.chat.completions.create({ model, messages: HELLO }).withResponse();
    return {
      provider: response.headers.get('x-aibox-provider'),
      attempts: response.headers.get('x-aibox-attempts'),
      text: data.choices[0]?.message.content ?? '',
    };
  };

  it('retries a 503, a 429 with Retry-After and a dropped connection on the same provider before the first byte', async () => {
    const before = primary.calls.length;
    primary.queue({ status: 503 }, { status: 429, retryAfter: '0' });
    expect(await served('classifier')).toEqual({ provider: 'primary', attempts: '3', text: 'echo: hello' });
    expect(primary.calls.length - before).toBe(3);
    primary.queue({ drop: true });
    expect(await served('classifier')).toEqual({ provider: 'primary', attempts: '2', text: 'echo: hello' });
  });

  it('falls back to the next model of the role when the primary keeps failing', async () => {
    primary.always({ status: 500 });
    const before = backup.calls.length;
    expect(await served('default')).toMatchObject({ provider: 'backup', attempts: '4' });
    expect(backup.calls.length - before).toBe(1);
  });

  it('moves on at once when Retry-After asks for longer than the retry cap, and says so if nothing else answers', async () => {
    primary.always({ status: 429, retryAfter: '30' });
    const before = primary.calls.length;
    const error = await sdk.chat.completions
      .create({ model: 'classifier', messages: HELLO })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect(error).toMatchObject({ status: 429, code: 'rate_limited' });
    expect((error as InstanceType<typeof OpenAI.APIError>).headers?.get('retry-after')).toBe('30');
    expect(primary.calls.length - before).toBe(1);
  });

  it('opens the circuit of a failing provider, so the role falls back without calling it', async () => {
    const fresh = await startRouter({
      env: {
        INFERENCE_MAX_RETRIES: '0',
        INFERENCE_BREAKER_FAILURES: '2',
        INFERENCE_BREAKER_COOLDOWN_MS: '60000',
      },
    });
    try {
      await addProvider(fresh, { name: 'primary', base_url: primary.url });
      await addProvider(fresh, { name: 'backup', base_url: backup.url });
      await setRole(fresh, 'default', ['primary/gpt-test', 'backup/gpt-fallback']);
      primary.always({ status: 502 });
      const client = fresh.sdk();
      for (let index = 0; index < 2; index += 1) {
        await client.chat.completions.create({ model: 'default', messages: HELLO });
      }
      const before = primary.calls.length;
      const { response } = await client.chat.completions
        .create({ model: 'default', messages: HELLO })
        .withResponse();
      expect(response.headers.get('x-aibox-provider')).toBe('backup');
      expect(primary.calls.length).toBe(before);
      const routes = await fresh.call('GET', '/v1/routes');
      const providers = routes.json['providers'] as {
        name: string;
        health: { state: string; last_error: string };
      }[];
      expect(providers.find((provider) => provider.name === 'primary')?.health).toMatchObject({
        state: 'open',
        last_error: 'status_502',
      });
    } finally {
      await fresh.close();
    }
  });

  it('never follows a redirect: the target sees nothing and the role falls back', async () => {
    const address = elsewhere.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    primary.always({ redirect: `http://127.0.0.1:${port}/v1/chat/completions` });
    expect(await served('default')).toMatchObject({ provider: 'backup' });
    await expect(sdk.chat.completions.create({ model: 'classifier', messages: HELLO })).rejects.toMatchObject(
      {
        status: 502,
        code: 'upstream_error',
      },
    );
    expect(elsewhereHits).toBe(0);
  });

  it('gives up on a stalled provider after the first-byte timeout and falls back', async () => {
    primary.always({ stall: true });
    expect(await served('default')).toMatchObject({ provider: 'backup' });
  });

  it('falls back when a stream’s first event is malformed or the connection drops before it', async () => {
    for (const behaviour of [{ malformedAt: 0 }, { dropAfter: 0 }, { drop: true as const }]) {
      primary.always(behaviour);
      const stream = await sdk.chat.completions
        .create({ model: 'default', messages: HELLO, stream: true })
        .withResponse();
      let text = '';
      for await (const chunk of stream.data) text += chunk.choices[0]?.delta.content ?? '';
      expect(text, JSON.stringify(behaviour)).toBe('echo: hello');
      expect(stream.response.headers.get('x-aibox-provider')).toBe('backup');
    }
  });

  it('ends a stream that fails mid-way with an error event the SDK raises with its code', async () => {
    for (const [behaviour, code] of [
      [{ dropAfter: 3 }, 'upstream_error'],
      [{ malformedAt: 2 }, 'upstream_error'],
      [{ stallAfter: 3 }, 'backend_unavailable'],
      [{ providerErrorAt: 3 }, 'upstream_error'],
    ] as const) {
      primary.always(behaviour);
      const stream = await sdk.chat.completions.create({
        model: 'classifier',
        messages: HELLO,
        stream: true,
      });
      let text = '';
      const error = await (async () => {
        for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
      })().catch((caught: unknown) => caught);
      expect(error, JSON.stringify(behaviour)).toBeInstanceOf(OpenAI.APIError);
      expect(error).toMatchObject({ code });
      expect(text.length).toBeGreaterThan(0);
    }
  });

  it('never passes a provider’s own error event through: the caller gets the router’s, cleaned', async () => {
    await addProvider(router, { name: 'native', kind: 'responses', base_url: primary.url });
    await setRole(router, 'guardrail', ['native/resp-test']);
    primary.always({ providerErrorAt: 3 });
    for (const run of [
      async () => {
        for await (const _event of await sdk.responses.create({
          model: 'guardrail',
          input: 'hi',
          stream: true,
        })) {
          // drained until the error
        }
      },
      async () => {
        for await (const _chunk of await sdk.chat.completions.create({
          model: 'classifier',
          messages: HELLO,
          stream: true,
        })) {
          // drained until the error
        }
      },
    ]) {
      const error = await run().catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(OpenAI.APIError);
      expect(error).toMatchObject({ code: 'upstream_error' });
      const shown = JSON.stringify((error as InstanceType<typeof OpenAI.APIError>).error);
      expect(shown).toContain('overloaded');
      expect(shown).not.toContain('10.20.30.40');
      expect(shown).not.toContain('sk-live-abcdef');
    }
  });

  it('balances a model served by two providers across both', async () => {
    const before = { backup: backup.calls.length, twin: twin.calls.length };
    const providers: (string | null)[] = [];
    for (let index = 0; index < 4; index += 1) providers.push((await served('knowledge')).provider);
    expect(providers.filter((name) => name === 'backup')).toHaveLength(2);
    expect(providers.filter((name) => name === 'twin')).toHaveLength(2);
    expect(backup.calls.length - before.backup).toBe(2);
    expect(twin.calls.length - before.twin).toBe(2);
  });

  it('aborts the provider call when the caller goes away mid-stream', async () => {
    primary.always({ eventDelayMs: 200 });
    const abandonedBefore = primary.abandoned();
    const controller = new AbortController();
    const stream = await sdk.chat.completions.create(
      { model: 'classifier', messages: HELLO, stream: true },
      { signal: controller.signal },
    );
    const iterator = stream[Symbol.asyncIterator]();
    await iterator.next();
    controller.abort();
    await primary.waitAbandoned(abandonedBefore + 1);
    expect(primary.abandoned()).toBe(abandonedBefore + 1);
  });

  it('answers backend_unavailable when no provider can be reached', async () => {
    const doomed = await startUpstream();
    await addProvider(router, { name: 'doomed', base_url: doomed.url });
    await setRole(router, 'memory', ['doomed/gpt-test']);
    await doomed.close();
    const error = await sdk.chat.completions
      .create({ model: 'memory', messages: HELLO })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.InternalServerError);
    expect(error).toMatchObject({ status: 503, code: 'backend_unavailable' });
  });
});
