import type { Server, ServerInterceptor } from '@grpc/grpc-js';
import type { PackageDefinition } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { ServerGrpc } from '@nestjs/microservices';
import { HealthImplementation, type ServingStatus } from 'grpc-health-check';

import { PROTO_INCLUDE_DIRS } from '@aibox/contracts';

import { installGrpcRequestContext } from '../context/request-context.hooks.js';

/** The vendored health proto, loaded with the service's own so that reflection describes it too. */
const HEALTH_PROTO = 'grpc/health/v1/health.proto';

export interface GrpcServiceOptions {
  /** Proto packages whose services Nest binds to `@GrpcMethod` handlers, e.g. `['aibox.v1']`. */
  packages: readonly string[];
  /** The service's `.proto` files, relative to `PROTO_ROOT` (see `PROTO_FILES` of @aibox/contracts). */
  protoFiles: readonly string[];
}

/**
 * How messages look in handlers: camelCase fields, 64-bit integers as JS numbers and enums as numbers (as
 * the generated types of @aibox/contracts have them), defaults filled in, oneof names set.
 */
export const PROTO_LOADER_OPTIONS = {
  keepCase: false,
  longs: Number,
  enums: Number,
  defaults: true,
  arrays: true,
  objects: true,
  oneofs: true,
  includeDirs: [...PROTO_INCLUDE_DIRS],
};

/** Full names (`aibox.v1.AuditService`) of the services in `definition` that belong to `packages`. */
export function servicesOf(definition: PackageDefinition, packages: readonly string[]): string[] {
  return Object.entries(definition)
    .filter(([name, value]) => !('format' in value) && packages.some((pkg) => name.startsWith(`${pkg}.`)))
    .map(([name]) => name);
}

/**
 * The gRPC side of a service: the Nest transport options, `grpc.health.v1.Health` kept in step with
 * readiness, server reflection, and the grpc-js server once it exists (to drain it at shutdown).
 */
export class GrpcServer {
  private readonly health = new HealthImplementation({ '': 'NOT_SERVING' });
  private services: string[] = [];
  private status: ServingStatus = 'NOT_SERVING';
  private server: Server | undefined;

  constructor(
    private readonly options: GrpcServiceOptions,
    private readonly interceptors: readonly ServerInterceptor[],
  ) {}

  /**
   * The Nest transport strategy listening on `url` (`host:port`), each call run in its own request
   * context. Connect it with `app.connectMicroservice({ strategy }, { inheritAppConfig: true })`.
   */
  strategy(url: string): ServerGrpc {
    const server = new ServerGrpc({
      url,
      package: [...this.options.packages],
      protoPath: [...this.options.protoFiles, HEALTH_PROTO],
      loader: PROTO_LOADER_OPTIONS,
      // grpc-js reads `interceptors` from the server options, which Nest builds from these.
      channelOptions: { interceptors: [...this.interceptors] },
      // Shutdown is drained by `drain()` before Nest closes the transport, which may then cut what is left.
      gracefulShutdown: false,
      onLoadPackageDefinition: (definition: PackageDefinition, grpcServer: Server) => {
        this.attach(definition, grpcServer);
      },
    });
    installGrpcRequestContext(server);
    return server;
  }

  /** SERVING or NOT_SERVING, for the whole server (`""`) and for each of the service's own services. */
  setServing(serving: boolean): void {
    this.status = serving ? 'SERVING' : 'NOT_SERVING';
    this.health.setStatus('', this.status);
    for (const service of this.services) this.health.setStatus(service, this.status);
  }

  /**
   * Stops accepting calls and waits for those in flight, for at most `graceMs`; then cuts the rest.
   * Resolves true when every call finished in time.
   */
  drain(graceMs: number): Promise<boolean> {
    const server = this.server;
    if (server === undefined) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        server.forceShutdown();
        resolve(false);
      }, graceMs);
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  private attach(definition: PackageDefinition, server: Server): void {
    this.server = server;
    this.services = servicesOf(definition, this.options.packages);
    new ReflectionService(definition).addToServer(server);
    this.health.addToServer(server);
    this.setServing(this.status === 'SERVING');
  }
}
