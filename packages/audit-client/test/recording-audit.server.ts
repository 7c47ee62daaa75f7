import { Server, ServerCredentials, status, type ServiceError } from '@grpc/grpc-js';

import {
  PublishStatus,
  TurnEventServiceService,
  type PublishResult,
  type TurnEvent,
  type TurnEventServiceServer,
} from '@aibox/contracts';
import { GRPC_METADATA, verifyPrincipal, type KeySet, type Principal } from '@aibox/identity';

export interface RecordedCall {
  principal: Principal;
  events: TurnEvent[];
}

/**
 * A real grpc-js server speaking `aibox.v1.TurnEventService` from the generated definition. Like audit, it
 * verifies the caller's principal, refuses events of another tenant, and is idempotent by event id.
 */
export class RecordingAuditServer {
  /** Committed events by id, first write wins. */
  readonly events = new Map<string, TurnEvent>();
  /** Ids in commit order (ACCEPTED only). */
  readonly accepted: string[] = [];
  /** Every call that carried a valid principal, failed or not. */
  readonly calls: RecordedCall[] = [];
  /** How many calls carried each event id. */
  readonly attempts = new Map<string, number>();
  /** Status codes to fail the next calls with, one per call. */
  failNext: status[] = [];
  /** A REJECTED code for events audit would refuse for good. */
  rejectCode: (event: TurnEvent) => string | undefined = () => undefined;
  /** While set, calls wait until {@link release}. */
  hold = false;

  private readonly keys: KeySet;
  private server: Server | undefined;
  private held: (() => void)[] = [];

  constructor(keys: KeySet) {
    this.keys = keys;
  }

  get heldCalls(): number {
    return this.held.length;
  }

  async start(port = 0): Promise<number> {
    const server = new Server();
    const impl: TurnEventServiceServer = {
      publish: (call, callback) => {
        const [token] = call.metadata.get(GRPC_METADATA.principal);
        let principal: Principal;
        try {
          principal = verifyPrincipal(typeof token === 'string' ? token : undefined, this.keys);
        } catch {
          callback({ code: status.UNAUTHENTICATED, details: 'principal_invalid' });
          return;
        }
        this.calls.push({ principal, events: call.request.events });
        for (const event of call.request.events) {
          this.attempts.set(event.eventId, (this.attempts.get(event.eventId) ?? 0) + 1);
        }
        const failure = this.failNext.shift();
        if (failure !== undefined) {
          const error: Partial<ServiceError> = { code: failure, details: 'failing on purpose' };
          callback(error);
          return;
        }
        const answer = (): void => {
          callback(null, { results: call.request.events.map((event) => this.commit(principal, event)) });
        };
        if (this.hold) {
          this.held.push(answer);
        } else {
          answer();
        }
      },
      putArtifact: (_call, callback) => {
        callback({ code: status.UNIMPLEMENTED, details: 'not used by these tests' });
      },
    };
    server.addService(TurnEventServiceService, impl);
    const bound = await new Promise<number>((resolve, reject) => {
      server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (error, p) => {
        if (error) {
          reject(error);
        } else {
          resolve(p);
        }
      });
    });
    this.server = server;
    return bound;
  }

  release(): void {
    this.hold = false;
    const held = this.held;
    this.held = [];
    for (const answer of held) {
      answer();
    }
  }

  stop(): void {
    this.server?.forceShutdown();
    this.server = undefined;
  }

  private commit(principal: Principal, event: TurnEvent): PublishResult {
    if (event.tenantId !== principal.tid) {
      return { eventId: event.eventId, status: PublishStatus.REJECTED, code: 'tenant_mismatch' };
    }
    const code = this.rejectCode(event);
    if (code !== undefined) {
      return { eventId: event.eventId, status: PublishStatus.REJECTED, code };
    }
    if (this.events.has(event.eventId)) {
      return { eventId: event.eventId, status: PublishStatus.DUPLICATE, code: '' };
    }
    this.events.set(event.eventId, event);
    this.accepted.push(event.eventId);
    return { eventId: event.eventId, status: PublishStatus.ACCEPTED, code: '' };
  }
}
