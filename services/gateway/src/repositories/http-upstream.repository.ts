import type { Readable } from 'node:stream';

import { Agent, errors as undiciErrors } from 'undici';

/** How long opening a connection to a downstream may take, at most (the route timeout may be shorter). */
export const CONNECT_TIMEOUT_MS = 5_000;

export interface UpstreamRequest {
  readonly url: URL;
  readonly method: string;
  readonly headers: Readonly<Record<string, string | string[]>>;
  readonly body: Readable | undefined;
  /** Aborted when the client goes away. */
  readonly signal: AbortSignal;
  /** Until the downstream's response headers. */
  readonly timeoutMs: number;
  /** Longest silence between two body chunks of the response. */
  readonly idleTimeoutMs: number;
}

export interface UpstreamResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Readable;
}

export type UpstreamFailure = 'timeout' | 'unreachable' | 'aborted' | 'request_body';

/** The downstream did not answer; `failure` says how. */
export class UpstreamError extends Error {
  override readonly name = 'UpstreamError';

  constructor(
    readonly failure: UpstreamFailure,
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
    (error instanceof Error && error.name === 'TimeoutError')
  );
}

/**
 * HTTP passthrough to the mesh (I/O) with undici: one keep-alive pool per downstream origin, bodies
 * streamed both ways, a hard bound on the time to response headers (a hanging downstream is cut), and the
 * client's disconnect aborting the downstream request.
 */
export class HttpUpstreamRepository {
  private readonly agent = new Agent({
    connect: { timeout: CONNECT_TIMEOUT_MS },
    keepAliveTimeout: 10_000,
    connections: 128,
  });

  async send(request: UpstreamRequest): Promise<UpstreamResponse> {
    // Bounds the wait for response headers only: a stream may then run as long as it keeps talking.
    const deadline = new AbortController();
    const timer = setTimeout(() => {
      deadline.abort();
    }, request.timeoutMs);
    const signal = AbortSignal.any([request.signal, deadline.signal]);
    const target = request.url.origin;
    try {
      const response = await this.agent.request({
        origin: request.url.origin,
        path: `${request.url.pathname}${request.url.search}`,
        method: request.method,
        headers: request.headers as Record<string, string>,
        body: request.body ?? null,
        signal,
        headersTimeout: request.timeoutMs,
        bodyTimeout: request.idleTimeoutMs,
      });
      return { status: response.statusCode, headers: response.headers, body: response.body };
    } catch (error: unknown) {
      if (request.signal.aborted)
        throw new UpstreamError('aborted', 'the client went away', { cause: error });
      if (request.body?.errored) {
        throw new UpstreamError('request_body', 'the request body failed', { cause: request.body.errored });
      }
      if (deadline.signal.aborted || isTimeout(error)) {
        throw new UpstreamError('timeout', `${target} did not answer within ${request.timeoutMs} ms`, {
          cause: error,
        });
      }
      throw new UpstreamError('unreachable', `${target} cannot be reached`, { cause: error });
    } finally {
      clearTimeout(timer);
    }
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}
