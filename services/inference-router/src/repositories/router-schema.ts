import { enableTenantIsolation, type Migration } from '@aibox/stores';
import { sql, type Generated } from 'kysely';

/**
 * Providers, role routing, prices and budgets are the deployment's configuration: no row-level security
 * (budgets name their tenant, and every query of them takes it). Usage records are tenant data: row-level
 * security, written and read only inside `forTenant` transactions.
 */
export interface RouterTables {
  providers: {
    name: string;
    kind: 'chat_completions' | 'responses';
    base_url: string;
    /** `CredentialCipher` text, or null for a provider without a key (a local server). */
    api_key: string | null;
    key_hint: string | null;
    enabled: boolean;
    created_at: Generated<Date>;
    updated_at: Generated<Date>;
  };
  model_roles: {
    role: string;
    /** `<provider name>/<model>`, first = primary, the rest fallbacks. */
    models: string[];
    updated_at: Generated<Date>;
  };
  /** USD per million tokens of one concrete `<provider>/<model>`. */
  prices: {
    model: string;
    input_per_mtok: number;
    /** Null: cached input costs the input price. */
    cached_input_per_mtok: number | null;
    output_per_mtok: number;
    updated_at: Generated<Date>;
  };
  /** A spending limit per calendar period (UTC): the tenant's (`user_id` = '') or one user's. */
  budgets: {
    tenant_id: string;
    user_id: string;
    period: 'day' | 'month';
    limit_usd: number;
    updated_at: Generated<Date>;
  };
  usage_records: {
    id: Generated<string>;
    at: Date;
    tenant_id: string;
    user_id: string;
    turn_id: string | null;
    role: string | null;
    /** Empty when no provider answered. */
    provider: string;
    model: string;
    endpoint: string;
    stream: boolean;
    /** `ok`, or the error code the caller got (`upstream_error`, `client_closed`, …). */
    outcome: string;
    prompt_tokens: number;
    completion_tokens: number;
    cached_tokens: number;
    /** Null when the model has no price. */
    cost_usd: number | null;
    latency_ms: number;
    ttft_ms: number | null;
    attempts: number;
  };
  /** Facts the router keeps about itself (`bootstrapped`). */
  router_state: {
    key: string;
    value: string;
    updated_at: Generated<Date>;
  };
}

export const ROUTER_MIGRATIONS: Readonly<Record<string, Migration>> = {
  '0001_providers_and_roles': {
    async up(db) {
      await db.schema
        .createTable('providers')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('chat_completions', 'responses')`))
        .addColumn('base_url', 'text', (c) => c.notNull())
        .addColumn('api_key', 'text')
        .addColumn('key_hint', 'text')
        .addColumn('enabled', 'boolean', (c) => c.notNull())
        .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
      await db.schema
        .createTable('model_roles')
        .addColumn('role', 'text', (c) => c.primaryKey())
        .addColumn('models', sql`text[]`, (c) => c.notNull())
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
    },
  },
  '0002_usage_prices_budgets': {
    async up(db) {
      await db.schema
        .createTable('prices')
        .addColumn('model', 'text', (c) => c.primaryKey())
        .addColumn('input_per_mtok', 'float8', (c) => c.notNull().check(sql`input_per_mtok >= 0`))
        .addColumn('cached_input_per_mtok', 'float8', (c) => c.check(sql`cached_input_per_mtok >= 0`))
        .addColumn('output_per_mtok', 'float8', (c) => c.notNull().check(sql`output_per_mtok >= 0`))
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
      await db.schema
        .createTable('budgets')
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('period', 'text', (c) => c.notNull().check(sql`period in ('day', 'month')`))
        .addColumn('limit_usd', 'float8', (c) => c.notNull().check(sql`limit_usd >= 0`))
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addPrimaryKeyConstraint('budgets_pk', ['tenant_id', 'user_id'])
        .execute();
      await db.schema
        .createTable('usage_records')
        .addColumn('id', 'bigserial', (c) => c.primaryKey())
        .addColumn('at', 'timestamptz', (c) => c.notNull())
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('turn_id', 'text')
        .addColumn('role', 'text')
        .addColumn('provider', 'text', (c) => c.notNull())
        .addColumn('model', 'text', (c) => c.notNull())
        .addColumn('endpoint', 'text', (c) => c.notNull())
        .addColumn('stream', 'boolean', (c) => c.notNull())
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('prompt_tokens', 'integer', (c) => c.notNull())
        .addColumn('completion_tokens', 'integer', (c) => c.notNull())
        .addColumn('cached_tokens', 'integer', (c) => c.notNull())
        .addColumn('cost_usd', 'float8')
        .addColumn('latency_ms', 'integer', (c) => c.notNull())
        .addColumn('ttft_ms', 'integer')
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('usage_records_tenant_at')
        .on('usage_records')
        .columns(['tenant_id', 'at'])
        .execute();
      await db.schema
        .createIndex('usage_records_tenant_user_at')
        .on('usage_records')
        .columns(['tenant_id', 'user_id', 'at'])
        .execute();
      await enableTenantIsolation(db, 'usage_records');
      await db.schema
        .createTable('router_state')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
    },
  },
};
