import type { AuditClient } from '@aibox/audit-client';

export interface TurnRef {
  readonly turnId: string;
  readonly tenantId: string;
  readonly userId: string;
}

/**
 * Publishes the gateway's turn events to audit through `@aibox/audit-client`: `enqueue` never blocks or
 * throws, so a slow or absent audit never delays a response; queued events are flushed on shutdown.
 */
export class TurnEventsRepository {
  constructor(private readonly client: AuditClient) {}

  started(turn: TurnRef, attributes: Record<string, unknown>): void {
    this.client.enqueue({ ...turn, type: 'turn_started', attributes });
  }

  sealed(turn: TurnRef, attributes: Record<string, unknown>): void {
    this.client.enqueue({ ...turn, type: 'turn_sealed', attributes });
  }
}
