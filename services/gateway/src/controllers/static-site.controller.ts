import { Controller, Get, Inject, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';

import { Public } from '@aibox/platform';

import { StaticSiteService } from '../services/static-site.service.js';

/** The SPA at `/` (GATEWAY_STATIC_DIR): public files, no principal. */
@Public()
@Controller()
export class StaticSiteController {
  constructor(@Inject(StaticSiteService) private readonly site: StaticSiteService) {}

  @Get('*')
  async serve(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const file = await this.site.serve(request.url.split('?', 1)[0] ?? '/', request.headers.accept);
    await reply.headers(file.headers).send(file.body);
  }
}
