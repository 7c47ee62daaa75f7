import { createHmac } from 'node:crypto';

import { GUARDS_METADATA } from '@nestjs/common/constants.js';
import { base64url } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { HEADER, isSpoofableHeader, verifyCapToken, verifyPrincipal } from '@aibox/identity';
import { HEALTH_ROUTES, listRouteAuthDecisions } from '@aibox/platform';

import { GatewayAuthGuard } from '../src/controllers/gateway-auth.guard.js';
import { ROUTE_CLASS_CAPS, ROUTES, type Route, type RouteClass } from '../src/services/route-table.js';
import { AuditSink } from './support/audit-sink.js';
import { bearer, send } from './support/client.js';
import { Downstream, type Recorded } from './support/downstream.js';
import { startGateway, type TestGateway } from './support/gateway.js';
import { TestIssuer } from './support/oidc-issuer.js';

/** One HTTP route per route class that forwards to a downstream. */
const FORWARDED: readonly { routeClass: RouteClass; method: string; path: string; downstreamPath: string }[] =
  [
    { routeClass: 'chat', method: 'POST', path: '/v1/chat/stream', downstreamPath: '/v1/chat/stream' },
    {
      routeClass: 'memory',
      method: 'GET',
      path: '/v1/memory?scope=user',
      downstreamPath: '/v1/memory?scope=user',
    },
    {
      routeClass: 'guardrail',
      method: 'POST',
      path: '/v1/guard/deidentify',
      downstreamPath: '/v1/guard/deidentify',
    },
    {
      routeClass: 'knowledge',
      method: 'POST',
      path: '/v1/knowledge/search',
      downstreamPath: '/v1/knowledge/search',
    },
    { routeClass: 'audit', method: 'GET', path: '/v1/receipts/abc', downstreamPath: '/v1/receipts/abc' },
    { routeClass: 'inference', method: 'GET', path: '/v1/models', downstreamPath: '/v1/models' },
    { routeClass: 'sandbox', method: 'GET', path: '/v1/sandbox/sandboxes/1', downstreamPath: '/sandboxes/1' },
    {
      routeClass: 'admin',
      method: 'GET',
      path: '/v1/admin/inference/providers',
      downstreamPath: '/v1/internal/providers',
    },
  ];

const EVIL = 'EVIL';
/** Spoofed identity headers: every §3 family, odd casing, underscore spellings, repeats. */
const SPOOFED: readonly string[] = [
  'X-Tenant-ID', 'default',
  'X-User-ID', EVIL,
  'x-user-id', `${EVIL}-again`,
  'X-USER-EMAIL', `${EVIL}@evil.test`,
  'X-User-Roles', `admin,${EVIL}`,
  'X-User-Anything', EVIL,
  'X-Aibox-Principal', `v1.${EVIL}.payload.mac`,
  'X-Aibox-Turn-Id', '01890000-0000-7000-8000-000000000000',
  'X-Aibox-Cap-Token', `v1.${EVIL}.caps.mac`,
  'X-Aibox-Future', EVIL,
  'X-Forwarded-User', EVIL,
  'X-Forwarded-Email', `${EVIL}@evil.test`,
  'X-Forwarded-Preferred-Username', EVIL,
  'X-Auth-Request-User', EVIL,
  'X-Auth-Request-Email', EVIL,
  'X-Remote-User', EVIL,
  'Remote-User', EVIL,
  'X_User_ID', EVIL,
  'x_aibox_principal', EVIL,
  'X_Tenant_ID', 'default',
  'X_Forwarded_User', EVIL,
  'Remote_User', EVIL,
  'X_Auth_Request_Email', EVIL,
  'x-uSeR-rOlEs', EVIL,
]; // prettier-ignore

/** A request that the row matches: a method it accepts, `{x}` segments filled in, nothing below `/**`. */
function requestFor(route: Route): { method: string; path: string } {
  const method = route.methods === '*' ? 'GET' : (route.methods[0] ?? 'GET');
  const path = route.path.replace(/\/\*\*$/, '').replaceAll(/\{[a-z_]+\}/g, 'x1');
  return { method, path };
}

function pairs(headers: readonly string[]): [string, string][] {
  const result: [string, string][] = [];
  for (let index = 0; index + 1 < headers.length; index += 2)
    result.push([headers[index] ?? '', headers[index + 1] ?? '']);
  return result;
}

describe('gateway security', () => {
  let issuer: TestIssuer;
  let stranger: TestIssuer;
  let downstream: Downstream;
  let audit: AuditSink;
  let gateway: TestGateway;

  beforeAll(async () => {
    [issuer, stranger, downstream, audit] = await Promise.all([
      TestIssuer.start('RS256'),
      TestIssuer.start('RS256'),
      Downstream.start(),
      AuditSink.start(),
    ]);
    gateway = await startGateway(
      { AUTH_ISSUERS: issuer.url, AUDIT_GRPC_URL: audit.target, GATEWAY_BODY_LIMIT_BYTES: '1024' },
      downstream.url,
    );
  });
  afterAll(async () => {
    await gateway.close();
    await Promise.all([issuer.close(), stranger.close(), downstream.close(), audit.close()]);
  });
  beforeEach(() => {
    downstream.reset();
  });

  /** What must arrive downstream: only stamped identity headers, once each, with a verifying principal. */
  function expectOnlyStamped(received: Recorded, routeClass: RouteClass, roles: string[]): void {
    const identityHeaders = pairs(received.rawHeaders).filter(([name]) => isSpoofableHeader(name));
    for (const [name, value] of pairs(received.rawHeaders)) {
      expect(value, `${name} carries a spoofed value`).not.toContain(EVIL);
    }
    const names = identityHeaders.map(([name]) => name).sort();
    expect(names).toEqual(
      [
        HEADER.tenantId,
        HEADER.userId,
        HEADER.userEmail,
        HEADER.userRoles,
        HEADER.principal,
        HEADER.turnId,
        HEADER.capToken,
      ].sort(),
    );
    const principal = verifyPrincipal(String(received.headers[HEADER.principal]), gateway.principalKeys);
    expect(principal).toMatchObject({
      tid: 'default',
      uid: 'user-ada',
      email: 'ada@example.test',
      roles,
      iss: issuer.url,
      sub: 'user-ada',
    });
    expect(principal.exp - principal.iat).toBe(60);
    expect(received.headers[HEADER.tenantId]).toBe('default');
    expect(received.headers[HEADER.userId]).toBe('user-ada');
    expect(received.headers[HEADER.userRoles]).toBe(roles.join(','));
    const turnId = String(received.headers[HEADER.turnId]);
    expect(turnId).not.toBe('01890000-0000-7000-8000-000000000000');
    const cap = verifyCapToken(String(received.headers[HEADER.capToken]), gateway.capTokenKeys);
    expect(cap).toMatchObject({
      turn: turnId,
      tid: 'default',
      uid: 'user-ada',
      caps: [...ROUTE_CLASS_CAPS[routeClass]],
    });
    // The user's own token never goes downstream.
    expect(received.headers.authorization).toBeUndefined();
  }

  describe.each(FORWARDED)(
    'route class $routeClass ($method $path)',
    ({ routeClass, method, path, downstreamPath }) => {
      const roles = routeClass === 'admin' ? ['user', 'admin'] : ['user'];

      it('delivers only the stamped identity when every spoofable header is sent at once', async () => {
        const token = await issuer.sign({ roles });
        const response = await send(`${gateway.url}${path}`, {
          method,
          headers: [...bearer(token), ...SPOOFED, 'content-type', 'application/json'],
          ...(method === 'POST' ? { body: '{"q":1}' } : {}),
        });
        expect(response.status).toBe(200);
        expect(downstream.received).toHaveLength(1);
        const [received] = downstream.received;
        if (received === undefined) throw new Error('nothing arrived');
        expect(received.url).toBe(downstreamPath);
        expect(received.method).toBe(method);
        if (method === 'POST') expect(received.body).toBe('{"q":1}');
        expectOnlyStamped(received, routeClass, roles);
        expect(response.headers[HEADER.turnId]).toBe(received.headers[HEADER.turnId]);
      });

      it('strips each spoofable header sent alone', async () => {
        const token = await issuer.sign({ roles });
        for (const [name, value] of pairs(SPOOFED)) {
          downstream.reset();
          const response = await send(`${gateway.url}${path}`, {
            method,
            headers: [...bearer(token), name, value],
          });
          expect(response.status, name).toBe(200);
          const [received] = downstream.received;
          if (received === undefined) throw new Error(`nothing arrived for ${name}`);
          expectOnlyStamped(received, routeClass, roles);
        }
      });
    },
  );

  it('answers /v1/me with the stamped principal, ignoring spoofed headers', async () => {
    const token = await issuer.sign({ roles: ['user', 'reviewer'] });
    const response = await send(`${gateway.url}/v1/me`, { headers: [...bearer(token), ...SPOOFED] });
    expect(response.status).toBe(200);
    expect(response.json()).toEqual({
      tid: 'default',
      uid: 'user-ada',
      email: 'ada@example.test',
      roles: ['user', 'reviewer'],
      iss: issuer.url,
      sub: 'user-ada',
      turn_id: response.headers[HEADER.turnId],
    });
    expect(downstream.received).toHaveLength(0);
  });

  it('reads Keycloak realm roles when the roles claim is absent', async () => {
    const token = await issuer.sign({
      roles: undefined,
      realm_access: { roles: ['admin', 'offline_access'] },
    });
    const response = await send(`${gateway.url}/v1/me`, { headers: bearer(token) });
    expect(response.json()).toMatchObject({ roles: ['admin', 'offline_access'] });
  });

  describe('JWT attacks: 401 with a code and no downstream call', () => {
    const cases: { name: string; code: string; header: () => Promise<string[]> }[] = [
      { name: 'no Authorization', code: 'token_missing', header: () => Promise.resolve([]) },
      {
        name: 'empty bearer',
        code: 'token_malformed',
        header: () => Promise.resolve(['Authorization', 'Bearer']),
      },
      {
        name: 'Basic credentials',
        code: 'token_malformed',
        header: () => Promise.resolve(['Authorization', 'Basic dXNlcjpwYXNz']),
      },
      {
        name: 'not a JWT',
        code: 'token_malformed',
        header: () => Promise.resolve(['Authorization', 'Bearer abc.def']),
      },
      {
        name: 'two Authorization headers',
        code: 'token_malformed',
        header: async () => [...bearer(await issuer.sign()), ...bearer(await issuer.sign())],
      },
      {
        name: 'alg none',
        code: 'algorithm_not_allowed',
        header: () => {
          const now = Math.floor(Date.now() / 1000);
          const head = base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }));
          const body = base64url.encode(
            JSON.stringify({
              iss: issuer.url,
              aud: 'aibox-api',
              sub: 'user-ada',
              iat: now,
              exp: now + 300,
              roles: ['admin'],
            }),
          );
          return Promise.resolve(bearer(`${head}.${body}.`));
        },
      },
      {
        name: 'HS256 signed with the RSA public key',
        code: 'algorithm_not_allowed',
        header: () => {
          const now = Math.floor(Date.now() / 1000);
          const jwk = issuer.publicJwk();
          const head = base64url.encode(JSON.stringify({ alg: 'HS256', kid: jwk.kid, typ: 'JWT' }));
          const body = base64url.encode(
            JSON.stringify({ iss: issuer.url, aud: 'aibox-api', sub: 'user-ada', iat: now, exp: now + 300 }),
          );
          const mac = createHmac('sha256', JSON.stringify(jwk)).update(`${head}.${body}`).digest('base64url');
          return Promise.resolve(bearer(`${head}.${body}.${mac}`));
        },
      },
      {
        name: 'expired',
        code: 'token_expired',
        header: async () => bearer(await issuer.sign({}, { expiresIn: -120, issuedAt: -600 })),
      },
      {
        name: 'not yet valid (nbf)',
        code: 'token_not_yet_valid',
        header: async () => bearer(await issuer.sign({}, { notBefore: 300 })),
      },
      {
        name: 'issued in the future',
        code: 'token_not_yet_valid',
        header: async () => bearer(await issuer.sign({}, { issuedAt: 300, expiresIn: 900 })),
      },
      {
        name: 'wrong issuer',
        code: 'issuer_untrusted',
        header: async () => bearer(await issuer.sign({}, { issuer: 'https://evil.example.test' })),
      },
      {
        name: 'wrong audience',
        code: 'audience_invalid',
        header: async () => bearer(await issuer.sign({}, { audience: 'another-api' })),
      },
      {
        name: 'unknown kid',
        code: 'key_unknown',
        header: async () => bearer(await issuer.sign({}, { kid: 'not-published' })),
      },
      {
        name: 'tampered payload',
        code: 'signature_invalid',
        header: async () => {
          const [head, body, signature] = (await issuer.sign({ roles: ['user'] })).split('.');
          const claims = JSON.parse(Buffer.from(body ?? '', 'base64url').toString('utf8')) as Record<
            string,
            unknown
          >;
          const forged = base64url.encode(JSON.stringify({ ...claims, roles: ['admin'] }));
          return bearer(`${head ?? ''}.${forged}.${signature ?? ''}`);
        },
      },
      {
        name: 'a second, untrusted issuer',
        code: 'issuer_untrusted',
        header: async () => bearer(await stranger.sign()),
      },
      {
        name: 'a second issuer forging the trusted iss with its own key',
        code: 'signature_invalid',
        header: async () => bearer(await stranger.sign({}, { issuer: issuer.url, kid: issuer.signingKid })),
      },
      {
        name: 'a 64 KiB token',
        code: 'token_oversize',
        header: async () => bearer(await issuer.sign({ padding: 'x'.repeat(64 * 1024) })),
      },
    ];

    it.each(cases)('$name → $code', async ({ code, header }) => {
      const response = await send(`${gateway.url}/v1/chat/stream`, {
        method: 'POST',
        headers: [...(await header()), 'content-type', 'application/json'],
        body: '{}',
      });
      expect(response.status).toBe(401);
      expect(response.json()).toMatchObject({ code });
      expect(response.headers['www-authenticate']).toContain('Bearer');
      expect(response.headers[HEADER.turnId]).toBeUndefined();
      expect(downstream.received).toHaveLength(0);
    });
  });

  it('refuses an X-Tenant-ID naming another tenant with 403 tenant_mismatch, in any spelling', async () => {
    const token = await issuer.sign();
    for (const name of ['X-Tenant-ID', 'x_tenant_id']) {
      const response = await send(`${gateway.url}/v1/models`, { headers: [...bearer(token), name, 'other'] });
      expect(response.status).toBe(403);
      expect(response.json()).toMatchObject({
        code: 'tenant_mismatch',
        turn_id: response.headers[HEADER.turnId],
      });
    }
    const repeated = await send(`${gateway.url}/v1/models`, {
      headers: [...bearer(token), 'X-Tenant-ID', 'default', 'X-Tenant-ID', 'other'],
    });
    expect(repeated.status).toBe(403);
    expect(downstream.received).toHaveLength(0);
  });

  it('guards /v1/admin/* with the admin role, known routes or not', async () => {
    const user = await issuer.sign({ roles: ['user'] });
    for (const path of ['/v1/admin/inference/providers', '/v1/admin/audit/tenants', '/v1/admin/unknown']) {
      const response = await send(`${gateway.url}${path}`, { headers: bearer(user) });
      expect(response.status, path).toBe(403);
      expect(response.json()).toMatchObject({ code: 'forbidden' });
    }
    expect(downstream.received).toHaveLength(0);
    const admin = await issuer.sign({ roles: ['admin'] });
    const allowed = await send(`${gateway.url}/v1/admin/audit/tenants`, { headers: bearer(admin) });
    expect(allowed.status).toBe(200);
    expect(downstream.received.map((request) => request.url)).toEqual(['/v1/admin/audit/tenants']);
  });

  it('answers unknown /v1 routes 404 route_unknown and wrong methods 405, with the turn id', async () => {
    const token = await issuer.sign();
    const unknown = await send(`${gateway.url}/v1/nothing/here`, { headers: bearer(token) });
    expect(unknown.status).toBe(404);
    expect(unknown.json()).toMatchObject({ code: 'route_unknown' });
    expect(unknown.headers[HEADER.turnId]).toMatch(/^[0-9a-f-]{36}$/);
    const wrongMethod = await send(`${gateway.url}/v1/guard/input`, { headers: bearer(token) });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.allow).toBe('POST');
    expect(downstream.received).toHaveLength(0);
  });

  it('refuses paths a downstream could read differently', async () => {
    const token = await issuer.sign();
    for (const path of [
      '/v1/models/../admin/inference/x',
      '/v1/models/%2e%2e/x',
      '/v1/sandbox/a%2fb',
      '/v1/chat//x',
    ]) {
      const response = await send(gateway.url, { headers: bearer(token), rawPath: path });
      expect(response.status, path).toBe(400);
      expect(response.json()).toMatchObject({ code: 'path_invalid' });
    }
    expect(downstream.received).toHaveLength(0);
  });

  it('answers 413 payload_too_large for a body over the limit, declared or streamed', async () => {
    const token = await issuer.sign();
    const declared = await send(`${gateway.url}/v1/chat/stream`, {
      method: 'POST',
      headers: [...bearer(token), 'content-type', 'application/json'],
      body: 'x'.repeat(2048),
    });
    expect(declared.status).toBe(413);
    expect(declared.json()).toMatchObject({ code: 'payload_too_large' });
    expect(downstream.received).toHaveLength(0);
    const chunked = await send(`${gateway.url}/v1/chat/stream`, {
      method: 'POST',
      headers: [...bearer(token), 'content-type', 'application/json', 'Transfer-Encoding', 'chunked'],
      body: 'x'.repeat(4096),
    });
    expect(chunked.status).toBe(413);
  });

  it('makes an explicit auth decision for every route: /v1 by the gateway JWT guard, the rest health or SPA', () => {
    const decisions = listRouteAuthDecisions(gateway.service.app);
    expect(decisions.length).toBeGreaterThan(0);
    for (const decision of decisions) {
      expect(decision.decision, decision.handler).not.toBe('none');
      if (decision.decision !== 'public' || HEALTH_ROUTES.includes(decision.path)) continue;
      if (decision.path.startsWith('/v1')) {
        const [controller] = decision.handler.split('.');
        const guarded = decisions.length > 0 && controller === 'ProxyController';
        expect(guarded, decision.handler).toBe(true);
      } else {
        expect(`${decision.method} ${decision.path}`).toBe('GET /*');
      }
    }
    const proxy = decisions.find((decision) => decision.handler.startsWith('ProxyController.'));
    expect(proxy).toBeDefined();
  });

  it('walks the route table without a token: every row answers 401 but the public ones, and nothing goes downstream', async () => {
    const publicPaths: string[] = [];
    for (const route of ROUTES) {
      const { method, path } = requestFor(route);
      const response = await send(`${gateway.url}${path}`, { method });
      if (route.auth === 'public') {
        publicPaths.push(path);
        expect(response.status, `${method} ${path}`).toBe(200);
        expect(response.headers[HEADER.turnId], `${method} ${path}`).toBeUndefined();
      } else {
        expect(response.status, `${method} ${path}`).toBe(401);
        expect(response.json(), `${method} ${path}`).toMatchObject({ code: 'token_missing' });
      }
    }
    expect(publicPaths).toEqual(['/v1/auth/config']);
    expect(downstream.received).toHaveLength(0);
  });

  it('puts GatewayAuthGuard on the proxy controller', async () => {
    const { ProxyController } = await import('../src/controllers/proxy.controller.js');
    const guards: unknown = Reflect.getMetadata(GUARDS_METADATA, ProxyController);
    expect(guards).toEqual([GatewayAuthGuard]);
  });
});
