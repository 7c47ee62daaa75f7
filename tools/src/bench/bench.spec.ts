import { describe, expect, it } from 'vitest';

import {
  formatRatio,
  formatRate,
  formatReport,
  mergeResults,
  rateResults,
  selectBenchmarks,
  type Benchmark,
  type BenchmarkReport,
  type BenchResult,
  type MachineNote,
} from './bench.js';
import { percentile, summarizeHttp } from './measure.js';

const MACHINE: MachineNote = { node: 'v20.20.2', platform: 'linux-x64', cpuModel: 'test cpu', cores: 2 };

const RESULTS: BenchResult[] = [
  { case: 'bare', unit: 'req', perSecond: 20_000, operations: 60_000, p50Ms: 0.42, p99Ms: 12.5 },
  {
    case: 'platform',
    unit: 'req',
    perSecond: 5_000,
    operations: 15_000,
    p50Ms: 1.9,
    p99Ms: 25,
    baseline: 'bare',
  },
];

function report(name: string, results: BenchResult[] = RESULTS): BenchmarkReport {
  return {
    name,
    description: 'what against what',
    measuredAt: '2025-01-01T00:00:00.000Z',
    machine: MACHINE,
    results: rateResults(name, results),
  };
}

describe('rateResults', () => {
  it('gives each result naming a baseline its throughput relative to that baseline', () => {
    const rated = rateResults('health', RESULTS);

    expect(rated[0]?.ratio).toBeUndefined();
    expect(rated[1]?.ratio).toBe(0.25);
  });

  it('refuses a baseline that was not measured and a case reported twice', () => {
    expect(() =>
      rateResults('health', [{ ...RESULTS[0], case: 'x', baseline: 'nothing' } as BenchResult]),
    ).toThrow('names a missing baseline "nothing"');
    expect(() => rateResults('health', [RESULTS[0] as BenchResult, RESULTS[0] as BenchResult])).toThrow(
      'reports the same case twice',
    );
  });
});

describe('formatting', () => {
  it('prints one aligned table per benchmark with throughput, latency and the ratio', () => {
    expect(formatReport(report('platform-health')).split('\n')).toEqual([
      'platform-health: what against what',
      '  case         throughput       p50       p99   vs baseline',
      '  bare       20,000 req/s   0.42 ms   12.5 ms      baseline',
      '  platform    5,000 req/s   1.90 ms   25.0 ms        0.250×',
    ]);
  });

  it('keeps three significant digits of small figures and ratios', () => {
    expect(formatRate(1_234_567.8)).toBe('1,234,568');
    expect(formatRate(12.345)).toBe('12.3');
    expect(formatRatio(1 / 3)).toBe('0.333×');
    expect(formatRatio(12.345)).toBe('12.3×');
    expect(formatRatio(Number.NaN)).toBe('-');
  });
});

describe('selectBenchmarks', () => {
  const all: Benchmark[] = ['principal', 'platform-health'].map((name) => ({
    name,
    description: name,
    run: () => Promise.resolve([]),
  }));

  it('runs every benchmark when none is named, else the named ones in registry order', () => {
    expect(selectBenchmarks(all, []).map((b) => b.name)).toEqual(['principal', 'platform-health']);
    expect(selectBenchmarks(all, ['platform-health', 'principal']).map((b) => b.name)).toEqual([
      'principal',
      'platform-health',
    ]);
  });

  it('names an unknown benchmark and lists the known ones', () => {
    expect(() => selectBenchmarks(all, ['nope'])).toThrow(
      'unknown benchmark nope; known: principal, platform-health',
    );
  });
});

describe('mergeResults', () => {
  it('replaces the reports of benchmarks that ran and keeps the others', () => {
    const previous = { benchmarks: [report('principal'), report('platform-health')] };
    const fresh = { ...report('principal'), measuredAt: '2025-02-02T00:00:00.000Z' };

    const merged = mergeResults(previous, [fresh]);

    expect(merged.benchmarks.map((b) => [b.name, b.measuredAt])).toEqual([
      ['platform-health', '2025-01-01T00:00:00.000Z'],
      ['principal', '2025-02-02T00:00:00.000Z'],
    ]);
  });
});

describe('summarizeHttp', () => {
  it('adds up turns and takes percentiles over every request', () => {
    const summary = summarizeHttp([
      { requests: 3, seconds: 1, latenciesMs: [3, 1, 2] },
      { requests: 1, seconds: 1, latenciesMs: [10] },
    ]);

    expect(summary).toEqual({ requests: 4, perSecond: 2, p50Ms: 2, p99Ms: 10 });
    expect(percentile([], 0.5)).toBeNaN();
  });
});
