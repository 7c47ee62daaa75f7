import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { generateKeySetValue } from '@aibox/identity';
import { openSqlStore } from '@aibox/stores';
import { dropSchemas, needs, postgresUrl } from '@aibox/testing';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { SandboxTables } from '../src/repositories/sandbox-schema.js';
import {
  readSse,
  removeCgroups,
  removeContainers,
  startSandboxService,
  type SseEvent,
  type TestSandboxService,
  type Who,
  containerRuntimeUsable,
  SANDBOX_IMAGE,
} from './support/sandbox.js';

/**
 * The warm pool, over HTTP against the real runtimes: it fills to its size, a create claims an entry and
 * still gets its own env, credentials, scripts and limits, concurrent creates never share an entry, the pool
 * refills with new entries only, and a restart adopts or destroys what the pool held without leaving
 * anything behind.
 */
const hasBubblewrap = await needs('bubblewrap');
const ADAPTERS = ['pglite', ...((await needs('postgres')) ? ['postgres' as const] : [])] as const;
const MIB = 1024 * 1024;
const docker = new Docker({ socketPath: '/var/run/docker.sock' });

const hasDocker = await containerRuntimeUsable('docker');
const containerRuntimes = [
  ['docker', hasDocker],
  ['gvisor', hasDocker && (await containerRuntimeUsable('gvisor'))],
] as const;

const ADA: Who = { tid: 'default', uid: 'ada' };
const ADMIN: Who = { tid: 'default', uid: 'root', admin: true };
/** A wait, never an assertion on time: long enough for a container runtime on a busy machine. */
const WAIT_MS = 120_000;

interface PoolStatus {
  runtime: string;
  image: string | null;
  size: number;
  ready: number;
  filling: number;
}

async function poolStatus(service: TestSandboxService): Promise<PoolStatus[]> {
  const answer = await service.call(ADMIN, 'GET', '/pool');
  expect(answer.status, JSON.stringify(answer.json)).toBe(200);
  return answer.json['pools'] as PoolStatus[];
}

/** Waits until every pool holds its size, ready. */
async function poolFull(service: TestSandboxService): Promise<PoolStatus[]> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const pools = await poolStatus(service);
    if (pools.every((pool) => pool.ready === pool.size && pool.filling === 0)) return pools;
    if (Date.now() > deadline) throw new Error(`the pool did not fill: ${JSON.stringify(pools)}`);
    await new Promise((done) => setTimeout(done, 50));
  }
}

/** Directories under the service's sandboxes root: every sandbox's and every pool entry's. */
async function sandboxDirs(service: { dataDir: string }): Promise<string[]> {
  return readdir(join(service.dataDir, 'code-sandbox', 'sandboxes')).catch(() => []);
}

/** The cgroups of one sandbox or entry under the runtime's prefix, in every hierarchy (v1) or v2. */
async function cgroupsOf(prefix: string, id: string): Promise<string[]> {
  const root = '/sys/fs/cgroup';
  const candidates = [
    join(root, prefix, id),
    ...(await readdir(root).catch(() => [] as string[])).map((hierarchy) =>
      join(root, hierarchy, prefix, id),
    ),
  ];
  return candidates.filter((dir) => existsSync(dir));
}

/** The memory limit of a `process` sandbox's cgroup, in bytes. */
async function cgroupMemoryLimit(prefix: string, id: string): Promise<number> {
  const v2 = join('/sys/fs/cgroup', prefix, id, 'memory.max');
  const v1 = join('/sys/fs/cgroup', 'memory', prefix, id, 'memory.limit_in_bytes');
  return Number((await readFile(existsSync(v2) ? v2 : v1, 'utf8')).trim());
}

/** The sandbox ids of the containers under a service's label. */
async function containerIds(label: string): Promise<string[]> {
  const containers = await docker.listContainers({ all: true, filters: { label: [`${label}.id`] } });
  return containers.map((container) => container.Labels[`${label}.id`] ?? '');
}

const settled = (event: SseEvent): boolean =>
  event.event === 'state_changed' && ['ready', 'failed'].includes(String(event.data['state']));

/** Creates a sandbox and follows it to `ready`; its id and its CreateSandbox message. */
async function createReady(
  service: TestSandboxService,
  spec: Record<string, unknown> = {},
  who: Who = ADA,
): Promise<{ id: string; claimed: boolean; events: SseEvent[] }> {
  const created = await service.call(who, 'POST', '/sandboxes', spec);
  expect(created.status, JSON.stringify(created.json)).toBe(202);
  const id = String(created.json['id']);
  const events = await readSse(
    await fetch(`${service.url}/sandboxes/${id}/events`, { headers: service.headers(who) }),
    settled,
  );
  expect(events.at(-1)?.data, JSON.stringify(events.at(-1))).toMatchObject({ state: 'ready' });
  const step = events.find(
    (event) =>
      event.event === 'provisioning_step' &&
      event.data['step'] === 'CreateSandbox' &&
      event.data['status'] === 'completed',
  );
  return { id, claimed: String(step?.data['message']).includes('claimed from the warm pool'), events };
}

async function exec(
  service: TestSandboxService,
  id: string,
  script: string,
): Promise<Record<string, unknown>> {
  const answer = await service.call(ADA, 'POST', `/sandboxes/${id}/execs?wait=true`, {
    argv: ['/bin/sh', '-c', script],
  });
  expect(answer.status, JSON.stringify(answer.json)).toBe(200);
  return answer.json;
}

async function deleteSandbox(service: TestSandboxService, id: string): Promise<void> {
  expect((await service.call(ADA, 'DELETE', `/sandboxes/${id}`)).status).toBe(202);
  await readSse(
    await fetch(`${service.url}/sandboxes/${id}/events`, { headers: service.headers(ADA) }),
    (event) => event.event === 'sandbox_deleted',
  );
}

async function storedCredential(service: TestSandboxService, value: string): Promise<string> {
  const answer = await service.call(ADA, 'POST', '/credentials', {
    name: `token-${randomBytes(4).toString('hex')}`,
    value,
  });
  expect(answer.status, JSON.stringify(answer.json)).toBe(201);
  return String(answer.json['id']);
}

/** A service on a data dir and keys the test keeps, so that it can be stopped and started again. */
interface Restartable {
  readonly state: { dataDir: string; principalKeys: string; capKeys: string; cgroupPrefix: string };
  readonly containerLabel: string;
  start(env: Record<string, string>): Promise<TestSandboxService>;
  remove(): Promise<void>;
}

async function restartable(): Promise<Restartable> {
  const state = {
    dataDir: await mkdtemp(join(tmpdir(), 'aibox-pool-test-')),
    principalKeys: generateKeySetValue(['test-principal']),
    capKeys: generateKeySetValue(['test-captoken']),
    cgroupPrefix: `aibox-sandbox-t${randomBytes(5).toString('hex')}`,
  };
  const containerLabel = `aibox.test-${state.cgroupPrefix.slice(-10)}`;
  return {
    state,
    containerLabel,
    start: (env) => startSandboxService({ state, env }),
    async remove() {
      await removeCgroups(state.cgroupPrefix);
      await removeContainers(containerLabel);
      await rm(state.dataDir, { recursive: true, force: true });
    },
  };
}

describe.runIf(hasBubblewrap)('the process runtime warm pool', () => {
  let sandboxes: TestSandboxService;
  const created = new Set<string>();
  const entries = async (): Promise<string[]> =>
    (await sandboxDirs(sandboxes)).filter((id) => !created.has(id));

  beforeAll(async () => {
    sandboxes = await startSandboxService({ env: { SANDBOX_POOL: 'process=2' } });
  });

  afterAll(async () => {
    await sandboxes.close();
  });

  it('fills to its size: a directory and cgroups per entry, nothing running', async () => {
    const pools = await poolFull(sandboxes);
    expect(pools).toEqual([{ runtime: 'process', image: null, size: 2, ready: 2, filling: 0 }]);
    const ids = await entries();
    expect(ids).toHaveLength(2);
    for (const id of ids) {
      expect(await cgroupsOf(sandboxes.cgroupPrefix, id)).not.toEqual([]);
      expect(await readdir(join(sandboxes.dataDir, 'code-sandbox', 'sandboxes', id, 'workspace'))).toEqual(
        [],
      );
    }
  });

  it("claims an entry for a create, and applies the claim's env, credentials, scripts and limits", async () => {
    await poolFull(sandboxes);
    const before = await entries();
    const credential = await storedCredential(sandboxes, 's3cret-value');
    const sandbox = await createReady(sandboxes, {
      env: { GREETING: 'hello' },
      credentials: [
        { id: credential, as_env: 'TOKEN' },
        { id: credential, as_file: 'token' },
      ],
      provisioning_scripts: [{ name: 'seed', run: 'echo "seeded $GREETING" > seed.txt' }],
      resources: { memory_mb: 300 },
    });
    created.add(sandbox.id);
    expect(sandbox.claimed).toBe(true);
    expect(before).toContain(sandbox.id);
    const starts = sandbox.events.filter(
      (event) => event.event === 'provisioning_step' && event.data['status'] !== 'started',
    );
    expect(starts.find((event) => event.data['step'] === 'StartSandbox')?.data['message']).toContain(
      'claimed from the warm pool',
    );
    // Still every step, in order, each once.
    expect(sandbox.events.slice(1).map((event) => event.id)).toEqual(
      sandbox.events.slice(1).map((_event, index) => index + 1),
    );

    const seen = await exec(
      sandboxes,
      sandbox.id,
      'echo "$GREETING $TOKEN"; cat /run/secrets/token; echo; cat seed.txt',
    );
    expect(seen).toMatchObject({ exit_code: 0, stdout: 'hello s3cret-value\ns3cret-value\nseeded hello\n' });
    expect(await cgroupMemoryLimit(sandboxes.cgroupPrefix, sandbox.id)).toBe(300 * MIB);
  });

  it('refills with new entries, and never hands a claimed workspace to the next sandbox', async () => {
    await poolFull(sandboxes);
    const first = await createReady(sandboxes);
    created.add(first.id);
    expect(first.claimed).toBe(true);
    await exec(sandboxes, first.id, 'echo mine > mine.txt && mkdir -p deep && echo x > deep/file');

    const second = await createReady(sandboxes);
    created.add(second.id);
    expect(second.claimed).toBe(true);
    expect(second.id).not.toBe(first.id);
    expect(await exec(sandboxes, second.id, 'ls -A /workspace')).toMatchObject({ exit_code: 0, stdout: '' });

    await deleteSandbox(sandboxes, first.id);
    await poolFull(sandboxes);
    const refilled = await entries();
    expect(refilled).toHaveLength(2);
    expect(refilled).not.toContain(first.id);
    expect(refilled).not.toContain(second.id);
    for (const id of refilled) {
      expect(await readdir(join(sandboxes.dataDir, 'code-sandbox', 'sandboxes', id, 'workspace'))).toEqual(
        [],
      );
    }
  });

  it('shows the pool to admins only', async () => {
    const user = await sandboxes.call(ADA, 'GET', '/pool');
    expect(user.status).toBe(403);
    expect(user.json).toMatchObject({ code: 'forbidden' });
    expect((await sandboxes.call(ADMIN, 'GET', '/pool')).status).toBe(200);
  });
});

describe.runIf(hasBubblewrap)('a pool that cannot be filled', () => {
  let sandboxes: TestSandboxService;

  beforeAll(async () => {
    // No Docker daemon answers on this socket: every fill of the docker pool fails.
    sandboxes = await startSandboxService({
      env: {
        SANDBOX_POOL: 'process=1,docker=1',
        SANDBOX_DOCKER_SOCKET: join(tmpdir(), `aibox-no-docker-${randomBytes(4).toString('hex')}.sock`),
      },
    });
  });

  afterAll(async () => {
    await sandboxes.close();
  });

  it('logs each failed fill and tries again later and later, while the service and the other pools work', async () => {
    const failures = (): { retry_in_ms: number }[] =>
      sandboxes.logs
        .flatMap((line) => line.split('\n'))
        .filter((line) => line.includes('cannot fill the warm pool'))
        .map((line) => JSON.parse(line) as { retry_in_ms: number });
    const deadline = Date.now() + WAIT_MS;
    while (failures().length < 2 && Date.now() < deadline) {
      await new Promise((done) => setTimeout(done, 100));
    }
    expect(failures().map((failure) => failure.retry_in_ms)).toEqual([1_000, 2_000]);
    expect(await poolStatus(sandboxes)).toEqual([
      { runtime: 'process', image: null, size: 1, ready: 1, filling: 0 },
      { runtime: 'docker', image: SANDBOX_IMAGE, size: 1, ready: 0, filling: 0 },
    ]);
    const sandbox = await createReady(sandboxes);
    expect(sandbox.claimed).toBe(true);
  });
});

describe.runIf(hasBubblewrap)('concurrent claims', () => {
  describe.each(ADAPTERS)('on %s', (adapter) => {
    const schema = `sandbox_t${randomBytes(6).toString('hex')}`;
    let sandboxes: TestSandboxService;

    beforeAll(async () => {
      sandboxes = await startSandboxService({
        env: {
          SANDBOX_POOL: 'process=3',
          ...(adapter === 'postgres' ? { DATABASE_URL: postgresUrl(), SANDBOX_SQL_SCHEMA: schema } : {}),
        },
      });
    });

    afterAll(async () => {
      await sandboxes.close();
      if (adapter === 'postgres') await dropSchemas([schema]);
    });

    it('never gives one entry to two creates, across users and tenants', async () => {
      await poolFull(sandboxes);
      const pooled = await sandboxDirs(sandboxes);
      // Different tenants do not queue on one tenant's quota lock: their claims really race on PostgreSQL.
      const callers: Who[] = Array.from({ length: 8 }, (_, index) => ({
        tid: `tenant-${index % 4}`,
        uid: `user-${index}`,
      }));
      const results = await Promise.all(callers.map((who) => createReady(sandboxes, {}, who)));
      const ids = results.map((result) => result.id);
      expect(new Set(ids).size).toBe(ids.length);
      const claimed = results.filter((result) => result.claimed).map((result) => result.id);
      // The three entries went to three different creates; the others started cold with ids of their own.
      expect(claimed.filter((id) => pooled.includes(id)).sort()).toEqual([...pooled].sort());
      for (const result of results.filter((one) => !one.claimed)) expect(pooled).not.toContain(result.id);
    });
  });
});

describe.runIf(hasBubblewrap)('restart recovery of the process pool', () => {
  let machine: Restartable;

  beforeAll(async () => {
    machine = await restartable();
  });

  afterAll(async () => {
    await machine.remove();
  });

  it('adopts the entries a pool still wants, destroys the rest and half-made ones, and leaves nothing behind', async () => {
    let service = await machine.start({ SANDBOX_POOL: 'process=2' });
    await poolFull(service);
    const ready = await sandboxDirs(service);
    expect(ready).toHaveLength(2);
    await service.close();

    // What a fill killed midway leaves: its reserved row, its directory and cgroups, never marked ready.
    const halfMade = '00000000-0000-4000-8000-00000000f111';
    const sql = await openSqlStore<SandboxTables>({
      service: 'code-sandbox',
      schema: 'code_sandbox',
      dataDir: join(machine.state.dataDir, 'code-sandbox', 'pglite'),
    });
    await sql.db
      .insertInto('sandbox_pool')
      .values({ sandbox_id: halfMade, runtime: 'process', image: '', resources: '{}', state: 'filling' })
      .execute();
    await sql.close();
    await mkdir(join(machine.state.dataDir, 'code-sandbox', 'sandboxes', halfMade, 'workspace'), {
      recursive: true,
    });
    const stray = (await cgroupsOf(machine.state.cgroupPrefix, ready[0] ?? '')).map((dir) =>
      join(dir, '..', halfMade),
    );
    // `cpu` and `cpuacct` may be one hierarchy under two names.
    for (const dir of stray) await mkdir(dir, { recursive: true });

    service = await machine.start({ SANDBOX_POOL: 'process=2' });
    expect(await poolFull(service)).toMatchObject([{ ready: 2 }]);
    expect((await sandboxDirs(service)).sort()).toEqual([...ready].sort());
    expect(await cgroupsOf(machine.state.cgroupPrefix, halfMade)).toEqual([]);
    await service.close();

    // No pool any more: every entry goes, directory and cgroups.
    service = await machine.start({ SANDBOX_POOL: '' });
    expect(await poolStatus(service)).toEqual([]);
    expect(await sandboxDirs(service)).toEqual([]);
    for (const id of ready) expect(await cgroupsOf(machine.state.cgroupPrefix, id)).toEqual([]);
    await service.close();
  });
});

describe.each(containerRuntimes)('the %s warm pool', (runtime, present) => {
  let machine: Restartable;
  let sandboxes: TestSandboxService;
  let mountRoot: string;

  beforeAll(async () => {
    if (!present) return;
    mountRoot = await mkdtemp(join(tmpdir(), 'aibox-pool-mounts-'));
    // gVisor's gofer cannot stat a bind source below a directory only root may enter.
    await chmod(mountRoot, 0o711);
    await mkdir(join(mountRoot, 'data'));
    machine = await restartable();
    sandboxes = await machine.start({ SANDBOX_POOL: `${runtime}=1`, SANDBOX_MOUNT_ROOTS: mountRoot });
  });

  afterAll(async () => {
    if (!present) return;
    await sandboxes.close();
    await machine.remove();
    await rm(mountRoot, { recursive: true, force: true });
  });

  it.runIf(present)(
    "fills with a started container, claims it, and applies the claim's env, credentials and scripts",
    async () => {
      expect(await poolFull(sandboxes)).toEqual([
        { runtime, image: SANDBOX_IMAGE, size: 1, ready: 1, filling: 0 },
      ]);
      const [entry = ''] = await sandboxDirs(sandboxes);
      expect(await containerIds(machine.containerLabel)).toEqual([entry]);
      expect((await docker.getContainer(`aibox-sandbox-${entry}`).inspect()).State.Running).toBe(true);

      const credential = await storedCredential(sandboxes, 'container-secret');
      // docker takes other limits at claim time; gVisor only its pool's own (runsc cannot update them).
      const resources = runtime === 'docker' ? { memory_mb: 300, cpus: 0.5, pids: 100 } : {};
      const sandbox = await createReady(sandboxes, {
        runtime,
        env: { GREETING: 'hello' },
        credentials: [
          { id: credential, as_env: 'TOKEN' },
          { id: credential, as_file: 'token' },
        ],
        provisioning_scripts: [{ name: 'seed', run: 'echo "seeded $GREETING" > seed.txt' }],
        resources,
      });
      expect(sandbox.claimed).toBe(true);
      expect(sandbox.id).toBe(entry);
      const seen = await exec(
        sandboxes,
        sandbox.id,
        'echo "$GREETING $TOKEN"; cat /run/secrets/token; echo; cat seed.txt',
      );
      expect(seen).toMatchObject({
        exit_code: 0,
        stdout: 'hello container-secret\ncontainer-secret\nseeded hello\n',
      });
      if (runtime === 'docker') {
        const { HostConfig } = await docker.getContainer(`aibox-sandbox-${sandbox.id}`).inspect();
        expect(HostConfig).toMatchObject({
          Memory: 300 * MIB,
          MemorySwap: 300 * MIB,
          NanoCpus: 0.5e9,
          PidsLimit: 100,
        });
      }

      // The next entry is a new container; nothing of the claimed sandbox is in it.
      await exec(sandboxes, sandbox.id, 'echo mine > mine.txt');
      await poolFull(sandboxes);
      const next = (await sandboxDirs(sandboxes)).filter((id) => id !== sandbox.id);
      expect(next).toHaveLength(1);
      const other = await createReady(sandboxes, { runtime });
      expect(other).toMatchObject({ claimed: true, id: next[0] });
      // A shell glob, not `ls`: gVisor's statx answers EINVAL here (README, The `gvisor` runtime).
      const listed = await exec(
        sandboxes,
        other.id,
        'for f in * .[!.]* ..?*; do if [ -e "$f" ] || [ -L "$f" ]; then echo "$f"; fi; done',
      );
      expect(listed, JSON.stringify(listed)).toMatchObject({ exit_code: 0, stdout: '' });
      await deleteSandbox(sandboxes, sandbox.id);
      await deleteSandbox(sandboxes, other.id);
    },
  );

  it.runIf(present)('starts cold what a made container cannot take', async () => {
    await poolFull(sandboxes);
    const [entry = ''] = await sandboxDirs(sandboxes);
    const cold = [
      // Binds are fixed when a container is made.
      { runtime, mounts: [{ source: join(mountRoot, 'data'), target: '/mnt/data' }] },
      // So is its /tmp.
      { runtime, resources: { disk_mb: 64 } },
      ...(runtime === 'gvisor' ? [{ runtime, resources: { memory_mb: 300 } }] : []),
    ];
    for (const spec of cold) {
      const sandbox = await createReady(sandboxes, spec);
      expect(sandbox.claimed, JSON.stringify(spec)).toBe(false);
      await deleteSandbox(sandboxes, sandbox.id);
    }
    expect(await poolStatus(sandboxes)).toMatchObject([{ ready: 1 }]);
    expect(await sandboxDirs(sandboxes)).toEqual([entry]);
  });

  it.runIf(present)(
    'adopts its container after a restart, and removes it once no pool wants it',
    async () => {
      await poolFull(sandboxes);
      const [entry = ''] = await sandboxDirs(sandboxes);
      await sandboxes.close();

      sandboxes = await machine.start({ SANDBOX_POOL: `${runtime}=1`, SANDBOX_MOUNT_ROOTS: mountRoot });
      await poolFull(sandboxes);
      expect(await sandboxDirs(sandboxes)).toEqual([entry]);
      expect(await containerIds(machine.containerLabel)).toEqual([entry]);
      await sandboxes.close();

      sandboxes = await machine.start({ SANDBOX_POOL: '', SANDBOX_MOUNT_ROOTS: mountRoot });
      expect(await sandboxDirs(sandboxes)).toEqual([]);
      expect(await containerIds(machine.containerLabel)).toEqual([]);
    },
  );
});
