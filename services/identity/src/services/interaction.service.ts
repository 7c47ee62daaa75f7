import type { IncomingMessage, ServerResponse } from 'node:http';

import type { Logger } from '@aibox/platform';
import { z } from 'zod';

import { describeIdentityError, type IdentityErrorCode } from '../errors/identity.error.js';
import { errorPage } from '../views/html.js';
import { loginPage } from '../views/login.view.js';
import type { AccountDirectory } from './account.service.js';
import type { IdentityProvider } from './identity-provider.service.js';
import type { LoginThrottle } from './login-throttle.service.js';

/** What an interaction route answers: a page, or a redirect back into oidc-provider. */
export type InteractionOutcome =
  { kind: 'page'; status: number; html: string } | { kind: 'redirect'; location: string };

const loginFormSchema = z.object({
  email: z.string().max(320).default(''),
  password: z.string().max(1024).default(''),
});

type Interaction = Awaited<ReturnType<IdentityProvider['provider']['interactionDetails']>>;

function message(code: IdentityErrorCode): string {
  return describeIdentityError(code).message;
}

function clientIdOf(details: Interaction): string {
  const clientId = details.params['client_id'];
  return typeof clientId === 'string' ? clientId : '';
}

function minutes(ms: number): string {
  const count = Math.max(1, Math.ceil(ms / 60_000));
  return count === 1 ? '1 minute' : `${count} minutes`;
}

/** The sign-in step of oidc-provider's interactions (authorization code and device flows alike). */
export class InteractionService {
  constructor(
    private readonly identity: IdentityProvider,
    private readonly accounts: AccountDirectory,
    private readonly throttle: LoginThrottle,
    private readonly logger: Logger,
    private readonly trustProxy: boolean,
  ) {}

  /** Whom failed attempts are counted against: the peer, or the first `X-Forwarded-For` hop behind a proxy. */
  private clientIp(req: IncomingMessage): string {
    const forwarded = req.headers['x-forwarded-for'];
    const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim();
    if (this.trustProxy && first !== undefined && first !== '') return first;
    return req.socket.remoteAddress ?? 'unknown';
  }

  private async details(
    req: IncomingMessage,
    res: ServerResponse,
    uid: string,
  ): Promise<Interaction | undefined> {
    try {
      const details = await this.identity.provider.interactionDetails(req, res);
      return details.uid === uid ? details : undefined;
    } catch {
      // No interaction cookie, an expired interaction or one of another browser: all "start again".
      return undefined;
    }
  }

  private expired(): InteractionOutcome {
    return { kind: 'page', status: 400, html: errorPage('Sign-in expired', message('interaction_expired')) };
  }

  private async clientName(details: Interaction): Promise<string> {
    const clientId = clientIdOf(details);
    const client = await this.identity.provider.Client.find(clientId);
    return client?.clientName ?? clientId;
  }

  private async loginForm(details: Interaction, status: number, email: string, error?: string) {
    const html = loginPage({
      uid: details.uid,
      clientName: await this.clientName(details),
      email,
      ...(error === undefined ? {} : { error }),
    });
    return { kind: 'page', status, html } as const;
  }

  /** Every client is aibox's own, so a consent prompt is answered with a grant for what was asked. */
  private async grantConsent(req: IncomingMessage, res: ServerResponse, details: Interaction) {
    const { Grant } = this.identity.provider;
    const accountId = details.session?.accountId ?? '';
    const clientId = clientIdOf(details);
    const existing = details.grantId === undefined ? undefined : await Grant.find(details.grantId);
    const grant = existing ?? new Grant({ accountId, clientId });
    const missing = details.prompt.details as {
      missingOIDCScope?: string[];
      missingOIDCClaims?: string[];
      missingResourceScopes?: Record<string, string[]>;
    };
    if (missing.missingOIDCScope !== undefined) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims !== undefined) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    const location = await this.identity.provider.interactionResult(req, res, { consent: { grantId } });
    return { kind: 'redirect', location } as const;
  }

  /** `GET /interaction/:uid`: the sign-in form (with `login_hint` prefilled). */
  async show(req: IncomingMessage, res: ServerResponse, uid: string): Promise<InteractionOutcome> {
    const details = await this.details(req, res, uid);
    if (details === undefined) return this.expired();
    if (details.prompt.name === 'consent') return this.grantConsent(req, res, details);
    const hint = details.params['login_hint'];
    return this.loginForm(details, 200, typeof hint === 'string' ? hint : '');
  }

  /** `POST /interaction/:uid/login`: checks the credentials, throttled per email and per client IP. */
  async login(
    req: IncomingMessage,
    res: ServerResponse,
    uid: string,
    body: unknown,
  ): Promise<InteractionOutcome> {
    const clientIp = this.clientIp(req);
    const details = await this.details(req, res, uid);
    if (details === undefined) return this.expired();
    const form = loginFormSchema.safeParse(typeof body === 'object' && body !== null ? body : {});
    const { email, password } = form.success ? form.data : { email: '', password: '' };

    const waitMs = await this.throttle.blockedForMs(email, clientIp);
    if (waitMs > 0) {
      this.logger.warn({ uid }, 'sign-in refused: too many failed attempts');
      return this.loginForm(details, 429, email, `${message('login_throttled')} (about ${minutes(waitMs)}).`);
    }
    const user = await this.accounts.authenticate(email, password);
    if (user === undefined) {
      await this.throttle.recordFailure(email, clientIp);
      this.logger.info({ uid }, 'sign-in failed');
      return this.loginForm(details, 401, email, `${message('invalid_credentials')}.`);
    }
    const location = await this.identity.provider.interactionResult(
      req,
      res,
      { login: { accountId: user.sub } },
      { mergeWithLastSubmission: false },
    );
    this.logger.info({ uid, user_id: user.sub }, 'signed in');
    return { kind: 'redirect', location };
  }

  /** `GET /interaction/:uid/abort`: the user cancelled; the client gets `access_denied`. */
  async abort(req: IncomingMessage, res: ServerResponse, uid: string): Promise<InteractionOutcome> {
    const details = await this.details(req, res, uid);
    if (details === undefined) return this.expired();
    const location = await this.identity.provider.interactionResult(
      req,
      res,
      { error: 'access_denied', error_description: 'The user cancelled the sign-in' },
      { mergeWithLastSubmission: false },
    );
    return { kind: 'redirect', location };
  }
}
