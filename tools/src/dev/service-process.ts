import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

import { pause } from './readiness.js';
import type { ServiceSpec } from './service-discovery.js';

/** How a service process ended: an exit code, or the signal that ended it. */
export interface ServiceExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Set when the process could not be started at all. */
  readonly error?: string;
}

/** After `exit`, how long to keep reading output that is still in the pipes before calling it done. */
const OUTPUT_DRAIN_MS = 1_000;

/** `with code 3`, `on SIGKILL`, or why it could not start. */
export function describeExit(exit: ServiceExit): string {
  if (exit.error !== undefined) {
    return `could not be started (${exit.error})`;
  }
  return exit.code !== null ? `with code ${exit.code}` : `on ${exit.signal ?? 'an unknown signal'}`;
}

/** Signals a whole process group, which the child leads (it was spawned detached); a gone group is fine. */
function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: nothing left to signal. EPERM cannot happen for our own children.
  }
}

/**
 * One service running as `node <entry>` in its own process group, so that stopping it also stops anything it
 * started. Output is handed over line by line.
 */
export class ServiceProcess {
  readonly spec: ServiceSpec;
  /** Resolves once the process has exited and its output has been read. Never rejects. */
  readonly exited: Promise<ServiceExit>;
  private readonly child: ChildProcess;
  private exit: ServiceExit | undefined;

  private constructor(spec: ServiceSpec, child: ChildProcess, onLine: (line: string) => void) {
    this.spec = spec;
    this.child = child;
    for (const stream of [child.stdout, child.stderr]) {
      if (stream !== null) {
        createInterface({ input: stream, crlfDelay: Infinity }).on('line', onLine);
      }
    }
    this.exited = new Promise<ServiceExit>((resolve) => {
      const finish = (exit: ServiceExit): void => {
        this.exit ??= exit;
        resolve(this.exit);
      };
      child.on('error', (error) => {
        // Only a failed spawn ends the process here; a failed kill() is reported by kill() itself.
        if (child.pid === undefined) {
          finish({ code: null, signal: null, error: error.message });
        }
      });
      child.once('exit', (code, signal) => {
        // Whatever the service started and left behind goes with it.
        if (child.pid !== undefined) {
          signalGroup(child.pid, 'SIGKILL');
        }
        const exit = { code, signal };
        const drained = setTimeout(() => {
          finish(exit);
        }, OUTPUT_DRAIN_MS);
        child.once('close', () => {
          clearTimeout(drained);
          finish(exit);
        });
      });
    });
  }

  /** Starts `node <entry>` with `env`, working directory `cwd`. */
  static start(
    spec: ServiceSpec,
    options: { cwd: string; env: Readonly<Record<string, string>>; onLine: (line: string) => void },
  ): ServiceProcess {
    const child = spawn(process.execPath, [spec.entry], {
      cwd: options.cwd,
      env: options.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new ServiceProcess(spec, child, options.onLine);
  }

  /** The process id, once spawned. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Whether the process has ended (or never started). */
  get hasExited(): boolean {
    return this.exit !== undefined || this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /**
   * SIGTERM to the process group, then SIGKILL to whatever is left of it after `graceMs`. Resolves with the
   * exit and whether the grace period ran out.
   */
  async stop(graceMs: number): Promise<{ exit: ServiceExit; killed: boolean }> {
    const pid = this.child.pid;
    if (pid === undefined || this.hasExited) {
      return { exit: await this.exited, killed: false };
    }
    signalGroup(pid, 'SIGTERM');
    const timeout = new AbortController();
    const inTime = await Promise.race([
      this.exited.then(() => true),
      pause(graceMs, timeout.signal).then(() => false),
    ]);
    timeout.abort();
    if (!inTime) {
      signalGroup(pid, 'SIGKILL');
    }
    return { exit: await this.exited, killed: !inTime };
  }

  /** SIGKILL to the process group at once; for exit hooks, where nothing asynchronous runs any more. */
  kill(): void {
    const pid = this.child.pid;
    if (pid !== undefined && !this.hasExited) {
      signalGroup(pid, 'SIGKILL');
    }
  }
}
