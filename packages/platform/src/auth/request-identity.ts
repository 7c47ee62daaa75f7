import type { ExecutionContext } from '@nestjs/common';

import { GRPC_METADATA, HEADER, type Principal } from '@aibox/identity';

import { grpcMetadataValue } from '../context/request-context.hooks.js';

/** The identity values a request carries, still unverified, and the object they are remembered on. */
export interface PresentedIdentity {
  /** The Fastify request (HTTP) or the call's Metadata (gRPC): one object per request. */
  carrier: object;
  principal?: string;
  turnId?: string;
  capToken?: string;
}

// Verified principals, by carrier: the guard writes, `@CurrentPrincipal()` and CapabilityGuard read.
const principals = new WeakMap<object, Principal>();

function headerValue(headers: unknown, name: string): string | undefined {
  if (typeof headers !== 'object' || headers === null) {
    return undefined;
  }
  // A repeated header arrives as an array; it is refused rather than guessed at.
  const value = (headers as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : undefined;
}

function rpcMetadata(context: ExecutionContext): object | undefined {
  const rpc = context.switchToRpc();
  const metadata = rpc.getContext<unknown>();
  if (
    typeof metadata === 'object' &&
    metadata !== null &&
    typeof (metadata as { get?: unknown }).get === 'function'
  ) {
    return metadata;
  }
  // `@GrpcStreamCall` handlers get the call alone, which holds the metadata.
  const call = rpc.getData<unknown>();
  const callMetadata = (call as { metadata?: unknown } | null | undefined)?.metadata;
  return typeof callMetadata === 'object' && callMetadata !== null ? callMetadata : undefined;
}

function identityOf(
  carrier: object,
  principal: string | undefined,
  turnId: string | undefined,
  capToken: string | undefined,
): PresentedIdentity {
  return {
    carrier,
    ...(principal === undefined ? {} : { principal }),
    ...(turnId === undefined ? {} : { turnId }),
    ...(capToken === undefined ? {} : { capToken }),
  };
}

/** Reads the identity values of an HTTP request or a gRPC call; `undefined` for other transports. */
export function presentedIdentity(context: ExecutionContext): PresentedIdentity | undefined {
  const type = context.getType();
  if (type === 'http') {
    const request = context.switchToHttp().getRequest<{ headers?: unknown } | undefined>();
    if (typeof request !== 'object') {
      return undefined;
    }
    const { headers } = request;
    return identityOf(
      request,
      headerValue(headers, HEADER.principal),
      headerValue(headers, HEADER.turnId),
      headerValue(headers, HEADER.capToken),
    );
  }
  if (type === 'rpc') {
    const metadata = rpcMetadata(context);
    if (metadata === undefined) {
      return undefined;
    }
    return identityOf(
      metadata,
      grpcMetadataValue(metadata, GRPC_METADATA.principal),
      grpcMetadataValue(metadata, GRPC_METADATA.turnId),
      grpcMetadataValue(metadata, GRPC_METADATA.capToken),
    );
  }
  return undefined;
}

export function rememberPrincipal(carrier: object, principal: Principal): void {
  principals.set(carrier, principal);
}

/** The principal {@link PrincipalGuard} verified for this request, if it did. */
export function verifiedPrincipal(context: ExecutionContext): Principal | undefined {
  const identity = presentedIdentity(context);
  return identity === undefined ? undefined : principals.get(identity.carrier);
}
