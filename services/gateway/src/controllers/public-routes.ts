/**
 * Routes the platform's `PrincipalGuard` does not guard (the boot-time route check lists them): the
 * `/v1/*` proxy, authenticated by `GatewayAuthGuard` with the caller's JWT, and the public SPA.
 */
export const GATEWAY_PUBLIC_ROUTES: readonly string[] = ['/v1/*', 'GET /*'];
