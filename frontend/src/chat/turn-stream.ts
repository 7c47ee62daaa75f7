import type { EventSourceMessage } from 'eventsource-parser';

import { ApiError } from '../api/api-error.js';
import { apiFetch } from '../api/client.js';
import { messageData, readSseBody } from '../api/sse.js';
import type { ChatRequest } from './chat-api.js';

export type ApprovalDecision = 'approved' | 'denied' | 'expired' | 'cancelled';

/** An approval a tool call waits for, and its decision once there is one. */
export interface ApprovalState {
  readonly approvalId: string;
  readonly expiresAt?: string;
  readonly decision?: ApprovalDecision;
  readonly reason?: string | null;
}

export interface ToolResult {
  /** Unknown for tool results stored before the runtime kept their outcome. */
  readonly ok?: boolean;
  readonly code?: string;
  readonly output: string;
}

export interface ToolCallPart {
  readonly kind: 'tool';
  readonly id: string;
  readonly name: string;
  /** The model's arguments, a JSON text (as the model wrote it). */
  readonly arguments: string;
  readonly approval?: ApprovalState;
  readonly result?: ToolResult;
}

/** What an assistant answer is made of, in the order it was written: text, tool calls, more text. */
export type AssistantPart = { readonly kind: 'text'; readonly text: string } | ToolCallPart;

export interface TurnUsage {
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly total_tokens: number;
  readonly model_calls: number;
  readonly model: string | null;
}

export interface TurnFailure {
  readonly code: string;
  readonly message: string;
}

/** One event of a chat stream, with its SSE id (1, 2, 3… within the turn). */
export type TurnEvent =
  | {
      readonly id: number;
      readonly type: 'turn';
      readonly turnId: string;
      readonly conversationId: string;
      readonly agentId: string;
    }
  | { readonly id: number; readonly type: 'delta'; readonly text: string }
  | {
      readonly id: number;
      readonly type: 'tool_call';
      readonly callId: string;
      readonly name: string;
      readonly arguments: string;
    }
  | {
      readonly id: number;
      readonly type: 'approval_required';
      readonly approvalId: string;
      readonly callId: string;
      readonly name: string;
      readonly arguments: string;
      readonly expiresAt?: string;
    }
  | {
      readonly id: number;
      readonly type: 'approval_decided';
      readonly approvalId: string;
      readonly callId: string;
      readonly decision: ApprovalDecision;
      readonly reason: string | null;
    }
  | {
      readonly id: number;
      readonly type: 'tool_result';
      readonly callId: string;
      readonly name: string;
      readonly ok: boolean;
      readonly output: string;
      readonly code?: string;
    }
  | { readonly id: number; readonly type: 'title'; readonly conversationId: string; readonly title: string }
  | { readonly id: number; readonly type: 'usage'; readonly usage: TurnUsage }
  | {
      readonly id: number;
      readonly type: 'done';
      readonly turnId: string;
      readonly conversationId: string;
      readonly messageId: string;
      readonly receiptUrl?: string;
    }
  | {
      readonly id: number;
      readonly type: 'error';
      readonly code: string;
      readonly message: string;
      readonly turnId?: string;
    }
  /** An event this client does not show (a replay's summary, a newer kind); its id still counts for resuming. */
  | { readonly id: number; readonly type: 'other'; readonly name: string };

export type TurnStatus = 'connecting' | 'streaming' | 'reconnecting' | 'done' | 'failed';

/** Everything a client knows about a turn from its stream so far. */
export interface TurnState {
  readonly status: TurnStatus;
  /** The id of the last event folded in: a resume asks for what comes after it. */
  readonly lastEventId: number;
  readonly turnId?: string;
  readonly conversationId?: string;
  readonly agentId?: string;
  readonly parts: readonly AssistantPart[];
  readonly title?: string;
  readonly usage?: TurnUsage;
  /** The stored answer's id (on `done`). */
  readonly messageId?: string;
  readonly receiptUrl?: string;
  readonly error?: TurnFailure;
}

export function initialTurnState(turnId?: string): TurnState {
  return turnId === undefined
    ? { status: 'connecting', lastEventId: 0, parts: [] }
    : { status: 'connecting', lastEventId: 0, parts: [], turnId };
}

export function isTurnEnded(state: TurnState): boolean {
  return state.status === 'done' || state.status === 'failed';
}

/** The answer's words so far, without its tool calls. */
export function turnText(parts: readonly AssistantPart[]): string {
  return parts
    .flatMap((part) => (part.kind === 'text' ? [part.text] : []))
    .join('\n\n')
    .trim();
}

function text(record: Record<string, unknown>, key: string): string | undefined {
  const value = record[key];
  return typeof value === 'string' ? value : undefined;
}

/** Arguments arrive as the model's JSON text; an object (from an older server) is written back as JSON. */
function argumentsText(value: unknown): string {
  if (typeof value === 'string') return value;
  return value === undefined ? '' : JSON.stringify(value);
}

const DECISIONS: ReadonlySet<string> = new Set(['approved', 'denied', 'expired', 'cancelled']);

/** One SSE message of a chat stream as a typed event; undefined when it has no usable id. */
export function parseTurnEvent(message: EventSourceMessage): TurnEvent | undefined {
  const id = Number(message.id);
  if (message.id === undefined || !Number.isSafeInteger(id) || id < 1) return undefined;
  const name = message.event ?? 'message';
  const other: TurnEvent = { id, type: 'other', name };
  const data = messageData(message);
  if (data === undefined) return other;
  switch (name) {
    case 'turn': {
      const turnId = text(data, 'turn_id');
      const conversationId = text(data, 'conversation_id');
      if (turnId === undefined || conversationId === undefined) return other;
      return { id, type: 'turn', turnId, conversationId, agentId: text(data, 'agent_id') ?? '' };
    }
    case 'delta': {
      const delta = text(data, 'text');
      return delta === undefined ? other : { id, type: 'delta', text: delta };
    }
    case 'tool_call': {
      const callId = text(data, 'id');
      if (callId === undefined) return other;
      return {
        id,
        type: 'tool_call',
        callId,
        name: text(data, 'name') ?? '',
        arguments: argumentsText(data['arguments']),
      };
    }
    case 'approval_required': {
      const approvalId = text(data, 'approval_id');
      const callId = text(data, 'tool_call_id');
      if (approvalId === undefined || callId === undefined) return other;
      const expiresAt = text(data, 'expires_at');
      return {
        id,
        type: 'approval_required',
        approvalId,
        callId,
        name: text(data, 'name') ?? '',
        arguments: argumentsText(data['arguments']),
        ...(expiresAt === undefined ? {} : { expiresAt }),
      };
    }
    case 'approval_decided': {
      const approvalId = text(data, 'approval_id');
      const callId = text(data, 'tool_call_id');
      const decision = text(data, 'decision');
      if (
        approvalId === undefined ||
        callId === undefined ||
        decision === undefined ||
        !DECISIONS.has(decision)
      ) {
        return other;
      }
      return {
        id,
        type: 'approval_decided',
        approvalId,
        callId,
        decision: decision as ApprovalDecision,
        reason: text(data, 'reason') ?? null,
      };
    }
    case 'tool_result': {
      const callId = text(data, 'id');
      if (callId === undefined) return other;
      const code = text(data, 'code');
      return {
        id,
        type: 'tool_result',
        callId,
        name: text(data, 'name') ?? '',
        ok: data['ok'] === true,
        output: text(data, 'output') ?? '',
        ...(code === undefined ? {} : { code }),
      };
    }
    case 'title': {
      const title = text(data, 'title');
      const conversationId = text(data, 'conversation_id');
      return title === undefined || conversationId === undefined
        ? other
        : { id, type: 'title', conversationId, title };
    }
    case 'usage': {
      const count = (key: string): number => (typeof data[key] === 'number' ? data[key] : 0);
      return {
        id,
        type: 'usage',
        usage: {
          prompt_tokens: count('prompt_tokens'),
          completion_tokens: count('completion_tokens'),
          total_tokens: count('total_tokens'),
          model_calls: count('model_calls'),
          model: text(data, 'model') ?? null,
        },
      };
    }
    case 'done': {
      const turnId = text(data, 'turn_id');
      const conversationId = text(data, 'conversation_id');
      const messageId = text(data, 'message_id');
      if (turnId === undefined || conversationId === undefined || messageId === undefined) return other;
      const receiptUrl = text(data, 'receipt_url');
      return {
        id,
        type: 'done',
        turnId,
        conversationId,
        messageId,
        ...(receiptUrl === undefined ? {} : { receiptUrl }),
      };
    }
    case 'error': {
      const turnId = text(data, 'turn_id');
      return {
        id,
        type: 'error',
        code: text(data, 'code') ?? 'unknown',
        message: text(data, 'error') ?? '',
        ...(turnId === undefined ? {} : { turnId }),
      };
    }
    default:
      return other;
  }
}

function updateTool(
  parts: readonly AssistantPart[],
  callId: string,
  update: (part: ToolCallPart) => ToolCallPart,
  create: () => ToolCallPart,
): AssistantPart[] {
  const index = parts.findIndex((part) => part.kind === 'tool' && part.id === callId);
  if (index === -1) return [...parts, update(create())];
  return parts.map((part, at) => (at === index && part.kind === 'tool' ? update(part) : part));
}

/**
 * Folds one event into the turn. An event whose id is not after the last one folded in is a repeat (a resume
 * that overlapped) and changes nothing, so a reconnect never doubles a word.
 */
export function reduceTurn(state: TurnState, event: TurnEvent): TurnState {
  if (event.id <= state.lastEventId || isTurnEnded(state)) return state;
  const next: TurnState = { ...state, lastEventId: event.id, status: 'streaming' };
  switch (event.type) {
    case 'turn':
      return { ...next, turnId: event.turnId, conversationId: event.conversationId, agentId: event.agentId };
    case 'delta': {
      const last = state.parts.at(-1);
      const parts =
        last?.kind === 'text'
          ? [...state.parts.slice(0, -1), { kind: 'text' as const, text: last.text + event.text }]
          : [...state.parts, { kind: 'text' as const, text: event.text }];
      return { ...next, parts };
    }
    case 'tool_call':
      return {
        ...next,
        parts: updateTool(
          state.parts,
          event.callId,
          (part) => ({ ...part, name: event.name, arguments: event.arguments }),
          () => ({ kind: 'tool', id: event.callId, name: event.name, arguments: event.arguments }),
        ),
      };
    case 'approval_required':
      return {
        ...next,
        parts: updateTool(
          state.parts,
          event.callId,
          (part) => ({
            ...part,
            approval: {
              approvalId: event.approvalId,
              ...(event.expiresAt === undefined ? {} : { expiresAt: event.expiresAt }),
            },
          }),
          () => ({ kind: 'tool', id: event.callId, name: event.name, arguments: event.arguments }),
        ),
      };
    case 'approval_decided':
      return {
        ...next,
        parts: updateTool(
          state.parts,
          event.callId,
          (part) => ({
            ...part,
            approval: {
              ...part.approval,
              approvalId: event.approvalId,
              decision: event.decision,
              reason: event.reason,
            },
          }),
          () => ({ kind: 'tool', id: event.callId, name: '', arguments: '' }),
        ),
      };
    case 'tool_result':
      return {
        ...next,
        parts: updateTool(
          state.parts,
          event.callId,
          (part) => ({
            ...part,
            result: {
              ok: event.ok,
              output: event.output,
              ...(event.code === undefined ? {} : { code: event.code }),
            },
          }),
          () => ({ kind: 'tool', id: event.callId, name: event.name, arguments: '' }),
        ),
      };
    case 'title':
      return { ...next, title: event.title };
    case 'usage':
      return { ...next, usage: event.usage };
    case 'done':
      return {
        ...next,
        status: 'done',
        turnId: event.turnId,
        conversationId: event.conversationId,
        messageId: event.messageId,
        ...(event.receiptUrl === undefined ? {} : { receiptUrl: event.receiptUrl }),
      };
    case 'error':
      return { ...next, status: 'failed', error: { code: event.code, message: event.message } };
    case 'other':
      return next;
  }
}

export function failTurn(state: TurnState, failure: TurnFailure): TurnState {
  return { ...state, status: 'failed', error: failure };
}

/** Where a stream comes from: a new turn, or the events of a running (or ended) one after `afterId`. */
export type TurnSource =
  | { readonly kind: 'start'; readonly request: ChatRequest }
  | { readonly kind: 'resume'; readonly turnId: string; readonly afterId?: number };

export interface TurnStreamOptions {
  readonly signal?: AbortSignal;
  /** Called with each new state, in order. */
  readonly onState?: (state: TurnState) => void;
  /** Reconnects in a row that bring no new event before giving up with `network_error`. */
  readonly maxReconnects?: number;
  /** The wait before reconnect number `attempt` (1, 2, …). */
  readonly reconnectDelayMs?: (attempt: number) => number;
}

export const DEFAULT_MAX_RECONNECTS = 5;

function defaultDelay(attempt: number): number {
  return Math.min(500 * 2 ** (attempt - 1), 8_000);
}

/** A function, not an inline check: the signal changes under awaits, where TypeScript keeps its narrowing. */
function aborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

function isAbort(error: unknown, signal: AbortSignal | undefined): boolean {
  return aborted(signal) || (error instanceof DOMException && error.name === 'AbortError');
}

/** A connection that may work next time: no answer at all, or the gateway or runtime briefly away. */
function isTransient(error: unknown): boolean {
  if (!(error instanceof ApiError)) return true;
  return error.code === 'network_error' || error.status === 0 || error.status === 429 || error.status >= 502;
}

function wait(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

const GAVE_UP: TurnFailure = {
  code: 'network_error',
  message: 'The connection to the answer was lost and could not be restored.',
};

/**
 * Runs a chat stream to its end and answers the turn's final state. `POST /v1/chat/stream` starts the turn (or
 * `GET /v1/chat/{turn_id}/stream` follows one); when the body ends or breaks before `done` or `error`, it
 * reconnects with `Last-Event-ID` and a growing pause, and gives up with `network_error` only after
 * `maxReconnects` attempts in a row brought nothing new. An abort ends it quietly, with the state so far.
 */
export async function runTurnStream(source: TurnSource, options: TurnStreamOptions = {}): Promise<TurnState> {
  const { signal, onState } = options;
  const maxReconnects = options.maxReconnects ?? DEFAULT_MAX_RECONNECTS;
  const delay = options.reconnectDelayMs ?? defaultDelay;
  let state = initialTurnState(source.kind === 'resume' ? source.turnId : undefined);
  if (source.kind === 'resume' && source.afterId !== undefined)
    state = { ...state, lastEventId: source.afterId };
  const publish = (next: TurnState): TurnState => {
    state = next;
    onState?.(state);
    return state;
  };
  let starting = source.kind === 'start';
  let failures = 0;
  for (;;) {
    if (aborted(signal)) return state;
    let response: Response | undefined;
    try {
      if (starting) {
        starting = false;
        const init: RequestInit = {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
          body: JSON.stringify(source.kind === 'start' ? source.request : {}),
        };
        if (signal !== undefined) init.signal = signal;
        response = await apiFetch('/v1/chat/stream', init);
        const headerTurn = response.headers.get('x-aibox-turn-id');
        if (state.turnId === undefined && headerTurn !== null && headerTurn !== '') {
          publish({ ...state, turnId: headerTurn });
        }
      } else {
        const turnId = state.turnId;
        if (turnId === undefined) return publish(failTurn(state, GAVE_UP));
        const headers: Record<string, string> = { accept: 'text/event-stream' };
        if (state.lastEventId > 0) headers['last-event-id'] = String(state.lastEventId);
        const init: RequestInit = { method: 'GET', headers };
        if (signal !== undefined) init.signal = signal;
        response = await apiFetch(`/v1/chat/${encodeURIComponent(turnId)}/stream`, init);
      }
    } catch (error) {
      if (isAbort(error, signal)) return state;
      // The first request has no turn to resume until it answers: a failure there is final.
      const resumable = state.turnId !== undefined && isTransient(error);
      if (!resumable) {
        const failure =
          error instanceof ApiError
            ? { code: error.code, message: error.message }
            : { code: 'network_error', message: error instanceof Error ? error.message : String(error) };
        return publish(failTurn(state, failure));
      }
    }
    if (response !== undefined) {
      const before = state.lastEventId;
      if (state.status !== 'streaming') publish({ ...state, status: 'streaming' });
      try {
        if (response.body !== null)
          await readSseBody(response.body, (message) => {
            const event = parseTurnEvent(message);
            const next = event === undefined ? state : reduceTurn(state, event);
            if (next !== state) publish(next);
          });
      } catch (error) {
        if (isAbort(error, signal)) return state;
      }
      if (isTurnEnded(state)) return state;
      if (state.lastEventId > before) failures = 0;
    }
    if (aborted(signal)) return state;
    failures += 1;
    if (failures > maxReconnects) return publish(failTurn(state, GAVE_UP));
    publish({ ...state, status: 'reconnecting' });
    await wait(delay(failures), signal);
  }
}
