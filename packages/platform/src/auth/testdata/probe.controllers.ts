// Controllers that report what the platform let through to them, over HTTP and gRPC.
import { setTimeout as sleep } from 'node:timers/promises';

import { status as GrpcStatus } from '@grpc/grpc-js';
import { Body, Controller, Get, Post } from '@nestjs/common';
import { GrpcMethod, Payload } from '@nestjs/microservices';
import { z } from 'zod';

import type { Principal } from '@aibox/identity';

import { currentContext } from '../../context/request-context.js';
import { PlatformError, ServiceError, type ErrorDescription } from '../../errors/service.error.js';
import { ZodPipe } from '../../validation/zod.pipe.js';
import { Public, RequireCapability, RequireRole } from '../auth.decorators.js';
import { CurrentPrincipal } from '../current-principal.decorator.js';

type ProbeErrorCode = 'probe_exhausted' | 'probe_busy';

function describeProbeError(code: ProbeErrorCode): ErrorDescription {
  switch (code) {
    case 'probe_exhausted':
      return { message: 'The probe has no attempts left', httpStatus: 409, grpcStatus: GrpcStatus.ABORTED };
    case 'probe_busy':
      return { message: 'The probe is busy', httpStatus: 503, grpcStatus: GrpcStatus.UNAVAILABLE };
  }
}

/** A module's own error class, as services write them. */
export class ProbeError extends ServiceError<ProbeErrorCode> {
  override readonly name = 'ProbeError';

  constructor(code: ProbeErrorCode, detail?: string) {
    super(code, describeProbeError(code), {
      ...(detail === undefined ? {} : { detail }),
      details: { attempts_left: 0 },
    });
  }
}

/** A message a plain Error carries that must never reach a client. */
export const SECRET_FAILURE = 'connection to postgres://admin:hunter2@db failed';

const EchoBody = z.strictObject({
  name: z.string().min(1),
  tags: z.array(z.string()).max(3).optional(),
});
type EchoBody = z.infer<typeof EchoBody>;

interface WhoamiReply {
  tid: string;
  uid: string;
  email: string;
  roles: string[];
  turnId: string;
  correlationId: string;
  contextTid: string;
}

async function whoami(principal: Principal): Promise<WhoamiReply> {
  // After an await, as handlers that do I/O read it.
  await sleep(1);
  const context = currentContext();
  return {
    tid: principal.tid,
    uid: principal.uid,
    email: principal.email,
    roles: principal.roles,
    turnId: context?.turnId ?? '',
    correlationId: context?.correlationId ?? '',
    contextTid: context?.principal?.tid ?? '',
  };
}

@Controller('v1/probe')
export class ProbeHttpController {
  @Get('whoami')
  whoami(@CurrentPrincipal() principal: Principal): Promise<WhoamiReply> {
    return whoami(principal);
  }

  @Post('whoami')
  whoamiWithBody(@CurrentPrincipal() principal: Principal, @Body() _body: unknown): Promise<WhoamiReply> {
    return whoami(principal);
  }

  @Post('echo')
  echo(@Body(new ZodPipe(EchoBody)) body: EchoBody): EchoBody {
    return body;
  }

  @Get('fail/service')
  failService(): never {
    throw new ProbeError('probe_exhausted', 'tried 3 times');
  }

  @Get('fail/plain')
  async failPlain(): Promise<never> {
    await sleep(1);
    throw new Error(SECRET_FAILURE);
  }

  @Get('fail/not-ready')
  failNotReady(): never {
    throw new PlatformError('not_ready');
  }

  @RequireRole('admin')
  @Get('admin')
  admin(): { ok: true } {
    return { ok: true };
  }

  @RequireCapability('sandbox:exec')
  @Post('exec')
  exec(): { caps: string[] } {
    return { caps: currentContext()?.capToken?.caps ?? [] };
  }

  @Public()
  @Get('public')
  open(): { correlationId: string; hasPrincipal: boolean } {
    const context = currentContext();
    return { correlationId: context?.correlationId ?? '', hasPrincipal: context?.principal !== undefined };
  }
}

@Controller()
export class ProbeGrpcController {
  @GrpcMethod('ProbeService', 'Whoami')
  whoami(@Payload() _request: object, @CurrentPrincipal() principal: Principal): Promise<WhoamiReply> {
    return whoami(principal);
  }

  @GrpcMethod('ProbeService', 'Fail')
  async fail(@Payload() request: { kind?: string }): Promise<never> {
    await sleep(1);
    if (request.kind === 'service') {
      throw new ProbeError('probe_exhausted', 'tried 3 times');
    }
    throw new Error(SECRET_FAILURE);
  }

  @RequireCapability('sandbox:exec')
  @GrpcMethod('ProbeService', 'Exec')
  exec(): { caps: string[] } {
    return { caps: currentContext()?.capToken?.caps ?? [] };
  }
}
