import { newTurnId, type Principal } from '@aibox/identity';

import type {
  ConversationDetailView,
  ConversationExportDocument,
  ConversationListQuery,
  ConversationListView,
  ConversationView,
  ExportFormat,
  MessageView,
} from '../dtos/conversation.dto.js';
import { RuntimeError } from '../errors/runtime.error.js';
import type { ConversationRepository } from '../repositories/conversation.repository.js';
import type { ContentPart, Conversation, StoredMessage, ToolCall } from './conversation.js';

/** An export, ready to be sent as a download. */
export type ConversationExport =
  | { readonly format: 'json'; readonly filename: string; readonly document: ConversationExportDocument }
  | { readonly format: 'markdown'; readonly filename: string; readonly body: string };

export function toConversationView(conversation: Conversation): ConversationView {
  return {
    id: conversation.id,
    title: conversation.title,
    agent_id: conversation.agentId,
    forked_from:
      conversation.forkedFrom === null
        ? null
        : {
            conversation_id: conversation.forkedFrom.conversationId,
            message_id: conversation.forkedFrom.messageId,
          },
    created_at: conversation.createdAt.toISOString(),
    updated_at: conversation.updatedAt.toISOString(),
  };
}

export function toMessageView(message: StoredMessage): MessageView {
  return {
    id: message.id,
    turn_id: message.turnId,
    role: message.role,
    content: message.content,
    tool_calls: message.toolCalls ?? null,
    tool_call_id: message.toolCallId ?? null,
    tool_outcome:
      message.toolOutcome === undefined
        ? null
        : { ok: message.toolOutcome.ok, code: message.toolOutcome.code },
    status: message.status,
    created_at: message.createdAt.toISOString(),
  };
}

export function toExportDocument(
  conversation: Conversation,
  messages: readonly StoredMessage[],
): ConversationExportDocument {
  return {
    version: 1,
    conversation: toConversationView(conversation),
    messages: messages.map(toMessageView),
  };
}

/** A fence longer than any backtick run inside, so content holding ``` cannot close the block early. */
function fenced(text: string, language = ''): string {
  const longestRun = Math.max(2, ...Array.from(text.matchAll(/`+/g), (match) => match[0].length));
  const fence = '`'.repeat(longestRun + 1);
  return `${fence}${language}\n${text}\n${fence}`;
}

/**
 * Only web images are linked: a data URL would put megabytes of base64 into the document, and any other
 * scheme (`javascript:`) has no business in a link a viewer may render.
 */
function imageMarkdown(url: string): string {
  if (!/^https?:\/\//i.test(url)) return '[image]';
  // Percent-encoded so the link destination cannot end early; `encodeURIComponent` leaves parentheses alone.
  const safe = url.replace(/[\s()<>]/g, (character) =>
    character === '(' ? '%28' : character === ')' ? '%29' : encodeURIComponent(character),
  );
  return `![image](${safe})`;
}

function contentMarkdown(content: string | readonly ContentPart[]): string {
  if (typeof content === 'string') return content.trim();
  return content
    .map((part) => (part.type === 'text' ? part.text.trim() : imageMarkdown(part.image_url.url)))
    .filter((text) => text !== '')
    .join('\n\n');
}

function toolCallMarkdown(call: ToolCall): string {
  let args: unknown = call.function.arguments;
  try {
    args = JSON.parse(call.function.arguments);
  } catch {
    // Arguments a model produced need not be JSON: they are shown as the string they are.
  }
  return fenced(JSON.stringify({ name: call.function.name, arguments: args }, null, 2), 'json');
}

function headingOf(message: StoredMessage): string {
  switch (message.role) {
    case 'user':
      return '## User';
    case 'assistant':
      return '## Assistant';
    case 'tool':
      return message.toolCallId === undefined
        ? '## Tool result'
        : `## Tool result (\`${message.toolCallId}\`)`;
  }
}

function statusNote(message: StoredMessage): string | undefined {
  switch (message.status) {
    case 'complete':
      return undefined;
    case 'partial':
      return '_(incomplete answer)_';
    case 'cancelled':
      return '_(stopped before it finished)_';
    case 'failed':
      return '_(failed before it finished)_';
  }
}

/** How a tool call ended, when it did not succeed: a reader of the transcript sees it as the app shows it. */
function outcomeNote(message: StoredMessage): string | undefined {
  const outcome = message.toolOutcome;
  if (outcome === undefined || outcome.ok) return undefined;
  return outcome.code === 'tool_denied'
    ? '_(denied: the tool did not run)_'
    : `_(the tool failed${outcome.code === null ? '' : `: \`${outcome.code}\``})_`;
}

/** A readable transcript: user and assistant text, images as links, tool calls and results in fences. */
export function toMarkdown(conversation: Conversation, messages: readonly StoredMessage[]): string {
  const title = (conversation.title ?? 'Conversation').replace(/\s+/g, ' ').trim();
  const blocks: string[] = [`# ${title === '' ? 'Conversation' : title}`];
  const facts = [
    `- Conversation: \`${conversation.id}\``,
    `- Created: ${conversation.createdAt.toISOString()}`,
  ];
  if (conversation.forkedFrom !== null) {
    facts.push(
      `- Forked from: \`${conversation.forkedFrom.conversationId}\` at message \`${conversation.forkedFrom.messageId}\``,
    );
  }
  blocks.push(facts.join('\n'));
  for (const message of messages) {
    blocks.push(headingOf(message));
    const text = contentMarkdown(message.content);
    if (text !== '') blocks.push(message.role === 'tool' ? fenced(text) : text);
    for (const call of message.toolCalls ?? []) blocks.push(toolCallMarkdown(call));
    for (const note of [outcomeNote(message), statusNote(message)]) if (note !== undefined) blocks.push(note);
  }
  return `${blocks.join('\n\n')}\n`;
}

/** A file name any browser and file system accepts: the title's letters, digits, spaces, dots and dashes. */
export function exportFileName(conversation: Conversation): string {
  const stem = (conversation.title ?? '')
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .replace(/[^A-Za-z0-9 ._-]+/g, '-')
    .replace(/[\s-]*-[\s-]*/g, '-')
    .replace(/\s+/g, ' ')
    .replace(/^[\s.-]+|[\s.-]+$/g, '')
    .slice(0, 80)
    .trim();
  return stem === '' ? `conversation-${conversation.id}` : stem;
}

/**
 * The user's own conversations over HTTP. Someone else's conversation answers exactly like a missing one
 * (`conversation_unknown`), so ids cannot be probed.
 */
export class ConversationsService {
  constructor(private readonly conversations: ConversationRepository) {}

  async list(principal: Principal, query: ConversationListQuery): Promise<ConversationListView> {
    const page = await this.conversations.list(principal.tid, principal.uid, {
      limit: query.limit,
      ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
      ...(query.q === undefined ? {} : { query: query.q }),
    });
    return { data: page.items.map(toConversationView), next_cursor: page.nextCursor };
  }

  async get(principal: Principal, id: string): Promise<ConversationDetailView> {
    const conversation = await this.#owned(principal, id);
    const messages = await this.conversations.messages(principal.tid, id);
    return { ...toConversationView(conversation), messages: messages.map(toMessageView) };
  }

  async rename(principal: Principal, id: string, title: string): Promise<ConversationView> {
    const renamed = await this.conversations.rename(principal.tid, principal.uid, id, title);
    if (renamed === undefined) throw new RuntimeError('conversation_unknown');
    return toConversationView(renamed);
  }

  async remove(principal: Principal, id: string): Promise<void> {
    if (!(await this.conversations.softDelete(principal.tid, principal.uid, id))) {
      throw new RuntimeError('conversation_unknown');
    }
  }

  async export(principal: Principal, id: string, format: ExportFormat): Promise<ConversationExport> {
    const conversation = await this.#owned(principal, id);
    const messages = await this.conversations.messages(principal.tid, id);
    const stem = exportFileName(conversation);
    switch (format) {
      case 'json':
        return { format, filename: `${stem}.json`, document: toExportDocument(conversation, messages) };
      case 'markdown':
        return { format, filename: `${stem}.md`, body: toMarkdown(conversation, messages) };
    }
  }

  async fork(principal: Principal, id: string, messageId: string): Promise<ConversationView> {
    const forked = await this.conversations.fork(principal.tid, principal.uid, id, messageId, newTurnId());
    return toConversationView(forked);
  }

  async #owned(principal: Principal, id: string): Promise<Conversation> {
    const conversation = await this.conversations.get(principal.tid, principal.uid, id);
    if (conversation === undefined) throw new RuntimeError('conversation_unknown');
    return conversation;
  }
}
