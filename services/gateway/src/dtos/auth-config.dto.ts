/**
 * `GET /v1/auth/config` (public): how the SPA signs people in. `oidc`: authorization code + PKCE at `issuer`
 * as the public client `client_id`, asking for `scope`; `disabled`: auth-disabled development mode, where
 * every request is the anonymous principal and the SPA sends no token.
 */
export type AuthConfigResponse =
  { mode: 'oidc'; issuer: string; client_id: string; scope: string } | { mode: 'disabled' };
