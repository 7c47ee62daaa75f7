import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import Docker from 'dockerode';

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
const DOCKER_SOCKET = '/var/run/docker.sock';
const IMAGE = 'aibox/sandbox:latest';

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

type RuntimeName = 'process' | 'docker' | 'gvisor';

/** How much of each measurement a runtime gets: containers take far longer, so they get fewer samples. */
interface Plan {
  readonly runtime: RuntimeName;
  /** Creates not counted, then creates to `ready` one at a time, cold and from the warm pool. */
  readonly createWarmup: number;
  readonly createSamples: number;
  /** Execs one at a time on one ready sandbox, after a few not counted. */
  readonly execWarmup: number;
  readonly execSamples: number;
  /** Idle ready sandboxes held at once, created this many at a time. */
  readonly idle: number;
  readonly idleConcurrency: number;
  /** The bare isolation its sandboxes are measured against, spawned as often one at a time. */
  readonly baselineCase: string;
  readonly baselineSamples: number;
  baseline(): Promise<number>;
}

/** Concurrent clients looping `true` over this many ready sandboxes, after a warm-up not counted. */
const CLIENTS = 16;
const LOAD_SANDBOXES = 4;
const LOAD_WARMUP_S = 0.5;
const LOAD_S = 3;
/** Entries per warm pool; each pooled sample is taken with its pool full (no fill running). */
const POOL_SIZE = 2;
/** A claim with limits other than the pool's, which the claim applies to the entry. */
const OWN_LIMITS = { resources: { memory_mb: 256, cpus: 0.5, pids: 128 } } as const;
/** How long to wait for one sandbox to reach a state, and for a pool to fill. */
const STATE_TIMEOUT_MS = 60_000;
const POOL_TIMEOUT_MS = 120_000;
/** Every sandbox the run may hold at once, for the tenant's quotas. */
const MOST_HELD = 200;

const USER: Identity = { uid: 'bench-user', roles: ['user'], caps: ['sandbox:exec', 'sandbox:manage'] };
const ADMIN: Identity = {
  uid: 'bench-admin',
  roles: ['user', 'admin'],
  caps: ['sandbox:exec', 'sandbox:manage'],
};

type SandboxState = 'pending' | 'provisioning' | 'ready' | 'stopped' | 'deleting' | 'deleted' | 'failed';

interface Client {
  readonly url: string;
  readonly keys: Keys;
}

async function call(
  client: Client,
  method: string,
  path: string,
  body?: unknown,
  who: Identity = USER,
): Promise<unknown> {
  const response = await fetch(`${client.url}${path}`, {
    method,
    headers: {
      ...identityHeaders(who, client.keys),
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
 * `state_changed` does); a sandbox that fails or goes away first is an error. Nothing polls. When it got
 * there (`performance.now()`), and whether its CreateSandbox step said it was claimed from the warm pool:
 * after a snapshot already in `state`, the stored events it reflects are still read for that.
 */
async function awaitState(
  client: Client,
  id: string,
  state: SandboxState,
): Promise<{ at: number; claimed: boolean }> {
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
  let claimed = false;
  let at: number | undefined;
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
          step?: string;
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
        } else if (type === 'provisioning_step' && data.step === 'CreateSandbox') {
          claimed ||= (data.message ?? '').includes('claimed from the warm pool');
        }
        if (now === state) at ??= performance.now();
        if (at !== undefined && Number(fields.get('id') ?? 0) >= (snapshotSeq ?? 0)) return { at, claimed };
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

/** `POST /sandboxes {runtime, …spec}` and its events followed to `ready`: its id, the time it took, and how it began. */
async function createReady(
  client: Client,
  runtime: RuntimeName,
  spec: Readonly<Record<string, unknown>> = {},
): Promise<{ id: string; ms: number; claimed: boolean }> {
  const started = performance.now();
  const created = (await call(client, 'POST', '/sandboxes', { ...spec, runtime })) as { id?: unknown };
  if (typeof created.id !== 'string')
    throw new Error(`POST /sandboxes answered no id: ${JSON.stringify(created)}`);
  const { at, claimed } = await awaitState(client, created.id, 'ready');
  return { id: created.id, ms: at - started, claimed };
}

async function deleteSandbox(client: Client, id: string): Promise<void> {
  await call(client, 'DELETE', `/sandboxes/${id}`);
  await awaitState(client, id, 'deleted');
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

/**
 * `docker run --rm [--runtime=runsc] IMAGE true` through the Engine API: create, start, wait for the exit,
 * remove; the time to that point. The removal is asked for here rather than by `AutoRemove`, so that no wait
 * can miss a container the daemon already removed.
 */
async function dockerRunTrue(docker: Docker, label: string, runsc: boolean): Promise<number> {
  const started = performance.now();
  const container = await docker.createContainer({
    Image: IMAGE,
    Cmd: ['true'],
    Labels: { [label]: '1' },
    NetworkDisabled: true,
    HostConfig: { NetworkMode: 'none', ...(runsc ? { Runtime: 'runsc' } : {}) },
  });
  try {
    await container.start();
    const { StatusCode } = (await container.wait()) as { StatusCode?: number };
    if (StatusCode !== 0) {
      throw new Error(
        `docker run ${runsc ? '--runtime=runsc ' : ''}${IMAGE} true exited ${String(StatusCode)}`,
      );
    }
  } finally {
    await container.remove({ force: true, v: true });
  }
  return performance.now() - started;
}

/** `count` calls of `once`, one at a time: what each gave. */
async function serial<T>(count: number, once: () => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  for (let i = 0; i < count; i += 1) results.push(await once());
  return results;
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

/**
 * Sandboxes or spawns one at a time: latency, and as throughput the count over the time they took together
 * (what one caller gets), so that the ratio to the baseline reads like the others.
 */
function serialResult(
  name: string,
  unit: 'op' | 'req',
  values: readonly number[],
  baseline?: string,
): BenchResult {
  const order = [...values].sort((a, b) => a - b);
  const totalMs = order.reduce((sum, value) => sum + value, 0);
  return {
    case: name,
    unit,
    perSecond: totalMs > 0 ? (order.length * 1000) / totalMs : Number.NaN,
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

/** A result that is only a note: `BenchResult` has no field for memory, so the figures are in the case. */
function note(text: string, operations: number): BenchResult {
  return { case: text, unit: 'op', perSecond: Number.NaN, operations };
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

/** `MemAvailable` of the machine, in bytes. */
async function memAvailable(): Promise<number> {
  const kib = /^MemAvailable:\s+(\d+) kB$/m.exec(await readFile('/proc/meminfo', 'utf8'))?.[1];
  return kib === undefined ? Number.NaN : Number(kib) * 1024;
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

interface Footprint {
  readonly processes: number;
  /** Bytes charged to it, page cache of inactive files left out (as `docker stats` shows it); unknown: undefined. */
  readonly memory?: number;
  /** A container's containerd shim (one host process each, outside its cgroup): its proportional set size. */
  readonly shim?: number;
}

/**
 * The proportional set size of the `containerd-shim*` process serving a container (`-id <container id>`), in
 * bytes; 0 when there is none to read.
 */
async function shimPss(containerId: string): Promise<number> {
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = (await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (!(cmdline[0] ?? '').includes('containerd-shim') || !cmdline.includes(containerId)) continue;
    const rollup = await readFile(`/proc/${entry}/smaps_rollup`, 'utf8').catch(() => '');
    return Number(/^Pss:\s+(\d+) kB$/m.exec(rollup)?.[1] ?? 0) * 1024;
  }
  return 0;
}

/** Memory charged to a cgroup (v1 `memory.usage_in_bytes`, v2 `memory.current`) minus inactive file pages. */
async function cgroupMemory(dir: string, v2: boolean): Promise<number | undefined> {
  const usage = await readFile(join(dir, v2 ? 'memory.current' : 'memory.usage_in_bytes'), 'utf8').catch(
    () => undefined,
  );
  if (usage === undefined) return undefined;
  const stat = await readFile(join(dir, 'memory.stat'), 'utf8').catch(() => '');
  const inactive = new RegExp(`^${v2 ? 'inactive_file' : 'total_inactive_file'} (\\d+)$`, 'm').exec(
    stat,
  )?.[1];
  return Number(usage.trim()) - Number(inactive ?? 0);
}

/** What one `process` sandbox holds on the host: the processes in its cgroups and the memory charged to them. */
async function processFootprint(prefix: string, id: string): Promise<Footprint> {
  const v2 = existsSync(join(CGROUP_ROOT, 'cgroup.controllers'));
  const groupOf = (controller: string): string =>
    v2 ? join(CGROUP_ROOT, prefix, id) : join(CGROUP_ROOT, controller, prefix, id);
  const pids = new Set<number>();
  for (const dir of await walk(groupOf('pids'))) for (const pid of await procsIn(dir)) pids.add(pid);
  const memory = await cgroupMemory(groupOf('memory'), v2);
  return { processes: pids.size, ...(memory === undefined ? {} : { memory }) };
}

/**
 * What one container sandbox holds: its cgroup as Docker's cgroupfs or systemd driver names it (v1 or v2),
 * else the Engine's stats. Under gVisor this is the sandbox kernel (Sentry) and its gofer, not the programs.
 */
async function containerFootprint(docker: Docker, sandboxId: string): Promise<Footprint> {
  const container = docker.getContainer(`aibox-sandbox-${sandboxId}`);
  const { Id } = await container.inspect();
  const shim = await shimPss(Id);
  const v2 = existsSync(join(CGROUP_ROOT, 'cgroup.controllers'));
  const scopes = v2
    ? [join(CGROUP_ROOT, 'docker', Id), join(CGROUP_ROOT, 'system.slice', `docker-${Id}.scope`)]
    : [join('docker', Id), join('system.slice', `docker-${Id}.scope`)];
  for (const scope of scopes) {
    const memoryDir = v2 ? scope : join(CGROUP_ROOT, 'memory', scope);
    const memory = await cgroupMemory(memoryDir, v2);
    if (memory === undefined) continue;
    const processes = await procsIn(v2 ? scope : join(CGROUP_ROOT, 'pids', scope));
    return { processes: processes.length, memory, shim };
  }
  const stats = (await container.stats({ stream: false })) as {
    memory_stats?: { usage?: number; stats?: Record<string, number> };
    pids_stats?: { current?: number };
  };
  const usage = stats.memory_stats?.usage;
  const inactive =
    stats.memory_stats?.stats?.['total_inactive_file'] ?? stats.memory_stats?.stats?.['inactive_file'];
  return {
    processes: stats.pids_stats?.current ?? 0,
    shim,
    ...(usage === undefined ? {} : { memory: usage - (inactive ?? 0) }),
  };
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

/** Removes every container carrying `label` (the service's sandboxes and pool entries, the baselines). */
async function removeContainers(docker: Docker, label: string): Promise<void> {
  const containers = await docker.listContainers({ all: true, filters: { label: [label] } });
  await Promise.all(
    containers.map((info) =>
      docker
        .getContainer(info.Id)
        .remove({ force: true, v: true })
        .catch(() => undefined),
    ),
  );
}

/** Whether the Docker daemon answers, has the image, and (for gVisor) has runsc registered. */
async function containerRuntimes(docker: Docker): Promise<RuntimeName[]> {
  try {
    await docker.ping();
    await docker.getImage(IMAGE).inspect();
  } catch {
    return [];
  }
  const info = (await docker.info()) as { Runtimes?: Record<string, unknown> };
  return info.Runtimes !== undefined && 'runsc' in info.Runtimes ? ['docker', 'gvisor'] : ['docker'];
}

const kib = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`;
const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

interface Service {
  readonly client: Client;
  readonly pid: number;
  stop(): Promise<void>;
}

/**
 * `code-sandbox`, every runtime this machine has, in one run. For each: create-to-ready cold and from the
 * warm pool, exec round trips of `true` one at a time and from 16 clients, and what idle ready sandboxes
 * hold; next to the bare isolation each is built on (`bwrap … true`, `docker run --rm IMAGE true` with runc
 * or runsc). The service runs as its own process on loopback with PGlite; requests carry the headers the
 * gateway would stamp.
 */
export const codeSandboxBenchmark: Benchmark = {
  name: 'code-sandbox',
  description: `every runtime present (process: bubblewrap; docker: runc; gvisor: runsc), PGlite, loopback: POST /sandboxes {runtime} to state_changed ready on its event stream, cold and claimed from a full warm pool of ${POOL_SIZE} (with the pool's limits, and for process and docker with its own), one at a time; POST /sandboxes/{id}/execs?wait=true {"argv":["true"]} one at a time on one sandbox and from ${CLIENTS} clients over ${LOAD_SANDBOXES} sandboxes for ${LOAD_S} s; idle ready sandboxes held (their cgroup or container memory, a container's containerd shim by PSS, the service's RSS growth); each against bwrap --unshare-all … true (process) or docker run --rm ${IMAGE} true through the Engine API (runc, runsc) one at a time and ${CLIENTS} at once. process: 30 creates, 100 execs, 50 idle; docker: 15, 30, 10; gvisor: 12, 20, 8`,
  async run(): Promise<BenchResult[]> {
    if (!existsSync(BWRAP)) {
      throw new Error(
        `code-sandbox benchmark skipped: ${BWRAP} is missing (the process runtime needs bubblewrap)`,
      );
    }
    if (!existsSync(SERVICE_MAIN)) throw new Error(`${SERVICE_MAIN} is missing: run make build`);
    // Fails here, not a hundred requests in, when this machine cannot create namespaces.
    await bwrapTrue();

    const docker = new Docker({ socketPath: DOCKER_SOCKET });
    const workDir = await mkdtemp(join(tmpdir(), 'aibox-bench-sandbox-'));
    const tag = randomBytes(5).toString('hex');
    const prefix = `aibox-bench-${tag}`;
    const containerLabel = `aibox.bench-${tag}`;
    const baselineLabel = `${containerLabel}.baseline`;
    const principalKeys = generateKeySetValue(['bench-principal']);
    const capKeys = generateKeySetValue(['bench-captoken']);
    const keys: Keys = { principals: parseKeySet(principalKeys), caps: parseKeySet(capKeys) };
    const gcScript = join(workDir, 'gc-on-signal.cjs');
    await writeFile(gcScript, GC_ON_SIGNAL);

    const plans: Plan[] = [
      {
        runtime: 'process',
        createWarmup: 3,
        createSamples: 30,
        execWarmup: 10,
        execSamples: 100,
        idle: 50,
        idleConcurrency: 8,
        baselineCase: 'bwrap --unshare-all … true, spawned directly',
        baselineSamples: 100,
        baseline: bwrapTrue,
      },
    ];
    for (const runtime of await containerRuntimes(docker)) {
      const runsc = runtime === 'gvisor';
      plans.push({
        runtime,
        createWarmup: 2,
        createSamples: runsc ? 12 : 15,
        execWarmup: 3,
        execSamples: runsc ? 20 : 30,
        idle: runsc ? 8 : 10,
        idleConcurrency: 2,
        baselineCase: `docker run --rm ${runsc ? '--runtime=runsc ' : ''}${IMAGE} true (Engine API)`,
        baselineSamples: runsc ? 12 : 15,
        baseline: () => dockerRunTrue(docker, baselineLabel, runsc),
      });
    }

    const services: ChildTarget[] = [];
    const live = new Map<string, Client>();
    /** The service on a fresh data dir; with `pools`, a warm pool of each. */
    const startService = async (name: string, pools: readonly RuntimeName[]): Promise<Service> => {
      const child = await startChild({
        name: 'code-sandbox',
        command: process.execPath,
        args: ['--expose-gc', '--require', gcScript, SERVICE_MAIN],
        // Built by hand, so that no DATABASE_URL of the machine leaks in: PGlite.
        env: {
          PATH: process.env['PATH'] ?? '',
          PORT: String(await freeServicePorts()),
          HOST: '127.0.0.1',
          AIBOX_ENV: 'development',
          AIBOX_DATA_DIR: join(workDir, name),
          AIBOX_PRINCIPAL_KEYS: principalKeys,
          AIBOX_CAPTOKEN_KEYS: capKeys,
          SANDBOX_CGROUP_PREFIX: prefix,
          SANDBOX_CONTAINER_LABEL: containerLabel,
          SANDBOX_POOL: pools.map((runtime) => `${runtime}=${POOL_SIZE}`).join(','),
          LOG_LEVEL: 'warn',
          // The tenant's quotas would stop the run short of the sandboxes it holds at once.
          SANDBOX_QUOTA_SANDBOXES: String(MOST_HELD),
          SANDBOX_QUOTA_CPUS: String(MOST_HELD),
          SANDBOX_QUOTA_MEMORY_MB: String(MOST_HELD * 1024),
        },
        ready: /^code-sandbox listening (http:\/\/\S+)/,
        stopWith: 'sigterm',
      });
      services.push(child);
      const url = child.match[1] ?? '';
      await waitReady(`${url}/readyz`);
      return { client: { url, keys }, pid: await servicePid(), stop: () => child.stop() };
    };
    const create = async (
      client: Client,
      runtime: RuntimeName,
      spec: Readonly<Record<string, unknown>> = {},
    ): Promise<{ ms: number; claimed: boolean }> => {
      const made = await createReady(client, runtime, spec);
      live.set(made.id, client);
      return made;
    };
    const removeAll = async (client: Client): Promise<void> => {
      const ids = [...live].filter(([, owner]) => owner === client).map(([id]) => id);
      await pool(ids, 4, async (id) => {
        await deleteSandbox(client, id);
        live.delete(id);
      });
    };

    const results: BenchResult[] = [];
    try {
      // --- cold: every runtime in turn on a service without a pool ---
      const cold = await startService('cold', []);
      for (const plan of plans) {
        const { runtime } = plan;
        const tagged = (text: string): string => `[${runtime}] ${text}`;
        const baselineCase = tagged(`${plan.baselineCase} (${plan.baselineSamples})`);
        const baselineLoadCase = tagged(`${CLIENTS} concurrent ${plan.baselineCase}`);
        await serial(plan.createWarmup, async () => (await create(cold.client, runtime)).ms);
        await serial(2, () => plan.baseline());

        // Idle sandboxes held: first, before the load phases have grown the service's heap.
        const rssBefore = await settledRss(cold.pid);
        const idle = await pool(
          Array.from({ length: plan.idle }, (_, index) => index),
          plan.idleConcurrency,
          async () => {
            const made = await createReady(cold.client, runtime);
            live.set(made.id, cold.client);
            return made.id;
          },
        );
        const rssAfter = await settledRss(cold.pid);
        const footprints = await Promise.all(
          idle.map((id) =>
            runtime === 'process' ? processFootprint(prefix, id) : containerFootprint(docker, id),
          ),
        );
        const processes = footprints.reduce((sum, footprint) => sum + footprint.processes, 0) / idle.length;
        const memory = footprints.every((footprint) => footprint.memory !== undefined)
          ? footprints.reduce((sum, footprint) => sum + (footprint.memory ?? 0), 0) / idle.length
          : undefined;
        const shim = footprints.reduce((sum, footprint) => sum + (footprint.shim ?? 0), 0) / idle.length;
        const rssEach = (rssAfter - rssBefore) / idle.length;
        const available = await memAvailable();
        const costEach = Math.max(0, rssEach) + (memory ?? 0) + shim;

        const createTimes = (await serial(plan.createSamples, () => create(cold.client, runtime))).map(
          (made) => made.ms,
        );
        const baselineTimes = await serial(plan.baselineSamples, () => plan.baseline());

        const ready = [...live].filter(([, owner]) => owner === cold.client).map(([id]) => id);
        const [execSandbox = '', ...others] = ready;
        await serial(plan.execWarmup, () => execTrue(cold.client, execSandbox));
        const execTimes = await serial(plan.execSamples, () => execTrue(cold.client, execSandbox));

        const loadSandboxes = [execSandbox, ...others.slice(0, LOAD_SANDBOXES - 1)];
        const loadExec = (index: number): Promise<number> =>
          execTrue(cold.client, loadSandboxes[index % loadSandboxes.length] ?? execSandbox);
        await load(LOAD_WARMUP_S, CLIENTS, loadExec);
        const execLoad = await load(LOAD_S, CLIENTS, loadExec);
        await load(LOAD_WARMUP_S, CLIENTS, () => plan.baseline());
        const baselineLoad = await load(LOAD_S, CLIENTS, () => plan.baseline());

        await removeAll(cold.client);

        results.push(
          serialResult(baselineCase, 'op', baselineTimes),
          serialResult(
            tagged(`create → ready, cold (${plan.createSamples}, POST /sandboxes to state_changed ready)`),
            'req',
            createTimes,
            baselineCase,
          ),
          serialResult(
            tagged(`exec round trip (${plan.execSamples}, POST execs?wait=true {"argv":["true"]})`),
            'req',
            execTimes,
            baselineCase,
          ),
          loadResult(baselineLoadCase, 'op', baselineLoad),
          loadResult(
            tagged(`${CLIENTS} clients, execs?wait=true true over ${LOAD_SANDBOXES} sandboxes`),
            'req',
            execLoad,
            baselineLoadCase,
          ),
          note(tagged(`idle ready sandboxes held: ${idle.length} of ${plan.idle}`), idle.length),
          note(
            tagged(
              `per idle sandbox: ${runtime === 'process' ? 'cgroup' : 'container'} memory ${memory === undefined ? 'n/a' : mib(memory)}${runtime === 'process' ? '' : ` + containerd shim ${mib(shim)} (PSS)`}, service RSS ${rssEach < 0 ? '-' : '+'}${kib(Math.abs(rssEach))}, ${processes.toFixed(1)} processes; MemAvailable ${mib(available)} fits ≈${costEach > 0 ? Math.floor(available / costEach).toLocaleString('en-US') : '∞'} more by memory alone`,
            ),
            idle.length,
          ),
        );
      }
      await cold.stop();

      // --- from the warm pool: a service with a pool of each runtime, every sample taken with its pool full ---
      const warm = await startService(
        'warm',
        plans.map((plan) => plan.runtime),
      );
      /** Every pool full: no fill (a container being made) competes with the create measured. */
      const poolsFull = async (): Promise<void> => {
        const deadline = Date.now() + POOL_TIMEOUT_MS;
        for (;;) {
          const { pools } = (await call(warm.client, 'GET', '/pool', undefined, ADMIN)) as {
            pools: { runtime: string; size: number; ready: number; filling: number }[];
          };
          if (pools.every((one) => one.ready === one.size && one.filling === 0)) return;
          if (Date.now() > deadline) throw new Error(`the pools did not fill: ${JSON.stringify(pools)}`);
          await new Promise((done) => setTimeout(done, 20));
        }
      };
      for (const plan of plans) {
        const { runtime } = plan;
        const claim = async (spec: Readonly<Record<string, unknown>> = {}): Promise<number> => {
          await poolsFull();
          const made = await create(warm.client, runtime, spec);
          if (!made.claimed)
            throw new Error(`a ${runtime} create with its pool full was not claimed from it`);
          return made.ms;
        };
        await serial(plan.createWarmup, () => claim());
        const pooledTimes = await serial(plan.createSamples, () => claim());
        // A tenant's own limits: cgroups written again, or the container updated (gVisor's cannot be).
        const ownTimes =
          runtime === 'gvisor' ? [] : await serial(plan.createSamples, () => claim(OWN_LIMITS));
        await removeAll(warm.client);
        // After the cold cases of the same runtime, named apart.
        const baselineCase = `[${runtime}] ${plan.baselineCase} (${plan.baselineSamples})`;
        const index = results.findIndex((result) =>
          result.case.startsWith(`[${runtime}] create → ready, cold`),
        );
        results.splice(
          index + 1,
          0,
          serialResult(
            `[${runtime}] create → ready from the warm pool (${plan.createSamples}, pool of ${POOL_SIZE} full)`,
            'req',
            pooledTimes,
            baselineCase,
          ),
          ...(ownTimes.length === 0
            ? []
            : [
                serialResult(
                  `[${runtime}] create → ready from the warm pool, its own limits ${JSON.stringify(OWN_LIMITS.resources)} (${plan.createSamples})`,
                  'req',
                  ownTimes,
                  baselineCase,
                ),
              ]),
        );
      }
      await warm.stop();
      return results;
    } finally {
      // Whatever is left (a failed run) is deleted through the service first, so its rows say so too.
      const left = [...live];
      await pool(left, 4, ([id, client]) => deleteSandbox(client, id)).catch(() => undefined);
      for (const service of services) await service.stop().catch(() => undefined);
      // Pool entries outlive the service (a restart adopts them): containers by label, then cgroups, then files.
      await removeContainers(docker, `${containerLabel}.id`).catch(() => undefined);
      await removeContainers(docker, baselineLabel).catch(() => undefined);
      await removeCgroups(prefix);
      await rm(workDir, { recursive: true, force: true });
    }
  },
};
