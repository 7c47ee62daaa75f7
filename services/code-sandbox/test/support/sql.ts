import { randomBytes } from 'node:crypto';

import { openSqlStore, type SqlStore } from '@aibox/stores';
import { dropSchemas, needs, postgresUrl } from '@aibox/testing';

/** The stores the repository tests run on: embedded PGlite always, PostgreSQL where the machine has it. */
export const SQL_ADAPTERS = ['pglite', ...((await needs('postgres')) ? ['postgres' as const] : [])] as const;
export type SqlAdapter = (typeof SQL_ADAPTERS)[number];

export interface TestSqlStore<DB> {
  readonly sql: SqlStore<DB>;
  /** Closes the store and, on PostgreSQL, drops its schema. */
  cleanup(): Promise<void>;
}

/** code-sandbox's SQL store, unmigrated: on PGlite, or on PostgreSQL in a fresh schema of its own. */
export async function openTestSqlStore<DB>(adapter: SqlAdapter): Promise<TestSqlStore<DB>> {
  if (adapter === 'pglite') {
    const sql = await openSqlStore<DB>({ service: 'code-sandbox' });
    return { sql, cleanup: () => sql.close() };
  }
  const schema = `sandbox_t${randomBytes(6).toString('hex')}`;
  const sql = await openSqlStore<DB>({ service: 'code-sandbox', databaseUrl: postgresUrl(), schema });
  return {
    sql,
    async cleanup() {
      await sql.close();
      await dropSchemas([schema]);
    },
  };
}
