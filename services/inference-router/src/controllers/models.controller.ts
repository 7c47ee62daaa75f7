import { Controller, Get, Inject } from '@nestjs/common';

import type { Principal } from '@aibox/identity';
import { CurrentPrincipal } from '@aibox/platform';

import { CatalogService, type ModelEntry, type RoutesView } from '../services/catalog.service.js';

/** `GET /v1/models`: the roles and concrete models any signed-in user may ask for. */
@Controller('v1/models')
export class ModelsController {
  constructor(@Inject(CatalogService) private readonly catalog: CatalogService) {}

  @Get()
  list(@CurrentPrincipal() _principal: Principal): { object: 'list'; data: ModelEntry[] } {
    return this.catalog.models();
  }
}

/** `GET /v1/routes`: role → models → provider, with each provider's health. */
@Controller('v1/routes')
export class RoutesController {
  constructor(@Inject(CatalogService) private readonly catalog: CatalogService) {}

  @Get()
  list(@CurrentPrincipal() _principal: Principal): RoutesView {
    return this.catalog.routes();
  }
}
