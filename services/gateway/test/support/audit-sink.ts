import { Server, ServerCredentials, status, type Metadata } from '@grpc/grpc-js';

import {
  AuditServiceService,
  PublishStatus,
  TurnEventServiceService,
  type AuditServiceServer,
  type LogRequest,
  type TurnEvent,
  type TurnEventServiceServer,
} from '@aibox/contracts';
import { freePort } from '@aibox/testing';

/** A real gRPC audit (TurnEventService + AuditService) that records what it is sent. */
export class AuditSink {
  readonly events: TurnEvent[] = [];
  readonly logs: { request: LogRequest; metadata: Metadata }[] = [];
  private readonly server = new Server();
  target = '';

  static async start(): Promise<AuditSink> {
    const sink = new AuditSink();
    const turnEvents: TurnEventServiceServer = {
      publish: (call, callback) => {
        sink.events.push(...call.request.events);
        callback(null, {
          results: call.request.events.map((event) => ({
            eventId: event.eventId,
            status: PublishStatus.ACCEPTED,
            code: '',
          })),
        });
      },
      putArtifact: (call, callback) => {
        call.resume();
        callback({ code: status.UNIMPLEMENTED, details: 'no artifacts here' });
      },
    };
    const audit: AuditServiceServer = {
      log: (call, callback) => {
        sink.logs.push({ request: call.request, metadata: call.metadata });
        callback(null, {
          result: { eventId: call.request.event?.eventId ?? '', status: PublishStatus.ACCEPTED, code: '' },
        });
      },
    };
    sink.server.addService(TurnEventServiceService, turnEvents);
    sink.server.addService(AuditServiceService, audit);
    const port = await freePort();
    await new Promise<void>((resolve, reject) => {
      sink.server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (error) => {
        if (error === null) resolve();
        else reject(error);
      });
    });
    sink.target = `127.0.0.1:${port}`;
    return sink;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.tryShutdown(() => {
        resolve();
      });
    });
  }
}
