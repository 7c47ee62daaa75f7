import { createParser, type EventSourceMessage } from 'eventsource-parser';

import { apiFetch } from './client.js';

/**
 * Feeds a response body to an SSE parser and hands each complete message over in order; an event cut off by
 * the end of the body is dropped. Resolves when the body ends; once `signal` aborts, cancels the body and
 * rejects with an `AbortError`.
 */
export async function readSseBody(
  body: ReadableStream<Uint8Array>,
  onMessage: (message: EventSourceMessage) => void,
  signal?: AbortSignal,
): Promise<void> {
  const parser = createParser({ onEvent: onMessage });
  const decoder = new TextDecoder();
  const reader = body.getReader();
  const cancel = () => {
    void reader.cancel().catch(() => undefined);
  };
  signal?.addEventListener('abort', cancel, { once: true });
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done || signal?.aborted === true) break;
      parser.feed(decoder.decode(value, { stream: true }));
    }
    parser.feed(decoder.decode());
  } finally {
    signal?.removeEventListener('abort', cancel);
    reader.releaseLock();
  }
  if (signal?.aborted === true) throw new DOMException('The stream was closed', 'AbortError');
}

/**
 * Reads a server-sent event stream through {@link apiFetch} (so it carries the bearer token, which
 * `EventSource` cannot). Rejects with the API's error, or with an `AbortError` once `signal` aborts.
 */
export async function readEventStream(
  path: string,
  signal: AbortSignal,
  onMessage: (message: EventSourceMessage) => void,
): Promise<void> {
  const response = await apiFetch(path, { signal, headers: { accept: 'text/event-stream' } });
  if (response.body !== null) await readSseBody(response.body, onMessage, signal);
}

/** The JSON object an event carries, or undefined for anything else (no crash on a malformed event). */
export function messageData(message: EventSourceMessage): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(message.data);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
