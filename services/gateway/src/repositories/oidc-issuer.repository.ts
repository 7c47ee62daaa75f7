import { createRemoteJWKSet, type JWTVerifyGetKey } from 'jose';

/** How long one discovery or JWKS request may take. */
export const ISSUER_FETCH_TIMEOUT_MS = 5_000;

/** The parts of an OpenID Provider's discovery document the gateway uses. */
export interface OidcDiscovery {
  /** The issuer exactly as the provider spells it (what tokens carry in `iss`). */
  readonly issuer: string;
  readonly jwksUri: string;
  readonly tokenEndpoint: string | undefined;
}

/** The issuer could not be reached, or answered something unusable; the message says which. */
export class IssuerUnavailableError extends Error {
  override readonly name = 'IssuerUnavailableError';
}

export interface IssuerKeysOptions {
  /** At most one JWKS refetch per this many ms for unknown `kid`s. */
  readonly refetchIntervalMs: number;
  /** A JWKS older than this is refetched before use. */
  readonly maxAgeMs: number;
}

/** `https://idp/realms/x/` and `https://idp/realms/x` name the same issuer. */
export function normalizeIssuer(issuer: string): string {
  return issuer.replace(/\/+$/, '');
}

function httpUrl(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : undefined;
  } catch {
    return undefined;
  }
}

/**
 * OpenID Connect discovery and signing keys of the configured issuers (I/O). Discovery is fetched once per
 * issuer (single flight; a failure is retried on the next use); keys come from jose's remote JWKS, which
 * caches them, refetches a stale set, and refetches on an unknown `kid` at most once per refetch interval.
 * Only configured issuers are ever contacted: never a URL taken from a token.
 */
export class OidcIssuerRepository {
  private readonly discoveries = new Map<string, Promise<OidcDiscovery>>();
  private readonly keySets = new Map<string, JWTVerifyGetKey>();

  constructor(private readonly keyOptions: IssuerKeysOptions) {}

  discover(issuer: string): Promise<OidcDiscovery> {
    const key = normalizeIssuer(issuer);
    let pending = this.discoveries.get(key);
    if (pending === undefined) {
      pending = this.fetchDiscovery(key);
      this.discoveries.set(key, pending);
      pending.catch(() => {
        if (this.discoveries.get(key) === pending) this.discoveries.delete(key);
      });
    }
    return pending;
  }

  /** The key function for `jwtVerify`; failures to fetch become {@link IssuerUnavailableError}. */
  async keys(issuer: string): Promise<JWTVerifyGetKey> {
    const key = normalizeIssuer(issuer);
    const known = this.keySets.get(key);
    if (known !== undefined) return known;
    const discovery = await this.discover(key);
    const remote = createRemoteJWKSet(new URL(discovery.jwksUri), {
      cooldownDuration: this.keyOptions.refetchIntervalMs,
      cacheMaxAge: this.keyOptions.maxAgeMs,
      timeoutDuration: ISSUER_FETCH_TIMEOUT_MS,
    });
    const resolver: JWTVerifyGetKey = async (header, token) => {
      try {
        return await remote(header, token);
      } catch (error: unknown) {
        // jose's own verdicts (no matching key…) pass; a fetch that failed or a JWKS that is not one does not.
        const code = (error as { code?: unknown } | null)?.code;
        if (code === 'ERR_JWKS_NO_MATCHING_KEY' || code === 'ERR_JWKS_MULTIPLE_MATCHING_KEYS') throw error;
        throw new IssuerUnavailableError(`the keys of ${key} cannot be fetched`, { cause: error });
      }
    };
    this.keySets.set(key, resolver);
    return resolver;
  }

  private async fetchDiscovery(issuer: string): Promise<OidcDiscovery> {
    const url = `${issuer}/.well-known/openid-configuration`;
    let body: unknown;
    try {
      const response = await fetch(url, {
        headers: { accept: 'application/json' },
        redirect: 'error',
        signal: AbortSignal.timeout(ISSUER_FETCH_TIMEOUT_MS),
      });
      if (!response.ok) {
        await response.body?.cancel();
        throw new IssuerUnavailableError(`${url} answered ${response.status}`);
      }
      body = await response.json();
    } catch (error: unknown) {
      if (error instanceof IssuerUnavailableError) throw error;
      throw new IssuerUnavailableError(`${url} cannot be fetched`, { cause: error });
    }
    const document = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    const declared = typeof document['issuer'] === 'string' ? document['issuer'] : undefined;
    // OIDC Discovery §4.3: the document must name the issuer it was fetched for.
    if (declared === undefined || normalizeIssuer(declared) !== issuer) {
      throw new IssuerUnavailableError(`${url} names another issuer`);
    }
    const jwksUri = httpUrl(document['jwks_uri']);
    if (jwksUri === undefined) {
      throw new IssuerUnavailableError(`${url} has no usable jwks_uri`);
    }
    return Object.freeze({ issuer: declared, jwksUri, tokenEndpoint: httpUrl(document['token_endpoint']) });
  }
}
