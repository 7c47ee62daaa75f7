import type { AuditClient, CapturedBody } from '@aibox/audit-client';

export interface TurnRef {
  readonly turnId: string;
  readonly tenantId: string;
  readonly userId: string;
}

type RuntimeEventType =
  | 'prompt_generated'
  | 'tool_called'
  | 'tool_returned'
  | 'approval_requested'
  | 'approval_decided'
  | 'sandbox_exec'
  | 'turn_failed'
  | 'turn_sealed';

/**
 * agent-runtime's turn events (ARCHITECTURE §6) through `@aibox/audit-client`. Events are queued (never
 * making the turn wait) with their bodies uploaded beside them; `settle` waits until everything queued so far
 * is committed, so the closing event goes out after the turn's other events.
 */
export class TurnAuditRepository {
  constructor(private readonly client: AuditClient) {}

  record(
    turn: TurnRef,
    type: RuntimeEventType,
    attributes: Record<string, unknown>,
    bodies: readonly CapturedBody[] = [],
  ): string {
    return this.client.enqueueWithBodies({ ...turn, type, occurredAt: new Date(), attributes }, bodies);
  }

  /** Resolves once every event queued before the call is committed, spooled or given up on. */
  settle(): Promise<void> {
    return this.client.flush();
  }
}
