import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startUpstream, USAGE, type Upstream } from './support/openai-upstream.js';
import { addProvider, setRole, startRouter, type TestRouter } from './support/router.js';

const KEY = 'sk-provider-0123456789abcdefKEY1';

const WEATHER_TOOL = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'The weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

/**
 * The data path through the official `openai` SDK: chat (whole and streamed), tool calls, the Responses API
 * on both kinds of provider, embeddings — against upstreams that speak the real wire protocol.
 */
describe('inference-router data path', () => {
  let router: TestRouter;
  let chat: Upstream;
  let native: Upstream;

  beforeAll(async () => {
    chat = await startUpstream({ key: KEY, models: ['gpt-test', 'embed-test'] });
    native = await startUpstream({ models: ['resp-test'] });
    router = await startRouter();
    await addProvider(router, { name: 'chatco', base_url: chat.url, api_key: KEY });
    await addProvider(router, { name: 'respco', kind: 'responses', base_url: native.url });
    await setRole(router, 'default', ['chatco/gpt-test']);
    await setRole(router, 'title', ['respco/resp-test']);
    await setRole(router, 'embedding', ['chatco/embed-test']);
  });
  afterAll(async () => {
    await router.close();
    await chat.close();
    await native.close();
  });

  it('answers a chat completion for a role, sending the provider its own model and key and nothing of the caller', async () => {
    const before = chat.calls.length;
    const { data, response } = await router
      .sdk()
      .chat.completions.create({ model: 'default', messages: [{ role: 'user', content: 'hello there' }] })
      .withResponse();
    expect(data.choices[0]?.message.content).toBe('echo: hello there');
    expect(data.usage).toMatchObject({
      prompt_tokens: USAGE.prompt_tokens,
      completion_tokens: USAGE.completion_tokens,
    });
    expect(response.headers.get('x-aibox-model')).toBe('chatco/gpt-test');
    expect(response.headers.get('x-aibox-role')).toBe('default');
    const sent = chat.calls.slice(before);
    expect(sent).toHaveLength(1);
    expect(sent[0]?.path).toBe('/v1/chat/completions');
    expect(sent[0]?.body['model']).toBe('gpt-test');
    expect(sent[0]?.headers.authorization).toBe(`Bearer ${KEY}`);
    const forwarded = Object.keys(sent[0]?.headers ?? {});
    expect(forwarded.filter((name) => name.startsWith('x-aibox') || name === 'x-tenant-id')).toEqual([]);
  });

  it('streams a chat completion chunk by chunk, keeping the usage chunk for callers who asked', async () => {
    const stream = await router.sdk().chat.completions.create({
      model: 'default',
      messages: [{ role: 'user', content: 'stream me' }],
      stream: true,
    });
    let text = '';
    let chunks = 0;
    for await (const chunk of stream) {
      chunks += 1;
      expect(chunk.usage ?? undefined).toBeUndefined();
      text += chunk.choices[0]?.delta.content ?? '';
    }
    expect(text).toBe('echo: stream me');
    expect(chunks).toBeGreaterThan(3);
    // The router asks every provider for usage, to meter streams.
    expect(chat.calls.at(-1)?.body['stream_options']).toEqual({ include_usage: true });

    const withUsage = await router.sdk().chat.completions.create({
      model: 'default',
      messages: [{ role: 'user', content: 'count me' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let usage: unknown;
    for await (const chunk of withUsage) usage = chunk.usage ?? usage;
    expect(usage).toMatchObject({ prompt_tokens: USAGE.prompt_tokens, total_tokens: USAGE.total_tokens });
  });

  it('passes tool calls through, whole and streamed', async () => {
    const sdk = router.sdk();
    const whole = await sdk.chat.completions.create({
      model: 'default',
      messages: [{ role: 'user', content: 'weather in Paris?' }],
      tools: [WEATHER_TOOL],
    });
    expect(whole.choices[0]?.finish_reason).toBe('tool_calls');
    const call = whole.choices[0]?.message.tool_calls?.[0];
    expect(call?.type === 'function' ? call.function : undefined).toEqual({
      name: 'get_weather',
      arguments: '{"city":"Paris"}',
    });

    const streamed = sdk.chat.completions.stream({
      model: 'default',
      messages: [{ role: 'user', content: 'weather in Paris?' }],
      tools: [WEATHER_TOOL],
    });
    const final = await streamed.finalChatCompletion();
    const streamedCall = final.choices[0]?.message.tool_calls?.[0];
    expect(streamedCall?.type === 'function' ? streamedCall.function : undefined).toEqual({
      name: 'get_weather',
      arguments: '{"city":"Paris"}',
    });
  });

  it('answers the Responses API from a Chat Completions provider, translating both ways', async () => {
    const sdk = router.sdk();
    const response = await sdk.responses.create({
      model: 'default',
      input: 'translate me',
      instructions: 'Be brief.',
    });
    expect(response.output_text).toBe('echo: translate me');
    expect(response.usage).toMatchObject({
      input_tokens: USAGE.prompt_tokens,
      output_tokens: USAGE.completion_tokens,
    });
    const sent = chat.calls.at(-1)?.body;
    expect(sent?.['messages']).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'translate me' },
    ]);

    const stream = sdk.responses.stream({ model: 'default', input: 'stream translated' });
    let deltas = '';
    stream.on('response.output_text.delta', (event) => {
      deltas += event.delta;
    });
    const final = await stream.finalResponse();
    expect(deltas).toBe('echo: stream translated');
    expect(final.output_text).toBe('echo: stream translated');
    expect(final.status).toBe('completed');
    expect(final.usage?.total_tokens).toBe(USAGE.total_tokens);

    const tool = await sdk.responses.create({
      model: 'default',
      input: 'weather in Paris?',
      tools: [
        { type: 'function', name: 'get_weather', parameters: WEATHER_TOOL.function.parameters, strict: null },
      ],
    });
    expect(tool.output[0]).toMatchObject({
      type: 'function_call',
      name: 'get_weather',
      arguments: '{"city":"Paris"}',
    });
  });

  it('passes the Responses API through to a Responses provider, and translates Chat Completions to it', async () => {
    const sdk = router.sdk();
    const response = await sdk.responses.create({ model: 'title', input: 'native please' });
    expect(response.output_text).toBe('echo: native please');
    expect(native.calls.at(-1)?.path).toBe('/v1/responses');
    expect(native.calls.at(-1)?.body['model']).toBe('resp-test');

    const streamed = await sdk.responses.stream({ model: 'title', input: 'native stream' }).finalResponse();
    expect(streamed.output_text).toBe('echo: native stream');

    const completion = await sdk.chat.completions.create({
      model: 'title',
      messages: [{ role: 'user', content: 'chat over responses' }],
    });
    expect(completion.choices[0]?.message.content).toBe('echo: chat over responses');
    expect(native.calls.at(-1)?.path).toBe('/v1/responses');

    const chunks = await sdk.chat.completions.create({
      model: 'title',
      messages: [{ role: 'user', content: 'chat stream over responses' }],
      stream: true,
    });
    let text = '';
    for await (const chunk of chunks) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('echo: chat stream over responses');
  });

  it('answers embeddings, in the base64 encoding the SDK asks for by default', async () => {
    const result = await router.sdk().embeddings.create({ model: 'embedding', input: ['one', 'two'] });
    expect(result.data.map((item) => item.embedding)).toEqual([
      [0.25, -0.5, 1],
      [0.25, -0.5, 2],
    ]);
    expect(chat.calls.at(-1)?.body['model']).toBe('embed-test');
  });

  it('reaches a concrete <provider>/<model> that a role offers, and no other', async () => {
    const sdk = router.sdk();
    const answer = await sdk.chat.completions.create({
      model: 'chatco/gpt-test',
      messages: [{ role: 'user', content: 'concrete' }],
    });
    expect(answer.choices[0]?.message.content).toBe('echo: concrete');
    await expect(
      sdk.chat.completions.create({
        model: 'chatco/gpt-unoffered',
        messages: [{ role: 'user', content: 'x' }],
      }),
    ).rejects.toMatchObject({ status: 404, code: 'model_unknown' });
  });

  it('serves a role an admin reassigns from the very next request, without a restart', async () => {
    const sdk = router.sdk();
    const ask = async (): Promise<string | null> =>
      (
        await sdk.chat.completions
          .create({ model: 'classifier', messages: [{ role: 'user', content: 'who?' }] })
          .withResponse()
      ).response.headers.get('x-aibox-model');
    await setRole(router, 'classifier', ['chatco/gpt-test']);
    expect(await ask()).toBe('chatco/gpt-test');
    await setRole(router, 'classifier', ['respco/resp-test']);
    expect(await ask()).toBe('respco/resp-test');
  });

  it('shows GET /v1/routes with every role, its models in order and each provider’s health', async () => {
    const routes = await router.call('GET', '/v1/routes', undefined, {
      tid: 'default',
      uid: 'bob',
      roles: ['user'],
      caps: [],
    });
    expect(routes.status).toBe(200);
    const roles = routes.json['roles'] as {
      role: string;
      models: { id: string; usable: boolean; health: { state: string } }[];
    }[];
    expect(roles.map((role) => role.role)).toContain('vision');
    expect(roles.find((role) => role.role === 'default')?.models).toMatchObject([
      { id: 'chatco/gpt-test', usable: true, health: { state: 'closed' } },
    ]);
    expect(JSON.stringify(routes.json)).not.toContain(chat.url);
  });
});
