import { isUuid } from '@aibox/identity';
import { z } from 'zod';

import type { ContentPart, MessageRole, MessageStatus, ToolCall } from '../services/conversation.js';

/** Ids the runtime hands out are lower-case UUIDs; any other spelling names the same one. */
const uuid = z
  .string()
  .refine((value) => isUuid(value), 'must be a UUID')
  .transform((value) => value.toLowerCase());

export const conversationParams = z.object({ id: uuid }).strict();
export type ConversationParams = z.infer<typeof conversationParams>;

export const conversationListQuery = z
  .object({
    limit: z
      .string()
      .regex(/^[0-9]{1,3}$/, 'must be an integer from 1 to 100')
      .transform(Number)
      .refine((value) => value >= 1 && value <= 100, 'must be an integer from 1 to 100')
      .default(20),
    cursor: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,400}$/, 'must be the next_cursor of a previous page')
      .optional(),
    /** A case-insensitive part of the title; empty matches everything. */
    q: z.string().max(200).optional(),
  })
  .strict();
export type ConversationListQuery = z.infer<typeof conversationListQuery>;

/** 1–200 characters after trimming, on one line. */
const title = z
  .string()
  .trim()
  .min(1)
  .max(200)
  .regex(/^[^\p{Cc}]*$/u, 'must not contain control characters or line breaks');

export const renameConversationBody = z.object({ title }).strict();
export type RenameConversationBody = z.infer<typeof renameConversationBody>;

export const forkConversationBody = z.object({ message_id: uuid }).strict();
export type ForkConversationBody = z.infer<typeof forkConversationBody>;

export const exportQuery = z.object({ format: z.enum(['json', 'markdown']).default('json') }).strict();
export type ExportQuery = z.infer<typeof exportQuery>;
export type ExportFormat = ExportQuery['format'];

export interface ConversationView {
  readonly id: string;
  readonly title: string | null;
  readonly agent_id: string;
  readonly forked_from: { readonly conversation_id: string; readonly message_id: string } | null;
  readonly created_at: string;
  readonly updated_at: string;
}

export interface MessageView {
  readonly id: string;
  readonly turn_id: string | null;
  readonly role: MessageRole;
  readonly content: string | readonly ContentPart[];
  readonly tool_calls: readonly ToolCall[] | null;
  readonly tool_call_id: string | null;
  /** A tool message's `{ok, code}`; null for other messages, and for tool messages stored before it was kept. */
  readonly tool_outcome: { readonly ok: boolean; readonly code: string | null } | null;
  readonly status: MessageStatus;
  readonly created_at: string;
}

export interface ConversationListView {
  readonly data: ConversationView[];
  /** Pass as `cursor` for the next page; null on the last one. */
  readonly next_cursor: string | null;
}

export interface ConversationDetailView extends ConversationView {
  readonly messages: MessageView[];
}

/** `GET /v1/conversations/{id}/export?format=json`: versioned, so importers can tell layouts apart. */
export interface ConversationExportDocument {
  readonly version: 1;
  readonly conversation: ConversationView;
  readonly messages: MessageView[];
}
