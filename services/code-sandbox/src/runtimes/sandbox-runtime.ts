/** The runtimes a sandbox can run on (one interface, three implementations). */
export type RuntimeName = 'process' | 'docker' | 'gvisor';

export interface SandboxResources {
  readonly cpus: number;
  readonly memoryMb: number;
  readonly pids: number;
  readonly diskMb: number;
}

/** What a runtime needs to know of a sandbox. */
export interface RuntimeSandbox {
  readonly id: string;
  /** The sandbox's writable workspace on the host; `/workspace` inside. */
  readonly workspaceDir: string;
  readonly resources: SandboxResources;
  /** Environment every exec gets (the sandbox spec's `env`), under the exec's own. */
  readonly env: Readonly<Record<string, string>>;
  /** The container image (`docker`, `gvisor`); the runtime's default when absent. `process` takes none. */
  readonly image?: string;
  /** Host directories bound into the sandbox, in this order (none when absent). */
  readonly binds?: readonly RuntimeBind[];
  /**
   * Network egress: the binds include the egress directory at `EGRESS_DIR_INSIDE`, and each exec runs its
   * program under `EGRESS_LAUNCHER` (`egress-forwarder.ts`), which gives it the proxy variables and lives
   * exactly as long as it.
   */
  readonly egress?: boolean;
}

/** A host directory bound into a sandbox. */
export interface RuntimeBind {
  /** An absolute host path with no symlink in it. */
  readonly source: string;
  /** Absolute, inside the sandbox. */
  readonly target: string;
  readonly writable: boolean;
  /**
   * `host`: a directory of the host named in the spec. It must still be the very directory checked when the
   * sandbox was accepted: the runtime opens it and refuses it when its path now leads elsewhere (a symlink
   * swapped in since), and binds what it opened where it can. `service`: one the service made for the sandbox.
   */
  readonly origin: 'host' | 'service';
}

/** One program run in a sandbox. Its output and exit code go to files in `dir` on the host. */
export interface ExecStart {
  readonly execId: string;
  readonly argv: readonly string[];
  /** Inside the sandbox; default `/workspace`. */
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  readonly timeoutS: number;
  /** Written to the program's standard input, which is then closed (empty when absent). */
  readonly stdin?: string;
  /**
   * Host directory of the exec: the wrapper writes `stdout`, `stderr` and, when the program ends, `exit_code`
   * (its status, or 128 + signal; written to a temporary name and renamed, so a reader sees all or nothing).
   */
  readonly dir: string;
}

/** How an exec ended, as this process saw it (`exit_code` in the exec's dir is the lasting record). */
export interface ExecEnd {
  /** From the `exit_code` file; null when the wrapper was killed before writing it (a cancel, a timeout). */
  readonly exitCode: number | null;
  readonly timedOut: boolean;
}

export interface ExecHandle {
  /** The host pid of the exec's wrapper (its process group), kept for recovery after a restart. */
  readonly pid: number;
  /** Resolves when the exec's wrapper is gone. */
  readonly ended: Promise<ExecEnd>;
}

export type RuntimeAvailability = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/**
 * A way of isolating programs. Execs are detached from the service: they survive its restart, and their
 * output and exit code are files, so a restarted service reads what happened while it was away.
 */
export interface SandboxRuntime {
  readonly name: RuntimeName;
  /**
   * The host uid its programs run as, when that is not the service's own: files the service hands them (copies
   * into the workspace, credential files) are given to it. Absent: programs act as the service's user.
   */
  readonly programUid?: number;
  /** Whether this machine can run it (a binary missing, a daemon down); checked at start and on `/readyz`. */
  available(): Promise<RuntimeAvailability>;
  /**
   * Whether its sandboxes can have network egress: the forwarder's interpreter inside, and a way to reach a
   * host unix socket. Absent: they cannot. Checked when a sandbox asking for it is created.
   */
  egressAvailable?(): Promise<RuntimeAvailability>;
  /** Prepares the sandbox (resource controls, anything long-lived); idempotent. */
  create(sandbox: RuntimeSandbox): Promise<void>;
  /**
   * Sets the limits of a sandbox `create` made with other resources (a claimed warm-pool entry takes the
   * claim's). Absent: `create` applies them again.
   */
  applyResources?(sandbox: RuntimeSandbox): Promise<void>;
  /** Starts an exec; resolves once it runs. */
  exec(sandbox: RuntimeSandbox, exec: ExecStart): Promise<ExecHandle>;
  /** Kills the exec and every process it started, whatever they did to detach; resolves once all are gone. */
  kill(sandbox: RuntimeSandbox, execId: string): Promise<void>;
  /** Whether any process of the exec still runs (recovery after a restart). */
  running(sandbox: RuntimeSandbox, execId: string): Promise<boolean>;
  /**
   * A stopped sandbox: releases what keeps it running (a container) once its execs are killed, keeping its
   * files; `create` brings it back. Absent where a sandbox runs nothing between execs (`process`).
   */
  stop?(sandbox: RuntimeSandbox): Promise<void>;
  /** Kills everything in the sandbox and releases what `create` took; idempotent. The workspace stays. */
  destroy(sandbox: RuntimeSandbox): Promise<void>;
  /** Removes what the runtime holds for sandboxes not in `knownIds` (restart recovery); the ids removed. */
  removeOrphans?(knownIds: ReadonlySet<string>): Promise<string[]>;
}
