import { tokenSplit } from './token-count.js';

/** The turn event types of ARCHITECTURE §6, said in words (receipts and the admin audit pages). */
export const EVENT_TYPE_LABELS: Readonly<Record<string, string>> = {
  turn_started: 'Turn started',
  prompt_generated: 'Prompt built',
  model_invoked: 'Model called',
  model_response: 'Model answered',
  rag_chunks_retrieved: 'Documents retrieved',
  memory_op: 'Memory used',
  tool_called: 'Tool called',
  tool_returned: 'Tool returned',
  approval_requested: 'Approval requested',
  approval_decided: 'Approval decided',
  sandbox_exec: 'Code run in sandbox',
  guardrail_verdict: 'Guardrail verdict',
  cap_token_issued: 'Permission granted',
  cap_token_rejected: 'Permission refused',
  turn_failed: 'Turn failed',
  turn_sealed: 'Turn sealed',
};

/** The label of an event type; a type this build does not know yet is still shown, in words. */
export function eventTypeLabel(type: string): string {
  const known = EVENT_TYPE_LABELS[type];
  if (known !== undefined) return known;
  const words = type.replaceAll('_', ' ').trim();
  return words === '' ? 'Event' : `${words.charAt(0).toUpperCase()}${words.slice(1)}`;
}

/** One attribute worth showing without opening the full attributes. */
export interface EventHighlight {
  readonly label: string;
  readonly value: string;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function scalar(value: unknown): string | undefined {
  if (typeof value === 'string') return value === '' ? undefined : value;
  if (typeof value === 'number' && Number.isFinite(value)) return value.toLocaleString();
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  return undefined;
}

function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function tokens(attributes: Record<string, unknown>): string | undefined {
  const usage = isRecord(attributes['usage']) ? attributes['usage'] : {};
  const split = tokenSplit(count(usage['prompt_tokens']), count(usage['completion_tokens']));
  if (split !== undefined) return split;
  const total = count(attributes['total_tokens']);
  return total === undefined ? undefined : `${total.toLocaleString()} total`;
}

function duration(value: unknown): string | undefined {
  const ms = count(value);
  if (ms === undefined) return undefined;
  return ms < 1000
    ? `${ms.toLocaleString()} ms`
    : `${(ms / 1000).toLocaleString(undefined, { maximumFractionDigits: 1 })} s`;
}

/**
 * The main attributes of an event, as the services publish them (the router's `model`, the runtime's `tool`,
 * `decision`, the sandbox's `exit_code`, token usage…), in a fixed order so events read alike.
 */
export function eventHighlights(attributes: unknown): EventHighlight[] {
  if (!isRecord(attributes)) return [];
  const exitCode = attributes['exit_code'];
  const candidates: [string, string | undefined][] = [
    ['Model', scalar(attributes['model']) ?? scalar(attributes['requested_model'])],
    ['Tool', scalar(attributes['tool'])],
    ['Decision', scalar(attributes['decision'])],
    ['Outcome', scalar(attributes['outcome'])],
    ['Status', scalar(attributes['status'])],
    ['Exit code', exitCode === null ? 'none' : scalar(exitCode)],
    ['Tokens', tokens(attributes)],
    ['Error', scalar(attributes['code'])],
    ['Duration', duration(attributes['duration_ms'] ?? attributes['latency_ms'])],
  ];
  return candidates.flatMap(([label, value]) => (value === undefined ? [] : [{ label, value }]));
}
