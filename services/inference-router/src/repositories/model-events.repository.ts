import type { AuditClient } from '@aibox/audit-client';

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
 * both). Neither ever makes the data path wait: the event queues (and spools when audit is away); an upload
 * that fails is logged with its ids, and the event still proves what the body was by its digest.
 */
export class ModelEventsRepository {
  constructor(private readonly client: AuditClient) {}

  publish(
    turn: TurnOf,
    type: 'model_invoked' | 'model_response',
    attributes: Record<string, unknown>,
    bodies: readonly CapturedBody[],
    occurredAt: Date,
  ): void {
    this.client.enqueueWithBodies({ ...turn, type, occurredAt, attributes }, bodies);
  }
}
