import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { GRPC_METADATA, HEADER, verifyPrincipal, type Principal } from '@aibox/identity';

import { principalHeaders, principalMetadata } from './outgoing-identity.js';
import {
  ALICE,
  nowSeconds,
  ProbeClient,
  request,
  startTestApp,
  testKeys,
  TURN_ID,
  type TestApp,
} from './testdata/fixtures.js';
import { ProbeGrpcController, ProbeHttpController } from './testdata/probe.controllers.js';

const keys = testKeys();

// A principal verified at the start of a long turn, whose stamp expired long ago.
const received: Principal = { ...ALICE, iat: nowSeconds() - 3600, exp: nowSeconds() - 3540 };

describe('re-stamping a principal for outgoing calls', () => {
  it('signs a fresh principal for the same identity, with the turn id and cap token', () => {
    const headers = principalHeaders(received, keys.principal, {
      turnId: TURN_ID,
      capToken: 'v1.c1.cap.mac',
    });

    const stamped = verifyPrincipal(headers[HEADER.principal], keys.principal);
    expect(stamped).toMatchObject({ ...ALICE });
    expect(stamped.iat).toBeGreaterThan(received.exp);
    expect(headers).toMatchObject({
      [HEADER.turnId]: TURN_ID,
      [HEADER.capToken]: 'v1.c1.cap.mac',
      [HEADER.tenantId]: 'acme',
      [HEADER.userId]: 'u-alice',
    });
  });

  it('omits the turn id and cap token when there are none', () => {
    const metadata = principalMetadata(received, keys.principal);

    expect(metadata.get(GRPC_METADATA.turnId)).toEqual([]);
    expect(metadata.get(GRPC_METADATA.capToken)).toEqual([]);
    expect(verifyPrincipal(metadata.get(GRPC_METADATA.principal)[0] as string, keys.principal).uid).toBe(
      'u-alice',
    );
  });

  describe('against a service', () => {
    let server: TestApp;
    let client: ProbeClient;

    beforeAll(async () => {
      server = await startTestApp({
        controllers: [ProbeHttpController, ProbeGrpcController],
        keys,
        grpc: true,
      });
      client = new ProbeClient(server.grpcAddress);
    });
    afterAll(async () => {
      client.close();
      await server.close();
    });

    it('is accepted over HTTP', async () => {
      const result = await request(server.baseUrl, '/v1/probe/whoami', {
        headers: principalHeaders(received, keys.principal, { turnId: TURN_ID }),
      });

      expect(result.status).toBe(200);
      expect(result.body).toMatchObject({ uid: 'u-alice', turnId: TURN_ID });
    });

    it('is accepted over gRPC', async () => {
      const result = await client.call(
        'whoami',
        {},
        principalMetadata(received, keys.principal, { turnId: TURN_ID }),
      );

      expect(result.response).toMatchObject({ uid: 'u-alice', turnId: TURN_ID });
    });
  });
});
