/*
 * Every path oidc-provider answers, declared so that each is a Nest route with an explicit auth decision
 * (public: the OAuth endpoints authenticate clients and users themselves). Keep in step with
 * oidc-provider's `routes` defaults and the features enabled in services/oidc-configuration.ts.
 */
export const OIDC_GET_ROUTES = [
  '/.well-known/openid-configuration',
  '/jwks',
  '/auth',
  '/auth/:uid',
  '/me',
  '/device',
  '/device/:uid',
  '/session/end',
  '/session/end/success',
] as const;

export const OIDC_POST_ROUTES = [
  '/token',
  '/me',
  '/token/revocation',
  '/device/auth',
  '/device',
  '/session/end/confirm',
] as const;

/** CORS preflight of the endpoints a browser app calls directly. */
export const OIDC_OPTIONS_ROUTES = [
  '/.well-known/openid-configuration',
  '/jwks',
  '/token',
  '/me',
  '/token/revocation',
  '/device/auth',
] as const;

/** The sign-in pages of this service (interactions). */
export const INTERACTION_ROUTES = {
  show: '/interaction/:uid',
  login: '/interaction/:uid/login',
  abort: '/interaction/:uid/abort',
} as const;

/** Everything this service serves without a principal, for `bootService`'s route check. */
export const IDENTITY_PUBLIC_ROUTES: readonly string[] = [
  ...OIDC_GET_ROUTES.map((path) => `GET ${path}`),
  ...OIDC_POST_ROUTES.map((path) => `POST ${path}`),
  ...OIDC_OPTIONS_ROUTES.map((path) => `OPTIONS ${path}`),
  `GET ${INTERACTION_ROUTES.show}`,
  `POST ${INTERACTION_ROUTES.login}`,
  `GET ${INTERACTION_ROUTES.abort}`,
];
