import type { Logger } from '@aibox/platform';
import type { SqlStore } from '@aibox/stores';

import { ROLES, type Role } from '../dtos/provider.dto.js';
import { ProviderConfigError } from '../errors/provider-config.error.js';
import type { RouterTables } from '../repositories/router-schema.js';
import type { ProviderAdmin } from './provider-admin.service.js';

export interface BootstrapOptions {
  /** Local OpenAI-compatible servers to try first, in order. */
  readonly localUrls: readonly string[];
  readonly openAiKey: string | undefined;
  readonly openAiBaseUrl: string;
}

const STATE_KEY = 'bootstrapped';
const EMBEDDING = /embed/i;
const VISION = /vision|llava|-vl\b|vl-|gemma3|pixtral/i;

/** Models a fresh OpenAI account has, best first, per kind of role. */
const OPENAI_PREFERENCES = {
  chat: ['gpt-4.1-mini', 'gpt-4o-mini', 'gpt-4.1', 'gpt-4o'],
  small: ['gpt-4.1-nano', 'gpt-4o-mini', 'gpt-4.1-mini'],
  embedding: ['text-embedding-3-small', 'text-embedding-3-large', 'text-embedding-ada-002'],
} as const;

const SMALL_ROLES: ReadonlySet<Role> = new Set(['title', 'classifier', 'guardrail']);

function localName(url: string, index: number): string {
  const port = new URL(url).port;
  if (port === '11434') return 'ollama';
  if (port === '8000') return 'vllm';
  return `local-${index + 1}`;
}

function preferred(models: readonly string[], wanted: readonly string[]): string | undefined {
  return wanted.find((model) => models.includes(model));
}

/** Role → model for a server's model list: chat roles to its first chat model, `embedding` to an embedding one. */
function localRoles(models: readonly string[]): Map<Role, string> {
  const chat = models.find((model) => !EMBEDDING.test(model));
  const embedding = models.find((model) => EMBEDDING.test(model));
  const vision = models.find((model) => !EMBEDDING.test(model) && VISION.test(model));
  const roles = new Map<Role, string>();
  for (const role of ROLES) {
    const model = role === 'embedding' ? embedding : role === 'vision' ? vision : chat;
    if (model !== undefined) roles.set(role, model);
  }
  return roles;
}

function openAiRoles(models: readonly string[]): Map<Role, string> {
  const chat = preferred(models, OPENAI_PREFERENCES.chat) ?? models.find((model) => model.startsWith('gpt-'));
  const small = preferred(models, OPENAI_PREFERENCES.small) ?? chat;
  const embedding = preferred(models, OPENAI_PREFERENCES.embedding);
  const roles = new Map<Role, string>();
  for (const role of ROLES) {
    const model = role === 'embedding' ? embedding : SMALL_ROLES.has(role) ? small : chat;
    if (model !== undefined) roles.set(role, model);
  }
  return roles;
}

/**
 * The first-start bootstrap of ARCHITECTURE §7: with no provider yet, register a reachable local
 * OpenAI-compatible server (Ollama, then vLLM) and point every role at its models; failing that, the
 * OpenAI account whose key is in `OPENAI_API_KEY`; failing that, leave everything to the admin. It runs
 * again at the next start until something was registered, and never once an admin has a provider.
 * Registration goes through the admin path, so the same probe, normalization and encryption apply.
 */
export class RouterBootstrap {
  constructor(
    private readonly store: SqlStore<RouterTables>,
    private readonly admin: ProviderAdmin,
    private readonly options: BootstrapOptions,
    private readonly logger: Logger,
  ) {}

  async run(): Promise<void> {
    const done = await this.store.db
      .selectFrom('router_state')
      .select('value')
      .where('key', '=', STATE_KEY)
      .executeTakeFirst();
    const anyProvider = await this.store.db
      .selectFrom('providers')
      .select('name')
      .limit(1)
      .executeTakeFirst();
    if (done !== undefined || anyProvider !== undefined) return;

    for (const [index, url] of this.options.localUrls.entries()) {
      const name = localName(url, index);
      const models = await this.tryRegister(name, url, undefined);
      if (models === undefined) continue;
      await this.assign(name, localRoles(models), `local server ${url}`);
      return;
    }
    if (this.options.openAiKey !== undefined) {
      const models = await this.tryRegister('openai', this.options.openAiBaseUrl, this.options.openAiKey);
      if (models !== undefined) {
        await this.assign('openai', openAiRoles(models), 'OPENAI_API_KEY');
        return;
      }
    }
    this.logger.warn(
      { tried: this.options.localUrls, openai_key: this.options.openAiKey !== undefined },
      'no model provider found: an admin registers one at /v1/admin/inference/providers',
    );
  }

  private async tryRegister(
    name: string,
    url: string,
    apiKey: string | undefined,
  ): Promise<string[] | undefined> {
    try {
      const created = await this.admin.create({
        name,
        kind: 'chat_completions',
        base_url: url,
        enabled: true,
        ...(apiKey === undefined ? {} : { api_key: apiKey }),
      });
      return created.models;
    } catch (error: unknown) {
      if (!(error instanceof ProviderConfigError)) throw error;
      this.logger.info({ provider: name, code: error.code }, 'bootstrap: provider not usable');
      return undefined;
    }
  }

  private async assign(provider: string, roles: ReadonlyMap<Role, string>, source: string): Promise<void> {
    for (const [role, model] of roles) await this.admin.setRole(role, [`${provider}/${model}`]);
    await this.store.db
      .insertInto('router_state')
      .values({ key: STATE_KEY, value: JSON.stringify({ provider, source, at: new Date().toISOString() }) })
      .onConflict((conflict) => conflict.column('key').doNothing())
      .execute();
    this.logger.info(
      { provider, source, roles: Object.fromEntries(roles) },
      'bootstrap: roles seeded; an admin can change them at /v1/admin/inference/roles',
    );
  }
}
