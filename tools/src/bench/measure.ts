import autocannon from 'autocannon';

import type { BenchResult } from './bench.js';

/** A function measured in a tight loop. */
export interface OpsCase {
  readonly name: string;
  readonly operation: () => unknown;
}

export interface OpsMeasurement {
  readonly name: string;
  readonly operations: number;
  readonly perSecond: number;
}

export interface CompareOpsOptions {
  /** Warm-up time per case, not counted. */
  readonly warmupMs: number;
  /** Measured time per case per round. */
  readonly roundMs: number;
  /** Rounds; the cases take turns within each. */
  readonly rounds: number;
}

/** Calls between two clock reads: the clock costs tens of nanoseconds, the cheapest case about a microsecond. */
const BATCH = 64;

function runFor(operation: () => unknown, ms: number): { operations: number; elapsedNs: bigint } {
  const start = process.hrtime.bigint();
  const end = start + BigInt(Math.round(ms * 1e6));
  let operations = 0;
  let now = start;
  while (now < end) {
    for (let i = 0; i < BATCH; i += 1) {
      operation();
    }
    operations += BATCH;
    now = process.hrtime.bigint();
  }
  return { operations, elapsedNs: now - start };
}

/**
 * Measures each case's operations per second after a warm-up, the cases taking turns round by round so that
 * a busier moment of a shared machine weighs on every case alike.
 */
export function compareOps(cases: readonly OpsCase[], options: CompareOpsOptions): OpsMeasurement[] {
  for (const { operation } of cases) {
    runFor(operation, options.warmupMs);
  }
  const totals = cases.map(() => ({ operations: 0, elapsedNs: 0n }));
  for (let round = 0; round < options.rounds; round += 1) {
    cases.forEach(({ operation }, index) => {
      const { operations, elapsedNs } = runFor(operation, options.roundMs);
      const total = totals[index];
      if (total !== undefined) {
        total.operations += operations;
        total.elapsedNs += elapsedNs;
      }
    });
  }
  return cases.map(({ name }, index) => {
    const total = totals[index] ?? { operations: 0, elapsedNs: 1n };
    return {
      name,
      operations: total.operations,
      perSecond: total.operations / (Number(total.elapsedNs) / 1e9),
    };
  });
}

/** The value below which `fraction` of the sorted samples fall (nearest rank). */
export function percentile(sorted: readonly number[], fraction: number): number {
  if (sorted.length === 0) {
    return Number.NaN;
  }
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(fraction * sorted.length)));
  return sorted[rank - 1] ?? Number.NaN;
}

export interface HttpLoadOptions {
  readonly connections: number;
  readonly durationSeconds: number;
  /** `GET` unless set. */
  readonly method?: 'GET' | 'POST';
  /** Sent with every request (an `Authorization` header, a content type). */
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
}

/** One load run: how many requests completed in how long, and each one's latency. */
export interface HttpSample {
  readonly requests: number;
  readonly seconds: number;
  readonly latenciesMs: readonly number[];
}

export interface HttpMeasurement {
  readonly requests: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/**
 * Loads `url` with requests (GET unless `method` says otherwise) from `connections` keep-alive connections for `durationSeconds` (autocannon,
 * in this process). Any error or non-2xx answer fails the measurement, since a benchmark of failures
 * measures nothing.
 */
export async function loadHttp(url: string, options: HttpLoadOptions): Promise<HttpSample> {
  const latenciesMs: number[] = [];
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url,
        connections: options.connections,
        duration: options.durationSeconds,
        pipelining: 1,
        method: options.method ?? 'GET',
        ...(options.headers === undefined ? {} : { headers: { ...options.headers } }),
        ...(options.body === undefined ? {} : { body: options.body }),
      },
      (error: unknown, outcome: autocannon.Result) => {
        if (error !== null && error !== undefined) {
          reject(error instanceof Error ? error : new Error(`autocannon failed on ${url}`, { cause: error }));
        } else {
          resolve(outcome);
        }
      },
    );
    // autocannon's own histogram has 1 ms resolution, too coarse on loopback; these times are fractional.
    instance.on('response', (_client, _status, _bytes, responseTime) => {
      latenciesMs.push(responseTime);
    });
  });
  if (result.errors > 0 || result.non2xx > 0) {
    throw new Error(
      `${url}: ${result.errors} connection errors and ${result.non2xx} non-2xx answers under load`,
    );
  }
  return { requests: latenciesMs.length, seconds: result.duration, latenciesMs };
}

/** Throughput over all samples together, and latency percentiles over all their requests. */
export function summarizeHttp(samples: readonly HttpSample[]): HttpMeasurement {
  const requests = samples.reduce((sum, sample) => sum + sample.requests, 0);
  const seconds = samples.reduce((sum, sample) => sum + sample.seconds, 0);
  const latencies = samples.flatMap((sample) => sample.latenciesMs).sort((a, b) => a - b);
  return {
    requests,
    perSecond: seconds > 0 ? requests / seconds : Number.NaN,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
  };
}

/**
 * The result of an HTTP case from its samples: throughput and latency, compared with `baseline` when given
 * (and, with `showAdded`, also by the latency it adds to the baseline's).
 */
export function httpResult(
  name: string,
  samples: readonly HttpSample[],
  baseline?: string,
  showAdded = false,
): BenchResult {
  const summary = summarizeHttp(samples);
  return {
    case: name,
    unit: 'req',
    perSecond: summary.perSecond,
    operations: summary.requests,
    p50Ms: summary.p50Ms,
    p99Ms: summary.p99Ms,
    ...(baseline === undefined ? {} : { baseline, ...(showAdded ? { showAdded } : {}) }),
  };
}
