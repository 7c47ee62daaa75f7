import type { ReceiptOutcome } from './receipt-verification.js';

/** How many tokens an answer used, and how they split into prompt and completion when that is known. */
export interface TokenCount {
  readonly total: number;
  readonly prompt?: number;
  readonly completion?: number;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

/** Prompt and completion tokens in a few words ("20 in · 5 out"), as far as they are known. */
export function tokenSplit(prompt: number | undefined, completion: number | undefined): string | undefined {
  const parts = [
    prompt === undefined ? undefined : `${prompt.toLocaleString()} in`,
    completion === undefined ? undefined : `${completion.toLocaleString()} out`,
  ].filter((part) => part !== undefined);
  return parts.length === 0 ? undefined : parts.join(' · ');
}

/** A count whose split is kept only when it adds up to the total, so the two never disagree on screen. */
export function tokenCount(total: number, prompt?: number, completion?: number): TokenCount {
  return prompt !== undefined && completion !== undefined && prompt + completion === total
    ? { total, prompt, completion }
    : { total };
}

/** The events that close a turn in audit; the runtime puts the turn's `total_tokens` on them. */
const CLOSING_TYPES: ReadonlySet<string> = new Set(['turn_sealed', 'turn_failed']);

/**
 * The tokens a turn used, read from its receipt only when the browser verified it (never from a proof that
 * failed or could not be checked). The total is the runtime's own, on the event that closes the turn
 * (`turn_sealed`, or `turn_failed`): the same number the live stream's `usage` event gave. The router's
 * `model_response` events carry each model call's prompt and completion tokens; their sums give the split.
 */
export function verifiedTokenCount(outcome: ReceiptOutcome | undefined): TokenCount | undefined {
  if (outcome?.kind !== 'checked' || !outcome.report.ok || outcome.receipt === undefined) return undefined;
  let total: number | undefined;
  let prompt = 0;
  let completion = 0;
  let calls = 0;
  let splitKnown = true;
  for (const { event } of outcome.receipt.events) {
    const type = event['type'];
    const attributes = isRecord(event['attributes']) ? event['attributes'] : {};
    if (typeof type !== 'string') continue;
    if (CLOSING_TYPES.has(type)) {
      total = count(attributes['total_tokens']) ?? total;
    } else if (type === 'model_response') {
      const usage = isRecord(attributes['usage']) ? attributes['usage'] : {};
      const callPrompt = count(usage['prompt_tokens']);
      const callCompletion = count(usage['completion_tokens']);
      calls += 1;
      if (callPrompt === undefined || callCompletion === undefined) splitKnown = false;
      else {
        prompt += callPrompt;
        completion += callCompletion;
      }
    }
  }
  const split = calls > 0 && splitKnown;
  if (total === undefined) return split ? tokenCount(prompt + completion, prompt, completion) : undefined;
  return split ? tokenCount(total, prompt, completion) : tokenCount(total);
}
