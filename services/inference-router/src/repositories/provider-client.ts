import type { Readable } from 'node:stream';

import { Agent, errors as undiciErrors } from 'undici';

export interface ProviderClientOptions {
  readonly connectTimeoutMs: number;
  /** Until the provider's response headers. */
  readonly headersTimeoutMs: number;
  /** The longest silence between two chunks of a response body. */
  readonly idleTimeoutMs: number;
}

export interface ProviderRequest {
  /** `{base_url}/chat/completions`, … */
  readonly url: string;
  readonly apiKey: string | undefined;
  readonly body: string;
  readonly signal: AbortSignal;
}

export interface ProviderResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: ResponseBody;
}

/** Chunks buffered before the reader pauses the provider (and resumes it at half). */
const BODY_HIGH_WATER_BYTES = 1024 * 1024;

/**
 * A provider's response body as chunks in arrival order, then its end or its error. Unlike reading the
 * stream directly, chunks that arrived before the connection failed are still delivered before the error
 * (a destroyed Node stream drops what it buffered): a provider that sends its last events and drops at
 * once loses none of them.
 */
export class ResponseBody implements AsyncIterator<Buffer>, AsyncIterable<Buffer> {
  private readonly chunks: Buffer[] = [];
  private bufferedBytes = 0;
  private finished = false;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;

  constructor(private readonly source: Readable) {
    source.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.bufferedBytes += chunk.length;
      if (this.bufferedBytes > BODY_HIGH_WATER_BYTES) source.pause();
      this.notify();
    });
    source.on('end', () => {
      this.finish(undefined);
    });
    source.on('error', (error: Error) => {
      this.finish(error);
    });
    source.on('close', () => {
      this.finish(new Error('the provider closed the response before it ended'));
    });
  }

  async next(): Promise<IteratorResult<Buffer>> {
    for (;;) {
      const chunk = this.chunks.shift();
      if (chunk !== undefined) {
        this.bufferedBytes -= chunk.length;
        if (this.source.isPaused() && this.bufferedBytes <= BODY_HIGH_WATER_BYTES / 2) this.source.resume();
        return { done: false, value: chunk };
      }
      if (this.finished) {
        if (this.failure !== undefined) throw this.failure;
        return { done: true, value: undefined };
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    return this;
  }

  /** Releases the connection; what was not read is dropped. */
  destroy(): void {
    this.chunks.length = 0;
    this.bufferedBytes = 0;
    this.finish(new Error('the response was abandoned'));
    this.source.destroy();
  }

  private finish(failure: Error | undefined): void {
    if (this.finished) return;
    this.finished = true;
    this.failure = failure;
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

/** How a call failed before any response: `connect` (refused, reset, DNS), `timeout`, or `aborted` by us. */
export type ConnectFailure = 'connect' | 'timeout' | 'aborted';

export class ProviderConnectError extends Error {
  override readonly name = 'ProviderConnectError';

  constructor(
    readonly failure: ConnectFailure,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

function isTimeout(error: unknown): boolean {
  return (
    error instanceof undiciErrors.HeadersTimeoutError ||
    error instanceof undiciErrors.ConnectTimeoutError ||
    error instanceof undiciErrors.BodyTimeoutError
  );
}

/**
 * The wire to providers (I/O): one keep-alive pool per provider origin, JSON POSTs carrying only the
 * provider's key (never a caller's headers), bodies streamed back as they arrive. Redirects are **never**
 * followed: undici's `request` only follows them through its redirect interceptor, which is not used here,
 * so a 3xx comes back as a response for the caller to refuse.
 */
export class ProviderClient {
  private readonly agent: Agent;

  constructor(private readonly options: ProviderClientOptions) {
    this.agent = new Agent({
      connect: { timeout: options.connectTimeoutMs },
      keepAliveTimeout: 30_000,
      connections: 256,
      headersTimeout: options.headersTimeoutMs,
      bodyTimeout: options.idleTimeoutMs,
    });
  }

  async post(request: ProviderRequest): Promise<ProviderResponse> {
    try {
      const url = new URL(request.url);
      const response = await this.agent.request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          ...(request.apiKey === undefined ? {} : { authorization: `Bearer ${request.apiKey}` }),
        },
        body: request.body,
        signal: request.signal,
      });
      return {
        status: response.statusCode,
        headers: response.headers,
        body: new ResponseBody(response.body),
      };
    } catch (error: unknown) {
      if (request.signal.aborted) throw new ProviderConnectError('aborted', 'aborted', { cause: error });
      if (isTimeout(error)) {
        throw new ProviderConnectError('timeout', 'the provider did not answer in time', { cause: error });
      }
      const code = (error as { code?: unknown }).code;
      throw new ProviderConnectError(
        'connect',
        `the provider could not be reached (${typeof code === 'string' ? code : 'error'})`,
        { cause: error },
      );
    }
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}
