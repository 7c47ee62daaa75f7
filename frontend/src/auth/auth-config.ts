/**
 * How the SPA signs people in, as the gateway tells it (`GET /v1/auth/config`, public): nothing about the IdP
 * is baked into the build, so one build works with the built-in identity service, Keycloak or any OIDC IdP.
 */
export type AuthConfig =
  | { readonly mode: 'oidc'; readonly issuer: string; readonly client_id: string; readonly scope: string }
  | { readonly mode: 'disabled' };

export async function loadAuthConfig(): Promise<AuthConfig> {
  const response = await fetch('/v1/auth/config', { headers: { accept: 'application/json' } });
  if (!response.ok)
    throw new Error(`the gateway did not give its sign-in settings (HTTP ${response.status})`);
  const body = (await response.json()) as Partial<Record<string, unknown>>;
  if (body['mode'] === 'disabled') return { mode: 'disabled' };
  const { issuer, client_id: clientId, scope } = body;
  if (typeof issuer !== 'string' || typeof clientId !== 'string' || typeof scope !== 'string') {
    throw new Error('the gateway gave incomplete sign-in settings');
  }
  return { mode: 'oidc', issuer, client_id: clientId, scope };
}
