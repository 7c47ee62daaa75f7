import type { SpaSignIn } from '../config/gateway-config.schema.js';
import type { AuthConfigResponse } from '../dtos/auth-config.dto.js';

/**
 * The SPA's sign-in settings, from the gateway's configuration rather than the SPA's build: one build
 * works with the built-in identity service, Keycloak or any OIDC IdP the gateway accepts.
 */
export class AuthConfigService {
  private readonly response: AuthConfigResponse;

  constructor(signIn: SpaSignIn) {
    this.response = Object.freeze(
      signIn.mode === 'oidc'
        ? { mode: 'oidc', issuer: signIn.issuer, client_id: signIn.clientId, scope: signIn.scope }
        : { mode: 'disabled' },
    );
  }

  config(): AuthConfigResponse {
    return this.response;
  }
}
