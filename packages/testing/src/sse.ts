/** One server-sent event as a client parses it. */
export interface SseEvent {
  readonly id: number | undefined;
  readonly event: string;
  readonly data: Record<string, unknown>;
}

interface OpenStream {
  readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  buffer: string;
}

const openStreams = new WeakMap<Response, OpenStream>();

function parseBlock(block: string): SseEvent | undefined {
  const fields = new Map<string, string>();
  for (const line of block.split('\n')) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    fields.set(line.slice(0, colon), line.slice(colon + 1).trimStart());
  }
  if (!fields.has('event')) return undefined;
  return {
    id: fields.has('id') ? Number(fields.get('id')) : undefined,
    event: fields.get('event') ?? '',
    data: JSON.parse(fields.get('data') ?? '{}') as Record<string, unknown>,
  };
}

/**
 * Reads named SSE events (JSON data) from `response` until `until` accepts one, then drops the connection,
 * as a client that leaves does — unless `keepOpen`, in which case a later call reads on where this one
 * stopped. Comments (heartbeats) and unnamed events are skipped.
 */
export async function readSse(
  response: Response,
  until: (event: SseEvent) => boolean,
  options: { keepOpen?: boolean } = {},
): Promise<SseEvent[]> {
  const events: SseEvent[] = [];
  let open = openStreams.get(response);
  if (open === undefined) {
    const reader: ReadableStreamDefaultReader<Uint8Array> | undefined = response.body?.getReader();
    if (reader === undefined) return events;
    open = { reader, buffer: '' };
    openStreams.set(response, open);
  }
  const decoder = new TextDecoder();
  for (;;) {
    let boundary = open.buffer.indexOf('\n\n');
    while (boundary >= 0) {
      const block = open.buffer.slice(0, boundary);
      open.buffer = open.buffer.slice(boundary + 2);
      boundary = open.buffer.indexOf('\n\n');
      const event = parseBlock(block);
      if (event === undefined) continue;
      events.push(event);
      if (until(event)) {
        if (options.keepOpen !== true) await open.reader.cancel();
        return events;
      }
    }
    const { value, done } = await open.reader.read();
    if (done) return events;
    open.buffer += decoder.decode(value, { stream: true });
  }
}
