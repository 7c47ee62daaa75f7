import { All, Controller, Inject, Req, Res, UseGuards } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';

import { Public } from '@aibox/platform';

import { ProxyService } from '../services/proxy.service.js';
import { GatewayAuthGuard } from './gateway-auth.guard.js';

/** Every `/v1/*` request: authenticated by {@link GatewayAuthGuard}, then routed by the route table. */
@Public()
@UseGuards(GatewayAuthGuard)
@Controller('v1')
export class ProxyController {
  constructor(@Inject(ProxyService) private readonly proxy: ProxyService) {}

  @All('*')
  route(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    return this.proxy.handle(request, reply);
  }
}
