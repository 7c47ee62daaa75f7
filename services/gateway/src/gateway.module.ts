import { join } from 'node:path';

import { Inject, Module, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import type { Server } from 'node:http';

import { AuditClient } from '@aibox/audit-client';
import { CLOSEABLES, Closeables, LOGGER, PLATFORM_CONFIG, type Logger } from '@aibox/platform';
import { createRateLimiter, openCacheStore, type RateLimiter } from '@aibox/stores';

import {
  resolveGatewaySettings,
  type GatewayConfig,
  type GatewaySettings,
} from './config/gateway-config.schema.js';
import { GatewayAuthGuard } from './controllers/gateway-auth.guard.js';
import { ProxyController } from './controllers/proxy.controller.js';
import { StaticSiteController } from './controllers/static-site.controller.js';
import { GrpcUpstreamRepository } from './repositories/grpc-upstream.repository.js';
import { HttpUpstreamRepository } from './repositories/http-upstream.repository.js';
import { OidcIssuerRepository } from './repositories/oidc-issuer.repository.js';
import { RateLimitRepository } from './repositories/rate-limit.repository.js';
import { ServiceTokenRepository } from './repositories/service-token.repository.js';
import { StaticFilesRepository } from './repositories/static-files.repository.js';
import { TurnEventsRepository } from './repositories/turn-events.repository.js';
import { AuthConfigService } from './services/auth-config.service.js';
import { AuthenticationService } from './services/authentication.service.js';
import { IdentityStamper } from './services/identity-stamp.service.js';
import { ProxyService } from './services/proxy.service.js';
import { ROUTE_CLASSES, type RouteClass } from './services/route-table.js';
import { StaticSiteService } from './services/static-site.service.js';
import { TokenVerifier } from './services/token-verifier.service.js';

const SETTINGS = Symbol('gateway.SETTINGS');

@Module({
  controllers: [ProxyController, StaticSiteController],
  providers: [
    { provide: SETTINGS, inject: [PLATFORM_CONFIG], useFactory: resolveGatewaySettings },
    {
      provide: OidcIssuerRepository,
      inject: [PLATFORM_CONFIG],
      useFactory: (config: GatewayConfig) =>
        new OidcIssuerRepository({
          refetchIntervalMs: config.AUTH_JWKS_REFETCH_SECONDS * 1000,
          maxAgeMs: config.AUTH_JWKS_MAX_AGE_SECONDS * 1000,
        }),
    },
    {
      provide: TokenVerifier,
      inject: [OidcIssuerRepository, PLATFORM_CONFIG, SETTINGS],
      useFactory: (issuers: OidcIssuerRepository, config: GatewayConfig, settings: GatewaySettings) =>
        new TokenVerifier(issuers, { issuers: settings.issuers, audience: config.AUTH_AUDIENCE }),
    },
    {
      provide: IdentityStamper,
      inject: [PLATFORM_CONFIG],
      useFactory: (config: GatewayConfig) => {
        if (config.AIBOX_PRINCIPAL_KEYS === undefined || config.AIBOX_CAPTOKEN_KEYS === undefined) {
          throw new Error('key sets missing after configuration was accepted');
        }
        return new IdentityStamper({
          principalKeys: config.AIBOX_PRINCIPAL_KEYS,
          capTokenKeys: config.AIBOX_CAPTOKEN_KEYS,
          tenancyMode: config.TENANCY_MODE,
          singleTenantId: config.TENANCY_SINGLE_TENANT_ID,
          rolesClaim: config.AUTH_ROLES_CLAIM,
          tenantClaim: config.AUTH_TENANT_CLAIM,
        });
      },
    },
    {
      provide: AuthenticationService,
      inject: [TokenVerifier, IdentityStamper, PLATFORM_CONFIG],
      useFactory: (verifier: TokenVerifier, stamper: IdentityStamper, config: GatewayConfig) =>
        new AuthenticationService(verifier, stamper, config.AUTH_ENABLED),
    },
    GatewayAuthGuard,
    {
      provide: AuthConfigService,
      inject: [SETTINGS],
      useFactory: (settings: GatewaySettings) => new AuthConfigService(settings.spaSignIn),
    },
    {
      provide: ServiceTokenRepository,
      inject: [OidcIssuerRepository, SETTINGS, LOGGER],
      useFactory: (issuers: OidcIssuerRepository, settings: GatewaySettings, logger: Logger) =>
        new ServiceTokenRepository(issuers, settings.internalAuth, logger),
    },
    {
      provide: HttpUpstreamRepository,
      inject: [CLOSEABLES],
      useFactory: (closeables: Closeables) => closeables.add('http-upstream', new HttpUpstreamRepository()),
    },
    {
      provide: GrpcUpstreamRepository,
      inject: [PLATFORM_CONFIG, CLOSEABLES],
      useFactory: (config: GatewayConfig, closeables: Closeables) =>
        closeables.add('grpc-upstream', new GrpcUpstreamRepository({ audit: config.AUDIT_GRPC_URL })),
    },
    {
      provide: RateLimitRepository,
      inject: [PLATFORM_CONFIG, CLOSEABLES],
      useFactory: async (config: GatewayConfig, closeables: Closeables) => {
        const limiters = new Map<RouteClass, RateLimiter>();
        if (config.GATEWAY_RATE_LIMIT_ENABLED) {
          const cache = closeables.add(
            'rate-limit-cache',
            await openCacheStore({ service: 'gateway', redisUrl: config.REDIS_URL }),
          );
          for (const routeClass of ROUTE_CLASSES) {
            limiters.set(
              routeClass,
              createRateLimiter({
                cache,
                keyPrefix: `route-${routeClass}`,
                points: config.GATEWAY_RATE_LIMITS[routeClass],
                durationSeconds: config.GATEWAY_RATE_LIMIT_WINDOW_SECONDS,
              }),
            );
          }
        }
        return new RateLimitRepository(limiters);
      },
    },
    {
      provide: TurnEventsRepository,
      inject: [PLATFORM_CONFIG, CLOSEABLES, LOGGER],
      useFactory: (config: GatewayConfig, closeables: Closeables, logger: Logger) => {
        if (config.AIBOX_PRINCIPAL_KEYS === undefined) throw new Error('AIBOX_PRINCIPAL_KEYS missing');
        const client = closeables.add(
          'audit-client',
          new AuditClient({
            target: config.AUDIT_GRPC_URL,
            service: 'gateway',
            principalKeys: config.AIBOX_PRINCIPAL_KEYS,
            spoolDir: join(config.AIBOX_DATA_DIR, 'gateway', 'audit-spool'),
            logger: logger.child({ component: 'audit-client' }),
          }),
        );
        return new TurnEventsRepository(client);
      },
    },
    {
      provide: ProxyService,
      inject: [
        IdentityStamper,
        HttpUpstreamRepository,
        GrpcUpstreamRepository,
        ServiceTokenRepository,
        RateLimitRepository,
        TurnEventsRepository,
        AuthConfigService,
        LOGGER,
        PLATFORM_CONFIG,
      ],
      useFactory: (
        stamper: IdentityStamper,
        http: HttpUpstreamRepository,
        grpc: GrpcUpstreamRepository,
        serviceTokens: ServiceTokenRepository,
        rateLimits: RateLimitRepository,
        turnEvents: TurnEventsRepository,
        authConfig: AuthConfigService,
        logger: Logger,
        config: GatewayConfig,
      ) =>
        new ProxyService(
          { stamper, http, grpc, serviceTokens, rateLimits, turnEvents, authConfig, logger },
          {
            targets: {
              'agent-runtime': config.AGENT_RUNTIME_URL,
              memory: config.MEMORY_URL,
              guardrail: config.GUARDRAIL_URL,
              knowledge: config.KNOWLEDGE_URL,
              audit: config.AUDIT_URL,
              'inference-router': config.INFERENCE_ROUTER_URL,
              'code-sandbox': config.CODE_SANDBOX_URL,
            },
            bodyLimitBytes: config.GATEWAY_BODY_LIMIT_BYTES,
            timeoutsMs: config.GATEWAY_TIMEOUTS,
            streamIdleTimeoutMs: config.GATEWAY_STREAM_IDLE_TIMEOUT_MS,
          },
        ),
    },
    {
      provide: StaticSiteService,
      inject: [PLATFORM_CONFIG, SETTINGS],
      useFactory: (config: GatewayConfig, settings: GatewaySettings) =>
        new StaticSiteService(
          config.GATEWAY_STATIC_DIR === undefined
            ? undefined
            : new StaticFilesRepository(config.GATEWAY_STATIC_DIR),
          settings.spaSignIn,
        ),
    },
  ],
})
export class GatewayModule implements OnModuleInit {
  constructor(
    @Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost,
    @Inject(PLATFORM_CONFIG) private readonly config: GatewayConfig,
  ) {}

  /**
   * Bodies are streamed, not parsed: the platform's JSON parser is replaced by one that leaves the body
   * unread, so the proxy can pass it on as it arrives and enforce its own limit. The header limit is
   * raised so that large IdP tokens are answered by the gateway (401 `token_oversize`) rather than Node.
   */
  onModuleInit(): void {
    const adapter = this.adapterHost.httpAdapter;
    const instance = adapter.getInstance<FastifyInstance>();
    instance.removeAllContentTypeParsers();
    instance.addContentTypeParser('*', (_request, _payload, done) => {
      done(null, undefined);
    });
    // Node reads the limit from the server for each new connection (`_http_server.js`), so it can be set here.
    const server = adapter.getHttpServer() as Server & { maxHeaderSize?: number };
    server.maxHeaderSize = this.config.GATEWAY_MAX_HEADER_BYTES;
  }
}
