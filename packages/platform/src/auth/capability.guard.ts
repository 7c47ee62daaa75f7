import { Inject, Injectable, Optional, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';

import {
  hasCapability,
  IdentityError,
  isUuid,
  verifyCapToken,
  type CapToken,
  type KeySet,
} from '@aibox/identity';

import { setContextCapToken } from '../context/request-context.js';
import { nestRequestLogger, REQUEST_LOGGER, type RequestLogger } from '../errors/request-logger.js';
import { PlatformError } from '../errors/service.error.js';
import { CAPTOKEN_KEYS, CLOCK_SKEW_SECONDS, REQUIRED_CAPABILITIES } from './auth.tokens.js';
import { presentedIdentity, verifiedPrincipal } from './request-identity.js';

/**
 * Enforces `@RequireCapability(...)`: the request must carry a cap token (`x-aibox-cap-token` /
 * `aibox-cap-token`) that verifies with the keys under {@link CAPTOKEN_KEYS}, belongs to the verified
 * principal's tenant and user (and to the request's turn when it names one), and grants every required
 * capability — else 403 `capability_missing`, with the reason in a debug log only. Runs after
 * {@link PrincipalGuard}; without a verified principal it answers 401 `principal_invalid`.
 */
@Injectable()
export class CapabilityGuard implements CanActivate {
  private readonly logger: RequestLogger;

  constructor(
    private readonly reflector: Reflector,
    @Inject(CAPTOKEN_KEYS) private readonly keys: KeySet,
    @Optional() @Inject(REQUEST_LOGGER) logger?: RequestLogger,
  ) {
    this.logger = logger ?? nestRequestLogger('CapabilityGuard');
  }

  canActivate(context: ExecutionContext): boolean {
    const required = this.reflector.getAllAndMerge<string[]>(REQUIRED_CAPABILITIES, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (required.length === 0) {
      return true;
    }
    const principal = verifiedPrincipal(context);
    if (principal === undefined) {
      throw new PlatformError('principal_invalid');
    }
    const identity = presentedIdentity(context);
    const capToken = this.verify(identity?.capToken, context.getType());

    const turnId = isUuid(identity?.turnId) ? identity.turnId.toLowerCase() : undefined;
    let refusal: string | undefined;
    if (capToken.tid !== principal.tid || capToken.uid !== principal.uid) {
      refusal = 'identity_mismatch';
    } else if (turnId !== undefined && capToken.turn.toLowerCase() !== turnId) {
      refusal = 'turn_mismatch';
    } else if (!required.every((capability) => hasCapability(capToken, capability))) {
      refusal = 'capability_not_granted';
    }
    if (refusal !== undefined) {
      this.logger.debug({ transport: context.getType(), reason: refusal, required }, 'cap token rejected');
      throw new PlatformError('capability_missing', { detail: `requires ${required.join(', ')}` });
    }
    setContextCapToken(capToken);
    return true;
  }

  private verify(token: string | undefined, transport: string): CapToken {
    try {
      return verifyCapToken(token, this.keys, { skewSeconds: CLOCK_SKEW_SECONDS });
    } catch (error: unknown) {
      if (!(error instanceof IdentityError)) {
        throw error;
      }
      this.logger.debug({ transport, reason: error.code }, 'cap token rejected');
      throw new PlatformError('capability_missing');
    }
  }
}
