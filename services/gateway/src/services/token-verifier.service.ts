import { decodeJwt, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import { LRUCache } from 'lru-cache';

import { GatewayError, type GatewayErrorCode } from '../errors/gateway.error.js';
import {
  IssuerUnavailableError,
  normalizeIssuer,
  type OidcIssuerRepository,
} from '../repositories/oidc-issuer.repository.js';

/** Asymmetric algorithms only: never `none`, never HMAC (a public key must not be usable as a secret). */
export const ALLOWED_ALGORITHMS: readonly string[] = ['RS256', 'PS256', 'ES256', 'EdDSA'];

/** Tolerated clock difference with the issuer (ARCHITECTURE §3). */
export const JWT_CLOCK_SKEW_SECONDS = 30;

/** Longer bearer tokens are refused before any parsing. */
export const MAX_JWT_BYTES = 16_384;

/**
 * A verified token is remembered, by its exact text, for at most this long and never past its expiry, so a
 * client's next requests skip the signature check. The price: a key the issuer withdraws from its JWKS stops
 * its tokens only after this long.
 */
export const VERIFIED_TOKEN_TTL_MS = 60_000;

/** Memory for remembered tokens (token text plus claims, estimated); the least recently used go first. */
export const VERIFIED_TOKEN_CACHE_BYTES = 16 * 1024 * 1024;

export interface VerifiedToken {
  /** The issuer as configured (normalized). */
  readonly issuer: string;
  readonly subject: string;
  readonly claims: JWTPayload;
}

export interface TokenVerifierOptions {
  readonly issuers: readonly string[];
  readonly audience: string;
}

const BEARER = /^Bearer[ ]+([^\s]+)[ ]*$/i;

function fail(code: GatewayErrorCode, cause?: unknown): never {
  throw new GatewayError(code, cause === undefined ? {} : { cause });
}

function claimError(error: { claim?: unknown; reason?: unknown }): GatewayErrorCode {
  switch (error.claim) {
    case 'aud':
      return 'audience_invalid';
    case 'iss':
      return 'issuer_untrusted';
    case 'nbf':
    case 'iat':
      return error.reason === 'check_failed' ? 'token_not_yet_valid' : 'claims_invalid';
    case 'exp':
      return error.reason === 'check_failed' ? 'token_expired' : 'claims_invalid';
    default:
      return 'claims_invalid';
  }
}

/** Maps jose's verdicts to the gateway's stable codes. */
function verdict(error: unknown): GatewayErrorCode {
  if (error instanceof IssuerUnavailableError) return 'issuer_unavailable';
  const code = (error as { code?: unknown } | null)?.code;
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      return 'token_expired';
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return claimError(error as { claim?: unknown; reason?: unknown });
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return 'algorithm_not_allowed';
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return 'key_unknown';
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return 'signature_invalid';
    default:
      return 'token_malformed';
  }
}

/**
 * Validates user access tokens (ARCHITECTURE §3): bearer syntax, size, algorithm allowlist, a trusted
 * issuer (chosen by the unverified `iss`, then verified), the issuer's published key, audience, `exp`/`nbf`/
 * `iat` with 30 s of skew, and a `sub`. Every failure is a {@link GatewayError} with its own code.
 */
export class TokenVerifier {
  private readonly trusted: ReadonlyMap<string, string>;
  /** Verified tokens by their exact text, with the time (ms) until which they are served from memory. */
  private readonly verified = new LRUCache<string, { token: VerifiedToken; until: number }>({
    maxSize: VERIFIED_TOKEN_CACHE_BYTES,
    sizeCalculation: (_entry, text) => 2 * text.length + 1024,
  });

  constructor(
    private readonly issuers: OidcIssuerRepository,
    private readonly options: TokenVerifierOptions,
  ) {
    this.trusted = new Map(options.issuers.map((issuer) => [normalizeIssuer(issuer), issuer]));
  }

  /**
   * `authorization` is every `Authorization` header of the request (Node keeps only the first of repeated
   * ones in `headers`, so the caller passes them from `rawHeaders`).
   */
  async verify(authorization: readonly string[]): Promise<VerifiedToken> {
    if (authorization.length === 0) fail('token_missing');
    if (authorization.length > 1) fail('token_malformed');
    const header = authorization[0] ?? '';
    if (header.trim() === '') fail('token_missing');
    if (Buffer.byteLength(header) > MAX_JWT_BYTES + 16) fail('token_oversize');
    const token = BEARER.exec(header)?.[1];
    if (token === undefined) fail('token_malformed');
    if (Buffer.byteLength(token) > MAX_JWT_BYTES) fail('token_oversize');

    const now = Date.now();
    const remembered = this.verified.get(token);
    if (remembered !== undefined) {
      if (now < remembered.until) return remembered.token;
      this.verified.delete(token);
    }
    const verified = await this.verifySignedToken(token);
    const expiresAt = ((verified.claims.exp ?? 0) + JWT_CLOCK_SKEW_SECONDS) * 1000;
    this.verified.set(token, { token: verified, until: Math.min(now + VERIFIED_TOKEN_TTL_MS, expiresAt) });
    return verified;
  }

  private async verifySignedToken(token: string): Promise<VerifiedToken> {
    let alg: unknown;
    let unverifiedIssuer: unknown;
    try {
      alg = decodeProtectedHeader(token).alg;
      unverifiedIssuer = decodeJwt(token).iss;
    } catch (error: unknown) {
      fail('token_malformed', error);
    }
    if (typeof alg !== 'string' || !ALLOWED_ALGORITHMS.includes(alg)) fail('algorithm_not_allowed');
    if (typeof unverifiedIssuer !== 'string') fail('issuer_untrusted');
    const issuer = normalizeIssuer(unverifiedIssuer);
    if (!this.trusted.has(issuer)) fail('issuer_untrusted');

    let claims: JWTPayload;
    try {
      const [discovery, keys] = await Promise.all([this.issuers.discover(issuer), this.issuers.keys(issuer)]);
      ({ payload: claims } = await jwtVerify(token, keys, {
        issuer: discovery.issuer,
        audience: this.options.audience,
        algorithms: [...ALLOWED_ALGORITHMS],
        clockTolerance: JWT_CLOCK_SKEW_SECONDS,
        requiredClaims: ['sub', 'exp'],
      }));
    } catch (error: unknown) {
      fail(verdict(error), error);
    }
    const now = Math.floor(Date.now() / 1000);
    if (typeof claims.iat === 'number' && claims.iat > now + JWT_CLOCK_SKEW_SECONDS)
      fail('token_not_yet_valid');
    if (typeof claims.sub !== 'string' || claims.sub === '') fail('claims_invalid');
    return { issuer, subject: claims.sub, claims };
  }
}
