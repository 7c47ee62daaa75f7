import { availableParallelism, cpus } from 'node:os';

/** One measured case of a benchmark. */
export interface BenchResult {
  /** What was measured, e.g. `signPrincipal + verifyPrincipal`; unique within its benchmark. */
  readonly case: string;
  /** What one operation is: `op` (a function call) or `req` (an HTTP request). */
  readonly unit: 'op' | 'req';
  /** Throughput: operations (or requests) per second; `NaN` for a case that measures only latency. */
  readonly perSecond: number;
  /** How many operations the figure is based on. */
  readonly operations: number;
  /** Latency percentiles in milliseconds, when the benchmark measures latency. */
  readonly p50Ms?: number;
  readonly p99Ms?: number;
  /** The `case` of the result in the same benchmark this one is compared with; a baseline has none. */
  readonly baseline?: string;
  /**
   * Also compare latency: the report shows how many milliseconds this case adds to its baseline's p50 and
   * p99 (what a hop adds), in a column that only reports with such a case have.
   */
  readonly showAdded?: boolean;
}

/** A benchmark module: `run()` measures its cases, baselines included, in one process run. */
export interface Benchmark {
  /** Short name, used on the command line (`node tools/dist/bench/run.js principal`). */
  readonly name: string;
  /** One line saying what is measured against what. */
  readonly description: string;
  run(): Promise<BenchResult[]>;
}

/** A result with its throughput relative to its baseline's (`perSecond / baseline.perSecond`). */
export interface RatedResult extends BenchResult {
  readonly ratio?: number;
  /** `p50Ms - baseline.p50Ms` and `p99Ms - baseline.p99Ms`, for a result with `showAdded`. */
  readonly addedP50Ms?: number;
  readonly addedP99Ms?: number;
}

export interface BenchmarkReport {
  readonly name: string;
  readonly description: string;
  readonly measuredAt: string;
  /** The machine it ran on: the figures mean nothing without it. */
  readonly machine: MachineNote;
  readonly results: readonly RatedResult[];
}

/** The machine a run happened on. */
export interface MachineNote {
  readonly node: string;
  readonly platform: string;
  readonly cpuModel: string;
  readonly cores: number;
}

/** `.bench/results.json`: the latest report of every benchmark that has run. */
export interface ResultsFile {
  readonly benchmarks: readonly BenchmarkReport[];
}

export function machineNote(): MachineNote {
  return {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    cores: availableParallelism(),
  };
}

/** Adds `ratio` to every result that names a baseline; an unknown baseline is a mistake in the benchmark. */
export function rateResults(benchmark: string, results: readonly BenchResult[]): RatedResult[] {
  const byCase = new Map(results.map((result) => [result.case, result]));
  if (byCase.size !== results.length) {
    throw new Error(`benchmark ${benchmark} reports the same case twice`);
  }
  return results.map((result) => {
    if (result.baseline === undefined) {
      return result;
    }
    const baseline = byCase.get(result.baseline);
    if (baseline === undefined) {
      throw new Error(
        `benchmark ${benchmark}: case "${result.case}" names a missing baseline "${result.baseline}"`,
      );
    }
    const ratio = baseline.perSecond > 0 ? result.perSecond / baseline.perSecond : Number.NaN;
    if (result.showAdded !== true) {
      return { ...result, ratio };
    }
    return {
      ...result,
      ratio,
      ...(result.p50Ms === undefined || baseline.p50Ms === undefined
        ? {}
        : { addedP50Ms: result.p50Ms - baseline.p50Ms }),
      ...(result.p99Ms === undefined || baseline.p99Ms === undefined
        ? {}
        : { addedP99Ms: result.p99Ms - baseline.p99Ms }),
    };
  });
}

/** `1,234,567` for large figures, three significant digits below 100. */
export function formatRate(perSecond: number): string {
  if (!Number.isFinite(perSecond)) {
    return '-';
  }
  if (perSecond >= 100) {
    return Math.round(perSecond).toLocaleString('en-US');
  }
  return perSecond.toPrecision(3);
}

export function formatMs(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) {
    return '-';
  }
  return `${ms < 10 ? ms.toFixed(2) : ms.toFixed(1)} ms`;
}

/** `0.412×` / `1.50×` / `23.1×`: three significant digits of throughput relative to the baseline. */
export function formatRatio(ratio: number | undefined): string {
  if (ratio === undefined) {
    return 'baseline';
  }
  if (!Number.isFinite(ratio)) {
    return '-';
  }
  return `${ratio.toPrecision(3)}×`;
}

/** `+0.42 ms` / `-0.03 ms`: latency added to a baseline's. */
export function formatAddedMs(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) {
    return '-';
  }
  return `${ms < 0 ? '-' : '+'}${formatMs(Math.abs(ms))}`;
}

/**
 * A plain-text table of one benchmark's results, the header line naming it; an `added p50 / p99` column when
 * some result compares latency (`showAdded`).
 */
export function formatReport(report: BenchmarkReport): string {
  const added = report.results.some((result) => result.showAdded === true);
  const rows = report.results.map((result) => [
    result.case,
    Number.isFinite(result.perSecond) ? `${formatRate(result.perSecond)} ${result.unit}/s` : '-',
    formatMs(result.p50Ms),
    formatMs(result.p99Ms),
    formatRatio(result.ratio),
    ...(added
      ? [
          result.showAdded === true
            ? `${formatAddedMs(result.addedP50Ms)} / ${formatAddedMs(result.addedP99Ms)}`
            : '',
        ]
      : []),
  ]);
  const header = ['case', 'throughput', 'p50', 'p99', 'vs baseline', ...(added ? ['added p50 / p99'] : [])];
  const table = [header, ...rows];
  const widths = header.map((_, column) => Math.max(...table.map((row) => (row[column] ?? '').length)));
  const lines = table.map((row) =>
    row
      .map((cell, column) =>
        column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0),
      )
      .join('   ')
      .trimEnd(),
  );
  return [`${report.name}: ${report.description}`, ...lines.map((line) => `  ${line}`)].join('\n');
}

/** Picks the benchmarks named on the command line (all of them when none is named), in registry order. */
export function selectBenchmarks(all: readonly Benchmark[], names: readonly string[]): Benchmark[] {
  const unknown = names.filter((name) => !all.some((benchmark) => benchmark.name === name));
  if (unknown.length > 0) {
    throw new Error(
      `unknown benchmark ${unknown.join(', ')}; known: ${all.map((benchmark) => benchmark.name).join(', ')}`,
    );
  }
  return names.length === 0 ? [...all] : all.filter((benchmark) => names.includes(benchmark.name));
}

/** The results file after a run: this run's reports replace earlier ones of the same benchmarks. */
export function mergeResults(
  previous: ResultsFile | undefined,
  reports: readonly BenchmarkReport[],
): ResultsFile {
  const ran = new Set(reports.map((report) => report.name));
  const kept = (previous?.benchmarks ?? []).filter((report) => !ran.has(report.name));
  return { benchmarks: [...kept, ...reports] };
}

/** A machine note in one line, for the top of a run's output. */
export function formatMachine(machine: MachineNote): string {
  return `node ${machine.node} on ${machine.platform}, ${machine.cores} cores (${machine.cpuModel})`;
}
