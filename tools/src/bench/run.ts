import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  formatMachine,
  formatReport,
  machineNote,
  mergeResults,
  rateResults,
  selectBenchmarks,
  type Benchmark,
  type BenchmarkReport,
  type ResultsFile,
} from './bench.js';
import { agentRuntimeBenchmark } from './agent-runtime.bench.js';
import { auditBenchmark } from './audit.bench.js';
import { codeSandboxBenchmark } from './code-sandbox.bench.js';
import { gatewayProxyBenchmark } from './gateway-proxy.bench.js';
import { inferenceRouterBenchmark } from './inference-router.bench.js';
import { platformHealthBenchmark } from './platform-health.bench.js';
import { principalBenchmark } from './principal.bench.js';

/** Every benchmark `make bench` runs, in order. Add new ones here. */
const BENCHMARKS: readonly Benchmark[] = [
  principalBenchmark,
  platformHealthBenchmark,
  gatewayProxyBenchmark,
  inferenceRouterBenchmark,
  agentRuntimeBenchmark,
  codeSandboxBenchmark,
  auditBenchmark,
];

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const RESULTS_FILE = join(ROOT, '.bench', 'results.json');

async function readResults(): Promise<ResultsFile | undefined> {
  try {
    return JSON.parse(await readFile(RESULTS_FILE, 'utf8')) as ResultsFile;
  } catch {
    // Missing or unreadable: this run starts the file afresh.
    return undefined;
  }
}

async function writeResults(results: ResultsFile): Promise<void> {
  await mkdir(dirname(RESULTS_FILE), { recursive: true });
  const temporary = `${RESULTS_FILE}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(results, null, 2)}\n`);
  await rename(temporary, RESULTS_FILE);
}

async function main(): Promise<void> {
  const names = process.argv.slice(2);
  if (names.includes('--help') || names.includes('-h')) {
    process.stdout.write(
      `usage: node tools/dist/bench/run.js [benchmark…]\nbenchmarks: ${BENCHMARKS.map((b) => b.name).join(', ')}\n`,
    );
    return;
  }
  let selected: Benchmark[];
  try {
    selected = selectBenchmarks(BENCHMARKS, names);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exitCode = 2;
    return;
  }

  const machine = machineNote();
  process.stdout.write(`${formatMachine(machine)}\n`);
  const reports: BenchmarkReport[] = [];
  for (const benchmark of selected) {
    process.stdout.write(`\nrunning ${benchmark.name}…\n`);
    const results = rateResults(benchmark.name, await benchmark.run());
    const report: BenchmarkReport = {
      name: benchmark.name,
      description: benchmark.description,
      measuredAt: new Date().toISOString(),
      machine,
      results,
    };
    reports.push(report);
    process.stdout.write(`${formatReport(report)}\n`);
  }
  await writeResults(mergeResults(await readResults(), reports));
  process.stdout.write(`\nwrote ${RESULTS_FILE.slice(ROOT.length + 1)}\n`);
}

await main();
