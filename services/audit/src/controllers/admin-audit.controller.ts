import { Controller, Get, Inject, Query } from '@nestjs/common';

import type { Principal } from '@aibox/identity';
import { CurrentPrincipal, RequireCapability, RequireRole, ZodPipe } from '@aibox/platform';

import { adminTurnsQuery, type AdminTurnsQuery } from '../dtos/queries.dto.js';
import { LogVerifier, type LogVerification } from '../services/log-verifier.service.js';
import { TurnListing, type TurnPage } from '../services/turn-listing.service.js';

/** The tenant admin's audit workspace: every turn of the tenant, and a full re-verification of its log. */
@RequireRole('admin')
@RequireCapability('audit:admin')
@Controller('v1/admin/audit')
export class AdminAuditController {
  constructor(
    @Inject(TurnListing) private readonly listing: TurnListing,
    @Inject(LogVerifier) private readonly verifier: LogVerifier,
  ) {}

  @Get('turns')
  turns(
    @Query(new ZodPipe(adminTurnsQuery)) query: AdminTurnsQuery,
    @CurrentPrincipal() principal: Principal,
  ): Promise<TurnPage> {
    return this.listing.list(principal.tid, query);
  }

  @Get('verify')
  verify(@CurrentPrincipal() principal: Principal): Promise<LogVerification> {
    return this.verifier.verify(principal.tid);
  }
}
