import { InferenceError } from '../errors/inference.error.js';

/**
 * Translation between the OpenAI Chat Completions API and the Responses API, both ways, for requests, whole
 * answers and streams. Pure: no I/O, no clock, no randomness — every id is derived from the ids given, so the
 * same input always translates to the same output. Shapes follow the official SDK's types (openai 6.x).
 */

export type Json = Record<string, unknown>;

/** Identity of the object the router answers with. */
export interface ResponseIds {
  /** `resp_…` */
  readonly responseId: string;
  /** Unix seconds. */
  readonly createdAt: number;
}

/** One Responses SSE event: `data` includes `type` (= `event`) and `sequence_number`. */
export interface ResponseStreamEvent {
  readonly event: string;
  readonly data: Json;
}

export interface TokenUsage {
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly cachedTokens: number;
}

// ---------------------------------------------------------------------------------------------------------
// Small readers: the bodies are client or provider JSON, so nothing is trusted to have its documented type.

function obj(value: unknown): Json | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : undefined;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : undefined;
}

function list(value: unknown): readonly unknown[] | undefined {
  return Array.isArray(value) ? (value as unknown[]) : undefined;
}

function present(value: unknown): boolean {
  return value !== undefined && value !== null;
}

/** Sets `key` only when there is a value: both APIs treat an absent field and `null` alike, a provider may not. */
function put(target: Json, key: string, value: unknown): void {
  if (present(value)) target[key] = value;
}

/** A client value named in an error message, bounded so a hostile body cannot flood the message. */
function label(value: unknown): string {
  const text = typeof value === 'string' ? value : value === undefined ? 'missing' : JSON.stringify(value);
  return text.length > 64 ? `${text.slice(0, 64)}…` : text;
}

function invalid(detail: string): never {
  throw new InferenceError('invalid_request', detail);
}

/** `resp_abc` -> `abc`: the stem every derived id (items, chat completion) shares. */
function idStem(responseId: string): string {
  return responseId.startsWith('resp_') ? responseId.slice('resp_'.length) : responseId;
}

function chatCompletionId(responseId: string): string {
  return `chatcmpl-${idStem(responseId)}`;
}

/** Item ids from the response id and the output index: stable, unique within the response. */
function itemId(kind: 'msg' | 'fc', ids: ResponseIds, outputIndex: number): string {
  return `${kind}_${idStem(ids.responseId)}_${outputIndex}`;
}

// ---------------------------------------------------------------------------------------------------------
// Usage

export function usageFromChat(usage: unknown): TokenUsage | undefined {
  const u = obj(usage);
  const promptTokens = count(u?.prompt_tokens);
  const completionTokens = count(u?.completion_tokens);
  if (promptTokens === undefined && completionTokens === undefined) return undefined;
  return {
    promptTokens: promptTokens ?? 0,
    completionTokens: completionTokens ?? 0,
    cachedTokens: count(obj(u?.prompt_tokens_details)?.cached_tokens) ?? 0,
  };
}

export function usageFromResponses(usage: unknown): TokenUsage | undefined {
  const u = obj(usage);
  const promptTokens = count(u?.input_tokens);
  const completionTokens = count(u?.output_tokens);
  if (promptTokens === undefined && completionTokens === undefined) return undefined;
  return {
    promptTokens: promptTokens ?? 0,
    completionTokens: completionTokens ?? 0,
    cachedTokens: count(obj(u?.input_tokens_details)?.cached_tokens) ?? 0,
  };
}

/** Chat `usage` -> Responses `usage`; the SDK types require every detail field, so absent ones count 0. */
function chatUsageToResponses(usage: unknown): Json | undefined {
  const tokens = usageFromChat(usage);
  if (tokens === undefined) return undefined;
  const u = obj(usage);
  return {
    input_tokens: tokens.promptTokens,
    input_tokens_details: {
      cached_tokens: tokens.cachedTokens,
      cache_write_tokens: count(obj(u?.prompt_tokens_details)?.cache_write_tokens) ?? 0,
    },
    output_tokens: tokens.completionTokens,
    output_tokens_details: {
      reasoning_tokens: count(obj(u?.completion_tokens_details)?.reasoning_tokens) ?? 0,
    },
    total_tokens: count(u?.total_tokens) ?? tokens.promptTokens + tokens.completionTokens,
  };
}

function responsesUsageToChat(usage: unknown): Json | undefined {
  const tokens = usageFromResponses(usage);
  if (tokens === undefined) return undefined;
  const u = obj(usage);
  return {
    prompt_tokens: tokens.promptTokens,
    completion_tokens: tokens.completionTokens,
    total_tokens: count(u?.total_tokens) ?? tokens.promptTokens + tokens.completionTokens,
    prompt_tokens_details: { cached_tokens: tokens.cachedTokens },
    completion_tokens_details: {
      reasoning_tokens: count(obj(u?.output_tokens_details)?.reasoning_tokens) ?? 0,
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// 1) Client speaks Responses, provider speaks Chat Completions: the request

/** Responses fields that need state the router does not keep (it stores no responses or conversations). */
function refuseStatefulResponses(request: Json): void {
  if (present(request.previous_response_id)) {
    invalid(
      'previous_response_id is not supported because no response is stored; send the whole conversation',
    );
  }
  if (present(request.conversation)) {
    invalid('conversation is not supported because no conversation is stored; send the whole conversation');
  }
  if (request.background === true) invalid('background responses are not supported');
  if (present(request.prompt)) invalid('prompt templates are not supported; send instructions and input');
}

const CHAT_DETAILS: ReadonlySet<string> = new Set(['auto', 'low', 'high']);

/** One Responses content part as a Chat content part, where `role` decides what chat accepts. */
function partToChat(raw: unknown, role: string, where: string): Json {
  const part = obj(raw) ?? invalid(`${where} is not an object`);
  switch (part.type) {
    case 'input_text':
    case 'output_text':
      return { type: 'text', text: str(part.text) ?? invalid(`${where} has no text`) };
    case 'refusal':
      if (role !== 'assistant') invalid(`${where} is a refusal, which only assistant messages carry`);
      return { type: 'refusal', refusal: str(part.refusal) ?? invalid(`${where} has no refusal text`) };
    case 'input_image': {
      if (role !== 'user') {
        invalid(`${where} is an image, which a Chat Completions provider takes only from users`);
      }
      const url = str(part.image_url);
      if (url === undefined) {
        invalid(
          present(part.file_id)
            ? `${where} names a file_id, which a Chat Completions provider cannot resolve; send image_url`
            : `${where} has no image_url`,
        );
      }
      const image: Json = { url };
      // Chat knows auto/low/high; `original` is the Responses-only "full fidelity", closest to `high`.
      const detail = str(part.detail);
      if (detail !== undefined) image.detail = CHAT_DETAILS.has(detail) ? detail : 'high';
      return { type: 'image_url', image_url: image };
    }
    case 'input_file': {
      if (role !== 'user') {
        invalid(`${where} is a file, which a Chat Completions provider takes only from users`);
      }
      const data = str(part.file_data);
      if (data === undefined) {
        invalid(
          `${where} must carry file_data: a Chat Completions provider cannot resolve file_id or file_url`,
        );
      }
      const file: Json = { file_data: data };
      put(file, 'filename', str(part.filename));
      return { type: 'file', file };
    }
    default:
      return invalid(
        `${where} has type ${label(part.type)}, which cannot be sent to a Chat Completions provider`,
      );
  }
}

/** A Responses message item as a Chat message. */
function messageToChat(item: Json, where: string): Json {
  const role = item.role;
  if (role !== 'user' && role !== 'assistant' && role !== 'system' && role !== 'developer') {
    invalid(`${where} has role ${label(role)}; expected user, assistant, system or developer`);
  }
  // `developer` is what OpenAI calls `system` for newer models and OpenAI accepts both; many other
  // chat providers know only `system`.
  const chatRole = role === 'developer' ? 'system' : role;
  const content = item.content;
  if (typeof content === 'string') return { role: chatRole, content };
  const parts = (list(content) ?? invalid(`${where}.content must be a string or a list of parts`)).map(
    (raw, i) => partToChat(raw, role, `${where}.content[${i}]`),
  );
  if (role === 'assistant') {
    // Chat keeps a turn's refusal beside its text, and a plain string is what every chat provider accepts.
    const texts = parts.filter((part) => part.type === 'text').map((part) => part.text as string);
    const refusals = parts.filter((part) => part.type === 'refusal').map((part) => part.refusal as string);
    const message: Json = { role: 'assistant', content: texts.length === 0 ? null : texts.join('') };
    if (refusals.length > 0) message.refusal = refusals.join('');
    return message;
  }
  const only = parts.length === 1 ? parts[0] : undefined;
  return { role: chatRole, content: only?.type === 'text' ? only.text : parts };
}

function functionCallToChat(item: Json, where: string): Json {
  return {
    id: str(item.call_id) ?? invalid(`${where} has no call_id`),
    type: 'function',
    function: {
      name: str(item.name) ?? invalid(`${where} has no name`),
      arguments: str(item.arguments) ?? invalid(`${where} has no arguments`),
    },
  };
}

/** `function_call_output.output`: a string, or text parts (chat tool messages carry text only). */
function toolOutputToChat(output: unknown, where: string): string | Json[] {
  if (typeof output === 'string') return output;
  const parts = (list(output) ?? invalid(`${where}.output must be a string or a list of parts`)).map(
    (raw, i) => {
      const part = obj(raw);
      if (part?.type !== 'input_text' && part?.type !== 'output_text') {
        invalid(
          `${where}.output[${i}] has type ${label(part?.type)}; a Chat Completions tool message carries text only`,
        );
      }
      return { type: 'text', text: str(part.text) ?? invalid(`${where}.output[${i}] has no text`) };
    },
  );
  const only = parts.length === 1 ? parts[0] : undefined;
  return only === undefined ? parts : only.text;
}

function inputItemsToChat(items: readonly unknown[]): Json[] {
  const messages: Json[] = [];
  // The assistant message that following function_call items join: chat carries a turn's text and all its
  // tool calls in one assistant message, Responses in one item each.
  let assistant: Json | undefined;
  items.forEach((raw, i) => {
    const where = `input[${i}]`;
    const item = obj(raw) ?? invalid(`${where} is not an object`);
    // An easy input message may omit `type`.
    const type = str(item.type) ?? (present(item.type) || !present(item.role) ? '' : 'message');
    switch (type) {
      case 'message': {
        const message = messageToChat(item, where);
        messages.push(message);
        assistant = message.role === 'assistant' ? message : undefined;
        return;
      }
      case 'function_call': {
        if (assistant === undefined) {
          assistant = { role: 'assistant', content: null };
          messages.push(assistant);
        }
        const calls = (assistant.tool_calls as Json[] | undefined) ?? [];
        calls.push(functionCallToChat(item, where));
        assistant.tool_calls = calls;
        return;
      }
      case 'function_call_output':
        messages.push({
          role: 'tool',
          tool_call_id: str(item.call_id) ?? invalid(`${where} has no call_id`),
          content: toolOutputToChat(item.output, where),
        });
        assistant = undefined;
        return;
      case 'reasoning':
        // A replayed reasoning item is the provider's private state (often encrypted); a chat provider
        // cannot take it, and dropping it loses no part of the visible conversation.
        return;
      case 'item_reference':
        return invalid(`${where} is an item_reference, which is not supported because no item is stored`);
      default:
        return invalid(
          `${where} has type ${label(item.type)}, which cannot be sent to a Chat Completions provider`,
        );
    }
  });
  return messages;
}

function toolsToChat(tools: unknown): Json[] | undefined {
  if (!present(tools)) return undefined;
  return (list(tools) ?? invalid('tools must be a list')).map((raw, i) => {
    const tool = obj(raw) ?? invalid(`tools[${i}] is not an object`);
    if (tool.type !== 'function') {
      invalid(
        `tool type ${label(tool.type)} is not supported by a Chat Completions provider; only function tools are`,
      );
    }
    const fn: Json = { name: str(tool.name) ?? invalid(`tools[${i}] has no name`) };
    put(fn, 'description', tool.description);
    put(fn, 'parameters', tool.parameters);
    put(fn, 'strict', tool.strict);
    return { type: 'function', function: fn };
  });
}

function toolChoiceToChat(choice: unknown): unknown {
  if (!present(choice)) return undefined;
  if (choice === 'auto' || choice === 'none' || choice === 'required') return choice;
  const named = obj(choice);
  if (named?.type === 'function' && typeof named.name === 'string') {
    return { type: 'function', function: { name: named.name } };
  }
  return invalid(`tool_choice ${label(named?.type ?? choice)} cannot be sent to a Chat Completions provider`);
}

function textFormatToChat(format: Json | undefined): Json | undefined {
  if (format === undefined) return undefined;
  switch (format.type) {
    case 'text':
      return undefined;
    case 'json_object':
      return { type: 'json_object' };
    case 'json_schema': {
      const schema: Json = { name: str(format.name) ?? invalid('text.format has no name') };
      put(schema, 'description', format.description);
      put(schema, 'schema', format.schema);
      put(schema, 'strict', format.strict);
      return { type: 'json_schema', json_schema: schema };
    }
    default:
      return invalid(`text.format ${label(format.type)} cannot be sent to a Chat Completions provider`);
  }
}

/** Responses request -> Chat Completions request body for `model` (the provider's concrete model). */
export function responsesRequestToChat(request: Json, model: string): Json {
  refuseStatefulResponses(request);
  const messages: Json[] = [];
  const instructions = request.instructions;
  if (typeof instructions === 'string') {
    if (instructions !== '') messages.push({ role: 'system', content: instructions });
  } else if (present(instructions)) {
    invalid('instructions must be a string');
  }
  const input = request.input;
  if (typeof input === 'string') messages.push({ role: 'user', content: input });
  else if (Array.isArray(input)) messages.push(...inputItemsToChat(input));
  else invalid(present(input) ? 'input must be a string or a list of items' : 'input is required');

  const chat: Json = { model, messages };
  put(chat, 'temperature', num(request.temperature));
  put(chat, 'top_p', num(request.top_p));
  put(chat, 'max_completion_tokens', count(request.max_output_tokens));
  put(chat, 'user', str(request.user));
  // Same name and meaning in both APIs. `metadata` is not carried: chat accepts it only with `store`.
  put(chat, 'safety_identifier', str(request.safety_identifier));
  put(chat, 'prompt_cache_key', str(request.prompt_cache_key));
  put(chat, 'prompt_cache_retention', str(request.prompt_cache_retention));
  put(chat, 'service_tier', str(request.service_tier));
  put(chat, 'reasoning_effort', obj(request.reasoning)?.effort);
  const text = obj(request.text);
  put(chat, 'response_format', textFormatToChat(obj(text?.format)));
  put(chat, 'verbosity', text?.verbosity);

  const tools = toolsToChat(request.tools);
  const choice = toolChoiceToChat(request.tool_choice);
  // Chat refuses tool_choice and parallel_tool_calls without tools; Responses clients send them regardless.
  if (tools !== undefined && tools.length > 0) {
    chat.tools = tools;
    put(chat, 'tool_choice', choice);
    if (typeof request.parallel_tool_calls === 'boolean') {
      chat.parallel_tool_calls = request.parallel_tool_calls;
    }
  }
  if (request.stream === true) {
    chat.stream = true;
    // Without it a chat stream carries no usage, which the Responses answer and the budget need.
    chat.stream_options = { include_usage: true };
  }
  return chat;
}

// ---------------------------------------------------------------------------------------------------------
// 1) Client speaks Responses, provider speaks Chat Completions: the answer

type ResponseStatus = 'in_progress' | 'completed' | 'incomplete' | 'failed';
type ItemStatus = 'in_progress' | 'completed' | 'incomplete';

function incompleteReason(
  finishReason: string | undefined,
): 'max_output_tokens' | 'content_filter' | undefined {
  if (finishReason === 'length') return 'max_output_tokens';
  if (finishReason === 'content_filter') return 'content_filter';
  return undefined;
}

function outputTextPart(text: string): Json {
  return { type: 'output_text', text, annotations: [] };
}

function refusalPart(refusal: string): Json {
  return { type: 'refusal', refusal };
}

function messageItem(id: string, status: ItemStatus, content: Json[]): Json {
  return { id, type: 'message', status, role: 'assistant', content };
}

function functionCallItem(id: string, status: ItemStatus, callId: string, name: string, args: string): Json {
  return { id, type: 'function_call', status, arguments: args, call_id: callId, name };
}

interface ResponseState {
  readonly status: ResponseStatus;
  readonly output: Json[];
  readonly incomplete?: 'max_output_tokens' | 'content_filter' | undefined;
  readonly usage?: Json | undefined;
  readonly error?: Json | undefined;
}

/** The `response` object, echoing what the client asked (model, instructions, tools, sampling) as OpenAI does. */
function responseObject(request: Json, ids: ResponseIds, state: ResponseState, fallbackModel: string): Json {
  const text = obj(request.text);
  const textConfig: Json = { format: obj(text?.format) ?? { type: 'text' } };
  put(textConfig, 'verbosity', text?.verbosity);
  const response: Json = {
    id: ids.responseId,
    object: 'response',
    created_at: ids.createdAt,
    status: state.status,
    background: false,
    error: state.error ?? null,
    incomplete_details: state.incomplete === undefined ? null : { reason: state.incomplete },
    instructions: str(request.instructions) ?? null,
    max_output_tokens: count(request.max_output_tokens) ?? null,
    model: str(request.model) ?? fallbackModel,
    output: state.output,
    parallel_tool_calls:
      typeof request.parallel_tool_calls === 'boolean' ? request.parallel_tool_calls : true,
    previous_response_id: null,
    reasoning: { effort: obj(request.reasoning)?.effort ?? null, summary: null },
    temperature: num(request.temperature) ?? null,
    text: textConfig,
    tool_choice: request.tool_choice ?? 'auto',
    tools: list(request.tools) ?? [],
    top_p: num(request.top_p) ?? null,
    truncation: 'disabled',
    metadata: obj(request.metadata) ?? {},
  };
  put(response, 'usage', state.usage);
  put(response, 'user', str(request.user));
  return response;
}

/** Chat Completion (non-stream) -> Responses `response` object. */
export function chatCompletionToResponse(completion: Json, request: Json, ids: ResponseIds): Json {
  const choice = obj(list(completion.choices)?.[0]);
  const message = obj(choice?.message);
  const incomplete = incompleteReason(str(choice?.finish_reason));
  const itemStatus: ItemStatus = incomplete === undefined ? 'completed' : 'incomplete';
  const calls = (list(message?.tool_calls) ?? []).map(obj).filter((call) => call?.type === 'function');

  const output: Json[] = [];
  const parts: Json[] = [];
  const text = str(message?.content);
  const refusal = str(message?.refusal);
  if (text !== undefined && text !== '') parts.push(outputTextPart(text));
  if (refusal !== undefined && refusal !== '') parts.push(refusalPart(refusal));
  // An answer of nothing is still an (empty) message, so the client sees a turn rather than no output.
  if (parts.length === 0 && calls.length === 0) parts.push(outputTextPart(text ?? ''));
  if (parts.length > 0) output.push(messageItem(itemId('msg', ids, output.length), itemStatus, parts));
  for (const call of calls) {
    const fn = obj(call?.function);
    output.push(
      functionCallItem(
        itemId('fc', ids, output.length),
        itemStatus,
        str(call?.id) ?? '',
        str(fn?.name) ?? '',
        str(fn?.arguments) ?? '',
      ),
    );
  }
  return responseObject(
    request,
    ids,
    {
      status: incomplete === undefined ? 'completed' : 'incomplete',
      output,
      incomplete,
      usage: chatUsageToResponses(completion.usage),
    },
    str(completion.model) ?? '',
  );
}

interface StreamPart {
  readonly type: 'output_text' | 'refusal';
  readonly contentIndex: number;
  value: string;
}

interface StreamMessage {
  readonly type: 'message';
  readonly outputIndex: number;
  readonly id: string;
  readonly parts: StreamPart[];
}

interface StreamCall {
  readonly type: 'function_call';
  readonly outputIndex: number;
  readonly id: string;
  readonly callId: string;
  readonly name: string;
  arguments: string;
}

/** A tool call whose first deltas came without a name: its item waits, as `output_item.added` needs the name. */
interface PendingCall {
  readonly type: 'pending';
  callId: string | undefined;
  arguments: string;
}

/**
 * Stateful: Chat Completions stream chunks (already JSON-parsed) -> Responses SSE events, in the order and
 * shapes of the real API. Every item stays open until `finish()`, because a chat stream says only at its end
 * that a tool call's arguments are complete, and tool calls may interleave (each event names its item by
 * `output_index` and `item_id`, so clients follow them).
 */
export class ChatChunksToResponseEvents {
  private sequence = 0;
  private started = false;
  private finished = false;
  private status: ResponseStatus = 'in_progress';
  private finishReason: string | undefined;
  private usage: Json | undefined;
  private readonly items: (StreamMessage | StreamCall)[] = [];
  private message: StreamMessage | undefined;
  /** By the chat delta's `index`. */
  private readonly calls = new Map<number, StreamCall | PendingCall>();

  constructor(
    private readonly request: Json,
    private readonly ids: ResponseIds,
  ) {}

  /** The final response object as built so far (for audit/usage), same shape as chatCompletionToResponse gives. */
  get response(): Json {
    const itemStatus: ItemStatus =
      this.status === 'in_progress'
        ? 'in_progress'
        : this.status === 'completed'
          ? 'completed'
          : 'incomplete';
    const output = this.items.map((item) =>
      item.type === 'message'
        ? messageItem(item.id, itemStatus, item.parts.map(finalPart))
        : functionCallItem(item.id, itemStatus, item.callId, item.name, item.arguments),
    );
    return responseObject(
      this.request,
      this.ids,
      {
        status: this.status,
        output,
        incomplete: this.status === 'incomplete' ? incompleteReason(this.finishReason) : undefined,
        usage: chatUsageToResponses(this.usage),
      },
      '',
    );
  }

  /** The events to send first (response.created, response.in_progress). */
  start(): ResponseStreamEvent[] {
    if (this.started) return [];
    this.started = true;
    return [
      this.emit('response.created', { response: this.response }),
      this.emit('response.in_progress', { response: this.response }),
    ];
  }

  /** Events produced by one chat chunk (possibly none); the start events come first if not yet sent. */
  push(chunk: Json): ResponseStreamEvent[] {
    if (this.finished) return [];
    const events = this.start();
    const usage = obj(chunk.usage);
    if (usage !== undefined) this.usage = usage;
    for (const raw of list(chunk.choices) ?? []) {
      const choice = obj(raw);
      // The router never asks for n > 1; only the first choice is the answer.
      if (choice === undefined || (present(choice.index) && choice.index !== 0)) continue;
      const delta = obj(choice.delta);
      const content = str(delta?.content);
      if (content !== undefined && content !== '') this.appendText('output_text', content, events);
      const refusal = str(delta?.refusal);
      if (refusal !== undefined && refusal !== '') this.appendText('refusal', refusal, events);
      (list(delta?.tool_calls) ?? []).forEach((call, position) => {
        const toolCall = obj(call);
        if (toolCall !== undefined) this.appendToolCall(toolCall, position, events);
      });
      const finishReason = str(choice.finish_reason);
      if (finishReason !== undefined) this.finishReason = finishReason;
    }
    return events;
  }

  /** Closing events: the done events of every open item, then response.completed or response.incomplete. */
  finish(): ResponseStreamEvent[] {
    if (this.finished) return [];
    const events = this.start();
    // A call that never got a name still carries arguments the client should see.
    for (const [index, call] of [...this.calls].sort(([a], [b]) => a - b)) {
      if (call.type === 'pending') this.openCall(index, call, '', events);
    }
    const incomplete = incompleteReason(this.finishReason);
    this.status = incomplete === undefined ? 'completed' : 'incomplete';
    this.finished = true;
    const final = this.response;
    const finalItems = list(final.output) ?? [];
    this.items.forEach((item, outputIndex) => {
      const done = obj(finalItems[outputIndex]) ?? {};
      if (item.type === 'message') {
        for (const part of item.parts) {
          const where = { item_id: item.id, output_index: outputIndex, content_index: part.contentIndex };
          events.push(
            part.type === 'output_text'
              ? this.emit('response.output_text.done', { ...where, text: part.value, logprobs: [] })
              : this.emit('response.refusal.done', { ...where, refusal: part.value }),
            this.emit('response.content_part.done', { ...where, part: finalPart(part) }),
          );
        }
      } else {
        events.push(
          this.emit('response.function_call_arguments.done', {
            item_id: item.id,
            output_index: outputIndex,
            arguments: item.arguments,
            name: item.name,
          }),
        );
      }
      events.push(this.emit('response.output_item.done', { output_index: outputIndex, item: done }));
    });
    events.push(
      this.emit(incomplete === undefined ? 'response.completed' : 'response.incomplete', { response: final }),
    );
    return events;
  }

  private emit(type: string, fields: Json): ResponseStreamEvent {
    const data: Json = { type, sequence_number: this.sequence, ...fields };
    this.sequence += 1;
    return { event: type, data };
  }

  private openMessage(events: ResponseStreamEvent[]): StreamMessage {
    if (this.message !== undefined) return this.message;
    const outputIndex = this.items.length;
    const message: StreamMessage = {
      type: 'message',
      outputIndex,
      id: itemId('msg', this.ids, outputIndex),
      parts: [],
    };
    this.message = message;
    this.items.push(message);
    events.push(
      this.emit('response.output_item.added', {
        output_index: outputIndex,
        item: messageItem(message.id, 'in_progress', []),
      }),
    );
    return message;
  }

  private appendText(type: StreamPart['type'], delta: string, events: ResponseStreamEvent[]): void {
    const message = this.openMessage(events);
    let part = message.parts.find((candidate) => candidate.type === type);
    if (part === undefined) {
      part = { type, contentIndex: message.parts.length, value: '' };
      message.parts.push(part);
      events.push(
        this.emit('response.content_part.added', {
          item_id: message.id,
          output_index: message.outputIndex,
          content_index: part.contentIndex,
          part: finalPart(part),
        }),
      );
    }
    part.value += delta;
    const where = {
      item_id: message.id,
      output_index: message.outputIndex,
      content_index: part.contentIndex,
    };
    events.push(
      type === 'output_text'
        ? this.emit('response.output_text.delta', { ...where, delta, logprobs: [] })
        : this.emit('response.refusal.delta', { ...where, delta }),
    );
  }

  private appendToolCall(delta: Json, position: number, events: ResponseStreamEvent[]): void {
    // Every chunk of one call repeats its `index`; a provider that omits it sends each call whole.
    const index = count(delta.index) ?? position;
    const fn = obj(delta.function);
    const args = str(fn?.arguments) ?? '';
    const call = this.calls.get(index) ?? { type: 'pending', callId: undefined, arguments: '' };
    this.calls.set(index, call);
    if (call.type === 'pending') {
      call.callId ??= str(delta.id);
      call.arguments += args;
      const name = str(fn?.name);
      if (name !== undefined && name !== '') this.openCall(index, call, name, events);
      return;
    }
    if (args === '') return;
    call.arguments += args;
    events.push(
      this.emit('response.function_call_arguments.delta', {
        item_id: call.id,
        output_index: call.outputIndex,
        delta: args,
      }),
    );
  }

  private openCall(index: number, pending: PendingCall, name: string, events: ResponseStreamEvent[]): void {
    const outputIndex = this.items.length;
    const call: StreamCall = {
      type: 'function_call',
      outputIndex,
      id: itemId('fc', this.ids, outputIndex),
      // A provider that sends no id still needs a call_id the client can answer with.
      callId: pending.callId ?? `call_${idStem(this.ids.responseId)}_${index}`,
      name,
      arguments: pending.arguments,
    };
    this.calls.set(index, call);
    this.items.push(call);
    events.push(
      this.emit('response.output_item.added', {
        output_index: outputIndex,
        item: functionCallItem(call.id, 'in_progress', call.callId, name, ''),
      }),
    );
    if (call.arguments !== '') {
      events.push(
        this.emit('response.function_call_arguments.delta', {
          item_id: call.id,
          output_index: outputIndex,
          delta: call.arguments,
        }),
      );
    }
  }
}

function finalPart(part: StreamPart): Json {
  return part.type === 'output_text' ? outputTextPart(part.value) : refusalPart(part.value);
}

// ---------------------------------------------------------------------------------------------------------
// 2) Client speaks Chat Completions, provider speaks Responses: the request

/** Chat features with no Responses counterpart: dropping them would silently change the answer's contract. */
function refuseChatOnly(request: Json): void {
  const n = request.n;
  if (present(n) && n !== 1) {
    invalid('n other than 1 is not supported for this model, which answers one choice');
  }
  const stop = request.stop;
  if (present(stop) && !(Array.isArray(stop) && stop.length === 0)) {
    invalid('stop sequences are not supported for this model');
  }
  const modalities = list(request.modalities) ?? [];
  if (present(request.audio) || modalities.includes('audio')) {
    invalid('audio output is not supported for this model');
  }
  if (present(request.functions) || present(request.function_call)) {
    invalid('functions and function_call are deprecated and not supported; use tools and tool_choice');
  }
  if (request.logprobs === true || present(request.top_logprobs)) {
    invalid('logprobs are not supported for this model');
  }
  if (present(request.web_search_options)) invalid('web_search_options is not supported for this model');
}

/** A system or developer message's text: a string, or text parts (all these roles may carry). */
function instructionText(content: unknown, where: string): string {
  if (typeof content === 'string') return content;
  return (list(content) ?? invalid(`${where}.content must be a string or a list of text parts`))
    .map((raw, i) => {
      const part = obj(raw);
      if (part?.type !== 'text') invalid(`${where}.content[${i}] must be a text part`);
      return str(part.text) ?? invalid(`${where}.content[${i}] has no text`);
    })
    .join('\n\n');
}

function userPartToResponses(raw: unknown, where: string): Json {
  const part = obj(raw) ?? invalid(`${where} is not an object`);
  switch (part.type) {
    case 'text':
      return { type: 'input_text', text: str(part.text) ?? invalid(`${where} has no text`) };
    case 'image_url': {
      const image = obj(part.image_url);
      return {
        type: 'input_image',
        image_url: str(image?.url) ?? invalid(`${where} has no image_url.url`),
        // The Responses type requires a detail; `auto` is both APIs' default.
        detail: str(image?.detail) ?? 'auto',
      };
    }
    case 'file': {
      const file = obj(part.file) ?? invalid(`${where} has no file`);
      const input: Json = { type: 'input_file' };
      put(input, 'file_data', str(file.file_data));
      put(input, 'file_id', str(file.file_id));
      put(input, 'filename', str(file.filename));
      return input;
    }
    default:
      return invalid(`${where} has type ${label(part.type)}, which is not supported for this model`);
  }
}

function assistantToResponses(message: Json, where: string): Json[] {
  if (present(message.function_call)) {
    invalid(`${where} has function_call, which is deprecated; use tool_calls`);
  }
  if (present(message.audio)) invalid(`${where} refers to audio, which is not supported for this model`);
  const parts: Json[] = [];
  const content = message.content;
  if (typeof content === 'string') {
    if (content !== '') parts.push(outputTextPart(content));
  } else if (present(content)) {
    (list(content) ?? invalid(`${where}.content must be a string or a list of parts`)).forEach((raw, i) => {
      const part = obj(raw);
      const at = `${where}.content[${i}]`;
      if (part?.type === 'text') {
        parts.push(outputTextPart(str(part.text) ?? invalid(`${at} has no text`)));
      } else if (part?.type === 'refusal') {
        parts.push(refusalPart(str(part.refusal) ?? invalid(`${at} has no refusal`)));
      } else {
        invalid(`${at} has type ${label(part?.type)}; expected text or refusal`);
      }
    });
  }
  const refusal = str(message.refusal);
  if (refusal !== undefined && refusal !== '') parts.push(refusalPart(refusal));

  const calls = (list(message.tool_calls) ?? []).map((raw, i) => {
    const call = obj(raw);
    if (call?.type !== 'function') {
      invalid(
        `${where}.tool_calls[${i}] has type ${label(call?.type)}; only function tool calls are supported`,
      );
    }
    const fn = obj(call.function);
    return {
      type: 'function_call',
      call_id: str(call.id) ?? invalid(`${where}.tool_calls[${i}] has no id`),
      name: str(fn?.name) ?? invalid(`${where}.tool_calls[${i}] has no function.name`),
      arguments: str(fn?.arguments) ?? invalid(`${where}.tool_calls[${i}] has no function.arguments`),
    };
  });
  // An empty assistant turn stays a turn, so the conversation keeps its shape.
  if (parts.length === 0 && calls.length === 0) parts.push(outputTextPart(''));
  // No id or status: those are for items the provider stored, and this one it did not.
  const items: Json[] = parts.length === 0 ? [] : [{ type: 'message', role: 'assistant', content: parts }];
  return [...items, ...calls];
}

function toolMessageToResponses(message: Json, where: string): Json {
  const content = message.content;
  let output: string | Json[];
  if (typeof content === 'string') output = content;
  else {
    output = (list(content) ?? invalid(`${where}.content must be a string or a list of text parts`)).map(
      (raw, i) => {
        const part = obj(raw);
        if (part?.type !== 'text') invalid(`${where}.content[${i}] must be a text part`);
        return { type: 'input_text', text: str(part.text) ?? invalid(`${where}.content[${i}] has no text`) };
      },
    );
  }
  return {
    type: 'function_call_output',
    call_id: str(message.tool_call_id) ?? invalid(`${where} has no tool_call_id`),
    output,
  };
}

function messagesToResponses(messages: readonly unknown[]): { instructions: string[]; input: Json[] } {
  const instructions: string[] = [];
  const input: Json[] = [];
  messages.forEach((raw, i) => {
    const where = `messages[${i}]`;
    const message = obj(raw) ?? invalid(`${where} is not an object`);
    switch (message.role) {
      case 'system':
      case 'developer': {
        const text = instructionText(message.content, where);
        // Leading ones are the instructions; later ones stay where they are, as developer messages.
        if (input.length === 0) instructions.push(text);
        else input.push({ type: 'message', role: 'developer', content: text });
        return;
      }
      case 'user': {
        const content = message.content;
        input.push({
          type: 'message',
          role: 'user',
          content:
            typeof content === 'string'
              ? content
              : (list(content) ?? invalid(`${where}.content must be a string or a list of parts`)).map(
                  (part, j) => userPartToResponses(part, `${where}.content[${j}]`),
                ),
        });
        return;
      }
      case 'assistant':
        input.push(...assistantToResponses(message, where));
        return;
      case 'tool':
        input.push(toolMessageToResponses(message, where));
        return;
      default:
        invalid(`${where} has role ${label(message.role)}, which is not supported for this model`);
    }
  });
  return { instructions, input };
}

function toolsToResponses(tools: unknown): Json[] | undefined {
  if (!present(tools)) return undefined;
  return (list(tools) ?? invalid('tools must be a list')).map((raw, i) => {
    const tool = obj(raw);
    if (tool?.type !== 'function') {
      invalid(`tools[${i}] has type ${label(tool?.type)}; only function tools are supported for this model`);
    }
    const fn = obj(tool.function) ?? invalid(`tools[${i}] has no function`);
    const converted: Json = {
      type: 'function',
      name: str(fn.name) ?? invalid(`tools[${i}] has no function.name`),
    };
    put(converted, 'description', fn.description);
    // A chat function may omit parameters (it takes none); the Responses type requires them.
    converted.parameters = obj(fn.parameters) ?? { type: 'object', properties: {} };
    // Chat's default is not strict, the Responses API's is strict: say it, so the meaning stays chat's.
    converted.strict = typeof fn.strict === 'boolean' ? fn.strict : false;
    return converted;
  });
}

function toolChoiceToResponses(choice: unknown): unknown {
  if (!present(choice)) return undefined;
  if (choice === 'auto' || choice === 'none' || choice === 'required') return choice;
  const named = obj(choice);
  const name = str(obj(named?.function)?.name);
  if (named?.type === 'function' && name !== undefined) return { type: 'function', name };
  return invalid(`tool_choice ${label(named?.type ?? choice)} is not supported for this model`);
}

function responseFormatToResponses(format: unknown): Json | undefined {
  if (!present(format)) return undefined;
  const f = obj(format);
  switch (f?.type) {
    case 'text':
      return { type: 'text' };
    case 'json_object':
      return { type: 'json_object' };
    case 'json_schema': {
      const schema = obj(f.json_schema) ?? invalid('response_format has no json_schema');
      const converted: Json = {
        type: 'json_schema',
        name: str(schema.name) ?? invalid('response_format.json_schema has no name'),
      };
      put(converted, 'description', schema.description);
      put(converted, 'schema', schema.schema);
      put(converted, 'strict', schema.strict);
      return converted;
    }
    default:
      return invalid(`response_format ${label(f?.type)} is not supported for this model`);
  }
}

/** Chat Completions request -> Responses request body for `model`; never stored, as the router keeps no state. */
export function chatRequestToResponses(request: Json, model: string): Json {
  refuseChatOnly(request);
  const { instructions, input } = messagesToResponses(
    list(request.messages) ?? invalid('messages must be a list'),
  );
  const body: Json = { model, input, store: false };
  if (instructions.length > 0) body.instructions = instructions.join('\n\n');
  put(body, 'temperature', num(request.temperature));
  put(body, 'top_p', num(request.top_p));
  put(body, 'max_output_tokens', count(request.max_completion_tokens) ?? count(request.max_tokens));
  put(body, 'user', str(request.user));
  put(body, 'metadata', obj(request.metadata));
  put(body, 'safety_identifier', str(request.safety_identifier));
  put(body, 'prompt_cache_key', str(request.prompt_cache_key));
  put(body, 'prompt_cache_retention', str(request.prompt_cache_retention));
  put(body, 'service_tier', str(request.service_tier));
  if (typeof request.parallel_tool_calls === 'boolean') {
    body.parallel_tool_calls = request.parallel_tool_calls;
  }
  put(body, 'tools', toolsToResponses(request.tools));
  put(body, 'tool_choice', toolChoiceToResponses(request.tool_choice));
  const effort = str(request.reasoning_effort);
  if (effort !== undefined) body.reasoning = { effort };
  const text: Json = {};
  put(text, 'format', responseFormatToResponses(request.response_format));
  put(text, 'verbosity', str(request.verbosity));
  if (Object.keys(text).length > 0) body.text = text;
  if (request.stream === true) body.stream = true;
  return body;
}

// ---------------------------------------------------------------------------------------------------------
// 2) Client speaks Chat Completions, provider speaks Responses: the answer

function chatFinishReason(response: Json, calledTools: boolean): string {
  const reason = str(obj(response.incomplete_details)?.reason);
  if (reason === 'max_output_tokens') return 'length';
  if (reason === 'content_filter') return 'content_filter';
  return calledTools ? 'tool_calls' : 'stop';
}

function failureOf(error: Json | undefined): { code: string; message: string } {
  return {
    code: str(error?.code) ?? 'server_error',
    message: str(error?.message) ?? 'The provider failed to generate a response',
  };
}

export function responseToChatCompletion(response: Json, requestModel: string): Json {
  if (response.status === 'failed') {
    throw new InferenceError('upstream_error', failureOf(obj(response.error)).message);
  }
  const texts: string[] = [];
  const refusals: string[] = [];
  const toolCalls: Json[] = [];
  for (const raw of list(response.output) ?? []) {
    const item = obj(raw);
    if (item?.type === 'message') {
      for (const rawPart of list(item.content) ?? []) {
        const part = obj(rawPart);
        if (part?.type === 'output_text') texts.push(str(part.text) ?? '');
        else if (part?.type === 'refusal') refusals.push(str(part.refusal) ?? '');
      }
    } else if (item?.type === 'function_call') {
      toolCalls.push({
        id: str(item.call_id) ?? '',
        type: 'function',
        function: { name: str(item.name) ?? '', arguments: str(item.arguments) ?? '' },
      });
    }
    // Reasoning and hosted-tool items have no Chat Completions counterpart.
  }
  const message: Json = {
    role: 'assistant',
    content: texts.length === 0 ? null : texts.join(''),
    refusal: refusals.length === 0 ? null : refusals.join(''),
  };
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  const completion: Json = {
    id: chatCompletionId(str(response.id) ?? ''),
    object: 'chat.completion',
    created: count(response.created_at) ?? 0,
    model: requestModel,
    choices: [
      { index: 0, message, logprobs: null, finish_reason: chatFinishReason(response, toolCalls.length > 0) },
    ],
  };
  put(completion, 'usage', responsesUsageToChat(response.usage));
  return completion;
}

interface ChunkCall {
  readonly index: number;
  arguments: string;
}

/**
 * Stateful: Responses stream events -> Chat Completions chunks. Text is relayed from the deltas; the `done`
 * events only add what the deltas did not carry (a provider may send an item whole), never repeat it.
 */
export class ResponseEventsToChatChunks {
  private id: string | undefined;
  private created: number | undefined;
  private roleSent = false;
  private finished = false;
  private error: { code: string; message: string } | undefined;
  /** What was relayed of each text part, by `item_id:content_index`. */
  private readonly texts = new Map<string, string>();
  /** Tool calls by item id, and by output index for events that carry only that. */
  private readonly callsByItem = new Map<string, ChunkCall>();
  private readonly callsByOutput = new Map<number, ChunkCall>();
  /** Tool calls announced so far: the next one's chat `index`. */
  private callCount = 0;

  constructor(
    private readonly requestModel: string,
    private readonly includeUsage: boolean,
  ) {}

  /** true once response.completed / response.incomplete / response.failed was seen. */
  get done(): boolean {
    return this.finished;
  }

  /** Set when the stream carried response.failed or an `error` event. */
  get failure(): { code: string; message: string } | undefined {
    return this.error;
  }

  /** Chat chunks (JSON objects) produced by one Responses stream event (event name + parsed data). */
  push(event: string | undefined, data: Json): Json[] {
    if (this.finished) return [];
    const response = obj(data.response);
    if (response !== undefined) {
      this.id ??= str(response.id);
      this.created ??= count(response.created_at);
    }
    // Before any response event (a provider that skips response.created), the first item id names the stream.
    this.id ??= str(data.item_id) ?? str(obj(data.item)?.id);
    switch (str(data.type) ?? event ?? '') {
      case 'response.output_text.delta':
        return this.text('content', data, str(data.delta) ?? '', false);
      case 'response.output_text.done':
        return this.text('content', data, str(data.text) ?? '', true);
      case 'response.refusal.delta':
        return this.text('refusal', data, str(data.delta) ?? '', false);
      case 'response.refusal.done':
        return this.text('refusal', data, str(data.refusal) ?? '', true);
      case 'response.output_item.added':
      case 'response.output_item.done':
        return this.item(data);
      case 'response.function_call_arguments.delta':
        return this.callArguments(data, str(data.delta) ?? '', false);
      case 'response.function_call_arguments.done':
        return this.callArguments(data, str(data.arguments) ?? '', true);
      case 'response.completed':
      case 'response.incomplete':
        return this.finish(response ?? {});
      case 'response.failed':
        this.finished = true;
        this.error = failureOf(obj(response?.error));
        return [];
      case 'error':
        this.error = failureOf(data);
        return [];
      default:
        return [];
    }
  }

  private envelope(choices: Json[]): Json {
    return {
      id: chatCompletionId(this.id ?? 'unknown'),
      object: 'chat.completion.chunk',
      created: this.created ?? 0,
      model: this.requestModel,
      choices,
    };
  }

  private chunk(delta: Json, finishReason: string | null = null): Json {
    const first = !this.roleSent;
    this.roleSent = true;
    const chunk = this.envelope([
      {
        index: 0,
        delta: first ? { role: 'assistant', ...delta } : delta,
        logprobs: null,
        finish_reason: finishReason,
      },
    ]);
    // As OpenAI does: with include_usage every chunk has `usage`, null until the last one.
    if (this.includeUsage) chunk.usage = null;
    return chunk;
  }

  /** `whole` is the full text of a done event: only what the deltas have not relayed is sent. */
  private text(field: 'content' | 'refusal', data: Json, value: string, whole: boolean): Json[] {
    const key = `${str(data.item_id) ?? ''}:${count(data.content_index) ?? 0}:${field}`;
    const sent = this.texts.get(key) ?? '';
    const delta = whole ? (value.startsWith(sent) ? value.slice(sent.length) : '') : value;
    if (delta === '') return [];
    this.texts.set(key, sent + delta);
    return [this.chunk({ [field]: delta })];
  }

  private item(data: Json): Json[] {
    const item = obj(data.item);
    if (item?.type === 'message') {
      const chunks: Json[] = [];
      (list(item.content) ?? []).forEach((raw, contentIndex) => {
        const part = obj(raw);
        const where = { item_id: item.id, content_index: contentIndex };
        if (part?.type === 'output_text') {
          chunks.push(...this.text('content', where, str(part.text) ?? '', true));
        } else if (part?.type === 'refusal') {
          chunks.push(...this.text('refusal', where, str(part.refusal) ?? '', true));
        }
      });
      return chunks;
    }
    if (item?.type !== 'function_call') return [];
    const itemKey = str(item.id);
    const outputIndex = count(data.output_index);
    let call =
      (itemKey === undefined ? undefined : this.callsByItem.get(itemKey)) ?? this.byOutput(outputIndex);
    const chunks: Json[] = [];
    if (call === undefined) {
      call = { index: this.callCount, arguments: '' };
      this.callCount += 1;
      if (itemKey !== undefined) this.callsByItem.set(itemKey, call);
      if (outputIndex !== undefined) this.callsByOutput.set(outputIndex, call);
      chunks.push(
        this.chunk({
          tool_calls: [
            {
              index: call.index,
              id: str(item.call_id) ?? '',
              type: 'function',
              function: { name: str(item.name) ?? '', arguments: '' },
            },
          ],
        }),
      );
    }
    chunks.push(...this.appendArguments(call, str(item.arguments) ?? '', true));
    return chunks;
  }

  private byOutput(outputIndex: number | undefined): ChunkCall | undefined {
    return outputIndex === undefined ? undefined : this.callsByOutput.get(outputIndex);
  }

  private callArguments(data: Json, value: string, whole: boolean): Json[] {
    const itemKey = str(data.item_id);
    const call =
      (itemKey === undefined ? undefined : this.callsByItem.get(itemKey)) ??
      this.byOutput(count(data.output_index));
    // Arguments of an item never announced have no tool call to belong to.
    return call === undefined ? [] : this.appendArguments(call, value, whole);
  }

  private appendArguments(call: ChunkCall, value: string, whole: boolean): Json[] {
    const delta = whole
      ? value.startsWith(call.arguments)
        ? value.slice(call.arguments.length)
        : ''
      : value;
    if (delta === '') return [];
    call.arguments += delta;
    return [this.chunk({ tool_calls: [{ index: call.index, function: { arguments: delta } }] })];
  }

  private finish(response: Json): Json[] {
    this.finished = true;
    const chunks = [this.chunk({}, chatFinishReason(response, this.callCount > 0))];
    const usage = responsesUsageToChat(response.usage);
    if (this.includeUsage && usage !== undefined) chunks.push({ ...this.envelope([]), usage });
    return chunks;
  }
}
