import { beforeAll, describe, expect, it } from 'vitest';

import { checkReceipt, type FetchedProof } from './receipt-verification.js';
import { createTestAuditor, type TestAuditor, type TurnEventSpec } from './test-proofs.js';
import { verifiedTokenCount } from './token-count.js';

const TURN = '0190a4f2-7b3c-7def-8abc-0000000000c1';

function fetched(proof: unknown): FetchedProof {
  const text = JSON.stringify(proof);
  const bytes = new TextEncoder().encode(text);
  return { bytes: bytes.buffer, text };
}

function modelAnswered(prompt: number, completion: number): TurnEventSpec {
  return {
    type: 'model_response',
    service: 'inference-router',
    attributes: {
      model: 'gpt-4o-mini',
      outcome: 'ok',
      usage: { prompt_tokens: prompt, completion_tokens: completion, cached_tokens: 0 },
    },
  };
}

function sealed(totalTokens: number): TurnEventSpec {
  return {
    type: 'turn_sealed',
    attributes: { status: 'done', tool_calls: 1, model_calls: 2, total_tokens: totalTokens },
  };
}

let auditor: TestAuditor;

beforeAll(async () => {
  auditor = await createTestAuditor();
});

async function countOf(proof: unknown) {
  const outcome = await checkReceipt(fetched(proof), auditor.keys, () => Promise.resolve(auditor.keys));
  return verifiedTokenCount(outcome);
}

describe('verifiedTokenCount', () => {
  it("takes the turn's total from its sealed event and the split from the model's answers", async () => {
    const proof = await auditor.sealTurn(TURN, [
      { type: 'turn_started', service: 'gateway' },
      modelAnswered(12, 3),
      { type: 'tool_called', attributes: { tool: 'current_time' } },
      modelAnswered(8, 2),
      sealed(25),
    ]);
    expect(await countOf(proof)).toEqual({ total: 25, prompt: 20, completion: 5 });
  });

  it('keeps the total alone when the answers do not add up to it', async () => {
    const proof = await auditor.sealTurn(TURN, [modelAnswered(12, 3), sealed(25)]);
    expect(await countOf(proof)).toEqual({ total: 25 });
  });

  it('adds up the answers of a turn without a closing total, and of a failed one takes its total', async () => {
    expect(await countOf(await auditor.sealTurn(TURN, [modelAnswered(12, 3)]))).toEqual({
      total: 15,
      prompt: 12,
      completion: 3,
    });
    const failed = await auditor.sealTurn(TURN, [
      modelAnswered(7, 0),
      { type: 'turn_failed', attributes: { status: 'failed', code: 'upstream_error', total_tokens: 7 } },
    ]);
    expect(await countOf(failed)).toEqual({ total: 7, prompt: 7, completion: 0 });
  });

  it('knows nothing from a turn whose events carry no usage', async () => {
    const proof = await auditor.sealTurn(TURN, [{ type: 'turn_started' }, { type: 'turn_sealed' }]);
    expect(await countOf(proof)).toBeUndefined();
  });

  it('never reads a proof that does not verify, nor an outcome the browser could not check', async () => {
    const proof = await auditor.sealTurn(TURN, [modelAnswered(20, 5), sealed(25)]);
    const copy = JSON.parse(JSON.stringify(proof)) as {
      events: { event: { attributes: Record<string, unknown> } }[];
    };
    const closing = copy.events.at(-1);
    if (closing === undefined) throw new Error('no closing event');
    closing.event.attributes['total_tokens'] = 9_999;
    expect(await countOf(copy)).toBeUndefined();
    expect(
      verifiedTokenCount({ kind: 'unverifiable', proof: fetched(proof), message: 'no Ed25519 here' }),
    ).toBeUndefined();
    expect(await countOf(proof)).toEqual({ total: 25, prompt: 20, completion: 5 });
  });
});
