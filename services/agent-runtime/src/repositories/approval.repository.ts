import type { Selectable } from 'kysely';

import type { SqlStore } from '@aibox/stores';

import type { RuntimeTables } from './runtime-schema.js';

export type ApprovalStatus = RuntimeTables['approvals']['status'];

export interface Approval {
  readonly id: string;
  readonly userId: string;
  readonly turnId: string;
  readonly conversationId: string;
  readonly tool: string;
  readonly arguments: unknown;
  readonly status: ApprovalStatus;
  readonly reason: string | null;
  readonly decidedBy: string | null;
  readonly createdAt: Date;
  readonly expiresAt: Date;
  readonly decidedAt: Date | null;
}

function toApproval(row: Selectable<RuntimeTables['approvals']>): Approval {
  return {
    id: row.id,
    userId: row.user_id,
    turnId: row.turn_id,
    conversationId: row.conversation_id,
    tool: row.tool,
    arguments: row.arguments,
    status: row.status,
    reason: row.reason,
    decidedBy: row.decided_by,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    decidedAt: row.decided_at,
  };
}

/** Approvals a paused tool call waits for; a decision is taken once, while the approval is pending. */
export class ApprovalRepository {
  constructor(private readonly sql: SqlStore<RuntimeTables>) {}

  async create(
    tenantId: string,
    approval: Pick<
      Approval,
      'id' | 'userId' | 'turnId' | 'conversationId' | 'tool' | 'arguments' | 'expiresAt'
    >,
  ): Promise<Approval> {
    const row = await this.sql.forTenant(tenantId).transaction((trx) =>
      trx
        .insertInto('approvals')
        .values({
          id: approval.id,
          tenant_id: tenantId,
          user_id: approval.userId,
          turn_id: approval.turnId,
          conversation_id: approval.conversationId,
          tool: approval.tool,
          arguments: JSON.stringify(approval.arguments),
          status: 'pending',
          expires_at: approval.expiresAt,
        })
        .returningAll()
        .executeTakeFirstOrThrow(),
    );
    return toApproval(row);
  }

  async get(tenantId: string, id: string): Promise<Approval | undefined> {
    const row = await this.sql
      .forTenant(tenantId)
      .transaction((trx) => trx.selectFrom('approvals').selectAll().where('id', '=', id).executeTakeFirst());
    return row === undefined ? undefined : toApproval(row);
  }

  async listPending(tenantId: string, userId: string): Promise<Approval[]> {
    const rows = await this.sql
      .forTenant(tenantId)
      .transaction((trx) =>
        trx
          .selectFrom('approvals')
          .selectAll()
          .where('user_id', '=', userId)
          .where('status', '=', 'pending')
          .where('expires_at', '>', new Date())
          .orderBy('created_at', 'asc')
          .limit(200)
          .execute(),
      );
    return rows.map(toApproval);
  }

  /**
   * Moves a pending approval to its decision; `undefined` when it was not pending any more (or, for a user's
   * decision, had expired): the first decision wins.
   */
  async decide(
    tenantId: string,
    id: string,
    decision: { status: Exclude<ApprovalStatus, 'pending'>; reason: string | null; decidedBy: string | null },
    requireUnexpired: boolean,
  ): Promise<Approval | undefined> {
    const row = await this.sql.forTenant(tenantId).transaction((trx) => {
      let query = trx
        .updateTable('approvals')
        .set({
          status: decision.status,
          reason: decision.reason,
          decided_by: decision.decidedBy,
          decided_at: new Date(),
        })
        .where('id', '=', id)
        .where('status', '=', 'pending');
      if (requireUnexpired) query = query.where('expires_at', '>', new Date());
      return query.returningAll().executeTakeFirst();
    });
    return row === undefined ? undefined : toApproval(row);
  }
}
