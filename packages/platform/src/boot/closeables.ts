/** Anything holding connections or files: a SQL pool, a Redis client, an embedded database. */
export interface Closeable {
  close(): Promise<void> | void;
}

export type CloseFailureListener = (name: string, error: unknown) => void;

/**
 * What the service must release at shutdown, closed after the HTTP and gRPC servers have drained (so no
 * request still in flight loses its store), newest first (so a store closes before what it was built on).
 * Injected as `CLOSEABLES`. Nest's `onModuleDestroy` runs before the servers drain: do not close stores
 * there.
 */
export class Closeables {
  private readonly entries: { name: string; resource: Closeable }[] = [];
  private closed = false;

  /** Registers `resource` under `name` (named in the log if closing it fails); returns it for chaining. */
  add<T extends Closeable>(name: string, resource: T): T {
    if (this.closed) {
      throw new Error(`cannot register "${name}": the service has already shut down`);
    }
    this.entries.push({ name, resource });
    return resource;
  }

  /** Closes everything registered, newest first; a failure is reported and does not stop the others. */
  async closeAll(onFailure: CloseFailureListener): Promise<void> {
    this.closed = true;
    for (const { name, resource } of this.entries.splice(0).reverse()) {
      try {
        await resource.close();
      } catch (error: unknown) {
        onFailure(name, error);
      }
    }
  }
}

/** Injection token of the service's {@link Closeables}. */
export const CLOSEABLES: unique symbol = Symbol('aibox.CLOSEABLES');
