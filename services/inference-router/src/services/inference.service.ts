import { randomBytes } from 'node:crypto';

import { InferenceError } from '../errors/inference.error.js';
import type { ClientChannel } from './client-channel.js';
import type { Attempt, Dispatcher, Opened, OpenedStream, ProviderPath } from './dispatch.service.js';
import type { CallRecorder, Caller, Endpoint, ModelCall } from './model-call.js';
import type { Candidate, ModelResolver, Resolution } from './model-resolver.js';
import {
  chatCompletionToResponse,
  chatRequestToResponses,
  responsesRequestToChat,
  responseToChatCompletion,
  usageFromChat,
  usageFromResponses,
  type Json,
  type ResponseIds,
} from './responses-adapter.js';
import type { SnapshotHolder } from './routing-snapshot.js';
import {
  ChatPassthrough,
  ChatToResponses,
  relayStream,
  ResponsesPassthrough,
  ResponsesToChat,
  type StreamTranslator,
} from './stream-relay.js';
import type { UsageMeter } from './usage-meter.js';

export interface InferenceOptions {
  readonly captureMaxBytes: number;
}

/** A request body as the edge validated it: an object with at least a `model`. */
export type InferenceBody = Json & { readonly model: string };

function withModel(body: Json, model: string): Json {
  return { ...body, model };
}

/** The caller asked for streaming usage; the router always asks, to meter every stream. */
function chatStreamBody(body: Json, model: string): Json {
  const options = body['stream_options'];
  return {
    ...body,
    model,
    stream_options: {
      ...(typeof options === 'object' && options !== null ? options : {}),
      include_usage: true,
    },
  };
}

function wantsUsage(body: Json): boolean {
  const options = body['stream_options'];
  return (options as { include_usage?: unknown } | null | undefined)?.include_usage === true;
}

function responseIds(): ResponseIds {
  return { responseId: `resp_${randomBytes(16).toString('hex')}`, createdAt: Math.floor(Date.now() / 1000) };
}

/**
 * The data path (ARCHITECTURE §7): resolves the requested role or model on the current snapshot, refuses a
 * spent budget before any provider is called, dispatches with fallbacks and retries, and answers in the
 * caller's API — passing the provider's bytes through when both speak the same one, translating between
 * Chat Completions and Responses when they do not. Every call is metered and, in a turn, audited.
 */
export class InferenceService {
  constructor(
    private readonly snapshots: SnapshotHolder,
    private readonly resolver: ModelResolver,
    private readonly dispatcher: Dispatcher,
    private readonly meter: UsageMeter,
    private readonly calls: CallRecorder,
    private readonly options: InferenceOptions,
  ) {}

  /** `POST /v1/chat/completions`. */
  async chatCompletions(caller: Caller, body: InferenceBody, channel: ClientChannel): Promise<void> {
    const stream = body['stream'] === true;
    const { resolution, call } = this.begin(caller, body, 'chat.completions', stream);
    const opened = await this.open(call, resolution, stream, channel, (candidate) =>
      candidate.provider.kind === 'chat_completions'
        ? {
            path: 'chat/completions',
            body: stream ? chatStreamBody(body, candidate.model) : withModel(body, candidate.model),
          }
        : { path: 'responses', body: chatRequestToResponses(body, candidate.model) },
    );
    const headers = this.headers(resolution, opened);
    if (opened.kind === 'stream') {
      const translator: StreamTranslator =
        opened.candidate.provider.kind === 'chat_completions'
          ? new ChatPassthrough(wantsUsage(body))
          : new ResponsesToChat(body.model, wantsUsage(body));
      await this.relay(opened, translator, channel, call, headers);
      return;
    }
    if (opened.candidate.provider.kind === 'chat_completions') {
      call.usage(usageFromChat(opened.json['usage']));
      this.answer(channel, call, headers, opened.bytes);
      return;
    }
    call.usage(usageFromResponses(opened.json['usage']));
    this.answer(channel, call, headers, JSON.stringify(responseToChatCompletion(opened.json, body.model)));
  }

  /** `POST /v1/responses`. */
  async responses(caller: Caller, body: InferenceBody, channel: ClientChannel): Promise<void> {
    const stream = body['stream'] === true;
    const { resolution, call } = this.begin(caller, body, 'responses', stream);
    const ids = responseIds();
    const opened = await this.open(call, resolution, stream, channel, (candidate) =>
      candidate.provider.kind === 'responses'
        ? { path: 'responses', body: withModel(body, candidate.model) }
        : { path: 'chat/completions', body: responsesRequestToChat(body, candidate.model) },
    );
    const headers = this.headers(resolution, opened);
    if (opened.kind === 'stream') {
      const translator: StreamTranslator =
        opened.candidate.provider.kind === 'responses'
          ? new ResponsesPassthrough()
          : new ChatToResponses(body, ids);
      await this.relay(opened, translator, channel, call, headers);
      return;
    }
    if (opened.candidate.provider.kind === 'responses') {
      call.usage(usageFromResponses(opened.json['usage']));
      this.answer(channel, call, headers, opened.bytes);
      return;
    }
    call.usage(usageFromChat(opened.json['usage']));
    this.answer(channel, call, headers, JSON.stringify(chatCompletionToResponse(opened.json, body, ids)));
  }

  /** `POST /v1/embeddings`: the same on both provider kinds. */
  async embeddings(caller: Caller, body: InferenceBody, channel: ClientChannel): Promise<void> {
    const { resolution, call } = this.begin(caller, body, 'embeddings', false);
    const opened = await this.open(call, resolution, false, channel, (candidate) => ({
      path: 'embeddings',
      body: withModel(body, candidate.model),
    }));
    if (opened.kind !== 'json') throw new Error('an embeddings call opened a stream');
    call.usage(usageFromChat(opened.json['usage']));
    this.answer(channel, call, this.headers(resolution, opened), opened.bytes);
  }

  private begin(
    caller: Caller,
    body: InferenceBody,
    endpoint: Endpoint,
    stream: boolean,
  ): { resolution: Resolution; call: ModelCall } {
    const snapshot = this.snapshots.current;
    const resolution = this.resolver.resolve(snapshot, body.model);
    const spent = this.meter.exhaustedBudget(snapshot, caller.tenantId, caller.userId);
    if (spent !== undefined) {
      throw new InferenceError(
        'budget_exceeded',
        `the ${spent.scope === 'tenant' ? "tenant's" : 'your'} ${spent.period === 'day' ? 'daily' : 'monthly'} budget of ${spent.limitUsd} USD is spent`,
        { details: { scope: spent.scope, period: spent.period, limit_usd: spent.limitUsd } },
      );
    }
    const call = this.calls.begin(snapshot, caller, {
      endpoint,
      requested: body.model,
      role: resolution.role,
      stream,
      body,
    });
    return { resolution, call };
  }

  private async open(
    call: ModelCall,
    resolution: Resolution,
    stream: boolean,
    channel: ClientChannel,
    build: (candidate: Candidate) => { path: ProviderPath; body: Json },
  ): Promise<Opened> {
    try {
      const opened = await this.dispatcher.open({
        candidates: resolution.candidates,
        bodyFor: (candidate) => {
          const { path, body } = build(candidate);
          return { path, body: JSON.stringify(body) };
        },
        stream,
        signal: channel.signal,
      });
      call.served(opened.candidate, opened.attempts);
      return opened;
    } catch (error: unknown) {
      const attempts = error instanceof InferenceError ? error.details?.['attempts'] : undefined;
      if (Array.isArray(attempts)) call.failedAttempts(attempts as Attempt[]);
      call.finish(error instanceof InferenceError ? error.code : 'internal', undefined);
      throw error;
    }
  }

  private headers(resolution: Resolution, opened: Opened): Record<string, string> {
    return {
      'x-aibox-model': opened.candidate.id,
      'x-aibox-provider': opened.candidate.provider.name,
      'x-aibox-attempts': String(opened.attempts.length),
      ...(resolution.role === undefined ? {} : { 'x-aibox-role': resolution.role }),
    };
  }

  private answer(
    channel: ClientChannel,
    call: ModelCall,
    headers: Record<string, string>,
    body: Buffer | string,
  ): void {
    channel.json(headers, body);
    call.finish('ok', { contentType: 'application/json', body });
  }

  private relay(
    opened: OpenedStream,
    translator: StreamTranslator,
    channel: ClientChannel,
    call: ModelCall,
    headers: Record<string, string>,
  ): Promise<void> {
    return relayStream(opened, translator, channel, call, headers, {
      captureMaxBytes: this.options.captureMaxBytes,
    });
  }
}
