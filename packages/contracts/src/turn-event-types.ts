/** The closed set of `TurnEvent.type` values (ARCHITECTURE §6); audit rejects any other. */
export const TURN_EVENT_TYPES = [
  'turn_started',
  'prompt_generated',
  'model_invoked',
  'model_response',
  'rag_chunks_retrieved',
  'memory_op',
  'tool_called',
  'tool_returned',
  'approval_requested',
  'approval_decided',
  'sandbox_exec',
  'guardrail_verdict',
  'cap_token_issued',
  'cap_token_rejected',
  'turn_failed',
  'turn_sealed',
] as const;

export type TurnEventType = (typeof TURN_EVENT_TYPES)[number];

const KNOWN: ReadonlySet<string> = new Set(TURN_EVENT_TYPES);

/** Whether `value` is one of {@link TURN_EVENT_TYPES}. */
export function isTurnEventType(value: string): value is TurnEventType {
  return KNOWN.has(value);
}
