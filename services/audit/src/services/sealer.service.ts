import type { Logger } from '@aibox/platform';
import type { SqlStore } from '@aibox/stores';
import { sql } from 'kysely';

import type { AuditTables } from '../repositories/audit-schema.js';
import type { LogRepository } from '../repositories/log.repository.js';

/** The most turns one pass seals; more wait for the next pass. */
const MAX_TURNS_PER_PASS = 10_000;

export interface SealerOptions {
  /** At most one checkpoint per tenant per this many ms; also the pause between timed passes. */
  readonly checkpointMs: number;
}

/**
 * Seals due turns: those a `turn_sealed`/`turn_failed` asked to seal, and those idle past their deadline.
 * One pass at a time: every `checkpointMs`, and at once when a turn asks to be sealed (`nudge`) and its tenant
 * has not been sealed for `checkpointMs`. A pass seals each tenant's due turns in one transaction with one
 * checkpoint, skipping tenants sealed less than `checkpointMs` ago (they go in a later pass), so a quiet
 * tenant's receipt comes at once and a busy tenant gets at most one checkpoint per interval. The queue lives
 * in the database, so a restarted process (or another replica) picks up whatever was due.
 */
export class Sealer {
  private timer: NodeJS.Timeout | undefined;
  private pass: Promise<void> | undefined;
  private stopped = false;
  /** A nudge came while a pass was running: run another one right after it. */
  private again = false;
  private readonly waiters: (() => void)[] = [];
  /** When (monotonic ms) each tenant was last sealed by this process. */
  private readonly lastSealedAt = new Map<string, number>();

  constructor(
    private readonly store: SqlStore<AuditTables>,
    private readonly log: LogRepository,
    private readonly options: SealerOptions,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** A turn of `tenantId` asked to be sealed: pass now if the tenant's interval allows, else at the next timer. */
  nudge(tenantId: string): void {
    if (this.stopped || this.pass !== undefined) return;
    if (performance.now() - (this.lastSealedAt.get(tenantId) ?? -Infinity) < this.options.checkpointMs)
      return;
    clearTimeout(this.timer);
    this.schedule(0);
  }

  /** Resolves after the next complete pass (tests and shutdown use it). */
  settled(): Promise<void> {
    return new Promise((resolve) => {
      this.waiters.push(resolve);
    });
  }

  async close(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.pass;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.pass = this.runPass().finally(() => {
        this.pass = undefined;
        for (const resolve of this.waiters.splice(0)) resolve();
        const again = this.again;
        this.again = false;
        this.schedule(again ? 0 : this.options.checkpointMs);
      });
    }, delayMs);
    this.timer.unref();
  }

  /** One pass: every tenant with due turns gets one seal transaction. */
  async runPass(): Promise<void> {
    let due: { tenant_id: string; turn_id: string }[];
    try {
      due = await this.store.db
        .selectFrom('seal_queue')
        .select(['tenant_id', 'turn_id'])
        .where((where) => where.or([where('requested', '=', true), where('due_at', '<=', sql<Date>`now()`)]))
        .orderBy('tenant_id')
        .orderBy('turn_id')
        .limit(MAX_TURNS_PER_PASS)
        .execute();
    } catch (error: unknown) {
      this.logger.error({ err: error }, 'could not read the seal queue');
      return;
    }
    const byTenant = new Map<string, string[]>();
    for (const row of due) {
      const list = byTenant.get(row.tenant_id);
      if (list === undefined) byTenant.set(row.tenant_id, [row.turn_id]);
      else list.push(row.turn_id);
    }
    const startedAt = performance.now();
    for (const [tenantId, at] of this.lastSealedAt) {
      if (startedAt - at >= this.options.checkpointMs) this.lastSealedAt.delete(tenantId);
    }
    for (const [tenantId, turnIds] of byTenant) {
      if (this.lastSealedAt.has(tenantId)) continue;
      try {
        const result = await this.log.seal(tenantId, turnIds);
        if (result.sealed.length > 0) {
          this.lastSealedAt.set(tenantId, performance.now());
          this.logger.debug(
            { tenant_id: tenantId, turns: result.sealed.length, tree_size: result.treeSize },
            'turns sealed',
          );
        }
      } catch (error: unknown) {
        this.logger.error({ err: error, tenant_id: tenantId, turns: turnIds.length }, 'sealing failed');
      }
    }
  }
}
