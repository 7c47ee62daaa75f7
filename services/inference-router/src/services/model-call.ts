import { performance } from 'node:perf_hooks';

import type { InferenceMetrics } from '../repositories/inference-metrics.js';
import type { CapturedBody, ModelEventsRepository } from '../repositories/model-events.repository.js';
import type { Attempt } from './dispatch.service.js';
import type { Candidate } from './model-resolver.js';
import type { RoutingSnapshot } from './routing-snapshot.js';
import { costOf, type TokenCounts, type UsageMeter } from './usage-meter.js';

/** Who is calling, from the verified principal and the request's turn. */
export interface Caller {
  readonly tenantId: string;
  readonly userId: string;
  /** Present when the call belongs to a chat turn: then it is recorded in the audit log. */
  readonly turnId: string | undefined;
}

export type Endpoint = 'chat.completions' | 'responses' | 'embeddings';

export interface CallStart {
  readonly endpoint: Endpoint;
  /** What the caller named: a role or `<provider>/<model>`. */
  readonly requested: string;
  readonly role: string | undefined;
  readonly stream: boolean;
  /** The caller's request body, as received (serialized for audit only in a turn, off the request's path). */
  readonly body: unknown;
}

export interface CallRecorderOptions {
  /** Captured bodies are cut at this many bytes (the event says so). */
  readonly captureMaxBytes: number;
}

/** Starts the record of each data-path call. */
export class CallRecorder {
  constructor(
    private readonly meter: UsageMeter,
    private readonly events: ModelEventsRepository,
    private readonly metrics: InferenceMetrics,
    private readonly options: CallRecorderOptions,
  ) {}

  begin(snapshot: RoutingSnapshot, caller: Caller, start: CallStart): ModelCall {
    return new ModelCall(snapshot, caller, start, this.meter, this.events, this.metrics, this.options);
  }
}

/** A body as sent to audit: cut at `maxBytes`, or none at all when `maxBytes` is 0. */
function capture(
  kind: CapturedBody['kind'],
  contentType: string,
  body: Buffer | string,
  maxBytes: number,
): { bodies: CapturedBody[]; truncated: boolean } {
  if (maxBytes === 0) return { bodies: [], truncated: true };
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const truncated = bytes.length > maxBytes;
  return {
    bodies: [{ kind, contentType, body: truncated ? bytes.subarray(0, maxBytes) : bytes }],
    truncated,
  };
}

/**
 * One call of the data path, from request to last byte: it publishes `model_invoked` when it starts and
 * `model_response` when it ends (turn calls only), and meters usage, cost, latency and time to first token
 * whatever the outcome.
 */
export class ModelCall {
  private readonly startedAt = performance.now();
  private readonly at = new Date();
  private firstTokenAt: number | undefined;
  private tokens: TokenCounts | undefined;
  private candidate: Candidate | undefined;
  private attempts: readonly Attempt[] = [];
  private finished = false;

  constructor(
    private readonly snapshot: RoutingSnapshot,
    private readonly caller: Caller,
    private readonly start: CallStart,
    private readonly meter: UsageMeter,
    private readonly events: ModelEventsRepository,
    private readonly metrics: InferenceMetrics,
    private readonly options: CallRecorderOptions,
  ) {
    const turn = this.turn();
    if (turn === undefined) return;
    const occurredAt = this.at;
    // After the provider call went out: recording it must not delay it.
    setImmediate(() => {
      const request = capture(
        'request',
        'application/json',
        JSON.stringify(start.body),
        options.captureMaxBytes,
      );
      events.publish(
        turn,
        'model_invoked',
        {
          endpoint: start.endpoint,
          requested_model: start.requested,
          role: start.role ?? null,
          stream: start.stream,
          request_truncated: request.truncated,
        },
        request.bodies,
        occurredAt,
      );
    });
  }

  /** The provider that answered, and every attempt it took to get there. */
  served(candidate: Candidate, attempts: readonly Attempt[]): void {
    this.candidate = candidate;
    this.attempts = attempts;
  }

  /** Attempts of a call nobody answered. */
  failedAttempts(attempts: readonly Attempt[]): void {
    this.attempts = attempts;
  }

  /** The first token reached the caller (streams). */
  firstToken(): void {
    this.firstTokenAt ??= performance.now();
  }

  usage(tokens: TokenCounts | undefined): void {
    if (tokens !== undefined) this.tokens = tokens;
  }

  /**
   * Ends the call: `outcome` is `ok` or the code the caller got; `response` is what the caller received
   * (the answer's bytes, or the stream's events), captured for audit.
   */
  finish(
    outcome: string,
    response: { contentType: string; body: Buffer | string } | undefined,
    attributes: Record<string, unknown> = {},
  ): void {
    if (this.finished) return;
    this.finished = true;
    const latencyMs = performance.now() - this.startedAt;
    const ttftMs = this.firstTokenAt === undefined ? null : this.firstTokenAt - this.startedAt;
    const tokens = this.tokens ?? { promptTokens: 0, completionTokens: 0, cachedTokens: 0 };
    const price = this.candidate === undefined ? undefined : this.snapshot.prices.get(this.candidate.id);
    const costUsd = price === undefined ? null : costOf(price, tokens);
    const provider = this.candidate?.provider.name ?? '';
    const model = this.candidate?.model ?? this.start.requested;
    this.meter.record(
      {
        at: this.at,
        tenantId: this.caller.tenantId,
        userId: this.caller.userId,
        turnId: this.caller.turnId,
        role: this.start.role,
        provider,
        model: this.candidate?.id ?? this.start.requested,
        endpoint: this.start.endpoint,
        stream: this.start.stream,
        outcome,
        promptTokens: tokens.promptTokens,
        completionTokens: tokens.completionTokens,
        cachedTokens: tokens.cachedTokens,
        costUsd,
        latencyMs: Math.round(latencyMs),
        ttftMs: ttftMs === null ? null : Math.round(ttftMs),
        attempts: this.attempts.length,
      },
      this.snapshot,
    );
    this.metrics.observe({
      endpoint: this.start.endpoint,
      role: this.start.role ?? '',
      provider,
      model,
      outcome,
      attempts: this.attempts,
      ...tokens,
      costUsd,
      seconds: latencyMs / 1000,
      ttftSeconds: ttftMs === null ? null : ttftMs / 1000,
    });

    const turn = this.turn();
    if (turn === undefined) return;
    const captured =
      response === undefined
        ? undefined
        : capture('response', response.contentType, response.body, this.options.captureMaxBytes);
    const occurredAt = new Date();
    // After the answer went out: hashing and uploading the body must not hold the caller's last bytes.
    setImmediate(() => {
      this.publishResponse(turn, outcome, captured, occurredAt, {
        provider,
        costUsd,
        tokens,
        latencyMs,
        ttftMs,
        attributes,
      });
    });
  }

  private publishResponse(
    turn: { turnId: string; tenantId: string; userId: string },
    outcome: string,
    captured: { bodies: CapturedBody[]; truncated: boolean } | undefined,
    occurredAt: Date,
    measured: {
      provider: string;
      costUsd: number | null;
      tokens: TokenCounts;
      latencyMs: number;
      ttftMs: number | null;
      attributes: Record<string, unknown>;
    },
  ): void {
    const { provider, costUsd, tokens, latencyMs, ttftMs, attributes } = measured;
    this.events.publish(
      turn,
      'model_response',
      {
        endpoint: this.start.endpoint,
        outcome,
        role: this.start.role ?? null,
        provider: provider === '' ? null : provider,
        model: this.candidate?.id ?? null,
        stream: this.start.stream,
        attempts: this.attempts.map((attempt) => ({ ...attempt })),
        usage: {
          prompt_tokens: tokens.promptTokens,
          completion_tokens: tokens.completionTokens,
          cached_tokens: tokens.cachedTokens,
        },
        cost_usd: costUsd,
        latency_ms: Math.round(latencyMs),
        ttft_ms: ttftMs === null ? null : Math.round(ttftMs),
        ...(captured === undefined ? {} : { response_truncated: captured.truncated }),
        ...attributes,
      },
      captured?.bodies ?? [],
      occurredAt,
    );
  }

  private turn(): { turnId: string; tenantId: string; userId: string } | undefined {
    const { turnId, tenantId, userId } = this.caller;
    return turnId === undefined ? undefined : { turnId, tenantId, userId };
  }
}
