import type { SqlStore } from '@aibox/stores';
import { sql, type Selectable } from 'kysely';

import {
  ROLES,
  type CreateProviderBody,
  type PatchProviderBody,
  type ProviderView,
  type Role,
  type RoleView,
} from '../dtos/provider.dto.js';
import { ProviderConfigError } from '../errors/provider-config.error.js';
import { keyHint, type CredentialCipher } from '../repositories/credential-cipher.js';
import { probeProvider } from '../repositories/provider-probe.js';
import type { RouterTables } from '../repositories/router-schema.js';
import { normalizeBaseUrl } from './base-url.js';

type Row = Selectable<RouterTables['providers']>;

function view(row: Row): ProviderView {
  return {
    name: row.name,
    kind: row.kind,
    base_url: row.base_url,
    enabled: row.enabled,
    key_hint: row.key_hint,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === '23505';
}

export interface ProviderAdminOptions {
  readonly probeTimeoutMs: number;
  /** Awaited after every change, so the data path's snapshot is rebuilt before the admin gets an answer. */
  readonly onChange?: () => Promise<void>;
}

/**
 * `/v1/internal/providers` and `/v1/internal/roles` (ARCHITECTURE §7): a provider is saved only after its base
 * URL is normalized and `GET {base_url}/models` answered (redirects refused); its key is stored encrypted and
 * shown only as a hint. A role names `<provider>/<model>`s of known providers, first = primary.
 */
export class ProviderAdmin {
  constructor(
    private readonly store: SqlStore<RouterTables>,
    private readonly cipher: CredentialCipher,
    private readonly options: ProviderAdminOptions,
  ) {}

  async list(): Promise<{ providers: ProviderView[] }> {
    const rows = await this.store.db.selectFrom('providers').selectAll().orderBy('name').execute();
    return { providers: rows.map(view) };
  }

  async get(name: string): Promise<ProviderView> {
    return view(await this.row(name));
  }

  /** Registers a provider; answers its view and the models its probe listed. */
  async create(body: CreateProviderBody): Promise<ProviderView & { models: string[] }> {
    const baseUrl = normalizeBaseUrl(body.base_url);
    const models = await probeProvider({
      baseUrl,
      ...(body.api_key === undefined ? {} : { apiKey: body.api_key }),
      timeoutMs: this.options.probeTimeoutMs,
    });
    let row: Row;
    try {
      row = await this.store.db
        .insertInto('providers')
        .values({
          name: body.name,
          kind: body.kind,
          base_url: baseUrl,
          api_key: body.api_key === undefined ? null : this.cipher.encrypt(body.api_key, body.name),
          key_hint: body.api_key === undefined ? null : keyHint(body.api_key),
          enabled: body.enabled,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
    } catch (error: unknown) {
      if (isUniqueViolation(error)) throw new ProviderConfigError('provider_exists', body.name);
      throw error;
    }
    await this.options.onChange?.();
    return { ...view(row), models };
  }

  /** Changes a provider; a new base URL or key is probed again before it is saved. */
  async update(name: string, body: PatchProviderBody): Promise<ProviderView> {
    const current = await this.row(name);
    const baseUrl = body.base_url === undefined ? current.base_url : normalizeBaseUrl(body.base_url);
    const apiKey =
      body.api_key === undefined
        ? current.api_key === null
          ? undefined
          : this.cipher.decrypt(current.api_key, name)
        : (body.api_key ?? undefined);
    if (body.base_url !== undefined || body.api_key !== undefined) {
      await probeProvider({
        baseUrl,
        ...(apiKey === undefined ? {} : { apiKey }),
        timeoutMs: this.options.probeTimeoutMs,
      });
    }
    const row = await this.store.db
      .updateTable('providers')
      .set({
        ...(body.kind === undefined ? {} : { kind: body.kind }),
        ...(body.enabled === undefined ? {} : { enabled: body.enabled }),
        base_url: baseUrl,
        ...(body.api_key === undefined
          ? {}
          : {
              api_key: body.api_key === null ? null : this.cipher.encrypt(body.api_key, name),
              key_hint: body.api_key === null ? null : keyHint(body.api_key),
            }),
        updated_at: sql<Date>`now()`,
      })
      .where('name', '=', name)
      .returningAll()
      .executeTakeFirst();
    if (row === undefined) throw new ProviderConfigError('provider_not_found', name);
    await this.options.onChange?.();
    return view(row);
  }

  /** Deletes a provider no role names any more. */
  async delete(name: string): Promise<void> {
    await this.row(name);
    const users = await this.store.db
      .selectFrom('model_roles')
      .select('role')
      .where(sql<boolean>`exists (select 1 from unnest(models) m where split_part(m, '/', 1) = ${name})`)
      .execute();
    if (users.length > 0) {
      throw new ProviderConfigError(
        'provider_in_use',
        `named by ${users.map((user) => user.role).join(', ')}`,
      );
    }
    await this.store.db.deleteFrom('providers').where('name', '=', name).execute();
    await this.options.onChange?.();
  }

  async roles(): Promise<{ roles: RoleView[] }> {
    const rows = await this.store.db.selectFrom('model_roles').select(['role', 'models']).execute();
    const byRole = new Map(rows.map((row) => [row.role, row.models]));
    return { roles: ROLES.map((role) => ({ role, models: byRole.get(role) ?? [] })) };
  }

  /** Sets a role's models (first = primary); each must name a registered provider. */
  async setRole(role: Role, models: readonly string[]): Promise<RoleView> {
    const providers = new Set(
      (await this.store.db.selectFrom('providers').select('name').execute()).map((row) => row.name),
    );
    const unknown = models.filter((model) => !providers.has(model.slice(0, model.indexOf('/'))));
    if (unknown.length > 0) throw new ProviderConfigError('model_unknown', unknown.join(', '));
    await this.store.db
      .insertInto('model_roles')
      .values({ role, models: [...models] })
      .onConflict((conflict) =>
        conflict.column('role').doUpdateSet({ models: [...models], updated_at: sql<Date>`now()` }),
      )
      .execute();
    await this.options.onChange?.();
    return { role, models };
  }

  private async row(name: string): Promise<Row> {
    const row = await this.store.db
      .selectFrom('providers')
      .selectAll()
      .where('name', '=', name)
      .executeTakeFirst();
    if (row === undefined) throw new ProviderConfigError('provider_not_found', name);
    return row;
  }
}
