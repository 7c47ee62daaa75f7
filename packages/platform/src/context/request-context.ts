import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

import type { CapToken, Principal } from '@aibox/identity';

/**
 * What is known about the request being served. One mutable object per request: the transport hooks
 * create it before anything else runs, and the guards fill in the principal, turn and cap token as they
 * verify them, so every log line written later in the request can name them.
 */
export interface RequestContext {
  /** Names this request in logs and in error responses; fresh per HTTP request or gRPC call. */
  correlationId: string;
  principal?: Principal;
  turnId?: string;
  capToken?: CapToken;
}

const storage = new AsyncLocalStorage<RequestContext>();

/** A fresh context with a new correlation id. */
export function createRequestContext(init: { turnId?: string } = {}): RequestContext {
  const context: RequestContext = { correlationId: randomUUID() };
  if (init.turnId !== undefined) {
    context.turnId = init.turnId;
  }
  return context;
}

/** Runs `fn` (and everything asynchronous it starts) with `context` as the current request context. */
export function runWithContext<T>(context: RequestContext, fn: () => T): T {
  return storage.run(context, fn);
}

/** The context of the request being served, or `undefined` outside of one (startup, timers, tests). */
export function currentContext(): RequestContext | undefined {
  return storage.getStore();
}

/** Records the verified principal on the current context; a no-op outside of a request. */
export function setContextPrincipal(principal: Principal): void {
  const context = storage.getStore();
  if (context !== undefined) {
    context.principal = principal;
  }
}

/** Records the turn id on the current context; a no-op outside of a request. */
export function setContextTurnId(turnId: string): void {
  const context = storage.getStore();
  if (context !== undefined) {
    context.turnId = turnId;
  }
}

/** Records the verified cap token on the current context; a no-op outside of a request. */
export function setContextCapToken(capToken: CapToken): void {
  const context = storage.getStore();
  if (context !== undefined) {
    context.capToken = capToken;
  }
}

/** The fields every log line carries (ARCHITECTURE §1), for a pino `mixin`. Empty outside of a request. */
export interface ContextLogFields {
  correlation_id?: string;
  turn_id?: string;
  tenant_id?: string;
  user_id?: string;
}

export function contextLogFields(): ContextLogFields {
  const context = storage.getStore();
  if (context === undefined) {
    return {};
  }
  const fields: ContextLogFields = { correlation_id: context.correlationId };
  if (context.turnId !== undefined) {
    fields.turn_id = context.turnId;
  }
  if (context.principal !== undefined) {
    fields.tenant_id = context.principal.tid;
    fields.user_id = context.principal.uid;
  }
  return fields;
}
