import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Inject,
  Param,
  Patch,
  Post,
  Query,
  Res,
} from '@nestjs/common';
import type { FastifyReply } from 'fastify';

import type { Principal } from '@aibox/identity';
import { CurrentPrincipal, ZodPipe } from '@aibox/platform';

import {
  conversationListQuery,
  conversationParams,
  exportQuery,
  forkConversationBody,
  renameConversationBody,
  type ConversationDetailView,
  type ConversationExportDocument,
  type ConversationListQuery,
  type ConversationListView,
  type ConversationParams,
  type ConversationView,
  type ExportQuery,
  type ForkConversationBody,
  type RenameConversationBody,
} from '../dtos/conversation.dto.js';
import { ConversationsService, type ConversationExport } from '../services/conversations.service.js';

/**
 * An export is a download of content users and models wrote: never rendered by a browser on the platform's
 * origin, whatever it holds.
 */
function download(reply: FastifyReply, file: ConversationExport): ConversationExportDocument | string {
  void reply
    .header('content-disposition', `attachment; filename="${file.filename}"`)
    .header('x-content-type-options', 'nosniff')
    .header('cache-control', 'no-store');
  switch (file.format) {
    case 'json':
      return file.document;
    case 'markdown':
      void reply.header('content-type', 'text/markdown; charset=utf-8');
      return file.body;
  }
}

/** The caller's own conversations: list, read, rename, delete, export, fork. */
@Controller('v1/conversations')
export class ConversationsController {
  constructor(@Inject(ConversationsService) private readonly conversations: ConversationsService) {}

  @Get()
  list(
    @CurrentPrincipal() principal: Principal,
    @Query(new ZodPipe(conversationListQuery)) query: ConversationListQuery,
  ): Promise<ConversationListView> {
    return this.conversations.list(principal, query);
  }

  @Get(':id')
  get(
    @CurrentPrincipal() principal: Principal,
    @Param(new ZodPipe(conversationParams)) params: ConversationParams,
  ): Promise<ConversationDetailView> {
    return this.conversations.get(principal, params.id);
  }

  @Patch(':id')
  rename(
    @CurrentPrincipal() principal: Principal,
    @Param(new ZodPipe(conversationParams)) params: ConversationParams,
    @Body(new ZodPipe(renameConversationBody)) body: RenameConversationBody,
  ): Promise<ConversationView> {
    return this.conversations.rename(principal, params.id, body.title);
  }

  @Delete(':id')
  @HttpCode(204)
  remove(
    @CurrentPrincipal() principal: Principal,
    @Param(new ZodPipe(conversationParams)) params: ConversationParams,
  ): Promise<void> {
    return this.conversations.remove(principal, params.id);
  }

  @Get(':id/export')
  async export(
    @CurrentPrincipal() principal: Principal,
    @Param(new ZodPipe(conversationParams)) params: ConversationParams,
    @Query(new ZodPipe(exportQuery)) query: ExportQuery,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ConversationExportDocument | string> {
    return download(reply, await this.conversations.export(principal, params.id, query.format));
  }

  @Post(':id/fork')
  @HttpCode(201)
  fork(
    @CurrentPrincipal() principal: Principal,
    @Param(new ZodPipe(conversationParams)) params: ConversationParams,
    @Body(new ZodPipe(forkConversationBody)) body: ForkConversationBody,
  ): Promise<ConversationView> {
    return this.conversations.fork(principal, params.id, body.message_id);
  }
}
