import type { Logger } from '@aibox/platform';
import type { SqlStore } from '@aibox/stores';

import { ROLES, type Role } from '../dtos/provider.dto.js';
import type { CredentialCipher } from '../repositories/credential-cipher.js';
import type { RouterTables } from '../repositories/router-schema.js';

export interface SnapshotProvider {
  readonly name: string;
  readonly kind: 'chat_completions' | 'responses';
  readonly baseUrl: string;
  readonly enabled: boolean;
  /** The decrypted key; absent for a keyless provider or one whose stored key does not decrypt. */
  readonly apiKey?: string;
  readonly keyUnreadable: boolean;
}

/** USD per million tokens. */
export interface Price {
  readonly inputPerMtok: number;
  readonly cachedInputPerMtok: number;
  readonly outputPerMtok: number;
}

/** A budget with what was spent in its current period when the snapshot was built. */
export interface BudgetState {
  readonly tenantId: string;
  /** Empty for the tenant's own budget. */
  readonly userId: string;
  readonly period: 'day' | 'month';
  readonly limitUsd: number;
  readonly periodStart: Date;
  /** Spent in the store as of the snapshot (local spend since then is the meter's). */
  readonly spentUsd: number;
}

/** Everything the data path needs to route and meter a request, immutable once built. */
export interface RoutingSnapshot {
  readonly builtAt: Date;
  readonly providers: ReadonlyMap<string, SnapshotProvider>;
  /** Role → `<provider>/<model>`s, first = primary; unset roles are absent. */
  readonly roles: ReadonlyMap<Role, readonly string[]>;
  /** `<provider>/<model>` → price. */
  readonly prices: ReadonlyMap<string, Price>;
  /** `budgetKey(tenant, user)` → budget. */
  readonly budgets: ReadonlyMap<string, BudgetState>;
  /** The meter's sequence number up to which `spentUsd` includes local usage. */
  readonly spendSeq: number;
}

/** The key of a budget: the tenant's own (`user` empty) or one user's. */
export function budgetKey(tenantId: string, userId = ''): string {
  return `${tenantId}\u0000${userId}`;
}

/** Usage already in the store, as of a moment the meter names by its sequence number. */
export interface SpendReader {
  /** Flushes the meter, then sums each budget's period in the store; `seq` is the last record included. */
  read(budgets: readonly BudgetRow[]): Promise<{ seq: number; spent: ReadonlyMap<string, number> }>;
}

export interface BudgetRow {
  readonly tenantId: string;
  readonly userId: string;
  readonly period: 'day' | 'month';
  readonly limitUsd: number;
}

/** The start of the calendar period (UTC) that holds `at`. */
export function periodStart(period: 'day' | 'month', at: Date): Date {
  return period === 'day'
    ? new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate()))
    : new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1));
}

export const EMPTY_SNAPSHOT: RoutingSnapshot = {
  builtAt: new Date(0),
  providers: new Map(),
  roles: new Map(),
  prices: new Map(),
  budgets: new Map(),
  spendSeq: 0,
};

/** Reads providers, roles, prices and budgets (with their spend) into a fresh snapshot; keys decrypted once, here. */
export async function loadSnapshot(
  store: SqlStore<RouterTables>,
  cipher: CredentialCipher,
  spend: SpendReader,
  logger: Logger,
): Promise<RoutingSnapshot> {
  const now = new Date();
  const [providerRows, roleRows, priceRows, budgetRows] = await Promise.all([
    store.db.selectFrom('providers').selectAll().execute(),
    store.db.selectFrom('model_roles').select(['role', 'models']).execute(),
    store.db.selectFrom('prices').selectAll().execute(),
    store.db.selectFrom('budgets').selectAll().execute(),
  ]);
  const budgetList: BudgetRow[] = budgetRows.map((row) => ({
    tenantId: row.tenant_id,
    userId: row.user_id,
    period: row.period,
    limitUsd: row.limit_usd,
  }));
  const { seq, spent } = await spend.read(budgetList);
  const providers = new Map<string, SnapshotProvider>();
  for (const row of providerRows) {
    let apiKey: string | undefined;
    let keyUnreadable = false;
    if (row.api_key !== null) {
      try {
        apiKey = cipher.decrypt(row.api_key, row.name);
      } catch (error: unknown) {
        keyUnreadable = true;
        logger.error(
          { err: error, provider: row.name },
          'a provider key does not decrypt; requests to it fail',
        );
      }
    }
    providers.set(row.name, {
      name: row.name,
      kind: row.kind,
      baseUrl: row.base_url,
      enabled: row.enabled,
      keyUnreadable,
      ...(apiKey === undefined ? {} : { apiKey }),
    });
  }
  const known: ReadonlySet<string> = new Set(ROLES);
  const roles = new Map<Role, readonly string[]>();
  for (const row of roleRows) if (known.has(row.role)) roles.set(row.role as Role, row.models);
  const prices = new Map<string, Price>();
  for (const row of priceRows) {
    prices.set(row.model, {
      inputPerMtok: row.input_per_mtok,
      cachedInputPerMtok: row.cached_input_per_mtok ?? row.input_per_mtok,
      outputPerMtok: row.output_per_mtok,
    });
  }
  const budgets = new Map<string, BudgetState>();
  for (const budget of budgetList) {
    const key = budgetKey(budget.tenantId, budget.userId);
    budgets.set(key, {
      ...budget,
      periodStart: periodStart(budget.period, now),
      spentUsd: spent.get(key) ?? 0,
    });
  }
  return { builtAt: now, providers, roles, prices, budgets, spendSeq: seq };
}

/**
 * The lock-free snapshot of ARCHITECTURE §7: the data path reads `current` (a reference swapped whole, never
 * mutated), rebuilt every `refreshMs` and at once after each admin change. A failed rebuild keeps the
 * previous snapshot and is logged; the data path never waits for the database.
 */
export class SnapshotHolder {
  current: RoutingSnapshot = EMPTY_SNAPSHOT;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  /** Counts refresh requests, so one that arrives during a rebuild makes another rebuild follow. */
  private requested = 0;

  constructor(
    private readonly load: () => Promise<RoutingSnapshot>,
    private readonly refreshMs: number,
    private readonly logger: Logger,
  ) {}

  /** Builds the first snapshot (failing boot if it cannot), then refreshes on the interval. */
  async start(): Promise<void> {
    this.current = await this.load();
    this.timer = setInterval(() => {
      void this.refresh();
    }, this.refreshMs);
    this.timer.unref();
  }

  /** Rebuilds now; a call during a rebuild makes one more rebuild follow it, so no change is missed. */
  refresh(): Promise<void> {
    this.requested += 1;
    if (this.inFlight !== undefined) return this.inFlight;
    this.inFlight = (async () => {
      let served: number;
      do {
        served = this.requested;
        try {
          this.current = await this.load();
        } catch (error: unknown) {
          this.logger.error({ err: error }, 'routing snapshot refresh failed; the previous one stays');
        }
      } while (served !== this.requested);
    })().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.inFlight;
  }
}
