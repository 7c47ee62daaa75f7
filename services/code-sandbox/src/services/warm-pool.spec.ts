import { describe, expect, it } from 'vitest';

import type { SqlStore } from '@aibox/stores';

import { PoolRepository } from '../repositories/pool.repository.js';
import type { SandboxTables } from '../repositories/sandbox-schema.js';
import type { RuntimeName, SandboxRuntime } from '../runtimes/sandbox-runtime.js';
import { HostPathPolicy } from './host-paths.js';
import { ProvisioningInputs } from './provisioning-inputs.js';
import { SandboxDirs } from './sandbox-dirs.js';
import { WorkspaceFiles } from './workspace-files.js';
import type { SandboxSpec } from './sandbox.service.js';
import { parsePoolSettings, WarmPool, type PoolResources, type PoolSetting } from './warm-pool.js';

const RESOURCES: PoolResources = { cpus: 1, memory_mb: 512, pids: 256, disk_mb: 1024 };
const IMAGE = 'aibox/sandbox:latest';
const silent = {
  warn: () => undefined,
  info: () => undefined,
  error: () => undefined,
  debug: () => undefined,
} as unknown as ConstructorParameters<typeof WarmPool>[7];

/** The claim rules and the settings touch neither the store nor the host: these are never called. */
function warmPool(settings: readonly PoolSetting[]): WarmPool {
  const dirs = new SandboxDirs('/nonexistent');
  return new WarmPool(
    new PoolRepository({} as SqlStore<SandboxTables>),
    new Map<RuntimeName, SandboxRuntime>(),
    dirs,
    new ProvisioningInputs(
      new HostPathPolicy({ roots: [], protectedPaths: [] }),
      dirs,
      new WorkspaceFiles({ maxReadBytes: 1024, maxWriteBytes: 1024, maxArchiveBytes: 1024 }),
      1,
    ),
    settings,
    IMAGE,
    RESOURCES,
    silent,
  );
}

function spec(overrides: Partial<SandboxSpec> = {}): SandboxSpec {
  return {
    name: 'sandbox',
    labels: {},
    runtime: 'process',
    image: null,
    resources: RESOURCES,
    ttl_s: null,
    idle_ttl_s: null,
    network: { mode: 'none' },
    env: {},
    credentials: [],
    mounts: [],
    copies: [],
    git_repos: [],
    provisioning_scripts: [],
    agent: { provider: 'none' },
    ...overrides,
  };
}

describe('parsePoolSettings', () => {
  it('reads runtime=size and runtime:image=size, image tags and digests included', () => {
    expect(
      parsePoolSettings(' process=4, docker=2,gvisor:aibox/sandbox:1.2=1,docker:r.io/x@sha256:ab=0 '),
    ).toEqual([
      { runtime: 'process', size: 4 },
      { runtime: 'docker', size: 2 },
      { runtime: 'gvisor', image: 'aibox/sandbox:1.2', size: 1 },
      { runtime: 'docker', image: 'r.io/x@sha256:ab', size: 0 },
    ]);
    expect(parsePoolSettings('')).toEqual([]);
  });

  it('names what is wrong with a bad entry', () => {
    expect(parsePoolSettings('process')).toMatch(/entry 1 is not runtime=size/);
    expect(parsePoolSettings('process=1,kube=2')).toMatch(/entry 2 is not runtime=size/);
    expect(parsePoolSettings('docker=-1')).toMatch(/whole number/);
    expect(parsePoolSettings('docker=1.5')).toMatch(/whole number/);
    expect(parsePoolSettings('docker=9999')).toMatch(/whole number/);
    expect(parsePoolSettings('process:debian=1')).toMatch(/takes no image/);
    expect(parsePoolSettings('docker:bad image=1')).toMatch(/not an image reference/);
    expect(parsePoolSettings('docker=1,docker=2')).toMatch(/entry 2 names the docker pool again/);
  });

  it('refuses the default image named twice once it is resolved', () => {
    expect(() =>
      warmPool([
        { runtime: 'docker', size: 1 },
        { runtime: 'docker', image: IMAGE, size: 1 },
      ]),
    ).toThrow(/names the pool docker:aibox\/sandbox:latest twice/);
  });
});

describe('which specs claim from the pool', () => {
  const pool = warmPool([
    { runtime: 'process', size: 2 },
    { runtime: 'docker', size: 2 },
    { runtime: 'gvisor', size: 1 },
    { runtime: 'docker', image: 'other:1', size: 0 },
  ]);
  const mount = { source: '/srv/data', target: '/mnt/data', writable: false };

  it('takes any process spec: limits, mounts, env, credentials, repos and scripts are applied at claim time', () => {
    expect(
      pool.poolFor(
        spec({
          resources: { cpus: 0.5, memory_mb: 64, pids: 32, disk_mb: 8 },
          mounts: [mount],
          env: { A: '1' },
          credentials: [{ id: 'c', as_file: '/run/secrets/t' }],
          provisioning_scripts: [{ name: 's', run: 'true', timeout_s: 1 }],
        }),
      ),
    ).toMatchObject({ runtime: 'process' });
  });

  it('takes a docker spec with other memory, CPUs and pids, but not one with mounts or another disk size', () => {
    const docker = (overrides: Partial<SandboxSpec>): SandboxSpec =>
      spec({ runtime: 'docker', image: IMAGE, ...overrides });
    expect(
      pool.poolFor(docker({ resources: { ...RESOURCES, memory_mb: 64, cpus: 2, pids: 50 } })),
    ).toMatchObject({
      runtime: 'docker',
      image: IMAGE,
    });
    expect(pool.poolFor(docker({ mounts: [mount] }))).toBeUndefined();
    expect(pool.poolFor(docker({ resources: { ...RESOURCES, disk_mb: 64 } }))).toBeUndefined();
    // Another image has no pool (size 0 is none).
    expect(pool.poolFor(docker({ image: 'other:1' }))).toBeUndefined();
  });

  it('takes a gVisor spec only with the pool’s own resources', () => {
    const gvisor = (resources: PoolResources): SandboxSpec =>
      spec({ runtime: 'gvisor', image: IMAGE, resources });
    expect(pool.poolFor(gvisor(RESOURCES))).toMatchObject({ runtime: 'gvisor' });
    expect(pool.poolFor(gvisor({ ...RESOURCES, memory_mb: 300 }))).toBeUndefined();
    expect(pool.poolFor(gvisor({ ...RESOURCES, pids: 64 }))).toBeUndefined();
  });

  it('starts a sandbox with network egress cold, whatever its runtime', () => {
    const egress = { mode: 'egress', allow: ['example.com'] } as const;
    expect(pool.poolFor(spec({ network: egress }))).toBeUndefined();
    expect(pool.poolFor(spec({ runtime: 'docker', image: IMAGE, network: egress }))).toBeUndefined();
  });

  it('has nothing for a runtime without a pool', () => {
    expect(warmPool([{ runtime: 'docker', size: 1 }]).poolFor(spec())).toBeUndefined();
  });
});
