import { Metadata } from '@grpc/grpc-js';

import { GRPC_METADATA, HEADER, signPrincipal, type KeySet, type Principal } from '@aibox/identity';

export interface OutgoingIdentityOptions {
  /** The turn the call belongs to; sent as `x-aibox-turn-id` / `aibox-turn-id`. */
  turnId?: string;
  /** The turn's cap token as received, forwarded unchanged (it lives as long as its turn may). */
  capToken?: string;
  /** Unix seconds to stamp with; defaults to now. */
  now?: number;
}

function stamp(principal: Principal, keys: KeySet, options: OutgoingIdentityOptions): string {
  const { tid, uid, email, roles, iss, sub } = principal;
  return signPrincipal(
    { tid, uid, email, roles, iss, sub },
    keys,
    options.now === undefined ? {} : { now: options.now },
  );
}

/**
 * Headers for an HTTP call to another service on behalf of `principal`: a freshly signed principal for the
 * same identity (ARCHITECTURE §3: a long turn outlives the 60 s the gateway's stamp is valid), the tenant
 * and user ids (informational: services trust only the principal), and the turn id and cap token when given.
 */
export function principalHeaders(
  principal: Principal,
  keys: KeySet,
  options: OutgoingIdentityOptions = {},
): Record<string, string> {
  const headers: Record<string, string> = {
    [HEADER.principal]: stamp(principal, keys, options),
    [HEADER.tenantId]: principal.tid,
    [HEADER.userId]: principal.uid,
  };
  if (options.turnId !== undefined) {
    headers[HEADER.turnId] = options.turnId;
  }
  if (options.capToken !== undefined) {
    headers[HEADER.capToken] = options.capToken;
  }
  return headers;
}

/** The gRPC metadata equivalent of {@link principalHeaders}. */
export function principalMetadata(
  principal: Principal,
  keys: KeySet,
  options: OutgoingIdentityOptions = {},
): Metadata {
  const metadata = new Metadata();
  metadata.set(GRPC_METADATA.principal, stamp(principal, keys, options));
  metadata.set(GRPC_METADATA.tenantId, principal.tid);
  metadata.set(GRPC_METADATA.userId, principal.uid);
  if (options.turnId !== undefined) {
    metadata.set(GRPC_METADATA.turnId, options.turnId);
  }
  if (options.capToken !== undefined) {
    metadata.set(GRPC_METADATA.capToken, options.capToken);
  }
  return metadata;
}
