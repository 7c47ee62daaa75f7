import { describe, expect, it } from 'vitest';

import { formatReport, rateResults, type BenchResult } from './bench.js';
import { ChunkClock, takeEvents } from './inference-router.bench.js';

const chunk = (sentNs: bigint, index: number): string =>
  `data: {"id":"c","object":"chat.completion.chunk","bench_sent_ns":"${sentNs}","choices":[{"index":0,"delta":{"content":" tok${index}"}}]}\n\n`;

describe('takeEvents', () => {
  it('splits complete SSE events off and keeps a partial one', () => {
    expect(takeEvents('data: a\n\ndata: b\n\ndata: c')).toEqual({
      events: ['data: a', 'data: b'],
      rest: 'data: c',
    });
    expect(takeEvents('')).toEqual({ events: [], rest: '' });
  });
});

describe('ChunkClock', () => {
  it('times each token chunk by the read that completed it, and sees the end of the stream', () => {
    const clock = new ChunkClock();
    const first = chunk(1_000_000n, 0);
    clock.push(first.slice(0, 20), 1_100_000n);
    clock.push(first.slice(20), 1_200_000n);
    // Two chunks in one read arrive together: a gap of 0.
    clock.push(chunk(2_000_000n, 1) + chunk(2_500_000n, 2), 3_000_000n);
    clock.push('data: {"choices":[],"usage":{"total_tokens":3}}\n\ndata: [DONE]\n\n', 3_100_000n);

    expect(clock.done).toBe(true);
    expect(clock.sample(500_000n)).toEqual({
      ttftMs: 0.7,
      gapsMs: [1.8, 0],
      transitMs: [0.2, 1, 0.5],
    });
  });
});

describe('added latency in the report', () => {
  it('shows what a case adds to its baseline only for cases that ask, and no throughput for latency-only cases', () => {
    const results: BenchResult[] = [
      { case: 'direct', unit: 'req', perSecond: 1_000, operations: 3_000, p50Ms: 0.1, p99Ms: 0.5 },
      {
        case: 'router',
        unit: 'req',
        perSecond: 500,
        operations: 1_500,
        p50Ms: 0.6,
        p99Ms: 2,
        baseline: 'direct',
        showAdded: true,
      },
      { case: 'ttft direct', unit: 'req', perSecond: Number.NaN, operations: 20, p50Ms: 1, p99Ms: 2 },
      {
        case: 'ttft router',
        unit: 'req',
        perSecond: Number.NaN,
        operations: 20,
        p50Ms: 0.95,
        p99Ms: 4,
        baseline: 'ttft direct',
        showAdded: true,
      },
    ];
    const rated = rateResults('router', results);

    expect(rated[1]).toMatchObject({ ratio: 0.5, addedP50Ms: 0.5, addedP99Ms: 1.5 });
    expect(
      formatReport({
        name: 'router',
        description: 'what against what',
        measuredAt: '2025-01-01T00:00:00.000Z',
        machine: { node: 'v20.20.2', platform: 'linux-x64', cpuModel: 'test cpu', cores: 2 },
        results: rated,
      }).split('\n'),
    ).toEqual([
      'router: what against what',
      '  case           throughput       p50       p99   vs baseline       added p50 / p99',
      '  direct        1,000 req/s   0.10 ms   0.50 ms      baseline',
      '  router          500 req/s   0.60 ms   2.00 ms        0.500×   +0.50 ms / +1.50 ms',
      '  ttft direct             -   1.00 ms   2.00 ms      baseline',
      '  ttft router             -   0.95 ms   4.00 ms             -   -0.05 ms / +2.00 ms',
    ]);
  });
});
