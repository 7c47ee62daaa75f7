import { Body, Controller, HttpCode, Inject, Post, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';

import { RequireCapability, ZodPipe } from '@aibox/platform';

import { chatCompletionBody, embeddingsBody, responsesBody } from '../dtos/inference.dto.js';
import { InferenceService, type InferenceBody } from '../services/inference.service.js';
import type { Caller } from '../services/model-call.js';
import { CurrentCaller } from './caller.decorator.js';
import { fastifyChannel } from './fastify-channel.js';

/**
 * The OpenAI-compatible data path, for mesh services acting in a turn (cap `inference:invoke`); `model` is a
 * role alias or a `<provider>/<model>` that `GET /v1/models` lists. Errors come in OpenAI's shape
 * (`OpenAiErrorFilter`).
 */
@RequireCapability('inference:invoke')
@Controller('v1')
export class InferenceController {
  constructor(@Inject(InferenceService) private readonly inference: InferenceService) {}

  @Post('chat/completions')
  @HttpCode(200)
  chat(
    @CurrentCaller() caller: Caller,
    @Body(new ZodPipe(chatCompletionBody)) body: InferenceBody,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    return this.inference.chatCompletions(caller, body, fastifyChannel(reply));
  }

  @Post('responses')
  @HttpCode(200)
  responses(
    @CurrentCaller() caller: Caller,
    @Body(new ZodPipe(responsesBody)) body: InferenceBody,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    return this.inference.responses(caller, body, fastifyChannel(reply));
  }

  @Post('embeddings')
  @HttpCode(200)
  embeddings(
    @CurrentCaller() caller: Caller,
    @Body(new ZodPipe(embeddingsBody)) body: InferenceBody,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    return this.inference.embeddings(caller, body, fastifyChannel(reply));
  }
}
