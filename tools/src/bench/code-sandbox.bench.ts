import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { generateKeySetValue, parseKeySet } from '@aibox/identity';

import type { Benchmark, BenchResult } from './bench.js';
import { identityHeaders, type Identity, type Keys } from './bench-identity.js';
import { freeServicePorts, startChild, waitReady, type ChildTarget } from './child-target.js';
import { takeEvents } from './inference-router.bench.js';
import { percentile } from './measure.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const SERVICE_MAIN = join(ROOT, 'services', 'code-sandbox', 'dist', 'main.js');
const BWRAP = '/usr/bin/bwrap';
const CGROUP_ROOT = '/sys/fs/cgroup';

/** A namespace sandbox with nothing else: what every exec of the `process` runtime costs at least. */
const BWRAP_TRUE = [
  '--unshare-all',
  '--ro-bind',
  '/usr',
  '/usr',
  '--symlink',
  'usr/bin',
  '/bin',
  '--symlink',
  'usr/lib',
  '/lib',
  '--symlink',
  'usr/lib64',
  '/lib64',
  '--proc',
  '/proc',
  '--dev',
  '/dev',
  'true',
];

/** Sandboxes created one at a time (after a few not counted), and `bwrap true` spawns as many. */
const CREATE_WARMUP = 3;
const CREATE_SAMPLES = 30;
/** Execs one at a time on one ready sandbox (after a few not counted), and `bwrap true` spawns as many. */
const EXEC_WARMUP = 10;
const EXEC_SAMPLES = 100;
/** Concurrent clients looping `true` over this many ready sandboxes, after a warm-up not counted. */
const CLIENTS = 16;
const LOAD_SANDBOXES = 4;
const LOAD_WARMUP_S = 0.5;
const LOAD_S = 3;
/** Idle ready sandboxes held at once, created this many at a time. */
const IDLE = 50;
const IDLE_CONCURRENCY = 8;
/** Every sandbox the run creates, all held until the end. */
const HELD = CREATE_WARMUP + CREATE_SAMPLES + IDLE;
/** How long to wait for one sandbox to reach a state. */
const STATE_TIMEOUT_MS = 30_000;

const USER: Identity = { uid: 'bench-user', roles: ['user'], caps: ['sandbox:exec', 'sandbox:manage'] };

type SandboxState = 'pending' | 'provisioning' | 'ready' | 'stopped' | 'deleting' | 'deleted' | 'failed';

interface Client {
  readonly url: string;
  readonly keys: Keys;
}

async function call(client: Client, method: string, path: string, body?: unknown): Promise<unknown> {
  const response = await fetch(`${client.url}${path}`, {
    method,
    headers: {
      ...identityHeaders(USER, client.keys),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: code-sandbox answered ${response.status}: ${text}`);
  return JSON.parse(text) as unknown;
}

/**
 * Follows `/sandboxes/{id}/events` until the sandbox is in `state` (its snapshot says so, or a later
 * `state_changed` does); a sandbox that fails or goes away first is an error. Nothing polls.
 */
async function awaitState(client: Client, id: string, state: SandboxState): Promise<void> {
  const response = await fetch(`${client.url}/sandboxes/${id}/events`, {
    headers: identityHeaders(USER, client.keys),
    signal: AbortSignal.timeout(STATE_TIMEOUT_MS),
  });
  if (!response.ok || response.body === null) {
    throw new Error(`events of sandbox ${id}: code-sandbox answered ${response.status}`);
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let pending = '';
  let snapshotSeq: number | undefined;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`events of sandbox ${id} ended before it was ${state}`);
      const { events, rest } = takeEvents(pending + value);
      pending = rest;
      for (const block of events) {
        const fields = new Map<string, string>();
        for (const line of block.split('\n')) {
          if (line === '' || line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          fields.set(line.slice(0, colon), line.slice(colon + 1).trimStart());
        }
        const type = fields.get('event');
        const data = JSON.parse(fields.get('data') ?? '{}') as {
          sandbox?: { state?: string };
          seq?: number;
          state?: string;
          code?: string;
          message?: string;
        };
        let now: string | undefined;
        if (type === 'snapshot') {
          snapshotSeq = data.seq ?? 0;
          now = data.sandbox?.state;
        } else if (type === 'state_changed' && Number(fields.get('id')) > (snapshotSeq ?? 0)) {
          // Stored events up to the snapshot's sequence are history it already reflects.
          now = data.state;
        }
        if (now === state) return;
        if (now === 'failed' || (now === 'deleted' && state !== 'deleted')) {
          throw new Error(
            `sandbox ${id} is ${now} instead of ${state}${data.code === undefined ? '' : `: ${data.code} ${data.message ?? ''}`}`,
          );
        }
      }
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

/** `POST /sandboxes {}` and its events followed to `ready`: the sandbox's id and the time it took. */
async function createReady(client: Client): Promise<{ id: string; ms: number }> {
  const started = performance.now();
  const created = (await call(client, 'POST', '/sandboxes', {})) as { id?: unknown };
  if (typeof created.id !== 'string')
    throw new Error(`POST /sandboxes answered no id: ${JSON.stringify(created)}`);
  await awaitState(client, created.id, 'ready');
  return { id: created.id, ms: performance.now() - started };
}

/** One `true` through `POST /sandboxes/{id}/execs?wait=true`; anything but a clean exit is an error. */
async function execTrue(client: Client, id: string): Promise<number> {
  const started = performance.now();
  const answer = (await call(client, 'POST', `/sandboxes/${id}/execs?wait=true`, { argv: ['true'] })) as {
    status?: unknown;
    exit_code?: unknown;
  };
  const ms = performance.now() - started;
  if (answer.status !== 'exited' || answer.exit_code !== 0) {
    throw new Error(`exec true in sandbox ${id}: ${JSON.stringify(answer)}`);
  }
  return ms;
}

/** One `bwrap … true` spawned directly, to its exit. */
function bwrapTrue(): Promise<number> {
  return new Promise((done, fail) => {
    const started = performance.now();
    const child = spawn(BWRAP, BWRAP_TRUE, { stdio: 'ignore' });
    child.once('error', fail);
    child.once('exit', (code, signal) => {
      if (code === 0) done(performance.now() - started);
      else fail(new Error(`${BWRAP} ${BWRAP_TRUE.join(' ')} exited ${code ?? signal ?? '?'}`));
    });
  });
}

/** `count` calls of `once`, one at a time: their times. */
async function serial(count: number, once: () => Promise<number>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i += 1) times.push(await once());
  return times;
}

/** `clients` loops of `once(client)` for `seconds`: how many completed, in how long. */
async function load(
  seconds: number,
  clients: number,
  once: (client: number) => Promise<number>,
): Promise<{ count: number; seconds: number; times: number[] }> {
  const times: number[] = [];
  const started = performance.now();
  const end = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      while (performance.now() < end) times.push(await once(client));
    }),
  );
  return { count: times.length, seconds: (performance.now() - started) / 1000, times };
}

/** `task` over every item, `concurrency` at a time; every item is tried, the first failure is thrown. */
async function pool<T, R>(
  items: readonly T[],
  concurrency: number,
  task: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = [];
  const failures: unknown[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const item = items[next] as T;
        next += 1;
        try {
          results.push(await task(item));
        } catch (error) {
          failures.push(error);
        }
      }
    }),
  );
  if (failures.length > 0) throw failures[0];
  return results;
}

function latencyResult(
  name: string,
  unit: 'op' | 'req',
  values: readonly number[],
  baseline?: string,
): BenchResult {
  const order = [...values].sort((a, b) => a - b);
  return {
    case: name,
    unit,
    perSecond: Number.NaN,
    operations: order.length,
    p50Ms: percentile(order, 0.5),
    p99Ms: percentile(order, 0.99),
    ...(baseline === undefined ? {} : { baseline, showAdded: true }),
  };
}

function loadResult(
  name: string,
  unit: 'op' | 'req',
  sample: { count: number; seconds: number; times: number[] },
  baseline?: string,
): BenchResult {
  const order = [...sample.times].sort((a, b) => a - b);
  return {
    case: name,
    unit,
    perSecond: sample.count / sample.seconds,
    operations: sample.count,
    p50Ms: percentile(order, 0.5),
    p99Ms: percentile(order, 0.99),
    ...(baseline === undefined ? {} : { baseline, showAdded: true }),
  };
}

/** The service's pid: this process's child running its `main.js` (`startChild` does not say). */
async function servicePid(): Promise<number> {
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // `pid (comm) state ppid …`: comm may hold spaces and parentheses, so read after the last `)`.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid !== process.pid) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.split('\0').includes(SERVICE_MAIN)) return Number(entry);
  }
  throw new Error('cannot find the code-sandbox process');
}

/** `VmRSS` of a process, in bytes. */
async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
  if (kib === undefined) throw new Error(`/proc/${pid}/status has no VmRSS`);
  return Number(kib) * 1024;
}

/**
 * Preloaded into the service (with `--expose-gc`): a full collection on SIGUSR2, so that its RSS before and
 * after holding sandboxes is compared without the garbage of the moment (boot's is collected mid-run).
 */
const GC_ON_SIGNAL = `process.on('SIGUSR2', () => { globalThis.gc(); });\n`;

/** The service's `VmRSS` once it collected its garbage: the median of a few reads. */
async function settledRss(pid: number): Promise<number> {
  const reads: number[] = [];
  for (let i = 0; i < 3; i += 1) {
    process.kill(pid, 'SIGUSR2');
    await new Promise((done) => setTimeout(done, 300));
    reads.push(await rssBytes(pid));
  }
  return reads.sort((a, b) => a - b)[1] ?? Number.NaN;
}

/** Every directory below `dir`, deepest first, `dir` last; none when it does not exist. */
async function walk(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const below = await Promise.all(
    entries.filter((entry) => entry.isDirectory()).map((entry) => walk(join(dir, entry.name))),
  );
  return existsSync(dir) ? [...below.flat(), dir] : [];
}

async function procsIn(dir: string): Promise<number[]> {
  return (await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => ''))
    .split('\n')
    .filter((pid) => pid !== '')
    .map(Number);
}

/**
 * What one sandbox holds on the host: the processes in its cgroups (v1 `pids`, or v2) and the memory charged
 * to it (v1 `memory.usage_in_bytes`, v2 `memory.current`); undefined memory when there is no memory cgroup.
 */
async function sandboxFootprint(prefix: string, id: string): Promise<{ processes: number; memory?: number }> {
  const v2 = existsSync(join(CGROUP_ROOT, 'cgroup.controllers'));
  const groupOf = (controller: string): string =>
    v2 ? join(CGROUP_ROOT, prefix, id) : join(CGROUP_ROOT, controller, prefix, id);
  const pids = new Set<number>();
  for (const dir of await walk(groupOf('pids'))) for (const pid of await procsIn(dir)) pids.add(pid);
  const memoryFile = join(groupOf('memory'), v2 ? 'memory.current' : 'memory.usage_in_bytes');
  const memory = await readFile(memoryFile, 'utf8').catch(() => undefined);
  return { processes: pids.size, ...(memory === undefined ? {} : { memory: Number(memory.trim()) }) };
}

/**
 * Kills every process left in the cgroups under `prefix` and removes them, deepest first (the logic of
 * code-sandbox's test support, which tools do not import): nothing of the benchmark outlives it.
 */
async function removeCgroups(prefix: string): Promise<void> {
  const tops = (await readdir(CGROUP_ROOT).catch(() => [] as string[])).map((hierarchy) =>
    join(CGROUP_ROOT, hierarchy, prefix),
  );
  if (existsSync(join(CGROUP_ROOT, 'cgroup.controllers'))) tops.push(join(CGROUP_ROOT, prefix));
  for (let round = 0; round < 20; round += 1) {
    let left = 0;
    for (const top of tops) {
      for (const dir of await walk(top)) {
        const pids = await procsIn(dir);
        left += pids.length;
        for (const pid of pids) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // Gone already.
          }
        }
      }
    }
    if (left === 0) break;
    await writeFile(join(CGROUP_ROOT, 'freezer', prefix, 'freezer.state'), 'THAWED').catch(() => undefined);
    await new Promise((done) => setTimeout(done, 50));
  }
  for (const top of tops) {
    for (const dir of await walk(top)) await rmdir(dir).catch(() => undefined);
  }
}

const kib = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`;

/**
 * `code-sandbox`: what the `process` runtime costs over a bare namespace sandbox. The service runs as its own
 * process on loopback with PGlite; requests carry the headers the gateway would stamp. Create-to-ready is
 * `POST /sandboxes {}` until `state_changed` `ready` arrives on the sandbox's event stream (the 11-step
 * pipeline, every step a stored event, and its cgroups); an exec round trip is `POST …/execs?wait=true`
 * `{"argv":["true"]}` (exec row, cgroups, a host shell joining them, bwrap with the full filesystem layout,
 * the exit code read back, `exec_started` / `exec_ended`); both against `bwrap --unshare-all … true` spawned
 * directly. Then execs/s at 16 clients, and what idle ready sandboxes hold: the service's RSS, and the
 * processes and memory in their cgroups.
 */
export const codeSandboxBenchmark: Benchmark = {
  name: 'code-sandbox',
  description: `process runtime (bubblewrap, PGlite, loopback): POST /sandboxes {} to state_changed ready on its event stream (${CREATE_SAMPLES} one at a time) and POST /sandboxes/{id}/execs?wait=true {"argv":["true"]} (${EXEC_SAMPLES} one at a time on one sandbox; ${CLIENTS} clients over ${LOAD_SANDBOXES} sandboxes for ${LOAD_S} s) vs bwrap --unshare-all --ro-bind /usr /usr … true spawned directly as often; then ${IDLE} idle ready sandboxes held: the service's RSS growth, and the processes and memory in their cgroups`,
  async run(): Promise<BenchResult[]> {
    if (!existsSync(BWRAP)) {
      throw new Error(
        `code-sandbox benchmark skipped: ${BWRAP} is missing (the process runtime needs bubblewrap)`,
      );
    }
    if (!existsSync(SERVICE_MAIN)) throw new Error(`${SERVICE_MAIN} is missing: run make build`);
    // Fails here, not a hundred requests in, when this machine cannot create namespaces.
    await bwrapTrue();

    const workDir = await mkdtemp(join(tmpdir(), 'aibox-bench-sandbox-'));
    const prefix = `aibox-bench-${randomBytes(5).toString('hex')}`;
    const principalKeys = generateKeySetValue(['bench-principal']);
    const capKeys = generateKeySetValue(['bench-captoken']);
    const keys: Keys = { principals: parseKeySet(principalKeys), caps: parseKeySet(capKeys) };
    const live = new Set<string>();
    let service: ChildTarget | undefined;
    let client: Client | undefined;
    try {
      const gcScript = join(workDir, 'gc-on-signal.cjs');
      await writeFile(gcScript, GC_ON_SIGNAL);
      service = await startChild({
        name: 'code-sandbox',
        command: process.execPath,
        args: ['--expose-gc', '--require', gcScript, SERVICE_MAIN],
        // Built by hand, so that no DATABASE_URL of the machine leaks in: PGlite.
        env: {
          PATH: process.env['PATH'] ?? '',
          PORT: String(await freeServicePorts()),
          HOST: '127.0.0.1',
          AIBOX_ENV: 'development',
          AIBOX_DATA_DIR: join(workDir, 'data'),
          AIBOX_PRINCIPAL_KEYS: principalKeys,
          AIBOX_CAPTOKEN_KEYS: capKeys,
          SANDBOX_CGROUP_PREFIX: prefix,
          LOG_LEVEL: 'warn',
          // The tenant's quotas would stop the run short of the sandboxes it holds at once.
          SANDBOX_QUOTA_SANDBOXES: String(10 * HELD),
          SANDBOX_QUOTA_CPUS: String(10 * HELD),
          SANDBOX_QUOTA_MEMORY_MB: String(10 * HELD * 1024),
        },
        ready: /^code-sandbox listening (http:\/\/\S+)/,
        stopWith: 'sigterm',
      });
      const url = service.match[1] ?? '';
      await waitReady(`${url}/readyz`);
      const pid = await servicePid();
      const target: Client = { url, keys };
      client = target;
      const create = async (): Promise<number> => {
        const { id, ms } = await createReady(target);
        live.add(id);
        return ms;
      };

      await serial(CREATE_WARMUP, create);
      await serial(CREATE_WARMUP, bwrapTrue);

      // --- idle sandboxes held: first, before the load phases have grown the service's heap ---
      const rssBefore = await settledRss(pid);
      const idle = await pool(
        Array.from({ length: IDLE }, (_, index) => index),
        IDLE_CONCURRENCY,
        async () => {
          const { id } = await createReady(target);
          live.add(id);
          return id;
        },
      );
      const rssAfter = await settledRss(pid);
      const footprints = await Promise.all(idle.map((id) => sandboxFootprint(prefix, id)));
      const processes = footprints.reduce((sum, footprint) => sum + footprint.processes, 0);
      const memory = footprints.every((footprint) => footprint.memory !== undefined)
        ? footprints.reduce((sum, footprint) => sum + (footprint.memory ?? 0), 0)
        : undefined;
      const rssPerSandbox = (rssAfter - rssBefore) / idle.length;

      // --- create to ready, one at a time, against bare namespace sandboxes ---
      const createTimes = await serial(CREATE_SAMPLES, create);
      const createBaseline = await serial(CREATE_SAMPLES, bwrapTrue);

      // --- exec round trips, one at a time on one sandbox ---
      const [execSandbox = '', ...others] = [...live];
      await serial(EXEC_WARMUP, () => execTrue(target, execSandbox));
      await serial(EXEC_WARMUP, bwrapTrue);
      const execTimes = await serial(EXEC_SAMPLES, () => execTrue(target, execSandbox));
      const execBaseline = await serial(EXEC_SAMPLES, bwrapTrue);

      // --- concurrent clients over a few sandboxes, against as many concurrent spawns ---
      const loadSandboxes = [execSandbox, ...others.slice(0, LOAD_SANDBOXES - 1)];
      const loadExec = (index: number): Promise<number> =>
        execTrue(target, loadSandboxes[index % loadSandboxes.length] ?? execSandbox);
      await load(LOAD_WARMUP_S, CLIENTS, loadExec);
      const execLoad = await load(LOAD_S, CLIENTS, loadExec);
      await load(LOAD_WARMUP_S, CLIENTS, bwrapTrue);
      const spawnLoad = await load(LOAD_S, CLIENTS, bwrapTrue);

      // --- every sandbox deleted, through its events ---
      await pool([...live], IDLE_CONCURRENCY, async (id) => {
        await call(target, 'DELETE', `/sandboxes/${id}`);
        await awaitState(target, id, 'deleted');
        live.delete(id);
      });

      const createCase = `create → ready (POST /sandboxes {}, events to state_changed ready)`;
      const execCase = `exec round trip (POST execs?wait=true {"argv":["true"]})`;
      const spawnCase = (count: number): string => `bwrap --unshare-all … true, spawned directly (${count})`;
      const loadCase = `${CLIENTS} clients, execs?wait=true true over ${LOAD_SANDBOXES} sandboxes`;
      const spawnLoadCase = `${CLIENTS} concurrent bwrap … true spawns`;
      return [
        latencyResult(spawnCase(CREATE_SAMPLES), 'op', createBaseline),
        latencyResult(createCase, 'req', createTimes, spawnCase(CREATE_SAMPLES)),
        latencyResult(spawnCase(EXEC_SAMPLES), 'op', execBaseline),
        latencyResult(execCase, 'req', execTimes, spawnCase(EXEC_SAMPLES)),
        loadResult(spawnLoadCase, 'op', spawnLoad),
        loadResult(loadCase, 'req', execLoad, spawnLoadCase),
        // BenchResult has no field for memory: the figures are in the case, the count in `operations`.
        {
          case: `idle ready sandboxes held: ${idle.length} of ${IDLE}`,
          unit: 'op',
          perSecond: Number.NaN,
          operations: idle.length,
        },
        {
          case: `per idle sandbox: service RSS ${rssPerSandbox < 0 ? '-' : '+'}${kib(Math.abs(rssPerSandbox))}, cgroup memory ${memory === undefined ? 'n/a' : kib(memory / idle.length)}, ${processes / idle.length} processes`,
          unit: 'op',
          perSecond: Number.NaN,
          operations: idle.length,
        },
      ];
    } finally {
      // Whatever is left (a failed run) is deleted through the service first, so its rows say so too.
      if (client !== undefined && live.size > 0) {
        const target = client;
        await pool([...live], IDLE_CONCURRENCY, async (id) => {
          await call(target, 'DELETE', `/sandboxes/${id}`);
          await awaitState(target, id, 'deleted');
        }).catch(() => undefined);
      }
      await service?.stop().catch(() => undefined);
      await removeCgroups(prefix);
      await rm(workDir, { recursive: true, force: true });
    }
  },
};
