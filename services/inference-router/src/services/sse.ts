/** One Server-Sent Event: its `event:` name (if any) and its `data:` lines joined by newlines. */
export interface SseEvent {
  readonly event: string | undefined;
  /** Undefined for an event of comments only (a keep-alive such as `: ping`). */
  readonly data: string | undefined;
}

/**
 * Splits a byte stream into SSE events (WHATWG HTML §9.2.6) as soon as each one's blank line arrives: no
 * event waits for the next, so relaying adds no delay between chunks. Handles `\n`, `\r\n` and `\r` line
 * ends split across chunks, and UTF-8 split across chunks. `maxEventChars` bounds what one event may hold.
 */
export class SseSplitter {
  private readonly decoder = new TextDecoder('utf-8');
  private pending = '';
  private afterCr = false;

  constructor(private readonly maxEventChars = 16 * 1024 * 1024) {}

  /** The events completed by this chunk; throws `RangeError` when one event outgrows the bound. */
  push(chunk: Uint8Array): SseEvent[] {
    let text = this.decoder.decode(chunk, { stream: true });
    // A CR ends a line at once; an LF right after it (maybe in the next chunk) belongs to the same line end.
    if (this.afterCr && text.startsWith('\n')) text = text.slice(1);
    if (text === '') return [];
    this.afterCr = text.endsWith('\r');
    if (text.includes('\r')) text = text.replace(/\r\n?/g, '\n');
    this.pending += text;
    return this.drain();
  }

  /** Any event left without its final blank line (a stream that ended mid-event): the spec drops it. */
  get hasPartialEvent(): boolean {
    return this.pending.trim() !== '';
  }

  private drain(): SseEvent[] {
    const events: SseEvent[] = [];
    let start = 0;
    for (;;) {
      const end = this.pending.indexOf('\n\n', start);
      if (end === -1) break;
      const event = parseEvent(this.pending.slice(start, end));
      if (event !== undefined) events.push(event);
      start = end + 2;
    }
    if (start > 0) this.pending = this.pending.slice(start);
    if (this.pending.length > this.maxEventChars) {
      throw new RangeError(`an event exceeds ${this.maxEventChars} characters`);
    }
    return events;
  }
}

function parseEvent(block: string): SseEvent | undefined {
  let event: string | undefined;
  let data: string[] | undefined;
  for (const line of block.split('\n')) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') (data ??= []).push(value);
    else if (field === 'event') event = value;
  }
  if (data === undefined && event === undefined) {
    return block.trim() === '' ? undefined : { event: undefined, data: undefined };
  }
  return { event, data: data?.join('\n') };
}

/** `data: …` (and `event: …`) as one SSE event on the wire. */
export function encodeSseEvent(data: string, event?: string): string {
  const lines = data.includes('\n') ? data.split('\n').join('\ndata: ') : data;
  return event === undefined ? `data: ${lines}\n\n` : `event: ${event}\ndata: ${lines}\n\n`;
}
