import { status as GrpcStatus } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { GRPC_METADATA, HEADER, signCapToken, signPrincipal } from '@aibox/identity';

import {
  ALICE,
  metadataOf,
  ProbeClient,
  request,
  startTestApp,
  testKeys,
  TURN_ID,
  type TestApp,
} from './testdata/fixtures.js';
import { ProbeGrpcController, ProbeHttpController } from './testdata/probe.controllers.js';

const keys = testKeys();
const OTHER_TURN = '0190d5a2-7c1e-7b3a-9f10-000000000000';

function capToken(
  overrides: { uid?: string; turn?: string; caps?: string[] } = {},
  signWith = keys.capToken,
): string {
  return signCapToken(
    {
      turn: overrides.turn ?? TURN_ID,
      tid: ALICE.tid,
      uid: overrides.uid ?? ALICE.uid,
      caps: overrides.caps ?? ['sandbox:exec', 'memory:write'],
    },
    signWith,
  );
}

describe('CapabilityGuard over HTTP', () => {
  let server: TestApp;

  beforeAll(async () => {
    server = await startTestApp({ controllers: [ProbeHttpController], keys });
  });
  afterAll(async () => {
    await server.close();
  });

  function exec(headers: Record<string, string>): ReturnType<typeof request> {
    return request(server.baseUrl, '/v1/probe/exec', {
      method: 'POST',
      headers: {
        [HEADER.principal]: signPrincipal(ALICE, keys.principal),
        [HEADER.turnId]: TURN_ID,
        ...headers,
      },
    });
  }

  it('lets a cap token of the principal and turn that grants the capability through', async () => {
    const result = await exec({ [HEADER.capToken]: capToken() });

    expect(result.status).toBe(201);
    expect(result.body.caps).toEqual(['sandbox:exec', 'memory:write']);
  });

  it.each([
    ['no cap token', {}],
    ['a cap token without the capability', { [HEADER.capToken]: capToken({ caps: ['memory:write'] }) }],
    ['a cap token of another user', { [HEADER.capToken]: capToken({ uid: 'u-mallory' }) }],
    ['a cap token of another turn', { [HEADER.capToken]: capToken({ turn: OTHER_TURN }) }],
    ['a cap token signed with the principal keys', { [HEADER.capToken]: capToken({}, keys.principal) }],
  ])('answers 403 capability_missing for %s', async (_name, headers: Record<string, string>) => {
    const result = await exec(headers);

    expect(result.status).toBe(403);
    expect(result.body.code).toBe('capability_missing');
  });

  it('answers 401 principal_invalid before looking at the cap token', async () => {
    const result = await request(server.baseUrl, '/v1/probe/exec', {
      method: 'POST',
      headers: { [HEADER.capToken]: capToken(), [HEADER.turnId]: TURN_ID },
    });

    expect(result.status).toBe(401);
    expect(result.body.code).toBe('principal_invalid');
  });
});

describe('CapabilityGuard over gRPC', () => {
  let server: TestApp;
  let client: ProbeClient;

  beforeAll(async () => {
    server = await startTestApp({ controllers: [ProbeGrpcController], keys, grpc: true });
    client = new ProbeClient(server.grpcAddress);
  });
  afterAll(async () => {
    client.close();
    await server.close();
  });

  function exec(entries: Record<string, string>): ReturnType<ProbeClient['call']> {
    return client.call(
      'exec',
      {},
      metadataOf({
        [GRPC_METADATA.principal]: signPrincipal(ALICE, keys.principal),
        [GRPC_METADATA.turnId]: TURN_ID,
        ...entries,
      }),
    );
  }

  it('lets a cap token that grants the capability through', async () => {
    const result = await exec({ [GRPC_METADATA.capToken]: capToken() });

    expect(result.response?.caps).toEqual(['sandbox:exec', 'memory:write']);
  });

  it('answers PERMISSION_DENIED capability_missing without one', async () => {
    const result = await exec({ [GRPC_METADATA.capToken]: capToken({ caps: ['memory:write'] }) });

    expect(result.error?.code).toBe(GrpcStatus.PERMISSION_DENIED);
    expect(result.details?.reason).toBe('capability_missing');
  });
});
