import { TurnFailedError } from '../errors/runtime.error.js';
import type { StartedTurn } from './chat.service.js';
import type { ToolCallTrace } from './turn-runner.js';

export interface ChatAnswer {
  readonly turn_id: string;
  readonly conversation_id: string;
  readonly message: { readonly id: string; readonly role: 'assistant'; readonly content: string };
  readonly tool_calls: readonly ToolCallTrace[];
  readonly usage: Readonly<Record<string, unknown>>;
  readonly receipt_url: string;
}

/** Waits for a turn's end and gives its whole answer, or throws the code it ended with. */
export async function wholeAnswer(started: StartedTurn): Promise<ChatAnswer> {
  const result = await started.finished;
  const { outcome } = result;
  if (outcome.status !== 'done') throw new TurnFailedError(outcome.code, outcome.message);
  return {
    turn_id: started.turnId,
    conversation_id: started.conversationId,
    message: { id: outcome.messageId, role: 'assistant', content: outcome.text },
    tool_calls: result.toolCalls,
    usage: { ...result.usage, model: result.model ?? null },
    receipt_url: `/v1/receipts/${started.turnId}`,
  };
}
