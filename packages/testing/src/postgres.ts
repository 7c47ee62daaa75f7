import pg from 'pg';

import { postgresUrl } from './dependencies.js';

/**
 * Drops schemas, with all they hold, from a test PostgreSQL (`DATABASE_URL` by default): how a test run removes
 * the schemas it made for itself. A name is quoted, so one that was never made is simply not there.
 */
export async function dropSchemas(
  schemas: readonly string[],
  databaseUrl: string = postgresUrl(),
): Promise<void> {
  if (schemas.length === 0) return;
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    for (const schema of schemas)
      await client.query(`drop schema if exists ${client.escapeIdentifier(schema)} cascade`);
  } finally {
    await client.end();
  }
}
