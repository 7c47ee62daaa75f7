import type { FastifyInstance } from 'fastify';

import { GRPC_METADATA, HEADER, isUuid } from '@aibox/identity';

import { createRequestContext, runWithContext, type RequestContext } from './request-context.js';

// Keyed by the Node request, which every Nest layer (route handler, not-found handler, Fastify error
// handler, middleware) can reach, so an error answered before the route runs still gets its correlation id.
const httpContexts = new WeakMap<object, RequestContext>();

function turnIdFrom(value: unknown): { turnId?: string } {
  return isUuid(value) ? { turnId: value.toLowerCase() } : {};
}

/**
 * Gives every HTTP request a {@link RequestContext}: `onRequest` creates it and runs the rest of the request
 * inside it with `AsyncLocalStorage.run`; `preHandler` enters it again right before Nest's route handler
 * (guards, interceptors, pipes, controller), so that the handler's context never depends on how Fastify
 * read the body (stream callbacks, custom parsers). Call once on the adapter's Fastify instance before
 * `app.init()`; errors answered before routing find the context through {@link httpRequestContext}.
 */
export function installHttpRequestContext(instance: FastifyInstance): void {
  instance.addHook('onRequest', (request, _reply, done) => {
    const context = createRequestContext(turnIdFrom(request.headers[HEADER.turnId]));
    httpContexts.set(request.raw, context);
    runWithContext(context, done);
  });
  instance.addHook('preHandler', (request, _reply, done) => {
    const context = httpContexts.get(request.raw);
    if (context === undefined) {
      done();
      return;
    }
    runWithContext(context, done);
  });
}

/**
 * The context created for an HTTP request by {@link installHttpRequestContext}; takes a Fastify request or
 * the Node request inside it.
 */
export function httpRequestContext(request: unknown): RequestContext | undefined {
  if (typeof request !== 'object' || request === null) {
    return undefined;
  }
  const raw = (request as { raw?: unknown }).raw;
  return httpContexts.get(typeof raw === 'object' && raw !== null ? raw : request);
}

/**
 * The value of a gRPC metadata key when it holds exactly one string (a repeated identity key is refused, not
 * guessed at); tolerates anything that is not Metadata.
 */
export function grpcMetadataValue(metadata: unknown, key: string): string | undefined {
  if (typeof metadata !== 'object' || metadata === null) {
    return undefined;
  }
  const get = (metadata as { get?: unknown }).get;
  if (typeof get !== 'function') {
    return undefined;
  }
  const values: unknown = get.call(metadata, key);
  const first: unknown = Array.isArray(values) && values.length === 1 ? values[0] : undefined;
  return typeof first === 'string' ? first : undefined;
}

/** The part of a Nest transport server (`ServerGrpc`) that {@link installGrpcRequestContext} uses. */
export interface ProcessingHookTarget {
  setOnProcessingStartHook(
    hook: (transportId: unknown, context: unknown, done: () => Promise<unknown>) => unknown,
  ): void;
}

/**
 * Gives every gRPC call a {@link RequestContext} that guards, interceptors, pipes, handlers and the error
 * mapping all see: the transport's processing-start hook wraps the whole call. Use it on the server
 * instance handed to Nest as a strategy, before the microservice starts:
 * `const server = new ServerGrpc(options); installGrpcRequestContext(server);`
 * `app.connectMicroservice({ strategy: server }, { inheritAppConfig: true })`.
 */
export function installGrpcRequestContext(server: ProcessingHookTarget): void {
  server.setOnProcessingStartHook((_transportId, call, done) => {
    // ServerGrpc passes a copy of the grpc-js call, which holds the request metadata.
    const metadata = (call as { metadata?: unknown } | null | undefined)?.metadata;
    const context = createRequestContext(turnIdFrom(grpcMetadataValue(metadata, GRPC_METADATA.turnId)));
    return runWithContext(context, done);
  });
}
