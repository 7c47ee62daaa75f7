import { createHash } from 'node:crypto';

import {
  Metadata,
  Server,
  ServerCredentials,
  credentials,
  loadPackageDefinition,
  status,
  type ServiceError,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  AuditServiceClient,
  AuditServiceService,
  GRPC_STATUS_DETAILS_KEY,
  PROTO_FILES,
  PROTO_INCLUDE_DIRS,
  PublishStatus,
  TurnEventServiceClient,
  TurnEventServiceService,
  decodeErrorDetails,
  encodeErrorDetails,
  isTurnEventType,
  type AuditServiceServer,
  type LogResponse,
  type PublishResponse,
  type PutArtifactRequest,
  type PutArtifactResponse,
  type TurnEvent,
  type TurnEventServiceServer,
} from '@aibox/contracts';

// A real grpc-js server built from the generated service definitions, and clients from both stacks a service
// may use: the generated ts-proto clients and @grpc/proto-loader (what NestJS loads at run time).
const received: TurnEvent[] = [];

const turnEvents: TurnEventServiceServer = {
  publish(call, callback) {
    received.push(...call.request.events);
    callback(null, {
      results: call.request.events.map((e) => ({
        eventId: e.eventId,
        status: PublishStatus.ACCEPTED,
        code: '',
      })),
    });
  },
  putArtifact(call, callback) {
    const hash = createHash('sha256');
    let size = 0;
    let sawHeader = false;
    call.on('data', (msg: PutArtifactRequest) => {
      if (msg.payload?.$case === 'header') {
        sawHeader = true;
      } else if (msg.payload?.$case === 'chunk') {
        hash.update(msg.payload.value);
        size += msg.payload.value.length;
      }
    });
    call.on('end', () => {
      if (!sawHeader) {
        callback({ code: status.INVALID_ARGUMENT, details: 'The stream must start with a header.' });
        return;
      }
      callback(null, { sha256: hash.digest('hex'), size });
    });
  },
};

const audit: AuditServiceServer = {
  log(call, callback) {
    const event = call.request.event;
    if (event === undefined || !isTurnEventType(event.type)) {
      const trailer = new Metadata();
      trailer.set(
        GRPC_STATUS_DETAILS_KEY,
        encodeErrorDetails({
          grpcCode: status.INVALID_ARGUMENT,
          message: 'The event type is not one of the known turn event types.',
          reason: 'event_type_unknown',
          domain: 'aibox.audit',
          metadata: { field: 'type' },
        }),
      );
      callback({ code: status.INVALID_ARGUMENT, details: 'event_type_unknown', metadata: trailer });
      return;
    }
    callback(null, { result: { eventId: event.eventId, status: PublishStatus.ACCEPTED, code: '' } });
  },
};

let server: Server;
let target: string;

beforeAll(async () => {
  server = new Server();
  server.addService(TurnEventServiceService, turnEvents);
  server.addService(AuditServiceService, audit);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => {
      if (err) reject(err);
      else resolve(p);
    });
  });
  target = `127.0.0.1:${port}`;
});

afterAll(() => {
  server.forceShutdown();
});

function event(overrides: Partial<TurnEvent> = {}): TurnEvent {
  return {
    eventId: '0190c3c4-0000-7000-8000-00000000000a',
    turnId: '0190c3c4-0000-7000-8000-000000000001',
    tenantId: 'acme',
    userId: 'u-1',
    service: 'gateway',
    type: 'turn_started',
    occurredAt: new Date('2026-01-02T03:04:05.678Z'),
    attributes: { route: '/v1/chat/stream', streaming: true, depth: 2, tags: ['a', 'b'], extra: null },
    artifacts: [{ kind: 'prompt', sha256: 'ab'.repeat(32), size: 1234, contentType: 'application/json' }],
    ...overrides,
  };
}

describe('generated gRPC contracts over the wire', () => {
  it('carries a TurnEvent with its timestamp, JSON attributes and artifacts intact', async () => {
    const client = new TurnEventServiceClient(target, credentials.createInsecure());
    const sent = event({ eventId: '0190c3c4-0000-7000-8000-0000000000b1' });

    const response = await new Promise<PublishResponse>((resolve, reject) => {
      client.publish({ events: [sent] }, (err, res) => {
        if (err) reject(err);
        else resolve(res);
      });
    });
    client.close();

    expect(response.results).toEqual([{ eventId: sent.eventId, status: PublishStatus.ACCEPTED, code: '' }]);
    expect(received.find((e) => e.eventId === sent.eventId)).toEqual(sent);
  });

  it('streams an artifact body in chunks and gets back its digest and size', async () => {
    const client = new TurnEventServiceClient(target, credentials.createInsecure());
    const body = Buffer.alloc(3 * 1024 * 1024 + 17, 7);

    const response = await new Promise<PutArtifactResponse>((resolve, reject) => {
      const stream = client.putArtifact((err, res) => {
        if (err) reject(err);
        else resolve(res);
      });
      stream.write({
        payload: {
          $case: 'header',
          value: { tenantId: 'acme', turnId: 't', eventId: 'e', kind: 'response', contentType: 'text/plain' },
        },
      });
      for (let offset = 0; offset < body.length; offset += 1024 * 1024) {
        stream.write({ payload: { $case: 'chunk', value: body.subarray(offset, offset + 1024 * 1024) } });
      }
      stream.end();
    });
    client.close();

    expect(response).toEqual({ sha256: createHash('sha256').update(body).digest('hex'), size: body.length });
  });

  it('delivers the snake_case reason of a failed call in google.rpc.ErrorInfo', async () => {
    const client = new AuditServiceClient(target, credentials.createInsecure());

    const error = await new Promise<ServiceError>((resolve, reject) => {
      client.log({ event: event({ type: 'turn_exploded' }) }, (err, res: LogResponse) => {
        if (err) resolve(err);
        else reject(new Error(`expected a failure, got ${JSON.stringify(res)}`));
      });
    });
    client.close();

    expect(error.code).toBe(status.INVALID_ARGUMENT);
    const [trailer] = error.metadata.get(GRPC_STATUS_DETAILS_KEY);
    expect(Buffer.isBuffer(trailer)).toBe(true);
    expect(decodeErrorDetails(trailer as Buffer)).toEqual({
      code: status.INVALID_ARGUMENT,
      message: 'The event type is not one of the known turn event types.',
      reason: 'event_type_unknown',
      domain: 'aibox.audit',
      metadata: { field: 'type' },
    });
  });

  it('interoperates with a client built by @grpc/proto-loader from PROTO_FILES', async () => {
    const definition = loadSync([...PROTO_FILES], {
      includeDirs: [...PROTO_INCLUDE_DIRS],
      longs: Number,
      defaults: true,
    });
    const loaded = loadPackageDefinition(definition) as unknown as {
      aibox: {
        v1: {
          TurnEventService: new (t: string, c: ReturnType<typeof credentials.createInsecure>) => LoaderClient;
        };
      };
    };
    const client = new loaded.aibox.v1.TurnEventService(target, credentials.createInsecure());
    const eventId = '0190c3c4-0000-7000-8000-0000000000c1';

    const response = await new Promise<{ results: { eventId: string; status: number }[] }>(
      (resolve, reject) => {
        client.Publish(
          {
            events: [
              {
                eventId,
                tenantId: 'acme',
                type: 'model_invoked',
                occurredAt: { seconds: 1_767_323_045, nanos: 678_000_000 },
                attributes: { fields: { model: { stringValue: 'default' } } },
                artifacts: [{ kind: 'prompt', sha256: 'cd'.repeat(32), size: 42, contentType: 'text/plain' }],
              },
            ],
          },
          (err, res) => {
            if (err) reject(err);
            else resolve(res as { results: { eventId: string; status: number }[] });
          },
        );
      },
    );
    client.close();

    expect(response.results).toEqual([{ eventId, status: PublishStatus.ACCEPTED, code: '' }]);
    const got = received.find((e) => e.eventId === eventId);
    expect(got?.occurredAt?.toISOString()).toBe('2026-01-02T03:04:05.678Z');
    expect(got?.attributes).toEqual({ model: 'default' });
    expect(got?.artifacts[0]?.size).toBe(42);
  });
});

interface LoaderClient {
  Publish(request: unknown, callback: (err: ServiceError | null, res: unknown) => void): void;
  close(): void;
}
