import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';

import { newTurnId, type Principal } from '@aibox/identity';
import type { Logger } from '@aibox/platform';

import type { ExecBody, OutputQuery } from '../dtos/sandbox.dto.js';
import { SandboxError } from '../errors/sandbox.error.js';
import type { ExecRepository, ExecRow } from '../repositories/exec.repository.js';
import type { ExecStatus } from '../repositories/sandbox-schema.js';
import type { SandboxRepository, SandboxRow } from '../repositories/sandbox.repository.js';
import type { ExecEnd, RuntimeSandbox, SandboxRuntime } from '../runtimes/sandbox-runtime.js';
import { findExec, openExecFile, watchExitCode } from '../runtimes/exec-files.js';
import type { ExecFollower, FollowEvent, OutputStream } from './exec-follow.js';
import type { SandboxDirs } from './sandbox-dirs.js';
import type { SandboxService } from './sandbox.service.js';

const DEFAULT_TIMEOUT_S = 600;

export interface ExecView {
  readonly id: string;
  readonly sandbox_id: string;
  readonly argv: readonly string[];
  readonly cwd: string;
  readonly status: ExecStatus;
  readonly exit_code: number | null;
  readonly started_at: string;
  readonly ended_at: string | null;
}

export interface ExecWaitAnswer {
  readonly id: string;
  readonly status: ExecStatus;
  readonly exit_code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly stdout_truncated: boolean;
  readonly stderr_truncated: boolean;
}

function execView(row: ExecRow): ExecView {
  return {
    id: row.id,
    sandbox_id: row.sandbox_id,
    argv: row.argv as string[],
    cwd: row.cwd,
    status: row.status,
    exit_code: row.exit_code,
    started_at: row.started_at.toISOString(),
    ended_at: row.ended_at?.toISOString() ?? null,
  };
}

/**
 * Execs: started detached in the sandbox's runtime, their output and exit code written to files the host
 * keeps, so an exec outlives a restart of this service and its result is not lost; read by offset, waited
 * for, cancelled (the whole process group, really).
 */
export class ExecService {
  /** Ends of the execs this process watches, by exec id. */
  private readonly endings = new Map<string, Promise<ExecRow>>();
  private readonly cancelling = new Set<string>();

  constructor(
    private readonly sandboxes: SandboxService,
    private readonly sandboxRows: SandboxRepository,
    private readonly execs: ExecRepository,
    private readonly dirs: SandboxDirs,
    private readonly follower: ExecFollower,
    private readonly options: { waitMaxS: number; outputMaxBytes: number },
    private readonly logger: Logger,
  ) {}

  async start(principal: Principal, sandboxId: string, body: ExecBody): Promise<ExecView> {
    const row = await this.sandboxes.visible(principal, sandboxId);
    if (row.state !== 'ready') throw new SandboxError('sandbox_not_ready', `it is ${row.state}`);
    const runtime = this.sandboxes.runtimeOf(row);
    const target = await this.sandboxes.runtimeSandboxWithSecrets(row);
    const id = newTurnId();
    const cwd = body.cwd ?? '/workspace';
    const timeoutS = body.timeout_s ?? DEFAULT_TIMEOUT_S;
    const exec = await this.execs.insert(principal.tid, {
      id,
      sandboxId,
      userId: principal.uid,
      argv: body.argv,
      cwd,
      timeoutS,
    });
    const dir = this.dirs.exec(sandboxId, id);
    await mkdir(dir, { recursive: true });
    let handle;
    try {
      handle = await runtime.exec(target, {
        execId: id,
        argv: body.argv,
        cwd,
        env: body.env ?? {},
        timeoutS,
        ...(body.stdin === undefined ? {} : { stdin: body.stdin }),
        dir,
      });
    } catch (error: unknown) {
      await this.execs.end(principal.tid, id, 'lost', null);
      throw error;
    }
    await this.execs.started(principal.tid, id, handle.pid);
    await this.sandboxes.emit(principal.tid, sandboxId, 'exec_started', { exec_id: id, argv: body.argv });
    this.sandboxes.touch(principal.tid, row, true);
    this.watchEnd(principal.tid, row, id, handle.ended);
    return execView(exec);
  }

  /** Starts and waits up to the wait limit: a short command's whole answer, or its state so far. */
  async run(principal: Principal, sandboxId: string, body: ExecBody): Promise<ExecWaitAnswer> {
    const started = await this.start(principal, sandboxId, body);
    const ending = this.endings.get(started.id);
    const limit = new Promise<undefined>((resolve) => {
      setTimeout(() => {
        resolve(undefined);
      }, this.options.waitMaxS * 1000).unref();
    });
    const ended = ending === undefined ? undefined : await Promise.race([ending, limit]);
    const row = ended ?? (await this.execs.get(principal.tid, sandboxId, started.id));
    const dir = this.dirs.exec(sandboxId, started.id);
    const [stdout, stderr] = await Promise.all([
      this.head(join(dir, 'stdout')),
      this.head(join(dir, 'stderr')),
    ]);
    return {
      id: started.id,
      status: row?.status ?? 'running',
      exit_code: row?.exit_code ?? null,
      stdout: stdout.text,
      stderr: stderr.text,
      stdout_truncated: stdout.truncated,
      stderr_truncated: stderr.truncated,
    };
  }

  async get(principal: Principal, sandboxId: string, id: string): Promise<ExecView> {
    return execView(await this.visibleExec(principal, sandboxId, id));
  }

  async list(principal: Principal, sandboxId: string): Promise<{ data: ExecView[] }> {
    await this.sandboxes.visible(principal, sandboxId);
    return { data: (await this.execs.list(principal.tid, sandboxId, 200)).map(execView) };
  }

  async output(
    principal: Principal,
    sandboxId: string,
    id: string,
    query: OutputQuery,
  ): Promise<{ content: Buffer; offset: number; size: number }> {
    await this.visibleExec(principal, sandboxId, id);
    const path = join(this.dirs.exec(sandboxId, id), query.stream);
    const length = Math.min(query.length ?? this.options.outputMaxBytes, this.options.outputMaxBytes);
    const file = await openExecFile(path).catch(() => undefined);
    if (file === undefined) return { content: Buffer.alloc(0), offset: query.offset, size: 0 };
    try {
      const info = await file.stat();
      const size = info.isFile() ? info.size : 0;
      if (query.offset >= size) return { content: Buffer.alloc(0), offset: query.offset, size };
      const buffer = Buffer.alloc(Math.min(length, size - query.offset));
      const { bytesRead } = await file.read(buffer, 0, buffer.length, query.offset);
      return { content: buffer.subarray(0, bytesRead), offset: query.offset, size };
    } finally {
      await file.close();
    }
  }

  /** Follows an exec's output live from `offsets`, then its end; returns the unsubscribe. */
  async follow(
    principal: Principal,
    sandboxId: string,
    id: string,
    offsets: Record<OutputStream, number>,
    send: (event: FollowEvent) => void,
    close: () => void,
  ): Promise<() => void> {
    await this.visibleExec(principal, sandboxId, id);
    return this.follower.follow(
      { tenantId: principal.tid, sandboxId, execId: id, dir: this.dirs.exec(sandboxId, id) },
      offsets,
      send,
      close,
    );
  }

  async cancel(principal: Principal, sandboxId: string, id: string): Promise<ExecView> {
    const exec = await this.visibleExec(principal, sandboxId, id);
    if (exec.status !== 'running') throw new SandboxError('exec_not_running', `it is ${exec.status}`);
    const row = await this.sandboxes.visible(principal, sandboxId);
    this.cancelling.add(id);
    await this.sandboxes.runtimeOf(row).kill(this.sandboxes.runtimeSandbox(row), id);
    // The exec's own end (seeing the cancel) may have recorded it first; either way it is over now.
    const ended =
      (await this.finish(principal.tid, sandboxId, id, 'cancelled', null)) ??
      (await this.execs.get(principal.tid, sandboxId, id));
    return execView(ended ?? exec);
  }

  /**
   * After a restart: an exec that ended while the service was away gets the exit code its wrapper wrote;
   * one still running is adopted (its end watched, its timeout re-armed); one gone without a record is `lost`.
   */
  async recover(): Promise<{ exited: number; adopted: number; lost: number }> {
    const counts = { exited: 0, adopted: 0, lost: 0 };
    for (const { sandboxId, tenantId } of await this.sandboxRows.indexed()) {
      const row = await this.sandboxRows.get(tenantId, sandboxId);
      if (row === undefined) continue;
      for (const exec of await this.execs.running(tenantId, sandboxId)) {
        const dir = this.dirs.exec(sandboxId, exec.id);
        const runtime = this.sandboxes.runtimeOf(row);
        const target = this.sandboxes.runtimeSandbox(row);
        const found = await findExec(dir, () => runtime.running(target, exec.id));
        if (found === 'running') {
          this.adopt(tenantId, row, exec, runtime, target, dir);
          counts.adopted += 1;
        } else if (found === 'lost') {
          await this.finish(tenantId, sandboxId, exec.id, 'lost', null);
          counts.lost += 1;
        } else {
          await this.finish(tenantId, sandboxId, exec.id, 'exited', found.exitCode);
          counts.exited += 1;
        }
      }
    }
    return counts;
  }

  private adopt(
    tenantId: string,
    row: SandboxRow,
    exec: ExecRow,
    runtime: SandboxRuntime,
    target: RuntimeSandbox,
    dir: string,
  ): void {
    const ended = new Promise<ExecEnd>((resolve) => {
      const remaining = exec.started_at.getTime() + exec.timeout_s * 1000 - Date.now();
      const timer = setTimeout(
        () => {
          stopWatching();
          void runtime.kill(target, exec.id).then(() => {
            resolve({ exitCode: null, timedOut: true });
          });
        },
        Math.max(0, remaining),
      );
      timer.unref();
      const stopWatching = watchExitCode(dir, (exitCode) => {
        clearTimeout(timer);
        resolve({ exitCode, timedOut: false });
      });
    });
    this.watchEnd(tenantId, row, exec.id, ended);
  }

  private watchEnd(tenantId: string, row: SandboxRow, id: string, ended: Promise<ExecEnd>): void {
    const ending = ended.then(async (end) => {
      const status: Exclude<ExecStatus, 'running'> = this.cancelling.has(id)
        ? 'cancelled'
        : end.timedOut
          ? 'timed_out'
          : end.exitCode === null
            ? 'lost'
            : 'exited';
      this.cancelling.delete(id);
      const finished = await this.finish(
        tenantId,
        row.id,
        id,
        status,
        status === 'cancelled' ? null : end.exitCode,
      );
      this.sandboxes.touch(tenantId, row, (await this.execs.running(tenantId, row.id)).length > 0);
      return finished ?? (await this.execs.get(tenantId, row.id, id));
    });
    const settled = ending.then(
      (exec) => {
        if (exec === undefined) throw new SandboxError('exec_unknown');
        return exec;
      },
      (error: unknown) => {
        this.logger.error({ err: error, exec_id: id }, 'the end of an exec could not be recorded');
        throw error;
      },
    );
    settled.catch(() => undefined);
    this.endings.set(id, settled);
    void settled.finally(() => this.endings.delete(id)).catch(() => undefined);
  }

  /** Records the end once and tells subscribers; the row as ended, or undefined when it had ended already. */
  private async finish(
    tenantId: string,
    sandboxId: string,
    id: string,
    status: Exclude<ExecStatus, 'running'>,
    exitCode: number | null,
  ): Promise<ExecRow | undefined> {
    if (!(await this.execs.end(tenantId, id, status, exitCode))) return undefined;
    await this.sandboxes.emit(tenantId, sandboxId, 'exec_ended', {
      exec_id: id,
      status,
      exit_code: exitCode,
    });
    return this.execs.get(tenantId, sandboxId, id);
  }

  private async visibleExec(principal: Principal, sandboxId: string, id: string): Promise<ExecRow> {
    await this.sandboxes.visible(principal, sandboxId);
    const exec = await this.execs.get(principal.tid, sandboxId, id);
    if (exec === undefined) throw new SandboxError('exec_unknown');
    return exec;
  }

  private async head(path: string): Promise<{ text: string; truncated: boolean }> {
    try {
      const file = await openExecFile(path);
      try {
        const info = await file.stat();
        const size = info.isFile() ? info.size : 0;
        const buffer = Buffer.alloc(Math.min(size, this.options.outputMaxBytes));
        const { bytesRead } = await file.read(buffer, 0, buffer.length, 0);
        return { text: buffer.subarray(0, bytesRead).toString('utf8'), truncated: size > bytesRead };
      } finally {
        await file.close();
      }
    } catch {
      return { text: '', truncated: false };
    }
  }
}
