import { newTurnId, type Principal } from '@aibox/identity';

import { RuntimeError } from '../errors/runtime.error.js';
import type { Approval, ApprovalRepository } from '../repositories/approval.repository.js';

/** How a paused tool call ended its wait. */
export type ApprovalOutcome =
  | { readonly decision: 'approved' | 'denied'; readonly reason: string | null; readonly decidedBy: string }
  | { readonly decision: 'expired'; readonly reason: string; readonly decidedBy: null }
  | { readonly decision: 'cancelled'; readonly reason: string; readonly decidedBy: null };

interface Waiter {
  readonly tenantId: string;
  resolve(outcome: ApprovalOutcome): void;
}

const isAdmin = (principal: Principal): boolean => principal.roles.includes('admin');

/**
 * Approvals of risky tool calls: a turn asks and waits; the user who owns the turn (or an admin of the
 * tenant) decides with `POST /v1/approvals/{id}`; nobody deciding before the expiry is a denial. The wait
 * lives in this process, the approval in the store (its decision is taken once, there).
 */
export class ApprovalsService {
  private readonly waiters = new Map<string, Waiter>();

  constructor(
    private readonly approvals: ApprovalRepository,
    private readonly ttlMs: number,
  ) {}

  /** Creates the approval; `wait` resolves with the decision, the expiry or the turn's cancellation. */
  async request(
    turn: { tenantId: string; userId: string; turnId: string; conversationId: string },
    tool: string,
    args: unknown,
  ): Promise<{ approval: Approval; wait: (signal: AbortSignal) => Promise<ApprovalOutcome> }> {
    const approval = await this.approvals.create(turn.tenantId, {
      id: newTurnId(),
      userId: turn.userId,
      turnId: turn.turnId,
      conversationId: turn.conversationId,
      tool,
      arguments: args,
      expiresAt: new Date(Date.now() + this.ttlMs),
    });
    const wait = (signal: AbortSignal): Promise<ApprovalOutcome> =>
      new Promise<ApprovalOutcome>((resolve) => {
        let settled = false;
        const finish = (outcome: ApprovalOutcome): void => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
          this.waiters.delete(approval.id);
          resolve(outcome);
        };
        const closeAs = (status: 'expired' | 'denied', outcome: ApprovalOutcome): void => {
          // The store decides: a user's decision committed a moment earlier wins over the expiry.
          void this.approvals
            .decide(turn.tenantId, approval.id, { status, reason: outcome.reason, decidedBy: null }, false)
            .then(
              (closed) => {
                if (closed !== undefined || outcome.decision === 'cancelled') finish(outcome);
              },
              () => {
                finish(outcome);
              },
            );
        };
        const timer = setTimeout(
          () => {
            closeAs('expired', {
              decision: 'expired',
              reason: 'Nobody decided before the approval expired',
              decidedBy: null,
            });
          },
          Math.max(0, approval.expiresAt.getTime() - Date.now()),
        );
        timer.unref();
        const onAbort = (): void => {
          closeAs('denied', { decision: 'cancelled', reason: 'The turn was stopped', decidedBy: null });
        };
        signal.addEventListener('abort', onAbort, { once: true });
        this.waiters.set(approval.id, { tenantId: turn.tenantId, resolve: finish });
        if (signal.aborted) onAbort();
      });
    return { approval, wait };
  }

  /** The caller's decision on an approval of their own turn (or, for an admin, of any turn of the tenant). */
  async decide(
    principal: Principal,
    id: string,
    decision: 'approve' | 'deny',
    reason: string | null,
  ): Promise<Approval> {
    await this.visible(principal, id);
    const decided = await this.approvals.decide(
      principal.tid,
      id,
      { status: decision === 'approve' ? 'approved' : 'denied', reason, decidedBy: principal.uid },
      true,
    );
    if (decided === undefined) throw new RuntimeError('approval_decided');
    this.waiters.get(id)?.resolve({
      decision: decided.status === 'approved' ? 'approved' : 'denied',
      reason,
      decidedBy: principal.uid,
    });
    return decided;
  }

  get(principal: Principal, id: string): Promise<Approval> {
    return this.visible(principal, id);
  }

  listPending(principal: Principal): Promise<Approval[]> {
    return this.approvals.listPending(principal.tid, principal.uid);
  }

  private async visible(principal: Principal, id: string): Promise<Approval> {
    const approval = await this.approvals.get(principal.tid, id);
    // Someone else's approval is answered exactly like a missing one.
    if (approval === undefined || (approval.userId !== principal.uid && !isAdmin(principal))) {
      throw new RuntimeError('approval_unknown');
    }
    return approval;
  }
}
