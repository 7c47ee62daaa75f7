import type { Logger } from '@aibox/platform';

import type { ConversationRepository } from '../repositories/conversation.repository.js';

export interface ConversationPurgerOptions {
  /** `AGENT_PURGE_AFTER_S`: a deleted conversation is kept this long. */
  readonly purgeAfterS: number;
  /** `AGENT_PURGE_INTERVAL_MS`. */
  readonly intervalMs: number;
  /** Milliseconds since the epoch; tests move it. */
  readonly now?: () => number;
}

/**
 * Removes soft-deleted conversations (and their messages) once they have been deleted for
 * `AGENT_PURGE_AFTER_S`. A failed sweep is logged and retried at the next interval: a purge that is late
 * harms nobody, a crash would.
 */
export class ConversationPurger {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  private closed = false;
  private readonly now: () => number;

  constructor(
    private readonly conversations: Pick<ConversationRepository, 'purge'>,
    private readonly options: ConversationPurgerOptions,
    private readonly logger: Logger,
  ) {
    this.now = options.now ?? Date.now;
  }

  /** Sweeps now (boot), then every interval; the timer never keeps the process alive. */
  start(): this {
    if (this.closed || this.timer !== undefined) return this;
    this.timer = setInterval(() => {
      void this.sweep();
    }, this.options.intervalMs);
    this.timer.unref();
    // A service restarted more often than the interval would otherwise never purge.
    void this.sweep();
    return this;
  }

  /** One sweep; a sweep still running is joined, not doubled. Resolves with how many were purged. */
  sweep(): Promise<number> {
    if (this.closed) return Promise.resolve(0);
    this.running ??= this.purge().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Stops the timer and waits for a running sweep, so the store it uses is closed after it. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private async purge(): Promise<number> {
    const deletedBefore = new Date(this.now() - this.options.purgeAfterS * 1000);
    try {
      const purged = await this.conversations.purge(deletedBefore);
      // An empty sweep every interval is routine: kept out of the info log.
      this.logger[purged > 0 ? 'info' : 'debug'](
        { purged, deleted_before: deletedBefore.toISOString() },
        'deleted conversations purged',
      );
      return purged;
    } catch (error: unknown) {
      this.logger.error({ err: error }, 'purging deleted conversations failed; the next sweep retries');
      return 0;
    }
  }
}
