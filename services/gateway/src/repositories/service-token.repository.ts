import type { Logger } from '@aibox/platform';

import { GatewayError } from '../errors/gateway.error.js';
import { ISSUER_FETCH_TIMEOUT_MS, type OidcIssuerRepository } from './oidc-issuer.repository.js';

export interface ServiceTokenOptions {
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
}

interface CachedToken {
  readonly value: string;
  /** Epoch ms after which the token is refreshed (shortly before it expires). */
  readonly refreshAt: number;
}

/** Refresh this long before expiry, or at half the lifetime for short-lived tokens. */
const REFRESH_MARGIN_MS = 30_000;

/**
 * The gateway's own service JWT (client-credentials grant at `INTERNAL_AUTH_ISSUER`, ARCHITECTURE §3),
 * attached to every downstream call. Cached until shortly before expiry; concurrent callers share one
 * refresh. Without a client secret (development only) there is no token and a warning is logged once.
 */
export class ServiceTokenRepository {
  private cached: CachedToken | undefined;
  private pending: Promise<CachedToken> | undefined;
  private warned = false;

  constructor(
    private readonly issuers: OidcIssuerRepository,
    private readonly options: ServiceTokenOptions | undefined,
    private readonly logger: Pick<Logger, 'warn'>,
  ) {}

  /** The bearer token for downstream calls; undefined without a client secret. */
  async token(): Promise<string | undefined> {
    if (this.options === undefined) {
      if (!this.warned) {
        this.warned = true;
        this.logger.warn(
          {},
          'INTERNAL_AUTH_CLIENT_SECRET is unset: downstream calls carry no service token (development only)',
        );
      }
      return undefined;
    }
    const cached = this.cached;
    if (cached !== undefined && Date.now() < cached.refreshAt) return cached.value;
    this.pending ??= this.fetch(this.options).finally(() => {
      this.pending = undefined;
    });
    return (await this.pending).value;
  }

  private async fetch(options: ServiceTokenOptions): Promise<CachedToken> {
    let body: unknown;
    try {
      const { tokenEndpoint } = await this.issuers.discover(options.issuer);
      if (tokenEndpoint === undefined) {
        throw new Error(`${options.issuer} publishes no token_endpoint`);
      }
      const basic = Buffer.from(
        `${encodeURIComponent(options.clientId)}:${encodeURIComponent(options.clientSecret)}`,
      ).toString('base64');
      const response = await fetch(tokenEndpoint, {
        method: 'POST',
        headers: {
          authorization: `Basic ${basic}`,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body: new URLSearchParams({ grant_type: 'client_credentials' }).toString(),
        redirect: 'error',
        signal: AbortSignal.timeout(ISSUER_FETCH_TIMEOUT_MS),
      });
      body = await response.json().catch(() => undefined);
      if (!response.ok) {
        const error = (body as { error?: unknown } | undefined)?.error;
        throw new Error(
          `the token endpoint answered ${response.status} ${typeof error === 'string' ? error : ''}`,
        );
      }
    } catch (error: unknown) {
      throw new GatewayError('internal_auth_unavailable', { cause: error });
    }
    const { access_token: value, expires_in: expiresIn } = (body ?? {}) as Record<string, unknown>;
    if (typeof value !== 'string' || value === '') {
      throw new GatewayError('internal_auth_unavailable', {
        cause: new Error('the token endpoint answered without an access_token'),
      });
    }
    const lifetimeMs = typeof expiresIn === 'number' && expiresIn > 0 ? expiresIn * 1000 : 60_000;
    const margin = Math.min(REFRESH_MARGIN_MS, lifetimeMs / 2);
    const token = { value, refreshAt: Date.now() + lifetimeMs - margin };
    this.cached = token;
    return token;
  }
}
