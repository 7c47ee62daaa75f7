import { HEADER, signCapToken, signPrincipal, type KeySet, type Principal } from '@aibox/identity';
import type { JWTPayload } from 'jose';

import type { TenancyMode } from '../config/gateway-config.schema.js';
import { GatewayError } from '../errors/gateway.error.js';
import { ROUTE_CLASS_CAPS, type RouteClass } from './route-table.js';
import type { VerifiedToken } from './token-verifier.service.js';

/** The identity the gateway vouches for, before it is signed (`iat`/`exp` come with the stamp). */
export type Identity = Omit<Principal, 'iat' | 'exp'>;

/** Lifetime of the principal stamped on each proxied request (ARCHITECTURE §3). */
export const PRINCIPAL_TTL_SECONDS = 60;
/** Lifetime of a turn's cap token: as long as a turn may run. */
export const CAP_TOKEN_TTL_SECONDS = 900;

/** The principal of auth-disabled development mode (README: Auth-disabled mode). */
export const ANONYMOUS = {
  uid: 'anonymous',
  email: '',
  roles: ['user', 'admin'],
  iss: 'urn:aibox:gateway:auth-disabled',
  sub: 'anonymous',
} as const;

// Keycloak puts realm roles here, whatever AUTH_ROLES_CLAIM says.
const KEYCLOAK_ROLES_CLAIM = 'realm_access.roles';
const MAX_TENANT_LENGTH = 128;
const TENANT_ID = /^[^\p{Cc}]+$/u;
const ROLE = /^[^,\s\p{Cc}]+$/u;

export interface IdentityStampOptions {
  readonly principalKeys: KeySet;
  readonly capTokenKeys: KeySet;
  readonly tenancyMode: TenancyMode;
  readonly singleTenantId: string;
  readonly rolesClaim: string;
  readonly tenantClaim: string;
}

/** The headers and tokens stamped on one request. */
export interface Stamp {
  readonly principal: Principal;
  readonly principalToken: string;
  readonly capToken: string;
  /** Lower-case header names from `@aibox/identity`'s `HEADER`. */
  readonly headers: Readonly<Record<string, string>>;
}

/** A claim by name, where a dotted name walks into objects (`realm_access.roles`). */
function claimAt(claims: JWTPayload, name: string): unknown {
  if (Object.hasOwn(claims, name)) return claims[name];
  let value: unknown = claims;
  for (const part of name.split('.')) {
    if (typeof value !== 'object' || value === null || !Object.hasOwn(value, part)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

function rolesOf(value: unknown): string[] {
  const list = typeof value === 'string' ? value.split(/[\s,]+/) : Array.isArray(value) ? value : [];
  const roles = list.filter((role): role is string => typeof role === 'string' && ROLE.test(role));
  return [...new Set(roles)];
}

/** Header values are ASCII; anything else is percent-encoded (the signed principal carries the exact value). */
function headerValue(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) ? value : encodeURIComponent(value);
}

/**
 * Turns a verified token into the identity the mesh sees (tenant, user, email, roles), checks the inbound
 * `X-Tenant-ID`, and signs the principal and cap token stamped on each request (ARCHITECTURE §3).
 */
export class IdentityStamper {
  constructor(private readonly options: IdentityStampOptions) {}

  identityOf(token: VerifiedToken): Identity {
    const { claims } = token;
    const email = typeof claims['email'] === 'string' ? claims['email'] : '';
    const configured = claimAt(claims, this.options.rolesClaim);
    const roles = rolesOf(configured ?? claimAt(claims, KEYCLOAK_ROLES_CLAIM));
    return {
      tid: this.tenantOf(claims),
      uid: token.subject,
      email,
      roles,
      iss: token.issuer,
      sub: token.subject,
    };
  }

  anonymous(): Identity {
    return { tid: this.options.singleTenantId, ...ANONYMOUS, roles: [...ANONYMOUS.roles] };
  }

  /**
   * 403 `tenant_mismatch` when any inbound tenant header (any case, `_` for `-`, repeated) names another
   * tenant. Runs on the raw headers, before they are stripped.
   */
  checkInboundTenant(rawHeaders: readonly string[], tenantId: string): void {
    for (let index = 0; index + 1 < rawHeaders.length; index += 2) {
      const name = (rawHeaders[index] ?? '').toLowerCase().replaceAll('_', '-');
      if (name === HEADER.tenantId && (rawHeaders[index + 1] ?? '').trim() !== tenantId) {
        throw new GatewayError('tenant_mismatch');
      }
    }
  }

  stamp(identity: Identity, turnId: string, routeClass: RouteClass, now = Date.now() / 1000): Stamp {
    const iat = Math.floor(now);
    const principalToken = signPrincipal(identity, this.options.principalKeys, {
      now: iat,
      ttlSeconds: PRINCIPAL_TTL_SECONDS,
    });
    const caps = ROUTE_CLASS_CAPS[routeClass];
    const capToken = signCapToken(
      { turn: turnId, tid: identity.tid, uid: identity.uid, caps: [...caps] },
      this.options.capTokenKeys,
      { now: iat, ttlSeconds: CAP_TOKEN_TTL_SECONDS },
    );
    return {
      principal: { ...identity, iat, exp: iat + PRINCIPAL_TTL_SECONDS },
      principalToken,
      capToken,
      headers: {
        [HEADER.tenantId]: headerValue(identity.tid),
        [HEADER.userId]: headerValue(identity.uid),
        [HEADER.userEmail]: headerValue(identity.email),
        [HEADER.userRoles]: identity.roles.join(','),
        [HEADER.principal]: principalToken,
        [HEADER.turnId]: turnId,
        [HEADER.capToken]: capToken,
      },
    };
  }

  private tenantOf(claims: JWTPayload): string {
    if (this.options.tenancyMode === 'single') return this.options.singleTenantId;
    const value = claimAt(claims, this.options.tenantClaim);
    if (
      typeof value !== 'string' ||
      value === '' ||
      value.length > MAX_TENANT_LENGTH ||
      !TENANT_ID.test(value)
    ) {
      throw new GatewayError('tenant_claim_missing');
    }
    return value;
  }
}
