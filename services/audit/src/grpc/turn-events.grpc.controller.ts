import { Readable } from 'node:stream';

import { Controller, Inject } from '@nestjs/common';
import type { sendUnaryData, ServerReadableStream } from '@grpc/grpc-js';
import { Ctx, GrpcMethod, GrpcStreamCall, Payload } from '@nestjs/microservices';

import type { LogResponse, PublishResponse, PutArtifactResponse } from '@aibox/contracts';
import type { Principal } from '@aibox/identity';
import { CurrentPrincipal, toGrpcError } from '@aibox/platform';

import { ArtifactService } from '../services/artifact.service.js';
import type { WireTurnEvent } from '../services/event-normalizer.js';
import { IngestService } from '../services/ingest.service.js';

interface WirePublishRequest {
  events?: WireTurnEvent[];
}

interface WireLogRequest {
  event?: WireTurnEvent | null;
}

interface WirePutArtifactRequest {
  header?: {
    tenantId?: string;
    turnId?: string;
    eventId?: string;
    kind?: string;
    contentType?: string;
  } | null;
  chunk?: Buffer | Uint8Array | null;
  payload?: string;
}

/** `TurnEventService` (every service publishes its turn events) and `AuditService.Log` (the gateway's `POST /v1/audit`). */
@Controller()
export class TurnEventsGrpcController {
  constructor(
    @Inject(IngestService) private readonly ingest: IngestService,
    @Inject(ArtifactService) private readonly artifacts: ArtifactService,
  ) {}

  @GrpcMethod('TurnEventService', 'Publish')
  async publish(
    @Payload() request: WirePublishRequest,
    @CurrentPrincipal() principal: Principal,
  ): Promise<PublishResponse> {
    return { results: await this.ingest.publish(principal, request.events ?? []) };
  }

  @GrpcMethod('AuditService', 'Log')
  async log(
    @Payload() request: WireLogRequest,
    @CurrentPrincipal() principal: Principal,
  ): Promise<LogResponse> {
    const [result] = await this.ingest.publish(principal, [request.event ?? {}]);
    return { result };
  }

  /**
   * The raw call stream rather than an Observable: a stream is paused until read (guards run first and lose
   * nothing) and gives backpressure, so a large body flows to the object store at the store's pace.
   */
  @GrpcStreamCall('TurnEventService', 'PutArtifact')
  putArtifact(
    @Payload() call: ServerReadableStream<WirePutArtifactRequest, PutArtifactResponse>,
    @Ctx() callback: sendUnaryData<PutArtifactResponse>,
    @CurrentPrincipal() principal: Principal,
  ): void {
    void this.receiveArtifact(call, principal).then(
      (response) => {
        callback(null, response);
      },
      (error: unknown) => {
        callback(toGrpcError(error, { service: 'audit' }));
      },
    );
  }

  private async receiveArtifact(
    call: ServerReadableStream<WirePutArtifactRequest, PutArtifactResponse>,
    principal: Principal,
  ): Promise<PutArtifactResponse> {
    const messages = call[Symbol.asyncIterator]() as AsyncIterator<WirePutArtifactRequest>;
    const first = await messages.next();
    const header = first.done === true ? undefined : first.value.header;
    async function* chunks(): AsyncGenerator<Uint8Array> {
      for (;;) {
        const next = await messages.next();
        if (next.done === true) return;
        const chunk = next.value.chunk;
        if (chunk !== null && chunk !== undefined && chunk.length > 0) yield chunk;
      }
    }
    return this.artifacts.put(
      principal.tid,
      header ?? undefined,
      Readable.from(chunks(), { objectMode: false }),
    );
  }
}
