import { Controller, Get, Inject } from '@nestjs/common';

import { RequireCapability, RequireRole } from '@aibox/platform';

import { WarmPool, type PoolStatus } from '../services/warm-pool.js';

/** The warm pool of this machine, for its operators: it belongs to no tenant, so admins only. */
@RequireRole('admin')
@RequireCapability('sandbox:manage')
@Controller('pool')
export class PoolController {
  constructor(@Inject(WarmPool) private readonly pool: WarmPool) {}

  @Get()
  status(): Promise<{ pools: PoolStatus[] }> {
    return this.pool.status();
  }
}
