import type { Principal } from '@aibox/identity';
import type { Logger } from '@aibox/platform';

import type { ModelUsage, PromptMessage, RouterClient } from '../repositories/router-client.js';
import { RouterCallError } from '../repositories/router-client.js';
import type { TurnAuditRepository, TurnRef } from '../repositories/turn-audit.repository.js';
import type { TurnUsage } from '../repositories/turn.repository.js';
import type { ToolSet } from '../tools/tool-registry.js';
import type { ApprovalsService } from './approvals.service.js';
import type { ContentPart, NewMessage, StoredMessage, ToolCall } from './conversation.js';
import type { TurnStream } from './turn-stream.js';

/** Where a turn's new messages go: the conversation (a chat turn) or nowhere but memory (a replay). */
export interface MessageSink {
  append(messages: readonly NewMessage[]): Promise<void>;
}

export interface TurnLimits {
  readonly maxSteps: number;
  readonly maxTokens: number;
}

/** Everything one run of the tool loop needs. */
export interface TurnPlan {
  readonly principal: Principal;
  readonly turnId: string;
  readonly capToken: string | undefined;
  readonly conversationId: string;
  readonly role: string;
  readonly systemPrompt: string;
  /** The conversation so far, the new user message(s) included. */
  readonly history: readonly StoredMessage[] | readonly NewMessage[];
  readonly tools: ToolSet;
  readonly sink: MessageSink;
  readonly stream: TurnStream;
  readonly signal: AbortSignal;
  readonly newMessageId: () => string;
}

/** A tool call of the turn, as it ended. */
export interface ToolCallTrace {
  readonly id: string;
  readonly name: string;
  readonly arguments: string;
  readonly ok: boolean;
  readonly output: string;
  readonly code?: string;
  readonly approval?: string;
}

export type TurnOutcome =
  | { readonly status: 'done'; readonly messageId: string; readonly text: string }
  | { readonly status: 'failed' | 'cancelled'; readonly code: string; readonly message: string };

export interface TurnResult {
  readonly outcome: TurnOutcome;
  readonly usage: TurnUsage;
  readonly toolCalls: readonly ToolCallTrace[];
  readonly model: string | undefined;
}

/** A turn-level failure the user is told about with its code. */
export class TurnStop extends Error {
  override readonly name = 'TurnStop';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function promptOf(message: StoredMessage | NewMessage): PromptMessage | undefined {
  switch (message.role) {
    case 'user':
      return { role: 'user', content: message.content as string | ContentPart[] };
    case 'assistant': {
      const text = typeof message.content === 'string' ? message.content : textOf(message.content);
      if (message.toolCalls !== undefined && message.toolCalls.length > 0) {
        return { role: 'assistant', content: text === '' ? null : text, tool_calls: message.toolCalls };
      }
      // A failed answer with nothing said adds nothing to the context.
      return text === '' ? undefined : { role: 'assistant', content: text };
    }
    case 'tool':
      return {
        role: 'tool',
        tool_call_id: message.toolCallId ?? '',
        content: typeof message.content === 'string' ? message.content : textOf(message.content),
      };
  }
}

export function textOf(content: string | readonly ContentPart[]): string {
  if (typeof content === 'string') return content;
  return content
    .filter((part): part is Extract<ContentPart, { type: 'text' }> => part.type === 'text')
    .map((part) => part.text)
    .join('\n');
}

const DENIED_OUTPUT = 'The user did not approve this tool call, so it was not run.';

/**
 * The tool loop of one turn: ask the model (streaming its words to the client), run the tools it calls —
 * pausing for an approval where one is needed — and ask again with their results, until it answers without
 * calling a tool, the step or token budget is spent, the turn is cancelled or something fails.
 */
export class TurnRunner {
  constructor(
    private readonly router: RouterClient,
    private readonly audit: TurnAuditRepository,
    private readonly approvals: ApprovalsService,
    private readonly limits: TurnLimits,
    private readonly logger: Logger,
  ) {}

  async run(plan: TurnPlan): Promise<TurnResult> {
    const turn: TurnRef = { turnId: plan.turnId, tenantId: plan.principal.tid, userId: plan.principal.uid };
    const usage = { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0, model_calls: 0 };
    const traces: ToolCallTrace[] = [];
    const prompt: PromptMessage[] = [{ role: 'system', content: plan.systemPrompt }];
    for (const message of plan.history) {
      const converted = promptOf(message);
      if (converted !== undefined) prompt.push(converted);
    }
    let model: string | undefined;
    let partial = '';
    const messageId = plan.newMessageId();
    try {
      for (let step = 1; ; step += 1) {
        // The last step gets no tools: the model has to answer with what it has.
        const offered = step < this.limits.maxSteps ? plan.tools.definitions() : [];
        this.audit.record(
          turn,
          'prompt_generated',
          {
            step,
            role: plan.role,
            messages: prompt.length,
            tools: offered.map((tool) => (tool as { function: { name: string } }).function.name),
          },
          [
            {
              kind: 'prompt',
              contentType: 'application/json',
              body: JSON.stringify({ model: plan.role, messages: prompt, tools: offered }),
            },
          ],
        );
        partial = '';
        const answer = await this.router.stream(
          { principal: plan.principal, turnId: plan.turnId, capToken: plan.capToken },
          { role: plan.role, messages: prompt, tools: offered },
          (text) => {
            partial += text;
            plan.stream.emit('delta', { text });
          },
          plan.signal,
        );
        model = answer.model ?? model;
        addUsage(usage, answer.usage);
        if (answer.toolCalls.length === 0) {
          await plan.sink.append([
            {
              id: messageId,
              turnId: plan.turnId,
              role: 'assistant',
              content: answer.text,
              status: 'complete',
            },
          ]);
          return {
            outcome: { status: 'done', messageId, text: answer.text },
            usage,
            toolCalls: traces,
            model,
          };
        }
        if (usage.total_tokens >= this.limits.maxTokens) {
          throw new TurnStop(
            'turn_token_limit',
            `The turn used ${usage.total_tokens} tokens, its limit is ${this.limits.maxTokens}`,
          );
        }
        const assistant: NewMessage = {
          id: plan.newMessageId(),
          turnId: plan.turnId,
          role: 'assistant',
          content: answer.text,
          toolCalls: answer.toolCalls,
          status: 'complete',
        };
        prompt.push({
          role: 'assistant',
          content: answer.text === '' ? null : answer.text,
          tool_calls: answer.toolCalls,
        });
        const results: NewMessage[] = [];
        for (const call of answer.toolCalls) {
          const trace = await this.callTool(plan, turn, call);
          traces.push(trace);
          prompt.push({ role: 'tool', tool_call_id: call.id, content: trace.output });
          results.push({
            id: plan.newMessageId(),
            turnId: plan.turnId,
            role: 'tool',
            content: trace.output,
            toolCallId: call.id,
            // Stored with the result, so the conversation read later shows what the stream showed.
            toolOutcome: { ok: trace.ok, code: trace.code ?? null },
            status: 'complete',
          });
        }
        await plan.sink.append([assistant, ...results]);
      }
    } catch (error: unknown) {
      const outcome = failureOf(error, plan.signal);
      if (outcome.status === 'failed' && outcome.code === 'internal') {
        this.logger.error({ err: error, turn_id: plan.turnId }, 'a turn failed');
      }
      if (partial !== '') {
        await plan.sink
          .append([
            {
              id: messageId,
              turnId: plan.turnId,
              role: 'assistant',
              content: partial,
              status: outcome.status === 'cancelled' ? 'cancelled' : 'failed',
            },
          ])
          .catch(() => undefined);
      }
      return { outcome, usage, toolCalls: traces, model };
    }
  }

  private async callTool(plan: TurnPlan, turn: TurnRef, call: ToolCall): Promise<ToolCallTrace> {
    const name = call.function.name;
    const rawArguments = call.function.arguments;
    plan.stream.emit('tool_call', { id: call.id, name, arguments: rawArguments });
    let approvalId: string | undefined;
    if (plan.tools.has(name) && plan.tools.requiresApproval(name)) {
      const { approval, wait } = await this.approvals.request(
        { ...turn, conversationId: plan.conversationId },
        name,
        parseArguments(rawArguments),
      );
      approvalId = approval.id;
      this.audit.record(turn, 'approval_requested', {
        approval_id: approval.id,
        tool: name,
        tool_call_id: call.id,
        expires_at: approval.expiresAt.toISOString(),
      });
      plan.stream.emit('approval_required', {
        approval_id: approval.id,
        tool_call_id: call.id,
        name,
        arguments: rawArguments,
        expires_at: approval.expiresAt.toISOString(),
      });
      const outcome = await wait(plan.signal);
      this.audit.record(turn, 'approval_decided', {
        approval_id: approval.id,
        tool: name,
        decision: outcome.decision,
        decided_by: outcome.decidedBy,
        reason: outcome.reason,
      });
      plan.stream.emit('approval_decided', {
        approval_id: approval.id,
        tool_call_id: call.id,
        decision: outcome.decision,
        reason: outcome.reason,
      });
      if (outcome.decision === 'cancelled') throw new TurnStop('turn_cancelled', 'The turn was stopped');
      if (outcome.decision !== 'approved') {
        const output =
          outcome.decision === 'expired' ? `${DENIED_OUTPUT} (the approval expired)` : DENIED_OUTPUT;
        plan.stream.emit('tool_result', { id: call.id, name, ok: false, code: 'tool_denied', output });
        return {
          id: call.id,
          name,
          arguments: rawArguments,
          ok: false,
          output,
          code: 'tool_denied',
          approval: approval.id,
        };
      }
    }
    const startedAt = performance.now();
    this.audit.record(
      turn,
      'tool_called',
      { tool_call_id: call.id, tool: name, approval_id: approvalId ?? null },
      [{ kind: 'arguments', contentType: 'application/json', body: rawArguments }],
    );
    const result = await plan.tools.call(name, rawArguments, {
      principal: plan.principal,
      tenantId: turn.tenantId,
      userId: turn.userId,
      turnId: turn.turnId,
      conversationId: plan.conversationId,
      capToken: plan.capToken,
      signal: plan.signal,
      record: (type, attributes, bodies) => {
        this.audit.record(turn, type, { ...attributes, tool_call_id: call.id }, bodies);
      },
    });
    const durationMs = Math.round(performance.now() - startedAt);
    this.audit.record(
      turn,
      'tool_returned',
      {
        tool_call_id: call.id,
        tool: name,
        ok: result.ok,
        code: result.ok ? null : result.code,
        truncated: result.ok ? result.truncated : false,
        duration_ms: durationMs,
      },
      [{ kind: 'output', contentType: 'text/plain; charset=utf-8', body: result.text }],
    );
    if (!result.ok && result.code === 'tool_cancelled')
      throw new TurnStop('turn_cancelled', 'The turn was stopped');
    plan.stream.emit('tool_result', {
      id: call.id,
      name,
      ok: result.ok,
      ...(result.ok ? {} : { code: result.code }),
      output: result.text,
    });
    return {
      id: call.id,
      name,
      arguments: rawArguments,
      ok: result.ok,
      output: result.text,
      ...(result.ok ? {} : { code: result.code }),
      ...(approvalId === undefined ? {} : { approval: approvalId }),
    };
  }
}

function addUsage(
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number; model_calls: number },
  add: ModelUsage | undefined,
): void {
  usage.model_calls += 1;
  if (add === undefined) return;
  usage.prompt_tokens += add.promptTokens;
  usage.completion_tokens += add.completionTokens;
  usage.total_tokens += add.promptTokens + add.completionTokens;
}

function parseArguments(raw: string): unknown {
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return raw;
  }
}

function failureOf(
  error: unknown,
  signal: AbortSignal,
): Extract<TurnOutcome, { status: 'failed' | 'cancelled' }> {
  if (signal.aborted || (error instanceof TurnStop && error.code === 'turn_cancelled')) {
    return { status: 'cancelled', code: 'turn_cancelled', message: 'The turn was stopped' };
  }
  if (error instanceof TurnStop) return { status: 'failed', code: error.code, message: error.message };
  if (error instanceof RouterCallError) return { status: 'failed', code: error.code, message: error.message };
  return { status: 'failed', code: 'internal', message: 'The turn failed' };
}
