import { setTimeout as sleep } from 'node:timers/promises';

import { newTurnId, type Principal } from '@aibox/identity';
import { PlatformError, type Logger } from '@aibox/platform';

import type { ChatBody } from '../dtos/chat.dto.js';
import { RuntimeError } from '../errors/runtime.error.js';
import type { ConversationRepository } from '../repositories/conversation.repository.js';
import type { RouterClient } from '../repositories/router-client.js';
import type { TurnAuditRepository, TurnRef } from '../repositories/turn-audit.repository.js';
import type { TurnRepository } from '../repositories/turn.repository.js';
import type { ToolRegistry } from '../tools/tool-registry.js';
import type { Agent } from './agent.js';
import type { AgentCatalog } from './agent-catalog.service.js';
import { attachmentParts } from './attachments.js';
import type { ContentPart, Conversation, NewMessage, StoredMessage } from './conversation.js';
import { selectSkills, skillPrompt } from './skill-selector.js';
import { textOf, type MessageSink, type TurnResult, type TurnRunner } from './turn-runner.js';
import { TurnStream, type TurnStreams } from './turn-stream.js';
import { TitleWriter } from './title-writer.js';

/** The gateway's stamp of the request: the turn it allocated and the caps it granted. */
export interface TurnIdentity {
  readonly turnId: string | undefined;
  readonly capToken: string | undefined;
}

/** A started turn: its live stream, and its end. */
export interface StartedTurn {
  readonly turnId: string;
  readonly conversationId: string;
  readonly stream: TurnStream;
  readonly finished: Promise<TurnResult>;
}

export interface ChatOptions {
  readonly sealDelayMs: number;
  readonly titles: boolean;
  readonly titleTimeoutMs: number;
}

interface RunningTurn {
  readonly tenantId: string;
  readonly userId: string;
  readonly controller: AbortController;
}

const isAdmin = (principal: Principal): boolean => principal.roles.includes('admin');

/** The original side of a replay: what the recorded turn answered and which tools it called. */
export interface RecordedTurn {
  readonly text: string;
  readonly tool_calls: readonly { name: string; arguments: string; output: string | null }[];
}

/**
 * Chat turns: starts each in the background (it runs to its end whether or not a client is reading), keeps
 * its stream for resumes, stops it on request, and seals it in audit once its last events are in.
 */
export class ChatService {
  private readonly running = new Map<string, RunningTurn>();
  /** Turn endings in flight (sealing included), awaited on shutdown. */
  private readonly endings = new Set<Promise<unknown>>();
  private readonly titles: TitleWriter;

  constructor(
    private readonly conversations: ConversationRepository,
    private readonly catalog: AgentCatalog,
    private readonly registry: ToolRegistry,
    private readonly runner: TurnRunner,
    private readonly turns: TurnRepository,
    private readonly streams: TurnStreams,
    private readonly audit: TurnAuditRepository,
    router: RouterClient,
    private readonly options: ChatOptions,
    private readonly logger: Logger,
  ) {
    this.titles = new TitleWriter(router, conversations, options.titleTimeoutMs, logger);
  }

  async start(principal: Principal, identity: TurnIdentity, body: ChatBody): Promise<StartedTurn> {
    const turnId = requireTurn(identity);
    const tenantId = principal.tid;
    let existing: Conversation | undefined;
    // A continued conversation names its agent; a request naming one needs no read before the turn opens.
    if (body.conversation_id !== undefined && body.agent_id === undefined) {
      existing = await this.conversations.get(tenantId, principal.uid, body.conversation_id);
      if (existing === undefined) throw new RuntimeError('conversation_unknown');
    }
    const agent = await this.catalog.resolve(principal, body.agent_id ?? existing?.agentId);
    const userMessages = this.userMessages(turnId, body);
    const { conversation, history } = await this.conversations.openTurn(tenantId, {
      conversation:
        body.conversation_id === undefined
          ? { create: { id: newTurnId(), userId: principal.uid, agentId: agent.id } }
          : { id: body.conversation_id, userId: principal.uid },
      turn: { turnId, userId: principal.uid, agentId: agent.id, kind: 'chat', replayOf: null },
      messages: userMessages,
    });
    const conversationId = conversation.id;
    const sink: MessageSink = {
      append: async (messages) => {
        await this.conversations.append(tenantId, conversationId, messages);
      },
    };
    const started = await this.launch(
      principal,
      identity,
      turnId,
      agent,
      conversationId,
      history,
      sink,
      'chat',
    );
    if (conversation.title === null && this.options.titles) {
      const firstText = textOf(userMessages.at(-1)?.content ?? '');
      this.track(this.titles.write(principal, identity, turnId, conversationId, firstText, started.stream));
    }
    return started;
  }

  /** Re-runs a recorded chat turn against today's agent, models and tools; nothing is stored in the conversation. */
  async replay(
    principal: Principal,
    identity: TurnIdentity,
    recordedTurnId: string,
  ): Promise<{ started: StartedTurn; original: RecordedTurn }> {
    const turnId = requireTurn(identity);
    const recorded = await this.turns.get(principal.tid, recordedTurnId);
    if (recorded === undefined || (recorded.userId !== principal.uid && !isAdmin(principal))) {
      throw new RuntimeError('turn_unknown');
    }
    if (recorded.kind !== 'chat') throw new RuntimeError('replay_unavailable', 'a replay cannot be replayed');
    const messages = await this.conversations.messages(principal.tid, recorded.conversationId);
    const first = messages.findIndex((message) => message.turnId === recordedTurnId);
    if (first < 0) throw new RuntimeError('replay_unavailable', 'the turn has no stored messages');
    const before = messages.slice(0, first);
    const ofTurn = messages.filter((message) => message.turnId === recordedTurnId);
    const history = [...before, ...ofTurn.filter((message) => message.role === 'user')];
    const owner: Principal =
      recorded.userId === principal.uid ? principal : { ...principal, uid: recorded.userId };
    const agent = await this.catalog
      .resolve(owner, recorded.agentId)
      .catch(() => this.catalog.resolve(owner, undefined));
    await this.turns.start(principal.tid, {
      turnId,
      userId: principal.uid,
      conversationId: recorded.conversationId,
      agentId: agent.id,
      kind: 'replay',
      replayOf: recordedTurnId,
    });
    const kept: NewMessage[] = [];
    const sink: MessageSink = {
      append: (appended) => {
        kept.push(...appended);
        return Promise.resolve();
      },
    };
    const original = recordedSide(ofTurn);
    const started = await this.launch(
      principal,
      identity,
      turnId,
      agent,
      recorded.conversationId,
      history,
      sink,
      'replay',
      (result) => ({
        replay_of: recordedTurnId,
        original,
        live: {
          text: result.outcome.status === 'done' ? result.outcome.text : '',
          status: result.outcome.status,
          ...(result.outcome.status === 'done'
            ? {}
            : { code: result.outcome.code, error: result.outcome.message }),
          tool_calls: result.toolCalls.map((call) => ({
            name: call.name,
            arguments: call.arguments,
            output: call.output,
          })),
        },
      }),
    );
    return { started, original };
  }

  cancel(principal: Principal, turnId: string): Promise<{ turn_id: string; status: 'cancelling' }> {
    const running = this.running.get(turnId);
    if (
      running !== undefined &&
      running.tenantId === principal.tid &&
      (running.userId === principal.uid || isAdmin(principal))
    ) {
      running.controller.abort();
      return Promise.resolve({ turn_id: turnId, status: 'cancelling' });
    }
    return this.turnNotRunning(principal, turnId);
  }

  /** The stream of a turn of the caller's, live or (once ended) as stored. */
  async streamOf(principal: Principal, turnId: string): Promise<TurnStream> {
    const live = this.streams.get(turnId);
    if (live !== undefined && live.tenantId === principal.tid && live.userId === principal.uid) return live;
    const stored = await this.turns.get(principal.tid, turnId);
    if (stored === undefined || stored.userId !== principal.uid) throw new RuntimeError('turn_unknown');
    if (stored.events === null) {
      // Started in a process that is gone, or still starting elsewhere: nothing to resume from here.
      throw new RuntimeError('turn_not_running', 'the turn has no stream in this runtime');
    }
    return TurnStream.replayOf(turnId, principal.tid, principal.uid, stored.events);
  }

  /**
   * Closes the turns a previous process left running: failed with `runtime_restarted` (their approvals
   * expired), and the same in audit, so their receipts need not wait for audit's idle sealing.
   */
  async recover(): Promise<number> {
    const interrupted = await this.turns.interrupted();
    for (const turn of interrupted) {
      await this.turns.closeInterrupted(turn.tenantId, turn.turnId, 'runtime_restarted');
      this.audit.record(turn, 'turn_failed', { status: 'failed', code: 'runtime_restarted' });
    }
    if (interrupted.length > 0) {
      this.logger.warn({ turns: interrupted.length }, 'turns left running by a previous process were closed');
    }
    return interrupted.length;
  }

  /** Resolves once every turn still ending (sealing included) is done; for shutdown. */
  async close(): Promise<void> {
    for (const running of this.running.values()) running.controller.abort();
    await Promise.allSettled([...this.endings]);
  }

  private async turnNotRunning(principal: Principal, turnId: string): Promise<never> {
    const stored = await this.turns.get(principal.tid, turnId);
    if (stored === undefined || (stored.userId !== principal.uid && !isAdmin(principal))) {
      throw new RuntimeError('turn_unknown');
    }
    throw new RuntimeError('turn_not_running');
  }

  private userMessages(turnId: string, body: ChatBody): NewMessage[] {
    const extra: ContentPart[] = body.attachments === undefined ? [] : attachmentParts(body.attachments);
    const given =
      body.messages ?? (body.message === undefined ? [] : [{ role: 'user' as const, content: body.message }]);
    return given.map((message, index) => {
      const last = index === given.length - 1;
      const content =
        last && extra.length > 0
          ? [
              ...(typeof message.content === 'string'
                ? [{ type: 'text' as const, text: message.content }]
                : message.content),
              ...extra,
            ]
          : message.content;
      return { id: newTurnId(), turnId, role: message.role, content, status: 'complete' as const };
    });
  }

  private async launch(
    principal: Principal,
    identity: TurnIdentity,
    turnId: string,
    agent: Agent,
    conversationId: string,
    history: readonly StoredMessage[],
    sink: MessageSink,
    kind: 'chat' | 'replay',
    replayResult?: (result: TurnResult) => Record<string, unknown>,
  ): Promise<StartedTurn> {
    const lastUser = [...history].reverse().find((message) => message.role === 'user');
    const skills = selectSkills(
      lastUser === undefined ? '' : textOf(lastUser.content),
      await this.catalog.skillsOf(principal.tid, agent),
    );
    const tools = await this.registry.forAgent(
      { tools: agent.tools, mcpServers: agent.mcpServers, approval: agent.approval },
      skills.flatMap((skill) => skill.tools),
    );
    const systemPrompt =
      skills.length === 0 ? agent.systemPrompt : `${agent.systemPrompt}\n\n${skillPrompt(skills)}`;
    const stream = this.streams.open(turnId, principal.tid, principal.uid);
    stream.emit('turn', { turn_id: turnId, conversation_id: conversationId, agent_id: agent.id, kind });
    const controller = new AbortController();
    this.running.set(turnId, { tenantId: principal.tid, userId: principal.uid, controller });
    const finished = this.runner.run({
      principal,
      turnId,
      capToken: identity.capToken,
      conversationId,
      role: agent.modelRole,
      systemPrompt,
      history,
      tools,
      sink,
      stream,
      signal: controller.signal,
      newMessageId: newTurnId,
    });
    const ended = finished.then((result) =>
      this.finish(principal, turnId, conversationId, stream, result, replayResult),
    );
    this.track(ended);
    return { turnId, conversationId, stream, finished: ended.then(() => finished) };
  }

  private async finish(
    principal: Principal,
    turnId: string,
    conversationId: string,
    stream: TurnStream,
    result: TurnResult,
    replayResult?: (result: TurnResult) => Record<string, unknown>,
  ): Promise<void> {
    const { outcome, usage } = result;
    const receiptUrl = `/v1/receipts/${turnId}`;
    stream.emit('usage', { ...usage, model: result.model ?? null });
    if (replayResult !== undefined) stream.emit('replay', replayResult(result));
    if (outcome.status === 'done') {
      stream.emit('done', {
        turn_id: turnId,
        conversation_id: conversationId,
        message_id: outcome.messageId,
        receipt_url: receiptUrl,
      });
    } else {
      stream.emit('error', {
        error: outcome.message,
        code: outcome.code,
        turn_id: turnId,
        receipt_url: receiptUrl,
      });
    }
    this.running.delete(turnId);
    try {
      await this.turns.end(principal.tid, turnId, {
        status: outcome.status,
        errorCode: outcome.status === 'done' ? null : outcome.code,
        usage,
        events: stream.all(),
      });
    } catch (error: unknown) {
      this.logger.error({ err: error, turn_id: turnId }, 'the end of a turn could not be stored');
    }
    this.streams.finish(stream);
    this.track(this.seal(principal, turnId, result));
  }

  /** Closes the turn in audit after its own events and those the router publishes just after its answer. */
  private async seal(principal: Principal, turnId: string, result: TurnResult): Promise<void> {
    const turn: TurnRef = { turnId, tenantId: principal.tid, userId: principal.uid };
    await this.titles.settled(turnId);
    await this.audit.settle();
    await sleep(this.options.sealDelayMs);
    const { outcome } = result;
    const attributes = {
      status: outcome.status,
      tool_calls: result.toolCalls.length,
      model_calls: result.usage.model_calls,
      total_tokens: result.usage.total_tokens,
      ...(outcome.status === 'done' ? {} : { code: outcome.code }),
    };
    this.audit.record(turn, outcome.status === 'done' ? 'turn_sealed' : 'turn_failed', attributes);
    await this.audit.settle();
  }

  private track(work: Promise<unknown>): void {
    const tracked = work.catch((error: unknown) => {
      this.logger.error({ err: error }, 'a turn ending failed');
    });
    this.endings.add(tracked);
    void tracked.finally(() => this.endings.delete(tracked));
  }
}

function requireTurn(identity: TurnIdentity): string {
  if (identity.turnId === undefined) {
    throw new PlatformError('invalid_request', {
      detail: 'a chat turn needs the X-Aibox-Turn-Id the gateway stamps',
    });
  }
  return identity.turnId;
}

function recordedSide(messages: readonly StoredMessage[]): RecordedTurn {
  const outputs = new Map<string, string>();
  for (const message of messages) {
    if (message.role === 'tool' && message.toolCallId !== undefined) {
      outputs.set(message.toolCallId, textOf(message.content));
    }
  }
  const assistant = messages.filter((message) => message.role === 'assistant');
  const final = assistant.filter((message) => (message.toolCalls ?? []).length === 0).at(-1);
  return {
    text: final === undefined ? '' : textOf(final.content),
    tool_calls: assistant.flatMap((message) =>
      (message.toolCalls ?? []).map((call) => ({
        name: call.function.name,
        arguments: call.function.arguments,
        output: outputs.get(call.id) ?? null,
      })),
    ),
  };
}
