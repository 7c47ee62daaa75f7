import { createHash } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

import { newTurnId, type Principal } from '@aibox/identity';
import { PlatformError, ServiceError, type Logger } from '@aibox/platform';

import { credentialFilePath, parseSelector, type SandboxSpecBody } from '../dtos/sandbox.dto.js';
import { SandboxError } from '../errors/sandbox.error.js';
import type { ExecRepository } from '../repositories/exec.repository.js';
import type { SandboxState } from '../repositories/sandbox-schema.js';
import type {
  EventDraft,
  SandboxQuota,
  SandboxRepository,
  SandboxRow,
} from '../repositories/sandbox.repository.js';
import { EGRESS_DIR_INSIDE } from '../runtimes/egress-forwarder.js';
import { openExecFile } from '../runtimes/exec-files.js';
import type { RuntimeName, RuntimeSandbox, SandboxRuntime } from '../runtimes/sandbox-runtime.js';
import type { EgressProxies } from './egress-proxy.js';
import type { EventHub } from './event-hub.js';
import { describeClones, GitCloneFailure, type GitRepoSpec, type RepositoryCloner } from './git-clone.js';
import { CopyFailed, CopyTooLarge } from './host-copy.js';
import { ProvisioningInputs, type SandboxCopy, type SandboxMount } from './provisioning-inputs.js';
import type { OwnedSandbox, SandboxAccess } from './sandbox-access.js';
import type { SandboxDirs } from './sandbox-dirs.js';
import type { PoolSize, WarmPool } from './warm-pool.js';

/** The provisioning pipeline (ARCHITECTURE §8), in order; a step that does not apply is `skipped`. */
export const PROVISIONING_STEPS = [
  'Validate',
  'PrepareImage',
  'ResolveCredentials',
  'CreateSandbox',
  'StartSandbox',
  'MountLocalDirs',
  'InjectCredentials',
  'CloneRepositories',
  'SetupAgentFs',
  'RunScripts',
  'StartAgent',
] as const;
export type ProvisioningStep = (typeof PROVISIONING_STEPS)[number];

/** A spec with its defaults applied, as stored. */
export interface SandboxSpec {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly runtime: RuntimeName;
  /** The container image (`docker`, `gvisor`); null for `process`. */
  readonly image: string | null;
  readonly resources: { cpus: number; memory_mb: number; pids: number; disk_mb: number };
  readonly ttl_s: number | null;
  readonly idle_ttl_s: number | null;
  /** `egress`: HTTP(S) to the allowlisted hosts (lower case, `*.name` for subdomains) through the proxy. */
  readonly network: { mode: 'none' } | { mode: 'egress'; allow: readonly string[] };
  readonly env: Readonly<Record<string, string>>;
  /**
   * The owner's credentials, by id only: `as_env` is decrypted into each program's environment when it
   * starts; `as_file` (`/run/secrets/<name>`) into a read-only file by InjectCredentials and on start.
   */
  readonly credentials: readonly { id: string; as_env?: string; as_file?: string }[];
  /** Host directories bound in, by their real paths; absent in sandboxes stored before mounts existed. */
  readonly mounts?: readonly SandboxMount[];
  /** Host content MountLocalDirs copies into the workspace; absent likewise. */
  readonly copies?: readonly SandboxCopy[];
  /** Cloned by CloneRepositories; a credential by id only. */
  readonly git_repos: readonly GitRepoSpec[];
  readonly provisioning_scripts: readonly { name: string; run: string; timeout_s: number }[];
  readonly agent: { provider: 'none' };
}

/** Decrypts a user's credentials for their sandbox (code-sandbox's credential store). */
export interface CredentialResolver {
  resolveForSandbox(
    tenantId: string,
    userId: string,
    ids: readonly string[],
  ): Promise<readonly { id: string; value: string }[]>;
}

export interface SandboxDefaults {
  readonly runtime: RuntimeName;
  readonly image: string;
  readonly cpus: number;
  readonly memoryMb: number;
  readonly pids: number;
  readonly diskMb: number;
  readonly pipelineTimeoutS: number;
  readonly quota: SandboxQuota;
}

/**
 * Whether a step may take long: host work of unbounded length. The events before it are committed first, so
 * a subscriber sees it start; a quick or skipped step's events wait to be written with the next ones.
 */
function mayTakeLong(step: ProvisioningStep, spec: SandboxSpec, claimed: boolean): boolean {
  switch (step) {
    case 'CreateSandbox':
      return !claimed;
    case 'MountLocalDirs':
      return (spec.mounts ?? []).length > 0 || (spec.copies ?? []).length > 0;
    case 'CloneRepositories':
      return spec.git_repos.length > 0;
    case 'RunScripts':
      return spec.provisioning_scripts.length > 0;
    case 'Validate':
    case 'PrepareImage':
    case 'ResolveCredentials':
    case 'StartSandbox':
    case 'InjectCredentials':
    case 'SetupAgentFs':
    case 'StartAgent':
      return false;
  }
}

/** A failed step: its code names what went wrong for the caller. */
class StepFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Refusals of host inputs met while provisioning, as the step's failure; anything else as it is. */
function stepFailureOf(error: unknown): unknown {
  if (error instanceof CopyTooLarge) return new StepFailure('copy_too_large', error.message);
  if (error instanceof CopyFailed) return new StepFailure('copy_failed', error.message);
  if (
    error instanceof SandboxError &&
    (error.code === 'mount_not_allowed' || error.code === 'mount_source_invalid')
  ) {
    return new StepFailure(error.code, error.message);
  }
  return error;
}

const SCRIPT_TIMEOUT_S = 300;
const STDERR_TAIL_BYTES = 2_048;
/** `setTimeout` holds at most this many milliseconds; a longer TTL is re-armed when it fires. */
const MAX_TIMER_MS = 2_147_483_647;

const isAdmin = (principal: Principal): boolean => principal.roles.includes('admin');

/** The end of a script's stderr, never through a symlink the script may have put in its place. */
async function readTail(path: string): Promise<Buffer> {
  try {
    const file = await openExecFile(path);
    try {
      const size = (await file.stat()).size;
      const length = Math.min(size, STDERR_TAIL_BYTES);
      const buffer = Buffer.alloc(length);
      await file.read(buffer, 0, length, size - length);
      return buffer;
    } finally {
      await file.close();
    }
  } catch {
    return Buffer.alloc(0);
  }
}

export interface SandboxView {
  readonly id: string;
  /** The user who created it (an admin lists the whole tenant's). */
  readonly owner_id: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly runtime: string;
  readonly state: SandboxState;
  readonly error: { code: string; message: string } | null;
  readonly spec: unknown;
  readonly expires_at: string | null;
  readonly created_at: string;
  readonly updated_at: string;
}

export function sandboxView(row: SandboxRow): SandboxView {
  return {
    id: row.id,
    owner_id: row.user_id,
    name: row.name,
    labels: row.labels as Record<string, string>,
    runtime: row.runtime,
    state: row.state,
    error:
      row.error_code === null ? null : { code: row.error_code, message: row.error_message ?? row.error_code },
    spec: redactSpec(row.spec),
    expires_at: row.expires_at?.toISOString() ?? null,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

/** Environment values may be secrets: an answer names the variables, never their values. */
function redactSpec(spec: unknown): unknown {
  const record = spec as { env?: Record<string, string> };
  if (record.env === undefined) return spec;
  return { ...record, env: Object.fromEntries(Object.keys(record.env).map((key) => [key, '***'])) };
}

/**
 * Sandboxes: accepted at once (202), provisioned in the background through the pipeline, every step an
 * ordered, persisted event pushed to subscribers; stopped, started, deleted; expired by their TTL.
 */
export class SandboxService implements SandboxAccess {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** Idle TTLs: reset by every exec's start and end, armed only while nothing runs. */
  private readonly idleTimers = new Map<string, NodeJS.Timeout>();
  private readonly work = new Set<Promise<unknown>>();

  constructor(
    private readonly sandboxes: SandboxRepository,
    private readonly execs: ExecRepository,
    private readonly runtimes: ReadonlyMap<RuntimeName, SandboxRuntime>,
    private readonly hub: EventHub,
    private readonly dirs: SandboxDirs,
    private readonly defaults: SandboxDefaults,
    private readonly credentials: CredentialResolver,
    private readonly logger: Logger,
    private readonly repositories: RepositoryCloner,
    private readonly inputs: ProvisioningInputs,
    private readonly egress: EgressProxies,
    /** Absent, or with no pools: every sandbox starts cold. */
    private readonly pool?: WarmPool,
  ) {}

  /**
   * The sandbox as its runtime runs a program in it: its env with its credentials decrypted in, each time
   * (the values are never stored with the sandbox). The lookup is by the sandbox's owner.
   */
  async runtimeSandboxWithSecrets(row: SandboxRow): Promise<RuntimeSandbox> {
    const target = this.runtimeSandbox(row);
    this.inputs.checkMounts((row.spec as SandboxSpec).mounts ?? []);
    const wanted = (row.spec as SandboxSpec).credentials.filter(
      (credential) => credential.as_env !== undefined,
    );
    if (wanted.length === 0) return target;
    const resolved = await this.credentials.resolveForSandbox(
      row.tenant_id,
      row.user_id,
      wanted.map((credential) => credential.id),
    );
    const values = new Map(resolved.map((credential) => [credential.id, credential.value]));
    const env: Record<string, string> = { ...target.env };
    for (const credential of wanted) {
      const value = values.get(credential.id);
      if (value !== undefined && credential.as_env !== undefined) env[credential.as_env] = value;
    }
    return { ...target, env };
  }

  async create(
    principal: Principal,
    body: SandboxSpecBody,
    idempotencyKey: string | undefined,
  ): Promise<SandboxView> {
    const spec = await this.withHostInputs(this.accept(body), body);
    await this.requireRuntime(spec.runtime);
    if (spec.network.mode === 'egress') await this.requireEgress(spec.runtime);
    const requestHash =
      idempotencyKey === undefined ? null : createHash('sha256').update(JSON.stringify(body)).digest('hex');
    const pool = this.pool?.poolFor(spec);
    const reserved = await this.sandboxes.reserve(
      principal.tid,
      {
        id: newTurnId(),
        userId: principal.uid,
        name: spec.name,
        labels: spec.labels,
        runtime: spec.runtime,
        spec,
        idempotencyKey: idempotencyKey ?? null,
        requestHash,
        expiresAt: spec.ttl_s === null ? null : new Date(Date.now() + spec.ttl_s * 1000),
        cpus: spec.resources.cpus,
        memoryMb: spec.resources.memory_mb,
      },
      this.defaults.quota,
      pool === undefined ? undefined : { runtime: pool.runtime, image: pool.image ?? '' },
    );
    if ('quotaExceeded' in reserved) throw new SandboxError('quota_exceeded', reserved.quotaExceeded);
    const { row, created, pooled, event } = reserved;
    if (!created) {
      if (row.request_hash !== requestHash) throw new SandboxError('idempotency_conflict');
      return sandboxView(row);
    }
    if (event !== undefined) this.hub.publish(row.id, event);
    // The pool found empty is being topped up; one claimed from is topped up after this pipeline settles.
    if (pool !== undefined && pooled !== true) this.pool?.refill(pool);
    this.track(this.provision(principal.tid, row, spec, pooled === true ? pool : undefined));
    return sandboxView(row);
  }

  async get(principal: Principal, id: string): Promise<SandboxView> {
    return sandboxView(await this.visible(principal, id));
  }

  async list(
    principal: Principal,
    selector: string | undefined,
    limit: number,
  ): Promise<{ data: SandboxView[] }> {
    const labels = parseSelector(selector);
    if (labels === undefined)
      throw new PlatformError('invalid_request', { detail: 'selector is key=value,…' });
    const rows = await this.sandboxes.list(principal.tid, isAdmin(principal) ? null : principal.uid, {
      labels,
      limit,
    });
    return { data: rows.map(sandboxView) };
  }

  async delete(principal: Principal, id: string): Promise<SandboxView> {
    const row = await this.visible(principal, id);
    if (row.state === 'deleted' || row.state === 'deleting') return sandboxView(row);
    if (row.state === 'pending' || row.state === 'provisioning') {
      throw new SandboxError(
        'sandbox_not_ready',
        'wait for provisioning to end (ready or failed) to delete it',
      );
    }
    await this.emitState(principal.tid, id, 'deleting');
    this.track(this.teardown(principal.tid, id, 'deleted'));
    return sandboxView({ ...row, state: 'deleting' });
  }

  async deleteMatching(principal: Principal, selector: string): Promise<{ deleting: string[] }> {
    const labels = parseSelector(selector);
    if (labels === undefined || Object.keys(labels).length === 0) {
      throw new PlatformError('invalid_request', { detail: 'a bulk delete needs a selector key=value,…' });
    }
    const rows = await this.sandboxes.list(principal.tid, isAdmin(principal) ? null : principal.uid, {
      labels,
      limit: 500,
    });
    const deleting: string[] = [];
    for (const row of rows) {
      if (row.state !== 'ready' && row.state !== 'stopped' && row.state !== 'failed') continue;
      await this.delete(principal, row.id);
      deleting.push(row.id);
    }
    return { deleting };
  }

  async stop(principal: Principal, id: string): Promise<SandboxView> {
    const row = await this.visible(principal, id);
    if (row.state === 'stopped') return sandboxView(row);
    if (row.state !== 'ready') throw new SandboxError('sandbox_not_ready', `it is ${row.state}`);
    await this.killExecs(principal.tid, row);
    await this.egress.stop(id);
    await this.runtimeOf(row).stop?.(this.runtimeSandbox(row));
    await this.inputs.clearCredentialFiles(id);
    await this.emitState(principal.tid, id, 'stopped');
    return sandboxView({ ...row, state: 'stopped' });
  }

  async start(principal: Principal, id: string): Promise<SandboxView> {
    const row = await this.visible(principal, id);
    if (row.state === 'ready') return sandboxView(row);
    if (row.state !== 'stopped') throw new SandboxError('sandbox_not_ready', `it is ${row.state}`);
    await this.writeCredentialFiles(row);
    await this.runtimeOf(row).create(this.runtimeSandbox(row));
    await this.startEgress(row);
    await this.emitState(principal.tid, id, 'ready');
    return sandboxView({ ...row, state: 'ready' });
  }

  /** {@link SandboxAccess}: a ready (or stopped) sandbox of the caller's, with its workspace. */
  async usable(principal: Principal, id: string): Promise<OwnedSandbox> {
    const row = await this.visible(principal, id);
    if (row.state !== 'ready' && row.state !== 'stopped') {
      throw new SandboxError('sandbox_not_ready', `it is ${row.state}`);
    }
    return { id: row.id, workspaceDir: this.dirs.workspace(row.id) };
  }

  /** The caller's sandbox row; someone else's answers exactly like a missing one. */
  async visible(principal: Principal, id: string, options: { deleted?: boolean } = {}): Promise<SandboxRow> {
    const row = await this.sandboxes.get(principal.tid, id);
    if (
      row === undefined ||
      (row.state === 'deleted' && options.deleted !== true) ||
      (row.user_id !== principal.uid && !isAdmin(principal))
    ) {
      throw new SandboxError('sandbox_unknown');
    }
    return row;
  }

  runtimeOf(row: SandboxRow): SandboxRuntime {
    const runtime = this.runtimes.get(row.runtime as RuntimeName);
    if (runtime === undefined) throw new SandboxError('runtime_unavailable', row.runtime);
    return runtime;
  }

  runtimeSandbox(row: SandboxRow): RuntimeSandbox {
    const spec = row.spec as SandboxSpec;
    return {
      id: row.id,
      workspaceDir: this.dirs.workspace(row.id),
      resources: {
        cpus: spec.resources.cpus,
        memoryMb: spec.resources.memory_mb,
        pids: spec.resources.pids,
        diskMb: spec.resources.disk_mb,
      },
      env: spec.env,
      ...(spec.image === null ? {} : { image: spec.image }),
      binds: [
        ...this.inputs.binds(row.id, spec.mounts ?? [], spec.credentials),
        ...(spec.network.mode === 'egress'
          ? [
              {
                source: this.dirs.egress(row.id),
                target: EGRESS_DIR_INSIDE,
                writable: false,
                origin: 'service' as const,
              },
            ]
          : []),
      ],
      ...(spec.network.mode === 'egress' ? { egress: true } : {}),
    };
  }

  /** Opens the sandbox's egress proxy with its allowlist, when it has network egress. */
  private async startEgress(row: SandboxRow): Promise<void> {
    const { network } = row.spec as SandboxSpec;
    if (network.mode !== 'egress') return;
    await this.egress.start(row.id, network.allow, this.runtimeOf(row).programUid);
  }

  /** Records an event and pushes it to subscribers once committed. */
  async emit(
    tenantId: string,
    id: string,
    type: string,
    data: Readonly<Record<string, unknown>>,
  ): Promise<void> {
    this.hub.publish(id, await this.sandboxes.appendEvent(tenantId, id, type, data));
  }

  /**
   * After a restart: an interrupted pipeline fails (and is cleaned up), an interrupted delete finishes,
   * TTLs are re-armed. Execs are the exec service's.
   */
  async recover(): Promise<{ failed: number; deleted: number; orphans: number }> {
    let failed = 0;
    let deleted = 0;
    const indexed = await this.sandboxes.indexed();
    // Containers of sandboxes the store does not know (created, then the service died before recording them);
    // the warm pool's entries are known, and its own recovery adopts or destroys them.
    let orphans = 0;
    const known = new Set([
      ...indexed.map((entry) => entry.sandboxId),
      ...((await this.pool?.entryIds()) ?? []),
    ]);
    for (const runtime of this.runtimes.values()) {
      if (runtime.removeOrphans === undefined || !(await runtime.available()).ok) continue;
      orphans += (await runtime.removeOrphans(known)).length;
    }
    for (const { sandboxId, tenantId } of indexed) {
      const row = await this.sandboxes.get(tenantId, sandboxId);
      if (row === undefined) continue;
      if (row.state === 'pending' || row.state === 'provisioning') {
        await this.emit(tenantId, sandboxId, 'provisioning_failed', {
          code: 'interrupted',
          message: 'The service restarted during provisioning',
        });
        await this.teardown(tenantId, sandboxId, 'failed', {
          code: 'interrupted',
          message: 'The service restarted during provisioning',
        });
        failed += 1;
      } else if (row.state === 'deleting') {
        await this.teardown(tenantId, sandboxId, 'deleted');
        deleted += 1;
      } else if (row.state === 'ready' || row.state === 'stopped') {
        if (row.state === 'ready') {
          await this.startEgress(row).catch((error: unknown) => {
            this.logger.error({ err: error, sandbox_id: sandboxId }, 'cannot reopen the egress proxy');
          });
        }
        this.armTtl(tenantId, row);
        // What ran before the restart is not known here: the idle time starts again now.
        this.touch(tenantId, row, false);
      }
    }
    return { failed, deleted, orphans };
  }

  async close(): Promise<void> {
    for (const timer of [...this.timers.values(), ...this.idleTimers.values()]) clearTimeout(timer);
    this.timers.clear();
    this.idleTimers.clear();
    await Promise.allSettled([...this.work]);
    await this.egress.close();
  }

  private accept(body: SandboxSpecBody): SandboxSpec {
    const unavailable = (what: string): never => {
      throw new SandboxError('feature_unavailable', what);
    };
    const runtime = body.runtime ?? this.defaults.runtime;
    if (runtime === 'process' && body.image !== undefined) {
      unavailable("the process runtime runs the host's programs and takes no image; use docker");
    }
    return {
      name: body.name ?? 'sandbox',
      labels: body.labels ?? {},
      runtime,
      image: runtime === 'process' ? null : (body.image ?? this.defaults.image),
      resources: {
        cpus: body.resources?.cpus ?? this.defaults.cpus,
        memory_mb: body.resources?.memory_mb ?? this.defaults.memoryMb,
        pids: body.resources?.pids ?? this.defaults.pids,
        disk_mb: body.resources?.disk_mb ?? this.defaults.diskMb,
      },
      ttl_s: body.ttl_s ?? null,
      idle_ttl_s: body.idle_ttl_s ?? null,
      network:
        body.network?.mode === 'egress'
          ? { mode: 'egress', allow: [...new Set(body.network.allow ?? [])] }
          : { mode: 'none' },
      env: body.env ?? {},
      credentials: (body.credentials ?? []).map((credential) =>
        credential.as_file === undefined
          ? { id: credential.id, as_env: credential.as_env ?? '' }
          : { id: credential.id, as_file: credentialFilePath(credential.as_file) },
      ),
      git_repos: this.repositories.accept(body.git_repos ?? []),
      provisioning_scripts: (body.provisioning_scripts ?? []).map((script) => ({
        name: script.name,
        run: script.run,
        timeout_s: script.timeout_s ?? SCRIPT_TIMEOUT_S,
      })),
      agent: { provider: 'none' },
    };
  }

  /** Network egress needs the runtime to reach the proxy's socket (a Python forwarder inside, a unix socket bind). */
  private async requireEgress(name: RuntimeName): Promise<void> {
    const availability = await this.runtimes.get(name)?.egressAvailable?.();
    if (availability?.ok !== true) {
      throw new SandboxError(
        'feature_unavailable',
        `network egress: ${availability?.reason ?? `the ${name} runtime cannot reach the egress proxy`}`,
      );
    }
  }

  private async requireRuntime(name: RuntimeName): Promise<void> {
    const runtime = this.runtimes.get(name);
    const availability = runtime === undefined ? undefined : await runtime.available();
    if (availability?.ok !== true) {
      throw new SandboxError('runtime_unavailable', availability?.reason ?? `${name} is not configured`);
    }
  }

  private async emitState(
    tenantId: string,
    id: string,
    state: SandboxState,
    error?: { code: string; message: string },
  ): Promise<void> {
    this.hub.publish(id, await this.sandboxes.transition(tenantId, id, state, error));
  }

  /**
   * The pipeline. Its events are written in batches, each in one transaction and pushed once committed: a
   * step that may take long commits what came before it, so a subscriber sees it start; the quick and
   * skipped steps go with their neighbours. `pool`: the warm pool the sandbox was claimed from.
   */
  private async provision(
    tenantId: string,
    row: SandboxRow,
    spec: SandboxSpec,
    pool: PoolSize | undefined,
  ): Promise<void> {
    const { id } = row;
    const deadline = AbortSignal.timeout(this.defaults.pipelineTimeoutS * 1000);
    let current: ProvisioningStep = 'Validate';
    const pending: EventDraft[] = [{ state: 'provisioning' }];
    const flush = async (): Promise<void> => {
      for (const event of await this.sandboxes.record(tenantId, id, pending.splice(0))) {
        this.hub.publish(id, event);
      }
    };
    try {
      const runtime = this.runtimeOf(row);
      const target = this.runtimeSandbox(row);
      for (const step of PROVISIONING_STEPS) {
        current = step;
        if (deadline.aborted) throw new StepFailure('pipeline_timeout', 'provisioning took too long');
        pending.push({ type: 'provisioning_step', data: { step, status: 'started' } });
        if (mayTakeLong(step, spec, pool !== undefined)) await flush();
        const started = performance.now();
        const outcome = await this.runStep(step, spec, runtime, target, tenantId, id, deadline, pool);
        pending.push({
          type: 'provisioning_step',
          data: {
            step,
            status: outcome.status,
            message: outcome.message,
            duration_ms: Math.round(performance.now() - started),
          },
        });
      }
      pending.push({ type: 'provisioning_complete', data: {} }, { state: 'ready' });
      await flush();
      this.armTtl(tenantId, row);
      this.touch(tenantId, row, false);
    } catch (error: unknown) {
      const failure =
        error instanceof StepFailure
          ? error
          : deadline.aborted
            ? new StepFailure('pipeline_timeout', 'provisioning took too long')
            : new StepFailure('internal', 'provisioning failed');
      if (!(error instanceof StepFailure))
        this.logger.error({ err: error, sandbox_id: id }, 'provisioning failed');
      pending.push(
        {
          type: 'provisioning_step',
          data: { step: current, status: 'failed', message: failure.message },
        },
        {
          type: 'provisioning_failed',
          data: { step: current, code: failure.code, message: failure.message },
        },
      );
      await flush();
      await this.teardown(tenantId, id, 'failed', { code: failure.code, message: failure.message });
    } finally {
      if (pool !== undefined) this.pool?.afterClaim(pool);
    }
  }

  private async runStep(
    step: ProvisioningStep,
    spec: SandboxSpec,
    runtime: SandboxRuntime,
    target: RuntimeSandbox,
    tenantId: string,
    id: string,
    deadline: AbortSignal,
    pool: PoolSize | undefined,
  ): Promise<{ status: 'completed' | 'skipped'; message: string }> {
    switch (step) {
      case 'Validate':
        return { status: 'completed', message: 'the spec is valid' };
      case 'PrepareImage':
        return spec.image === null
          ? { status: 'skipped', message: "the process runtime uses the host's programs" }
          : { status: 'completed', message: `image ${spec.image}` };
      case 'ResolveCredentials':
        if (spec.credentials.length === 0) return { status: 'skipped', message: 'no credentials' };
        await this.resolveCredentials(tenantId, id, spec);
        return { status: 'completed', message: `${String(spec.credentials.length)} credential(s) found` };
      case 'InjectCredentials': {
        if (spec.credentials.length === 0) return { status: 'skipped', message: 'no credentials' };
        const row = await this.sandboxes.get(tenantId, id);
        if (row === undefined) throw new StepFailure('sandbox_unknown', 'the sandbox disappeared');
        // A credential gone or unreadable since ResolveCredentials fails the step with its code.
        const files = await this.writeCredentialFiles(row).catch((error: unknown) => {
          throw error instanceof ServiceError ? new StepFailure(String(error.code), error.message) : error;
        });
        const envs = spec.credentials.flatMap((credential) =>
          credential.as_env === undefined ? [] : [credential.as_env],
        );
        return {
          status: 'completed',
          message: [
            ...(envs.length === 0 ? [] : [`${envs.join(', ')} in every program's environment`]),
            ...(files.length === 0 ? [] : [`${files.join(', ')} as read-only files`]),
          ].join('; '),
        };
      }
      case 'CreateSandbox':
        if (pool !== undefined && this.pool !== undefined) {
          // The warm pool made the directories and the sandbox; the claim's own limits replace the pool's.
          if (spec.credentials.some((credential) => credential.as_file !== undefined)) {
            await this.inputs.prepareCredentialFiles(id, runtime.programUid);
          }
          await this.pool.applyClaim(runtime, target);
          return { status: 'completed', message: 'claimed from the warm pool; resource limits applied' };
        }
        await this.dirs.make(id);
        if (spec.credentials.some((credential) => credential.as_file !== undefined)) {
          await this.inputs.prepareCredentialFiles(id, runtime.programUid);
        }
        // A container binds the egress directory when it is created: it must exist (the socket comes later).
        if (spec.network.mode === 'egress') await this.egress.prepare(id);
        // A container runtime binds the mounts now, after checking each source is still what was accepted.
        await runtime.create(target).catch((error: unknown) => {
          throw stepFailureOf(error);
        });
        return { status: 'completed', message: 'workspace and resource limits created' };
      case 'StartSandbox':
        if (spec.network.mode === 'egress') {
          const row = await this.sandboxes.get(tenantId, id);
          if (row === undefined) throw new StepFailure('sandbox_unknown', 'the sandbox disappeared');
          await this.startEgress(row);
          return {
            status: 'completed',
            message: `egress proxy open to ${spec.network.allow.join(', ')} (HTTP and HTTPS)`,
          };
        }
        return pool === undefined
          ? { status: 'completed', message: 'execs start on demand in fresh namespaces' }
          : { status: 'completed', message: 'claimed from the warm pool: already started' };
      case 'MountLocalDirs': {
        const mounts = spec.mounts ?? [];
        const copies = spec.copies ?? [];
        if (mounts.length === 0 && copies.length === 0) {
          return { status: 'skipped', message: 'no mounts or copies' };
        }
        const uid = runtime.programUid;
        const message = await this.inputs
          .mountLocalDirs(
            mounts,
            copies,
            target.workspaceDir,
            uid === undefined ? undefined : { uid, gid: uid },
          )
          .catch((error: unknown) => {
            throw stepFailureOf(error);
          });
        return { status: 'completed', message };
      }
      case 'CloneRepositories': {
        if (spec.git_repos.length === 0) return { status: 'skipped', message: 'no repositories' };
        const row = await this.sandboxes.get(tenantId, id);
        if (row === undefined) throw new StepFailure('sandbox_unknown', 'the sandbox disappeared');
        try {
          const cloned = await this.repositories.clone({
            tenantId,
            userId: row.user_id,
            sandboxId: id,
            workspaceDir: target.workspaceDir,
            runtime: spec.runtime,
            repos: spec.git_repos,
            signal: deadline,
          });
          return { status: 'completed', message: describeClones(cloned) };
        } catch (error: unknown) {
          if (error instanceof GitCloneFailure) throw new StepFailure(error.code, error.message);
          throw error;
        }
      }
      case 'SetupAgentFs':
      case 'StartAgent':
        return { status: 'skipped', message: 'no coding agent' };
      case 'RunScripts':
        if (spec.provisioning_scripts.length === 0) return { status: 'skipped', message: 'no scripts' };
        await this.runScripts(spec, runtime, await this.withSecrets(tenantId, id, target), id, deadline);
        return { status: 'completed', message: `${spec.provisioning_scripts.length} script(s) ran` };
    }
  }

  private async resolveCredentials(tenantId: string, id: string, spec: SandboxSpec): Promise<void> {
    const row = await this.sandboxes.get(tenantId, id);
    if (row === undefined) throw new StepFailure('sandbox_unknown', 'the sandbox disappeared');
    try {
      await this.credentials.resolveForSandbox(
        row.tenant_id,
        row.user_id,
        spec.credentials.map((credential) => credential.id),
      );
    } catch (error: unknown) {
      const code = (error as { code?: unknown }).code;
      throw new StepFailure(
        typeof code === 'string' ? code : 'credential_unknown',
        error instanceof Error ? error.message : 'a credential cannot be used',
      );
    }
  }

  /** The spec with its mounts and copies, their host sources checked and resolved (refusals are 4xx). */
  private async withHostInputs(spec: SandboxSpec, body: SandboxSpecBody): Promise<SandboxSpec> {
    const mounts = await this.inputs.acceptMounts(body.mounts);
    const copies = await this.inputs.acceptCopies(body.copies);
    return { ...spec, mounts, copies };
  }

  /**
   * Decrypts the owner's `as_file` credentials into the sandbox's credential files (InjectCredentials, and
   * start after a stop removed them); the paths inside, as written.
   */
  private async writeCredentialFiles(row: SandboxRow): Promise<string[]> {
    const files = (row.spec as SandboxSpec).credentials.flatMap((credential) =>
      credential.as_file === undefined ? [] : [{ id: credential.id, path: credential.as_file }],
    );
    if (files.length === 0) return [];
    const resolved = await this.credentials.resolveForSandbox(
      row.tenant_id,
      row.user_id,
      files.map((file) => file.id),
    );
    const values = new Map(resolved.map((credential) => [credential.id, credential.value]));
    const written = files.flatMap((file) => {
      const value = values.get(file.id);
      return value === undefined
        ? []
        : [{ path: file.path, name: ProvisioningInputs.fileName(file.path), value }];
    });
    await this.inputs.writeCredentialFiles(row.id, written, this.runtimeOf(row).programUid);
    return written.map((file) => file.path);
  }

  private async withSecrets(tenantId: string, id: string, target: RuntimeSandbox): Promise<RuntimeSandbox> {
    const row = await this.sandboxes.get(tenantId, id);
    return row === undefined ? target : this.runtimeSandboxWithSecrets(row);
  }

  private async runScripts(
    spec: SandboxSpec,
    runtime: SandboxRuntime,
    target: RuntimeSandbox,
    id: string,
    deadline: AbortSignal,
  ): Promise<void> {
    for (const [index, script] of spec.provisioning_scripts.entries()) {
      const dir = this.dirs.script(id, index);
      await mkdir(dir, { recursive: true });
      const execId = `script-${index}`;
      const handle = await runtime.exec(target, {
        execId,
        argv: ['/bin/sh', '-c', script.run],
        cwd: '/workspace',
        env: {},
        timeoutS: script.timeout_s,
        dir,
      });
      const onDeadline = (): void => {
        void runtime.kill(target, execId);
      };
      deadline.addEventListener('abort', onDeadline, { once: true });
      const end = await handle.ended.finally(() => {
        deadline.removeEventListener('abort', onDeadline);
      });
      if (deadline.aborted)
        throw new StepFailure('pipeline_timeout', `provisioning took too long (${script.name})`);
      if (end.timedOut) {
        throw new StepFailure('script_timeout', `${script.name} ran longer than ${script.timeout_s} s`);
      }
      if (end.exitCode !== 0) {
        const stderr = await readTail(join(dir, 'stderr'));
        const tail = stderr
          .subarray(Math.max(0, stderr.length - STDERR_TAIL_BYTES))
          .toString('utf8')
          .trim();
        throw new StepFailure(
          'script_failed',
          `${script.name} exited with ${end.exitCode === null ? 'no status' : String(end.exitCode)}${tail === '' ? '' : `: ${tail}`}`,
        );
      }
    }
  }

  /** Kills what runs, removes everything the sandbox has on the host, and ends in `state`. */
  private async teardown(
    tenantId: string,
    id: string,
    state: 'deleted' | 'failed',
    error?: { code: string; message: string },
  ): Promise<void> {
    const timer = this.timers.get(id);
    if (timer !== undefined) clearTimeout(timer);
    this.timers.delete(id);
    clearTimeout(this.idleTimers.get(id));
    this.idleTimers.delete(id);
    const row = await this.sandboxes.get(tenantId, id);
    if (row !== undefined) {
      await this.killExecs(tenantId, row);
      try {
        await this.runtimeOf(row).destroy(this.runtimeSandbox(row));
      } catch (cause: unknown) {
        this.logger.error({ err: cause, sandbox_id: id }, 'the runtime could not release a sandbox');
      }
    }
    await this.egress.stop(id);
    await rm(this.dirs.sandbox(id), { recursive: true, force: true });
    await this.emitState(tenantId, id, state, error);
    if (state === 'deleted')
      this.hub.publish(id, await this.sandboxes.appendEvent(tenantId, id, 'sandbox_deleted', {}));
  }

  private async killExecs(tenantId: string, row: SandboxRow): Promise<void> {
    const runtime = this.runtimes.get(row.runtime as RuntimeName);
    for (const exec of await this.execs.running(tenantId, row.id)) {
      if (runtime !== undefined) await runtime.kill(this.runtimeSandbox(row), exec.id);
      if (await this.execs.end(tenantId, exec.id, 'cancelled', null)) {
        await this.emit(tenantId, row.id, 'exec_ended', {
          exec_id: exec.id,
          status: 'cancelled',
          exit_code: null,
        });
      }
    }
  }

  private armTtl(tenantId: string, row: SandboxRow): void {
    if (row.expires_at === null) return;
    const delay = row.expires_at.getTime() - Date.now();
    const timer = setTimeout(
      () => {
        this.timers.delete(row.id);
        if (delay > MAX_TIMER_MS) {
          this.armTtl(tenantId, row);
          return;
        }
        this.track(this.expire(tenantId, row.id));
      },
      Math.min(Math.max(0, delay), MAX_TIMER_MS),
    );
    timer.unref();
    this.timers.set(row.id, timer);
  }

  /**
   * Activity on a sandbox (an exec started or ended): its idle TTL starts again, and runs only while
   * `running` is false — a sandbox is not idle while a program runs in it.
   */
  touch(tenantId: string, row: SandboxRow, running: boolean): void {
    const idleTtlS = (row.spec as SandboxSpec).idle_ttl_s;
    clearTimeout(this.idleTimers.get(row.id));
    this.idleTimers.delete(row.id);
    if (idleTtlS === null || running) return;
    const timer = setTimeout(
      () => {
        this.idleTimers.delete(row.id);
        this.track(this.expireIdle(tenantId, row.id));
      },
      Math.min(idleTtlS * 1000, MAX_TIMER_MS),
    );
    timer.unref();
    this.idleTimers.set(row.id, timer);
  }

  private async expireIdle(tenantId: string, id: string): Promise<void> {
    const row = await this.sandboxes.get(tenantId, id);
    if (row === undefined || (row.state !== 'ready' && row.state !== 'stopped')) return;
    // An exec that started as the timer fired keeps it alive; its end re-arms the timer.
    if ((await this.execs.running(tenantId, id)).length > 0) return;
    await this.emit(tenantId, id, 'idle_expired', {});
    await this.emitState(tenantId, id, 'deleting');
    await this.teardown(tenantId, id, 'deleted');
  }

  private async expire(tenantId: string, id: string): Promise<void> {
    const row = await this.sandboxes.get(tenantId, id);
    if (row === undefined || (row.state !== 'ready' && row.state !== 'stopped')) return;
    await this.emit(tenantId, id, 'ttl_expired', {});
    await this.emitState(tenantId, id, 'deleting');
    await this.teardown(tenantId, id, 'deleted');
  }

  private track(work: Promise<unknown>): void {
    const tracked = work.catch((error: unknown) => {
      this.logger.error({ err: error }, 'sandbox work failed');
    });
    this.work.add(tracked);
    void tracked.finally(() => this.work.delete(tracked));
  }
}
