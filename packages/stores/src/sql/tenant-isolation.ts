import { sql } from 'kysely';
import type { Kysely } from 'kysely';

import { StoreError } from '../store.js';
import { assertIdentifier } from './sql-names.js';

/** The role a tenant-scoped transaction runs as: no superuser, no BYPASSRLS, no login. */
export const TENANT_ROLE = 'aibox_tenant';

/** The transaction-local setting the row-level security policies compare `tenant_id` with. */
export const TENANT_SETTING = 'aibox.tenant_id';

export const TENANT_ID_MAX_LENGTH = 128;

// C0 and C1 control characters, NUL included (PostgreSQL text cannot hold NUL).
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Throws `tenant_invalid` unless `tenantId` is 1..128 characters without control characters. */
export function assertTenantId(tenantId: unknown): asserts tenantId is string {
  if (typeof tenantId !== 'string' || tenantId.length === 0) {
    throw new StoreError('tenant_invalid', 'tenant id must be a non-empty string');
  }
  if (tenantId.length > TENANT_ID_MAX_LENGTH) {
    throw new StoreError('tenant_invalid', `tenant id is longer than ${TENANT_ID_MAX_LENGTH} characters`);
  }
  if (CONTROL.test(tenantId)) {
    throw new StoreError('tenant_invalid', 'tenant id contains a control character');
  }
}

export interface TenantIsolationOptions {
  /** The column holding the tenant id (type `text`); default `tenant_id`. */
  readonly column?: string;
}

/**
 * For use inside a migration: turns on row-level security for `table` so that a tenant-scoped
 * transaction (`SqlStore.forTenant(id).transaction`) reads, updates and deletes only that tenant's rows
 * and cannot insert or move a row into another tenant, whether or not the query filters on the tenant.
 * The column also defaults to the transaction's tenant, so inserts may leave it out.
 */
export async function enableTenantIsolation<DB>(
  db: Kysely<DB>,
  table: string,
  options: TenantIsolationOptions = {},
): Promise<void> {
  const column = options.column ?? 'tenant_id';
  assertIdentifier('table name', table);
  assertIdentifier('tenant column name', column);
  const t = sql.table(table);
  const c = sql.ref(column);
  const tenantOfTransaction = sql`current_setting(${sql.lit(TENANT_SETTING)}, true)`;
  // NULL outside a tenant transaction, so a NOT NULL column refuses an insert that names no tenant.
  await sql`alter table ${t} alter column ${c} set default nullif(${tenantOfTransaction}, '')`.execute(db);
  await sql`alter table ${t} enable row level security`.execute(db);
  await sql`alter table ${t} force row level security`.execute(db);
  await sql`drop policy if exists tenant_isolation on ${t}`.execute(db);
  await sql`create policy tenant_isolation on ${t}
    using (${c} = ${tenantOfTransaction})
    with check (${c} = ${tenantOfTransaction})`.execute(db);
}
