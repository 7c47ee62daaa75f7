import type { Logger } from '@aibox/platform';

import { groupByTenant, type UsageRecord, type UsageRepository } from '../repositories/usage.repository.js';
import {
  budgetKey,
  periodStart,
  type BudgetRow,
  type Price,
  type RoutingSnapshot,
  type SpendReader,
} from './routing-snapshot.js';

export interface TokenCounts {
  readonly promptTokens: number;
  readonly completionTokens: number;
  /** Part of `promptTokens` served from the provider's cache. */
  readonly cachedTokens: number;
}

/** USD for these tokens at this price (prices are per million tokens). */
export function costOf(price: Price, tokens: TokenCounts): number {
  const cached = Math.min(tokens.cachedTokens, tokens.promptTokens);
  return (
    ((tokens.promptTokens - cached) * price.inputPerMtok +
      cached * price.cachedInputPerMtok +
      tokens.completionTokens * price.outputPerMtok) /
    1_000_000
  );
}

/** A store error no retry can fix: PostgreSQL's data exceptions and constraint violations, a bad tenant id. */
function refusedForGood(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (/^2[23][0-9A-Z]{3}$/.test(code) || code === 'tenant_invalid');
}

export interface UsageMeterOptions {
  readonly flushMs: number;
  /** Records kept in memory while the store refuses them; the oldest are dropped (and logged) beyond. */
  readonly maxQueued: number;
}

interface Ledger {
  /** (sequence number, cost) of local records not yet in the snapshot's spend, oldest first. */
  entries: { seq: number; usd: number }[];
  usd: number;
}

/**
 * Meters the data path without making it wait for the database: records are queued and written in
 * batches every `flushMs`. Budgets are judged on the snapshot's spend (summed in the store when it was
 * built) plus the cost of local records the snapshot does not include yet, told apart by sequence number:
 * the snapshot is built from a store read taken right after a flush, under the same lock, so nothing is
 * counted twice or missed within one process.
 */
export class UsageMeter implements SpendReader {
  private queue: { seq: number; record: UsageRecord }[] = [];
  private seq = 0;
  private flushedSeq = 0;
  private readonly ledgers = new Map<string, Ledger>();
  private lock: Promise<unknown> = Promise.resolve();
  private readonly timer: NodeJS.Timeout;
  private dropped = 0;

  constructor(
    private readonly repository: UsageRepository,
    private readonly options: UsageMeterOptions,
    private readonly logger: Logger,
  ) {
    this.timer = setInterval(() => {
      void this.flush();
    }, options.flushMs);
    this.timer.unref();
  }

  /**
   * Queues a record; its cost counts at once toward the budgets in `snapshot` that cover its tenant and user.
   */
  record(record: UsageRecord, snapshot: RoutingSnapshot): void {
    this.seq += 1;
    const seq = this.seq;
    this.queue.push({ seq, record });
    if (this.queue.length > this.options.maxQueued) {
      const lost = this.queue.splice(0, this.queue.length - this.options.maxQueued);
      this.dropped += lost.length;
      this.logger.error(
        { dropped: lost.length, dropped_total: this.dropped },
        'usage records dropped: the store has not taken them for too long',
      );
    }
    const usd = record.costUsd ?? 0;
    if (usd <= 0) return;
    for (const key of [budgetKey(record.tenantId), budgetKey(record.tenantId, record.userId)]) {
      if (!snapshot.budgets.has(key)) continue;
      let ledger = this.ledgers.get(key);
      if (ledger === undefined) {
        ledger = { entries: [], usd: 0 };
        this.ledgers.set(key, ledger);
      }
      ledger.entries.push({ seq, usd });
      ledger.usd += usd;
    }
  }

  /**
   * The budget of `tenantId` / `userId` that is spent in `snapshot` (the tenant's first), or undefined.
   * A budget of 0 refuses everything.
   */
  exhaustedBudget(
    snapshot: RoutingSnapshot,
    tenantId: string,
    userId: string,
    now: Date = new Date(),
  ): { scope: 'tenant' | 'user'; limitUsd: number; spentUsd: number; period: 'day' | 'month' } | undefined {
    for (const [scope, key] of [
      ['tenant', budgetKey(tenantId)],
      ['user', budgetKey(tenantId, userId)],
    ] as const) {
      const budget = snapshot.budgets.get(key);
      if (budget === undefined) continue;
      // A period that turned since the snapshot starts afresh; the next refresh sums it properly.
      const turned = periodStart(budget.period, now).getTime() !== budget.periodStart.getTime();
      const spentUsd = (turned ? 0 : budget.spentUsd) + this.localSpend(key, snapshot.spendSeq);
      if (spentUsd >= budget.limitUsd) {
        return { scope, limitUsd: budget.limitUsd, spentUsd, period: budget.period };
      }
    }
    return undefined;
  }

  /** Writes every queued record now (also called on a timer); failures keep them queued for the next try. */
  async flush(): Promise<void> {
    await this.exclusive(() => this.write());
  }

  /** SpendReader: flushes, then sums each budget's current period in the store, under one lock. */
  read(budgets: readonly BudgetRow[]): Promise<{ seq: number; spent: ReadonlyMap<string, number> }> {
    return this.exclusive(async () => {
      // Records queued while writing are newer than `seq` and counted locally; only a failed write is fatal.
      if (!(await this.write())) throw new Error('usage records could not be written; spend is unknown');
      const seq = this.flushedSeq;
      const now = new Date();
      const sums = await this.repository.spent(
        budgets.map((budget) => ({
          tenantId: budget.tenantId,
          userId: budget.userId,
          since: periodStart(budget.period, now),
        })),
      );
      const spent = new Map<string, number>();
      budgets.forEach((budget, index) => {
        spent.set(budgetKey(budget.tenantId, budget.userId), sums[index] ?? 0);
      });
      return { seq, spent };
    });
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
    if (this.queue.length > 0) {
      this.logger.error({ lost: this.queue.length }, 'usage records could not be written before shutdown');
    }
  }

  /** Cost of local records after `sinceSeq`; drops older entries, which every newer snapshot includes. */
  private localSpend(key: string, sinceSeq: number): number {
    const ledger = this.ledgers.get(key);
    if (ledger === undefined) return 0;
    let drop = 0;
    while (drop < ledger.entries.length && (ledger.entries[drop]?.seq ?? Infinity) <= sinceSeq) {
      ledger.usd -= ledger.entries[drop]?.usd ?? 0;
      drop += 1;
    }
    if (drop > 0) ledger.entries.splice(0, drop);
    if (ledger.entries.length === 0) {
      this.ledgers.delete(key);
      return 0;
    }
    return ledger.usd;
  }

  /** Writes what is queued now; false when some of it failed (and is queued again). */
  private async write(): Promise<boolean> {
    if (this.queue.length === 0) return true;
    const batch = this.queue;
    this.queue = [];
    const failed: { seq: number; record: UsageRecord }[] = [];
    for (const [tenantId, items] of groupByTenant(
      batch.map((item) => ({ ...item, tenantId: item.record.tenantId })),
    )) {
      try {
        await this.repository.insert(
          tenantId,
          items.map((item) => item.record),
        );
      } catch (error: unknown) {
        if (refusedForGood(error)) {
          // Writing them again would fail again and hold every later record of the tenant back.
          this.logger.error(
            { err: error, records: items.length },
            'usage records refused by the store; dropped',
          );
          continue;
        }
        failed.push(...items.map(({ seq, record }) => ({ seq, record })));
        this.logger.error({ err: error, records: items.length }, 'usage records could not be written');
      }
    }
    if (failed.length === 0) {
      this.flushedSeq = batch.at(-1)?.seq ?? this.flushedSeq;
      return true;
    }
    failed.sort((a, b) => a.seq - b.seq);
    this.queue = [...failed, ...this.queue];
    return false;
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.lock.then(work, work);
    this.lock = run.catch(() => undefined);
    return run;
  }
}
