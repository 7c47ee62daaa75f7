import { describe, expect, it } from 'vitest';

import type { Logger } from '@aibox/platform';

import {
  RouterCallError,
  type ModelAnswer,
  type ModelRequest,
  type RouterClient,
} from '../repositories/router-client.js';
import type { TurnAuditRepository } from '../repositories/turn-audit.repository.js';
import { ToolRegistry } from '../tools/tool-registry.js';
import type { Tool } from '../tools/tool.js';
import type { ApprovalOutcome, ApprovalsService } from './approvals.service.js';
import type { NewMessage } from './conversation.js';
import { TurnRunner, type TurnLimits } from './turn-runner.js';
import { TurnStream } from './turn-stream.js';
import { TEST_PRINCIPAL } from '../../test/support/tool-context.js';

const PRINCIPAL = TEST_PRINCIPAL;

const echo: Tool = {
  name: 'echo',
  description: 'echoes',
  parameters: { type: 'object', properties: { say: { type: 'string' } }, required: ['say'] },
  run: (args) => Promise.resolve({ text: String(args['say']) }),
};

type Step = (request: ModelRequest) => Partial<ModelAnswer> & { throws?: Error; deltas?: string[] };

/** A router that answers each call with the next step, recording the requests. */
function scriptedRouter(steps: Step[]): { router: RouterClient; requests: ModelRequest[] } {
  const requests: ModelRequest[] = [];
  const router = {
    stream(_identity: unknown, request: ModelRequest, onDelta: (text: string) => void): Promise<ModelAnswer> {
      requests.push(request);
      const step = steps[requests.length - 1];
      if (step === undefined) throw new Error('the model was called more often than scripted');
      const answer = step(request);
      for (const text of answer.deltas ?? []) onDelta(text);
      if (answer.throws !== undefined) return Promise.reject(answer.throws);
      return Promise.resolve({
        text: answer.text ?? '',
        toolCalls: answer.toolCalls ?? [],
        finishReason: null,
        usage: answer.usage ?? { promptTokens: 10, completionTokens: 5 },
        model: 'm',
      });
    },
  };
  return { router: router as unknown as RouterClient, requests };
}

const call = (name: string, args: string, id = 'c1') => ({
  id,
  type: 'function' as const,
  function: { name, arguments: args },
});

function fakeAudit(): { audit: TurnAuditRepository; types: string[] } {
  const types: string[] = [];
  const audit = {
    record: (_turn: unknown, type: string) => {
      types.push(type);
      return 'id';
    },
    settle: () => Promise.resolve(),
  };
  return { audit: audit as unknown as TurnAuditRepository, types };
}

function approvalsDeciding(decide: (signal: AbortSignal) => Promise<ApprovalOutcome>): ApprovalsService {
  return {
    request: () =>
      Promise.resolve({
        approval: { id: 'a1', expiresAt: new Date(Date.now() + 60_000) },
        wait: decide,
      }),
  } as unknown as ApprovalsService;
}

const silentLogger = { error: () => undefined } as unknown as Logger;

async function run(
  steps: Step[],
  options: {
    limits?: Partial<TurnLimits>;
    approval?: boolean;
    approvals?: ApprovalsService;
    controller?: AbortController;
  } = {},
) {
  const { router, requests } = scriptedRouter(steps);
  const { audit, types } = fakeAudit();
  const registry = new ToolRegistry({ defaultTimeoutMs: 1_000, outputMaxBytes: 10_000 }, [echo], {
    toolsOf: () => Promise.resolve([]),
  });
  const tools = await registry.forAgent({
    tools: ['echo'],
    mcpServers: [],
    approval: { tools: options.approval === true ? ['echo'] : [], all: false },
  });
  const stored: NewMessage[] = [];
  const stream = new TurnStream('turn-1', 't1', 'ada');
  const runner = new TurnRunner(
    router,
    audit,
    options.approvals ?? approvalsDeciding(() => Promise.reject(new Error('no approval expected'))),
    { maxSteps: 8, maxTokens: 100_000, ...options.limits },
    silentLogger,
  );
  let id = 0;
  const result = await runner.run({
    principal: PRINCIPAL,
    turnId: 'turn-1',
    capToken: undefined,
    conversationId: 'conv-1',
    role: 'default',
    systemPrompt: 'be brief',
    history: [{ id: 'u1', turnId: 'turn-1', role: 'user', content: 'hi', status: 'complete' }],
    tools,
    sink: {
      append: (messages) => {
        stored.push(...messages);
        return Promise.resolve();
      },
    },
    stream,
    signal: (options.controller ?? new AbortController()).signal,
    newMessageId: () => `m${String((id += 1))}`,
  });
  return { result, requests, types, stored, events: stream.all() };
}

describe('TurnRunner', () => {
  it('offers no tools on the last allowed step, so a model that keeps calling tools must answer', async () => {
    const { result, requests, types } = await run(
      [
        () => ({ toolCalls: [call('echo', '{"say":"one"}')] }),
        (request) =>
          request.tools?.length === 0 ? { text: 'done now' } : { toolCalls: [call('echo', '{"say":"two"}')] },
      ],
      { limits: { maxSteps: 2 } },
    );
    expect(requests.map((request) => request.tools?.length ?? 0)).toEqual([1, 0]);
    expect(result.outcome).toMatchObject({ status: 'done', text: 'done now' });
    expect(types.filter((type) => type === 'prompt_generated')).toHaveLength(2);
  });

  it('stops with turn_token_limit when the turn has spent its tokens', async () => {
    const expensive = { promptTokens: 500, completionTokens: 100 };
    const { result, requests } = await run(
      [
        () => ({ toolCalls: [call('echo', '{"say":"a"}')], usage: expensive }),
        () => ({ toolCalls: [call('echo', '{"say":"b"}')], usage: expensive }),
        () => ({ text: 'never asked' }),
      ],
      { limits: { maxTokens: 1_000 } },
    );
    expect(result.outcome).toMatchObject({ status: 'failed', code: 'turn_token_limit' });
    expect(requests).toHaveLength(2);
    expect(result.usage.total_tokens).toBe(1_200);
  });

  it('answers a call of an unknown tool or with bad arguments as the tool result, and goes on', async () => {
    const { result, requests, events } = await run([
      () => ({ toolCalls: [call('rm_rf', '{}', 'x1'), call('echo', '{"say":42}', 'x2')] }),
      () => ({ text: 'sorry' }),
    ]);
    expect(result.outcome.status).toBe('done');
    const results = events.filter((event) => event.event === 'tool_result').map((event) => event.data);
    expect(results).toMatchObject([
      { id: 'x1', ok: false, code: 'tool_unknown' },
      { id: 'x2', ok: false, code: 'tool_arguments_invalid' },
    ]);
    const toolMessages = requests[1]?.messages.filter((message) => message.role === 'tool');
    expect(toolMessages).toHaveLength(2);
  });

  it('stores each tool result with how it ended: done, failed with its code, or denied', async () => {
    const denied: ApprovalOutcome = { decision: 'denied', reason: 'no', decidedBy: 'ada' };
    const decisions: ApprovalOutcome[] = [{ decision: 'approved', reason: null, decidedBy: 'ada' }];
    const { result, stored } = await run(
      [
        () => ({
          toolCalls: [call('echo', '{"say":"hi"}', 'ok1'), call('rm_rf', '{}', 'bad1')],
        }),
        () => ({ toolCalls: [call('echo', '{"say":"again"}', 'denied1')] }),
        () => ({ text: 'done' }),
      ],
      { approval: true, approvals: approvalsDeciding(() => Promise.resolve(decisions.shift() ?? denied)) },
    );
    expect(result.outcome.status).toBe('done');
    expect(
      stored
        .filter((message) => message.role === 'tool')
        .map((message) => [message.toolCallId, message.toolOutcome]),
    ).toEqual([
      ['ok1', { ok: true, code: null }],
      ['bad1', { ok: false, code: 'tool_unknown' }],
      ['denied1', { ok: false, code: 'tool_denied' }],
    ]);
    // Assistant messages carry no outcome: only a tool's result has one.
    expect(stored.filter((message) => message.role !== 'tool' && 'toolOutcome' in message)).toEqual([]);
  });

  it("stores the words said so far when the model call fails, and ends with the router's code", async () => {
    const { result, stored } = await run([
      () => ({ deltas: ['half an ', 'answer'], throws: new RouterCallError('upstream_error', 'gone', 200) }),
    ]);
    expect(result.outcome).toMatchObject({ status: 'failed', code: 'upstream_error' });
    expect(stored).toMatchObject([{ role: 'assistant', content: 'half an answer', status: 'failed' }]);
  });

  it('ends as cancelled when the turn is stopped while it waits for an approval', async () => {
    const controller = new AbortController();
    const approvals = approvalsDeciding(
      (signal) =>
        new Promise((resolve) => {
          signal.addEventListener('abort', () => {
            resolve({ decision: 'cancelled', reason: 'The turn was stopped', decidedBy: null });
          });
          setTimeout(() => {
            controller.abort();
          }, 5);
        }),
    );
    const { result, events, types } = await run([() => ({ toolCalls: [call('echo', '{"say":"x"}')] })], {
      approval: true,
      approvals,
      controller,
    });
    expect(result.outcome).toMatchObject({ status: 'cancelled', code: 'turn_cancelled' });
    expect(events.map((event) => event.event)).toEqual([
      'tool_call',
      'approval_required',
      'approval_decided',
    ]);
    expect(types).toContain('approval_decided');
    expect(types).not.toContain('tool_called');
  });
});
