/** The named events of a chat stream (the contract; the SPA parses these). */
export type StreamEventName =
  | 'turn'
  | 'delta'
  | 'tool_call'
  | 'tool_result'
  | 'approval_required'
  | 'approval_decided'
  | 'title'
  | 'usage'
  | 'replay'
  | 'error'
  | 'done';

export interface StreamEvent {
  /** 1, 2, 3… within the turn: the SSE `id:` a client resumes from with `Last-Event-ID`. */
  readonly id: number;
  readonly event: StreamEventName;
  readonly data: Readonly<Record<string, unknown>>;
}

type Listener = (event: StreamEvent) => void;

/**
 * The events of one turn, kept whole while it runs and for a while after: a subscriber gets every event after
 * the one it names, then each new one as it is emitted, then the end. Emitting never waits for a subscriber.
 */
export class TurnStream {
  private readonly events: StreamEvent[] = [];
  private readonly listeners = new Set<Listener>();
  private readonly enders = new Set<() => void>();
  private ended = false;

  constructor(
    readonly turnId: string,
    readonly tenantId: string,
    readonly userId: string,
  ) {}

  /** The stored events of a turn that ended, as an ended stream. */
  static replayOf(
    turnId: string,
    tenantId: string,
    userId: string,
    events: readonly StreamEvent[],
  ): TurnStream {
    const stream = new TurnStream(turnId, tenantId, userId);
    stream.events.push(...events);
    stream.ended = true;
    return stream;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  emit(event: StreamEventName, data: Readonly<Record<string, unknown>>): StreamEvent {
    const emitted = { id: this.events.length + 1, event, data };
    if (this.ended) return emitted;
    this.events.push(emitted);
    for (const listener of this.listeners) listener(emitted);
    return emitted;
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    for (const ender of this.enders) ender();
    this.listeners.clear();
    this.enders.clear();
  }

  all(): readonly StreamEvent[] {
    return this.events;
  }

  /** Delivers the events after `afterId` at once, then live ones; `onEnd` when the turn's stream ends. */
  subscribe(afterId: number, listener: Listener, onEnd: () => void): () => void {
    for (const event of this.events.slice(Math.max(0, afterId))) listener(event);
    if (this.ended) {
      onEnd();
      return () => undefined;
    }
    this.listeners.add(listener);
    this.enders.add(onEnd);
    return () => {
      this.listeners.delete(listener);
      this.enders.delete(onEnd);
    };
  }
}

/** Streams of running and recently finished turns, by turn id; a finished one is forgotten after `retainMs`. */
export class TurnStreams {
  private readonly streams = new Map<string, TurnStream>();

  constructor(private readonly retainMs: number) {}

  open(turnId: string, tenantId: string, userId: string): TurnStream {
    const stream = new TurnStream(turnId, tenantId, userId);
    this.streams.set(turnId, stream);
    return stream;
  }

  get(turnId: string): TurnStream | undefined {
    return this.streams.get(turnId);
  }

  /** Ends the stream and keeps it for late resumes. */
  finish(stream: TurnStream): void {
    stream.end();
    setTimeout(() => {
      if (this.streams.get(stream.turnId) === stream) this.streams.delete(stream.turnId);
    }, this.retainMs).unref();
  }
}
