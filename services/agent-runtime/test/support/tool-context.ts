import type { Principal } from '@aibox/identity';

import type { ToolContext } from '../../src/tools/tool.js';

/** A user of tenant `tenant-1`, as the gateway would have verified them. */
export const TEST_PRINCIPAL: Principal = {
  tid: 'tenant-1',
  uid: 'user-1',
  email: 'user@example.com',
  roles: ['user'],
  iss: 'test',
  sub: 'user-1',
  iat: 0,
  exp: 0,
};

/** The context a tool runs in, for that user, in a turn of theirs. */
export function toolContext(signal: AbortSignal = new AbortController().signal): ToolContext {
  return {
    principal: TEST_PRINCIPAL,
    tenantId: TEST_PRINCIPAL.tid,
    userId: TEST_PRINCIPAL.uid,
    turnId: 'turn-1',
    conversationId: 'conversation-1',
    capToken: undefined,
    signal,
    record: () => undefined,
  };
}
