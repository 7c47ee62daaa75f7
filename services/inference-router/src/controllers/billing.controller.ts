import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Put, Query } from '@nestjs/common';

import type { Principal } from '@aibox/identity';
import { CurrentPrincipal, RequireCapability, RequireRole, ZodPipe } from '@aibox/platform';

import {
  budgetBody,
  budgetUserParams,
  priceSheetBody,
  usageQuery,
  type BudgetBody,
  type BudgetView,
  type PriceSheetBody,
  type PriceView,
  type UsageQueryParams,
} from '../dtos/billing.dto.js';
import { BillingAdmin, type UsageReport } from '../services/billing-admin.service.js';

/** The price sheet (`/v1/admin/inference/prices` through the gateway, admins only). */
@RequireRole('admin')
@RequireCapability('inference:admin')
@Controller('v1/internal/prices')
export class PricesController {
  constructor(@Inject(BillingAdmin) private readonly billing: BillingAdmin) {}

  @Get()
  list(): Promise<{ prices: PriceView[] }> {
    return this.billing.prices();
  }

  @Put()
  replace(@Body(new ZodPipe(priceSheetBody)) body: PriceSheetBody): Promise<{ prices: PriceView[] }> {
    return this.billing.setPrices(body);
  }
}

/** Budgets of the admin's own tenant: the tenant's, and each user's. */
@RequireRole('admin')
@RequireCapability('inference:admin')
@Controller('v1/internal/budgets')
export class BudgetsController {
  constructor(@Inject(BillingAdmin) private readonly billing: BillingAdmin) {}

  @Get()
  list(@CurrentPrincipal() principal: Principal): Promise<{ budgets: BudgetView[] }> {
    return this.billing.budgets(principal.tid);
  }

  @Put('tenant')
  setTenant(
    @CurrentPrincipal() principal: Principal,
    @Body(new ZodPipe(budgetBody)) body: BudgetBody,
  ): Promise<BudgetView> {
    return this.billing.setBudget(principal.tid, '', body);
  }

  @Delete('tenant')
  @HttpCode(204)
  deleteTenant(@CurrentPrincipal() principal: Principal): Promise<void> {
    return this.billing.deleteBudget(principal.tid, '');
  }

  @Put('users/:user_id')
  setUser(
    @CurrentPrincipal() principal: Principal,
    @Param(new ZodPipe(budgetUserParams)) params: { user_id: string },
    @Body(new ZodPipe(budgetBody)) body: BudgetBody,
  ): Promise<BudgetView> {
    return this.billing.setBudget(principal.tid, params.user_id, body);
  }

  @Delete('users/:user_id')
  @HttpCode(204)
  deleteUser(
    @CurrentPrincipal() principal: Principal,
    @Param(new ZodPipe(budgetUserParams)) params: { user_id: string },
  ): Promise<void> {
    return this.billing.deleteBudget(principal.tid, params.user_id);
  }
}

/** Usage of the admin's own tenant: tokens, cost, latency, grouped. */
@RequireRole('admin')
@RequireCapability('inference:admin')
@Controller('v1/internal/usage')
export class UsageController {
  constructor(@Inject(BillingAdmin) private readonly billing: BillingAdmin) {}

  @Get()
  report(
    @CurrentPrincipal() principal: Principal,
    @Query(new ZodPipe(usageQuery)) query: UsageQueryParams,
  ): Promise<UsageReport> {
    return this.billing.report(principal.tid, query);
  }
}
