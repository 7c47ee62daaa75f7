import { apiFetch, apiJson } from '../api/client.js';

/** An OpenAI content part as agent-runtime stores it: text, or an image (http(s) or data URL). */
export type ContentPart =
  | { readonly type: 'text'; readonly text: string }
  | { readonly type: 'image_url'; readonly image_url: { readonly url: string; readonly detail?: string } };

export type MessageContent = string | readonly ContentPart[];

export interface StoredToolCall {
  readonly id: string;
  readonly type: 'function';
  readonly function: { readonly name: string; readonly arguments: string };
}

export type MessageRole = 'user' | 'assistant' | 'tool';
export type MessageStatus = 'complete' | 'partial' | 'cancelled' | 'failed';

export interface ConversationSummary {
  readonly id: string;
  readonly title: string | null;
  readonly agent_id: string;
  readonly forked_from: { readonly conversation_id: string; readonly message_id: string } | null;
  readonly created_at: string;
  readonly updated_at: string;
}

/** How a stored tool call ended, as its `tool_result` event said. */
export interface StoredToolOutcome {
  readonly ok: boolean;
  readonly code: string | null;
}

export interface StoredMessage {
  readonly id: string;
  readonly turn_id: string | null;
  readonly role: MessageRole;
  readonly content: MessageContent;
  readonly tool_calls: readonly StoredToolCall[] | null;
  readonly tool_call_id: string | null;
  /** Tool messages: how the call ended; null for other messages and for results stored before it was kept. */
  readonly tool_outcome: StoredToolOutcome | null;
  readonly status: MessageStatus;
  readonly created_at: string;
}

export interface ConversationDetail extends ConversationSummary {
  readonly messages: readonly StoredMessage[];
}

export interface ConversationPage {
  readonly data: readonly ConversationSummary[];
  readonly next_cursor: string | null;
}

export interface Agent {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly visibility: 'private' | 'tenant' | 'managed';
}

export type ApprovalStatus = 'pending' | 'approved' | 'denied' | 'expired' | 'cancelled';

/** `GET /v1/approvals` and the answer to a decision. */
export interface ApprovalRecord {
  readonly id: string;
  readonly turn_id: string;
  readonly conversation_id: string;
  readonly tool: string;
  readonly arguments: unknown;
  readonly status: ApprovalStatus;
  readonly reason: string | null;
  readonly expires_at: string;
}

/** A file sent with a message: images become image parts, text-like files are put into the message. */
export interface Attachment {
  readonly name: string;
  readonly content_type: string;
  /** The file, base64. */
  readonly data: string;
}

/** The body of `POST /v1/chat/stream`. */
export interface ChatRequest {
  readonly conversation_id?: string;
  readonly agent_id?: string;
  readonly message: MessageContent;
  readonly attachments?: readonly Attachment[];
}

/** The default agent every tenant has. */
export const DEFAULT_AGENT_ID = 'default';

export const CONVERSATION_PAGE_SIZE = 30;

/** Query keys, so that the list, one conversation and the approvals are invalidated by the same names. */
export const chatKeys = {
  conversations: ['conversations'] as const,
  conversationList: (q: string) => ['conversations', 'list', q] as const,
  conversation: (id: string) => ['conversation', id] as const,
  agents: ['agents'] as const,
  approvals: ['approvals'] as const,
};

export function listConversations(
  q: string,
  cursor: string | undefined,
  signal: AbortSignal,
): Promise<ConversationPage> {
  const params = new URLSearchParams({ limit: String(CONVERSATION_PAGE_SIZE) });
  if (cursor !== undefined) params.set('cursor', cursor);
  if (q !== '') params.set('q', q);
  return apiJson<ConversationPage>(`/v1/conversations?${params.toString()}`, { signal });
}

export function getConversation(id: string, signal?: AbortSignal): Promise<ConversationDetail> {
  return apiJson<ConversationDetail>(
    `/v1/conversations/${encodeURIComponent(id)}`,
    signal === undefined ? {} : { signal },
  );
}

export function renameConversation(id: string, title: string): Promise<ConversationSummary> {
  return apiJson<ConversationSummary>(`/v1/conversations/${encodeURIComponent(id)}`, {
    method: 'PATCH',
    body: { title },
  });
}

export function deleteConversation(id: string): Promise<void> {
  return apiJson<undefined>(`/v1/conversations/${encodeURIComponent(id)}`, { method: 'DELETE' });
}

export type ExportFormat = 'markdown' | 'json';

/** A conversation as a file: the exact bytes the runtime answered, and the name to save them under. */
export interface ConversationFile {
  readonly blob: Blob;
  readonly filename: string;
}

/** The file name a Content-Disposition header gives: `filename*` (RFC 6266) first, then `filename`. */
export function dispositionFilename(header: string | null): string | undefined {
  if (header === null) return undefined;
  const extended = /filename\*\s*=\s*utf-8'[^']*'([^;\s]+)/i.exec(header)?.[1];
  if (extended !== undefined) {
    try {
      return decodeURIComponent(extended);
    } catch {
      // A malformed escape: the plain name, when there is one, still names the file.
    }
  }
  const plain = /(?:^|;)\s*filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))/i.exec(header);
  const name = plain?.[1]?.replace(/\\(.)/g, '$1') ?? plain?.[2];
  return name === undefined || name.trim() === '' ? undefined : name;
}

/**
 * `GET /v1/conversations/{id}/export`, fetched with the caller's token (a plain link would go without it). The
 * runtime names the file after the title; without that header it is `conversation-<id>.md` or `.json`.
 */
export async function exportConversation(id: string, format: ExportFormat): Promise<ConversationFile> {
  const params = new URLSearchParams({ format });
  const response = await apiFetch(`/v1/conversations/${encodeURIComponent(id)}/export?${params.toString()}`);
  return {
    blob: await response.blob(),
    filename:
      dispositionFilename(response.headers.get('content-disposition')) ??
      `conversation-${id}.${format === 'markdown' ? 'md' : 'json'}`,
  };
}

/** A new conversation holding this one's messages up to and including `messageId`. */
export function forkConversation(id: string, messageId: string): Promise<ConversationSummary> {
  return apiJson<ConversationSummary>(`/v1/conversations/${encodeURIComponent(id)}/fork`, {
    method: 'POST',
    body: { message_id: messageId },
  });
}

export async function listAgents(signal: AbortSignal): Promise<readonly Agent[]> {
  return (await apiJson<{ data: Agent[] }>('/v1/agents', { signal })).data;
}

export async function listPendingApprovals(signal: AbortSignal): Promise<readonly ApprovalRecord[]> {
  return (await apiJson<{ data: ApprovalRecord[] }>('/v1/approvals', { signal })).data;
}

export function decideApproval(approvalId: string, decision: 'approve' | 'deny'): Promise<ApprovalRecord> {
  return apiJson<ApprovalRecord>(`/v1/approvals/${encodeURIComponent(approvalId)}`, {
    method: 'POST',
    body: { decision },
  });
}

export function cancelTurn(turnId: string): Promise<unknown> {
  return apiJson<unknown>(`/v1/chat/${encodeURIComponent(turnId)}/cancel`, { method: 'POST' });
}
