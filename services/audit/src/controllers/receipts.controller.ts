import { Controller, Get, Inject, Param, Query } from '@nestjs/common';

import type { Receipt, ReceiptProof } from '@aibox/audit-proof';
import type { Principal } from '@aibox/identity';
import { CurrentPrincipal, RequireCapability, ZodPipe } from '@aibox/platform';

import { proofQuery, turnParams } from '../dtos/queries.dto.js';
import { ReceiptService } from '../services/receipt.service.js';

/** `GET /v1/receipts/{turn_id}` and its proof (ARCHITECTURE §6). */
@RequireCapability('audit:read')
@Controller('v1/receipts')
export class ReceiptsController {
  constructor(@Inject(ReceiptService) private readonly receipts: ReceiptService) {}

  @Get(':turnId')
  receipt(
    @Param(new ZodPipe(turnParams)) params: { turnId: string },
    @CurrentPrincipal() principal: Principal,
  ): Promise<Receipt> {
    return this.receipts.receipt(principal, params.turnId);
  }

  @Get(':turnId/proof')
  proof(
    @Param(new ZodPipe(turnParams)) params: { turnId: string },
    @Query(new ZodPipe(proofQuery)) query: { from_size?: number },
    @CurrentPrincipal() principal: Principal,
  ): Promise<ReceiptProof> {
    return this.receipts.proof(principal, params.turnId, query.from_size);
  }
}
