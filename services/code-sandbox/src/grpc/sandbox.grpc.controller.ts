import { Controller, Inject } from '@nestjs/common';
import { GrpcMethod, Payload } from '@nestjs/microservices';
import type { Observable } from 'rxjs';

import type { Principal } from '@aibox/identity';
import { CurrentPrincipal, RequireCapability, ZodPipe } from '@aibox/platform';

import { EventStream } from '../services/event-stream.js';
import { ExecService } from '../services/exec.service.js';
import { SandboxService } from '../services/sandbox.service.js';
import {
  createSandboxRequest,
  execRequest,
  sandboxRequest,
  subscribeRequest,
  subscriptionStream,
  wireExec,
  wireSandbox,
  type CreateSandboxCall,
  type ExecCall,
  type SandboxCall,
  type SubscribeCall,
  type WireExecResponse,
  type WireSandbox,
  type WireSubscribeResponse,
} from './sandbox.wire.js';

/**
 * `aibox.v1.SandboxService`: the HTTP control plane's core for other services — the same service calls, the
 * same caps, the same owner-only access and the same error codes.
 */
@Controller()
export class SandboxGrpcController {
  constructor(
    @Inject(SandboxService) private readonly sandboxes: SandboxService,
    @Inject(ExecService) private readonly execs: ExecService,
    @Inject(EventStream) private readonly events: EventStream,
  ) {}

  @GrpcMethod('SandboxService', 'CreateSandbox')
  @RequireCapability('sandbox:manage')
  async createSandbox(
    @Payload(new ZodPipe(createSandboxRequest)) request: CreateSandboxCall,
    @CurrentPrincipal() principal: Principal,
  ): Promise<{ sandbox: WireSandbox }> {
    return {
      sandbox: wireSandbox(await this.sandboxes.create(principal, request.spec, request.idempotencyKey)),
    };
  }

  @GrpcMethod('SandboxService', 'GetSandbox')
  @RequireCapability('sandbox:manage')
  async getSandbox(
    @Payload(new ZodPipe(sandboxRequest)) request: SandboxCall,
    @CurrentPrincipal() principal: Principal,
  ): Promise<{ sandbox: WireSandbox }> {
    return { sandbox: wireSandbox(await this.sandboxes.get(principal, request.sandboxId)) };
  }

  @GrpcMethod('SandboxService', 'DeleteSandbox')
  @RequireCapability('sandbox:manage')
  async deleteSandbox(
    @Payload(new ZodPipe(sandboxRequest)) request: SandboxCall,
    @CurrentPrincipal() principal: Principal,
  ): Promise<{ sandbox: WireSandbox }> {
    return { sandbox: wireSandbox(await this.sandboxes.delete(principal, request.sandboxId)) };
  }

  /** Like `POST /sandboxes/{id}/execs`, with `wait` for `?wait=true`. */
  @GrpcMethod('SandboxService', 'Exec')
  @RequireCapability('sandbox:exec')
  async exec(
    @Payload(new ZodPipe(execRequest)) request: ExecCall,
    @CurrentPrincipal() principal: Principal,
  ): Promise<WireExecResponse> {
    return wireExec(
      request.wait
        ? await this.execs.run(principal, request.sandboxId, request.body)
        : await this.execs.start(principal, request.sandboxId, request.body),
    );
  }

  /** Like `GET /sandboxes/{id}/events`: the same {@link EventStream}, as a server stream. */
  @GrpcMethod('SandboxService', 'Subscribe')
  @RequireCapability('sandbox:manage')
  subscribe(
    @Payload(new ZodPipe(subscribeRequest)) request: SubscribeCall,
    @CurrentPrincipal() principal: Principal,
  ): Observable<WireSubscribeResponse> {
    return subscriptionStream(() => this.events.subscribe(principal, request.sandboxId, request.afterSeq));
  }
}
