import { setTimeout as sleep } from 'node:timers/promises';

import type { Logger } from '@aibox/platform';

import { InferenceError, type InferenceErrorCode } from '../errors/inference.error.js';
import {
  ProviderConnectError,
  type ProviderClient,
  type ProviderResponse,
  type ResponseBody,
} from '../repositories/provider-client.js';
import type { BreakerBoard } from './circuit-breaker.js';
import type { Candidate } from './model-resolver.js';
import { providerMessage } from './provider-message.js';
import { SseSplitter, type SseEvent } from './sse.js';

/** The provider endpoint a request goes to, under the provider's base URL. */
export type ProviderPath = 'chat/completions' | 'responses' | 'embeddings';

export interface DispatchRequest {
  /** In the order to try them (load-balanced, then fallbacks). */
  readonly candidates: readonly Candidate[];
  /** What to send to one candidate: its path and its body (its own model name, its own API). */
  readonly bodyFor: (candidate: Candidate) => { readonly path: ProviderPath; readonly body: string };
  readonly stream: boolean;
  /** Aborted when the caller goes away: stops retries and the upstream call. */
  readonly signal: AbortSignal;
}

/** How one attempt ended, as `/v1/routes`, the audit log and the usage table name it. */
export interface Attempt {
  readonly provider: string;
  readonly model: string;
  /** `ok`, or what went wrong: `connect_failed`, `timeout`, `circuit_open`, `redirect`, `malformed`, `status_503`… */
  readonly outcome: string;
}

interface Committed {
  readonly candidate: Candidate;
  readonly path: ProviderPath;
  /** The exact body sent to the provider that answered. */
  readonly sentBody: string;
  readonly attempts: readonly Attempt[];
}

/** A whole, parsed non-stream answer. */
export interface OpenedJson extends Committed {
  readonly kind: 'json';
  readonly json: Record<string, unknown>;
  readonly bytes: Buffer;
}

/** A stream whose first event arrived and was well-formed; the rest is read from `events`. */
export interface OpenedStream extends Committed {
  readonly kind: 'stream';
  /** The events read so far (the first with data among them). */
  readonly first: readonly SseEvent[];
  /** The following events, in batches as they arrive; throws when the provider drops or stalls. */
  readonly events: AsyncIterator<SseEvent[]>;
  /** Releases the upstream connection (also when the stream is abandoned). */
  readonly close: () => void;
}

export type Opened = OpenedJson | OpenedStream;

export interface DispatchOptions {
  readonly maxRetries: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  readonly maxResponseBytes: number;
}

/** Why one attempt failed. */
interface Failure {
  readonly outcome: string;
  readonly kind: 'connect' | 'timeout' | 'circuit_open' | 'redirect' | 'malformed' | 'status' | 'aborted';
  readonly status?: number;
  readonly retryAfterMs?: number;
  /** The provider's own message, cleaned of URLs and secrets (client errors only). */
  readonly message?: string;
}

class AttemptFailed extends Error {
  constructor(readonly failure: Failure) {
    super(failure.outcome);
  }
}

/** 429, 408 and 5xx are worth another try on the same provider; so are connect errors and timeouts. */
function retryable(failure: Failure): boolean {
  if (failure.kind === 'connect' || failure.kind === 'timeout') return true;
  if (failure.kind !== 'status' || failure.status === undefined) return false;
  return failure.status === 429 || failure.status === 408 || failure.status >= 500;
}

/** Failures that say the provider is unwell (they count toward opening its circuit). */
function unwell(failure: Failure): boolean {
  switch (failure.kind) {
    case 'connect':
    case 'timeout':
    case 'redirect':
    case 'malformed':
      return true;
    case 'status':
      return (
        failure.status !== undefined &&
        (failure.status >= 500 || failure.status === 401 || failure.status === 403)
      );
    case 'circuit_open':
    case 'aborted':
      return false;
  }
}

/** The request itself is wrong: another provider would refuse it too, so it is answered at once. */
function callerFault(failure: Failure): boolean {
  return (
    failure.kind === 'status' && (failure.status === 400 || failure.status === 413 || failure.status === 422)
  );
}

export function parseRetryAfter(headers: ProviderResponse['headers'], now = Date.now()): number | undefined {
  const ms = headers['retry-after-ms'];
  if (typeof ms === 'string' && /^\d+(\.\d+)?$/.test(ms.trim())) return Math.ceil(Number(ms));
  const value = headers['retry-after'];
  if (typeof value !== 'string') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Equal jitter: half the exponential step, plus a random half. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number): number {
  const step = Math.min(maxMs, baseMs * 2 ** attempt);
  return step / 2 + Math.random() * (step / 2);
}

async function readAll(body: ResponseBody, maxBytes: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > maxBytes) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A stream's data that is not an answer: not JSON, or an error object in place of the first event. */
function badFirstEvent(data: string): Failure | undefined {
  if (data === '[DONE]') return { kind: 'malformed', outcome: 'malformed' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    return { kind: 'malformed', outcome: 'malformed' };
  }
  if (!isRecord(parsed)) return { kind: 'malformed', outcome: 'malformed' };
  if (parsed['error'] !== undefined && parsed['error'] !== null) {
    return { kind: 'status', status: 500, outcome: 'stream_error' };
  }
  return undefined;
}

/**
 * Sends a request to the first candidate that answers, with the resilience of ARCHITECTURE §7: a provider
 * whose circuit is open is skipped; 429, 5xx and connect errors are retried on the same provider with
 * jittered exponential backoff (a `Retry-After` within the cap is honoured, a longer one moves on); then
 * the next candidate is tried. All of this happens **before the first byte** reaches the caller: an
 * answer is committed only once its whole body (non-stream) or its first well-formed event (stream) is
 * in hand. Redirects are never followed. A request the provider refuses as malformed (400, 413, 422) is
 * answered at once, since the next provider would refuse it too.
 */
export class Dispatcher {
  constructor(
    private readonly client: ProviderClient,
    private readonly breakers: BreakerBoard,
    private readonly options: DispatchOptions,
    private readonly logger: Logger,
  ) {}

  async open(request: DispatchRequest): Promise<Opened> {
    const attempts: Attempt[] = [];
    let last: Failure | undefined;
    let retryAfterMs: number | undefined;
    for (const candidate of request.candidates) {
      const breaker = this.breakers.of(candidate.provider.name);
      const { path, body } = request.bodyFor(candidate);
      for (let retry = 0; ; retry += 1) {
        if (request.signal.aborted) throw this.clientGone(attempts);
        if (!breaker.tryAcquire()) {
          last = { kind: 'circuit_open', outcome: 'circuit_open' };
          attempts.push({ provider: candidate.provider.name, model: candidate.model, outcome: last.outcome });
          break;
        }
        let failure: Failure;
        try {
          const opened = await this.attempt(candidate, path, body, request);
          breaker.success();
          attempts.push({ provider: candidate.provider.name, model: candidate.model, outcome: 'ok' });
          return { ...opened, candidate, path, sentBody: body, attempts };
        } catch (error: unknown) {
          if (!(error instanceof AttemptFailed)) {
            breaker.release();
            throw error;
          }
          failure = error.failure;
        }
        if (unwell(failure)) breaker.failure(failure.outcome);
        else breaker.release();
        attempts.push({
          provider: candidate.provider.name,
          model: candidate.model,
          outcome: failure.outcome,
        });
        last = failure;
        if (failure.kind === 'aborted') throw this.clientGone(attempts);
        if (failure.retryAfterMs !== undefined) {
          retryAfterMs = Math.min(retryAfterMs ?? Infinity, failure.retryAfterMs);
        }
        if (callerFault(failure)) throw this.finalError(failure, attempts, retryAfterMs);
        if (!retryable(failure) || retry >= this.options.maxRetries) break;
        const wait =
          failure.retryAfterMs ?? backoffMs(retry, this.options.retryBaseMs, this.options.retryMaxMs);
        // A provider asking for a longer pause than the cap is left for the next candidate.
        if (wait > this.options.retryMaxMs) break;
        try {
          await sleep(wait, undefined, { signal: request.signal });
        } catch {
          throw this.clientGone(attempts);
        }
      }
    }
    throw this.finalError(last, attempts, retryAfterMs);
  }

  /** One call to one provider, up to its first event (stream) or its whole body. */
  private async attempt(
    candidate: Candidate,
    path: ProviderPath,
    body: string,
    request: DispatchRequest,
  ): Promise<Omit<OpenedJson, keyof Committed> | Omit<OpenedStream, keyof Committed>> {
    let response: ProviderResponse;
    try {
      response = await this.client.post({
        url: `${candidate.provider.baseUrl}/${path}`,
        apiKey: candidate.provider.apiKey,
        body,
        signal: request.signal,
      });
    } catch (error: unknown) {
      if (!(error instanceof ProviderConnectError)) throw error;
      const kind = error.failure === 'connect' ? 'connect' : error.failure;
      throw new AttemptFailed({ kind, outcome: kind === 'connect' ? 'connect_failed' : kind });
    }
    const { status } = response;
    const upstream = response.body;
    if (status < 200 || status >= 300) {
      throw new AttemptFailed(await this.statusFailure(candidate, response));
    }
    if (!request.stream) {
      let bytes: Buffer | undefined;
      try {
        bytes = await readAll(upstream, this.options.maxResponseBytes);
      } catch (error: unknown) {
        throw new AttemptFailed(this.bodyFailure(error, request.signal));
      }
      if (bytes === undefined) {
        upstream.destroy();
        throw new AttemptFailed({ kind: 'malformed', outcome: 'oversized' });
      }
      let json: unknown;
      try {
        json = JSON.parse(bytes.toString('utf8'));
      } catch {
        throw new AttemptFailed({ kind: 'malformed', outcome: 'malformed' });
      }
      if (!isRecord(json)) throw new AttemptFailed({ kind: 'malformed', outcome: 'malformed' });
      return { kind: 'json', json, bytes };
    }

    const splitter = new SseSplitter();
    const iterator = upstream;
    const first: SseEvent[] = [];
    try {
      for (;;) {
        const next = await iterator.next();
        if (next.done === true) throw new AttemptFailed({ kind: 'malformed', outcome: 'empty_stream' });
        const events = splitter.push(next.value);
        first.push(...events);
        const data = events.find((event) => event.data !== undefined)?.data;
        if (data === undefined) continue;
        const bad = badFirstEvent(data);
        if (bad !== undefined) throw new AttemptFailed(bad);
        break;
      }
    } catch (error: unknown) {
      upstream.destroy();
      if (error instanceof AttemptFailed) throw error;
      if (error instanceof RangeError) throw new AttemptFailed({ kind: 'malformed', outcome: 'oversized' });
      throw new AttemptFailed(this.bodyFailure(error, request.signal));
    }
    const events: AsyncIterator<SseEvent[]> = {
      next: async () => {
        for (;;) {
          const next = await iterator.next();
          if (next.done === true) return { done: true, value: undefined };
          const batch = splitter.push(next.value);
          if (batch.length > 0) return { done: false, value: batch };
        }
      },
    };
    return {
      kind: 'stream',
      first,
      events,
      close: () => {
        upstream.destroy();
      },
    };
  }

  private bodyFailure(error: unknown, signal: AbortSignal): Failure {
    if (signal.aborted) return { kind: 'aborted', outcome: 'client_closed' };
    const name = (error as { code?: unknown; name?: unknown } | null)?.code;
    if (name === 'UND_ERR_BODY_TIMEOUT') return { kind: 'timeout', outcome: 'timeout' };
    return { kind: 'connect', outcome: 'connection_dropped' };
  }

  private async statusFailure(candidate: Candidate, response: ProviderResponse): Promise<Failure> {
    const { status, headers, body } = response;
    if (status >= 300 && status < 400) {
      body.destroy();
      const location = headers['location'];
      this.logger.warn(
        {
          provider: candidate.provider.name,
          status,
          location: typeof location === 'string' ? location : null,
        },
        'a provider redirected a call; redirects are never followed',
      );
      return { kind: 'redirect', status, outcome: 'redirect' };
    }
    let message: string | undefined;
    if (status === 400 || status === 413 || status === 422) {
      const text = await readAll(body, 64 * 1024).catch(() => undefined);
      if (text === undefined) body.destroy();
      message = text === undefined ? undefined : providerMessage(text, candidate.provider.apiKey);
    } else {
      body.destroy();
    }
    const retryAfterMs = status === 429 || status === 503 ? parseRetryAfter(headers) : undefined;
    return {
      kind: 'status',
      status,
      outcome: `status_${status}`,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      ...(message === undefined ? {} : { message }),
    };
  }

  private clientGone(attempts: readonly Attempt[]): InferenceError {
    return new InferenceError('client_closed', undefined, { details: { attempts } });
  }

  /** The caller's error once nothing answered: decided by the last failure. */
  private finalError(
    failure: Failure | undefined,
    attempts: readonly Attempt[],
    retryAfterMs: number | undefined,
  ): InferenceError {
    const details = { attempts };
    let code: InferenceErrorCode;
    let detail: string;
    switch (failure?.kind) {
      case undefined:
        return new InferenceError('role_no_backend', 'no provider could be tried', { details });
      case 'aborted':
        return this.clientGone(attempts);
      case 'connect':
      case 'timeout':
      case 'circuit_open':
        code = 'backend_unavailable';
        detail =
          failure.kind === 'circuit_open'
            ? 'every provider able to serve this is failing and paused'
            : failure.kind === 'timeout'
              ? 'the providers did not answer in time'
              : 'the providers could not be reached';
        break;
      case 'redirect':
        code = 'upstream_error';
        detail = 'the provider answered with a redirect, and redirects are never followed';
        break;
      case 'malformed':
        code = 'upstream_error';
        detail = 'the provider sent an answer that is not a valid response';
        break;
      case 'status':
        ({ code, detail } = statusError(failure));
        break;
    }
    return new InferenceError(code, detail, {
      details,
      ...(code === 'rate_limited' && retryAfterMs !== undefined
        ? { retryAfterSeconds: Math.max(1, Math.ceil(retryAfterMs / 1000)) }
        : {}),
    });
  }
}

function statusError(failure: Failure): { code: InferenceErrorCode; detail: string } {
  const status = failure.status ?? 500;
  if (status === 429) return { code: 'rate_limited', detail: 'the provider asks to slow down' };
  if (status === 401 || status === 403) {
    return { code: 'provider_key_missing', detail: `the provider refused the router's key (${status})` };
  }
  if (status === 404) return { code: 'model_unknown', detail: 'the provider does not serve this model' };
  if (callerFault(failure)) {
    return {
      code: 'invalid_request',
      detail:
        failure.message === undefined
          ? `the provider refused the request (${status})`
          : `the provider refused the request: ${failure.message}`,
    };
  }
  return { code: 'upstream_error', detail: `the provider failed (${status})` };
}
