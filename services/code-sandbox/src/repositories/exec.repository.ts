import type { Selectable } from 'kysely';

import type { SqlStore } from '@aibox/stores';

import type { ExecStatus, SandboxTables } from './sandbox-schema.js';

export type ExecRow = Selectable<SandboxTables['execs']>;

/** Execs of sandboxes: their command, and how they ended. */
export class ExecRepository {
  constructor(private readonly sql: SqlStore<SandboxTables>) {}

  async insert(
    tenantId: string,
    exec: {
      id: string;
      sandboxId: string;
      userId: string;
      argv: readonly string[];
      cwd: string;
      timeoutS: number;
    },
  ): Promise<ExecRow> {
    return this.sql.forTenant(tenantId).transaction((trx) =>
      trx
        .insertInto('execs')
        .values({
          id: exec.id,
          tenant_id: tenantId,
          sandbox_id: exec.sandboxId,
          user_id: exec.userId,
          argv: JSON.stringify(exec.argv),
          cwd: exec.cwd,
          timeout_s: exec.timeoutS,
          status: 'running',
        })
        .returningAll()
        .executeTakeFirstOrThrow(),
    );
  }

  async started(tenantId: string, id: string, pid: number): Promise<void> {
    await this.sql
      .forTenant(tenantId)
      .transaction((trx) => trx.updateTable('execs').set({ pid }).where('id', '=', id).execute());
  }

  /** Records how a running exec ended; false when it had ended already (the first ending wins). */
  async end(
    tenantId: string,
    id: string,
    status: Exclude<ExecStatus, 'running'>,
    exitCode: number | null,
  ): Promise<boolean> {
    const result = await this.sql
      .forTenant(tenantId)
      .transaction((trx) =>
        trx
          .updateTable('execs')
          .set({ status, exit_code: exitCode, ended_at: new Date() })
          .where('id', '=', id)
          .where('status', '=', 'running')
          .executeTakeFirst(),
      );
    return result.numUpdatedRows > 0n;
  }

  async get(tenantId: string, sandboxId: string, id: string): Promise<ExecRow | undefined> {
    return this.sql
      .forTenant(tenantId)
      .transaction((trx) =>
        trx
          .selectFrom('execs')
          .selectAll()
          .where('id', '=', id)
          .where('sandbox_id', '=', sandboxId)
          .executeTakeFirst(),
      );
  }

  async list(tenantId: string, sandboxId: string, limit: number): Promise<ExecRow[]> {
    return this.sql
      .forTenant(tenantId)
      .transaction((trx) =>
        trx
          .selectFrom('execs')
          .selectAll()
          .where('sandbox_id', '=', sandboxId)
          .orderBy('started_at', 'desc')
          .limit(limit)
          .execute(),
      );
  }

  async running(tenantId: string, sandboxId: string): Promise<ExecRow[]> {
    return this.sql
      .forTenant(tenantId)
      .transaction((trx) =>
        trx
          .selectFrom('execs')
          .selectAll()
          .where('sandbox_id', '=', sandboxId)
          .where('status', '=', 'running')
          .execute(),
      );
  }
}
