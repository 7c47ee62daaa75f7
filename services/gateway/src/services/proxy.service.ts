import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream';

import { Metadata } from '@grpc/grpc-js';
import type { FastifyReply, FastifyRequest } from 'fastify';

import { LogRequest, LogResponse } from '@aibox/contracts';
import { GRPC_METADATA, HEADER, isSpoofableHeader, isUuid, newTurnId } from '@aibox/identity';
import { ByteLimit, PlatformError, setContextPrincipal, type Logger } from '@aibox/platform';

import { logRequestBody } from '../dtos/audit-log.dto.js';
import type { MeResponse } from '../dtos/me.dto.js';
import { DownstreamError } from '../errors/downstream.error.js';
import { GatewayError } from '../errors/gateway.error.js';
import { GrpcCallFailure, type GrpcUpstreamRepository } from '../repositories/grpc-upstream.repository.js';
import { UpstreamError, type HttpUpstreamRepository } from '../repositories/http-upstream.repository.js';
import type { RateLimitRepository } from '../repositories/rate-limit.repository.js';
import type { ServiceTokenRepository } from '../repositories/service-token.repository.js';
import type { TurnEventsRepository } from '../repositories/turn-events.repository.js';
import type { AuthConfigService } from './auth-config.service.js';
import { authenticatedOf, type Authenticated } from './authentication.service.js';
import type { IdentityStamper, Stamp } from './identity-stamp.service.js';
import { BodyTooLargeError, checkDeclaredLength, hasBody, readBody } from './request-body.js';
import {
  ADMIN_PREFIX,
  downstreamPath,
  matchRoute,
  type GrpcRoute,
  type HttpRoute,
  type HttpTarget,
  type Route,
  type RouteClass,
} from './route-table.js';

export interface ProxyOptions {
  /** Base URL per HTTP target (`<SERVICE>_URL`). */
  readonly targets: Readonly<Record<HttpTarget, string>>;
  readonly bodyLimitBytes: number;
  readonly timeoutsMs: Readonly<Record<RouteClass, number>>;
  readonly streamIdleTimeoutMs: number;
}

export interface ProxyDependencies {
  readonly stamper: IdentityStamper;
  readonly http: HttpUpstreamRepository;
  readonly grpc: GrpcUpstreamRepository;
  readonly serviceTokens: ServiceTokenRepository;
  readonly rateLimits: RateLimitRepository;
  readonly turnEvents: TurnEventsRepository;
  readonly authConfig: AuthConfigService;
  readonly logger: Pick<Logger, 'warn'>;
}

// RFC 9110 §7.6.1 hop-by-hop fields, plus what the gateway sets itself or must never pass on.
const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
]);
const NOT_FORWARDED: ReadonlySet<string> = new Set([
  ...HOP_BY_HOP,
  'host',
  'authorization',
  'expect',
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-real-ip',
]);
const NOT_RETURNED: ReadonlySet<string> = new Set([
  ...HOP_BY_HOP,
  HEADER.turnId,
  HEADER.turnSeal,
  'x-correlation-id',
]);

/** Headers listed in `Connection` are hop-by-hop too. */
function connectionTokens(value: string | string[] | undefined): Set<string> {
  const text = Array.isArray(value) ? value.join(',') : (value ?? '');
  return new Set(
    text
      .split(',')
      .map((token) => token.trim().toLowerCase())
      .filter((token) => token !== ''),
  );
}

/** Refuses paths a downstream could read differently from the gateway (dot segments, encoded separators). */
export function checkPath(path: string): void {
  const segments = path.split('/').slice(1);
  for (const [index, raw] of segments.entries()) {
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      throw new GatewayError('path_invalid');
    }
    const last = index === segments.length - 1;
    if ((segment === '' && !last) || segment === '.' || segment === '..' || /[/\\\0]/.test(segment)) {
      throw new GatewayError('path_invalid');
    }
  }
}

function pathAndQuery(url: string): { path: string; query: string } {
  const index = url.indexOf('?');
  return index === -1 ? { path: url, query: '' } : { path: url.slice(0, index), query: url.slice(index) };
}

function rateLimitKey(identity: Authenticated['identity']): string {
  return `${encodeURIComponent(identity.tid)}:${encodeURIComponent(identity.uid)}`.slice(0, 500);
}

/**
 * Routes an authenticated `/v1/*` request through the route table: admin guard, rate limit, identity stamp,
 * turn events, then the gateway's own answer, an HTTP passthrough or a gRPC call.
 */
export class ProxyService {
  /** Responses whose turn the downstream service seals (`x-aibox-turn-seal: downstream`). */
  private readonly sealedDownstream = new WeakSet<ServerResponse>();

  constructor(
    private readonly deps: ProxyDependencies,
    private readonly options: ProxyOptions,
  ) {}

  async handle(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const auth = authenticatedOf(request.raw);
    const { path, query } = pathAndQuery(request.raw.url ?? '/');
    checkPath(path);
    const admin = auth?.identity.roles.includes('admin') === true;
    if ((path === ADMIN_PREFIX || path.startsWith(`${ADMIN_PREFIX}/`)) && !admin) {
      throw new PlatformError('forbidden', { detail: 'requires role admin' });
    }
    const match = matchRoute(request.method, path);
    if (match.kind === 'unknown') {
      throw new PlatformError('route_unknown', {
        detail: `no route matches ${request.method} ${path.slice(0, 200)}`,
      });
    }
    if (match.kind === 'method_not_allowed') {
      void reply.header('allow', match.allowed.join(', '));
      throw new PlatformError('method_not_allowed');
    }
    const { route } = match;
    if (route.auth === 'public') {
      await this.answerAuthConfig(reply);
      return;
    }
    // The guard lets only public rows through without authenticating.
    if (auth === undefined)
      throw new PlatformError('internal', { detail: 'request reached the proxy unauthenticated' });
    if (route.adminOnly && !admin) throw new PlatformError('forbidden', { detail: 'requires role admin' });
    await this.enforceRateLimit(route.routeClass, auth, reply);

    const stamp = this.deps.stamper.stamp(auth.identity, auth.turnId, route.routeClass);
    setContextPrincipal(stamp.principal);
    this.publishTurn(auth, route, request.method, reply.raw);

    switch (route.transport) {
      case 'local':
        await reply.send(this.me(stamp, auth.turnId));
        return;
      case 'http':
        await this.forwardHttp(route, `${path}${query}`, stamp, request, reply);
        return;
      case 'grpc':
        await this.callGrpc(route, stamp, request, reply);
        return;
    }
  }

  /** The one public row (`PublicRoute`): no principal, so no rate limit, identity stamp or turn. */
  private async answerAuthConfig(reply: FastifyReply): Promise<void> {
    // Read at every start of the SPA; a changed IdP setting must reach it on the next load.
    await reply.header('cache-control', 'no-cache').send(this.deps.authConfig.config());
  }

  private me(stamp: Stamp, turnId: string): MeResponse {
    const { tid, uid, email, roles, iss, sub } = stamp.principal;
    return { tid, uid, email, roles, iss, sub, turn_id: turnId };
  }

  private async enforceRateLimit(
    routeClass: RouteClass,
    auth: Authenticated,
    reply: FastifyReply,
  ): Promise<void> {
    let decision;
    try {
      decision = await this.deps.rateLimits.consume(routeClass, rateLimitKey(auth.identity));
    } catch (error: unknown) {
      // The limiter already falls back to memory when Redis is down; if even that fails, serve rather than refuse.
      this.deps.logger.warn(
        { err: error, route_class: routeClass },
        'rate limiter failed; request let through',
      );
      return;
    }
    if (decision === undefined || decision.allowed) return;
    void reply.header('retry-after', String(Math.max(1, Math.ceil(decision.retryAfterMs / 1000))));
    throw new PlatformError('rate_limited', { detail: `the ${routeClass} limit of this user is spent` });
  }

  private publishTurn(auth: Authenticated, route: Route, method: string, response: ServerResponse): void {
    const turn = { turnId: auth.turnId, tenantId: auth.identity.tid, userId: auth.identity.uid };
    this.deps.turnEvents.started(turn, { route: route.path, method });
    response.once('close', () => {
      // agent-runtime seals a chat turn itself when the turn ends, which may be after this response.
      if (this.sealedDownstream.has(response)) return;
      this.deps.turnEvents.sealed(turn, {
        route: route.path,
        method,
        status_code: response.statusCode,
        duration_ms: Math.round(performance.now() - auth.startedAt),
        aborted: !response.writableFinished,
      });
    });
  }

  private downstreamHeaders(
    request: IncomingMessage,
    stamp: Stamp,
    serviceToken: string | undefined,
  ): Record<string, string | string[]> {
    const dropped = connectionTokens(request.headers.connection);
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(request.headers)) {
      if (value === undefined || NOT_FORWARDED.has(name) || dropped.has(name) || isSpoofableHeader(name))
        continue;
      headers[name] = value;
    }
    Object.assign(headers, stamp.headers);
    if (serviceToken !== undefined) headers['authorization'] = `Bearer ${serviceToken}`;
    const client = request.socket.remoteAddress;
    if (client !== undefined) headers['x-forwarded-for'] = client;
    headers['x-forwarded-proto'] = 'http';
    if (request.headers.host !== undefined) headers['x-forwarded-host'] = request.headers.host;
    return headers;
  }

  private async forwardHttp(
    route: HttpRoute,
    pathAndQuery: string,
    stamp: Stamp,
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<void> {
    const raw = request.raw;
    const limit = this.options.bodyLimitBytes;
    checkDeclaredLength(raw, limit);
    const serviceToken = await this.deps.serviceTokens.token();
    const headers = this.downstreamHeaders(raw, stamp, serviceToken);

    let body: ByteLimit | undefined;
    if (hasBody(raw)) {
      const limited = new ByteLimit(
        limit,
        (max) => new BodyTooLargeError(`the request body exceeds ${max} bytes`),
      );
      pipeline(raw, limited, () => undefined);
      body = limited;
    }
    const clientGone = new AbortController();
    const onClose = (): void => {
      if (!reply.raw.writableFinished) clientGone.abort();
    };
    reply.raw.once('close', onClose);

    const url = new URL(`${this.options.targets[route.target]}${downstreamPath(route, pathAndQuery)}`);
    let upstream;
    try {
      upstream = await this.deps.http.send({
        url,
        method: request.method,
        headers,
        body,
        signal: clientGone.signal,
        timeoutMs: this.options.timeoutsMs[route.routeClass],
        idleTimeoutMs: this.options.streamIdleTimeoutMs,
      });
    } catch (error: unknown) {
      throw this.upstreamFailure(route, error);
    }

    if (route.target === 'agent-runtime' && upstream.headers[HEADER.turnSeal] === 'downstream') {
      this.sealedDownstream.add(reply.raw);
    }
    const dropped = connectionTokens(upstream.headers['connection']);
    for (const [name, value] of Object.entries(upstream.headers)) {
      if (value === undefined || NOT_RETURNED.has(name) || dropped.has(name)) continue;
      void reply.header(name, value);
    }
    const contentType = upstream.headers['content-type'];
    if (typeof contentType === 'string' && contentType.startsWith('text/event-stream')) {
      // Nothing between here and the browser may hold events back.
      void reply.header('x-accel-buffering', 'no');
      if (upstream.headers['cache-control'] === undefined) void reply.header('cache-control', 'no-cache');
    }
    void reply.code(upstream.status);
    await reply.send(upstream.body);
  }

  private upstreamFailure(route: HttpRoute, error: unknown): Error {
    if (!(error instanceof UpstreamError)) return error instanceof Error ? error : new Error(String(error));
    switch (error.failure) {
      case 'request_body':
        return error.cause instanceof BodyTooLargeError
          ? new PlatformError('payload_too_large')
          : new PlatformError('invalid_request', {
              detail: 'the request body could not be read',
              cause: error,
            });
      case 'aborted':
        // The client is gone; whatever is answered goes nowhere.
        return new PlatformError('invalid_request', {
          detail: 'the client closed the request',
          cause: error,
        });
      case 'timeout':
        return new GatewayError('backend_unavailable', {
          detail: `${route.target} did not answer within ${this.options.timeoutsMs[route.routeClass]} ms`,
          details: { service: route.target, reason: 'timeout' },
          cause: error,
        });
      case 'unreachable':
        return new GatewayError('backend_unavailable', {
          detail: `${route.target} cannot be reached`,
          details: { service: route.target, reason: 'unreachable' },
          cause: error,
        });
    }
  }

  private grpcMetadata(stamp: Stamp, serviceToken: string | undefined): Metadata {
    const metadata = new Metadata();
    metadata.set(GRPC_METADATA.principal, stamp.principalToken);
    metadata.set(GRPC_METADATA.tenantId, stamp.headers[HEADER.tenantId] ?? '');
    metadata.set(GRPC_METADATA.userId, stamp.headers[HEADER.userId] ?? '');
    metadata.set(GRPC_METADATA.turnId, stamp.headers[HEADER.turnId] ?? '');
    metadata.set(GRPC_METADATA.capToken, stamp.capToken);
    if (serviceToken !== undefined) metadata.set('authorization', `Bearer ${serviceToken}`);
    return metadata;
  }

  private async callGrpc(
    route: GrpcRoute,
    stamp: Stamp,
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<void> {
    switch (route.rpc) {
      case 'AuditService.Log':
        await reply.send(await this.auditLog(route, stamp, request));
        return;
      case 'MemoryService.Store':
      case 'GuardrailService.CheckInput':
      case 'GuardrailService.CheckOutput':
      case 'KnowledgeService.WikiWrite':
      case 'KnowledgeService.WikiRead':
        // These services have not published their gRPC contract yet; no answer is better than a made-up one.
        throw new GatewayError('backend_unavailable', {
          detail: `${route.rpc} is not available: the ${route.target} service is not part of this deployment yet`,
          details: { service: route.target, rpc: route.rpc, reason: 'not_deployed' },
        });
    }
  }

  private async auditLog(route: GrpcRoute, stamp: Stamp, request: FastifyRequest): Promise<unknown> {
    const body = await readBody(request.raw, this.options.bodyLimitBytes);
    const parsed = logRequestBody(body);
    const message = LogRequest.fromJSON(parsed);
    const event = message.event;
    if (event === undefined) throw new PlatformError('invalid_request', { detail: 'event is required' });
    // The caller's identity is the gateway's to state, never the client's.
    event.tenantId = stamp.principal.tid;
    event.userId = stamp.principal.uid;
    if (!isUuid(event.turnId)) event.turnId = stamp.headers[HEADER.turnId] ?? '';
    if (!isUuid(event.eventId)) event.eventId = newTurnId();
    if (event.service === '') event.service = 'api';
    event.occurredAt ??= new Date();

    const serviceToken = await this.deps.serviceTokens.token();
    const clientGone = new AbortController();
    request.raw.once('close', () => {
      clientGone.abort();
    });
    try {
      const response = await this.deps.grpc.auditLog(message, {
        metadata: this.grpcMetadata(stamp, serviceToken),
        timeoutMs: this.options.timeoutsMs[route.routeClass],
        signal: clientGone.signal,
      });
      return LogResponse.toJSON(response);
    } catch (error: unknown) {
      if (!(error instanceof GrpcCallFailure)) throw error;
      if (error.unavailable) {
        throw new GatewayError('backend_unavailable', {
          detail: `${route.target} did not answer`,
          details: { service: route.target, rpc: route.rpc, reason: 'unavailable' },
          cause: error,
        });
      }
      throw new DownstreamError(error.grpcStatus, error.reason, error.message, { cause: error });
    }
  }
}
