import { Body, Controller, Get, HttpCode, Inject, Param, Post } from '@nestjs/common';

import type { Principal } from '@aibox/identity';
import { CurrentPrincipal, ZodPipe } from '@aibox/platform';

import { approvalDecisionBody, type ApprovalDecisionBody } from '../dtos/chat.dto.js';
import type { Approval } from '../repositories/approval.repository.js';
import { ApprovalsService } from '../services/approvals.service.js';
import { uuidParam } from './uuid.pipe.js';

function view(approval: Approval): Record<string, unknown> {
  return {
    id: approval.id,
    turn_id: approval.turnId,
    conversation_id: approval.conversationId,
    tool: approval.tool,
    arguments: approval.arguments,
    status: approval.status,
    reason: approval.reason,
    decided_by: approval.decidedBy,
    created_at: approval.createdAt.toISOString(),
    expires_at: approval.expiresAt.toISOString(),
    decided_at: approval.decidedAt?.toISOString() ?? null,
  };
}

/** Approvals of paused tool calls: the user's pending ones, one of them, and deciding it. */
@Controller('v1/approvals')
export class ApprovalsController {
  constructor(@Inject(ApprovalsService) private readonly approvals: ApprovalsService) {}

  @Get()
  async list(@CurrentPrincipal() principal: Principal): Promise<{ data: Record<string, unknown>[] }> {
    return { data: (await this.approvals.listPending(principal)).map(view) };
  }

  @Get(':id')
  async get(
    @CurrentPrincipal() principal: Principal,
    @Param('id', uuidParam) id: string,
  ): Promise<Record<string, unknown>> {
    return view(await this.approvals.get(principal, id));
  }

  @Post(':id')
  @HttpCode(200)
  async decide(
    @CurrentPrincipal() principal: Principal,
    @Param('id', uuidParam) id: string,
    @Body(new ZodPipe(approvalDecisionBody)) body: ApprovalDecisionBody,
  ): Promise<Record<string, unknown>> {
    return view(await this.approvals.decide(principal, id, body.decision, body.reason ?? null));
  }
}
