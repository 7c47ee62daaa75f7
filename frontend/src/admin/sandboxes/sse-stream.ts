import { createParser, type EventSourceMessage } from 'eventsource-parser';

import { apiFetch } from '../../api/client.js';

/**
 * Reads a server-sent event stream through {@link apiFetch} (so it carries the bearer token, which
 * `EventSource` cannot) and hands each message over in order. Resolves when the server ends the stream;
 * rejects with the API's error, or with an `AbortError` once `signal` aborts.
 */
export async function readEventStream(
  path: string,
  signal: AbortSignal,
  onMessage: (message: EventSourceMessage) => void,
): Promise<void> {
  const response = await apiFetch(path, { signal, headers: { accept: 'text/event-stream' } });
  const body = response.body;
  if (body === null) return;
  const parser = createParser({ onEvent: onMessage });
  const decoder = new TextDecoder();
  const reader = body.getReader();
  const cancel = () => {
    void reader.cancel().catch(() => undefined);
  };
  signal.addEventListener('abort', cancel, { once: true });
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (signal.aborted) break;
      parser.feed(decoder.decode(value, { stream: true }));
    }
    parser.feed(decoder.decode());
  } finally {
    signal.removeEventListener('abort', cancel);
    reader.releaseLock();
  }
  if (signal.aborted) throw new DOMException('The stream was closed', 'AbortError');
}

/** The JSON object an event carries; anything else is an empty object rather than a crash. */
export function messageData(message: EventSourceMessage): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(message.data);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}
