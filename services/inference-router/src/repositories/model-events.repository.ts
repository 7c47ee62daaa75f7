import type { AuditClient, TurnEventInput } from '@aibox/audit-client';
import { newTurnId } from '@aibox/identity';
import type { Logger } from '@aibox/platform';

export interface TurnOf {
  readonly turnId: string;
  readonly tenantId: string;
  readonly userId: string;
}

/** A captured body: what was sent to a provider, or what the caller received. */
export interface CapturedBody {
  readonly kind: 'request' | 'response';
  readonly contentType: string;
  readonly body: Buffer | string;
}

/**
 * `model_invoked` / `model_response` turn events (ARCHITECTURE §6) through `@aibox/audit-client`: the event
 * carries each body's digest, and the body itself is uploaded beside it with `PutArtifact` (hashed once for
 * both). Neither ever makes the data path wait: `enqueue` queues (and spools when audit is away); an upload
 * that fails is logged with its ids, and the event still proves what the body was by its digest.
 */
export class ModelEventsRepository {
  constructor(
    private readonly client: AuditClient,
    private readonly logger: Logger,
  ) {}

  publish(
    turn: TurnOf,
    type: 'model_invoked' | 'model_response',
    attributes: Record<string, unknown>,
    bodies: readonly CapturedBody[],
    occurredAt: Date,
  ): void {
    const eventId = newTurnId();
    const artifacts: NonNullable<TurnEventInput['artifacts']> = [];
    for (const body of bodies) {
      try {
        const { ref, stored } = this.client.attachArtifact({
          ...turn,
          eventId,
          kind: body.kind,
          contentType: body.contentType,
          body: body.body,
        });
        artifacts.push(ref);
        stored.catch((error: unknown) => {
          this.logger.warn(
            { err: error, turn_id: turn.turnId, event_id: eventId, kind: body.kind },
            'a captured body could not be stored in audit',
          );
        });
      } catch (error: unknown) {
        // Runs off the request's path (a timer): a refused body is logged, and the event still goes out.
        this.logger.error(
          { err: error, turn_id: turn.turnId, event_id: eventId, kind: body.kind },
          'a captured body was refused before upload',
        );
      }
    }
    this.client.enqueue({ ...turn, eventId, type, occurredAt, attributes, artifacts });
  }
}
