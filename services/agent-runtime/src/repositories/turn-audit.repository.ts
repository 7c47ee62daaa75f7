import type { AuditClient, TurnEventInput } from '@aibox/audit-client';
import { newTurnId } from '@aibox/identity';
import type { Logger } from '@aibox/platform';

export interface TurnRef {
  readonly turnId: string;
  readonly tenantId: string;
  readonly userId: string;
}

/** A body captured beside an event (the prompt, a tool's arguments or output). */
export interface Captured {
  readonly kind: string;
  readonly contentType: string;
  readonly body: string;
}

type RuntimeEventType =
  | 'prompt_generated'
  | 'tool_called'
  | 'tool_returned'
  | 'approval_requested'
  | 'approval_decided'
  | 'turn_failed'
  | 'turn_sealed';

/**
 * agent-runtime's turn events (ARCHITECTURE §6) through `@aibox/audit-client`. Events are queued (never
 * making the turn wait) with their bodies uploaded beside them; `settle` waits until everything queued so far
 * is committed, so the closing event goes out after the turn's other events.
 */
export class TurnAuditRepository {
  constructor(
    private readonly client: AuditClient,
    private readonly logger: Logger,
  ) {}

  record(
    turn: TurnRef,
    type: RuntimeEventType,
    attributes: Record<string, unknown>,
    bodies: readonly Captured[] = [],
  ): string {
    const eventId = newTurnId();
    const artifacts: NonNullable<TurnEventInput['artifacts']> = [];
    for (const body of bodies) {
      try {
        const { ref, stored } = this.client.attachArtifact({ ...turn, eventId, ...body });
        artifacts.push(ref);
        stored.catch((error: unknown) => {
          this.logger.warn(
            { err: error, turn_id: turn.turnId, event_id: eventId, kind: body.kind },
            'a captured body could not be stored in audit',
          );
        });
      } catch (error: unknown) {
        this.logger.error(
          { err: error, turn_id: turn.turnId, event_id: eventId, kind: body.kind },
          'a captured body was refused before upload',
        );
      }
    }
    this.client.enqueue({ ...turn, eventId, type, occurredAt: new Date(), attributes, artifacts });
    return eventId;
  }

  /** Resolves once every event queued before the call is committed, spooled or given up on. */
  settle(): Promise<void> {
    return this.client.flush();
  }
}
