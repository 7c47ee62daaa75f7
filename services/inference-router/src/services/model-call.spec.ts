import { describe, expect, it } from 'vitest';

import type { InferenceMetrics } from '../repositories/inference-metrics.js';
import type { CapturedBody, ModelEventsRepository } from '../repositories/model-events.repository.js';
import { CallRecorder } from './model-call.js';
import { EMPTY_SNAPSHOT } from './routing-snapshot.js';
import type { UsageMeter } from './usage-meter.js';

interface Published {
  type: string;
  attributes: Record<string, unknown>;
  bodies: readonly CapturedBody[];
}

function recorder(captureMaxBytes: number): { calls: CallRecorder; published: Published[] } {
  const published: Published[] = [];
  const events = {
    publish: (
      _turn: unknown,
      type: string,
      attributes: Record<string, unknown>,
      bodies: readonly CapturedBody[],
    ) => {
      published.push({ type, attributes, bodies });
    },
  } as unknown as ModelEventsRepository;
  const meter = { record: () => undefined } as unknown as UsageMeter;
  const metrics = { observe: () => undefined } as unknown as InferenceMetrics;
  return { calls: new CallRecorder(meter, events, metrics, { captureMaxBytes }), published };
}

const CALLER = { tenantId: 't', userId: 'u', turnId: '0190b6a4-0000-7000-8000-000000000001' };
const START = { endpoint: 'chat.completions' as const, requested: 'default', role: 'default', stream: false };

async function settle(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
}

describe('ModelCall', () => {
  it('publishes both bodies, cut at the capture bound and marked so', async () => {
    const { calls, published } = recorder(10);
    const call = calls.begin(EMPTY_SNAPSHOT, CALLER, { ...START, body: { model: 'default' } });
    call.finish('ok', { contentType: 'application/json', body: '{"ok":true}' });
    await settle();
    expect(published.map((event) => event.type)).toEqual(['model_invoked', 'model_response']);
    expect(published[0]?.attributes['request_truncated']).toBe(true);
    expect(published[0]?.bodies.map((body) => body.body.toString())).toEqual(['{"model":"']);
    expect(published[1]?.attributes['response_truncated']).toBe(true);
    expect(published[1]?.bodies.map((body) => body.body.toString())).toEqual(['{"ok":true']);
  });

  it('sends no bodies when the capture bound is 0, and the events still', async () => {
    const { calls, published } = recorder(0);
    const call = calls.begin(EMPTY_SNAPSHOT, CALLER, { ...START, body: { model: 'default' } });
    call.finish('upstream_error', { contentType: 'application/json', body: '{}' });
    await settle();
    expect(published.map((event) => [event.type, event.bodies.length])).toEqual([
      ['model_invoked', 0],
      ['model_response', 0],
    ]);
    expect(published[1]?.attributes['outcome']).toBe('upstream_error');
  });

  it('publishes nothing outside a turn, and finishes once', async () => {
    const { calls, published } = recorder(100);
    const call = calls.begin(EMPTY_SNAPSHOT, { ...CALLER, turnId: undefined }, { ...START, body: {} });
    call.finish('ok', undefined);
    call.finish('ok', undefined);
    await settle();
    expect(published).toEqual([]);
    const inTurn = calls.begin(EMPTY_SNAPSHOT, CALLER, { ...START, body: {} });
    inTurn.finish('ok', undefined);
    inTurn.finish('internal', undefined);
    await settle();
    expect(published.filter((event) => event.type === 'model_response')).toHaveLength(1);
  });
});
