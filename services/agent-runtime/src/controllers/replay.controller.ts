import { Controller, Headers, HttpCode, Inject, Param, Post, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';

import type { Principal } from '@aibox/identity';
import { CurrentPrincipal, RequireCapability } from '@aibox/platform';

import { ChatService, type TurnIdentity } from '../services/chat.service.js';
import { CurrentTurn } from './turn-identity.decorator.js';
import { sealedHere, sendTurnStream } from './turn-reply.js';
import { uuidParam } from './uuid.pipe.js';

/**
 * Live replay of a recorded turn (the gateway routes this audit path here): the same prompt against today's
 * agent, models and tools, side by side with what was recorded. SSE when asked for, JSON otherwise.
 */
@Controller('v1/audit/turns')
export class ReplayController {
  constructor(@Inject(ChatService) private readonly chat: ChatService) {}

  @Post(':turn_id/replay/live')
  @HttpCode(200)
  @RequireCapability('inference:invoke')
  async replay(
    @CurrentPrincipal() principal: Principal,
    @CurrentTurn() turn: TurnIdentity,
    @Param('turn_id', uuidParam) recordedTurnId: string,
    @Headers('accept') accept: string | undefined,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const { started } = await this.chat.replay(principal, turn, recordedTurnId);
    sealedHere(reply);
    if (accept?.includes('text/event-stream') === true) {
      sendTurnStream(reply, started.stream, 0);
      return;
    }
    await started.finished;
    const replayed = started.stream.all().find((event) => event.event === 'replay');
    await reply.code(200).send({ turn_id: started.turnId, ...replayed?.data });
  }
}
