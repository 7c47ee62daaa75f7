import { rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

import { newTurnId } from '@aibox/identity';
import type { Logger } from '@aibox/platform';

import { CREDENTIAL_FILES_DIR } from '../dtos/sandbox.dto.js';
import type { PoolEntryRow, PoolKey, PoolRepository } from '../repositories/pool.repository.js';
import type { RuntimeName, RuntimeSandbox, SandboxRuntime } from '../runtimes/sandbox-runtime.js';
import type { ProvisioningInputs } from './provisioning-inputs.js';
import type { SandboxDirs } from './sandbox-dirs.js';
import type { SandboxSpec } from './sandbox.service.js';

/** One pool as `SANDBOX_POOL` names it: `runtime=size` or `runtime:image=size`. */
export interface PoolSetting {
  readonly runtime: RuntimeName;
  /** Absent: the default image (`docker`, `gvisor`); `process` takes none. */
  readonly image?: string;
  readonly size: number;
}

/** A pool with its image resolved: null for `process`. */
export interface PoolSize {
  readonly runtime: RuntimeName;
  readonly image: string | null;
  readonly size: number;
}

export interface PoolStatus {
  readonly runtime: RuntimeName;
  readonly image: string | null;
  /** Entries the pool keeps. */
  readonly size: number;
  /** Entries ready to be claimed. */
  readonly ready: number;
  /** Entries being made. */
  readonly filling: number;
}

/** A spec's resources, as entries are made with them. */
export type PoolResources = SandboxSpec['resources'];

const RUNTIMES: readonly RuntimeName[] = ['process', 'docker', 'gvisor'];
const IMAGE = /^[A-Za-z0-9][A-Za-z0-9._/:@-]{0,254}$/;
const MAX_POOL_SIZE = 256;
/**
 * A claimed entry is replaced this long after its sandbox's pipeline ends: making one (cgroups, a container
 * booting) would otherwise compete with the new sandbox's first requests, its event stream and a first exec.
 */
const REFILL_AFTER_CLAIM_MS = 200;
const BACKOFF_FIRST_MS = 1_000;
const BACKOFF_MAX_MS = 60_000;

/** `SANDBOX_POOL`: `process=4,docker=2,docker:<image>=2`; the pools, or what is wrong with the value. */
export function parsePoolSettings(raw: string): readonly PoolSetting[] | string {
  const settings: PoolSetting[] = [];
  const seen = new Set<string>();
  for (const [index, entry] of raw.split(',').entries()) {
    const text = entry.trim();
    if (text === '') continue;
    const equals = text.lastIndexOf('=');
    const name = text.slice(0, Math.max(0, equals));
    const colon = name.indexOf(':');
    const runtime = colon < 0 ? name : name.slice(0, colon);
    const image = colon < 0 ? undefined : name.slice(colon + 1);
    const size = Number(text.slice(equals + 1));
    const where = `entry ${index + 1}`;
    if (equals < 0 || !RUNTIMES.includes(runtime as RuntimeName)) {
      return `${where} is not runtime=size or runtime:image=size (runtime process, docker or gvisor)`;
    }
    if (!Number.isSafeInteger(size) || size < 0 || size > MAX_POOL_SIZE) {
      return `${where}: the size must be a whole number from 0 to ${MAX_POOL_SIZE}`;
    }
    if (image !== undefined && (runtime === 'process' || !IMAGE.test(image))) {
      return runtime === 'process'
        ? `${where}: the process runtime takes no image`
        : `${where}: the image is not an image reference`;
    }
    const key = `${runtime}:${image ?? ''}`;
    if (seen.has(key))
      return `${where} names the ${runtime} pool${image === undefined ? '' : ` of ${image}`} again`;
    seen.add(key);
    settings.push({ runtime: runtime as RuntimeName, ...(image === undefined ? {} : { image }), size });
  }
  return settings;
}

const keyOf = (pool: { runtime: string; image: string | null }): PoolKey => ({
  runtime: pool.runtime,
  image: pool.image ?? '',
});
const nameOf = (key: PoolKey): string => `${key.runtime}:${key.image}`;

function sameResources(a: unknown, b: PoolResources): boolean {
  const other = a as Partial<PoolResources> | null;
  return (
    other?.cpus === b.cpus &&
    other.memory_mb === b.memory_mb &&
    other.pids === b.pids &&
    other.disk_mb === b.disk_mb
  );
}

/**
 * Sandboxes made ahead of any request, per runtime and image: what CreateSandbox and StartSandbox would make
 * (directories, cgroups, a started container) under an id reserved in the store, with no tenant. A create
 * whose spec can use one claims it in the transaction that writes the sandbox row, and the pipeline then
 * applies only what is the claim's own. Pools are filled at start and topped up in the background after each
 * claim; an entry is never reused: a claimed one becomes the sandbox, and leaves with it.
 */
export class WarmPool {
  /** The pools whose fill runs, and those asked to top up again while it did. */
  private readonly filling = new Map<string, Promise<void>>();
  private readonly wanted = new Set<string>();
  private readonly delayed = new Set<NodeJS.Timeout>();
  private readonly closing = new AbortController();
  private readonly pools: readonly PoolSize[];

  constructor(
    private readonly entries: PoolRepository,
    private readonly runtimes: ReadonlyMap<RuntimeName, SandboxRuntime>,
    private readonly dirs: SandboxDirs,
    private readonly inputs: ProvisioningInputs,
    settings: readonly PoolSetting[],
    defaultImage: string,
    private readonly resources: PoolResources,
    private readonly logger: Logger,
  ) {
    const pools = settings.map((setting) => ({
      runtime: setting.runtime,
      image: setting.runtime === 'process' ? null : (setting.image ?? defaultImage),
      size: setting.size,
    }));
    const names = pools.map((pool) => nameOf(keyOf(pool)));
    const twice = names.find((name, index) => names.indexOf(name) !== index);
    if (twice !== undefined) throw new Error(`SANDBOX_POOL names the pool ${twice} twice`);
    this.pools = pools.filter((pool) => pool.size > 0);
  }

  /**
   * The pool a sandbox of `spec` may be claimed from, or undefined (a cold start). Everything of the spec
   * is applied at claim time except what a container fixes when it is made: its binds (so no `mounts`), its
   * `/tmp` size (`disk_mb`), its network, and under gVisor every limit (runsc cannot update a container).
   */
  poolFor(spec: SandboxSpec): PoolSize | undefined {
    const pool = this.pools.find(
      (candidate) => candidate.runtime === spec.runtime && candidate.image === spec.image,
    );
    // Entries have no network: a spec with egress starts cold (its proxy's socket is bound when it is made).
    if (pool === undefined || spec.network.mode !== 'none') return undefined;
    if (spec.runtime === 'process') return pool;
    if ((spec.mounts ?? []).length > 0 || spec.resources.disk_mb !== this.resources.disk_mb) return undefined;
    if (spec.runtime === 'gvisor' && !sameResources(spec.resources, this.resources)) return undefined;
    return pool;
  }

  /**
   * CreateSandbox of a claimed entry: the claim's limits replace the pool's, unless they are the same (the
   * entry already has them; a gVisor entry is only claimed then).
   */
  async applyClaim(runtime: SandboxRuntime, target: RuntimeSandbox): Promise<void> {
    const { resources } = target;
    const wanted = {
      cpus: resources.cpus,
      memory_mb: resources.memoryMb,
      pids: resources.pids,
      disk_mb: resources.diskMb,
    };
    if (sameResources(wanted, this.resources)) return;
    await (runtime.applyResources === undefined ? runtime.create(target) : runtime.applyResources(target));
  }

  /** Every entry's id: restart recovery leaves their containers alone. */
  async entryIds(): Promise<string[]> {
    return (await this.entries.list()).map((row) => row.sandbox_id);
  }

  /**
   * After a restart, before `start`: a ready entry that a pool still wants, made with the current resources,
   * is adopted (made again where anything is missing: its directories, cgroups, container); every other
   * entry, and one a fill left half made, is destroyed.
   */
  async recover(): Promise<{ adopted: number; destroyed: number }> {
    const kept = new Map<string, number>();
    let adopted = 0;
    let destroyed = 0;
    for (const row of await this.entries.list()) {
      const pool = this.pools.find((candidate) => nameOf(keyOf(candidate)) === nameOf(row));
      const runtime = this.runtimes.get(row.runtime as RuntimeName);
      const name = nameOf(row);
      const held = kept.get(name) ?? 0;
      if (
        row.state === 'ready' &&
        pool !== undefined &&
        runtime !== undefined &&
        held < pool.size &&
        sameResources(row.resources, this.resources) &&
        (await runtime.available()).ok
      ) {
        try {
          await this.make(row.sandbox_id, pool, runtime);
          kept.set(name, held + 1);
          adopted += 1;
          continue;
        } catch (error: unknown) {
          this.logger.warn({ err: error, sandbox_id: row.sandbox_id }, 'cannot adopt a warm-pool entry');
        }
      }
      if (await this.release(row)) destroyed += 1;
    }
    return { adopted, destroyed };
  }

  /** Fills every pool in the background. */
  start(): void {
    for (const pool of this.pools) this.refill(pool);
  }

  /** Tops `pool` up in the background, one entry at a time; never awaited by a request. */
  refill(pool: PoolSize): void {
    const name = nameOf(keyOf(pool));
    this.wanted.add(name);
    if (this.closing.signal.aborted || this.filling.has(name)) return;
    const run = this.fill(pool).finally(() => {
      this.filling.delete(name);
    });
    this.filling.set(name, run);
  }

  /** After the pipeline of a sandbox claimed from `pool`: tops it up a moment later, in the background. */
  afterClaim(pool: PoolSize): void {
    if (this.closing.signal.aborted) return;
    const timer = setTimeout(() => {
      this.delayed.delete(timer);
      this.refill(pool);
    }, REFILL_AFTER_CLAIM_MS);
    this.delayed.add(timer);
  }

  async status(): Promise<{ pools: PoolStatus[] }> {
    const counts = await this.entries.counts();
    const count = (pool: PoolSize, state: 'ready' | 'filling'): number =>
      counts.find((row) => nameOf(row) === nameOf(keyOf(pool)) && row.state === state)?.count ?? 0;
    return {
      pools: this.pools.map((pool) => ({
        runtime: pool.runtime,
        image: pool.image,
        size: pool.size,
        ready: count(pool, 'ready'),
        filling: count(pool, 'filling'),
      })),
    };
  }

  /** Stops filling; entries stay for the next start to adopt. */
  async close(): Promise<void> {
    this.closing.abort();
    for (const timer of this.delayed) clearTimeout(timer);
    this.delayed.clear();
    await Promise.allSettled([...this.filling.values()]);
  }

  /** A failed fill is logged and tried again later, each time waiting twice as long (at most a minute). */
  private async fill(pool: PoolSize): Promise<void> {
    const key = keyOf(pool);
    const name = nameOf(key);
    let failures = 0;
    while (!this.closing.signal.aborted) {
      this.wanted.delete(name);
      try {
        if ((await this.entries.held(key)) >= pool.size) {
          // A claim that came while the count was read asked for another look.
          if (this.wanted.has(name)) continue;
          return;
        }
        await this.fillOne(pool);
        failures = 0;
      } catch (error: unknown) {
        failures += 1;
        const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** (failures - 1));
        this.logger.warn(
          { err: error, runtime: pool.runtime, image: pool.image, failures, retry_in_ms: delay },
          'cannot fill the warm pool',
        );
        await sleep(delay, undefined, { signal: this.closing.signal }).catch(() => undefined);
      }
    }
  }

  private async fillOne(pool: PoolSize): Promise<void> {
    const runtime = this.runtimes.get(pool.runtime);
    if (runtime === undefined) throw new Error(`the ${pool.runtime} runtime is not configured`);
    const availability = await runtime.available();
    if (!availability.ok) {
      throw new Error(`the ${pool.runtime} runtime is unavailable: ${availability.reason}`);
    }
    const id = newTurnId();
    await this.entries.reserve(id, keyOf(pool), this.resources);
    try {
      await this.make(id, pool, runtime);
      await this.entries.markReady(id);
    } catch (error: unknown) {
      await this.release({ sandbox_id: id, runtime: pool.runtime, image: pool.image ?? '' });
      throw error;
    }
  }

  /** What CreateSandbox and StartSandbox make; idempotent, so recovery adopts through it too. */
  private async make(id: string, pool: PoolSize, runtime: SandboxRuntime): Promise<void> {
    await this.dirs.make(id);
    if (pool.runtime !== 'process') await this.inputs.prepareCredentialFiles(id, runtime.programUid);
    await runtime.create(this.target(id, pool));
  }

  private target(id: string, pool: { runtime: string; image: string | null }): RuntimeSandbox {
    return {
      id,
      workspaceDir: this.dirs.workspace(id),
      resources: {
        cpus: this.resources.cpus,
        memoryMb: this.resources.memory_mb,
        pids: this.resources.pids,
        diskMb: this.resources.disk_mb,
      },
      env: {},
      ...(pool.image === null ? {} : { image: pool.image }),
      // A container's binds are fixed once it is made: the (empty) credential files' directory is bound
      // ahead, so a claim with `as_file` credentials can use the entry. `process` binds per exec.
      binds:
        pool.runtime === 'process'
          ? []
          : [
              {
                source: this.dirs.secrets(id),
                target: CREDENTIAL_FILES_DIR,
                writable: false,
                origin: 'service',
              },
            ],
    };
  }

  /**
   * Destroys an entry: the runtime's part, then its directory, then its row. When the runtime cannot release
   * it, the row stays for the next start to try again; whether it is gone.
   */
  private async release(row: Pick<PoolEntryRow, 'sandbox_id' | 'runtime' | 'image'>): Promise<boolean> {
    const runtime = this.runtimes.get(row.runtime as RuntimeName);
    try {
      // A runtime this service no longer has: its containers go with the orphans of the next start that has it.
      await runtime?.destroy(this.target(row.sandbox_id, { runtime: row.runtime, image: row.image || null }));
    } catch (error: unknown) {
      this.logger.error({ err: error, sandbox_id: row.sandbox_id }, 'cannot release a warm-pool entry');
      return false;
    }
    await rm(this.dirs.sandbox(row.sandbox_id), { recursive: true, force: true });
    await this.entries.remove(row.sandbox_id);
    return true;
  }
}
