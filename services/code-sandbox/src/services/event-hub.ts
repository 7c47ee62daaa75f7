import type { SandboxEvent } from '../repositories/sandbox.repository.js';

type Listener = (event: SandboxEvent) => void;

/** Pushes each committed event of a sandbox to its subscribers in this process, the moment it is written. */
export class EventHub {
  private readonly listeners = new Map<string, Set<Listener>>();

  publish(sandboxId: string, event: SandboxEvent): void {
    for (const listener of this.listeners.get(sandboxId) ?? []) listener(event);
  }

  subscribe(sandboxId: string, listener: Listener): () => void {
    let set = this.listeners.get(sandboxId);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(sandboxId, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(sandboxId);
    };
  }
}
