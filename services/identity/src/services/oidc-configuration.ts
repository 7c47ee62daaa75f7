import type { Logger } from '@aibox/platform';
import type { ClientMetadata, Configuration, KoaContextWithOIDC } from 'oidc-provider';
import { errors, type Adapter } from 'oidc-provider';

import type { AccessTokenAlg } from '../config/identity-config.schema.js';
import type { IdentityFileClient } from '../dtos/identity-file.dto.js';
import type { SigningKeySet } from '../repositories/signing-keys.repository.js';
import { errorPage } from '../views/html.js';
import {
  deviceSuccessPage,
  logoutPage,
  logoutSuccessPage,
  userCodeConfirmPage,
  userCodeInputPage,
} from '../views/device.view.js';
import { accessTokenClaims, type AccountDirectory } from './account.service.js';

/** The built-in public clients (ARCHITECTURE: the SPA and the `aibox` CLI). */
export const SPA_CLIENT_ID = 'aibox-spa';
export const CLI_CLIENT_ID = 'aibox-cli';
export const DEFAULT_SPA_REDIRECT_URIS = [
  'http://127.0.0.1:8080/auth/callback',
  'http://localhost:8080/auth/callback',
] as const;
export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
/** The scope an API access token carries when the client asks for it; the audience is what matters. */
export const API_SCOPE = 'api';

export interface OidcSettings {
  issuer: string;
  apiAudience: string;
  internalAudience: string;
  internalClient: { id: string; secret: string } | undefined;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  accessTokenAlg: AccessTokenAlg;
}

export interface OidcDependencies {
  settings: OidcSettings;
  accounts: AccountDirectory;
  fileClients: readonly IdentityFileClient[];
  keys: SigningKeySet;
  adapter: (model: string) => Adapter;
  logger: Logger;
}

/**
 * Resource indicators must be absolute URIs while audiences here are plain names (`aibox-api`), so each
 * audience has an indicator: itself when it is a URI, else `urn:aibox:<audience>`.
 */
export function resourceIndicatorOf(audience: string): string {
  return URL.canParse(audience) ? audience : `urn:aibox:${audience}`;
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

/** The clients oidc-provider knows: the SPA, the CLI, the internal service client, and the file's own. */
export function clientMetadata(
  settings: OidcSettings,
  fileClients: readonly IdentityFileClient[],
): ClientMetadata[] {
  const fromFile = new Map(fileClients.map((client) => [client.client_id, client]));
  const spa = fromFile.get(SPA_CLIENT_ID);
  const clients: ClientMetadata[] = [
    {
      client_id: SPA_CLIENT_ID,
      client_name: spa?.client_name ?? 'aibox',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: unique([...DEFAULT_SPA_REDIRECT_URIS, ...(spa?.redirect_uris ?? [])]),
      post_logout_redirect_uris: unique([
        'http://127.0.0.1:8080/',
        'http://localhost:8080/',
        ...(spa?.post_logout_redirect_uris ?? []),
      ]),
    },
    {
      client_id: CLI_CLIENT_ID,
      client_name: fromFile.get(CLI_CLIENT_ID)?.client_name ?? 'aibox CLI',
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      grant_types: [DEVICE_CODE_GRANT, 'refresh_token'],
      response_types: [],
      redirect_uris: [],
    },
  ];
  for (const client of fileClients) {
    if (client.client_id === SPA_CLIENT_ID || client.client_id === CLI_CLIENT_ID) continue;
    clients.push(
      client.type === 'spa'
        ? {
            client_id: client.client_id,
            client_name: client.client_name ?? client.client_id,
            token_endpoint_auth_method: 'none',
            grant_types: ['authorization_code', 'refresh_token'],
            response_types: ['code'],
            redirect_uris: client.redirect_uris,
            post_logout_redirect_uris: client.post_logout_redirect_uris,
          }
        : {
            client_id: client.client_id,
            client_name: client.client_name ?? client.client_id,
            application_type: 'native',
            token_endpoint_auth_method: 'none',
            grant_types: [DEVICE_CODE_GRANT, 'refresh_token'],
            response_types: [],
            redirect_uris: [],
          },
    );
  }
  if (settings.internalClient !== undefined) {
    clients.push({
      client_id: settings.internalClient.id,
      client_secret: settings.internalClient.secret,
      client_name: 'aibox internal services',
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
    });
  }
  return clients;
}

function clientName(ctx: KoaContextWithOIDC): string {
  const client = ctx.oidc.client;
  return client?.clientName ?? client?.clientId ?? 'aibox';
}

/** Every client here is aibox's own: consent is implied, so the grant covers what the request asks. */
async function autoGrant(ctx: KoaContextWithOIDC) {
  const { oidc } = ctx;
  const client = oidc.client;
  const accountId = oidc.session?.accountId;
  if (client === undefined || accountId === undefined) return undefined;
  const existingId = oidc.result?.consent?.grantId ?? oidc.session?.grantIdFor(client.clientId);
  const grant =
    (existingId === undefined ? undefined : await oidc.provider.Grant.find(existingId)) ??
    new oidc.provider.Grant({ clientId: client.clientId, accountId });
  grant.addOIDCScope([...oidc.requestParamOIDCScopes].join(' '));
  const claims = oidc.requestParamClaims;
  if (claims.size > 0) grant.addOIDCClaims([...claims]);
  for (const [indicator, server] of Object.entries(oidc.resourceServers ?? {})) {
    grant.addResourceScope(indicator, server.scope);
  }
  await grant.save();
  return grant;
}

/** oidc-provider's configuration for this service. */
export function oidcConfiguration(deps: OidcDependencies): Configuration {
  const { settings, accounts, logger } = deps;
  const apiResource = resourceIndicatorOf(settings.apiAudience);
  const internalResource = resourceIndicatorOf(settings.internalAudience);
  const internalClientId = settings.internalClient?.id;
  const ttl = settings.accessTokenTtlSeconds;

  return {
    adapter: deps.adapter,
    clients: clientMetadata(settings, deps.fileClients),
    jwks: { keys: deps.keys.jwks },
    cookies: { keys: deps.keys.cookieKeys },
    responseTypes: ['code'],
    scopes: ['openid', 'offline_access', 'email', 'profile', API_SCOPE],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'roles', 'tenant_id'],
    },
    findAccount(_ctx, sub) {
      const user = accounts.findBySub(sub);
      if (user === undefined) return undefined;
      return {
        accountId: user.sub,
        claims: () => ({
          sub: user.sub,
          email: user.email,
          email_verified: true,
          ...(user.name === undefined ? {} : { name: user.name }),
          roles: [...user.roles],
          ...(user.tenantId === undefined ? {} : { tenant_id: user.tenantId }),
        }),
      };
    },
    extraTokenClaims(_ctx, token) {
      const accountId = (token as { accountId?: string }).accountId;
      const user = accountId === undefined ? undefined : accounts.findBySub(accountId);
      return user === undefined ? undefined : accessTokenClaims(user);
    },
    loadExistingGrant: autoGrant,
    issueRefreshToken: (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: () => true,
    expiresWithSession: () => false,
    pkce: { required: () => true },
    clientBasedCORS(_ctx, origin, client) {
      if (origin === 'null') return false;
      return client.redirectUris?.some((uri) => URL.parse(uri)?.origin === origin) ?? false;
    },
    ttl: {
      AccessToken: ttl,
      ClientCredentials: ttl,
      IdToken: ttl,
      AuthorizationCode: 60,
      DeviceCode: 600,
      Interaction: 3600,
      Grant: settings.refreshTokenTtlSeconds,
      Session: settings.refreshTokenTtlSeconds,
      RefreshToken: settings.refreshTokenTtlSeconds,
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      revocation: {
        enabled: true,
        // A client revokes only its own tokens; a public client asking for another's is silently ignored.
        allowedPolicy(_ctx, client, token) {
          if (token.clientId === client.clientId) return true;
          if (client.clientAuthMethod === 'none') return false;
          throw new errors.InvalidRequest('client is not authorized to revoke the presented token');
        },
      },
      userinfo: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource(ctx, form) {
          ctx.body = logoutPage(form);
        },
        postLogoutSuccessSource(ctx) {
          ctx.body = logoutSuccessPage();
        },
      },
      deviceFlow: {
        enabled: true,
        userCodeInputSource(ctx, form, _out, error) {
          const message =
            error === undefined
              ? undefined
              : error.name === 'NoCodeError' || 'userCode' in error
                ? 'The code you entered is not valid or has expired. Try again.'
                : error.name === 'AbortedError'
                  ? 'The sign-in was cancelled.'
                  : 'Something went wrong. Try again.';
          ctx.body = userCodeInputPage(form, message);
        },
        userCodeConfirmSource(ctx, form, _client, _deviceInfo, userCode) {
          ctx.body = userCodeConfirmPage(form, clientName(ctx), userCode);
        },
        successSource(ctx) {
          ctx.body = deviceSuccessPage(clientName(ctx));
        },
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: (_ctx, client) =>
          client.clientId === internalClientId ? internalResource : apiResource,
        useGrantedResource: () => true,
        getResourceServerInfo(_ctx, indicator, client) {
          const internal = indicator === internalResource && client.clientId === internalClientId;
          if (indicator !== apiResource && !internal) throw new errors.InvalidTarget();
          return {
            scope: API_SCOPE,
            audience: internal ? settings.internalAudience : settings.apiAudience,
            accessTokenTTL: ttl,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: settings.accessTokenAlg } },
          };
        },
      },
    },
    renderError(ctx, out) {
      logger.debug({ error: out.error }, 'oidc error page');
      ctx.type = 'html';
      ctx.body = errorPage('Sign-in failed', out.error_description ?? out.error);
    },
  };
}
