import { createParamDecorator, type ExecutionContext } from '@nestjs/common';

import { isUuid } from '@aibox/identity';
import { presentedIdentity } from '@aibox/platform';

import type { TurnIdentity } from '../services/chat.service.js';

/** The turn the gateway allocated for this request (`X-Aibox-Turn-Id`) and its cap token, as presented. */
export const CurrentTurn = createParamDecorator((_data: unknown, context: ExecutionContext): TurnIdentity => {
  const identity = presentedIdentity(context);
  const turnId = identity?.turnId;
  return {
    turnId: turnId !== undefined && isUuid(turnId) ? turnId.toLowerCase() : undefined,
    capToken: identity?.capToken,
  };
});
