import { z } from 'zod';

import { USAGE_GROUPS } from '../repositories/usage.repository.js';
import { modelId } from './provider.dto.js';

const usdPerMtok = z.number().min(0).max(1_000_000);

/** The whole price sheet: USD per million tokens of each concrete `<provider>/<model>`. */
export const priceSheetBody = z.strictObject({
  prices: z
    .array(
      z.strictObject({
        model: modelId,
        input_per_mtok: usdPerMtok,
        cached_input_per_mtok: usdPerMtok.nullable().optional(),
        output_per_mtok: usdPerMtok,
      }),
    )
    .max(10_000)
    .refine((prices) => new Set(prices.map((price) => price.model)).size === prices.length, {
      message: 'each model may appear once',
    }),
});
export type PriceSheetBody = z.infer<typeof priceSheetBody>;

export interface PriceView {
  readonly model: string;
  readonly input_per_mtok: number;
  readonly cached_input_per_mtok: number | null;
  readonly output_per_mtok: number;
  readonly updated_at: string;
}

export const budgetBody = z.strictObject({
  period: z.enum(['day', 'month']),
  /** 0 refuses every call. */
  limit_usd: z.number().min(0).max(1_000_000_000),
});
export type BudgetBody = z.infer<typeof budgetBody>;

/** A user id as the principal carries it: no control characters (PostgreSQL text cannot hold a NUL). */
const userId = z.string().regex(/^[^\p{Cc}]{1,256}$/u, 'must be 1-256 characters without control characters');

export const budgetUserParams = z.strictObject({ user_id: userId });

export interface BudgetView {
  readonly scope: 'tenant' | 'user';
  readonly user_id: string | null;
  readonly period: 'day' | 'month';
  readonly limit_usd: number;
  readonly period_start: string;
  readonly spent_usd: number;
  readonly updated_at: string;
}

const MAX_RANGE_MS = 400 * 86_400_000;

const instant = z.iso.datetime({ offset: true }).transform((value) => new Date(value));

export const usageQuery = z
  .strictObject({
    from: instant.optional(),
    to: instant.optional(),
    group_by: z.enum(USAGE_GROUPS).default('model'),
    user_id: userId.optional(),
  })
  // Zod runs these even when a field failed; they judge only fields that parsed into dates.
  .refine((query) => !(query.from instanceof Date && query.to instanceof Date) || query.from < query.to, {
    message: 'from must be before to',
  })
  .refine(
    (query) =>
      !(query.from instanceof Date) ||
      (query.to instanceof Date ? query.to : new Date()).getTime() - query.from.getTime() <= MAX_RANGE_MS,
    { message: 'a report covers at most 400 days' },
  );
export type UsageQueryParams = z.infer<typeof usageQuery>;
