import { status as GrpcStatus } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { GRPC_METADATA } from '@aibox/identity';

import {
  metadataOf,
  ProbeClient,
  startTestApp,
  testKeys,
  TURN_ID,
  type TestApp,
} from '../auth/testdata/fixtures.js';
import { ProbeGrpcController, SECRET_FAILURE } from '../auth/testdata/probe.controllers.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

// Both wirings: the interceptor alone (Nest's own RPC exception handling forwards what it produces), and
// with the global HttpErrorFilter inherited by the gRPC microservice, as boot wires it.
describe.each([
  ['GrpcErrorInterceptor alone', false],
  ['GrpcErrorInterceptor with the inherited HttpErrorFilter', true],
])('%s', (_name, errorFilter) => {
  let server: TestApp;
  let client: ProbeClient;

  beforeAll(async () => {
    server = await startTestApp({
      controllers: [ProbeGrpcController],
      keys: testKeys(),
      grpc: true,
      globalGuard: false,
      errorFilter,
    });
    client = new ProbeClient(server.grpcAddress);
  });
  afterAll(async () => {
    client.close();
    await server.close();
  });

  it('sends a ServiceError with its gRPC status, message and an ErrorInfo trailer', async () => {
    const result = await client.call(
      'fail',
      { kind: 'service' },
      metadataOf({ [GRPC_METADATA.turnId]: TURN_ID }),
    );

    expect(result.error?.code).toBe(GrpcStatus.ABORTED);
    expect(result.error?.details).toBe('The probe has no attempts left: tried 3 times.');
    expect(result.details).toEqual({
      code: GrpcStatus.ABORTED,
      message: 'The probe has no attempts left: tried 3 times.',
      reason: 'probe_exhausted',
      domain: 'aibox.probe',
      metadata: {
        correlation_id: expect.stringMatching(UUID) as string,
        turn_id: TURN_ID,
        details: '{"attempts_left":0}',
      },
    });
  });

  it('sends any other error as INTERNAL naming only the correlation id, and logs it with its stack', async () => {
    server.logger.lines.length = 0;

    const result = await client.call('fail', { kind: 'plain' }, metadataOf({}));

    expect(result.error?.code).toBe(GrpcStatus.INTERNAL);
    const correlationId = result.details?.metadata.correlation_id ?? '';
    expect(correlationId).toMatch(UUID);
    expect(result.details?.reason).toBe('internal');
    expect(result.error?.details).toBe(
      `An internal error occurred; quote correlation id ${correlationId} when reporting it.`,
    );
    expect(JSON.stringify(result.details)).not.toContain('hunter2');
    expect(result.error?.details).not.toContain('hunter2');

    const line = server.logger.lines.find((entry) => entry.level === 'error');
    expect(line?.fields.correlation_id).toBe(correlationId);
    expect((line?.fields.err as Error).message).toBe(SECRET_FAILURE);
    expect((line?.fields.err as Error).stack).toContain('probe.controllers');
  });
});
