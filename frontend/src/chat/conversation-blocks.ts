import type { Attachment, ContentPart, MessageContent, MessageStatus, StoredMessage } from './chat-api.js';
import type { LiveTurn } from './live-turns.js';
import { isTurnEnded, type AssistantPart, type ToolCallPart, type ToolResult } from './turn-stream.js';

/** A message of the user's, as the conversation shows it. */
export interface UserBlock {
  readonly kind: 'user';
  readonly key: string;
  /** Absent while only this tab knows the message (it is being sent). */
  readonly messageId?: string;
  readonly turnId?: string;
  /** When it was stored (ISO 8601); absent while it is being sent. */
  readonly createdAt?: string;
  readonly content: MessageContent;
  readonly attachments?: readonly Attachment[];
}

/** One answer: the assistant and tool messages of a turn, as one message with its tool calls inline. */
export interface AssistantBlock {
  readonly kind: 'assistant';
  readonly key: string;
  readonly turnId?: string;
  /** The last stored message of the answer: where a fork keeps it whole. */
  readonly lastMessageId?: string;
  /** When its last message was stored (ISO 8601): the answer is written once that is. Absent while it streams. */
  readonly createdAt?: string;
  readonly parts: readonly AssistantPart[];
  readonly status: MessageStatus | 'streaming';
  /** The live turn it shows, while it is shown from the stream. */
  readonly live?: LiveTurn;
}

export type ChatBlock = UserBlock | AssistantBlock;

function textOf(content: MessageContent): string {
  if (typeof content === 'string') return content;
  return content.flatMap((part) => (part.type === 'text' ? [part.text] : [])).join('\n\n');
}

function toolParts(message: StoredMessage): ToolCallPart[] {
  return (message.tool_calls ?? []).map((call) => ({
    kind: 'tool',
    id: call.id,
    name: call.function.name,
    arguments: call.function.arguments,
  }));
}

/**
 * A stored tool message as a result, with how the call ended. A message stored before the runtime kept that
 * has a null outcome (absent from a runtime older than the field): its result is the output only, "Finished".
 */
function toolResultOf(message: StoredMessage): ToolResult {
  const output = textOf(message.content);
  const outcome = message.tool_outcome;
  if (outcome == null) return { output };
  return { ok: outcome.ok, ...(outcome.code === null ? {} : { code: outcome.code }), output };
}

const userKey = (turnId: string): string => `user-${turnId}`;
const answerKey = (turnId: string): string => `answer-${turnId}`;

/** Stored messages as blocks: each user message alone, each turn's assistant and tool messages together. */
export function storedBlocks(messages: readonly StoredMessage[]): ChatBlock[] {
  const blocks: ChatBlock[] = [];
  const used = new Set<string>();
  // Keyed by turn where possible: the streamed answer and the stored one are then the same element, and a
  // tool call opened while it streamed stays open.
  const keyOf = (byTurn: string | undefined, fallback: string): string => {
    const key = byTurn !== undefined && !used.has(byTurn) ? byTurn : fallback;
    used.add(key);
    return key;
  };
  for (const message of messages) {
    if (message.role === 'user') {
      blocks.push({
        kind: 'user',
        key: keyOf(message.turn_id === null ? undefined : userKey(message.turn_id), message.id),
        messageId: message.id,
        createdAt: message.created_at,
        content: message.content,
        ...(message.turn_id === null ? {} : { turnId: message.turn_id }),
      });
      continue;
    }
    const last = blocks.at(-1);
    const current: AssistantBlock =
      last?.kind === 'assistant' && last.turnId === (message.turn_id ?? undefined)
        ? last
        : {
            kind: 'assistant',
            key: keyOf(message.turn_id === null ? undefined : answerKey(message.turn_id), message.id),
            parts: [],
            status: message.status,
            ...(message.turn_id === null ? {} : { turnId: message.turn_id }),
          };
    let parts = current.parts;
    if (message.role === 'assistant') {
      const text = textOf(message.content);
      parts = [...parts, ...(text === '' ? [] : [{ kind: 'text' as const, text }]), ...toolParts(message)];
    } else {
      const result = toolResultOf(message);
      const index = parts.findIndex((part) => part.kind === 'tool' && part.id === message.tool_call_id);
      parts =
        index === -1
          ? [
              ...parts,
              {
                kind: 'tool',
                id: message.tool_call_id ?? message.id,
                name: '',
                arguments: '',
                result,
              },
            ]
          : parts.map((part, at) => (at === index && part.kind === 'tool' ? { ...part, result } : part));
    }
    const next: AssistantBlock = {
      ...current,
      parts,
      status: message.status,
      lastMessageId: message.id,
      createdAt: message.created_at,
    };
    if (current === last) blocks[blocks.length - 1] = next;
    else blocks.push(next);
  }
  return blocks;
}

/**
 * The conversation as shown: the stored messages, and the live turn from its stream until stored messages
 * fetched after its end can show it (`storedAt` is when the stored messages were fetched, epoch ms).
 */
export function conversationBlocks(
  messages: readonly StoredMessage[],
  live: LiveTurn | undefined,
  storedAt: number,
): ChatBlock[] {
  const fromStream =
    live !== undefined && (!isTurnEnded(live.state) || live.endedAt === undefined || storedAt < live.endedAt);
  if (live === undefined) return storedBlocks(messages);
  if (!fromStream) return withLiveOutcomes(storedBlocks(messages), live);
  const turnId = live.state.turnId;
  const ofTurn = (message: StoredMessage): boolean => turnId !== undefined && message.turn_id === turnId;
  const kept = messages.filter((message) => !ofTurn(message) || message.role === 'user');
  const blocks = storedBlocks(kept);
  const hasUserMessage = kept.some((message) => ofTurn(message) && message.role === 'user');
  if (!hasUserMessage && live.request !== undefined) {
    blocks.push({
      kind: 'user',
      key: turnId === undefined ? `${live.key}-user` : userKey(turnId),
      content: live.request.message,
      ...(turnId === undefined ? {} : { turnId }),
      ...(live.request.attachments === undefined ? {} : { attachments: live.request.attachments }),
    });
  }
  const ended = isTurnEnded(live.state);
  // An answer that failed before it said anything has nothing to show but its error.
  if (!ended || live.state.parts.length > 0) {
    blocks.push({
      kind: 'assistant',
      key: turnId === undefined ? `${live.key}-answer` : answerKey(turnId),
      parts: live.state.parts,
      status: ended ? (live.state.status === 'done' ? 'complete' : 'failed') : 'streaming',
      live,
      ...(turnId === undefined ? {} : { turnId }),
      ...(live.state.messageId === undefined ? {} : { lastMessageId: live.state.messageId }),
    });
  }
  return blocks;
}

/**
 * The stored answer of a turn this tab streamed, with what only the stream knew: whether each tool call
 * succeeded (and its code), and its approval. So the answer looks the same before and after it is stored.
 */
function withLiveOutcomes(blocks: ChatBlock[], live: LiveTurn): ChatBlock[] {
  const turnId = live.state.turnId;
  const streamed = new Map(
    live.state.parts.flatMap((part) => (part.kind === 'tool' ? [[part.id, part] as const] : [])),
  );
  if (turnId === undefined || streamed.size === 0) return blocks;
  return blocks.map((block) => {
    if (block.kind !== 'assistant' || block.turnId !== turnId) return block;
    const parts = block.parts.map((part): AssistantPart => {
      const known = part.kind === 'tool' ? streamed.get(part.id) : undefined;
      if (part.kind !== 'tool' || known === undefined) return part;
      return {
        ...part,
        ...(known.approval === undefined ? {} : { approval: known.approval }),
        ...(known.result === undefined
          ? {}
          : { result: { ...known.result, output: part.result?.output ?? known.result.output } }),
      };
    });
    return { ...block, parts };
  });
}

/** What a user message holds, for showing it: the typed text, images, and the names of attached files. */
export interface UserContentView {
  readonly text: string;
  readonly images: readonly string[];
  readonly files: readonly string[];
}

/** agent-runtime puts a text attachment into the message under this line. */
const ATTACHED_FILE = /^Attached file (.+?) \([^()\n]*\):\n/;

export function userContentView(
  content: MessageContent,
  attachments: readonly Attachment[] = [],
): UserContentView {
  const parts: readonly ContentPart[] =
    typeof content === 'string' ? [{ type: 'text', text: content }] : content;
  const texts: string[] = [];
  const images: string[] = [];
  const files: string[] = [];
  for (const part of parts) {
    if (part.type === 'image_url') {
      images.push(part.image_url.url);
      continue;
    }
    const attached = ATTACHED_FILE.exec(part.text);
    if (attached?.[1] !== undefined) files.push(attached[1]);
    else texts.push(part.text);
  }
  for (const attachment of attachments) {
    if (attachment.content_type.startsWith('image/'))
      images.push(`data:${attachment.content_type};base64,${attachment.data}`);
    else files.push(attachment.name);
  }
  return { text: texts.join('\n\n'), images, files };
}

/** The message with its typed text replaced and its images and files kept (for edit-and-resend). */
export function withText(content: MessageContent, text: string): MessageContent {
  if (typeof content === 'string') return text;
  const kept = content.filter((part) => part.type !== 'text' || ATTACHED_FILE.test(part.text));
  return kept.length === 0 ? text : [{ type: 'text', text }, ...kept];
}

/**
 * An unfinished turn the stored messages end with: its last message is the user's or a tool's (or a call of
 * tools), so the answer is still being written, or the turn failed before it wrote one.
 */
export function unfinishedTurn(messages: readonly StoredMessage[]): string | undefined {
  const last = messages.at(-1);
  if (last?.turn_id === null || last === undefined) return undefined;
  const open = last.role !== 'assistant' || (last.tool_calls ?? []).length > 0;
  return open ? last.turn_id : undefined;
}
