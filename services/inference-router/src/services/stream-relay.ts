import { openAiStreamError, type InferenceErrorCode } from '../errors/inference.error.js';
import type { ClientChannel } from './client-channel.js';
import type { OpenedStream } from './dispatch.service.js';
import type { ModelCall } from './model-call.js';
import { safeProviderText } from './provider-message.js';
import {
  ChatChunksToResponseEvents,
  ResponseEventsToChatChunks,
  usageFromChat,
  usageFromResponses,
  type Json,
  type ResponseIds,
  type TokenUsage,
} from './responses-adapter.js';
import { encodeSseEvent, type SseEvent } from './sse.js';

/** What one provider event becomes on the caller's stream. */
interface Relayed {
  /** SSE text for the caller ('' for nothing). */
  readonly text: string;
  readonly firstToken?: boolean;
  readonly usage?: TokenUsage;
  /** The answer is complete: nothing more is read from the provider. */
  readonly done?: boolean;
  /**
   * The provider failed: after `text`, the relay ends the stream with the caller's API's error event carrying
   * this code and message (the provider's words, made safe to show).
   */
  readonly failure?: { readonly code: InferenceErrorCode; readonly message: string };
}

/**
 * Speaks the caller's streaming API over the provider's: passes events through, or translates them
 * between the Chat Completions and Responses APIs.
 */
export interface StreamTranslator {
  /** Events the caller gets before any of the provider's. */
  start(): string;
  event(event: SseEvent): Relayed;
  /** Events after the provider's last one. */
  finish(): string;
  /** The caller's API's error event. */
  error(code: InferenceErrorCode, message: string): string;
}

function parse(data: string): Json | undefined {
  try {
    const value: unknown = JSON.parse(data);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : undefined;
  } catch {
    return undefined;
  }
}

const MALFORMED = {
  code: 'upstream_error',
  message: 'The provider sent an event that is not valid JSON',
} as const;

/** The provider's own error object (or message) mid-stream; the relay cleans its words before showing them. */
function providerFailed(error: unknown): { code: 'upstream_error'; message: string } {
  const message = typeof error === 'string' ? error : (error as { message?: unknown } | null)?.message;
  return {
    code: 'upstream_error',
    message:
      typeof message === 'string' && message !== ''
        ? `The provider reported an error: ${message}`
        : 'The provider reported an error',
  };
}

function hasChatToken(chunk: Json): boolean {
  const choices = chunk['choices'];
  if (!Array.isArray(choices)) return false;
  return choices.some((choice: unknown) => {
    const delta = (choice as { delta?: Record<string, unknown> | null } | null)?.delta;
    if (delta === undefined || delta === null) return false;
    const text = delta['content'] ?? delta['refusal'] ?? delta['reasoning_content'] ?? delta['reasoning'];
    return (typeof text === 'string' && text !== '') || Array.isArray(delta['tool_calls']);
  });
}

const RESPONSE_TOKEN_EVENTS: ReadonlySet<string> = new Set([
  'response.output_text.delta',
  'response.refusal.delta',
  'response.function_call_arguments.delta',
  'response.reasoning_text.delta',
  'response.reasoning_summary_text.delta',
]);

/** Chat Completions caller, Chat Completions provider: events pass as they are. */
export class ChatPassthrough implements StreamTranslator {
  /** @param wantsUsage the caller asked for `stream_options.include_usage` (the router always asks) */
  constructor(private readonly wantsUsage: boolean) {}

  start(): string {
    return '';
  }

  event(event: SseEvent): Relayed {
    const data = event.data ?? '';
    if (data === '[DONE]') return { text: 'data: [DONE]\n\n', done: true };
    const chunk = parse(data);
    if (chunk === undefined) return { text: '', failure: MALFORMED };
    if (chunk['error'] !== undefined && chunk['error'] !== null) {
      return { text: '', failure: providerFailed(chunk['error']) };
    }
    const usage = usageFromChat(chunk['usage']);
    const usageOnly = Array.isArray(chunk['choices']) && chunk['choices'].length === 0;
    // The usage chunk the router asked for on the caller's behalf is not theirs to see.
    const text = usage !== undefined && usageOnly && !this.wantsUsage ? '' : `data: ${data}\n\n`;
    return { text, firstToken: hasChatToken(chunk), ...(usage === undefined ? {} : { usage }) };
  }

  finish(): string {
    return '';
  }

  error(code: InferenceErrorCode, message: string): string {
    return openAiStreamError(code, message);
  }
}

/** Chat Completions caller, Responses provider. */
export class ResponsesToChat implements StreamTranslator {
  private readonly chunks: ResponseEventsToChatChunks;

  constructor(requestModel: string, wantsUsage: boolean) {
    this.chunks = new ResponseEventsToChatChunks(requestModel, wantsUsage);
  }

  start(): string {
    return '';
  }

  event(event: SseEvent): Relayed {
    const data = parse(event.data ?? '');
    if (data === undefined) return { text: '', failure: MALFORMED };
    const type = event.event ?? (typeof data['type'] === 'string' ? data['type'] : undefined);
    const chunks = this.chunks.push(type, data);
    const text = chunks.map((chunk) => `data: ${JSON.stringify(chunk)}\n\n`).join('');
    const failure = this.chunks.failure;
    if (failure !== undefined) return { text, failure: providerFailed(failure) };
    const usage =
      type === 'response.completed' || type === 'response.incomplete'
        ? usageFromResponses((data['response'] as Json | undefined)?.['usage'])
        : undefined;
    return {
      text: this.chunks.done ? `${text}data: [DONE]\n\n` : text,
      firstToken: type !== undefined && RESPONSE_TOKEN_EVENTS.has(type),
      done: this.chunks.done,
      ...(usage === undefined ? {} : { usage }),
    };
  }

  finish(): string {
    return '';
  }

  error(code: InferenceErrorCode, message: string): string {
    return openAiStreamError(code, message);
  }
}

/** The Responses API's `error` event, with the OpenAI error object the SDKs read. */
function responsesError(code: InferenceErrorCode, message: string, sequenceNumber: number): string {
  const data = {
    type: 'error',
    sequence_number: sequenceNumber,
    code,
    message,
    param: null,
    error: { type: code === 'rate_limited' ? 'rate_limit_error' : 'api_error', code, message, param: null },
  };
  return encodeSseEvent(JSON.stringify(data), 'error');
}

/** Responses caller, Responses provider: events pass as they are. */
export class ResponsesPassthrough implements StreamTranslator {
  private lastSequence = -1;

  start(): string {
    return '';
  }

  event(event: SseEvent): Relayed {
    const raw = event.data ?? '';
    const data = parse(raw);
    if (data === undefined) return { text: '', failure: MALFORMED };
    const sequence = data['sequence_number'];
    if (typeof sequence === 'number') this.lastSequence = sequence;
    const type = event.event ?? (typeof data['type'] === 'string' ? data['type'] : '');
    // The provider's own failure events may carry its URLs or key: the caller gets the router's instead.
    if (type === 'error') return { text: '', failure: providerFailed(data['error'] ?? data['message']) };
    if (type === 'response.failed') {
      return { text: '', failure: providerFailed((data['response'] as Json | undefined)?.['error']) };
    }
    const text = encodeSseEvent(raw, event.event);
    const finished = type === 'response.completed' || type === 'response.incomplete';
    const usage = finished
      ? usageFromResponses((data['response'] as Json | undefined)?.['usage'])
      : undefined;
    return {
      text,
      firstToken: RESPONSE_TOKEN_EVENTS.has(type),
      done: finished,
      ...(usage === undefined ? {} : { usage }),
    };
  }

  finish(): string {
    return '';
  }

  error(code: InferenceErrorCode, message: string): string {
    this.lastSequence += 1;
    return responsesError(code, message, this.lastSequence);
  }
}

/** Responses caller, Chat Completions provider. */
export class ChatToResponses implements StreamTranslator {
  private readonly events: ChatChunksToResponseEvents;
  private sequence = 0;

  constructor(request: Json, ids: ResponseIds) {
    this.events = new ChatChunksToResponseEvents(request, ids);
  }

  start(): string {
    return this.encode(this.events.start());
  }

  event(event: SseEvent): Relayed {
    const raw = event.data ?? '';
    if (raw === '[DONE]') return { text: '', done: true };
    const chunk = parse(raw);
    if (chunk === undefined) return { text: '', failure: MALFORMED };
    if (chunk['error'] !== undefined && chunk['error'] !== null) {
      return { text: '', failure: providerFailed(chunk['error']) };
    }
    const usage = usageFromChat(chunk['usage']);
    return {
      text: this.encode(this.events.push(chunk)),
      firstToken: hasChatToken(chunk),
      ...(usage === undefined ? {} : { usage }),
    };
  }

  finish(): string {
    return this.encode(this.events.finish());
  }

  error(code: InferenceErrorCode, message: string): string {
    return responsesError(code, message, this.sequence++);
  }

  private encode(events: readonly { event: string; data: Json }[]): string {
    let text = '';
    for (const event of events) {
      const sequence = event.data['sequence_number'];
      if (typeof sequence === 'number') this.sequence = sequence + 1;
      text += encodeSseEvent(JSON.stringify(event.data), event.event);
    }
    return text;
  }
}

export interface RelayOptions {
  readonly captureMaxBytes: number;
}

function isTimeout(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT';
}

/**
 * Relays a committed provider stream to the caller event by event, as each arrives: nothing waits for the
 * next event, and the caller's backpressure paces the reading. The stream always ends in a way the caller's
 * SDK understands: the API's own end, or its error event when the provider fails, stalls or drops mid-way.
 * The call is finished with what the caller received.
 */
export async function relayStream(
  opened: OpenedStream,
  translator: StreamTranslator,
  channel: ClientChannel,
  call: ModelCall,
  headers: Readonly<Record<string, string>>,
  options: RelayOptions,
): Promise<void> {
  const captured: string[] = [];
  let capturedChars = 0;
  const send = async (text: string): Promise<void> => {
    if (text === '') return;
    if (capturedChars < options.captureMaxBytes) {
      captured.push(text);
      capturedChars += text.length;
    }
    await channel.write(text);
  };

  let outcome: string = 'ok';
  let done = false;
  channel.openStream(headers);
  try {
    await send(translator.start());
    let batch: readonly SseEvent[] = opened.first;
    relay: for (;;) {
      for (const event of batch) {
        if (event.data === undefined) continue;
        const relayed = translator.event(event);
        if (relayed.firstToken === true) call.firstToken();
        call.usage(relayed.usage);
        await send(relayed.text);
        if (relayed.failure !== undefined) {
          outcome = relayed.failure.code;
          const message = safeProviderText(relayed.failure.message, opened.candidate.provider.apiKey);
          await send(translator.error(relayed.failure.code, message ?? 'The provider failed'));
          break relay;
        }
        if (relayed.done === true) {
          done = true;
          break relay;
        }
      }
      if (channel.signal.aborted) break;
      const next = await opened.events.next();
      if (next.done === true) break;
      batch = next.value;
    }
    if (channel.signal.aborted) {
      outcome = 'client_closed';
    } else if (done) {
      await send(translator.finish());
    } else if (outcome === 'ok') {
      outcome = 'upstream_error';
      await send(
        translator.error('upstream_error', 'The provider closed the stream before the answer ended'),
      );
    }
  } catch (error: unknown) {
    if (channel.signal.aborted) {
      outcome = 'client_closed';
    } else if (isTimeout(error)) {
      outcome = 'backend_unavailable';
      await send(translator.error('backend_unavailable', 'The provider stopped sending mid-answer'));
    } else {
      outcome = 'upstream_error';
      await send(translator.error('upstream_error', 'The provider dropped the connection mid-answer'));
    }
  } finally {
    opened.close();
    channel.end();
    call.finish(outcome, { contentType: 'text/event-stream', body: captured.join('') });
  }
}
