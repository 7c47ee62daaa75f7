import { Body, Controller, Get, Headers, HttpCode, Inject, Param, Post, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';

import type { Principal } from '@aibox/identity';
import { CurrentPrincipal, RequireCapability, ZodPipe } from '@aibox/platform';

import { chatBody, type ChatBody } from '../dtos/chat.dto.js';
import { ChatService, type TurnIdentity } from '../services/chat.service.js';
import { wholeAnswer, type ChatAnswer } from '../services/turn-answers.js';
import { CurrentTurn } from './turn-identity.decorator.js';
import { uuidParam } from './uuid.pipe.js';
import { resumeFrom, sealedHere, sendTurnStream } from './turn-reply.js';

/** Chat turns: a whole answer, a stream, a resumed stream, and stopping a turn. */
@Controller('v1/chat')
export class ChatController {
  constructor(@Inject(ChatService) private readonly chat: ChatService) {}

  @Post()
  @HttpCode(200)
  @RequireCapability('inference:invoke')
  async answer(
    @CurrentPrincipal() principal: Principal,
    @CurrentTurn() turn: TurnIdentity,
    @Body(new ZodPipe(chatBody)) body: ChatBody,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ChatAnswer> {
    const started = await this.chat.start(principal, turn, body);
    sealedHere(reply);
    return wholeAnswer(started);
  }

  @Post('stream')
  @RequireCapability('inference:invoke')
  async stream(
    @CurrentPrincipal() principal: Principal,
    @CurrentTurn() turn: TurnIdentity,
    @Body(new ZodPipe(chatBody)) body: ChatBody,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const started = await this.chat.start(principal, turn, body);
    sealedHere(reply);
    sendTurnStream(reply, started.stream, 0);
  }

  @Get(':turn_id/stream')
  async resume(
    @CurrentPrincipal() principal: Principal,
    @Param('turn_id', uuidParam) turnId: string,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Query('after') after: string | undefined,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const from = resumeFrom(lastEventId, after);
    sendTurnStream(reply, await this.chat.streamOf(principal, turnId), from);
  }

  @Post(':turn_id/cancel')
  @HttpCode(202)
  cancel(
    @CurrentPrincipal() principal: Principal,
    @Param('turn_id', uuidParam) turnId: string,
  ): Promise<{ turn_id: string; status: 'cancelling' }> {
    return this.chat.cancel(principal, turnId);
  }
}
