import { Controller, Get, Param, Post, Req, Res } from '@nestjs/common';
import { Public } from '@aibox/platform';
import type { FastifyReply, FastifyRequest } from 'fastify';

import { InteractionService, type InteractionOutcome } from '../services/interaction.service.js';
import { PAGE_HEADERS } from '../views/html.js';
import { INTERACTION_ROUTES } from './oidc-routes.js';

function send(reply: FastifyReply): (outcome: InteractionOutcome) => FastifyReply {
  return (outcome) =>
    outcome.kind === 'page'
      ? reply.code(outcome.status).headers(PAGE_HEADERS).send(outcome.html)
      : reply.code(303).header('location', outcome.location).header('cache-control', 'no-store').send();
}

/** The sign-in pages oidc-provider sends users to (HTML, no script; CSRF: interaction cookie + SameSite). */
@Public()
@Controller()
export class InteractionController {
  constructor(private readonly interactions: InteractionService) {}

  @Get(INTERACTION_ROUTES.show)
  show(@Param('uid') uid: string, @Req() request: FastifyRequest, @Res() reply: FastifyReply) {
    return this.interactions.show(request.raw, reply.raw, uid).then(send(reply));
  }

  @Post(INTERACTION_ROUTES.login)
  login(@Param('uid') uid: string, @Req() request: FastifyRequest, @Res() reply: FastifyReply) {
    return this.interactions.login(request.raw, reply.raw, uid, request.body).then(send(reply));
  }

  @Get(INTERACTION_ROUTES.abort)
  abort(@Param('uid') uid: string, @Req() request: FastifyRequest, @Res() reply: FastifyReply) {
    return this.interactions.abort(request.raw, reply.raw, uid).then(send(reply));
  }
}
