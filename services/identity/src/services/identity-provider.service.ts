import type { IncomingMessage, ServerResponse } from 'node:http';

import type { FastifyReply, FastifyRequest } from 'fastify';
import Provider from 'oidc-provider';

import type { SigningKeySet } from '../repositories/signing-keys.repository.js';
import { PAGE_HEADERS } from '../views/html.js';
import { oidcConfiguration, type OidcDependencies } from './oidc-configuration.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

interface Current {
  provider: Provider;
  handler: Handler;
  keys: SigningKeySet;
}

function sameKeys(a: SigningKeySet, b: SigningKeySet): boolean {
  const kids = (set: SigningKeySet) => set.jwks.map((jwk) => String(jwk['kid'])).join(',');
  return kids(a) === kids(b);
}

/**
 * The running oidc-provider. It is rebuilt, with the same state store and cookies, when the signing keys change
 * (a rotation), so new tokens use the new keys without a restart.
 */
export class IdentityProvider {
  private current: Current;

  constructor(
    private readonly deps: Omit<OidcDependencies, 'keys'>,
    keys: SigningKeySet,
    private readonly trustProxy: boolean,
  ) {
    this.current = this.build(keys);
  }

  get provider(): Provider {
    return this.current.provider;
  }

  get activeKids(): SigningKeySet['activeKids'] {
    return this.current.keys.activeKids;
  }

  private build(keys: SigningKeySet): Current {
    const provider = new Provider(this.deps.settings.issuer, oidcConfiguration({ ...this.deps, keys }));
    provider.proxy = this.trustProxy;
    // Every HTML page oidc-provider renders (device, logout, errors) gets the same headers as ours.
    provider.use(async (ctx, next) => {
      await next();
      if (ctx.response.is('html') !== false) ctx.set({ ...PAGE_HEADERS });
    });
    provider.on('server_error', (_ctx, error: unknown) => {
      this.deps.logger.error({ err: error }, 'oidc-provider failed a request');
    });
    // The provider is a Koa app, which would print failed requests to stderr; `server_error` logs them instead.
    provider.silent = true;
    return { provider, handler: provider.callback(), keys };
  }

  /** Switches to `keys` when they differ from the ones in use; returns whether it did. */
  reload(keys: SigningKeySet): boolean {
    if (sameKeys(keys, this.current.keys)) return false;
    this.current = this.build(keys);
    this.deps.logger.info({ signing_kids: keys.activeKids }, 'signing keys reloaded');
    return true;
  }

  /** Hands a request to oidc-provider, which answers it on the raw response. */
  async handle(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    // Fastify already parsed form and JSON bodies; oidc-provider reads the parsed body from `req.body`.
    (request.raw as IncomingMessage & { body?: unknown }).body = request.body;
    for (const [name, value] of Object.entries(reply.getHeaders())) {
      if (value !== undefined) reply.raw.setHeader(name, value);
    }
    reply.hijack();
    await this.current.handler(request.raw, reply.raw);
  }
}
