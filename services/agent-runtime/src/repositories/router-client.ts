import { createParser } from 'eventsource-parser';
import { request, type Dispatcher } from 'undici';

import { principalHeaders } from '@aibox/platform';
import type { KeySet, Principal } from '@aibox/identity';

import type { ContentPart, ToolCall } from '../services/conversation.js';

/** A message of the prompt, as Chat Completions takes it. */
export type PromptMessage =
  | { readonly role: 'system'; readonly content: string }
  | { readonly role: 'user'; readonly content: string | readonly ContentPart[] }
  | {
      readonly role: 'assistant';
      readonly content: string | null;
      readonly tool_calls?: readonly ToolCall[];
    }
  | { readonly role: 'tool'; readonly content: string; readonly tool_call_id: string };

export interface ModelRequest {
  /** A router role alias: the runtime never names a concrete model. */
  readonly role: string;
  readonly messages: readonly PromptMessage[];
  readonly tools?: readonly unknown[];
  readonly maxTokens?: number;
}

export interface ModelUsage {
  readonly promptTokens: number;
  readonly completionTokens: number;
}

export interface ModelAnswer {
  readonly text: string;
  readonly toolCalls: readonly ToolCall[];
  readonly finishReason: string | null;
  readonly usage: ModelUsage | undefined;
  /** The concrete model the router chose (`x-aibox-model`), for the stream's `usage` event. */
  readonly model: string | undefined;
}

/** Who a router call is for: the user's principal, their turn and its cap token (`inference:invoke`). */
export interface CallIdentity {
  readonly principal: Principal;
  readonly turnId: string;
  readonly capToken: string | undefined;
}

/** The router refused or failed; `code` is the router's own (`role_not_configured`, `upstream_error`, …). */
export class RouterCallError extends Error {
  override readonly name = 'RouterCallError';
  constructor(
    readonly code: string,
    message: string,
    readonly status: number | undefined,
  ) {
    super(message);
  }
}

interface ToolCallDelta {
  index?: number;
  id?: string;
  function?: { name?: string; arguments?: string };
}

function routerError(body: unknown, status: number | undefined): RouterCallError {
  const record = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const error = record['error'];
  if (typeof error === 'object' && error !== null) {
    const nested = error as Record<string, unknown>;
    const code = typeof nested['code'] === 'string' ? nested['code'] : record['code'];
    return new RouterCallError(
      typeof code === 'string' ? code : 'upstream_error',
      typeof nested['message'] === 'string' ? nested['message'] : 'The model call failed',
      status,
    );
  }
  const code = typeof record['code'] === 'string' ? record['code'] : 'upstream_error';
  return new RouterCallError(code, typeof error === 'string' ? error : 'The model call failed', status);
}

/** Accumulates a streamed answer: text, tool calls assembled from their fragments, usage. */
class AnswerBuilder {
  text = '';
  finishReason: string | null = null;
  usage: ModelUsage | undefined;
  private readonly calls = new Map<number, { id: string; name: string; arguments: string }>();

  add(chunk: Record<string, unknown>): string {
    const usage = chunk['usage'] as { prompt_tokens?: number; completion_tokens?: number } | null | undefined;
    if (usage !== undefined && usage !== null) {
      this.usage = { promptTokens: usage.prompt_tokens ?? 0, completionTokens: usage.completion_tokens ?? 0 };
    }
    const choice = (chunk['choices'] as Record<string, unknown>[] | undefined)?.[0];
    if (choice === undefined) return '';
    if (typeof choice['finish_reason'] === 'string') this.finishReason = choice['finish_reason'];
    const delta = (choice['delta'] ?? choice['message']) as Record<string, unknown> | undefined;
    if (delta === undefined) return '';
    for (const call of (delta['tool_calls'] as ToolCallDelta[] | undefined) ?? []) {
      const index = call.index ?? this.calls.size;
      const known = this.calls.get(index) ?? { id: '', name: '', arguments: '' };
      if (call.id !== undefined) known.id = call.id;
      if (call.function?.name !== undefined) known.name += call.function.name;
      if (call.function?.arguments !== undefined) known.arguments += call.function.arguments;
      this.calls.set(index, known);
    }
    const text = typeof delta['content'] === 'string' ? delta['content'] : '';
    this.text += text;
    return text;
  }

  answer(model: string | undefined): ModelAnswer {
    const toolCalls = [...this.calls.entries()]
      .sort(([a], [b]) => a - b)
      .map(([index, call]) => ({
        id: call.id === '' ? `call_${index}` : call.id,
        type: 'function' as const,
        function: { name: call.name, arguments: call.arguments === '' ? '{}' : call.arguments },
      }));
    return { text: this.text, toolCalls, finishReason: this.finishReason, usage: this.usage, model };
  }
}

export interface RouterClientOptions {
  readonly baseUrl: string;
  readonly principalKeys: KeySet;
  /** Until the response headers (a stream's events may then take as long as the model needs). */
  readonly headersTimeoutMs: number;
}

/**
 * The inference router's Chat Completions endpoint, streamed: deltas are handed over as they arrive, and the
 * whole answer (text, assembled tool calls, usage) comes back at the end. Each call carries a freshly signed
 * principal for the same user, the turn id and the turn's cap token.
 */
export class RouterClient {
  constructor(
    private readonly options: RouterClientOptions,
    private readonly dispatcher?: Dispatcher,
  ) {}

  async stream(
    identity: CallIdentity,
    model: ModelRequest,
    onDelta: (text: string) => void,
    signal: AbortSignal,
  ): Promise<ModelAnswer> {
    const body = {
      model: model.role,
      messages: model.messages,
      stream: true,
      stream_options: { include_usage: true },
      ...(model.tools === undefined || model.tools.length === 0 ? {} : { tools: model.tools }),
      ...(model.maxTokens === undefined ? {} : { max_tokens: model.maxTokens }),
    };
    const response = await this.post(identity, body, signal);
    const modelName = headerText(response.headers['x-aibox-model']);
    const contentType = headerText(response.headers['content-type']) ?? '';
    if (response.statusCode !== 200) {
      throw routerError(await readJson(response.body), response.statusCode);
    }
    const builder = new AnswerBuilder();
    if (!contentType.startsWith('text/event-stream')) {
      // A router that answered whole (it should not for stream:true) is still understood.
      const whole = (await readJson(response.body)) as Record<string, unknown>;
      const text = builder.add(whole);
      if (text !== '') onDelta(text);
      return builder.answer(modelName);
    }
    let failure: RouterCallError | undefined;
    // Set by the parser's callback, which the compiler's narrowing does not follow.
    let done = false as boolean;
    const parser = createParser({
      onEvent: (event) => {
        if (done || failure !== undefined) return;
        if (event.data === '[DONE]') {
          done = true;
          return;
        }
        let chunk: Record<string, unknown>;
        try {
          chunk = JSON.parse(event.data) as Record<string, unknown>;
        } catch {
          failure = new RouterCallError('upstream_error', 'The model sent an unreadable event', 200);
          return;
        }
        if (chunk['error'] !== undefined && chunk['error'] !== null) {
          failure = routerError(chunk, 200);
          return;
        }
        const text = builder.add(chunk);
        if (text !== '') onDelta(text);
      },
    });
    const decoder = new TextDecoder();
    for await (const piece of response.body as AsyncIterable<Buffer>) {
      parser.feed(decoder.decode(piece, { stream: true }));
      if (failure !== undefined) break;
    }
    if (failure !== undefined) {
      response.body.destroy();
      throw failure;
    }
    if (!done) throw new RouterCallError('upstream_error', 'The model stream ended early', 200);
    return builder.answer(modelName);
  }

  /** A whole (not streamed) answer, for short side calls such as titles. */
  async complete(identity: CallIdentity, model: ModelRequest, signal: AbortSignal): Promise<ModelAnswer> {
    const body = {
      model: model.role,
      messages: model.messages,
      ...(model.maxTokens === undefined ? {} : { max_tokens: model.maxTokens }),
    };
    const response = await this.post(identity, body, signal);
    const json = await readJson(response.body);
    if (response.statusCode !== 200) throw routerError(json, response.statusCode);
    const builder = new AnswerBuilder();
    builder.add(json as Record<string, unknown>);
    return builder.answer(headerText(response.headers['x-aibox-model']));
  }

  private async post(
    identity: CallIdentity,
    body: unknown,
    signal: AbortSignal,
  ): Promise<Dispatcher.ResponseData> {
    try {
      return await request(`${this.options.baseUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'text/event-stream, application/json',
          ...principalHeaders(identity.principal, this.options.principalKeys, {
            turnId: identity.turnId,
            ...(identity.capToken === undefined ? {} : { capToken: identity.capToken }),
          }),
        },
        body: JSON.stringify(body),
        signal,
        headersTimeout: this.options.headersTimeoutMs,
        bodyTimeout: 0,
        ...(this.dispatcher === undefined ? {} : { dispatcher: this.dispatcher }),
      });
    } catch (error: unknown) {
      if (signal.aborted) throw error;
      throw new RouterCallError('backend_unavailable', 'The inference router cannot be reached', undefined);
    }
  }
}

function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

async function readJson(body: Dispatcher.ResponseData['body']): Promise<unknown> {
  const text = await body.text();
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return { error: text.slice(0, 200) };
  }
}
