import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { Socket } from 'node:net';

/**
 * An OpenAI-compatible provider for tests: it speaks the real wire protocol (JSON, and SSE for streams) of
 * `/v1/models`, `/v1/chat/completions`, `/v1/responses` and `/v1/embeddings`, and misbehaves on request —
 * errors with `Retry-After`, redirects, stalls, connections dropped mid-stream, malformed events.
 */

export type Json = Record<string, unknown>;

/** How the upstream answers one request (the next one in the queue, or every one with `always`). */
export type Behaviour =
  | { readonly status: number; readonly retryAfter?: string; readonly body?: unknown }
  | { readonly redirect: string }
  /** Accept the request and never answer. */
  | { readonly stall: true }
  /** Close the connection without answering. */
  | { readonly drop: true }
  /** Stream this many events, then close the connection. */
  | { readonly dropAfter: number }
  /** Stream this many events, then go silent with the connection open. */
  | { readonly stallAfter: number }
  /** Send a broken event at this position of the stream (0 = first). */
  | { readonly malformedAt: number }
  /** Send the API's own error event at this position, naming an internal URL and a key, and stop. */
  | { readonly providerErrorAt: number }
  /** Wait between stream events (for callers that leave mid-stream). */
  | { readonly eventDelayMs: number };

export interface RecordedCall {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Json;
}

export interface Upstream {
  /** The base URL a provider is registered with: `http://127.0.0.1:<port>/v1`. */
  readonly url: string;
  readonly calls: RecordedCall[];
  /** Requests whose caller went away before the answer ended. */
  readonly abandoned: () => number;
  /** The next requests behave like this, in order; afterwards the upstream answers normally. */
  queue(...behaviours: Behaviour[]): void;
  /** Every request behaves like this until `always(undefined)`. */
  always(behaviour: Behaviour | undefined): void;
  /** Resolves when the upstream has seen `count` abandoned requests. */
  waitAbandoned(count: number): Promise<void>;
  close(): Promise<void>;
}

export interface UpstreamOptions {
  /** Required as `Authorization: Bearer <key>` (401 otherwise); none = open. */
  readonly key?: string;
  readonly models?: readonly string[];
  /** Words of a streamed text answer, one per event. */
  readonly words?: number;
}

/** What a provider's own error event says: an internal URL and a key the caller must never see. */
export const PROVIDER_ERROR =
  'overloaded at http://10.20.30.40:8000/engine, key sk-live-abcdefghijklmnop0123';

export const USAGE = { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18, cached_tokens: 3 } as const;

function lastUserText(messages: unknown): string {
  if (!Array.isArray(messages)) return '';
  for (const message of [...(messages as unknown[])].reverse()) {
    const { role, content } = (message ?? {}) as { role?: unknown; content?: unknown };
    if (role !== 'user') continue;
    if (typeof content === 'string') return content;
    if (Array.isArray(content)) {
      return content
        .map((part: unknown) => {
          const { text } = (part ?? {}) as { text?: unknown };
          return typeof text === 'string' ? text : '';
        })
        .join('');
    }
  }
  return '';
}

function responsesInputText(input: unknown): string {
  if (typeof input === 'string') return input;
  if (!Array.isArray(input)) return '';
  const messages = input
    .filter((item: unknown) => (item as { role?: unknown } | null)?.role === 'user')
    .map((item: unknown) => {
      const { content } = item as { content: unknown };
      return {
        role: 'user',
        content: Array.isArray(content)
          ? content.map((part: unknown) => ({ text: (part as { text?: unknown } | null)?.text }))
          : content,
      };
    });
  return lastUserText(messages);
}

/** The tool the answer calls: the first function tool of the request, when the last turn is the user's. */
function toolToCall(body: Json, api: 'chat' | 'responses'): string | undefined {
  const tools = body['tools'];
  if (!Array.isArray(tools) || tools.length === 0) return undefined;
  if (api === 'chat') {
    const messages = body['messages'] as { role?: string }[];
    if (messages.at(-1)?.role !== 'user') return undefined;
    return (tools[0] as { function?: { name?: string } }).function?.name;
  }
  const input = body['input'];
  if (
    Array.isArray(input) &&
    (input.at(-1) as { type?: string } | undefined)?.type === 'function_call_output'
  ) {
    return undefined;
  }
  return (tools[0] as { name?: string }).name;
}

const TOOL_ARGUMENTS = '{"city":"Paris"}';

/** The text cut into `count` pieces (fewer for a short text), one per event. */
function words(text: string, count: number): string[] {
  const parts = text.split(/(?<= )/);
  if (parts.length <= count) return parts;
  return [...parts.slice(0, count - 1), parts.slice(count - 1).join('')];
}

function chatChunks(body: Json, wordCount: number): Json[] {
  const model = String(body['model']);
  const base = { id: 'chatcmpl-up', object: 'chat.completion.chunk', created: 1_700_000_000, model };
  const chunk = (delta: Json, finish: string | null = null): Json => ({
    ...base,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  });
  const tool = toolToCall(body, 'chat');
  const chunks: Json[] = [chunk({ role: 'assistant', content: '' })];
  if (tool === undefined) {
    for (const word of words(`echo: ${lastUserText(body['messages'])}`, wordCount)) {
      chunks.push(chunk({ content: word }));
    }
    chunks.push(chunk({}, 'stop'));
  } else {
    chunks.push(
      chunk({
        tool_calls: [{ index: 0, id: 'call_up1', type: 'function', function: { name: tool, arguments: '' } }],
      }),
    );
    for (const piece of ['{"city"', ':"Paris"}']) {
      chunks.push(chunk({ tool_calls: [{ index: 0, function: { arguments: piece } }] }));
    }
    chunks.push(chunk({}, 'tool_calls'));
  }
  const options = body['stream_options'] as { include_usage?: boolean } | undefined;
  if (options?.include_usage === true) {
    chunks.push({
      ...base,
      choices: [],
      usage: {
        prompt_tokens: USAGE.prompt_tokens,
        completion_tokens: USAGE.completion_tokens,
        total_tokens: USAGE.total_tokens,
        prompt_tokens_details: { cached_tokens: USAGE.cached_tokens },
      },
    });
  }
  return chunks;
}

function chatCompletion(body: Json): Json {
  const tool = toolToCall(body, 'chat');
  return {
    id: 'chatcmpl-up',
    object: 'chat.completion',
    created: 1_700_000_000,
    model: body['model'],
    choices: [
      {
        index: 0,
        message:
          tool === undefined
            ? { role: 'assistant', content: `echo: ${lastUserText(body['messages'])}`, refusal: null }
            : {
                role: 'assistant',
                content: null,
                refusal: null,
                tool_calls: [
                  { id: 'call_up1', type: 'function', function: { name: tool, arguments: TOOL_ARGUMENTS } },
                ],
              },
        logprobs: null,
        finish_reason: tool === undefined ? 'stop' : 'tool_calls',
      },
    ],
    usage: {
      prompt_tokens: USAGE.prompt_tokens,
      completion_tokens: USAGE.completion_tokens,
      total_tokens: USAGE.total_tokens,
      prompt_tokens_details: { cached_tokens: USAGE.cached_tokens },
    },
  };
}

const RESPONSES_USAGE = {
  input_tokens: USAGE.prompt_tokens,
  input_tokens_details: { cached_tokens: USAGE.cached_tokens },
  output_tokens: USAGE.completion_tokens,
  output_tokens_details: { reasoning_tokens: 0 },
  total_tokens: USAGE.total_tokens,
};

function responseObject(body: Json, status: 'in_progress' | 'completed', output: Json[]): Json {
  return {
    id: 'resp_up',
    object: 'response',
    created_at: 1_700_000_000,
    status,
    model: body['model'],
    output,
    error: null,
    incomplete_details: null,
    instructions: body['instructions'] ?? null,
    metadata: {},
    parallel_tool_calls: true,
    temperature: 1,
    tool_choice: 'auto',
    tools: body['tools'] ?? [],
    top_p: 1,
    usage: status === 'completed' ? RESPONSES_USAGE : null,
  };
}

function responseOutput(body: Json): Json[] {
  const tool = toolToCall(body, 'responses');
  if (tool !== undefined) {
    return [
      {
        type: 'function_call',
        id: 'fc_up1',
        call_id: 'call_up1',
        name: tool,
        arguments: TOOL_ARGUMENTS,
        status: 'completed',
      },
    ];
  }
  return [
    {
      type: 'message',
      id: 'msg_up1',
      role: 'assistant',
      status: 'completed',
      content: [{ type: 'output_text', text: `echo: ${responsesInputText(body['input'])}`, annotations: [] }],
    },
  ];
}

function responseEvents(body: Json, wordCount: number): { event: string; data: Json }[] {
  const events: Json[] = [];
  const output = responseOutput(body);
  events.push({ type: 'response.created', response: responseObject(body, 'in_progress', []) });
  events.push({ type: 'response.in_progress', response: responseObject(body, 'in_progress', []) });
  const item = output[0] as Json;
  if (item['type'] === 'function_call') {
    events.push({
      type: 'response.output_item.added',
      output_index: 0,
      item: { ...item, arguments: '', status: 'in_progress' },
    });
    for (const delta of ['{"city"', ':"Paris"}']) {
      events.push({
        type: 'response.function_call_arguments.delta',
        item_id: 'fc_up1',
        output_index: 0,
        delta,
      });
    }
    events.push({
      type: 'response.function_call_arguments.done',
      item_id: 'fc_up1',
      output_index: 0,
      arguments: TOOL_ARGUMENTS,
    });
  } else {
    const text = ((item['content'] as Json[])[0] as { text: string }).text;
    events.push({
      type: 'response.output_item.added',
      output_index: 0,
      item: { ...item, status: 'in_progress', content: [] },
    });
    const part = { type: 'output_text', text: '', annotations: [] };
    events.push({
      type: 'response.content_part.added',
      item_id: 'msg_up1',
      output_index: 0,
      content_index: 0,
      part,
    });
    for (const delta of words(text, wordCount)) {
      events.push({
        type: 'response.output_text.delta',
        item_id: 'msg_up1',
        output_index: 0,
        content_index: 0,
        delta,
      });
    }
    events.push({
      type: 'response.output_text.done',
      item_id: 'msg_up1',
      output_index: 0,
      content_index: 0,
      text,
    });
    events.push({
      type: 'response.content_part.done',
      item_id: 'msg_up1',
      output_index: 0,
      content_index: 0,
      part: { ...part, text },
    });
  }
  events.push({ type: 'response.output_item.done', output_index: 0, item });
  events.push({ type: 'response.completed', response: responseObject(body, 'completed', output) });
  return events.map((data, index) => ({
    event: String(data['type']),
    data: { ...data, sequence_number: index },
  }));
}

function embeddings(body: Json): Json {
  const input = body['input'];
  const inputs = Array.isArray(input) ? input : [input];
  const base64 = body['encoding_format'] === 'base64';
  return {
    object: 'list',
    model: body['model'],
    data: inputs.map((_item, index) => {
      const vector = [0.25, -0.5, index + 1];
      return {
        object: 'embedding',
        index,
        embedding: base64 ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector,
      };
    }),
    usage: { prompt_tokens: 5, total_tokens: 5 },
  };
}

async function readBody(request: IncomingMessage): Promise<Json> {
  const chunks: Buffer[] = [];
  for await (const chunk of request as AsyncIterable<Buffer>) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString('utf8');
  return text === '' ? {} : (JSON.parse(text) as Json);
}

function sendJson(response: ServerResponse, status: number, body: unknown, headers: Json = {}): void {
  response.writeHead(status, { 'content-type': 'application/json', ...(headers as Record<string, string>) });
  response.end(JSON.stringify(body));
}

export async function startUpstream(options: UpstreamOptions = {}): Promise<Upstream> {
  const calls: RecordedCall[] = [];
  const queued: Behaviour[] = [];
  let standing: Behaviour | undefined;
  let abandoned = 0;
  const abandonWaiters: { count: number; resolve: () => void }[] = [];
  const sockets = new Set<Socket>();
  const wordCount = options.words ?? 8;

  async function stream(
    response: ServerResponse,
    events: string[],
    behaviour: Behaviour | undefined,
    errorEvent: string,
  ): Promise<void> {
    response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    for (const [index, event] of events.entries()) {
      if (behaviour !== undefined && 'dropAfter' in behaviour && index === behaviour.dropAfter) {
        // `end`, not `destroy`: what was written still goes out, then the connection closes mid-response.
        response.socket?.end();
        return;
      }
      if (behaviour !== undefined && 'stallAfter' in behaviour && index === behaviour.stallAfter) return;
      if (behaviour !== undefined && 'providerErrorAt' in behaviour && index === behaviour.providerErrorAt) {
        response.end(errorEvent);
        return;
      }
      if (behaviour !== undefined && 'malformedAt' in behaviour && index === behaviour.malformedAt) {
        response.write('data: {"id": "broken", "choices": [\n\n');
        continue;
      }
      if (response.destroyed) return;
      response.write(event);
      if (behaviour !== undefined && 'eventDelayMs' in behaviour) {
        await new Promise((resolve) => setTimeout(resolve, behaviour.eventDelayMs));
      }
    }
    response.end();
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    const body = request.method === 'POST' ? await readBody(request) : {};
    calls.push({ method: request.method ?? 'GET', path, headers: request.headers, body });
    response.on('close', () => {
      if (response.writableFinished) return;
      abandoned += 1;
      for (const waiter of abandonWaiters.filter((w) => abandoned >= w.count)) waiter.resolve();
    });
    if (options.key !== undefined && request.headers.authorization !== `Bearer ${options.key}`) {
      sendJson(response, 401, {
        error: {
          message: `Incorrect API key provided: ${request.headers.authorization ?? ''}`,
          type: 'invalid_request_error',
          code: 'invalid_api_key',
        },
      });
      return;
    }
    const behaviour = queued.shift() ?? standing;
    if (behaviour !== undefined) {
      if ('status' in behaviour) {
        sendJson(
          response,
          behaviour.status,
          behaviour.body ?? {
            error: { message: 'upstream trouble at http://10.1.2.3:9999/internal', type: 'server_error' },
          },
          behaviour.retryAfter === undefined ? {} : { 'retry-after': behaviour.retryAfter },
        );
        return;
      }
      if ('redirect' in behaviour) {
        response.writeHead(307, { location: behaviour.redirect }).end();
        return;
      }
      if ('stall' in behaviour) return;
      if ('drop' in behaviour) {
        request.socket.destroy();
        return;
      }
    }
    const streaming = body['stream'] === true;
    if (request.method === 'GET' && path === '/v1/models') {
      sendJson(response, 200, {
        object: 'list',
        data: (options.models ?? ['gpt-test', 'embed-test']).map((id) => ({
          id,
          object: 'model',
          owned_by: 'test',
        })),
      });
    } else if (path === '/v1/chat/completions') {
      if (streaming) {
        const events = chatChunks(body, wordCount).map((chunk) => `data: ${JSON.stringify(chunk)}\n\n`);
        await stream(
          response,
          [...events, 'data: [DONE]\n\n'],
          behaviour,
          `data: ${JSON.stringify({ error: { message: PROVIDER_ERROR, type: 'server_error' } })}\n\n`,
        );
      } else {
        sendJson(response, 200, chatCompletion(body));
      }
    } else if (path === '/v1/responses') {
      if (streaming) {
        const events = responseEvents(body, wordCount).map(
          ({ event, data }) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`,
        );
        await stream(
          response,
          events,
          behaviour,
          `event: error\ndata: ${JSON.stringify({ type: 'error', code: 'server_error', message: PROVIDER_ERROR })}\n\n`,
        );
      } else {
        sendJson(response, 200, responseObject(body, 'completed', responseOutput(body)));
      }
    } else if (path === '/v1/embeddings') {
      sendJson(response, 200, embeddings(body));
    } else {
      sendJson(response, 404, { error: { message: 'no such route', type: 'invalid_request_error' } });
    }
  }

  const server: Server = createServer((request, response) => {
    handle(request, response).catch(() => {
      response.destroy();
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the upstream got no port');

  return {
    url: `http://127.0.0.1:${address.port}/v1`,
    calls,
    abandoned: () => abandoned,
    queue: (...behaviours) => {
      queued.push(...behaviours);
    },
    always: (behaviour) => {
      standing = behaviour;
    },
    waitAbandoned: (count) =>
      abandoned >= count
        ? Promise.resolve()
        : new Promise((resolve) => {
            abandonWaiters.push({ count, resolve });
          }),
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => {
          resolve();
        });
      }),
  };
}
