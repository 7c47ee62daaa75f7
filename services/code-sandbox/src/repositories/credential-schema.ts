import { enableTenantIsolation, type Migration } from '@aibox/stores';
import { sql, type Generated } from 'kysely';

/**
 * Credentials are tenant data (row-level security; the repository uses `forTenant`) owned by one user. The
 * value is stored only sealed (see `SecretCipher`), bound to its tenant and id; `value_hint` is what callers
 * see of it.
 */
export interface CredentialTables {
  credentials: {
    id: string;
    tenant_id: string;
    user_id: string;
    name: string;
    description: string | null;
    /** `v1.<iv>.<ciphertext‖tag>`, never the plaintext. */
    value_sealed: string;
    value_hint: string;
    created_at: Generated<Date>;
    updated_at: Generated<Date>;
  };
}

export const CREDENTIAL_MIGRATIONS: Readonly<Record<string, Migration>> = {
  '0002_credentials': {
    async up(db) {
      await db.schema
        .createTable('credentials')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('description', 'text')
        .addColumn('value_sealed', 'text', (c) => c.notNull())
        .addColumn('value_hint', 'text', (c) => c.notNull())
        .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addUniqueConstraint('credentials_owner_name', ['tenant_id', 'user_id', 'name'])
        .execute();
      await enableTenantIsolation(db, 'credentials');
    },
  },
};
