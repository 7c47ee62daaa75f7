import type { QueryClient } from '@tanstack/react-query';

import { cancelTurn, chatKeys, type ChatRequest } from './chat-api.js';
import {
  initialTurnState,
  isTurnEnded,
  runTurnStream,
  type TurnSource,
  type TurnState,
} from './turn-stream.js';

/** A turn this tab is streaming (or streamed): what was sent, and what has come back so far. */
export interface LiveTurn {
  /** This tab's name for it, known before the server names the turn. */
  readonly key: string;
  /** Known from the start for an existing conversation, from the `turn` event for a new one. */
  readonly conversationId?: string;
  /** What was sent; absent for a turn this tab attached to after a reload. */
  readonly request?: ChatRequest;
  readonly state: TurnState;
  /** When the stream ended (epoch ms): stored messages fetched after this show the whole turn. */
  readonly endedAt?: number;
  readonly cancelling: boolean;
}

type Listener = () => void;

export interface LiveTurnsOptions {
  readonly maxReconnects?: number;
  readonly reconnectDelayMs?: (attempt: number) => number;
}

/**
 * The running turns of this tab, outside React's tree of routes: a new chat navigates to its conversation
 * while its first answer streams, and that must neither drop nor restart the stream. Components read it with
 * `useSyncExternalStore`; every change replaces the snapshot.
 */
export class LiveTurns {
  private turns: readonly LiveTurn[] = [];
  private readonly listeners = new Set<Listener>();
  private readonly controllers = new Map<string, AbortController>();
  private readonly cancelWanted = new Set<string>();
  private readonly attachedTurns = new Set<string>();
  private readonly conversationWaiters = new Map<string, ((id: string | undefined) => void)[]>();
  private counter = 0;

  constructor(
    private readonly queryClient: QueryClient,
    private readonly options: LiveTurnsOptions = {},
  ) {}

  readonly subscribe = (listener: Listener): (() => void) => {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  };

  readonly getSnapshot = (): readonly LiveTurn[] => this.turns;

  /** Starts a turn; answers its key at once. */
  send(request: ChatRequest): string {
    const key = this.newKey();
    // The previous turn of the same conversation is in the stored messages by now.
    if (request.conversation_id !== undefined) {
      this.turns = this.turns.filter((turn) => turn.conversationId !== request.conversation_id);
    }
    const turn: LiveTurn = {
      key,
      request,
      state: initialTurnState(),
      cancelling: false,
      ...(request.conversation_id === undefined ? {} : { conversationId: request.conversation_id }),
    };
    this.put(turn);
    void this.run(key, { kind: 'start', request });
    return key;
  }

  /**
   * Follows a turn that runs without this tab's stream (the page was reloaded) from its first event. Once per
   * turn unless `again` (after the connection was given up): a turn that is over and gone is forgotten quietly.
   */
  attach(conversationId: string, turnId: string, { again = false }: { again?: boolean } = {}): void {
    if (this.turns.some((turn) => turn.state.turnId === turnId && !isTurnEnded(turn.state))) return;
    if (!again && (this.attachedTurns.has(turnId) || this.turns.some((turn) => turn.state.turnId === turnId)))
      return;
    this.attachedTurns.add(turnId);
    const key = this.newKey();
    this.turns = this.turns.filter((turn) => turn.conversationId !== conversationId);
    this.put({ key, conversationId, state: initialTurnState(turnId), cancelling: false });
    void this.run(key, { kind: 'resume', turnId });
  }

  /** Asks the runtime to stop the turn; its stream then ends with `turn_cancelled`. */
  async cancel(key: string): Promise<void> {
    const turn = this.find(key);
    if (turn === undefined || isTurnEnded(turn.state) || turn.cancelling) return;
    this.update(key, (current) => ({ ...current, cancelling: true }));
    const turnId = turn.state.turnId;
    if (turnId === undefined) {
      // The turn has no id yet: stop it as soon as the stream names it.
      this.cancelWanted.add(key);
      return;
    }
    await this.requestCancel(key, turnId);
  }

  /** The conversation a turn went into, once the stream says (undefined when it failed before). */
  conversationOf(key: string): Promise<string | undefined> {
    const turn = this.find(key);
    if (turn === undefined) return Promise.resolve(undefined);
    if (turn.state.conversationId !== undefined) return Promise.resolve(turn.state.conversationId);
    if (isTurnEnded(turn.state)) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      this.conversationWaiters.set(key, [...(this.conversationWaiters.get(key) ?? []), resolve]);
    });
  }

  /** Forgets a turn that ended (its error was dealt with). */
  dismiss(key: string): void {
    const turn = this.find(key);
    if (turn === undefined || !isTurnEnded(turn.state)) return;
    this.turns = this.turns.filter((candidate) => candidate.key !== key);
    this.emit();
  }

  /** Stops reading every stream (the turns themselves go on in the runtime). */
  dispose(): void {
    for (const controller of this.controllers.values()) controller.abort();
    this.controllers.clear();
  }

  private newKey(): string {
    this.counter += 1;
    return `live-${this.counter}`;
  }

  private find(key: string): LiveTurn | undefined {
    return this.turns.find((turn) => turn.key === key);
  }

  private put(turn: LiveTurn): void {
    this.turns = [...this.turns, turn];
    this.emit();
  }

  private update(key: string, change: (turn: LiveTurn) => LiveTurn): void {
    const index = this.turns.findIndex((turn) => turn.key === key);
    const turn = this.turns[index];
    if (turn === undefined) return;
    this.turns = this.turns.with(index, change(turn));
    this.emit();
  }

  private emit(): void {
    for (const listener of this.listeners) listener();
  }

  private async requestCancel(key: string, turnId: string): Promise<void> {
    try {
      await cancelTurn(turnId);
    } catch {
      // The turn ended meanwhile (turn_not_running) or the network failed: its stream says which.
      this.update(key, (current) => ({ ...current, cancelling: false }));
    }
  }

  private settleWaiters(key: string, conversationId: string | undefined): void {
    const waiters = this.conversationWaiters.get(key);
    if (waiters === undefined) return;
    this.conversationWaiters.delete(key);
    for (const resolve of waiters) resolve(conversationId);
  }

  private async run(key: string, source: TurnSource): Promise<void> {
    const controller = new AbortController();
    this.controllers.set(key, controller);
    let previous = this.find(key)?.state ?? initialTurnState();
    const final = await runTurnStream(source, {
      signal: controller.signal,
      ...(this.options.maxReconnects === undefined ? {} : { maxReconnects: this.options.maxReconnects }),
      ...(this.options.reconnectDelayMs === undefined
        ? {}
        : { reconnectDelayMs: this.options.reconnectDelayMs }),
      onState: (state) => {
        const before = previous;
        previous = state;
        this.update(key, (turn) => ({
          ...turn,
          state,
          ...(turn.conversationId === undefined && state.conversationId !== undefined
            ? { conversationId: state.conversationId }
            : {}),
        }));
        if (before.conversationId === undefined && state.conversationId !== undefined) {
          this.settleWaiters(key, state.conversationId);
          // A new conversation: the list shows it from now on.
          void this.queryClient.invalidateQueries({ queryKey: chatKeys.conversations });
        }
        if (before.turnId === undefined && state.turnId !== undefined && this.cancelWanted.delete(key)) {
          void this.requestCancel(key, state.turnId);
        }
        if (state.title !== undefined && state.title !== before.title) {
          void this.queryClient.invalidateQueries({ queryKey: chatKeys.conversations });
        }
      },
    });
    this.controllers.delete(key);
    this.cancelWanted.delete(key);
    if (controller.signal.aborted) return;
    this.settleWaiters(key, final.conversationId);
    if (source.kind === 'resume' && final.status === 'failed' && final.lastEventId === 0) {
      // Nothing came back: the turn is unknown here or left no stream. The stored messages say all there is.
      this.turns = this.turns.filter((turn) => turn.key !== key);
      this.emit();
      return;
    }
    this.update(key, (turn) => ({ ...turn, state: final, endedAt: Date.now(), cancelling: false }));
    const conversationId = final.conversationId ?? this.find(key)?.conversationId;
    void this.queryClient.invalidateQueries({ queryKey: chatKeys.conversations });
    void this.queryClient.invalidateQueries({ queryKey: chatKeys.approvals });
    if (conversationId !== undefined) {
      void this.queryClient.invalidateQueries({ queryKey: chatKeys.conversation(conversationId) });
    }
  }
}

/** The latest live turn of a conversation. */
export function liveTurnOf(turns: readonly LiveTurn[], conversationId: string): LiveTurn | undefined {
  return turns.findLast((turn) => turn.conversationId === conversationId);
}
