import { CompiledQuery, Kysely, PGliteDialect, PostgresDialect, sql } from 'kysely';
import type { DatabaseConnection, DatabaseIntrospector, Dialect, TableMetadata, Transaction } from 'kysely';
import { Migrator } from 'kysely/migration';
import type { Migration } from 'kysely/migration';
import pg from 'pg';

import { StoreError } from '../store.js';
import type { Store } from '../store.js';
import { startPGlite } from './pglite-instance.js';
import {
  assertIdentifier,
  assertServiceName,
  defaultSchemaFor,
  describeCause,
  redactUrl,
} from './sql-names.js';
import { TENANT_ROLE, TENANT_SETTING, assertTenantId } from './tenant-isolation.js';

export interface SqlStoreOptions {
  /** The owning service, e.g. `agent-runtime`. */
  readonly service: string;
  /** `DATABASE_URL`: PostgreSQL through a `pg` pool. Wins over `dataDir`. */
  readonly databaseUrl?: string;
  /** Where embedded PGlite keeps its files, e.g. `${AIBOX_DATA_DIR}/<service>/pglite`; unset → in memory. */
  readonly dataDir?: string;
  /** The PostgreSQL schema the service works in; default: the service name with `-` spelled `_`. */
  readonly schema?: string;
  /** Most connections the PostgreSQL pool opens (default 10). */
  readonly maxConnections?: number;
}

/** A handle scoped to one tenant: the only way repositories reach tenant rows. */
export interface TenantSql<DB> {
  readonly tenantId: string;
  /**
   * Runs `work` in a transaction as the unprivileged tenant role with the tenant set, so row-level
   * security (see `enableTenantIsolation`) hides other tenants' rows and refuses writes into them.
   * Commits when `work` resolves, rolls back when it throws.
   */
  transaction<T>(work: (trx: Transaction<DB>) => Promise<T>): Promise<T>;
}

export interface SqlStore<DB> extends Store {
  readonly kind: 'sql';
  readonly adapter: 'postgres' | 'pglite';
  readonly service: string;
  /** The PostgreSQL schema holding this service's tables (its `search_path`). */
  readonly schema: string;
  /** Service-level access: migrations and tables without tenant data. Not tenant-scoped. */
  readonly db: Kysely<DB>;
  /** Applies the pending migrations in name order, in one transaction, under an advisory lock. */
  migrate(migrations: Readonly<Record<string, Migration>>): Promise<{ applied: string[] }>;
  forTenant(tenantId: string): TenantSql<DB>;
}

// One lock for the database-wide bootstrap (schemas, role, grants): concurrent GRANTs on one object fail
// with "tuple concurrently updated", and two replicas may open at once.
const BOOTSTRAP_LOCK = sql`pg_advisory_xact_lock(hashtext('aibox.stores.sql.bootstrap'))`;

const MIGRATION_TABLES = ['kysely_migration', 'kysely_migration_lock'] as const;

/** Opens the service's SQL store: PostgreSQL when `databaseUrl` is set, embedded PGlite otherwise. */
export async function openSqlStore<DB>(options: SqlStoreOptions): Promise<SqlStore<DB>> {
  assertServiceName(options.service);
  const schema = options.schema ?? defaultSchemaFor(options.service);
  assertIdentifier('schema name', schema);
  const databaseUrl = options.databaseUrl;
  const adapter = databaseUrl === undefined ? 'pglite' : 'postgres';
  const where =
    databaseUrl === undefined
      ? `PGlite ${options.dataDir === undefined ? '(in memory)' : `at ${options.dataDir}`}`
      : `PostgreSQL at ${redactUrl(databaseUrl)}`;

  const dialect =
    databaseUrl === undefined
      ? await pgliteDialect(options.dataDir, schema, where)
      : postgresDialect(databaseUrl, options, schema);
  const db = new Kysely<DB>({ dialect });
  try {
    await bootstrap(db, schema);
  } catch (error) {
    await db.destroy().catch(() => undefined);
    if (error instanceof StoreError) throw error;
    throw new StoreError(
      'store_unavailable',
      `${where} for service "${options.service}" is unavailable: ${describeCause(error, databaseUrl)}`,
    );
  }
  return new OpenSqlStore<DB>(db, adapter, options.service, schema, where, databaseUrl);
}

async function pgliteDialect(dataDir: string | undefined, schema: string, where: string): Promise<Dialect> {
  try {
    const pglite = await startPGlite({ dataDir });
    // Kysely's PGlite dialect runs one statement or one transaction at a time on the single session.
    return new PGliteDialect({ pglite, onCreateConnection: setSearchPath(schema) });
  } catch (error) {
    throw new StoreError('store_unavailable', `${where} could not start: ${describeCause(error, undefined)}`);
  }
}

function postgresDialect(databaseUrl: string, options: SqlStoreOptions, schema: string): Dialect {
  let protocol: string;
  try {
    protocol = new URL(databaseUrl).protocol;
  } catch {
    throw new StoreError('store_config_invalid', 'DATABASE_URL is not a URL (expected postgres://…)');
  }
  if (protocol !== 'postgres:' && protocol !== 'postgresql:') {
    throw new StoreError(
      'store_config_invalid',
      `DATABASE_URL has protocol "${protocol}", expected postgres:`,
    );
  }
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: options.maxConnections ?? 10,
    connectionTimeoutMillis: 10_000,
    application_name: `aibox-${options.service}`,
  });
  // An idle client whose server went away emits here; the pool drops it and the next query reconnects.
  pool.on('error', () => undefined);
  return new PostgresDialect({
    pool,
    onCreateConnection: setSearchPath(schema),
  });
}

function setSearchPath(schema: string): (connection: DatabaseConnection) => Promise<void> {
  return async (connection) => {
    // `schema` passed assertIdentifier: quoting it is enough.
    await connection.executeQuery(CompiledQuery.raw(`set search_path to "${schema}"`));
  };
}

async function bootstrap<DB>(db: Kysely<DB>, schema: string): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await sql`select ${BOOTSTRAP_LOCK}`.execute(trx);
    await sql`create schema if not exists ${sql.id(schema)}`.execute(trx);
    const role = sql.id(TENANT_ROLE);
    const existing = await sql<{
      rolname: string;
    }>`select rolname from pg_roles where rolname = ${TENANT_ROLE}`.execute(trx);
    if (existing.rows.length === 0) {
      // The role is cluster-wide: another database of the same cluster may create it at the same moment.
      await sql`do $$ begin
        create role ${role} nologin nosuperuser nobypassrls;
      exception when duplicate_object or unique_violation then null;
      end $$`.execute(trx);
    }
    // A superuser may SET ROLE to anything; any other login role needs membership.
    await sql`do $$ begin
      if not (select rolsuper from pg_roles where rolname = current_user)
         and not pg_has_role(current_user, ${sql.lit(TENANT_ROLE)}, 'MEMBER') then
        grant ${role} to current_user;
      end if;
    end $$`.execute(trx);
    await sql`grant usage on schema ${sql.id(schema)} to ${role}`.execute(trx);
    await sql`alter default privileges in schema ${sql.id(schema)}
      grant select, insert, update, delete on tables to ${role}`.execute(trx);
    await sql`alter default privileges in schema ${sql.id(schema)}
      grant usage, select, update on sequences to ${role}`.execute(trx);
  });
}

/**
 * The store's database as Kysely's migrator sees it: the same, except that its introspection knows only the
 * store's own schema. Kysely's PostgreSQL introspection lists every schema of the database and calls
 * `has_schema_privilege` and `pg_get_serial_sequence` by name on each, so another service's (or test's) schema
 * dropped meanwhile failed this store's migrations with "schema … does not exist". The migrator only asks
 * whether its two bookkeeping tables exist.
 */
function scopedToSchema<DB>(db: Kysely<DB>, schema: string): Kysely<DB> {
  const introspection: DatabaseIntrospector = {
    getSchemas: () => db.introspection.getSchemas(),
    async getTables(): Promise<TableMetadata[]> {
      const { rows } = await sql<{ table_name: string }>`
        select table_name from information_schema.tables where table_schema = ${schema}`.execute(db);
      return rows.map(({ table_name }) => ({
        name: table_name,
        schema,
        isView: false,
        isForeign: false,
        columns: [],
      }));
    },
  };
  return new Proxy(db, {
    get(target, property) {
      if (property === 'introspection') return introspection;
      // Kysely's methods read its private fields: they must run on the instance itself, not on the proxy.
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

class OpenSqlStore<DB> implements SqlStore<DB> {
  readonly kind = 'sql';
  #closed = false;

  constructor(
    readonly db: Kysely<DB>,
    readonly adapter: 'postgres' | 'pglite',
    readonly service: string,
    readonly schema: string,
    private readonly where: string,
    private readonly databaseUrl: string | undefined,
  ) {}

  async ping(): Promise<void> {
    this.#assertOpen();
    try {
      await sql`select 1`.execute(this.db);
    } catch (error) {
      throw this.#unavailable(error);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.db.destroy();
  }

  async migrate(migrations: Readonly<Record<string, Migration>>): Promise<{ applied: string[] }> {
    this.#assertOpen();
    const migrator = new Migrator({
      db: scopedToSchema(this.db, this.schema),
      provider: { getMigrations: () => Promise.resolve({ ...migrations }) },
      migrationTableSchema: this.schema,
    });
    const { error, results = [] } = await migrator.migrateToLatest();
    if (error !== undefined) {
      const failed = results.find((result) => result.status === 'Error');
      const cause = describeCause(error, this.databaseUrl);
      throw new StoreError(
        'migration_failed',
        failed === undefined
          ? `migrations of service "${this.service}" could not run: ${cause}`
          : `migration "${failed.migrationName}" of service "${this.service}" failed, nothing was applied: ${cause}`,
        { cause: this.databaseUrl === undefined ? error : undefined },
      );
    }
    await this.#grantTenantRole();
    return {
      applied: results.filter((result) => result.status === 'Success').map((result) => result.migrationName),
    };
  }

  forTenant(tenantId: string): TenantSql<DB> {
    assertTenantId(tenantId);
    return {
      tenantId,
      transaction: async <T>(work: (trx: Transaction<DB>) => Promise<T>): Promise<T> => {
        this.#assertOpen();
        return this.db.transaction().execute(async (trx) => {
          await sql`set local role ${sql.id(TENANT_ROLE)}`.execute(trx);
          await sql`select set_config(${TENANT_SETTING}, ${tenantId}, true)`.execute(trx);
          return work(trx);
        });
      },
    };
  }

  // Tables created by migrations (and any made before the store knew them) become reachable for
  // tenant transactions; the migration bookkeeping never does.
  async #grantTenantRole(): Promise<void> {
    const schema = sql.id(this.schema);
    const role = sql.id(TENANT_ROLE);
    await this.db.transaction().execute(async (trx) => {
      await sql`select ${BOOTSTRAP_LOCK}`.execute(trx);
      await sql`grant select, insert, update, delete on all tables in schema ${schema} to ${role}`.execute(
        trx,
      );
      await sql`grant usage, select, update on all sequences in schema ${schema} to ${role}`.execute(trx);
      for (const table of MIGRATION_TABLES) {
        await sql`revoke all on ${sql.table(`${this.schema}.${table}`)} from ${role}`.execute(trx);
      }
    });
  }

  #assertOpen(): void {
    if (this.#closed) {
      throw new StoreError('store_closed', `the SQL store of service "${this.service}" is closed`);
    }
  }

  #unavailable(error: unknown): StoreError {
    return new StoreError(
      'store_unavailable',
      `${this.where} for service "${this.service}" is unavailable: ${describeCause(error, this.databaseUrl)}`,
    );
  }
}
