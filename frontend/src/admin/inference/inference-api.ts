import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useCallback } from 'react';

import { apiJson } from '../../api/client.js';

/** The router's admin API as the browser sees it: the gateway rewrites it to the router's `/v1/internal/*`. */
export const INFERENCE_API = '/v1/admin/inference';

export type ProviderKind = 'chat_completions' | 'responses';

export const PROVIDER_KINDS: readonly { value: ProviderKind; label: string }[] = [
  { value: 'chat_completions', label: 'Chat Completions' },
  { value: 'responses', label: 'Responses' },
];

/** A provider as the router shows it: the key only ever as its hint. */
export interface Provider {
  readonly name: string;
  readonly kind: ProviderKind;
  readonly base_url: string;
  readonly enabled: boolean;
  readonly key_hint: string | null;
  readonly created_at: string;
  readonly updated_at: string;
}

/** The answer to a registration: the provider and the models its `GET /models` listed. */
export interface RegisteredProvider extends Provider {
  readonly models: readonly string[];
}

export interface RoleRoute {
  readonly role: string;
  /** `<provider>/<model>`, first = primary, the rest fallbacks; empty when unset. */
  readonly models: readonly string[];
}

export interface Price {
  readonly model: string;
  readonly input_per_mtok: number;
  readonly cached_input_per_mtok: number | null;
  readonly output_per_mtok: number;
  readonly updated_at: string;
}

export interface Budget {
  readonly scope: 'tenant' | 'user';
  readonly user_id: string | null;
  readonly period: 'day' | 'month';
  readonly limit_usd: number;
  readonly period_start: string;
  readonly spent_usd: number;
  readonly updated_at: string;
}

export const USAGE_GROUPS = ['user', 'model', 'provider', 'role', 'day'] as const;
export type UsageGroup = (typeof USAGE_GROUPS)[number];

export interface UsageTotals {
  readonly requests: number;
  readonly errors: number;
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly cached_tokens: number;
  readonly cost_usd: number;
  /** Calls of models without a price: tokens counted, cost not. */
  readonly unpriced_requests: number;
}

export interface UsageRow extends UsageTotals {
  readonly key: string;
  readonly latency_ms_avg: number;
  readonly ttft_ms_avg: number | null;
}

export interface UsageReport {
  readonly from: string;
  readonly to: string;
  readonly group_by: UsageGroup;
  readonly rows: readonly UsageRow[];
  readonly total: UsageTotals;
}

/** Every router query starts with this key, so one invalidation refreshes the whole page after a change. */
export const INFERENCE_KEY = ['inference'] as const;
const PROVIDERS_KEY = [...INFERENCE_KEY, 'providers'] as const;
const ROLES_KEY = [...INFERENCE_KEY, 'roles'] as const;
const PRICES_KEY = [...INFERENCE_KEY, 'prices'] as const;
const BUDGETS_KEY = [...INFERENCE_KEY, 'budgets'] as const;
// Kept apart from INFERENCE_KEY: it is what this browser saw, not server state an invalidation could refetch.
const PROBED_KEY = ['inference-probes'] as const;

export function useProviders() {
  return useQuery({
    queryKey: PROVIDERS_KEY,
    queryFn: ({ signal }) => apiJson<{ providers: Provider[] }>(`${INFERENCE_API}/providers`, { signal }),
    select: (answer) => answer.providers,
  });
}

export function useRoles() {
  return useQuery({
    queryKey: ROLES_KEY,
    queryFn: ({ signal }) => apiJson<{ roles: RoleRoute[] }>(`${INFERENCE_API}/roles`, { signal }),
    select: (answer) => answer.roles,
  });
}

export function usePrices() {
  return useQuery({
    queryKey: PRICES_KEY,
    queryFn: ({ signal }) => apiJson<{ prices: Price[] }>(`${INFERENCE_API}/prices`, { signal }),
    select: (answer) => answer.prices,
  });
}

export function useBudgets() {
  return useQuery({
    queryKey: BUDGETS_KEY,
    queryFn: ({ signal }) => apiJson<{ budgets: Budget[] }>(`${INFERENCE_API}/budgets`, { signal }),
    select: (answer) => answer.budgets,
  });
}

export interface UsageParams {
  readonly from: string;
  readonly to: string;
  readonly groupBy: UsageGroup;
}

export function useUsage(params: UsageParams | undefined) {
  return useQuery({
    queryKey: [...INFERENCE_KEY, 'usage', params],
    queryFn: ({ signal }) => {
      const search = new URLSearchParams({
        from: params?.from ?? '',
        to: params?.to ?? '',
        group_by: params?.groupBy ?? 'model',
      });
      return apiJson<UsageReport>(`${INFERENCE_API}/usage?${search.toString()}`, { signal });
    },
    enabled: params !== undefined,
    // A new range keeps the old table on screen until the new one arrives, so nothing jumps.
    placeholderData: (previous) => previous,
  });
}

/** Refetches every router query: after any change, providers, roles, prices and budgets may all differ. */
export function useInvalidateInference(): () => Promise<void> {
  const client = useQueryClient();
  return useCallback(() => client.invalidateQueries({ queryKey: INFERENCE_KEY }), [client]);
}

type ProbedModels = Readonly<Record<string, readonly string[]>>;

/**
 * The models each provider listed when it was registered in this browser session. The router answers a
 * provider's model list only to its registration, so these (with the models roles and prices already name)
 * are what the role editor can offer.
 */
export function useProbedModels(): {
  probed: ProbedModels;
  remember: (provider: string, models: readonly string[]) => void;
} {
  const client = useQueryClient();
  const query = useQuery({
    queryKey: PROBED_KEY,
    queryFn: () => client.getQueryData<ProbedModels>(PROBED_KEY) ?? {},
    staleTime: Infinity,
    gcTime: Infinity,
  });
  const remember = useCallback(
    (provider: string, models: readonly string[]) => {
      client.setQueryData<ProbedModels>(PROBED_KEY, (old) => ({ ...old, [provider]: models }));
    },
    [client],
  );
  return { probed: query.data ?? {}, remember };
}

/** `<provider>/<model>`: the provider part is the router's provider name, the model part may hold slashes. */
export const MODEL_ID = /^[a-z0-9][a-z0-9_-]{0,62}\/[^\s\p{Cc}]{1,256}$/u;

export function providerOf(model: string): string {
  const slash = model.indexOf('/');
  return slash < 0 ? model : model.slice(0, slash);
}

/**
 * Every `<provider>/<model>` this page knows of: what probes listed, what roles route to and what prices name,
 * sorted and without duplicates.
 */
export function knownModels(
  probed: ProbedModels,
  roles: readonly RoleRoute[] | undefined,
  prices: readonly Price[] | undefined,
): string[] {
  const models = new Set<string>();
  for (const [provider, listed] of Object.entries(probed)) {
    for (const model of listed) models.add(`${provider}/${model}`);
  }
  for (const role of roles ?? []) for (const model of role.models) models.add(model);
  for (const price of prices ?? []) models.add(price.model);
  return [...models].sort((a, b) => a.localeCompare(b));
}
