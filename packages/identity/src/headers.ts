/** HTTP header names, lower-case as Node and Fastify present them. */
export const HEADER = {
  tenantId: 'x-tenant-id',
  userId: 'x-user-id',
  userEmail: 'x-user-email',
  userRoles: 'x-user-roles',
  principal: 'x-aibox-principal',
  turnId: 'x-aibox-turn-id',
  capToken: 'x-aibox-cap-token',
  /**
   * Response header of a downstream service that seals the turn itself (value `downstream`): the turn outlives
   * the response (a chat turn runs on when its client leaves), so the gateway does not publish `turn_sealed`.
   */
  turnSeal: 'x-aibox-turn-seal',
} as const;

/** gRPC metadata keys (lower-case; the `grpc-` prefix is reserved by gRPC itself). */
export const GRPC_METADATA = {
  tenantId: 'x-tenant-id',
  userId: 'x-user-id',
  principal: 'aibox-principal',
  turnId: 'aibox-turn-id',
  capToken: 'aibox-cap-token',
} as const;

const SPOOFABLE_NAMES: ReadonlySet<string> = new Set([
  'x-tenant-id',
  'x-forwarded-user',
  'x-forwarded-email',
  'x-forwarded-preferred-username',
  'x-remote-user',
  'remote-user',
]);

const SPOOFABLE_PREFIXES: readonly string[] = ['x-user-', 'x-aibox-', 'x-auth-request-'];

/**
 * Whether an inbound header could carry a forged identity (ARCHITECTURE §3). Matching ignores case and
 * treats `_` as `-`, because some servers read `X_User_ID` as `X-User-ID`.
 */
export function isSpoofableHeader(name: string): boolean {
  const normalized = name.toLowerCase().replaceAll('_', '-');
  return (
    SPOOFABLE_NAMES.has(normalized) || SPOOFABLE_PREFIXES.some((prefix) => normalized.startsWith(prefix))
  );
}

/**
 * A shallow copy of `headers` without any spoofable identity header, plus the names that were removed
 * (as they were spelled). The input is not modified.
 */
export function stripSpoofableHeaders<T extends Record<string, unknown>>(
  headers: T,
): { headers: T; stripped: string[] } {
  // Keep the prototype: Node hands out null-prototype header objects.
  const copy: Record<string, unknown> = Object.create(
    Object.getPrototypeOf(headers) as object | null,
  ) as Record<string, unknown>;
  const stripped: string[] = [];
  for (const name of Object.keys(headers)) {
    if (isSpoofableHeader(name)) {
      stripped.push(name);
    } else {
      copy[name] = headers[name];
    }
  }
  return { headers: copy as T, stripped };
}
