import type { Server as HttpServer } from 'node:http';

import { Module, type DynamicModule, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { CustomStrategy } from '@nestjs/microservices';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { DestinationStream, Logger } from 'pino';
import { z } from 'zod';

import { assertEveryRouteHasAuthDecision } from '../auth/route-auth.check.js';
import {
  loadConfig,
  secretSettingNames,
  type Environment,
  type PlatformConfig,
} from '../config/load-config.js';
import { GRPC_PORT_OFFSET, isServiceName, SERVICE_HTTP_PORTS } from '../config/service-ports.js';
import { installHttpRequestContext } from '../context/request-context.hooks.js';
import { answerClientError } from '../errors/client-error.js';
import { GrpcErrorInterceptor } from '../errors/grpc-error.interceptor.js';
import { HttpErrorFilter, type HttpErrorFilterOptions } from '../errors/http-error.filter.js';
import { Readiness, type ReadinessCheck } from '../health/readiness.js';
import { createLogger } from '../logging/logger.js';
import { PinoNestLogger } from '../logging/nest-logger.js';
import { grpcMetricsInterceptor } from '../metrics/grpc-metrics.interceptor.js';
import { createMetricsRegistry, GrpcMetrics, HttpMetrics } from '../metrics/metrics.js';
import { Closeables } from './closeables.js';
import { GrpcServer, type GrpcServiceOptions } from './grpc-server.js';
import { installHttpHooks } from './http-hooks.js';
import { PlatformModule } from './platform.module.js';

/** Fastify's default, kept explicit: bodies larger than this are answered 413 `payload_too_large`. */
export const DEFAULT_BODY_LIMIT_BYTES = 1_048_576;

/** How often readiness is re-evaluated in the background, to keep gRPC health current. */
export const READINESS_INTERVAL_MS = 5_000;

export interface BootServiceOptions<S extends z.ZodObject = z.ZodObject> {
  /** The service's folder name (`audit`): the `service` field of its logs, its default port. */
  name: string;
  /** The service's root module. */
  module: Type | DynamicModule;
  /** The service's own settings, merged into `baseConfigSchema`. */
  configSchema?: S;
  /** The HTTP port when `PORT` is unset; defaults to the service's port in ARCHITECTURE §1. */
  defaultPort?: number;
  /** Serve gRPC on PORT + 1000 with these protos. */
  grpc?: GrpcServiceOptions;
  /** The environment to read settings from; `process.env` by default. */
  env?: Environment;
  /** Readiness checks known up front; modules can add their own with `provideReadinessCheck`. */
  readiness?: readonly ReadinessCheck[];
  /** The largest request body accepted; 1 MiB by default. */
  bodyLimitBytes?: number;
  /** `@Public()` routes besides `/healthz`, `/readyz` and `/metrics`: `/path` or `METHOD /path`. */
  publicRoutes?: readonly string[];
  /** Where log lines go; standard output by default (tests pass a stream to read them). */
  logDestination?: DestinationStream;
  /** Replaces the global HTTP error filter, e.g. by a subclass answering some routes in another API's format. */
  httpErrorFilter?: (options: HttpErrorFilterOptions) => HttpErrorFilter;
}

export interface BootedService<S extends z.ZodObject = z.ZodObject> {
  app: NestFastifyApplication;
  /** `http://host:port`, no trailing slash. */
  httpUrl: string;
  /** The gRPC server as a grpc-js target, `host:port`; undefined without `grpc`. */
  grpcUrl: string | undefined;
  config: PlatformConfig<S>;
  logger: Logger;
  /**
   * Drains and stops: readiness turns 503 and gRPC health NOT_SERVING, new connections are refused,
   * in-flight requests and calls finish (within `SHUTDOWN_GRACE_MS`), then registered closeables close.
   * Idempotent.
   */
  close(): Promise<void>;
}

@Module({})
class ServiceRootModule {}

function hostForUrl(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

function defaultPortOf(name: string, explicit: number | undefined): Record<string, string> {
  const port = explicit ?? (isServiceName(name) ? SERVICE_HTTP_PORTS[name] : undefined);
  return port === undefined ? {} : { PORT: String(port) };
}

/** Stops accepting connections and waits (at most `graceMs`) for the open ones to finish their requests. */
function drainHttp(server: HttpServer, graceMs: number): Promise<boolean> {
  if (!server.listening) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.closeAllConnections();
      resolve(false);
    }, graceMs);
    // Responses sent from now on carry `Connection: close`, so busy connections end with their request.
    server.close(() => {
      clearTimeout(timer);
      resolve(true);
    });
    server.closeIdleConnections();
  });
}

/**
 * Boots a service as a NestJS hybrid app: HTTP (Fastify) on `HOST:PORT` and, with `grpc`, gRPC on
 * `HOST:PORT+1000`, with config, logging, metrics, health, the principal guard and error mapping wired.
 * Throws `ConfigError` for a bad or refused configuration, before anything listens.
 */
export async function bootService<S extends z.ZodObject = z.ZodObject>(
  options: BootServiceOptions<S>,
): Promise<BootedService<S>> {
  const schema = options.configSchema ?? (z.object({}) as unknown as S);
  const config = loadConfig(schema, options.env ?? process.env, {
    defaults: defaultPortOf(options.name, options.defaultPort),
  });
  const principalKeys = config.AIBOX_PRINCIPAL_KEYS;
  const capTokenKeys = config.AIBOX_CAPTOKEN_KEYS;
  if (principalKeys === undefined || capTokenKeys === undefined) {
    // loadConfig refuses this already; the check narrows the types.
    throw new Error('key sets missing after configuration was accepted');
  }

  const logger = createLogger({
    service: options.name,
    level: config.LOG_LEVEL,
    redact: secretSettingNames(config),
    ...(options.logDestination === undefined ? {} : { destination: options.logDestination }),
  });
  const registry = createMetricsRegistry();
  const httpMetrics = new HttpMetrics(registry);
  const readiness = new Readiness((check, outcome, error) => {
    logger.warn({ check, outcome, ...(error === undefined ? {} : { err: error }) }, 'readiness check failed');
  });
  for (const check of options.readiness ?? []) readiness.add(check);
  const closeables = new Closeables();

  const adapter = new FastifyAdapter({
    bodyLimit: options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES,
    trustProxy: false,
    requestIdHeader: false,
    logger: false,
    clientErrorHandler: answerClientError,
  });
  const instance = adapter.getInstance();
  installHttpRequestContext(instance);
  installHttpHooks(instance, { logger, metrics: httpMetrics, isDraining: () => readiness.draining });

  const root: DynamicModule = {
    module: ServiceRootModule,
    imports: [
      PlatformModule.forRoot({
        config,
        logger,
        metrics: registry,
        principalKeys,
        capTokenKeys,
        readiness,
        closeables,
      }),
      options.module,
    ],
  };
  // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- Nest declares its options bag as a class and documents passing a literal.
  const app = await NestFactory.create<NestFastifyApplication>(root, adapter, {
    logger: new PinoNestLogger(logger),
    abortOnError: false,
  });

  const host = config.HOST;
  const httpPort = config.PORT;
  const grpcPort = httpPort + GRPC_PORT_OFFSET;
  let grpc: GrpcServer | undefined;
  try {
    const filterOptions: HttpErrorFilterOptions = { service: options.name, logger };
    app.useGlobalFilters(options.httpErrorFilter?.(filterOptions) ?? new HttpErrorFilter(filterOptions));
    app.useGlobalInterceptors(new GrpcErrorInterceptor({ service: options.name, logger }));
    if (options.grpc !== undefined) {
      grpc = new GrpcServer(options.grpc, [grpcMetricsInterceptor(new GrpcMetrics(registry))]);
      app.connectMicroservice<CustomStrategy>(
        { strategy: grpc.strategy(`${hostForUrl(host)}:${grpcPort}`) },
        { inheritAppConfig: true },
      );
    }
    await app.init();
    assertEveryRouteHasAuthDecision(app, { publicRoutes: options.publicRoutes ?? [] });
    await app.startAllMicroservices();
    await app.listen(httpPort, host);
  } catch (error: unknown) {
    await app.close().catch(() => undefined);
    await closeables.closeAll(() => undefined);
    throw error;
  }

  const grpcServer = grpc;
  readiness.onChange((report) => grpcServer?.setServing(report.ready));
  await readiness.evaluate();
  const timer =
    readiness.names.length === 0
      ? undefined
      : setInterval(() => {
          void readiness.evaluate();
        }, READINESS_INTERVAL_MS).unref();

  let closing: Promise<void> | undefined;
  const shutdown = async (): Promise<void> => {
    clearInterval(timer);
    readiness.markDraining();
    const graceMs = config.SHUTDOWN_GRACE_MS;
    const [httpDrained, grpcDrained] = await Promise.all([
      drainHttp(app.getHttpServer(), graceMs),
      grpcServer?.drain(graceMs) ?? Promise.resolve(true),
    ]);
    if (!httpDrained || !grpcDrained) {
      logger.warn(
        { grace_ms: graceMs, http_drained: httpDrained, grpc_drained: grpcDrained },
        'shutdown grace ran out',
      );
    }
    await app.close();
    await closeables.closeAll((name, error) => {
      logger.error({ closeable: name, err: error }, 'closing failed');
    });
    logger.info('stopped');
  };

  return {
    app,
    httpUrl: `http://${hostForUrl(host)}:${httpPort}`,
    grpcUrl: grpcServer === undefined ? undefined : `${hostForUrl(host)}:${grpcPort}`,
    config,
    logger,
    close: () => (closing ??= shutdown()),
  };
}
