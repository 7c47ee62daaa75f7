import { Controller, Get, Inject } from '@nestjs/common';

import type { Principal } from '@aibox/identity';
import { CurrentPrincipal } from '@aibox/platform';

import { SnapshotHolder } from '../services/routing-snapshot.js';

interface ModelEntry {
  readonly id: string;
  readonly object: 'model';
  readonly created: number;
  readonly owned_by: string;
  /** For a role alias: the `<provider>/<model>`s it routes to, first = primary. */
  readonly aibox_routes?: readonly string[];
}

/**
 * `GET /v1/models` (OpenAI list format): the role aliases that route to at least one enabled provider, then the
 * concrete `<provider>/<model>`s those roles name on enabled providers. `created` is 0: the router does not know
 * when a provider made a model.
 */
@Controller('v1/models')
export class ModelsController {
  constructor(@Inject(SnapshotHolder) private readonly snapshot: SnapshotHolder) {}

  @Get()
  list(@CurrentPrincipal() _principal: Principal): { object: 'list'; data: ModelEntry[] } {
    const { providers, roles } = this.snapshot.current;
    const usable = (model: string): boolean =>
      providers.get(model.slice(0, model.indexOf('/')))?.enabled === true;
    const data: ModelEntry[] = [];
    const concrete = new Set<string>();
    for (const [role, models] of roles) {
      const routes = models.filter(usable);
      if (routes.length === 0) continue;
      data.push({ id: role, object: 'model', created: 0, owned_by: 'aibox', aibox_routes: routes });
      for (const model of routes) concrete.add(model);
    }
    for (const model of [...concrete].sort()) {
      data.push({ id: model, object: 'model', created: 0, owned_by: model.slice(0, model.indexOf('/')) });
    }
    return { object: 'list', data };
  }
}
