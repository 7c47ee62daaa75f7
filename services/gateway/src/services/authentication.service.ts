import type { IncomingMessage } from 'node:http';

import { newTurnId } from '@aibox/identity';

import type { Identity, IdentityStamper } from './identity-stamp.service.js';
import type { TokenVerifier, VerifiedToken } from './token-verifier.service.js';

/** What the gateway knows about an authenticated `/v1/*` request. */
export interface Authenticated {
  readonly identity: Identity;
  readonly turnId: string;
  /** `performance.now()` when authentication succeeded. */
  readonly startedAt: number;
}

const authenticated = new WeakMap<IncomingMessage, Authenticated>();

/** Every value of headers named `name` (lower case), as sent: Node keeps only one `Authorization`. */
export function rawHeaderValues(request: IncomingMessage, name: string): string[] {
  const values: string[] = [];
  const raw = request.rawHeaders;
  for (let index = 0; index + 1 < raw.length; index += 2) {
    if ((raw[index] ?? '').toLowerCase() === name) values.push(raw[index + 1] ?? '');
  }
  return values;
}

/**
 * Authenticates `/v1/*` requests: the bearer token (or, with auth disabled, the anonymous principal), then a
 * fresh turn id, then the tenant and the inbound `X-Tenant-ID` check. `onTurn` runs as soon as the request
 * counts as authenticated, so that even a later refusal carries the turn id.
 */
export class AuthenticationService {
  constructor(
    private readonly verifier: TokenVerifier,
    private readonly stamper: IdentityStamper,
    private readonly authEnabled: boolean,
  ) {}

  async authenticate(request: IncomingMessage, onTurn: (turnId: string) => void): Promise<Authenticated> {
    const token: VerifiedToken | undefined = this.authEnabled
      ? await this.verifier.verify(rawHeaderValues(request, 'authorization'))
      : undefined;
    const turnId = newTurnId();
    onTurn(turnId);
    const identity = token === undefined ? this.stamper.anonymous() : this.stamper.identityOf(token);
    this.stamper.checkInboundTenant(request.rawHeaders, identity.tid);
    const result = { identity, turnId, startedAt: performance.now() };
    authenticated.set(request, result);
    return result;
  }
}

/** The authentication of a request that passed the gateway's guard. */
export function authenticatedOf(request: IncomingMessage): Authenticated | undefined {
  return authenticated.get(request);
}
