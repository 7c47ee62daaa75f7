import type { Principal } from '@aibox/identity';

import { SandboxError } from '../errors/sandbox.error.js';
import type { SandboxEvent, SandboxRepository } from '../repositories/sandbox.repository.js';
import type { EventHub } from './event-hub.js';
import { sandboxView, type SandboxService, type SandboxView } from './sandbox.service.js';

/** What a subscriber gets: the state first (with the sequence it reflects), then events in order, live. */
export interface EventSubscription {
  readonly snapshot: { readonly sandbox: SandboxView; readonly seq: number };
  readonly history: readonly SandboxEvent[];
  /** Delivers each later event in order, the moment it is committed; returns the unsubscribe. */
  follow(listener: (event: SandboxEvent) => void): () => void;
}

/**
 * A sandbox's events for one subscriber, without a gap or a repeat between what was stored and what comes
 * live: the subscription to live events opens before the store is read, and holds what arrives meanwhile.
 */
export class EventStream {
  constructor(
    private readonly sandboxes: SandboxService,
    private readonly rows: SandboxRepository,
    private readonly hub: EventHub,
  ) {}

  async subscribe(principal: Principal, sandboxId: string, after: number): Promise<EventSubscription> {
    await this.sandboxes.visible(principal, sandboxId, { deleted: true });
    const held: SandboxEvent[] = [];
    let deliver: ((event: SandboxEvent) => void) | undefined;
    let last = after;
    const unsubscribe = this.hub.subscribe(sandboxId, (event) => {
      if (deliver === undefined) held.push(event);
      else if (event.seq > last) {
        last = event.seq;
        deliver(event);
      }
    });
    const read = await this.rows.snapshot(principal.tid, sandboxId, after);
    if (read === undefined) {
      unsubscribe();
      throw new SandboxError('sandbox_unknown');
    }
    const seq = read.lastSeq;
    last = Math.max(last, seq);
    return {
      snapshot: { sandbox: sandboxView(read.row), seq },
      history: read.events,
      follow: (listener) => {
        deliver = listener;
        for (const event of held) {
          if (event.seq > last) {
            last = event.seq;
            listener(event);
          }
        }
        held.length = 0;
        return unsubscribe;
      },
    };
  }
}
