import { Counter, Histogram, type Registry } from 'prom-client';

const SECONDS = [0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120];

/** Prometheus series of the data path; labels are admin-chosen names (providers, models, roles), never user input. */
export class InferenceMetrics {
  private readonly calls: Counter<'endpoint' | 'role' | 'provider' | 'outcome'>;
  private readonly attempts: Counter<'provider' | 'outcome'>;
  private readonly tokens: Counter<'provider' | 'model' | 'kind'>;
  private readonly cost: Counter<'provider' | 'model'>;
  private readonly ttft: Histogram<'provider'>;
  private readonly duration: Histogram<'provider'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.calls = new Counter({
      name: 'inference_calls_total',
      help: 'Data-path calls by endpoint, role (empty for a concrete model), serving provider and outcome.',
      labelNames: ['endpoint', 'role', 'provider', 'outcome'],
      registers,
    });
    this.attempts = new Counter({
      name: 'inference_provider_attempts_total',
      help: 'Calls to providers, including retries and fallbacks, by outcome (ok, status_429, timeout, circuit_open…).',
      labelNames: ['provider', 'outcome'],
      registers,
    });
    this.tokens = new Counter({
      name: 'inference_tokens_total',
      help: 'Tokens by provider, model and kind (prompt, completion, cached).',
      labelNames: ['provider', 'model', 'kind'],
      registers,
    });
    this.cost = new Counter({
      name: 'inference_cost_usd_total',
      help: 'Cost in USD by provider and model, from the price table.',
      labelNames: ['provider', 'model'],
      registers,
    });
    this.ttft = new Histogram({
      name: 'inference_time_to_first_token_seconds',
      help: 'From receiving a streamed call to sending its first token, by provider.',
      labelNames: ['provider'],
      buckets: SECONDS,
      registers,
    });
    this.duration = new Histogram({
      name: 'inference_call_duration_seconds',
      help: 'From receiving a call to its last byte, by provider.',
      labelNames: ['provider'],
      buckets: SECONDS,
      registers,
    });
  }

  observe(call: {
    endpoint: string;
    role: string;
    provider: string;
    model: string;
    outcome: string;
    attempts: readonly { provider: string; outcome: string }[];
    promptTokens: number;
    completionTokens: number;
    cachedTokens: number;
    costUsd: number | null;
    seconds: number;
    ttftSeconds: number | null;
  }): void {
    this.calls.inc({
      endpoint: call.endpoint,
      role: call.role,
      provider: call.provider,
      outcome: call.outcome,
    });
    for (const attempt of call.attempts)
      this.attempts.inc({ provider: attempt.provider, outcome: attempt.outcome });
    if (call.provider === '') return;
    const model = { provider: call.provider, model: call.model };
    if (call.promptTokens > 0) this.tokens.inc({ ...model, kind: 'prompt' }, call.promptTokens);
    if (call.completionTokens > 0) this.tokens.inc({ ...model, kind: 'completion' }, call.completionTokens);
    if (call.cachedTokens > 0) this.tokens.inc({ ...model, kind: 'cached' }, call.cachedTokens);
    if (call.costUsd !== null && call.costUsd > 0) this.cost.inc(model, call.costUsd);
    this.duration.observe({ provider: call.provider }, call.seconds);
    if (call.ttftSeconds !== null) this.ttft.observe({ provider: call.provider }, call.ttftSeconds);
  }
}
