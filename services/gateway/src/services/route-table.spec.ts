import { describe, expect, it } from 'vitest';

import {
  ADMIN_PREFIX,
  downstreamPath,
  isPublicRoute,
  matchRoute,
  ROUTE_CLASS_CAPS,
  ROUTE_CLASSES,
  ROUTES,
  type HttpRoute,
} from './route-table.js';

function matched(method: string, path: string) {
  const match = matchRoute(method, path);
  if (match.kind !== 'matched') throw new Error(`${method} ${path}: ${match.kind}`);
  return match.route;
}

describe('route table', () => {
  it.each([
    ['POST', '/v1/chat/stream', 'agent-runtime', 'http'],
    ['GET', '/v1/chat', 'agent-runtime', 'http'],
    ['GET', '/v1/conversations/1/messages', 'agent-runtime', 'http'],
    ['POST', '/v1/audit/turns/t1/replay/live', 'agent-runtime', 'http'],
    ['GET', '/v1/audit/turns/t1/replay', 'audit', 'http'],
    ['POST', '/v1/audit', 'audit', 'grpc'],
    ['GET', '/v1/audit/keys', 'audit', 'http'],
    ['POST', '/v1/memory', 'memory', 'grpc'],
    ['GET', '/v1/memory', 'memory', 'http'],
    ['POST', '/v1/memory/search', 'memory', 'http'],
    ['DELETE', '/v1/memory/m1', 'memory', 'http'],
    ['POST', '/v1/guard/input', 'guardrail', 'grpc'],
    ['PUT', '/v1/guard/policy', 'guardrail', 'http'],
    ['GET', '/v1/knowledge/wiki/topic', 'knowledge', 'grpc'],
    ['DELETE', '/v1/knowledge/wiki/topic', 'knowledge', 'http'],
    ['GET', '/v1/knowledge/wiki', 'knowledge', 'http'],
    ['GET', '/v1/receipts/t1/proof', 'audit', 'http'],
    ['GET', '/v1/models', 'inference-router', 'http'],
    ['HEAD', '/v1/me', 'gateway', 'local'],
    ['GET', '/v1/sandbox/sandboxes', 'code-sandbox', 'http'],
  ])('%s %s → %s over %s', (method, path, target, transport) => {
    expect(matched(method, path)).toMatchObject({ target, transport });
  });

  it('reports unknown paths and wrong methods apart', () => {
    expect(matchRoute('GET', '/v1/unknown')).toEqual({ kind: 'unknown' });
    expect(matchRoute('GET', '/v1/chatty')).toEqual({ kind: 'unknown' });
    expect(matchRoute('GET', '/v1/guard/input')).toEqual({ kind: 'method_not_allowed', allowed: ['POST'] });
  });

  it('rewrites prefixes of sandbox and admin inference rows', () => {
    expect(
      downstreamPath(matched('GET', '/v1/sandbox/sandboxes/1') as HttpRoute, '/v1/sandbox/sandboxes/1?x=1'),
    ).toBe('/sandboxes/1?x=1');
    expect(downstreamPath(matched('GET', '/v1/sandbox') as HttpRoute, '/v1/sandbox')).toBe('/');
    expect(
      downstreamPath(
        matched('GET', '/v1/admin/inference/providers') as HttpRoute,
        '/v1/admin/inference/providers',
      ),
    ).toBe('/v1/internal/providers');
  });

  it('marks every admin row admin-only and every other row not', () => {
    for (const route of ROUTES) {
      expect(route.adminOnly, route.path).toBe(route.path.startsWith(`${ADMIN_PREFIX}/`));
    }
  });

  it('makes only the SPA sign-in settings public, and only for GET and HEAD', () => {
    const publicRows = ROUTES.filter((route) => route.auth === 'public');
    expect(publicRows.map((route) => [route.methods, route.path, route.transport])).toEqual([
      [['GET'], '/v1/auth/config', 'local'],
    ]);
    expect(isPublicRoute('GET', '/v1/auth/config')).toBe(true);
    expect(isPublicRoute('HEAD', '/v1/auth/config')).toBe(true);
    expect(isPublicRoute('POST', '/v1/auth/config')).toBe(false);
    expect(isPublicRoute('GET', '/v1/auth/config/more')).toBe(false);
    expect(isPublicRoute('GET', '/v1/auth')).toBe(false);
    expect(isPublicRoute('GET', '/v1/me')).toBe(false);
  });

  it('names caps for every route class, admin caps only for admin', () => {
    for (const routeClass of ROUTE_CLASSES) expect(ROUTE_CLASS_CAPS[routeClass]).toBeDefined();
    for (const [routeClass, caps] of Object.entries(ROUTE_CLASS_CAPS)) {
      if (routeClass !== 'admin') expect(caps.some((cap) => cap.endsWith(':admin'))).toBe(false);
    }
  });
});
