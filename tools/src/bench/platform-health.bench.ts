import { fileURLToPath } from 'node:url';

import type { Benchmark, BenchResult } from './bench.js';
import { startChild } from './child-target.js';
import {
  loadHttp,
  summarizeHttp,
  type HttpLoadOptions,
  type HttpMeasurement,
  type HttpSample,
} from './measure.js';

const BASELINE = 'bare Fastify, one route';
const SUBJECT = 'bootService (platform)';
const TARGET_SCRIPT = fileURLToPath(new URL('./health-target.js', import.meta.url));
const WARMUP: HttpLoadOptions = { connections: 10, durationSeconds: 1 };
/** Each target is loaded in two turns of this, 3 s in all. */
const TURN: HttpLoadOptions = { connections: 10, durationSeconds: 1.5 };

interface RunningTarget {
  readonly url: string;
  stop(): Promise<void>;
}

/** Starts `health-target.js <kind>` and resolves once it printed its URL. */
async function startTarget(kind: 'bare' | 'platform'): Promise<RunningTarget> {
  const child = await startChild({
    name: `the ${kind} health target`,
    command: process.execPath,
    args: [TARGET_SCRIPT, kind],
    ready: /^ready (http:\/\/127\.0\.0\.1:\d+\/healthz)$/,
    stopWith: 'stdin',
  });
  return { url: child.match[1] ?? '', stop: () => child.stop() };
}

type TargetKind = 'bare' | 'platform';

/**
 * Both targets run side by side (each idle while the other is loaded) and take turns in the order
 * bare, platform, platform, bare, so that a busier moment of a shared machine weighs on both alike.
 */
async function measureTargets(): Promise<Record<TargetKind, HttpMeasurement>> {
  const started = await Promise.allSettled([startTarget('bare'), startTarget('platform')]);
  const targets = started.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []));
  try {
    const [bare, platform] = started.map((outcome) => {
      if (outcome.status === 'rejected') {
        throw outcome.reason;
      }
      return outcome.value;
    });
    if (bare === undefined || platform === undefined) {
      throw new Error('platform-health: a target did not start');
    }
    const samples: Record<TargetKind, HttpSample[]> = { bare: [], platform: [] };
    await loadHttp(bare.url, WARMUP);
    await loadHttp(platform.url, WARMUP);
    for (const kind of ['bare', 'platform', 'platform', 'bare'] as const) {
      samples[kind].push(await loadHttp(kind === 'bare' ? bare.url : platform.url, TURN));
    }
    return { bare: summarizeHttp(samples.bare), platform: summarizeHttp(samples.platform) };
  } finally {
    await Promise.all(targets.map((target) => target.stop()));
  }
}

/**
 * `platform-health`: `GET /healthz` of a service booted with `bootService` (Nest on Fastify with the
 * platform's hooks: request context, correlation id, metrics, access log, error filter) against a bare Fastify
 * app with one route, each in its own process on loopback, loaded by autocannon from this process.
 */
export const platformHealthBenchmark: Benchmark = {
  name: 'platform-health',
  description: `GET /healthz through ${SUBJECT} vs ${BASELINE} (autocannon, ${TURN.connections} connections, 2 × ${TURN.durationSeconds} s each after ${WARMUP.durationSeconds} s warm-up, loopback)`,
  async run(): Promise<BenchResult[]> {
    const { bare, platform } = await measureTargets();
    return [
      {
        case: BASELINE,
        unit: 'req',
        perSecond: bare.perSecond,
        operations: bare.requests,
        p50Ms: bare.p50Ms,
        p99Ms: bare.p99Ms,
      },
      {
        case: SUBJECT,
        unit: 'req',
        perSecond: platform.perSecond,
        operations: platform.requests,
        p50Ms: platform.p50Ms,
        p99Ms: platform.p99Ms,
        baseline: BASELINE,
      },
    ];
  },
};
