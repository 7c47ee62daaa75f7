import type { KeySet } from './key-set.js';
import { signToken, verifyToken, type TokenKind } from './signed-token.js';

/**
 * `iss` of principals the mesh's own services sign for the work they do on a turn's behalf (audit-client);
 * the gateway stamps a user's token issuer there, which is a URL and can never be this.
 */
export const INTERNAL_PRINCIPAL_ISSUER = 'aibox-internal';

/** Who is asking, as stamped by the gateway in `X-Aibox-Principal`. `iat`/`exp` are unix seconds. */
export interface Principal {
  tid: string;
  uid: string;
  email: string;
  roles: string[];
  iss: string;
  sub: string;
  iat: number;
  exp: number;
}

const PRINCIPAL: TokenKind<{
  readonly tid: 'id';
  readonly uid: 'id';
  readonly email: 'text';
  readonly roles: 'names';
  readonly iss: 'id';
  readonly sub: 'id';
  readonly iat: 'seconds';
  readonly exp: 'seconds';
}> = {
  name: 'principal',
  shape: {
    tid: 'id',
    uid: 'id',
    email: 'text',
    roles: 'names',
    iss: 'id',
    sub: 'id',
    iat: 'seconds',
    exp: 'seconds',
  },
  defaultTtlSeconds: 60,
};

/**
 * Signs a principal valid for `ttlSeconds` (default 60) from `now`. Only the principal's fields are read, so
 * a verified principal can be passed back in to re-stamp a fresh one for the same identity.
 */
export function signPrincipal(
  claims: Omit<Principal, 'iat' | 'exp'>,
  keys: KeySet,
  opts: { now?: number; ttlSeconds?: number } = {},
): string {
  return signToken(PRINCIPAL, claims, keys, opts);
}

/** Verifies an `X-Aibox-Principal` value; throws `IdentityError` with the first thing that is wrong. */
export function verifyPrincipal(
  token: string | undefined,
  keys: KeySet,
  opts: { now?: number; skewSeconds?: number } = {},
): Principal {
  return verifyToken(PRINCIPAL, token, keys, opts);
}
