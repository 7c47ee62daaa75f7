import type { SqlStore } from '@aibox/stores';
import { sql } from 'kysely';

import type { RouterTables } from './router-schema.js';

/** One call of the data path, as metered. */
export interface UsageRecord {
  readonly at: Date;
  readonly tenantId: string;
  readonly userId: string;
  readonly turnId: string | undefined;
  readonly role: string | undefined;
  /** Empty when no provider answered. */
  readonly provider: string;
  readonly model: string;
  readonly endpoint: string;
  readonly stream: boolean;
  /** `ok`, or the code the caller got. */
  readonly outcome: string;
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly cachedTokens: number;
  readonly costUsd: number | null;
  readonly latencyMs: number;
  readonly ttftMs: number | null;
  readonly attempts: number;
}

export interface SpendScope {
  readonly tenantId: string;
  /** Empty: the whole tenant. */
  readonly userId: string;
  readonly since: Date;
}

export const USAGE_GROUPS = ['user', 'model', 'provider', 'role', 'day'] as const;
export type UsageGroup = (typeof USAGE_GROUPS)[number];

export interface UsageQuery {
  readonly from: Date;
  readonly to: Date;
  readonly groupBy: UsageGroup;
  readonly userId?: string;
}

export interface UsageRow {
  readonly key: string;
  readonly requests: number;
  readonly errors: number;
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly cached_tokens: number;
  readonly cost_usd: number;
  /** Calls of a model without a price: their tokens are counted, their cost is not. */
  readonly unpriced_requests: number;
  readonly latency_ms_avg: number;
  readonly ttft_ms_avg: number | null;
}

const GROUP_COLUMN = {
  user: sql<string>`user_id`,
  model: sql<string>`model`,
  provider: sql<string>`provider`,
  role: sql<string>`coalesce(role, '')`,
  day: sql<string>`to_char(at at time zone 'UTC', 'YYYY-MM-DD')`,
} as const satisfies Record<UsageGroup, unknown>;

/** Caller-given text as a column can hold it: no control characters (PostgreSQL refuses NUL), at most 300 chars. */
function text(value: string): string {
  return value.replace(/\p{Cc}/gu, '').slice(0, 300);
}

export function groupByTenant<T extends { readonly tenantId: string }>(
  items: readonly T[],
): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const group = groups.get(item.tenantId);
    if (group === undefined) groups.set(item.tenantId, [item]);
    else group.push(item);
  }
  return groups;
}

/** Usage records (tenant data, row-level security): written in batches, summed for budgets and reports. */
export class UsageRepository {
  constructor(private readonly store: SqlStore<RouterTables>) {}

  /** Writes one tenant's records in one transaction. */
  async insert(tenantId: string, records: readonly UsageRecord[]): Promise<void> {
    await this.store.forTenant(tenantId).transaction((trx) =>
      trx
        .insertInto('usage_records')
        .values(
          records.map((record) => ({
            at: record.at,
            tenant_id: tenantId,
            user_id: text(record.userId),
            turn_id: record.turnId ?? null,
            role: record.role ?? null,
            provider: record.provider,
            model: text(record.model),
            endpoint: record.endpoint,
            stream: record.stream,
            outcome: record.outcome,
            prompt_tokens: record.promptTokens,
            completion_tokens: record.completionTokens,
            cached_tokens: record.cachedTokens,
            cost_usd: record.costUsd,
            latency_ms: record.latencyMs,
            ttft_ms: record.ttftMs,
            attempts: record.attempts,
          })),
        )
        .execute(),
    );
  }

  /** What each scope spent since its `since`, in USD, in the order given; one transaction per tenant. */
  async spent(scopes: readonly SpendScope[]): Promise<number[]> {
    const spent = scopes.map(() => 0);
    const indexed = scopes.map((scope, index) => ({ ...scope, index }));
    for (const [tenantId, group] of groupByTenant(indexed)) {
      await this.store.forTenant(tenantId).transaction(async (trx) => {
        for (const scope of group) {
          let query = trx
            .selectFrom('usage_records')
            .select(sql<number | string>`coalesce(sum(cost_usd), 0)::float8`.as('usd'))
            .where('at', '>=', scope.since);
          if (scope.userId !== '') query = query.where('user_id', '=', scope.userId);
          const row = await query.executeTakeFirst();
          spent[scope.index] = Number(row?.usd ?? 0);
        }
      });
    }
    return spent;
  }

  /** The tenant's usage in `[from, to)`, grouped, largest cost first. */
  async summary(tenantId: string, query: UsageQuery): Promise<UsageRow[]> {
    const key = GROUP_COLUMN[query.groupBy];
    return this.store.forTenant(tenantId).transaction(async (trx) => {
      let select = trx
        .selectFrom('usage_records')
        .select([
          key.as('key'),
          sql<number | string>`count(*)::int`.as('requests'),
          sql<number | string>`(count(*) filter (where outcome <> 'ok'))::int`.as('errors'),
          sql<number | string>`coalesce(sum(prompt_tokens), 0)::int8`.as('prompt_tokens'),
          sql<number | string>`coalesce(sum(completion_tokens), 0)::int8`.as('completion_tokens'),
          sql<number | string>`coalesce(sum(cached_tokens), 0)::int8`.as('cached_tokens'),
          sql<number | string>`coalesce(sum(cost_usd), 0)::float8`.as('cost_usd'),
          sql<number | string>`(count(*) filter (where cost_usd is null and outcome = 'ok'))::int`.as(
            'unpriced_requests',
          ),
          sql<number | string>`coalesce(avg(latency_ms), 0)::float8`.as('latency_ms_avg'),
          sql<number | string | null>`avg(ttft_ms)::float8`.as('ttft_ms_avg'),
        ])
        .where('at', '>=', query.from)
        .where('at', '<', query.to);
      if (query.userId !== undefined) select = select.where('user_id', '=', query.userId);
      const rows = await select
        .groupBy(key)
        .orderBy(sql`7`, 'desc')
        .orderBy(sql`1`)
        .execute();
      return rows.map((row) => ({
        key: row.key,
        requests: Number(row.requests),
        errors: Number(row.errors),
        prompt_tokens: Number(row.prompt_tokens),
        completion_tokens: Number(row.completion_tokens),
        cached_tokens: Number(row.cached_tokens),
        cost_usd: Number(row.cost_usd),
        unpriced_requests: Number(row.unpriced_requests),
        latency_ms_avg: Math.round(Number(row.latency_ms_avg)),
        ttft_ms_avg: row.ttft_ms_avg === null ? null : Math.round(Number(row.ttft_ms_avg)),
      }));
    });
  }
}
