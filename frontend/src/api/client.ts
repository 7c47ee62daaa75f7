import { ApiError, networkError } from './api-error.js';

/** Where the API client gets the caller's access token, and what it does when the API says 401. */
export interface TokenSource {
  /** The current access token, or undefined when the gateway runs without authentication. */
  token(): Promise<string | undefined>;
  /** A fresh token after a 401 (silent refresh), or undefined when the user must sign in again. */
  renew(): Promise<string | undefined>;
}

let source: TokenSource = {
  token: () => Promise.resolve(undefined),
  renew: () => Promise.resolve(undefined),
};

/** Set once by the auth provider. */
export function setTokenSource(next: TokenSource): void {
  source = next;
}

function withToken(init: RequestInit, token: string | undefined): RequestInit {
  const headers = new Headers(init.headers);
  if (token !== undefined) headers.set('authorization', `Bearer ${token}`);
  return { ...init, headers };
}

/**
 * A request to the gateway's `/v1/*` with the caller's bearer token. A 401 gets one silent renewal and one
 * retry; any other non-2xx answer becomes an {@link ApiError}.
 */
export async function apiFetch(path: string, init: RequestInit = {}): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(path, withToken(init, await source.token()));
    if (response.status === 401 && !(init.body instanceof ReadableStream)) {
      const renewed = await source.renew();
      if (renewed !== undefined) {
        await response.body?.cancel();
        response = await fetch(path, withToken(init, renewed));
      }
    }
  } catch (error) {
    if (error instanceof DOMException && error.name === 'AbortError') throw error;
    throw networkError(error);
  }
  if (!response.ok) throw await ApiError.fromResponse(response);
  return response;
}

/** {@link apiFetch} with a JSON body (when given) and a JSON answer (undefined for 204). */
export async function apiJson<T>(
  path: string,
  options: { method?: string; body?: unknown; signal?: AbortSignal; headers?: Record<string, string> } = {},
): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
  const init: RequestInit = {
    method: options.method ?? (options.body === undefined ? 'GET' : 'POST'),
    headers,
  };
  if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(options.body);
  }
  if (options.signal !== undefined) init.signal = options.signal;
  const response = await apiFetch(path, init);
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  return (text === '' ? undefined : JSON.parse(text)) as T;
}

/** Saves a response body as a file, named by the caller. */
export function saveBlob(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const anchor = document.createElement('a');
  anchor.href = url;
  anchor.download = filename;
  document.body.append(anchor);
  anchor.click();
  anchor.remove();
  setTimeout(() => {
    URL.revokeObjectURL(url);
  }, 1000);
}
