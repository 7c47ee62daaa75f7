import { createHash } from 'node:crypto';

import {
  Server,
  ServerCredentials,
  status,
  type sendUnaryData,
  type ServerReadableStream,
  type ServiceError,
} from '@grpc/grpc-js';

import {
  PublishStatus,
  TurnEventServiceService,
  type PublishResult,
  type PutArtifactHeader,
  type PutArtifactRequest,
  type PutArtifactResponse,
  type TurnEvent,
  type TurnEventServiceServer,
} from '@aibox/contracts';
import { GRPC_METADATA, verifyPrincipal, type KeySet, type Principal } from '@aibox/identity';

export interface RecordedCall {
  principal: Principal;
  events: TurnEvent[];
}

export interface RecordedArtifact {
  principal: Principal;
  header: PutArtifactHeader;
  /** Chunk messages after the header. */
  chunks: number;
  sha256: string;
  size: number;
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
  /** Stored bodies by lowercase hex SHA-256, as audit keeps them (content-addressed). */
  readonly artifacts = new Map<string, Buffer>();
  /** Every `PutArtifact` call that carried a valid principal and got to read its stream. */
  readonly artifactCalls: RecordedArtifact[] = [];
  /** `PutArtifact` calls that carried a valid principal, failed on purpose or not. */
  artifactAttempts = 0;
  /** Status codes to fail the next `PutArtifact` calls with, one per call, before reading the body. */
  failNextArtifacts: status[] = [];
  /** Changes the digest answered for a stored body, to act as a faulty audit. */
  answerSha256: (sha256: string) => string = (sha256) => sha256;

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
      putArtifact: (call, callback) => {
        void this.putArtifact(call, callback);
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

  /** Like audit: principal, header first, tenant of the principal, then the body hashed as it arrives. */
  private async putArtifact(
    call: ServerReadableStream<PutArtifactRequest, PutArtifactResponse>,
    callback: sendUnaryData<PutArtifactResponse>,
  ): Promise<void> {
    const [token] = call.metadata.get(GRPC_METADATA.principal);
    let principal: Principal;
    try {
      principal = verifyPrincipal(typeof token === 'string' ? token : undefined, this.keys);
    } catch {
      callback({ code: status.UNAUTHENTICATED, details: 'principal_invalid' });
      return;
    }
    this.artifactAttempts += 1;
    const failure = this.failNextArtifacts.shift();
    if (failure !== undefined) {
      callback({ code: failure, details: 'failing on purpose' });
      return;
    }
    let header: PutArtifactHeader | undefined;
    const parts: Buffer[] = [];
    try {
      for await (const message of call as AsyncIterable<PutArtifactRequest>) {
        const payload = message.payload;
        if (header === undefined) {
          if (payload?.$case !== 'header') {
            callback({ code: status.INVALID_ARGUMENT, details: 'artifact_header_missing' });
            return;
          }
          header = payload.value;
        } else if (payload?.$case === 'chunk') {
          parts.push(payload.value);
        }
      }
    } catch {
      // The client went away; nothing to answer.
      return;
    }
    if (header === undefined) {
      callback({ code: status.INVALID_ARGUMENT, details: 'artifact_header_missing' });
      return;
    }
    if (header.tenantId !== principal.tid) {
      callback({ code: status.PERMISSION_DENIED, details: 'tenant_mismatch' });
      return;
    }
    const body = Buffer.concat(parts);
    const sha256 = createHash('sha256').update(body).digest('hex');
    this.artifacts.set(sha256, body);
    this.artifactCalls.push({ principal, header, chunks: parts.length, sha256, size: body.length });
    callback(null, { sha256: this.answerSha256(sha256), size: body.length });
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
