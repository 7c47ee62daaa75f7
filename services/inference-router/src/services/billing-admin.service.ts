import type { SqlStore } from '@aibox/stores';
import { sql } from 'kysely';

import type {
  BudgetBody,
  BudgetView,
  PriceSheetBody,
  PriceView,
  UsageQueryParams,
} from '../dtos/billing.dto.js';
import { ProviderConfigError } from '../errors/provider-config.error.js';
import type { RouterTables } from '../repositories/router-schema.js';
import type { UsageRepository, UsageRow } from '../repositories/usage.repository.js';
import { periodStart } from './routing-snapshot.js';
import type { UsageMeter } from './usage-meter.js';

export interface UsageReport {
  readonly from: string;
  readonly to: string;
  readonly group_by: string;
  readonly rows: readonly UsageRow[];
  readonly total: Omit<UsageRow, 'key' | 'latency_ms_avg' | 'ttft_ms_avg'>;
}

/**
 * `/v1/internal/prices`, `/v1/internal/budgets` and `/v1/internal/usage`: the price sheet (the
 * deployment's), and the budgets and usage of the admin's own tenant.
 */
export class BillingAdmin {
  constructor(
    private readonly store: SqlStore<RouterTables>,
    private readonly usage: UsageRepository,
    private readonly meter: UsageMeter,
    /** Awaited after every change, so the data path prices and budgets with it from the next request. */
    private readonly onChange: () => Promise<void>,
  ) {}

  async prices(): Promise<{ prices: PriceView[] }> {
    const rows = await this.store.db.selectFrom('prices').selectAll().orderBy('model').execute();
    return {
      prices: rows.map((row) => ({
        model: row.model,
        input_per_mtok: row.input_per_mtok,
        cached_input_per_mtok: row.cached_input_per_mtok,
        output_per_mtok: row.output_per_mtok,
        updated_at: row.updated_at.toISOString(),
      })),
    };
  }

  /** Replaces the whole sheet in one transaction. */
  async setPrices(body: PriceSheetBody): Promise<{ prices: PriceView[] }> {
    await this.store.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('prices').execute();
      if (body.prices.length === 0) return;
      await trx
        .insertInto('prices')
        .values(
          body.prices.map((price) => ({
            model: price.model,
            input_per_mtok: price.input_per_mtok,
            cached_input_per_mtok: price.cached_input_per_mtok ?? null,
            output_per_mtok: price.output_per_mtok,
          })),
        )
        .execute();
    });
    await this.onChange();
    return this.prices();
  }

  /** The tenant's budget and its users', each with what its current period has spent so far. */
  async budgets(tenantId: string): Promise<{ budgets: BudgetView[] }> {
    await this.meter.flush();
    const rows = await this.store.db
      .selectFrom('budgets')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .orderBy('user_id')
      .execute();
    const now = new Date();
    const spent = await this.usage.spent(
      rows.map((row) => ({ tenantId, userId: row.user_id, since: periodStart(row.period, now) })),
    );
    return {
      budgets: rows.map((row, index) => ({
        scope: row.user_id === '' ? 'tenant' : 'user',
        user_id: row.user_id === '' ? null : row.user_id,
        period: row.period,
        limit_usd: row.limit_usd,
        period_start: periodStart(row.period, now).toISOString(),
        spent_usd: spent[index] ?? 0,
        updated_at: row.updated_at.toISOString(),
      })),
    };
  }

  /** Sets the tenant's budget (`userId` empty) or one user's. */
  async setBudget(tenantId: string, userId: string, body: BudgetBody): Promise<BudgetView> {
    await this.store.db
      .insertInto('budgets')
      .values({ tenant_id: tenantId, user_id: userId, period: body.period, limit_usd: body.limit_usd })
      .onConflict((conflict) =>
        conflict.columns(['tenant_id', 'user_id']).doUpdateSet({
          period: body.period,
          limit_usd: body.limit_usd,
          updated_at: sql<Date>`now()`,
        }),
      )
      .execute();
    await this.onChange();
    const view = (await this.budgets(tenantId)).budgets.find((budget) => (budget.user_id ?? '') === userId);
    if (view === undefined) throw new Error('a budget just written is missing');
    return view;
  }

  /** Removes a budget. */
  async deleteBudget(tenantId: string, userId: string): Promise<void> {
    const result = await this.store.db
      .deleteFrom('budgets')
      .where('tenant_id', '=', tenantId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    if (result.numDeletedRows === 0n) {
      throw new ProviderConfigError('budget_not_found', userId === '' ? 'the tenant has none' : userId);
    }
    await this.onChange();
  }

  /** The tenant's usage, grouped; by default this calendar month (UTC) up to now. */
  async report(tenantId: string, query: UsageQueryParams): Promise<UsageReport> {
    await this.meter.flush();
    const to = query.to ?? new Date(Date.now() + 1);
    const from = query.from ?? periodStart('month', to);
    const rows = await this.usage.summary(tenantId, {
      from,
      to,
      groupBy: query.group_by,
      ...(query.user_id === undefined ? {} : { userId: query.user_id }),
    });
    const total = {
      requests: 0,
      errors: 0,
      prompt_tokens: 0,
      completion_tokens: 0,
      cached_tokens: 0,
      cost_usd: 0,
      unpriced_requests: 0,
    };
    for (const row of rows) {
      total.requests += row.requests;
      total.errors += row.errors;
      total.prompt_tokens += row.prompt_tokens;
      total.completion_tokens += row.completion_tokens;
      total.cached_tokens += row.cached_tokens;
      total.cost_usd += row.cost_usd;
      total.unpriced_requests += row.unpriced_requests;
    }
    return { from: from.toISOString(), to: to.toISOString(), group_by: query.group_by, rows, total };
  }
}
