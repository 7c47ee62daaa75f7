import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { canonicalJson, GRPC_METADATA, HEADER, signPrincipal } from '@aibox/identity';

import {
  ALICE,
  metadataOf,
  nowSeconds,
  ProbeClient,
  request,
  signRaw,
  startTestApp,
  testKeys,
  TURN_ID,
  type TestApp,
} from './testdata/fixtures.js';
import { ProbeGrpcController, ProbeHttpController } from './testdata/probe.controllers.js';

const keys = testKeys();
const otherKeys = testKeys();

function tamper(token: string): string {
  const [version, kid, payload = '', mac] = token.split('.');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
  const forged = Buffer.from(canonicalJson({ ...claims, tid: 'evil-corp' }), 'utf8').toString('base64url');
  return [version, kid, forged, mac].join('.');
}

/** The ways a principal is wrong, each built as an attacker or a broken peer would, and the logged reason. */
const REJECTED: [string, () => string, string][] = [
  [
    'tampered (claims changed after signing)',
    () => tamper(signPrincipal(ALICE, keys.principal)),
    'signature_invalid',
  ],
  [
    'expired (issued an hour ago)',
    () => signPrincipal(ALICE, keys.principal, { now: nowSeconds() - 3600 }),
    'token_expired',
  ],
  [
    'signed with another key under the same kid',
    () => signPrincipal(ALICE, otherKeys.principal),
    'signature_invalid',
  ],
  [
    'non-canonical payload with a valid MAC',
    () => {
      const iat = nowSeconds();
      // The same claims with the keys out of RFC 8785 order.
      const { uid, tid, email, roles, iss, sub } = ALICE;
      return signRaw(
        JSON.stringify({ uid, tid, email, roles, iss, sub, iat, exp: iat + 60 }),
        keys.principal,
      );
    },
    'payload_not_canonical',
  ],
  ['garbage', () => 'not-a-token', 'token_malformed'],
];

describe('PrincipalGuard over HTTP', () => {
  let server: TestApp;

  beforeAll(async () => {
    server = await startTestApp({ controllers: [ProbeHttpController], keys });
  });
  afterAll(async () => {
    await server.close();
  });

  it.each(REJECTED)('answers 401 principal_invalid for a %s principal', async (_name, token, reason) => {
    const presented = token();
    server.logger.lines.length = 0;

    const result = await request(server.baseUrl, '/v1/probe/whoami', {
      headers: { [HEADER.principal]: presented },
    });

    expect(result.status).toBe(401);
    expect(result.body).toMatchObject({ code: 'principal_invalid', error: expect.any(String) as string });
    // The precise reason goes to a debug log only, and the token itself nowhere.
    expect(result.text).not.toContain(reason);
    expect(result.text).not.toMatch(/signature|expired|canonical|malformed/i);
    const rejection = server.logger.lines.find((line) => line.message === 'principal rejected');
    expect(rejection).toMatchObject({ level: 'debug', fields: { reason, transport: 'http' } });
    expect(server.logger.text()).not.toContain(presented);
  });

  it('answers 401 principal_invalid when no principal is presented', async () => {
    const result = await request(server.baseUrl, '/v1/probe/whoami');

    expect(result.status).toBe(401);
    expect(result.body.code).toBe('principal_invalid');
  });

  it('accepts a principal that expired less than 30 s ago (clock skew)', async () => {
    const token = signPrincipal(ALICE, keys.principal, { now: nowSeconds() - 80 });

    const result = await request(server.baseUrl, '/v1/probe/whoami', {
      headers: { [HEADER.principal]: token },
    });

    expect(result.status).toBe(200);
  });

  it('hands a valid principal to the handler with its fields, and the turn id to the context', async () => {
    const result = await request(server.baseUrl, '/v1/probe/whoami', {
      headers: { [HEADER.principal]: signPrincipal(ALICE, keys.principal), [HEADER.turnId]: TURN_ID },
    });

    expect(result.status).toBe(200);
    expect(result.body).toMatchObject({
      tid: 'acme',
      uid: 'u-alice',
      email: 'alice@acme.test',
      roles: ['member'],
      turnId: TURN_ID,
      contextTid: 'acme',
    });
  });

  it('ignores a turn id that is not a UUID', async () => {
    const result = await request(server.baseUrl, '/v1/probe/whoami', {
      headers: { [HEADER.principal]: signPrincipal(ALICE, keys.principal), [HEADER.turnId]: 'turn-1; drop' },
    });

    expect(result.status).toBe(200);
    expect(result.body.turnId).toBe('');
  });

  it('lets @Public() routes through without a principal', async () => {
    const result = await request(server.baseUrl, '/v1/probe/public');

    expect(result.status).toBe(200);
    expect(result.body.hasPrincipal).toBe(false);
  });

  it('answers 403 forbidden when the principal lacks the role @RequireRole() names', async () => {
    const member = await request(server.baseUrl, '/v1/probe/admin', {
      headers: { [HEADER.principal]: signPrincipal(ALICE, keys.principal) },
    });
    const admin = await request(server.baseUrl, '/v1/probe/admin', {
      headers: {
        [HEADER.principal]: signPrincipal({ ...ALICE, roles: ['member', 'admin'] }, keys.principal),
      },
    });

    expect(member.status).toBe(403);
    expect(member.body.code).toBe('forbidden');
    expect(admin.status).toBe(200);
  });
});

describe('PrincipalGuard over gRPC', () => {
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

  it.each(REJECTED)('answers UNAUTHENTICATED principal_invalid for a %s principal', async (_name, token) => {
    const result = await client.call('whoami', {}, metadataOf({ [GRPC_METADATA.principal]: token() }));

    expect(result.error?.code).toBe(16);
    expect(result.details).toMatchObject({ code: 16, reason: 'principal_invalid', domain: 'aibox.probe' });
    expect(result.error?.details).not.toMatch(/signature|expired|canonical|malformed/i);
  });

  it('answers UNAUTHENTICATED when no principal is presented', async () => {
    const result = await client.call('whoami', {}, metadataOf({}));

    expect(result.error?.code).toBe(16);
    expect(result.details?.reason).toBe('principal_invalid');
  });

  it('hands a valid principal to the @GrpcMethod handler with its fields', async () => {
    const result = await client.call(
      'whoami',
      {},
      metadataOf({
        [GRPC_METADATA.principal]: signPrincipal(ALICE, keys.principal),
        [GRPC_METADATA.turnId]: TURN_ID,
      }),
    );

    expect(result.error).toBeUndefined();
    expect(result.response).toMatchObject({
      tid: 'acme',
      uid: 'u-alice',
      email: 'alice@acme.test',
      roles: ['member'],
      turnId: TURN_ID,
      contextTid: 'acme',
    });
  });
});
