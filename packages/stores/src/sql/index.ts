export { openSqlStore } from './sql-store.js';
export type { SqlStore, SqlStoreOptions, TenantSql } from './sql-store.js';
export { enableTenantIsolation, TENANT_ID_MAX_LENGTH } from './tenant-isolation.js';
export type { TenantIsolationOptions } from './tenant-isolation.js';
export type { Migration } from 'kysely/migration';
