/** An OpenAI chat content part the runtime stores and sends on: text or an image (URL or data URL). */
export type ContentPart =
  | { readonly type: 'text'; readonly text: string }
  | { readonly type: 'image_url'; readonly image_url: { readonly url: string; readonly detail?: string } };

/** An OpenAI-shaped tool call of an assistant message. */
export interface ToolCall {
  readonly id: string;
  readonly type: 'function';
  readonly function: { readonly name: string; readonly arguments: string };
}

/** How a tool call ended, kept with its result so a stored conversation shows it as the stream did. */
export interface ToolOutcome {
  readonly ok: boolean;
  /** The error's code (`tool_failed`, `tool_denied`…); null when it succeeded. */
  readonly code: string | null;
}

export type MessageRole = 'user' | 'assistant' | 'tool';
export type MessageStatus = 'complete' | 'partial' | 'cancelled' | 'failed';

export interface NewMessage {
  readonly id: string;
  readonly turnId: string | null;
  readonly role: MessageRole;
  readonly content: string | readonly ContentPart[];
  readonly toolCalls?: readonly ToolCall[];
  readonly toolCallId?: string;
  /** Tool messages: how the call ended; absent on messages stored before outcomes were kept. */
  readonly toolOutcome?: ToolOutcome;
  readonly status: MessageStatus;
}

export interface StoredMessage extends NewMessage {
  readonly conversationId: string;
  readonly seq: number;
  readonly createdAt: Date;
}

export interface Conversation {
  readonly id: string;
  readonly userId: string;
  readonly agentId: string;
  readonly title: string | null;
  readonly forkedFrom: { readonly conversationId: string; readonly messageId: string } | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}
