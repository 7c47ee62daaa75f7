/** An error answer of the API: `{"error","code"}` (ARCHITECTURE §5), with its HTTP status and turn id. */
export class ApiError extends Error {
  override readonly name = 'ApiError';

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly turnId?: string,
    readonly details?: Readonly<Record<string, unknown>>,
    /** How long the server asked to wait before trying again (`Retry-After`, in ms), for 429 and 503. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }

  /** The error of a non-2xx response; a body that is not the API's envelope still gets a code from the status. */
  static async fromResponse(response: Response): Promise<ApiError> {
    const turnId = response.headers.get('x-aibox-turn-id') ?? undefined;
    const retryAfter = Number(response.headers.get('retry-after') ?? Number.NaN);
    const retryAfterMs = Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter * 1000 : undefined;
    let body: unknown;
    try {
      body = await response.json();
    } catch {
      body = undefined;
    }
    if (typeof body === 'object' && body !== null) {
      const record = body as Record<string, unknown>;
      const code = typeof record['code'] === 'string' ? record['code'] : statusCode(response.status);
      const message = typeof record['error'] === 'string' ? record['error'] : response.statusText;
      const details =
        typeof record['details'] === 'object' && record['details'] !== null
          ? (record['details'] as Record<string, unknown>)
          : undefined;
      const bodyTurn = typeof record['turn_id'] === 'string' ? record['turn_id'] : turnId;
      return new ApiError(response.status, code, message, bodyTurn, details, retryAfterMs);
    }
    return new ApiError(
      response.status,
      statusCode(response.status),
      response.statusText,
      turnId,
      undefined,
      retryAfterMs,
    );
  }
}

/** A code for an answer that carried none (a proxy's HTML error page, say). */
function statusCode(status: number): string {
  if (status === 401) return 'unauthenticated';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not_found';
  if (status === 429) return 'rate_limited';
  if (status >= 500) return 'backend_unavailable';
  return 'invalid_request';
}

/** Network failure before any answer (offline, connection refused). */
export function networkError(cause: unknown): ApiError {
  const error = new ApiError(0, 'network_error', cause instanceof Error ? cause.message : String(cause));
  return error;
}
