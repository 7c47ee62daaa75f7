import { Body, Controller, Get, HttpCode, Inject, Param, Post, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';

import type { Principal } from '@aibox/identity';
import { CurrentPrincipal, RequireCapability, ZodPipe } from '@aibox/platform';

import {
  execBody,
  execQuery,
  followQuery,
  outputQuery,
  type ExecBody,
  type FollowQuery,
  type OutputQuery,
} from '../dtos/sandbox.dto.js';
import { openSse } from './sse.js';
import { ExecService, type ExecView, type ExecWaitAnswer } from '../services/exec.service.js';
import { uuidParam } from './params.js';

/** Programs run in a sandbox: started (202, or waited for with `?wait=true`), read by offset, cancelled. */
@RequireCapability('sandbox:exec')
@Controller('sandboxes/:id/execs')
export class ExecsController {
  constructor(@Inject(ExecService) private readonly execs: ExecService) {}

  @Post()
  @HttpCode(202)
  async start(
    @CurrentPrincipal() principal: Principal,
    @Param('id', uuidParam) sandboxId: string,
    @Query(new ZodPipe(execQuery)) query: { wait?: 'true' | 'false' },
    @Body(new ZodPipe(execBody)) body: ExecBody,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ExecView | ExecWaitAnswer> {
    if (query.wait !== 'true') return this.execs.start(principal, sandboxId, body);
    const answer = await this.execs.run(principal, sandboxId, body);
    void reply.code(answer.status === 'running' ? 202 : 200);
    return answer;
  }

  @Get()
  list(
    @CurrentPrincipal() principal: Principal,
    @Param('id', uuidParam) sandboxId: string,
  ): Promise<{ data: ExecView[] }> {
    return this.execs.list(principal, sandboxId);
  }

  @Get(':exec')
  get(
    @CurrentPrincipal() principal: Principal,
    @Param('id', uuidParam) sandboxId: string,
    @Param('exec', uuidParam) id: string,
  ): Promise<ExecView> {
    return this.execs.get(principal, sandboxId, id);
  }

  @Get(':exec/output')
  async output(
    @CurrentPrincipal() principal: Principal,
    @Param('id', uuidParam) sandboxId: string,
    @Param('exec', uuidParam) id: string,
    @Query(new ZodPipe(outputQuery)) query: OutputQuery,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const { content, offset, size } = await this.execs.output(principal, sandboxId, id, query);
    await reply
      .code(200)
      .headers({
        'content-type': 'application/octet-stream',
        'x-output-offset': String(offset),
        'x-output-size': String(size),
      })
      .send(content);
  }

  /** The exec's output as SSE (`output` events as it is written, then `exit`), from the offsets given. */
  @Get(':exec/stream')
  async follow(
    @CurrentPrincipal() principal: Principal,
    @Param('id', uuidParam) sandboxId: string,
    @Param('exec', uuidParam) id: string,
    @Query(new ZodPipe(followQuery)) query: FollowQuery,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const sse = openSse(reply);
    const stop = await this.execs.follow(
      principal,
      sandboxId,
      id,
      { stdout: query.stdout_offset, stderr: query.stderr_offset },
      (event) => {
        sse.send(event.event, event.data);
      },
      () => {
        sse.end();
      },
    );
    sse.onClose(stop);
  }

  @Post(':exec/cancel')
  @HttpCode(200)
  cancel(
    @CurrentPrincipal() principal: Principal,
    @Param('id', uuidParam) sandboxId: string,
    @Param('exec', uuidParam) id: string,
  ): Promise<ExecView> {
    return this.execs.cancel(principal, sandboxId, id);
  }
}
