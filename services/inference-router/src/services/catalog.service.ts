import { ROLES, type Role } from '../dtos/provider.dto.js';
import type { BreakerBoard, ProviderHealth } from './circuit-breaker.js';
import type { SnapshotHolder } from './routing-snapshot.js';

export interface ModelEntry {
  readonly id: string;
  readonly object: 'model';
  readonly created: number;
  readonly owned_by: string;
  /** For a role alias: the `<provider>/<model>`s it routes to, first = primary. */
  readonly aibox_routes?: readonly string[];
}

export interface RouteEntry {
  readonly id: string;
  readonly provider: string;
  readonly model: string;
  /** Whether a call would try it now: the provider exists, is enabled and its key decrypts. */
  readonly usable: boolean;
  readonly health: ProviderHealth | null;
}

export interface RoutesView {
  readonly roles: readonly { readonly role: Role; readonly models: readonly RouteEntry[] }[];
  readonly providers: readonly {
    readonly name: string;
    readonly kind: 'chat_completions' | 'responses';
    readonly enabled: boolean;
    readonly health: ProviderHealth;
  }[];
}

function providerOf(id: string): string {
  return id.slice(0, id.indexOf('/'));
}

/** What callers may ask for (`GET /v1/models`) and how it is routed right now (`GET /v1/routes`). */
export class CatalogService {
  constructor(
    private readonly snapshots: SnapshotHolder,
    private readonly breakers: BreakerBoard,
  ) {}

  /**
   * OpenAI list format: the role aliases that route to at least one enabled provider, then the concrete
   * `<provider>/<model>`s those roles name on enabled providers. `created` is 0: the router does not know
   * when a provider made a model.
   */
  models(): { object: 'list'; data: ModelEntry[] } {
    const { providers, roles } = this.snapshots.current;
    const usable = (model: string): boolean => providers.get(providerOf(model))?.enabled === true;
    const data: ModelEntry[] = [];
    const concrete = new Set<string>();
    for (const [role, models] of roles) {
      const routes = models.filter(usable);
      if (routes.length === 0) continue;
      data.push({ id: role, object: 'model', created: 0, owned_by: 'aibox', aibox_routes: routes });
      for (const model of routes) concrete.add(model);
    }
    for (const model of [...concrete].sort()) {
      data.push({ id: model, object: 'model', created: 0, owned_by: providerOf(model) });
    }
    return { object: 'list', data };
  }

  /** Every role with its models in order and each provider's circuit; never base URLs or keys. */
  routes(): RoutesView {
    const { providers, roles } = this.snapshots.current;
    return {
      roles: ROLES.map((role) => ({
        role,
        models: (roles.get(role) ?? []).map((id) => {
          const provider = providers.get(providerOf(id));
          return {
            id,
            provider: providerOf(id),
            model: id.slice(id.indexOf('/') + 1),
            usable: provider?.enabled === true && !provider.keyUnreadable,
            health: provider === undefined ? null : this.breakers.of(provider.name).health(),
          };
        }),
      })),
      providers: [...providers.values()]
        .sort((a, b) => a.name.localeCompare(b.name))
        .map((provider) => ({
          name: provider.name,
          kind: provider.kind,
          enabled: provider.enabled,
          health: this.breakers.of(provider.name).health(),
        })),
    };
  }
}
