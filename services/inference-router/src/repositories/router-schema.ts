import type { Migration } from '@aibox/stores';
import { sql, type Generated } from 'kysely';

/** Providers and role routing are the deployment's, not a tenant's: no row-level security. */
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
};
