import { createParamDecorator, type ExecutionContext } from '@nestjs/common';

import { currentContext, PlatformError, verifiedPrincipal } from '@aibox/platform';

import type { Caller } from '../services/model-call.js';

/** The verified principal's tenant and user, and the request's turn (from `X-Aibox-Turn-Id`) when it names one. */
export const CurrentCaller = createParamDecorator((_data: unknown, context: ExecutionContext): Caller => {
  const principal = verifiedPrincipal(context);
  if (principal === undefined) throw new PlatformError('principal_invalid');
  return { tenantId: principal.tid, userId: principal.uid, turnId: currentContext()?.turnId };
});
